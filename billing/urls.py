from django.urls import path

from console.views import coming_soon

app_name = "billing"
urlpatterns = [
    path(
        "",
        coming_soon("billing", "Billing", "Bill estimates, monthly statements, invoices and balance."),
        name="overview",
    ),
]

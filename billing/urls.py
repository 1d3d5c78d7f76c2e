from django.urls import path

from . import alert_views, price_book_views, views

app_name = "billing"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("estimate/", views.estimate, name="estimate"),
    path("invoices/", views.statements, name="statements"),
    path("invoices.csv", views.statements_csv, name="statements_csv"),
    path("invoices/<str:number>/", views.invoice, name="invoice"),
    path("invoices/<str:number>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("transactions/", views.transactions, name="transactions"),
    path("transactions.csv", views.transactions_csv, name="transactions_csv"),
    path("payments/new/", views.record_payment, name="record_payment"),
    path("corrections/new/", views.record_correction, name="record_correction"),
    path("details/", views.billing_details, name="details"),
    path("price-books/", price_book_views.price_books, name="price_books"),
    path("price-books/new/", price_book_views.create_price_book, name="create_price_book"),
    path("price-books/<int:pk>/", price_book_views.edit_price_book, name="edit_price_book"),
    path("price-books/<int:pk>/delete/", price_book_views.delete_price_book, name="delete_price_book"),
    path("alerts/", alert_views.alerts, name="alerts"),
    path("alerts/<int:pk>/delete/", alert_views.delete_alert, name="delete_alert"),
]

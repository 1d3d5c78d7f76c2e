from django.shortcuts import render

from accounts.access import member_required

from .estimate import month_to_date
from .models import PriceBook


@member_required("billing")
def overview(request):
    """Billing overview: for now the month-to-date bill estimate ("Bill estimate preview")."""
    try:
        estimate = month_to_date(request.membership.organization)
    except PriceBook.DoesNotExist:
        return render(request, "billing/estimate.html", {"no_price_book": True})
    return render(request, "billing/estimate.html", {"estimate": estimate, "priced": estimate.priced})


def estimate(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def statements(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def statements_csv(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def invoice(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def invoice_pdf(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def transactions(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def transactions_csv(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def record_payment(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def record_correction(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def billing_details(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")

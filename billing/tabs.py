from django.urls import reverse


def billing_tabs(request, current: str) -> list[dict]:
    """The tabs at the top of the billing pages. Render with console/includes/tabs.html."""
    tabs = [
        ("overview", "Overview", "billing:overview"),
        ("estimate", "Bill estimate", "billing:estimate"),
        ("statements", "Invoices", "billing:statements"),
        ("transactions", "Transactions", "billing:transactions"),
        ("price_books", "Price books", "billing:price_books"),
        ("alerts", "Usage alerts", "billing:alerts"),
    ]
    if request.membership.can("billing", "manage"):
        tabs.append(("details", "Billing details", "billing:details"))
    return [{"label": label, "url": reverse(name), "current": key == current} for key, label, name in tabs]

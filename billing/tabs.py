"""The tabs at the top of the billing pages, rendered by console.navigation.tabs."""

from console.navigation import Tab

BILLING_TABS = (
    Tab("overview", "Overview", "billing:overview"),
    Tab("estimate", "Bill estimate", "billing:estimate"),
    Tab("statements", "Invoices", "billing:statements"),
    Tab("transactions", "Transactions", "billing:transactions"),
    Tab("price_books", "Price books", "billing:price_books"),
    Tab("alerts", "Usage alerts", "billing:alerts"),
    Tab("details", "Billing details", "billing:details", requires=("billing", "manage")),
)

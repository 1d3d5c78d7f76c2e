"""Billing pages: overview (balances and standing), bill estimate, invoices, transactions, recording
payments and corrections, and the billing details printed on invoices. Views parse and render; the
ledger (`billing.ledger`) and what payments settle (`billing.settlement`) hold the rules."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_http_methods, require_safe

from accounts.access import get_for_member, member_required, restrict
from console.changelist import Changelist, Column, Filter
from console.csv_export import csv_download
from console.navigation import tabs
from console.refusals import RuleViolation
from console.views import form_data, form_page

from . import ledger, settlement
from .estimate import current_estimate
from .forms import BillingProfileForm, CorrectionForm, PaymentForm
from .invoice_pdf import invoice_pdf_bytes, money
from .models import BillingProfile, SellerProfile, Statement, Transaction, bill_to_lines
from .pricing import to_cents
from .services import save_billing_details
from .tabs import BILLING_TABS

BILLING_SECTION = ("Billing", reverse_lazy("billing:overview"))
LATEST = 5  # invoices and transactions on the overview


def tabbed(request, template: str, current: str, **context):
    """Render a billing page with the billing tabs on top."""
    return render(request, template, {"billing_tabs": tabs(request, current, BILLING_TABS), **context})


def member_statements(membership, settled: settlement.Settlement):
    """The member's statements annotated with what the payments settled (status, amount paid and due)."""
    return settlement.with_settlement(restrict(Statement, membership), settled)


def member_transactions(membership):
    return restrict(Transaction, membership).select_related("recorded_by", "statement")


# Overview and estimate ----------------------------------------------------------------------------


def overview_card(request) -> dict:
    """The console overview's billing card (registered in billing.apps): available balance, amount due,
    reserved balance, account status."""
    organization = request.membership.organization
    settled = settlement.settle_organization(organization)
    return {
        "standing": ledger.standing(organization, settled=settled),
        "settled": settled,
        "estimate": current_estimate(organization),
    }


@member_required("billing")
@require_safe
def overview(request):
    membership = request.membership
    organization = membership.organization
    settled = settlement.settle_organization(organization)
    statements = member_statements(membership, settled).order_by("-month")
    profile = BillingProfile.objects.filter(organization=organization).first()
    return tabbed(
        request,
        "billing/overview.html",
        "overview",
        standing=ledger.standing(organization, settled=settled),
        settled=settled,
        estimate=current_estimate(organization),
        statements=statements[:LATEST],
        transactions=member_transactions(membership).order_by("-occurred_on", "-id")[:LATEST],
        bill_to=bill_to_lines(organization, profile),
        has_profile=profile is not None,
    )


@member_required("billing")
@require_safe
def estimate(request):
    """The month-to-date bill estimate ("Bill estimate preview")."""
    found = current_estimate(request.membership.organization)
    if found is None:
        return tabbed(request, "billing/estimate.html", "estimate", no_price_book=True)
    return tabbed(request, "billing/estimate.html", "estimate", estimate=found, priced=found.priced)


# Invoices -----------------------------------------------------------------------------------------


def statements_changelist(request) -> Changelist:
    membership = request.membership
    settled = settlement.settle_organization(membership.organization)
    return Changelist(
        request,
        member_statements(membership, settled),
        columns=[
            Column("Invoice", "number"),
            Column("Billing period", "month"),
            Column("Issue date", "issued_at"),
            Column("Due date", "due_date"),
            Column("Amount", "total"),
            Column("Amount due", "amount_due"),
            Column("Status", "status"),
            Column(""),
        ],
        row_template="billing/rows/statement.html",
        search_fields=("number",),
        search_placeholder="Invoice number",
        filters=[Filter("status", "Status", "status", list(settlement.STATUS_LABELS.items()))],
        date_field="issued_at",
        default_ordering=("-month",),
        empty_title="No invoices yet",
        empty_text="An invoice (statement) is issued on the 1st of each month for the month before, "
        "and is due on the 6th.",
    )


@member_required("billing")
@require_safe
def statements(request):
    return tabbed(request, "billing/statements.html", "statements", changelist=statements_changelist(request))


@member_required("billing")
@require_safe
def statements_csv(request):
    rows = (
        [
            statement.number,
            statement.month.isoformat(),
            statement.period_end.isoformat(),
            statement.issued_at.date().isoformat(),
            statement.due_date.isoformat(),
            statement.currency,
            statement.usage_total,
            statement.adjustments_total,
            statement.total,
            statement.status,
            # SQLite hands annotated decimals back through a float (15.9900000000000): back to cents.
            to_cents(statement.amount_paid),
            to_cents(statement.amount_due),
            statement.paid_at.isoformat() if statement.paid_at else "",
        ]
        for statement in statements_changelist(request).queryset
    )
    header = ["invoice_number", "period_start", "period_end", "issue_date", "due_date", "currency"]
    header += ["usage_total", "adjustments_total", "total", "status", "amount_paid", "amount_due", "paid_at"]
    return csv_download(f"{request.membership.organization.slug}-invoices.csv", header, rows)


def invoice_for(request, number: str) -> dict:
    """The statement `number` of the member's organization (404 otherwise), its billing details and what the
    payments settled on it (`account`: status, amount paid and due, the payments applied)."""
    lines = Statement.objects.select_related("organization").prefetch_related("lines")
    statement = get_for_member(request.membership, lines, number=number)
    profile = BillingProfile.objects.filter(organization=statement.organization).first()
    account = settlement.settle_organization(statement.organization).of(statement.pk)
    return {"statement": statement, "profile": profile, "account": account, "status": account.status}


@member_required("billing")
@require_safe
def invoice(request, number):
    context = invoice_for(request, number)
    context["bill_to"] = context["statement"].billed_to(context["profile"])
    context["seller"] = SellerProfile.current()
    return render(request, "billing/invoice.html", context)


@member_required("billing")
@require_safe
def invoice_pdf(request, number):
    context = invoice_for(request, number)
    statement = context["statement"]
    content = invoice_pdf_bytes(statement, context["profile"], account=context["account"])
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{statement.number}.pdf"'
    return response


# Transactions -------------------------------------------------------------------------------------


def transactions_changelist(request) -> Changelist:
    return Changelist(
        request,
        member_transactions(request.membership),
        columns=[
            Column("Date", "occurred_on"),
            Column("Kind", "kind"),
            Column("Details"),
            Column("Amount", "amount"),
            Column("Recorded by", "recorded_by__email"),
        ],
        row_template="billing/rows/transaction.html",
        search_fields=("reference", "reason", "statement__number"),
        search_placeholder="Search reference, reason, invoice",
        filters=[Filter("kind", "Kind", "kind", Transaction.Kind.choices)],
        date_field="occurred_on",
        default_ordering=("-occurred_on", "-id"),
        empty_title="No transactions yet",
        empty_text="Payments, statement deductions, refunds and adjustments appear here as they are recorded.",
        per_page=50,
    )


@member_required("billing")
@require_safe
def transactions(request):
    return tabbed(request, "billing/transactions.html", "transactions", changelist=transactions_changelist(request))


@member_required("billing")
@require_safe
def transactions_csv(request):
    rows = (
        [
            entry.occurred_on.isoformat(),
            entry.kind,
            entry.amount,
            entry.currency,
            entry.method,
            entry.reference,
            entry.reason,
            entry.statement.number if entry.statement else "",
            entry.recorded_by.email if entry.recorded_by else "",
        ]
        for entry in transactions_changelist(request).queryset.iterator(chunk_size=500)
    )
    header = ["date", "kind", "amount", "currency", "method", "reference", "reason", "invoice_number", "recorded_by"]
    return csv_download(f"{request.membership.organization.slug}-transactions.csv", header, rows)


# Payments and corrections -------------------------------------------------------------------------


def balance_intro(organization, payment: bool = False) -> str:
    """The current balance for a form's intro; for a payment, what is due and what pays the overdue part."""
    settled = settlement.settle_organization(organization)
    current = ledger.standing(organization, settled=settled)
    text = f"Current balance: {money(current.balance)} ({current.label.lower()})."
    if not payment:
        return text
    if not settled.amount_due:
        return f"{text} Nothing is due: a payment adds to the credit balance, which pays the next invoices."
    text = f"{text} Amount due: {money(settled.amount_due)}."
    if current.status == ledger.GOOD:
        return f"{text} A payment pays the invoice you choose first, then the others oldest first."
    lifts = " and lifts the suspension at once" if current.status == ledger.SUSPENDED else ""
    return f"{text} A payment of at least {money(current.overdue_amount)} pays what is overdue{lifts}."


def after_entry(organization, was_suspended: bool) -> str:
    """What the new entry did: the new balance, whether the suspension was lifted or still holds, what is due."""
    organization.refresh_from_db(fields=["suspended_at", "suspended_reason"])
    settled = settlement.settle_organization(organization)
    current = ledger.standing(organization, settled=settled)
    text = f"The balance is now {money(current.balance)}."
    if was_suspended and not organization.is_suspended:
        text += " The suspension is lifted: tokens can be issued again."
    elif organization.is_suspended:
        text += " The organization stays suspended until the overdue invoices are paid."
    elif current.status == ledger.ARREARS:
        text += (
            f" {money(current.overdue_amount)} is overdue: the organization will be suspended on "
            f"{current.suspend_on:%Y-%m-%d}."
        )
    due = f"Amount due: {money(settled.amount_due)}." if settled.amount_due else "Nothing is due."
    return f"{text} {due}"


def already_recorded(request, entry: Transaction):
    """The answer to a form sent a second time: nothing new is written; go where the first post went."""
    kind = entry.get_kind_display().lower()
    messages.info(
        request,
        f"This {kind} was already recorded ({money(abs(entry.amount))} on {entry.occurred_on:%Y-%m-%d}); "
        "it was not recorded a second time.",
    )
    return redirect("billing:overview" if entry.kind == Transaction.Kind.PAYMENT else "billing:transactions")


@member_required("billing", "manage")
@require_http_methods(["GET", "POST"])
def record_payment(request):
    organization = request.membership.organization
    form = PaymentForm(form_data(request), organization=organization)
    if request.method == "POST" and form.is_valid():
        data, was_suspended = form.cleaned_data, organization.is_suspended
        try:
            ledger.record_payment(request.membership, request=request, **data)
        except ledger.AlreadyRecorded as replay:
            return already_recorded(request, replay.entry)
        except ledger.SameReference as warning:
            form.ask_to_confirm(warning)
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            messages.success(
                request, f"Payment of {money(data['amount'])} recorded. {after_entry(organization, was_suspended)}"
            )
            return redirect("billing:overview")
    return form_page(
        request,
        form,
        title="Record a payment",
        submit_label="Record payment",
        cancel_url=reverse("billing:overview"),
        intro=balance_intro(organization, payment=True),
        parent=BILLING_SECTION,
    )


@member_required("billing", "manage")
@require_http_methods(["GET", "POST"])
def record_correction(request):
    organization = request.membership.organization
    form = CorrectionForm(form_data(request), organization=organization)
    if request.method == "POST" and form.is_valid():
        data, was_suspended = form.cleaned_data, organization.is_suspended
        try:
            ledger.record_correction(request.membership, request=request, **data)
        except ledger.AlreadyRecorded as replay:
            return already_recorded(request, replay.entry)
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            recorded = f"{data['correction'].capitalize()} of {money(data['amount'])} recorded."
            messages.success(request, f"{recorded} {after_entry(organization, was_suspended)}")
            return redirect("billing:transactions")
    return form_page(
        request,
        form,
        title="Record a refund or adjustment",
        submit_label="Record entry",
        cancel_url=reverse("billing:transactions"),
        intro=f"{balance_intro(organization)} Ledger entries are never edited or deleted: "
        "a mistake is corrected by a new entry.",
        parent=BILLING_SECTION,
    )


# Billing details ----------------------------------------------------------------------------------


@member_required("billing", "manage")
@require_http_methods(["GET", "POST"])
def billing_details(request):
    organization = request.membership.organization
    profile = BillingProfile.objects.filter(organization=organization).first()
    form = BillingProfileForm(form_data(request), instance=profile or BillingProfile(organization=organization))
    if request.method == "POST" and form.is_valid():
        if form.has_changed():
            save_billing_details(request.membership, form.cleaned_data, form.changed_data, request=request)
            messages.success(
                request,
                "Billing details saved. Invoices issued from now on show them; "
                "issued invoices keep the details they were issued with.",
            )
        else:
            messages.info(request, "Nothing changed.")
        return redirect("billing:details")
    preview = bill_to_lines(organization, profile)
    return tabbed(request, "billing/details.html", "details", form=form, preview=preview)

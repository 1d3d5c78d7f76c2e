"""Usage alerts: thresholds on an organization's month-to-date minutes or estimated amount.

`check_alerts` runs whenever a figure an alert watches can change: after every usage pull that wrote
rows (the `usage_updated` signal, in the worker that pulled), when an alert is created (an alert below
the month's figure fires at once) and when a price book of the organization is saved or deleted.

An alert whose metric has reached its threshold fires once per month: the `AlertFiring` row (unique per
alert and month) is written first, under the alert's row lock and in a savepoint, so two checks at once
fire it once. The bell notifications are written in the same transaction; the e-mails, one message per
recipient, go out after it commits. Recipients are the organization's active members whose role gives
billing or usage view.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from accounts import audit
from accounts.models import Membership, Organization
from accounts.notifications import notify
from console.dates import month_start, utc_today
from console.refusals import RuleViolation
from console.text import one_line
from usage.minutes import month_to_date_range
from usage.signals import usage_updated

from .estimate import billed_minutes, current_estimate
from .models import AlertFiring, UsageAlert

logger = logging.getLogger(__name__)

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {"billing.alert_created": "Usage alert created", "billing.alert_deleted": "Usage alert deleted"}

MAX_ALERTS = 20
MINUTES, AMOUNT = UsageAlert.Metric.MINUTES, UsageAlert.Metric.AMOUNT


# Values and wording ----------------------------------------------------------------------------


def current_values(organization: Organization, today: date | None = None) -> dict[str, Decimal | None]:
    """Month-to-date value of each metric. The amount is None when no price book is in force."""
    today = today or utc_today()
    found = current_estimate(organization, today)
    if found is None:
        minutes = sum(billed_minutes(organization, *month_to_date_range(today)).values())
        return {MINUTES: Decimal(minutes), AMOUNT: None}
    return {MINUTES: Decimal(found.priced.total_minutes), AMOUNT: found.priced.total}


def format_value(metric: str, value: Decimal) -> str:
    """12,345 minutes / USD 1,234.50"""
    if metric == MINUTES:
        return f"{int(value):,} minutes"
    return f"USD {value:,.2f}"


def threshold_problem(metric: str, threshold: Decimal) -> str | None:
    """What is wrong with a threshold for `metric`, or None."""
    if metric not in UsageAlert.Metric.values:
        return "Choose minutes or estimated amount."
    if not threshold.is_finite() or threshold <= 0:
        return "The threshold must be more than 0."
    if metric == MINUTES and threshold != threshold.to_integral_value():
        return "Minutes are counted whole: enter a whole number of minutes."
    if metric == AMOUNT and threshold != threshold.quantize(Decimal("0.01")):
        return "Amounts are in cents at most: use two decimals."
    return None


# Managing alerts -------------------------------------------------------------------------------


@transaction.atomic
def create_alert(
    actor: Membership, metric: str, threshold: Decimal, *, request: HttpRequest | None = None
) -> UsageAlert:
    problem = threshold_problem(metric, threshold)
    if problem:
        raise RuleViolation(problem)
    # The organization's row lock makes "at most MAX_ALERTS" hold when two people add alerts at once.
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    if UsageAlert.objects.filter(organization=organization).count() >= MAX_ALERTS:
        raise RuleViolation(f"An organization has at most {MAX_ALERTS} usage alerts; delete one first.")
    try:
        with transaction.atomic():
            alert = UsageAlert.objects.create(
                organization=organization, metric=metric, threshold=threshold, created_by=actor.user
            )
    except IntegrityError:
        raise RuleViolation("There is an alert at this threshold already.") from None
    audit.record(
        "billing.alert_created",
        request=request,
        actor=actor.user,
        organization=organization,
        target=str(alert),
        metric=metric,
        threshold=str(threshold),
    )
    check_alerts(organization)  # true now: an alert set below this month's figure fires at once
    return alert


@transaction.atomic
def delete_alert(actor: Membership, alert: UsageAlert, *, request: HttpRequest | None = None) -> None:
    target, metric, threshold = str(alert), alert.metric, str(alert.threshold)
    alert.delete()
    audit.record(
        "billing.alert_deleted",
        request=request,
        actor=actor.user,
        organization=actor.organization,
        target=target,
        metric=metric,
        threshold=threshold,
    )


# Checking and firing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipients:
    billing: list[Membership]  # may open the billing pages
    usage_only: list[Membership]  # usage view without billing: sent to the usage report instead

    @property
    def everyone(self) -> list[Membership]:
        return self.billing + self.usage_only


def alert_recipients(organization: Organization) -> Recipients:
    members = Membership.objects.filter(organization=organization, user__is_active=True).select_related("user", "role")
    billing, usage_only = [], []
    for member in members.order_by("user__email"):
        if member.can("billing"):
            billing.append(member)
        elif member.can("usage"):
            usage_only.append(member)
    return Recipients(billing, usage_only)


def check_alerts(organization: Organization, today: date | None = None) -> list[AlertFiring]:
    """Fire every alert of the organization whose threshold the month so far has reached and that has not
    fired this month. Returns the firings made by this call (empty when nothing new fired)."""
    today = today or utc_today()
    month = month_start(today)
    waiting = list(UsageAlert.objects.filter(organization=organization).exclude(firings__month=month))
    if not waiting:
        return []  # nothing can fire: spare the estimate
    values = current_values(organization, today)
    crossed = [
        (alert, value) for alert in waiting if (value := values[alert.metric]) is not None and value >= alert.threshold
    ]
    if not crossed:
        return []
    recipients = alert_recipients(organization)
    fired = []
    for alert, value in crossed:
        firing = _fire(organization, alert, month, value, recipients)
        if firing is not None:
            fired.append(firing)
    return fired


def _fire(
    organization: Organization, alert: UsageAlert, month: date, value: Decimal, recipients: Recipients
) -> AlertFiring | None:
    with transaction.atomic():
        if UsageAlert.objects.select_for_update().filter(pk=alert.pk).first() is None:
            return None  # deleted since it was read
        try:
            with transaction.atomic():
                firing = AlertFiring.objects.create(alert=alert, month=month, value=value)
        except IntegrityError:
            return None  # another check fired it this month already
        title, body = _wording(organization, alert, firing)
        mails = []
        for members, link, where in (
            (recipients.billing, reverse("billing:alerts"), "Billing > Usage alerts"),
            (recipients.usage_only, reverse("usage:overview"), "Usage"),
        ):
            if members:
                notify([member.user for member in members], organization, title, body, link)
                mails += _mails(organization, title, body, firing, members, where)
        transaction.on_commit(lambda: _send(mails), robust=True)
    logger.info("Usage alert %s of organization %s fired at %s", alert.pk, organization.pk, value)
    return firing


def _wording(organization: Organization, alert: UsageAlert, firing: AlertFiring) -> tuple[str, str]:
    threshold, value = format_value(alert.metric, alert.threshold), format_value(alert.metric, firing.value)
    month = f"{firing.month:%B %Y} (UTC)"
    if alert.metric == MINUTES:
        title = f"Usage alert: {threshold} reached"
        body = f"{organization.name} has used {value} so far in {month}, reaching the alert set at {threshold}."
    else:
        title = f"Usage alert: estimated bill reached {threshold}"
        body = (
            f"The estimated bill of {organization.name} is {value} so far in {month}, "
            f"reaching the alert set at {threshold}."
        )
    return title, body


def _mails(
    organization: Organization, title: str, body: str, firing: AlertFiring, members: Iterable[Membership], where: str
) -> list[EmailMessage]:
    alert = firing.alert
    subject = one_line(f"[{organization.name}] {title}")  # a header holds no line breaks
    text = render_to_string(
        "billing/email/usage_alert.txt",
        {
            "organization": organization,
            "body": body,
            "metric": alert.get_metric_display(),
            "threshold": format_value(alert.metric, alert.threshold),
            "value": format_value(alert.metric, firing.value),
            "firing": firing,
            "where": where,
        },
    )
    # One message per person: nobody sees who else was told.
    return [EmailMessage(subject, text, None, [member.user.email]) for member in members if member.user.email]


def _send(mails: list[EmailMessage]) -> None:
    if mails:
        get_connection().send_messages(mails)


@receiver(usage_updated, dispatch_uid="billing.check_alerts_after_pull")
def check_alerts_after_pull(sender: object, organization: Organization, **kwargs: object) -> None:
    check_alerts(organization)

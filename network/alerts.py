"""Quality alerts: a condition on a project's call quality (the video or audio freeze rate above a threshold
over the last N minutes), told to the members who may see the project's channels, in the console (the bell)
and by e-mail, as usage alerts are.

`check_alerts` runs every minute (beat) and after each calls pull that wrote metrics. The rate is computed
from the pulled receiver-side metrics (network.freeze); a window with less than MIN_MEDIA_SECONDS of media
received says too little to alert on. An alert fires at most once per window: the firing row is written
under the alert's row lock, after checking that none was written within the window, so two checks at once
fire it once. Bell notifications are written in the same transaction, e-mails go out after it commits.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.access import in_scope
from accounts.models import Membership
from accounts.notifications import notify
from console.refusals import RuleViolation
from console.text import one_line
from projects.models import Project

from .freeze import freeze_rate
from .models import QualityAlert, QualityAlertFiring

logger = logging.getLogger(__name__)

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "quality.alert_created": "Quality alert created",
    "quality.alert_deleted": "Quality alert deleted",
}

MAX_ALERTS = 20  # per project
WINDOWS = (5, 10, 15, 30, 60)  # minutes
MIN_MEDIA_SECONDS = 60  # a window with less received media than this does not fire


# Managing alerts -------------------------------------------------------------------------------------


def threshold_problem(threshold: Decimal) -> str | None:
    if not threshold.is_finite() or not Decimal("0") < threshold < Decimal("100"):
        return "The threshold is a percentage above 0 and below 100."
    if threshold != threshold.quantize(Decimal("0.01")):
        return "Use at most two decimals."
    return None


@transaction.atomic
def create_alert(
    actor: Membership,
    project: Project,
    *,
    metric: str,
    threshold_percent: Decimal,
    window_minutes: int,
    request: HttpRequest | None = None,
) -> QualityAlert:
    if metric not in QualityAlert.Metric.values:
        raise RuleViolation("Choose the video or the audio freeze rate.", field="metric")
    problem = threshold_problem(threshold_percent)
    if problem:
        raise RuleViolation(problem, field="threshold_percent")
    if window_minutes not in WINDOWS:
        raise RuleViolation(f"Choose a window of {', '.join(map(str, WINDOWS))} minutes.", field="window_minutes")
    Project.objects.select_for_update().get(pk=project.pk)  # "at most MAX_ALERTS" holds under two at once
    if QualityAlert.objects.filter(project=project).count() >= MAX_ALERTS:
        raise RuleViolation(f"A project has at most {MAX_ALERTS} quality alerts; delete one first.")
    try:
        with transaction.atomic():
            alert = QualityAlert.objects.create(
                project=project, metric=metric, threshold_percent=threshold_percent, window_minutes=window_minutes
            )
    except IntegrityError:
        raise RuleViolation("This project has this alert already.") from None
    audit.record_about_project(
        "quality.alert_created",
        actor=actor,
        project=project,
        request=request,
        alert=str(alert),
    )
    return alert


@transaction.atomic
def delete_alert(actor: Membership, alert: QualityAlert, *, request: HttpRequest | None = None) -> None:
    described, project = str(alert), alert.project
    alert.delete()
    audit.record_about_project("quality.alert_deleted", actor=actor, project=project, request=request, alert=described)


# Checking and firing ---------------------------------------------------------------------------------


def check_alerts(now: datetime | None = None) -> list[QualityAlertFiring]:
    """Check every quality alert over its window ending now; returns the firings this call made."""
    now = now or timezone.now()
    fired = []
    for alert in QualityAlert.objects.select_related("project__organization"):
        firing = check_alert(alert, now)
        if firing is not None:
            fired.append(firing)
    return fired


def check_alert(alert: QualityAlert, now: datetime) -> QualityAlertFiring | None:
    window = timedelta(minutes=alert.window_minutes)
    rate = freeze_rate(alert.project, alert.metric, now - window, now)
    if rate.media_seconds < MIN_MEDIA_SECONDS or rate.percent is None or rate.percent <= alert.threshold_percent:
        return None
    with transaction.atomic():
        locked = QualityAlert.objects.select_for_update().filter(pk=alert.pk).first()
        if locked is None or locked.firings.filter(fired_at__gt=now - window).exists():
            return None  # deleted meanwhile, or told already within this window
        firing = QualityAlertFiring.objects.create(
            alert=alert,
            window_end=now,
            value_percent=Decimal(rate.percent).quantize(Decimal("0.01")),
            media_seconds=rate.media_seconds,
        )
        _tell(alert, firing)
    logger.info(
        "Quality alert %s of project %s fired at %s%%", alert.pk, alert.project.project_id, firing.value_percent
    )
    return firing


def recipients(project: Project) -> list[Membership]:
    """Active members whose role may view channels and whose project scope includes the project."""
    members = Membership.objects.filter(organization_id=project.organization_id, user__is_active=True)
    return [
        member
        for member in members.select_related("user", "role").order_by("user__email")
        if member.can("channels") and in_scope(member, project.organization_id, project.pk)
    ]


def wording(alert: QualityAlert, firing: QualityAlertFiring) -> tuple[str, str]:
    metric = alert.get_metric_display().lower()
    title = f"Quality alert: {alert.project.name}'s {metric} is {firing.value_percent}%"
    body = (
        f"Over the {alert.window_minutes} minutes to {firing.window_end:%H:%M} UTC, the {metric} of "
        f"{alert.project.name} was {firing.value_percent}% (over {firing.media_seconds // 60:,} minutes of media "
        f"received), above the alert set at {alert.threshold_percent}%."
    )
    return title, body


def _tell(alert: QualityAlert, firing: QualityAlertFiring) -> None:
    project = alert.project
    members = recipients(project)
    if not members:
        return
    title, body = wording(alert, firing)
    link = reverse("channels:quality_alerts", args=[project.project_id])
    notify([member.user for member in members], project.organization, title, body, link)
    text = render_to_string("network/email/quality_alert.txt", {"alert": alert, "firing": firing, "body": body})
    subject = one_line(f"[{project.organization.name}] {title}")
    # One message per person: nobody sees who else was told.
    mails = [EmailMessage(subject, text, None, [member.user.email]) for member in members if member.user.email]
    transaction.on_commit(lambda: get_connection().send_messages(mails), robust=True)

"""What the console knows of the tokens each certificate signed, so a rotation can say when the old
certificate is safe to disable.

Tokens are not stored. For every token the console issues (temp-token page, token API, community paths,
`agora_token build --project`) it counts, per certificate value and hour, the tokens and the latest expiry
among them (projects.models.CertificateUse). Tokens made elsewhere, by the customer's own token servers, are
invisible here; the pages say so.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, models, transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Greatest, TruncDate
from django.utils import timezone

from .models import CertificateUse, Project

RECENT = timedelta(hours=24)
KEPT = timedelta(days=30)


def record(project_pk: int, fingerprint: str, expires_at: datetime, *, at: datetime | None = None) -> None:
    """One more token signed with the certificate `fingerprint` of the project: one UPDATE, or an INSERT for
    the first token of the hour (two requests racing to insert: the loser updates). `at`: when it was issued
    (default now; the CLI may stamp a token with another issue time, but it was made now)."""
    if not fingerprint:  # token facts cached by an older release, for at most a minute after an upgrade
        return
    hour = (at or timezone.now()).replace(minute=0, second=0, microsecond=0)
    row = CertificateUse.objects.filter(project_id=project_pk, fingerprint=fingerprint, hour=hour)
    latest = Greatest(F("last_expires_at"), Value(expires_at, output_field=models.DateTimeField()))
    if row.update(tokens=F("tokens") + 1, last_expires_at=latest):
        return
    try:
        with transaction.atomic():
            CertificateUse.objects.create(
                project_id=project_pk, fingerprint=fingerprint, hour=hour, tokens=1, last_expires_at=expires_at
            )
    except IntegrityError:
        row.update(tokens=F("tokens") + 1, last_expires_at=latest)


@dataclass(frozen=True)
class Use:
    """A certificate value's tokens as the console saw them."""

    last_expires_at: datetime | None  # of any token the console signed with it; None: it signed none
    # Tokens of the last 24 h whose hour's latest expiry is still ahead: an upper bound of those still valid,
    # since only the latest expiry of each hour is kept.
    may_be_valid: int
    issued_recently: int  # tokens issued in the last 24 h
    per_day: list[tuple[date, int]]  # tokens issued per day, the last 7 days that had any, newest first

    @property
    def still_valid(self) -> bool:
        return self.last_expires_at is not None and self.last_expires_at > timezone.now()

    @property
    def time_left(self) -> timedelta:
        return max(self.last_expires_at - timezone.now(), timedelta(0)) if self.last_expires_at else timedelta(0)


def use_of(project: Project, fingerprint: str) -> Use:
    now = timezone.now()
    rows = CertificateUse.objects.filter(project=project, fingerprint=fingerprint)
    recent = rows.filter(hour__gte=now - RECENT)
    per_day = (
        rows.filter(hour__gte=now - timedelta(days=7))
        .annotate(day=TruncDate("hour"))
        .values("day")
        .annotate(total=Sum("tokens"))
        .order_by("-day")
    )
    return Use(
        last_expires_at=rows.aggregate(latest=models.Max("last_expires_at"))["latest"],
        may_be_valid=recent.filter(last_expires_at__gt=now).aggregate(total=Sum("tokens"))["total"] or 0,
        issued_recently=recent.aggregate(total=Sum("tokens"))["total"] or 0,
        per_day=[(entry["day"], entry["total"]) for entry in per_day],
    )


def forget_old() -> int:
    """Rows older than KEPT whose tokens have all expired; the number removed."""
    now = timezone.now()
    removed, _ = CertificateUse.objects.filter(hour__lt=now - KEPT, last_expires_at__lt=now).delete()
    return removed

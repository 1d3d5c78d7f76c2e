"""Brute-force protection for sign-in, counted from the audit log's failed sign-ins.

After LOGIN_FAILURE_LIMIT failures for one account or one IP address within LOGIN_FAILURE_WINDOW,
further attempts are refused without checking the password until the oldest failure leaves the window.
Refused attempts are audited as lockouts and do not extend the window. The lock holds at every door into
a session: the password form, re-authentication, passkeys and email links (accounts.adapters).
"""

from datetime import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.timesince import timeuntil

from . import audit
from .models import AuditEntry


def locked_until(email: str, ip: str | None) -> datetime | None:
    """When sign-in opens again for this email or IP address, or None if it is open now."""
    window, limit = settings.LOGIN_FAILURE_WINDOW, settings.LOGIN_FAILURE_LIMIT
    # Wrong passwords on the re-authentication form count like failed sign-ins.
    recent = AuditEntry.objects.filter(
        action__in=("auth.login_failed", "auth.reauth_failed"), created_at__gt=timezone.now() - window
    )
    candidates = [recent.filter(target=email.strip().lower())]
    if ip:
        candidates.append(recent.filter(ip_address=ip))
    reopen_times = []
    for failures in candidates:
        times = list(failures.order_by("-created_at").values_list("created_at", flat=True)[:limit])
        if len(times) >= limit:
            reopen_times.append(times[-1] + window)
    return max(reopen_times, default=None)


class LockedOut(forms.ValidationError):
    """A sign-in refused because of recent failures; the message says when it opens again."""


def refuse_if_locked(request, email: str) -> None:
    """Raise LockedOut (and audit it) while sign-in is blocked for this email or the request's address."""
    email = (email or "").strip().lower()
    reopens = locked_until(email, audit.client_ip(request)) if email else None
    if reopens is None:
        return
    audit.record("auth.lockout", request=request, actor=None, target=email)
    raise LockedOut(
        "Too many failed sign-in attempts. Sign-in is blocked for this account or address; "
        f"try again in {timeuntil(reopens, timezone.now())}, or reset your password.",
        code="locked_out",
    )

"""Sign-in events go to the audit log (the lockout counts failed sign-ins from there)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import audit


@receiver(user_logged_in)
def record_login(sender, request, user, **kwargs):
    audit.record("auth.login", request=request, actor=user, target=user.email)


@receiver(user_logged_out)
def record_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record("auth.logout", request=request, actor=user, target=user.email)


@receiver(user_login_failed)
def record_login_failed(sender, credentials, request=None, **kwargs):
    email = (credentials.get("username") or credentials.get("email") or "").strip().lower()
    audit.record("auth.login_failed", request=request, actor=None, target=email)

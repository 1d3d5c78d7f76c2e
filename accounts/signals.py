"""Sign-in events go to the audit log (the lockout counts failed sign-ins from there); changes to
memberships, roles, organizations and API credentials retire the cached membership and pair snapshots."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from console.cache import bump

from . import audit
from .backends import USERS
from .middleware import ACCESS
from .models import ApiCredential, Membership, Organization, Role, User


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


@receiver([post_save, post_delete], sender=Membership)
@receiver([post_save, post_delete], sender=Role)
@receiver([post_save, post_delete], sender=Organization)
@receiver([post_save, post_delete], sender=ApiCredential)
def retire_cached_access(sender, **kwargs):
    bump(ACCESS)
    # Once more when the change is committed: a request that read the old rows in the meantime may have
    # cached them under the new generation. (Outside a transaction this runs at once: a harmless second bump.)
    transaction.on_commit(lambda: bump(ACCESS))
    if sender is Organization:
        bump("projects")  # token facts carry the organization's suspension


@receiver(m2m_changed)
def retire_cached_scopes(sender, **kwargs):
    if sender is Role.projects.through:
        bump(ACCESS)


@receiver([post_save, post_delete], sender=User)
def retire_cached_users(sender, **kwargs):
    bump(USERS)

"""Sign-in events go to the audit log (the lockout counts failed sign-ins from there), and so do the
password, address and second-factor changes that allauth reports; changes to memberships, roles,
organizations and API credentials retire the cached membership and pair snapshots."""

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from console.cache import bump

from . import audit, sso
from .backends import USERS
from .middleware import ACCESS
from .models import ApiCredential, Membership, Organization, Role, SingleSignOn, User


@receiver(user_logged_in)
def record_login(sender, request, user, **kwargs):
    through = {"through": "single sign-on"} if sso.session_organization_id(request) else {}
    audit.record("auth.login", request=request, actor=user, target=user.email, **through)


@receiver(user_logged_out)
def record_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record("auth.logout", request=request, actor=user, target=user.email)


@receiver(user_login_failed)
def record_login_failed(sender, credentials, request=None, **kwargs):
    email = (credentials.get("username") or credentials.get("email") or "").strip().lower()
    audit.record("auth.login_failed", request=request, actor=None, target=email)


@receiver(account_signals.password_changed)
def record_password_changed(sender, request, user, **kwargs):
    audit.record("auth.password_changed", request=request, actor=user, target=user.email)


@receiver(account_signals.password_reset)
def record_password_reset(sender, request, user, **kwargs):
    audit.record("auth.password_reset", request=request, actor=user, target=user.email)


@receiver(account_signals.email_confirmed)
def record_email_verified(sender, request, email_address, **kwargs):
    user = email_address.user
    audit.record("auth.email_verified", request=request, actor=user, target=email_address.email)


@receiver(mfa_signals.authenticator_added)
def record_factor_added(sender, request, user, authenticator, **kwargs):
    audit.record("auth.mfa_added", request=request, actor=user, target=user.email, kind=authenticator.type)


@receiver(mfa_signals.authenticator_removed)
def record_factor_removed(sender, request, user, authenticator, **kwargs):
    audit.record("auth.mfa_removed", request=request, actor=user, target=user.email, kind=authenticator.type)


@receiver(mfa_signals.authenticator_reset)
def record_recovery_codes_renewed(sender, request, user, authenticator, **kwargs):
    audit.record("auth.recovery_codes_renewed", request=request, actor=user, target=user.email)


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
@receiver([post_save, post_delete], sender=Authenticator)  # whether a user has a second factor is cached
@receiver([post_save, post_delete], sender=SingleSignOn)  # and whether an organization requires its provider
def retire_cached_users(sender, **kwargs):
    bump(USERS)

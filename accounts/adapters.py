"""The console's hooks into django-allauth, which runs sign-in, sign-up, password reset, email verification,
two-factor authentication and single sign-on.

What the console adds on top: its lockout (accounts.lockout) guards every door into a session, the
client address comes from accounts.audit.client_ip (which knows the trusted proxies), sign-up is open
only with PUBLIC_SIGNUP, and the second factors' secrets are encrypted with the console's keys.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.stagekit import clear_login
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect

from console import crypto

from . import audit, sso
from .lockout import LockedOut, refuse_if_locked


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return settings.PUBLIC_SIGNUP

    def get_client_ip(self, request) -> str:
        ip = audit.client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client's address.")
        return ip

    def pre_authenticate(self, request, **credentials) -> None:
        """Password sign-in and re-authentication: refused while the account or address is locked out.

        allauth's own failure limit is not consumed here: the console's lockout replaces it for passwords
        (it stays in force for two-factor codes)."""
        refuse_if_locked(request, credentials.get("email", ""))

    def pre_login(self, request, user, **kwargs):
        """Every door starts here (password, passkey, email link, single sign-on): a locked-out account is
        refused before it is asked for a second factor."""
        try:
            refuse_if_locked(request, user.email)
        except LockedOut as error:
            return self.refuse_locked_out(request, error)
        return super().pre_login(request, user, **kwargs)

    def login(self, request, user) -> None:
        """And ends here, also for a sign-in that paused (for a second factor or an emailed link) while the
        account became locked."""
        try:
            refuse_if_locked(request, user.email)
        except LockedOut as error:
            raise ImmediateHttpResponse(self.refuse_locked_out(request, error)) from None
        super().login(request, user)

    def refuse_locked_out(self, request, error: LockedOut):
        clear_login(request)
        messages.error(request, error.message)
        return redirect("account_login")


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are stored encrypted, like App Certificates."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)

    def get_public_key_credential_rp_entity(self) -> dict[str, str]:
        entity = super().get_public_key_credential_rp_entity()
        entity["name"] = "Console"
        return entity


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Single sign-on: each organization's OpenID Connect provider, with its rules (accounts.sso)."""

    def list_apps(self, request, provider=None, client_id=None):
        apps = [sso.app_for(config) for config in sso.enabled_configs()]
        if provider and provider != "openid_connect":
            apps = [app for app in apps if app.provider_id == provider]
        if client_id:
            apps = [app for app in apps if app.client_id == client_id]
        return apps

    def get_requests_session(self):
        return sso.guarded_session()

    def pre_social_login(self, request, sociallogin) -> None:
        sso.admit(request, sociallogin)

    def is_open_for_signup(self, request, sociallogin) -> bool:
        return True  # the organization's own rules decide, in sso.admit

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        return True

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        user.name = (data.get("name") or "")[:150]
        return user

    def save_user(self, request, sociallogin, form=None):
        # The account and its membership are made together or not at all.
        with transaction.atomic():
            user = super().save_user(request, sociallogin, form)
            sso.join(sso.config_for_provider_id(sociallogin.account.provider), user, request=request)
        return user

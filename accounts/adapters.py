"""The console's hooks into django-allauth, which runs sign-in, sign-up, password reset, email verification
and two-factor authentication.

What the console adds on top: its lockout (accounts.lockout) guards every door into a session, the
client address comes from accounts.audit.client_ip (which knows the trusted proxies), sign-up is open
only with PUBLIC_SIGNUP, and the second factors' secrets are encrypted with the console's keys.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from console import crypto

from . import audit
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
        """Every door ends here (password, passkey, email link): a locked-out account stays locked out."""
        try:
            refuse_if_locked(request, user.email)
        except LockedOut as error:
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            messages.error(request, error.message)
            return redirect("account_login")
        return super().pre_login(request, user, **kwargs)


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

"""Re-entering the password before a destructive action ("sudo mode", as on GitHub).

A correct password opens a short window (SUDO_WINDOW) in this session during which further destructive
actions do not ask again. Wrong passwords count toward the sign-in lockout like failed sign-ins.
"""

from datetime import datetime

from django import forms
from django.conf import settings
from django.utils import timezone

from console.views import form_data

from . import audit
from .lockout import locked_until

SESSION_KEY = "sudo_until"


def sudo_active(request) -> bool:
    until = request.session.get(SESSION_KEY)
    return bool(until) and datetime.fromisoformat(until) > timezone.now()


def grant_sudo(request) -> None:
    request.session[SESSION_KEY] = (timezone.now() + settings.SUDO_WINDOW).isoformat()


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        help_text="Confirm it is you. You will not be asked again for a few minutes.",
    )

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self):
        user = self.request.user
        password = self.cleaned_data["password"]
        if locked_until(user.email, audit.client_ip(self.request)) is not None:
            raise forms.ValidationError("Too many wrong passwords. Wait a few minutes and try again.")
        if not user.check_password(password):
            audit.record("auth.reauth_failed", request=self.request, target=user.email)
            raise forms.ValidationError("That is not your password.")
        return password


def confirmation_form(request):
    """The password form when this session is not in sudo mode, else None (nothing to confirm)."""
    if sudo_active(request):
        return None
    return PasswordConfirmForm(form_data(request), request=request)


def confirm_identity(request, form) -> bool:
    """True when the request may go on: sudo already active, or the form holds the right password."""
    if form is None:
        return True
    if form.is_valid():
        grant_sudo(request)
        return True
    return False

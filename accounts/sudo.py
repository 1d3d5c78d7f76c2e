"""Re-entering the password before a destructive action ("sudo mode", as on GitHub).

A correct password opens a short window (SUDO_WINDOW) in this session during which further destructive
actions do not ask again. Wrong passwords count toward the sign-in lockout like failed sign-ins. The window
is kept where allauth keeps its re-authentications (the session's authentication records), so confirming
here or on allauth's page (/accounts/reauthenticate/, asked before two-factor changes) counts for both.

The rule lives on the services, in one place: a service marked `@asks_password` refuses a request from a
browser session that has not confirmed the password lately, whichever door the request came through (a
page, the native API or Agora's API). Callers with an API credential, and commands (no request), are not
asked: they hold no session password to re-enter. Pages ask through console.views.confirm_then_act
(`asks_password=service_asks_password(service)`), which offers the field when `needs_password`.
"""

from functools import wraps

from allauth.account.internal.flows.login import get_authentication_records, record_authentication
from django import forms
from django.conf import settings
from django.utils import timezone

from console.forms import Form
from console.refusals import RuleViolation
from console.views import form_data

from . import audit
from .lockout import locked_until


class PasswordRequired(RuleViolation):
    """A destructive action from a browser session that has not confirmed the password lately."""


def sudo_active(request) -> bool:
    """True when this session re-authenticated within SUDO_WINDOW (signing in alone does not count)."""
    since = (timezone.now() - settings.SUDO_WINDOW).timestamp()
    return any(
        record.get("reauthenticated") and record.get("at", 0) > since
        for record in get_authentication_records(request, request.user)
    )


def grant_sudo(request) -> None:
    record_authentication(request, request.user, method="password", reauthenticated=True)


def from_browser_session(request) -> bool:
    """True for a request signed in with a browser session rather than an API credential."""
    if request is None:
        return False
    from .api_credentials import Caller  # api_credentials builds on services, which this module imports

    if isinstance(getattr(request, "auth", None), Caller):  # DRF: the credential the request authenticated with
        return False
    return hasattr(request, "session") and request.user.is_authenticated


def needs_password(request) -> bool:
    """True when a destructive action from this request must first confirm the password."""
    return from_browser_session(request) and not sudo_active(request)


def asks_password(service):
    """Mark a service as destructive: see the module's docstring."""

    @wraps(service)
    def guarded(actor, *args, request=None, **kwargs):
        if needs_password(request):
            raise PasswordRequired(
                "Confirm your password first: this action asks for it. In the console the page asks; "
                "through an API, use an API credential or confirm it in the console within the last "
                f"{int(settings.SUDO_WINDOW.total_seconds() // 60)} minutes."
            )
        return service(actor, *args, request=request, **kwargs)

    guarded.asks_password = True
    return guarded


def service_asks_password(service) -> bool:
    """True for a service marked @asks_password: its confirmation page offers the password field."""
    return getattr(service, "asks_password", False)


class PasswordConfirmForm(Form):
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
            audit.record(
                "auth.reauth_failed", actor=audit.person(self.request), request=self.request, target=user.email
            )
            raise forms.ValidationError("That is not your password.")
        return password


def confirmation_form(request):
    """The password form when this session must confirm the password, else None (nothing to confirm)."""
    if not needs_password(request):
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

"""Two-factor authentication in the console: who has a second factor, and the organization policy that
requires one.

The factors themselves (authenticator apps, passkeys and security keys, recovery codes) are allauth's
(accounts.adapters). An organization with `require_two_factor` lets a member without a second factor
open nothing of it from a browser session until they set one up: pages send them to the two-factor page,
the API answers 403. What they may still do: their own account pages, switching to another organization,
creating one and leaving this one. API credentials are not affected (they hold no session).
"""

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from console.cache import cached

from .backends import USERS

# Factors that answer the second step of a sign-in; recovery codes only stand in for a lost one.
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def has_second_factor_query(user_field: str = "pk"):
    """An expression for querysets: does the row's user have a second factor?"""
    return Exists(Authenticator.objects.filter(user_id=OuterRef(user_field), type__in=SECOND_FACTORS))


def has_second_factor(user) -> bool:
    return cached(
        USERS,
        f"{user.pk}:second-factor",
        lambda: Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists(),
    )


def open_paths() -> tuple[str, ...]:
    """Where a member held back by the policy may still go."""
    return (
        "/accounts/",  # sign-out, two-factor setup, password, profile
        reverse("switch_organization"),
        reverse("create_organization"),
        reverse("leave_organization"),
        "/invitations/",  # joining another organization
        reverse("api_schema"),
        reverse("api_docs"),
        "/favicon.ico",
        "/healthz",
        "/readyz",
        "/sandbox/",  # the development upstream, not this organization's
        "/static/",
    )


def held_back(request) -> bool:
    """True when the request comes from a session whose organization requires a second factor it lacks."""
    membership = getattr(request, "membership", None)
    return (
        membership is not None
        and membership.organization.require_two_factor
        and not has_second_factor(request.user)
        and not request.path.startswith(open_paths())
    )


def send_to_setup(request):
    organization = request.membership.organization.name
    explanation = (
        f"{organization} requires two-factor authentication. Add an authenticator app or a passkey to go on; "
        "until then you can switch to another organization or leave this one."
    )
    if refusal := api_refusal(request, explanation):
        return refusal
    messages.warning(request, explanation)
    return redirect("mfa_index")


def api_refusal(request, explanation: str) -> JsonResponse | None:
    """How both APIs answer a session an organization's sign-in policy holds back (pages get a page)."""
    if request.path.startswith(("/api/", "/dev/", "/beta/")):
        return JsonResponse({"message": explanation}, status=403)
    return None

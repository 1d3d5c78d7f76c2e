"""HTTP Basic authentication with a Customer ID and Customer Secret, for DRF views (both APIs).

Failures are audited and counted per client address; an address with too many recent failures gets 429 with
Retry-After for any Basic attempt, before its secret is looked at (accounts/api_credentials.py)."""

import base64
import binascii
from typing import NoReturn

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from . import api_credentials


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(customer_id, secret) from an Authorization header "Basic <base64>" (the scheme word in any case);
    None when the header is not Basic at all; ValueError when it is Basic but malformed."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("the Basic credentials are not base64 of customer_id:customer_secret") from None
    customer_id, colon, secret = decoded.partition(":")
    if not colon or not customer_id or not secret:
        raise ValueError("the Basic credentials must be customer_id:customer_secret")
    return customer_id, secret


def refuse_while_locked(request) -> None:
    """429 with Retry-After while the caller's address has too many recent failures."""
    wait = api_credentials.lockout_seconds(request._request)
    if wait:
        raise exceptions.Throttled(wait, "Too many failed authentications from your address.")


def fail(request, customer_id: str, reason: str, message: str) -> NoReturn:
    """Audit the failure, count it against the caller's address, and answer 401."""
    api_credentials.record_failure(customer_id, reason, request._request)
    api_credentials.count_failure(request._request)
    raise exceptions.AuthenticationFailed(message)


class CustomerCredentialAuthentication(BaseAuthentication):
    """Authorization: Basic base64(customer_id:customer_secret). Sets request.membership to the member the
    pair acts for, so the same permission checks as the pages apply."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        try:
            found = basic_credentials(header)
        except ValueError as error:
            found = error
        if found is None:
            return None  # not Basic: the session's turn
        refuse_while_locked(request)  # before anything is checked, a right secret included
        if isinstance(found, ValueError):
            fail(request, "", str(found), f"Invalid credentials: {found}.")
        customer_id, secret = found
        caller = api_credentials.verify(customer_id, secret)
        if caller is None:
            reason = "unknown Customer ID or wrong Customer Secret"
            fail(request, customer_id, reason, "Invalid Customer ID or Customer Secret.")
        api_credentials.note_use(caller.credential_id)
        request._request.membership = caller.membership
        return caller.user, caller

    def authenticate_header(self, request):
        return 'Basic realm="Console API"'


class CustomerCredentialScheme(OpenApiAuthenticationExtension):
    """Describes the Basic scheme in the OpenAPI schema (registered when this module is imported)."""

    target_class = CustomerCredentialAuthentication
    name = "customerCredential"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Customer ID as the user name, Customer Secret as the password (RESTful API page).",
        }

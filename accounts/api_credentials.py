"""API credentials: Customer ID / Customer Secret pairs for the RESTful APIs.

- The secret is generated here, shown once, and stored only as a keyed hash (HMAC-SHA256 with a key
  derived from SECRET_KEY). Every API call checks it, so a fast keyed hash, compared in constant time,
  rather than a slow password hash: the secret has 256 bits of entropy, nothing to brute-force.
  Changing SECRET_KEY invalidates every pair.
- A pair acts for the member who created it, with that member's role (one permission mechanism).
- The check reads the pair and the membership from the cache (generation "access"), so a call costs no
  query; creating or deleting a pair, and any change to memberships and roles, retire the cached copies.
- Uses are counted in each process and added to the database at most once a minute per pair.
- Failed authentications are counted per client address in the cache: after API_AUTH_FAILURE_LIMIT of them
  within API_AUTH_FAILURE_WINDOW_MINUTES, every Basic attempt from that address is refused for the window
  without checking the secret, so a right secret does not pass either (as sign-in's lockout). Refused
  attempts are not counted and do not extend the lockout; successful authentications never count.
"""

import hmac
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from console.cache import cached
from console.refusals import RuleViolation

from . import audit
from .backends import CachedModelBackend
from .middleware import ACCESS, load_membership
from .models import ApiCredential, Membership, Organization

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "api_credential.created": "API credential created",
    "api_credential.deleted": "API credential deleted",
    "api.auth_failed": "API authentication failed",
}

MAX_ACTIVE = 10
USE_FLUSH_SECONDS = 60
FAILURE_LOG_SECONDS = 60  # at most one audit entry per caller and Customer ID per minute
CUSTOMER_ID = re.compile(r"[0-9a-f]{32}")


def hash_secret(secret: str) -> str:
    return salted_hmac("console.api_credentials", secret, algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class NewCredential:
    credential: ApiCredential
    secret: str  # shown once; never stored


@transaction.atomic
def create_credential(actor: Membership, name: str = "", *, request: HttpRequest | None = None) -> NewCredential:
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    if ApiCredential.objects.filter(organization=organization).count() >= MAX_ACTIVE:
        raise RuleViolation(f"An organization can have {MAX_ACTIVE} API credentials: delete one you no longer use.")
    secret = secrets.token_urlsafe(32)  # 43 characters, 256 bits
    credential = ApiCredential.objects.create(
        organization=organization,
        membership=actor,
        customer_id=secrets.token_hex(16),
        secret_hash=hash_secret(secret),
        name=name.strip(),
    )
    audit.record(
        "api_credential.created",
        request=request,
        actor=actor.user,
        organization=organization,
        target=credential.customer_id,
    )
    return NewCredential(credential, secret)


@transaction.atomic
def delete_credential(actor: Membership, credential: ApiCredential, *, request: HttpRequest | None = None) -> None:
    customer_id = credential.customer_id
    deleted, _ = ApiCredential.objects.filter(pk=credential.pk, organization=actor.organization_id).delete()
    if deleted:
        audit.record(
            "api_credential.deleted",
            request=request,
            actor=actor.user,
            organization=actor.organization,
            target=customer_id,
        )


# The check on every API call ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    pk: int
    secret_hash: str
    user_id: int
    organization_id: int
    membership: Membership | None  # the member it acts for, as the middleware loads members


def _load_pair(customer_id: str) -> _Pair | None:
    row = (
        ApiCredential.objects.filter(customer_id=customer_id)
        .values_list("pk", "secret_hash", "membership__user_id", "organization_id")
        .first()
    )
    if row is None:
        return None
    membership = load_membership(row[2], row[3])
    if membership is not None and membership.organization_id != row[3]:
        membership = None  # the member left that organization (their pairs went with the membership)
    return _Pair(*row, membership)


@dataclass(frozen=True)
class Caller:
    user: object
    membership: Membership
    credential_id: int


def is_customer_id(value: str) -> bool:
    """32 lowercase hex characters, the only form create_credential makes. Anything else is refused before
    any lookup, so a caller's arbitrary text never becomes a cache key (length, spaces, control characters)."""
    return CUSTOMER_ID.fullmatch(value) is not None


def _pair(customer_id: str) -> _Pair | None:
    # One cache entry for the pair and its membership, retired with every change to access ("access").
    return cached(ACCESS, f"api-pair:{customer_id}", lambda: _load_pair(customer_id))


def verify(customer_id: str, secret: str) -> Caller | None:
    """Who a pair acts for, or None when the pair is unknown, the secret wrong or the member gone or inactive."""
    if not is_customer_id(customer_id):
        return None
    pair = _pair(customer_id)
    if pair is None or pair.membership is None or not hmac.compare_digest(pair.secret_hash, hash_secret(secret)):
        return None
    user = CachedModelBackend().get_user(pair.user_id)  # None for a deactivated user
    if user is None:
        return None
    return Caller(user, pair.membership, pair.pk)


# Uses are counted in this process and added to the database at most once a minute per pair, so a call
# costs no write and no cache round trip; each process adds only its own count, so the totals are exact
# (a process that dies loses at most its last minute of counts).
_uses: dict[int, int] = {}
_written_at: dict[int, float] = {}
_uses_lock = threading.Lock()


def note_use(credential_id: int) -> None:
    """Count one use; write the count and the time to the database at most once a minute."""
    now = time.monotonic()
    with _uses_lock:
        _uses[credential_id] = _uses.get(credential_id, 0) + 1
        if now - _written_at.get(credential_id, -USE_FLUSH_SECONDS) < USE_FLUSH_SECONDS:
            return
        uses, _uses[credential_id], _written_at[credential_id] = _uses[credential_id], 0, now
    ApiCredential.objects.filter(pk=credential_id).update(use_count=F("use_count") + uses, last_used_at=timezone.now())


def forget_recent_writes(pending_too: bool = False) -> None:
    """Let the next use of every pair write at once (tests: stands in for a minute passing; `pending_too`
    also drops uses not written yet, for a test database whose ids start over)."""
    with _uses_lock:
        _written_at.clear()
        if pending_too:
            _uses.clear()


def record_failure(customer_id: str, reason: str, request: HttpRequest | None = None) -> None:
    """Audit a failed authentication, at most once a minute per caller address and Customer ID."""
    address = audit.client_ip(request) or "unknown"
    well_formed = is_customer_id(customer_id)
    # Malformed ids share one key per caller: random junk cannot flood the log, nor the cache with keys.
    if not cache.add(
        f"api-auth-failed:{address}:{customer_id if well_formed else '-'}", 1, timeout=FAILURE_LOG_SECONDS
    ):
        return
    pair = _pair(customer_id) if well_formed else None
    organization = Organization.objects.filter(pk=pair.organization_id).first() if pair else None
    audit.record(
        "api.auth_failed",
        actor=None,
        request=request,
        organization=organization,
        target=customer_id[:64],
        reason=reason,
    )


# Lockout after repeated failures from one address ---------------------------------------------------


def _address(request: HttpRequest) -> str:
    return audit.client_ip(request) or "unknown"


def lockout_seconds(request: HttpRequest) -> int:
    """Seconds until Basic authentication from the request's address opens again; 0 when it is open."""
    if not settings.API_AUTH_FAILURE_LIMIT:
        return 0
    until = cache.get(f"api-auth-locked:{_address(request)}")
    return max(0, math.ceil(until - time.time())) if until else 0


def count_failure(request: HttpRequest) -> None:
    """Count a failed authentication from the request's address; the one that reaches the limit locks it."""
    limit = settings.API_AUTH_FAILURE_LIMIT
    if not limit:
        return
    window = settings.API_AUTH_FAILURE_WINDOW_MINUTES * 60
    address = _address(request)
    key = f"api-auth-failures:{address}"
    cache.add(key, 0, timeout=window)  # the window starts at the first failure
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    if count >= limit:
        cache.set(f"api-auth-locked:{address}", time.time() + window, timeout=window)

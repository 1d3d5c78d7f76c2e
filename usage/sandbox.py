"""The sandbox upstream: Agora's `/dev/v1/projects` and `/dev/v3/usage`, served for the console's own
projects with synthetic usage, over real HTTP. On only when USAGE_SANDBOX is true.

It authenticates like the real API (HTTP Basic with a Customer ID and Secret: here, those of an
organization's sandbox upstream) and validates parameters the same way (400 with {"message": ...}).
Its shapes and checks are the ones the console's own Agora-compatible API uses: the project object from
projects/agora_serializers.py, the usage question and answer from usage/agora_serializers.py.
USAGE_SANDBOX_FAULTS (tests only) makes it misbehave: errors, 429 with Retry-After, slow or malformed answers.
network/sandbox_api.py serves, through the same `sandbox_endpoint`, the channel, kicking-rule and call
analytics APIs of the network the sandbox plays (network/sandbox_network.py).
"""

import base64
import binascii
import hmac
import random
import time
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from projects.agora_serializers import agora_projects
from projects.models import Project

from .agora_serializers import QueryError, parse_query, usage_answer
from .models import Upstream
from .synthetic import usage_for_day


def _message(text: str, status: int) -> JsonResponse:
    return JsonResponse({"message": text}, status=status)


def _caller(request) -> Upstream | None:
    """The sandbox upstream whose Customer ID and Secret the Basic credentials name."""
    scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        customer_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    upstream = Upstream.objects.select_related("organization").filter(customer_id=customer_id, base_url="").first()
    if upstream is None or not hmac.compare_digest(upstream.customer_secret.encode(), secret.encode()):
        return None
    return upstream


def _fault():
    """A misbehaviour drawn from USAGE_SANDBOX_FAULTS, or None."""
    faults = settings.USAGE_SANDBOX_FAULTS
    if not faults or random.random() >= faults.get("error_rate", 0):
        return None
    kind = random.choice(faults.get("faults", ["500"]))
    if kind == "429":
        response = _message("Too many requests", 429)
        response["Retry-After"] = str(faults.get("retry_after", 0))
        return response
    if kind == "slow":
        time.sleep(faults.get("slow_seconds", 2))
        return None
    if kind == "malformed":
        return HttpResponse('{"meta": {', content_type="application/json")
    return _message("Internal error", 500)


def sandbox_endpoint(view=None, *, methods: tuple[str, ...] = ("GET",)):
    """A sandbox view, called with the caller's sandbox Upstream after the switch, the Basic credentials and
    the fault injection. `@sandbox_endpoint` answers GET only; `@sandbox_endpoint(methods=(...))` the
    methods named (a machine's calls authenticated by their credentials, so without CSRF tokens)."""

    def decorate(view):
        @csrf_exempt
        @require_http_methods(list(methods))
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not settings.USAGE_SANDBOX:
                raise Http404("The sandbox upstream is off.")
            upstream = _caller(request)
            if upstream is None:
                return _message("Invalid authentication credentials", 401)
            return _fault() or view(request, upstream, *args, **kwargs)

        return wrapped

    return decorate if view is None else decorate(view)


@sandbox_endpoint
def projects(request, upstream):
    rows = Project.objects.filter(organization=upstream.organization).prefetch_related("certificates")
    # The upstream account's own credentials: every project, its primary certificate shown, as Agora does.
    listing = agora_projects(rows.order_by("created_at", "pk"), show_sign_key=True)
    return JsonResponse({"projects": listing})


@sandbox_endpoint
def usage(request, upstream):
    try:
        query = parse_query(request.GET)
    except QueryError as error:
        return _message(error.message, error.status)
    if not Project.objects.filter(organization=upstream.organization, project_id=query.project_id).exists():
        return _message("project not exist", 404)
    return JsonResponse(
        usage_answer((day, usage_for_day(query.project_id, day, query.business)) for day in query.days())
    )

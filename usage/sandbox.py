"""The sandbox upstream: Agora's `/dev/v1/projects` and `/dev/v3/usage`, served for the console's own
projects with synthetic usage, over real HTTP. On only when USAGE_SANDBOX is true.

It authenticates like the real API (HTTP Basic with a Customer ID and Secret: here, those of an
organization's sandbox upstream) and validates parameters the same way (400 with {"message": ...}).
USAGE_SANDBOX_FAULTS (tests only) makes it misbehave: errors, 429 with Retry-After, slow or malformed answers.
"""

import base64
import binascii
import hmac
import random
import re
import time
from datetime import date, timedelta

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from projects.converters import ProjectIdConverter
from projects.models import Project

from .models import BUSINESSES, Upstream
from .synthetic import TIER_SHARES, usage_for_day

MAX_SPAN = timedelta(days=366)
META = {
    "durationAudioAll": {"en": "Total Audio Duration", "unit": "second"},
    "durationVideoHd": {"en": "Total HD Video Duration", "unit": "second"},
    "durationVideo1080P": {"en": "Total Full HD Video Duration", "unit": "second"},
    "durationVideo2K": {"en": "Total 2K Video Duration", "unit": "second"},
    "durationVideo4K": {"en": "Total 2K+ Video Duration", "unit": "second"},
    "durationVideoHdp": {"en": "Total HD+ Video Duration", "unit": "second"},
}


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


def sandbox_endpoint(view):
    @require_GET
    def wrapped(request, *args, **kwargs):
        if not settings.USAGE_SANDBOX:
            raise Http404("The sandbox upstream is off.")
        upstream = _caller(request)
        if upstream is None:
            return _message("Invalid authentication credentials", 401)
        return _fault() or view(request, upstream, *args, **kwargs)

    return wrapped


def _project_json(project: Project) -> dict:
    primary = project.primary
    return {
        "id": project.project_id,
        "name": project.name,
        "vendor_key": project.app_id,
        "sign_key": primary.value if primary and primary.enabled else "",
        "recording_server": None,
        "status": 1 if project.enabled else 0,
        "created": int(project.created_at.timestamp()),
    }


@sandbox_endpoint
def projects(request, upstream):
    rows = Project.objects.filter(organization=upstream.organization).prefetch_related("certificates")
    return JsonResponse({"projects": [_project_json(project) for project in rows.order_by("created_at")]})


def _parse_day(value: str | None, name: str) -> date:
    # Exactly YYYY-MM-DD, as the real API takes: date.fromisoformat alone also reads 20240101 and 2024-W01-1.
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date in the form YYYY-MM-DD") from None


@sandbox_endpoint
def usage(request, upstream):
    params = request.GET
    project_id = params.get("project_id", "")
    business = params.get("business", "default")
    try:
        day_from = _parse_day(params.get("from_date"), "from_date")
        day_to = _parse_day(params.get("to_date"), "to_date")
    except ValueError as error:
        return _message(str(error), 400)
    if not project_id:
        return _message("project_id is required", 400)
    if not re.fullmatch(ProjectIdConverter.regex, project_id):
        return _message("project not exist", 404)
    if business not in BUSINESSES:
        return _message(f"business must be one of {', '.join(BUSINESSES)}", 400)
    if day_from > day_to:
        return _message("from_date must not be after to_date", 400)
    if day_to - day_from >= MAX_SPAN:
        return _message("The query spans more than one year", 400)
    if not Project.objects.filter(organization=upstream.organization, project_id=project_id).exists():
        return _message("project not exist", 404)
    usages = []
    day = day_from
    while day <= day_to:
        usages.append({"date": f"{day.isoformat()}T00:00:00.000Z", "usage": usage_for_day(project_id, day, business)})
        day += timedelta(days=1)
    return JsonResponse({"meta": {name: META[name] for name, _ in TIER_SHARES}, "usages": usages})

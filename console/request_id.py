"""X-Request-ID on every response: the caller's own (when it looks like an id) or a new one, so a caller
and the server's logs can name the same request. `REQUEST_ID` holds it while the request is served, for the
log records written meanwhile (console.log_format) and the Celery tasks it sends.

API answers (/api/, /dev/, /beta/) also carry X-Resource-ID, the second id Agora asks callers to quote to support:
the object the answer concerns when a view names it (`request.resource_id`, e.g. a project ID) or the path
holds it (a project_id), else the endpoint's name."""

import re
import uuid
from contextvars import ContextVar

ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
RESOURCE_PREFIXES = ("/api/", "/dev/", "/beta/")
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = given if ACCEPTABLE.fullmatch(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            REQUEST_ID.reset(token)
        response["X-Request-ID"] = request.request_id
        if request.path.startswith(RESOURCE_PREFIXES):
            response["X-Resource-ID"] = resource_id(request)
        return response


def resource_id(request) -> str:
    """The object named by the view, else the project of the path, else the endpoint (never caller junk)."""
    match = getattr(request, "resolver_match", None)
    candidates = (
        getattr(request, "resource_id", ""),
        match.kwargs.get("project_id", "") if match else "",
        match.url_name if match else "",
    )
    return next((str(value) for value in candidates if value and ACCEPTABLE.fullmatch(str(value))), "none")

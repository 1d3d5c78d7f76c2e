"""X-Request-ID on every response: the caller's own (when it looks like an id) or a new one, so a caller
and the server's logs can name the same request. `REQUEST_ID` holds it while the request is served, for the
log records written meanwhile (console.log_format) and the Celery tasks it sends."""

import re
import uuid
from contextvars import ContextVar

ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
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
        return response

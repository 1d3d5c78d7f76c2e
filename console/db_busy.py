"""A write that still finds SQLite's database locked after the busy timeout (DATABASES in console.settings)
answers 503 with a message and Retry-After instead of a 500: its transaction was rolled back, so the same
request can simply be sent again. One place for every page and API view. It sees what the view raised;
a session saved after the view is a single statement that waits the same timeout before it could fail."""

import logging

from django.db import OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader

from console.api import is_api_view

RETRY_AFTER_SECONDS = 5
MESSAGE = "The console is busy saving other changes, so this was not saved. Nothing changed: send it again in a moment."

logger = logging.getLogger(__name__)


def is_locked(error: Exception) -> bool:
    return isinstance(error, OperationalError) and "database is locked" in str(error)


def busy_response(request) -> HttpResponse:
    if is_api_view(request.resolver_match and request.resolver_match.func):
        response = JsonResponse({"message": MESSAGE}, status=503)
    else:
        # Like the 500 page: no context processors, so nothing here reads the database.
        response = HttpResponse(loader.render_to_string("503.html", {"message": MESSAGE}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_locked(exception):
            return None
        logger.warning("Database locked after the busy timeout: %s %s answered 503", request.method, request.path)
        return busy_response(request)

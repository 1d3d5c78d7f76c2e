"""What every API view shares: errors as {"message": ...} with a 4xx status, the schema class that documents
them (and X-Request-ID) on every operation, and per-action module permissions for viewsets."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.access import module_permission
from accounts.services import RuleViolation


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object changed since you read it."
    default_code = "conflict"


def exception_handler(exc, context):
    if isinstance(exc, RuleViolation):  # a rule of the console refused the action: the caller can fix it
        exc = exceptions.ValidationError(str(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You do not have permission to do this.")
    response = drf_exception_handler(exc, context)
    if response is not None:
        data = response.data
        detail = data.get("detail", data) if isinstance(data, dict) else data
        response.data = {"message": _flatten(detail)}
    return response


def error(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"message": message}, status=code)


# The schema -------------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What went wrong, in words for people.")


ERROR_RESPONSES = {
    "400": "Bad input (a parameter or the body), or a rule of the console refuses the action.",
    "401": "No credentials, or wrong ones.",
    "403": "The caller's role does not allow this.",
    "404": "No such object among those the caller may see (or a cursor that is not valid).",
    "429": "Too many requests for this endpoint: wait Retry-After seconds.",
}
REQUEST_ID = OpenApiParameter(
    "X-Request-ID",
    str,
    OpenApiParameter.HEADER,
    response=True,
    required=True,
    pattern=r"^[A-Za-z0-9._:-]{1,128}$",
    description="The caller's own X-Request-ID when it looks like one, otherwise a new id; the server's logs "
    "use the same.",
)


class ConsoleAutoSchema(AutoSchema):
    """Adds what every endpoint answers but no view spells out: errors as {"message": ...} and the
    X-Request-ID header. Statuses an operation documents itself (e.g. 409) are left as they are."""

    def get_override_parameters(self):
        return [*super().get_override_parameters(), REQUEST_ID]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response" or any(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            return responses
        for code, description in ERROR_RESPONSES.items():
            if code not in responses:
                error = OpenApiResponse(ErrorSerializer, description=description)
                responses[code] = self._get_response_for_code(error, code, direction=direction)
        return responses


# Viewsets ---------------------------------------------------------------------------------------


class ModulePermissionMixin:
    """A viewset's permissions from one declaration: `module`, and `action_levels` (action -> level) for
    the actions that need more than "view". A method the endpoint lacks answers 405 to any signed-in caller."""

    module: str
    action_levels: dict[str, str] = {}

    def get_permissions(self):
        if self.action is None:
            return [IsAuthenticated()]
        return [module_permission(self.module, self.action_levels.get(self.action, "view"))()]

    @property
    def membership(self):
        return getattr(self.request, "membership", None)

    @property
    def is_schema_view(self) -> bool:
        """True while drf-spectacular inspects the view (no caller, so no membership)."""
        return getattr(self, "swagger_fake_view", False)

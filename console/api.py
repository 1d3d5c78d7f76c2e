"""What every API view shares: errors as {"message": ...} with a 4xx status, the schema class that documents
them (and X-Request-ID) on every operation, the base of every serializer (strict text input), per-action
module permissions for viewsets, and the check of every API request's JSON body before its view runs."""

from collections.abc import Mapping

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.access import module_permission
from accounts.sudo import PasswordRequired
from console import parsers
from console.parsers import MAX_BYTES, PayloadTooLarge
from console.refusals import RuleViolation
from console.text import refuse_control_characters


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
    if isinstance(exc, PasswordRequired):  # the same refusal as a page's password prompt, whichever door
        exc = exceptions.PermissionDenied(str(exc))
    elif isinstance(exc, RuleViolation):  # a rule of the console refused the action: the caller can fix it
        exc = exceptions.ValidationError(str(exc))
    elif isinstance(exc, RequestDataTooBig):  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, when a body is read whole
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # e.g. too many fields in a query: the caller's input, not a fault
        exc = exceptions.ParseError("The request is malformed or has too many parameters.")
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


# Serializers ------------------------------------------------------------------------------------

# style= of a CharField that takes several lines of text; every other CharField takes one line.
MULTILINE = {"base_template": "textarea.html"}


def is_multiline(field) -> bool:
    return field.style.get("base_template") == MULTILINE["base_template"]


def _text_fields(field) -> list[serializers.CharField]:
    """`field` itself when it takes text, or a list's or dict's text items."""
    if isinstance(field, serializers.CharField):
        return [field]
    child = getattr(field, "child", None)  # ListField, DictField (a nested serializer checks its own fields)
    return [child] if isinstance(child, serializers.CharField) else []


def _not_text(field, value) -> bool:
    """True when a text field was given a JSON value that is not a string (null is for allow_null to judge)."""
    if value is serializers.empty or value is None or not _text_fields(field):
        return False
    if isinstance(field, serializers.CharField):
        return not isinstance(value, str)
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else []
    return any(item is not None and not isinstance(item, str) for item in items)


class StrictInput:
    """The input rules of every serializer of the console, in one place:
    - a text field takes a JSON string, never a number or another type turned into one (1e999 is not "inf");
    - a single-line text field refuses control characters (console.text); mark a multi-line one with
      `style=MULTILINE`;
    - input that is not an object is refused (DRF's own rule), so wrong JSON types answer 400.
    Every writable text field names its max_length (a test walks every serializer)."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            for text in _text_fields(field):
                if not is_multiline(text) and refuse_control_characters not in text.validators:
                    text.validators.append(refuse_control_characters)
        return fields

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            wrong = [field.field_name for field in self._writable_fields if _not_text(field, field.get_value(data))]
            if wrong:
                raise serializers.ValidationError(dict.fromkeys(wrong, ["Not a valid string."]))
        return super().to_internal_value(data)


class Serializer(StrictInput, serializers.Serializer):
    pass


class ModelSerializer(StrictInput, serializers.ModelSerializer):
    pass


# The schema -------------------------------------------------------------------------------------


class ErrorSerializer(Serializer):
    message = serializers.CharField(read_only=True, help_text="What went wrong, in words for people.")


ERROR_RESPONSES = {
    "400": "Bad input (a parameter or the body), or a rule of the console refuses the action.",
    "401": "No credentials, or wrong ones.",
    "403": "The caller's role does not allow this.",
    "404": "No such object among those the caller may see (or a cursor that is not valid).",
    "429": "Too many requests for this endpoint, or too many failed authentications from the caller's address: "
    "wait Retry-After seconds.",
}
# Operations that take a body also answer this.
BODY_ERROR_RESPONSES = {"413": f"The body is larger than the API reads ({MAX_BYTES:,} bytes)."}
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
        errors = {**ERROR_RESPONSES, **(BODY_ERROR_RESPONSES if self.method in ("POST", "PUT", "PATCH") else {})}
        for code, description in errors.items():
            if code not in responses:
                error = OpenApiResponse(ErrorSerializer, description=description)
                responses[code] = self._get_response_for_code(error, code, direction=direction)
        return responses


# Viewsets ---------------------------------------------------------------------------------------


class ModulePermissionMixin:
    """A viewset's permissions from one declaration: `module`, and `action_levels` (action -> level) for
    the actions that need more than "view". A method the endpoint lacks answers 405 to any signed-in caller.

    A viewset over a model declares `queryset = Model.objects.none()` (the model, for the schema) and narrows
    it to the caller in `caller_queryset()`; while drf-spectacular inspects the view there is no caller, and
    the declared empty queryset stands in."""

    module: str
    action_levels: dict[str, str] = {}

    def get_permissions(self):
        if self.action is None:
            return [IsAuthenticated()]
        return [module_permission(self.module, self.action_levels.get(self.action, "view"))()]

    @property
    def membership(self):
        return getattr(self.request, "membership", None)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema generation: no caller
            return super().get_queryset()
        return self.caller_queryset()

    def caller_queryset(self):
        """The objects the caller may see (accounts.access.restrict); a viewset over a model overrides it."""
        return super().get_queryset()


def is_api_view(view_func) -> bool:
    """True for a view of the APIs (a Django REST framework view), whose answers are JSON."""
    view_class = getattr(view_func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def media_type(request) -> str:
    return request.content_type.partition(";")[0].strip().lower()


def is_json(request) -> bool:
    return media_type(request) == "application/json"


def is_form(request) -> bool:
    return media_type(request) == "application/x-www-form-urlencoded"


class JsonBodyMiddleware:
    """Before any API view (a Django REST framework view) runs: a JSON body that `read_body` refuses is
    answered 400, or 413 when too large, with {"message": ...}, whether or not the view reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not is_api_view(view_func) or not is_json(request):
            return None
        if _declared_length(request) > MAX_BYTES:
            return _refusal(f"The body is larger than {MAX_BYTES:,} bytes.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        raw = request.body  # at most MAX_BYTES (checked above); Django keeps it for the view's parser
        if not raw:
            return None
        try:
            parsers.read_body(raw, encoding=request.encoding or "utf-8")
        except parsers.JSONTooLarge:
            return _refusal(f"The body is larger than {MAX_BYTES:,} bytes.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except parsers.BadJSON as error:
            return _refusal(str(error), status.HTTP_400_BAD_REQUEST)
        return None


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads no body for a length it cannot read


def _refusal(message: str, code: int) -> JsonResponse:
    return JsonResponse({"message": message}, status=code)

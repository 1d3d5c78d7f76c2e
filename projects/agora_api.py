"""Agora's Console RESTful API for projects (reference section 3), at Agora's own paths under /dev/v1/,
so scripts written for https://api.agora.io work here with only the base URL changed.

Callers sign in with HTTP Basic and a Customer ID / Secret (accounts/api_auth.py; the scheme word in any
case) and act as the member who made the pair: the same permission levels, project scope and services as
the pages, so the same audit entries, invariants and limits. 10 requests per second per organization and
endpoint, then 429 with Retry-After (console/throttling.py). Errors are {"message": ...}.

Decisions (where Agora's documentation leaves room, or the console keeps rules Agora does not):
- Permissions: GET project(s) need projects "view"; POST project, project_status, recording_config and
  DELETE project need projects "edit"; signkey and reset_signkey need certificates "manage". Without the
  level: 403. A project of another organization, outside the member's scope, or archived: 404
  {"message": "project not exist"}, as if it did not exist.
- `sign_key` (the primary certificate) is in the answer only when the caller's role has certificates
  "view"; otherwise it is "" whatever the project has. Every answer that carries certificate values is a
  reveal, audited as the page's: one `certificate.revealed` entry per answer (cached ones included), naming
  the caller's Customer ID and the projects by ID and fingerprint, never the values. Changes are audited too.
- POST and DELETE take a JSON object, or the same fields form-encoded (application/x-www-form-urlencoded, as
  a public PHP SDK sends them): another Content-Type is 415, JSON that does not parse or is not an object is
  400, unknown or missing fields and values of the wrong JSON type are 400 (no coercion: "1" is not 1, 1 is
  not true). A form carries text only, so there booleans are true/false/1/0, the status 0/1 and an empty
  recording_server clears it; a field given twice is 400.
- Every path also answers with a trailing slash (/dev/v1/projects/, as older docs and scripts write it), and
  an unknown path under /dev/ is a JSON 404, never a page.
- Answers carry X-Request-ID and X-Resource-ID (the project an answer concerns, else the endpoint), the two
  ids Agora asks callers to quote to support.
- GET /dev/v1/project?id=&name=: either one suffices; both must match the same project when both are given;
  neither is 400; no match is 404. The name is compared exactly (case-sensitive, as Agora's URLs are).
- POST /dev/v1/project: `name` 1-255 characters (trimmed), `enable_sign_key` false by default. With
  enable_sign_key the project is Secured (App ID + token, enabled primary certificate), otherwise App ID
  only. Limit and duplicate names (case-insensitive) are 400 with the console's message. 201.
- DELETE /dev/v1/project archives the project: the console keeps projects (their usage and bills stay),
  and archived projects disappear from /dev/v1/projects and /dev/v1/project. A second DELETE is 404.
- POST /dev/v1/recording_config: `recording_server` is "ip:port" (IPv4, or IPv6 in brackets; port 1-65535),
  stored in canonical form; null clears it (an addition to Agora's API).
- POST /dev/v1/signkey {"enable": true}: enables the primary certificate (creates one on an App-ID-only
  project); already enabled is a no-op 200, as Agora answers. {"enable": false}: the console never turns a
  primary certificate off once on (a Secured project needs it to accept tokens, and pages offer no such
  step either), so 400 with a message pointing to reset_signkey; already off is a no-op 200.
- POST /dev/v1/reset_signkey: a new primary value at once (enabled if it was off); tokens signed with the
  old one stop working. The organization's Admins are mailed, as for the page's reset.
- The secondary certificate is not reachable here (Agora ignores it); the native API covers it.
"""

import hashlib

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import audit
from accounts.access import module_permission, restrict, scope_ids
from console.api import ErrorSerializer, Serializer, is_form, is_json
from console.cache import cached
from console.parsers import FormParser, JsonParser
from console.refusals import RuleViolation
from console.text import LINE_MAX

from . import services
from .agora_serializers import AgoraProjectSerializer, agora_project, agora_projects
from .models import Project, fingerprint
from .token_cache import PROJECTS

NOT_FOUND = "project not exist"
TAG = "Agora-compatible: projects"
PROJECTS_VIEW = module_permission("projects", "view")
PROJECTS_EDIT = module_permission("projects", "edit")
CERTIFICATES_MANAGE = module_permission("certificates", "manage")


# Strict JSON fields: a value of another JSON type is refused, never converted ------------------------


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}
    FORM_VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictStatusField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be 0 (disabled) or 1 (enabled)."}
    FORM_VALUES = {"0": 0, "1": 1}

    def to_internal_value(self, data):
        if type(data) is not int or data not in (0, 1):  # type(), not isinstance: true is not 1
            self.fail("invalid")
        return data


class ProjectIdSerializer(Serializer):
    id = StrictCharField(max_length=LINE_MAX, help_text="The project ID (`id` of the project object).")


class CreateProjectSerializer(Serializer):
    name = StrictCharField(min_length=1, max_length=255)
    enable_sign_key = StrictBooleanField(required=False, default=False)


class ProjectStatusSerializer(ProjectIdSerializer):
    status = StrictStatusField()


class RecordingConfigSerializer(ProjectIdSerializer):
    recording_server = StrictCharField(allow_null=True, max_length=64, help_text='"ip:port"; null clears it.')


class SignKeySerializer(ProjectIdSerializer):
    enable = StrictBooleanField()


def form_values(form, serializer: Serializer) -> dict:
    """A form body as the JSON object it stands for: one value per field, typed as the field reads it.

    A form carries text only: a boolean is true/false/1/0 and a status 0/1 (anything else stays text, which
    the strict field refuses); an empty value of a field that takes null is null.
    """
    data = {}
    for name in form:
        values = form.getlist(name)
        if len(values) > 1:
            raise exceptions.ValidationError(f"The field {name} is given more than once.")
        value = values[0]
        field = serializer.fields.get(name)
        mapping = getattr(field, "FORM_VALUES", None)
        if mapping is not None:
            value = mapping.get(value.strip().lower(), value)
        elif field is not None and field.allow_null and value == "":
            value = None
        data[name] = value
    return data


# Shared by the views ----------------------------------------------------------------------------------


class AgoraView(APIView):
    """Permissions per HTTP method (`required`), JSON bodies read strictly, answers in Agora's shapes."""

    required: dict = {}  # HTTP method -> permission class
    metadata_class = None  # OPTIONS is not part of Agora's API: 405
    parser_classes = [JsonParser, FormParser]

    def get_permissions(self):
        method = "GET" if self.request.method == "HEAD" else self.request.method
        permission = self.required.get(method)
        # A method the view lacks still needs a signed-in caller; the handler lookup then answers 405.
        return [permission() if permission else IsAuthenticated()]

    def body(self, serializer_class) -> dict:
        if is_json(self.request):
            data = self.request.data  # one JSON object (console.parsers), else 400
        elif is_form(self.request):
            data = form_values(self.request.data, serializer_class())
        else:
            raise exceptions.UnsupportedMediaType(
                self.request.content_type,
                detail='The body must be JSON ("Content-Type: application/json") or a form '
                '("application/x-www-form-urlencoded").',
            )
        serializer = serializer_class(data=data)
        unknown = sorted(set(data) - set(serializer.fields))
        if unknown:
            raise exceptions.ValidationError(f"Unknown field: {', '.join(unknown)}.")
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def visible(self):
        """The member's active projects, certificates prefetched for the answer."""
        queryset = Project.objects.active().prefetch_related("certificates")
        return restrict(queryset, self.request.membership)

    def project(self, project_id: str) -> Project:
        project = self.visible().filter(project_id=project_id).first()
        if project is None:
            raise exceptions.NotFound(NOT_FOUND)
        return self.concerns(project)

    def concerns(self, project: Project) -> Project:
        """Name the project as the answer's X-Resource-ID (console.request_id)."""
        self.request._request.resource_id = project.project_id
        return project

    def show_sign_key(self) -> bool:
        return self.request.membership.can("certificates", "view")

    def audited(self, projects: list[dict], project: Project | None = None) -> list[dict]:
        """The answer's projects, once the certificates among them are audited: one entry per answer that
        carries any (by project ID and fingerprint), every time, whether the answer was cached or not."""
        shown = [project for project in projects if project["sign_key"]]
        if shown:
            audit.record_api_reveal(
                self.request,
                [project["id"] for project in shown],
                [fingerprint(project["sign_key"]) for project in shown],
                target=shown[0]["name"] if len(shown) == 1 else f"{len(shown)} projects",
                project=project,
            )
        return projects

    def answer(self, project: Project, code: int = status.HTTP_200_OK) -> Response:
        """{"project": ...} as stored now (a service may have changed the certificates since the lookup)."""
        fresh = self.project(project.project_id)  # 404 if someone archived it meanwhile
        [shown] = self.audited([agora_project(fresh, show_sign_key=self.show_sign_key())], project=fresh)
        return Response({"project": shown}, status=code)


ProjectAnswer = inline_serializer("AgoraProjectAnswer", {"project": AgoraProjectSerializer()})
ProjectsAnswer = inline_serializer("AgoraProjectsAnswer", {"projects": AgoraProjectSerializer(many=True)})
NOT_JSON = OpenApiResponse(
    ErrorSerializer, description="The body is neither JSON (application/json) nor a form (x-www-form-urlencoded)."
)


def documented(summary: str, description: str, request=None, ok: int = 200, answer=ProjectAnswer, parameters=None):
    """The operation in the schema; the schema class adds the {"message": ...} errors every endpoint has."""
    responses = {ok: answer, **({415: NOT_JSON} if request is not None else {})}
    return extend_schema(
        tags=[TAG],
        summary=summary,
        description=description,
        request=request,
        parameters=parameters,
        responses=responses,
    )


# Endpoints --------------------------------------------------------------------------------------------


class ProjectsView(AgoraView):
    required = {"GET": PROJECTS_VIEW}

    @documented(
        "All projects",
        "The organization's active projects (archived ones are left out), oldest first, within the caller's "
        'project scope. Needs projects "view"; `sign_key` is "" unless the role has certificates "view". An '
        "answer with certificates is audited (one entry naming the projects).",
        answer=ProjectsAnswer,
    )
    def get(self, request):
        # Read from the cache, like the token API's facts: scripts poll this list, and any change to a
        # project or certificate retires the cached copies (generation "projects"); the member's scope and
        # certificate level are part of the key, so a role change gives a new entry at once.
        membership, show_sign_key = request.membership, self.show_sign_key()
        scope = "all"
        if not membership.role.all_projects:
            scope = hashlib.sha256(",".join(map(str, sorted(scope_ids(membership)))).encode()).hexdigest()
        key = f"agora-projects:{membership.organization_id}:{scope}:{int(show_sign_key)}"

        def answer():
            projects = self.visible().order_by("created_at", "pk")
            return agora_projects(projects, show_sign_key=show_sign_key)

        # Audited after the cache: every answer with certificates is a reveal, however it was computed.
        return Response({"projects": self.audited(cached(PROJECTS, key, answer))})


class ProjectView(AgoraView):
    required = {"GET": PROJECTS_VIEW, "POST": PROJECTS_EDIT, "DELETE": PROJECTS_EDIT}

    @documented(
        "Find a project by id or name",
        "Either `id` or `name` suffices; when both are given, both must match the same project. Neither: 400; "
        'no match: 404 {"message": "project not exist"}. Always an array of one. Needs projects "view".',
        answer=ProjectsAnswer,
        parameters=[
            OpenApiParameter("id", str, description="The project ID."),
            OpenApiParameter("name", str, description="The project name (exact)."),
        ],
    )
    def get(self, request):
        project_id = request.query_params.get("id", "")
        name = request.query_params.get("name", "")
        if not project_id and not name:
            raise exceptions.ValidationError("Give the project's id or name (or both).")
        if "\x00" in project_id + name:  # no project has one, and PostgreSQL refuses NUL in a query
            raise exceptions.NotFound(NOT_FOUND)
        found = self.visible()
        if project_id:
            found = found.filter(project_id=project_id)
        if name:
            found = found.filter(name=name)
        project = found.first()
        if project is None:
            raise exceptions.NotFound(NOT_FOUND)
        self.concerns(project)
        return Response({"projects": self.audited([agora_project(project, show_sign_key=self.show_sign_key())])})

    @documented(
        "Create a project",
        "`enable_sign_key` true: Secured (App ID + token), with an enabled primary certificate; false (the "
        'default): App ID only. The project limit and unique names apply (400). Needs projects "edit".',
        request=CreateProjectSerializer,
        ok=201,
    )
    def post(self, request):
        data = self.body(CreateProjectSerializer)
        mechanism = Project.Mechanism.SECURED if data["enable_sign_key"] else Project.Mechanism.APP_ID
        project = services.create_project(request.membership, name=data["name"], mechanism=mechanism, request=request)
        return self.answer(project, status.HTTP_201_CREATED)

    @documented(
        "Archive a project (legacy delete)",
        "The console keeps projects: this archives it, and it leaves /dev/v1/projects and /dev/v1/project. "
        'Needs projects "edit".',
        request=ProjectIdSerializer,
        answer=inline_serializer("AgoraSuccess", {"success": serializers.BooleanField()}),
    )
    def delete(self, request):
        project = self.project(self.body(ProjectIdSerializer)["id"])
        services.set_archived(request.membership, project, True, request=request)
        return Response({"success": True})


class ProjectStatusView(AgoraView):
    required = {"POST": PROJECTS_EDIT}

    @documented(
        "Enable or disable a project",
        'A disabled project issues no tokens. `status` is 1 or 0 (a JSON number). Needs projects "edit".',
        request=ProjectStatusSerializer,
    )
    def post(self, request):
        data = self.body(ProjectStatusSerializer)
        project = self.project(data["id"])
        services.set_enabled(request.membership, project, data["status"] == 1, request=request)
        return self.answer(project)


class RecordingConfigView(AgoraView):
    required = {"POST": PROJECTS_EDIT}

    @documented(
        "Set the recording server",
        '"ip:port": IPv4, or IPv6 in brackets; port 1-65535. Stored in canonical form; null clears it. '
        'Needs projects "edit".',
        request=RecordingConfigSerializer,
    )
    def post(self, request):
        data = self.body(RecordingConfigSerializer)
        project = self.project(data["id"])
        services.set_recording_server(request.membership, project, data["recording_server"], request=request)
        return self.answer(project)


class SignKeyView(AgoraView):
    required = {"POST": CERTIFICATES_MANAGE}

    @documented(
        "Enable the primary certificate",
        "`enable` true turns the primary certificate on (creating one if the project has none); already on is "
        "a no-op. The console never turns a primary certificate off: `enable` false is 400 while it is on. "
        'Needs certificates "manage".',
        request=SignKeySerializer,
    )
    def post(self, request):
        data = self.body(SignKeySerializer)
        project = self.project(data["id"])
        primary = project.primary
        enabled = primary is not None and primary.enabled
        if data["enable"] and not enabled:
            try:
                services.enable_primary(request.membership, project, request=request)
            except RuleViolation:
                # Someone enabled it meanwhile: what the caller asked for holds; anything else is refused.
                fresh = self.project(project.project_id).primary
                if fresh is None or not fresh.enabled:
                    raise
        elif not data["enable"] and enabled:
            raise RuleViolation(
                "The console does not turn a primary certificate off once it is on (projects that require "
                "tokens need it to accept them). To stop tokens signed with the current certificate, replace "
                "it with POST /dev/v1/reset_signkey."
            )
        return self.answer(project)


class ResetSignKeyView(AgoraView):
    required = {"POST": CERTIFICATES_MANAGE}

    @documented(
        "Replace the primary certificate",
        "A new value at once (and enabled if it was off): tokens signed with the old one stop working. The "
        'organization\'s Admins are mailed. Needs certificates "manage".',
        request=ProjectIdSerializer,
    )
    def post(self, request):
        project = self.project(self.body(ProjectIdSerializer)["id"])
        services.reset_primary(request.membership, project, request=request)
        return self.answer(project)

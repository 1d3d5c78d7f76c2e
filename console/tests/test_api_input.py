"""Input every JSON endpoint refuses in one place: bodies too deep or too large (console/parsers.py), and
values of the wrong JSON type or with control characters in text (the serializers' base, console/api.py).
Each answers 4xx {"message": ...}, never a 500, and changes nothing."""

import importlib
import json
import pkgutil

import pytest
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.urls import URLResolver, get_resolver, reverse
from rest_framework import serializers

from console import api as console_api
from console.api import StrictInput, _text_fields, exception_handler
from console.parsers import MAX_BYTES, MAX_DEPTH, BadJSON, JSONTooLarge, load_json, nesting_depth
from console.tests.api_helpers import Api, message
from projects.models import Project

APPS = ("accounts", "projects", "tokens", "usage", "billing", "console")
DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a": ' * 1000 + "1" + "}" * 1000


@pytest.fixture
def api(acme, client) -> Api:
    return Api(client, acme.membership("admin"))


def write_routes(resolver=None, prefix: str = "") -> list[tuple[str, str]]:
    """(method, URL name) of every API route that takes POST, PUT, PATCH or DELETE, from the URL conf."""
    routes = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            routes += write_routes(entry, prefix)
            continue
        view = getattr(entry.callback, "cls", None)
        if view is None or not entry.name:
            continue
        methods = set(getattr(entry.callback, "actions", None) or ()) or {
            method for method in ("post", "put", "patch", "delete") if hasattr(view, method)
        }
        routes += [(method, entry.name) for method in sorted(methods & {"post", "put", "patch", "delete"})]
    return routes


def body_urls(acme) -> list[tuple[str, str]]:
    """(method, URL) of every write endpoint of both APIs, on one of Acme's projects."""
    project_id = acme.projects[0].project_id
    urls = []
    for method, name in write_routes():
        arguments = {"project_id": project_id, "slot": "primary", "rule_id": 1}
        pattern_names = get_resolver().reverse_dict.getlist(name)[0][0][0][1]
        urls.append((method, reverse(name, kwargs={key: arguments[key] for key in pattern_names})))
    return urls


def send(api: Api, method: str, url: str, raw: str | bytes):
    call = getattr(api.client, method)
    return call(url, raw, content_type="application/json", **api.headers)


def names(acme) -> set[str]:
    return set(Project.objects.filter(organization=acme.organization).values_list("name", flat=True))


# Depth and size -----------------------------------------------------------------------------------


def test_nesting_depth_counts_brackets_outside_strings():
    assert nesting_depth("1") == 0
    assert nesting_depth('{"a": [1, {"b": []}]}') == 4
    assert nesting_depth('{"a": "[[[[{{{{", "b": "\\"[["}') == 1
    assert nesting_depth("[]" * 1000) == 1


def test_load_json_refuses_what_is_too_deep_too_large_or_not_a_finite_number():
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    for raw in (
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        DEEP_OBJECT.encode(),
        b"1e999",
        b"NaN",
        b"[-Infinity]",
    ):
        with pytest.raises(BadJSON):
            load_json(raw)
    with pytest.raises(BadJSON):
        load_json(b"9" * 5000)  # more digits than Python reads
    with pytest.raises(JSONTooLarge):
        load_json(b" " * (MAX_BYTES + 1))


def test_load_json_refuses_lone_surrogates_and_keeps_paired_ones():
    assert load_json(b'"\\ud83d\\ude00"') == "\U0001f600"
    assert load_json(b'"\\\\ud800"') == "\\ud800"  # an escaped backslash, then plain letters
    for raw in (b'"\\ud800"', b'{"a": ["x\\udfff"]}', b'"\\ude00\\ud83d"'):
        with pytest.raises(BadJSON):
            load_json(raw)


def test_a_lone_surrogate_is_400_on_every_api(acme, api):
    before = names(acme)
    for method, url in body_urls(acme):
        raw = '{"name": "a\\ud800", "id": "\\ud800", "type": "rtc", "channel": "\\ud800", "uid": 1}'
        response = send(api, method, url, raw)
        assert response.status_code == 400, (method, url, response.content[:200])
        assert "surrogate" in message(response)
    assert names(acme) == before


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT, '{"name": "x", "extra": ' + DEEP_ARRAY + "}"])
def test_a_body_nested_1000_levels_deep_is_400_on_every_api(acme, api, deep):
    before = names(acme)
    for method, url in body_urls(acme):
        response = send(api, method, url, deep)
        assert response.status_code == 400, (method, url, response.content[:200])
        assert "deep" in message(response)
    assert names(acme) == before


def test_a_body_just_within_the_depth_limit_is_read(api, acme):
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)  # inside the body's own object: MAX_DEPTH levels
    response = send(api, "post", "/api/v1/projects/", '{"name": "Deep but fine", "extra": ' + nested + "}")
    assert response.status_code == 201, response.content
    response = send(api, "post", "/api/v1/projects/", '{"name": "Too deep", "extra": [' + nested + "]}")
    assert response.status_code == 400 and "Too deep" not in names(acme)


def test_a_2_mb_body_is_413_on_every_api(acme, api):
    big = json.dumps({"name": "Big", "padding": "x" * 2_000_000})
    for method, url in body_urls(acme):
        response = send(api, method, url, big)
        assert response.status_code == 413, (method, url, response.content[:200])
        assert "larger than" in message(response)
    assert "Big" not in names(acme)


def test_the_exception_handler_answers_a_message_for_suspicious_input():
    """Django refuses a body read whole past DATA_UPLOAD_MAX_MEMORY_SIZE, and too many parameters."""
    assert exception_handler(RequestDataTooBig("too big"), {}).status_code == 413
    response = exception_handler(TooManyFieldsSent("too many"), {})
    assert response.status_code == 400 and set(response.data) == {"message"}


def test_a_number_too_large_for_a_float_is_400(acme, api):
    for method, url in body_urls(acme):
        response = send(api, method, url, '{"name": 1e999, "id": 1e999, "type": 1e999, "expire": 1e999}')
        assert response.status_code == 400, (method, url, response.content[:200])
        assert message(response)
    assert "inf" not in names(acme)


# Wrong JSON types and control characters ------------------------------------------------------------


@pytest.mark.parametrize("name", [123, 0, 1.5, True, ["Listed"], {"a": "b"}])
def test_a_name_that_is_not_a_string_is_400_and_creates_nothing(acme, api, name):
    before = names(acme)
    response = api.post("/api/v1/projects/", {"name": name})
    assert response.status_code == 400 and "name" in message(response)
    assert names(acme) == before


def test_posting_1e999_or_123_as_a_name_creates_nothing(acme, api):
    for raw in ('{"name": 1e999}', '{"name": 123}'):
        response = send(api, "post", "/api/v1/projects/", raw)
        assert response.status_code == 400, response.content
        assert message(response)
    assert not names(acme) & {"inf", "123"}


def test_a_name_that_is_not_a_string_cannot_rename_a_project(acme, api):
    project = acme.projects[0]
    response = api.patch(f"/api/v1/projects/{project.project_id}/", {"name": 456})
    assert response.status_code == 400
    project.refresh_from_db()
    assert project.name != "456"


@pytest.mark.parametrize("name", ["Two\r\nlines", "Tab\there", "Nul\x00", "Line\u2028separator", "Bell\x07"])
def test_control_characters_in_a_name_are_400_on_both_apis(acme, api, name):
    before = names(acme)
    response = api.post("/api/v1/projects/", {"name": name})
    assert response.status_code == 400 and "control characters" in message(response)
    response = api.post("/dev/v1/project", {"name": name})
    assert response.status_code == 400 and "control characters" in message(response)
    response = api.patch(f"/api/v1/projects/{acme.projects[0].project_id}/", {"name": name})
    assert response.status_code == 400
    assert names(acme) == before


@pytest.mark.parametrize("body", ["[]", '["name"]', '"a string"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_400(acme, api, body):
    for method, url in body_urls(acme):
        response = send(api, method, url, body)
        assert response.status_code == 400, (method, url, body, response.content[:200])
        assert message(response)


def test_wrong_types_in_other_fields_are_400(acme, api):
    project_id = acme.projects[0].project_id
    for url, body in [
        ("/api/v1/projects/", {"name": "Typed", "stage": ["live"]}),
        ("/api/v1/projects/", {"name": "Typed", "use_case": {"x": 1}}),
        (f"/api/v1/projects/{project_id}/certificates/swap/", {"expected_version": [1]}),
        (f"/api/v1/projects/{project_id}/certificates/swap/", {"expected_version": "many"}),
        ("/dev/v1/project", {"name": ["Typed"]}),
        ("/dev/v1/project_status", {"id": 7, "status": 1}),
        ("/dev/v1/recording_config", {"id": project_id, "recording_server": 8080}),
        (reverse("api_tokens", kwargs={"project_id": project_id}), {"type": ["rtc"], "channel": {"a": 1}}),
        (reverse("api_tokens", kwargs={"project_id": project_id}), {"type": "rtc", "channel": ["demo"], "uid": 1}),
    ]:
        response = api.post(url, body)
        assert response.status_code == 400, (url, body, response.content[:200])
        assert message(response)
    assert "Typed" not in names(acme)


def test_text_in_a_query_refuses_control_characters(api):
    response = api.get("/api/v1/usage/summary/", {"project": "ab\ncd"})
    assert response.status_code == 400 and "control characters" in message(response)


# Every serializer of the console ----------------------------------------------------------------------


def import_every_module() -> None:
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".tests" in module.name or ".migrations" in module.name:
                continue
            importlib.import_module(module.name)


def every_serializer() -> list[type]:
    """Every serializer class of the console's apps (a class made with type() names its __module__)."""
    found, pending = [], [serializers.Serializer]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in APPS and cls not in (console_api.Serializer, console_api.ModelSerializer):
            found.append(cls)
    return sorted(set(found), key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def test_every_serializer_inherits_the_strict_base_and_bounds_its_text():
    import_every_module()
    found = every_serializer()
    names_found = {cls.__name__ for cls in found}
    assert {"ProjectCreateSerializer", "CreateProjectSerializer", "AgoraProjectSerializer", "RoleLevels"} <= names_found
    assert {
        "SummaryQuerySerializer",
        "BillableMinutes",
        "UsageSeconds",
        "EstimateSerializer",
        "StatementSerializer",
        "MemberSerializer",
        "ErrorSerializer",
    } <= names_found
    unbounded, outside = [], []
    for cls in found:
        if not issubclass(cls, StrictInput):
            outside.append(f"{cls.__module__}.{cls.__qualname__}")
            continue
        for name, field in cls().fields.items():
            if field.read_only:
                continue
            if any(text.max_length is None for text in _text_fields(field)):
                unbounded.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert not outside, f"serializers not built on console.api.Serializer / ModelSerializer: {outside}"
    assert not unbounded, f"writable text fields without max_length: {unbounded}"

"""Kicking rules through the APIs: Agora's /dev/v1/kicking-rule (its bodies and answers, reference section 4.4)
and the native /api/v1/projects/{project_id}/kicking-rules/, both over network.kicking, the upstream a fake
Agora over real HTTP (network/tests/kicking_upstream.py)."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.services import create_role
from console.tests.api_helpers import basic_auth, message
from network.models import KickingRule

from . import kicking_upstream
from .kicking_upstream import Fault

upstream = kicking_upstream.upstream  # the fixture
AGORA = reverse("agora_kicking_rule")


class Caller:
    """One member's API credential on every request; bodies as JSON unless given as bytes."""

    def __init__(self, client, membership):
        self.client, self.headers = client, basic_auth(membership)

    def send(self, method: str, url: str, body=None, content_type="application/json", **extra):
        data = body if isinstance(body, bytes | str) else json.dumps(body if body is not None else {})
        return getattr(self.client, method)(url, data, content_type=content_type, **self.headers, **extra)

    def get(self, url: str, params=None):
        return self.client.get(url, params or {}, **self.headers)


@pytest.fixture
def as_role(client, acme):
    return lambda role: Caller(client, acme.membership(role))


@pytest.fixture
def project(acme):
    return acme.projects[0]


def near(moment, expected, slack: float = 5) -> bool:
    return abs((moment - expected).total_seconds()) <= slack


def ban_body(project, **changes) -> dict:
    return {"appid": project.app_id, "cname": "room-42", "uid": 1001, "privileges": ["join_channel"], **changes}


# Agora's /dev/v1/kicking-rule ----------------------------------------------------------------------------


def test_post_get_put_delete_with_agoras_shapes(upstream, project, as_role, acme):
    support = as_role("cs_maintenance")
    created = support.send("post", AGORA, ban_body(project, time=10))
    assert created.status_code == 200, created.content
    rule = KickingRule.objects.get()
    assert created.json() == {"status": "success", "id": rule.pk}
    assert created["X-Resource-ID"] == project.project_id
    assert upstream.seen[0].body == {
        "appid": project.app_id,
        "cname": "room-42",
        "uid": 1001,
        "privileges": ["join_channel"],
        "time": 10,
    }

    listed = as_role("product_operation").get(AGORA, {"appid": project.app_id.upper()})
    assert listed.status_code == 200
    [shown] = listed.json()["rules"]
    assert listed.json()["status"] == "success"
    assert shown == {
        "id": rule.pk,
        "appid": project.app_id,
        "uid": 1001,
        "opid": rule.pk,
        "cname": "room-42",
        "ip": None,
        "ts": rule.expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "privileges": ["join_channel"],
        "createAt": rule.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "updateAt": rule.updated_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }

    extended = support.send("put", AGORA, {"appid": project.app_id, "id": rule.pk, "time_in_seconds": 7200})
    assert extended.status_code == 200, extended.content
    rule.refresh_from_db()
    assert extended.json() == {
        "status": "success",
        "result": {"id": rule.pk, "ts": rule.expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")},
    }
    assert near(rule.expires_at, timezone.now() + timedelta(hours=2))
    assert upstream.seen[-1].body == {"appid": project.app_id, "id": 1953, "time": 120}

    removed = support.send("delete", AGORA, {"appid": project.app_id, "id": rule.pk})
    assert removed.json() == {"status": "success", "id": rule.pk}
    assert not KickingRule.objects.exists() and not upstream.rules
    assert support.get(AGORA, {"appid": project.app_id}).json() == {"status": "success", "rules": []}
    actions = AuditEntry.objects.filter(action__startswith="kicking.").values_list("action", "actor__email")
    assert sorted(actions) == [
        ("kicking.rule_created", "cs_maintenance@acme.test"),
        ("kicking.rule_extended", "cs_maintenance@acme.test"),
        ("kicking.rule_removed", "cs_maintenance@acme.test"),
    ]


@pytest.mark.parametrize(
    ("duration", "lasts"),
    [
        ({"time": 1}, 60),
        ({"time": 1441}, 86_400),
        ({"time": 99_999}, 86_400),
        ({"time_in_seconds": 5}, 10),
        ({"time_in_seconds": 86_431}, 86_430),
        ({"time": 5, "time_in_seconds": 30}, 30),  # time_in_seconds wins
        ({}, 3600),  # neither: 60 minutes
    ],
)
def test_durations_are_clamped_as_agora_clamps_them(upstream, project, as_role, duration, lasts):
    response = as_role("engineer").send("post", AGORA, ban_body(project, **duration))
    assert response.status_code == 200, response.content
    rule = KickingRule.objects.get(pk=response.json()["id"])
    assert near(rule.expires_at, timezone.now() + timedelta(seconds=lasts))


@pytest.mark.parametrize("duration", [{"time": 0}, {"time_in_seconds": 0}, {"time": 30, "time_in_seconds": 0}])
def test_time_0_is_a_one_shot_kick_that_keeps_nothing(upstream, project, as_role, duration):
    response = as_role("cs_maintenance").send("post", AGORA, ban_body(project, **duration))
    assert response.json() == {"status": "success", "id": 0}
    assert not KickingRule.objects.exists()
    assert upstream.seen[0].body["time"] == 0
    assert AuditEntry.objects.filter(action="kicking.kicked").count() == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"time": -1}, "time must be a whole number"),
        ({"time": 1.5}, "time must be a whole number"),
        ({"time_in_seconds": "60"}, "time_in_seconds must be a whole number"),
        ({"uid": 0}, "uid must be an integer"),
        ({"uid": "1001"}, "uid must be an integer"),
        ({"cname": "", "uid": None}, "at least one of cname, uid and ip"),
        ({"privileges": ["kick"]}, "privileges must list"),
        ({"privileges": []}, "privileges must list"),
        ({"ip": "not-an-ip"}, "ip must be an IPv4 or IPv6"),
        ({"cname": "room\x0042"}, "control characters"),
        ({"cname": "room\u202842"}, "control characters"),
        ({"cname": "x" * 65}, "at most 64 bytes"),
        ({"timeInSeconds": 30}, "Unknown field: timeInSeconds"),
        ({"appid": ""}, "appid is required"),
        ({"appid": "0" * 32}, "invalid appid"),
        ({"appid": "not\x00hex"}, "invalid appid"),
        ({"appid": 42}, "appid is required"),  # agora_shapes: a string is required
    ],
)
def test_bad_bodies_are_400_and_ask_nothing(upstream, project, as_role, changes, expected):
    response = as_role("cs_maintenance").send("post", AGORA, ban_body(project, **changes))
    assert response.status_code == 400, response.content
    assert expected in message(response)
    assert not upstream.seen and not KickingRule.objects.exists()


def test_oversized_and_non_json_bodies_are_refused_not_a_500(upstream, project, as_role):
    support = as_role("cs_maintenance")
    huge = json.dumps(ban_body(project, cname="x" * (2 * 1024 * 1024)))
    assert support.send("post", AGORA, huge).status_code == 413
    assert support.send("post", AGORA, "{not json").status_code == 400
    assert support.send("post", AGORA, "[1, 2]").status_code == 400
    assert support.send("post", AGORA, "appid=x", content_type="application/x-www-form-urlencoded").status_code == 415
    deep = "[" * 100 + "]" * 100
    assert support.send("put", AGORA, f'{{"appid": {deep}}}').status_code == 400
    assert not upstream.seen


def test_an_appid_of_another_organization_or_out_of_scope_is_invalid(upstream, project, as_role, acme, globex):
    assert message(as_role("admin").send("post", AGORA, ban_body(globex.projects[0]))) == "invalid appid"
    assert message(as_role("admin").get(AGORA, {"appid": globex.projects[0].app_id})) == "invalid appid"
    assert message(as_role("admin").get(AGORA)) == "appid is required"
    scoped = create_role(acme.membership("admin"), name="Room 2 support", levels={"channels": "manage"})
    scoped.all_projects = False
    scoped.save()
    scoped.projects.set([acme.projects[1]])
    member = acme.membership("engineer")
    member.role = scoped
    member.save()
    assert message(as_role("engineer").send("post", AGORA, ban_body(project))) == "invalid appid"
    assert as_role("engineer").send("post", AGORA, ban_body(acme.projects[1])).status_code == 200
    assert not any(seen.body.get("appid") == project.app_id for seen in upstream.seen)


@pytest.fixture
def rule(upstream, project, acme):
    from network import kicking

    made = kicking.create_rule(acme.membership("admin"), project, uid=1001, privileges=["join_channel"], seconds=600)
    upstream.seen.clear()
    return made


def test_another_organizations_rule_is_not_found(upstream, rule, as_role, globex):
    other = Caller(as_role("admin").client, globex.membership("admin"))
    own_app_id = globex.projects[0].app_id
    assert other.send("put", AGORA, {"appid": own_app_id, "id": rule.pk, "time": 5}).status_code == 404
    response = other.send("delete", AGORA, {"appid": own_app_id, "id": rule.pk})
    assert (response.status_code, message(response)) == (404, "rule not exist")
    native = reverse("api_kicking_rule", args=[rule.project.project_id, rule.pk])
    assert other.send("delete", native).status_code == 404
    assert other.send("patch", native, {"seconds": 60}).status_code == 404
    assert KickingRule.objects.filter(pk=rule.pk).exists() and not upstream.seen


def test_put_and_delete_check_the_rule_and_the_duration(upstream, rule, as_role):
    support, app_id = as_role("cs_maintenance"), rule.project.app_id
    cases = [
        ({"appid": app_id, "id": rule.pk}, 400, "time or time_in_seconds is required"),
        ({"appid": app_id, "id": rule.pk, "time": 0}, 400, "at least 10 seconds"),
        ({"appid": app_id, "id": "1"}, 400, "id must be"),
        ({"appid": app_id, "id": 2**70, "time": 5}, 400, "id must be"),
        ({"appid": app_id, "id": rule.pk + 1, "time": 5}, 404, "rule not exist"),
        ({"appid": app_id, "time": 5}, 400, "id is required"),
    ]
    for body, status, expected in cases:
        response = support.send("put", AGORA, body)
        assert (response.status_code, expected in message(response)) == (status, True), (body, response.content)
    KickingRule.objects.filter(pk=rule.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = support.send("delete", AGORA, {"appid": app_id, "id": rule.pk})
    assert response.status_code == 400 and "no longer in force" in message(response)
    assert not upstream.seen


def test_upstream_failure_is_a_400_and_keeps_nothing(upstream, project, as_role):
    upstream.faults.append(Fault("POST", status=500))
    response = as_role("cs_maintenance").send("post", AGORA, ban_body(project, time=10))
    assert response.status_code == 400
    assert message(response).startswith("Could not apply the rule (UID 1001 in room-42 may not join).")
    assert "fault" not in message(response)  # the upstream's own words are never shown
    assert not KickingRule.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="kicking.").exists()


def test_a_double_submit_makes_one_rule(upstream, project, as_role):
    support = as_role("cs_maintenance")
    first = support.send("post", AGORA, ban_body(project, time=10)).json()
    second = support.send("post", AGORA, ban_body(project, time=10)).json()
    assert first == second and KickingRule.objects.count() == 1
    assert upstream.methods() == ["POST"]


@pytest.mark.parametrize(
    ("role", "get", "change"),
    [
        ("admin", 200, 200),
        ("engineer", 200, 200),
        ("cs_maintenance", 200, 200),
        ("product_operation", 200, 403),
        ("finance", 403, 403),
    ],
)
def test_permissions(upstream, rule, as_role, role, get, change):
    caller, app_id = as_role(role), rule.project.app_id
    assert caller.get(AGORA, {"appid": app_id}).status_code == get
    statuses = [
        caller.send("put", AGORA, {"appid": app_id, "id": rule.pk, "time": 20}).status_code,
        caller.send("post", AGORA, ban_body(rule.project, uid=77)).status_code,
        caller.send("delete", AGORA, {"appid": app_id, "id": rule.pk}).status_code,
    ]
    assert statuses == [change] * 3
    assert KickingRule.objects.filter(pk=rule.pk).exists() == (change != 200)
    if change == 403:
        assert not upstream.seen


def test_anonymous_callers_are_401(upstream, client, project):
    assert client.get(AGORA, {"appid": project.app_id}).status_code == 401
    assert client.post(AGORA, ban_body(project), content_type="application/json").status_code == 401


# The native API ------------------------------------------------------------------------------------------


def rules_url(project) -> str:
    return reverse("api_kicking_rules", args=[project.project_id])


def test_native_create_list_extend_remove(upstream, project, as_role):
    support = as_role("cs_maintenance")
    created = support.send("post", rules_url(project), {"channel_name": "room-42", "privileges": ["publish_audio"]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["who"] == "everyone in room-42" and body["what"] == "may not publish audio"
    assert body["in_force"] is True and body["upstream_id"] == 1953 and body["uid"] is None
    assert upstream.seen[0].body == {
        "appid": project.app_id,
        "cname": "room-42",
        "privileges": ["publish_audio"],
        "time": 60,
    }
    listed = as_role("product_operation").get(rules_url(project))
    assert [rule["id"] for rule in listed.json()] == [body["id"]]
    one = reverse("api_kicking_rule", args=[project.project_id, body["id"]])
    assert as_role("product_operation").get(one).json()["id"] == body["id"]

    patched = support.send("patch", one, {"seconds": 90_000})
    assert patched.status_code == 200, patched.content
    assert upstream.seen[-1].body["time_in_seconds"] == 86_430
    assert as_role("product_operation").send("patch", one, {"seconds": 60}).status_code == 403
    assert support.send("delete", one).status_code == 204
    assert support.get(rules_url(project)).json() == []
    assert support.get(one).status_code == 404


def test_native_one_shot_and_bad_input(upstream, project, as_role):
    support = as_role("engineer")
    kicked = support.send(
        "post", rules_url(project), {"channel_name": "r", "uid": 5, "privileges": ["join_channel"], "seconds": 0}
    )
    assert (kicked.status_code, kicked.json()) == (200, {"one_shot": True})
    assert not KickingRule.objects.exists()
    bad = [
        {"uid": 0, "privileges": ["join_channel"]},
        {"uid": "5", "privileges": ["join_channel"]},
        {"uid": 5, "privileges": ["join_channel"], "seconds": 1.5},
        {"uid": 5, "privileges": ["join_channel"], "seconds": True},
        {"uid": 5, "privileges": ["nope"]},
        {"privileges": ["join_channel"]},
        {"channel_name": "a\tb", "privileges": ["join_channel"]},
        {"ip": "1.2.3", "privileges": ["join_channel"]},
    ]
    for body in bad:
        response = support.send("post", rules_url(project), body)
        assert response.status_code == 400, (body, response.content)
        message(response)
    assert upstream.methods() == ["POST"]  # only the one-shot kick


def test_native_scope_and_huge_ids(upstream, rule, as_role, acme):
    other_project = reverse("api_kicking_rule", args=[acme.projects[1].project_id, rule.pk])
    assert as_role("admin").send("delete", other_project).status_code == 404  # the rule is another project's
    huge = f"{rules_url(rule.project)}{10**30}/"
    assert as_role("admin").send("delete", huge).status_code == 404
    assert as_role("finance").get(rules_url(rule.project)).status_code == 403
    assert KickingRule.objects.filter(pk=rule.pk).exists() and not upstream.seen

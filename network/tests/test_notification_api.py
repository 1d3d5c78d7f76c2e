"""The native API for a project's notification settings: GET|PATCH /api/v1/projects/{project_id}/notifications/."""

import json

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from accounts.services import create_role
from console.tests.api_helpers import Api, basic_auth, message
from network import ncs, services
from network.models import NotificationSettings
from network.tests.test_webhook import deliver, notice

ALL_TYPES = sorted(ncs.EVENT_NAMES)


@pytest.fixture
def project(acme):
    return acme.projects[0]


def url(project) -> str:
    return reverse("api_project_notifications", args=[project.project_id])


def api(client, acme, who: str) -> Api:
    return Api(client, acme.membership(who))


def entries(project, action: str) -> int:
    return AuditEntry.objects.filter(project=project, action=action).count()


def test_a_project_that_never_enabled_notifications_answers_enabled_false_and_no_secret(client, acme, project):
    answer = api(client, acme, "engineer").get(url(project))
    assert answer.status_code == 200
    assert answer.json() == {
        "receiving_url": f"http://testserver/webhooks/agora/{project.project_id}/",
        "enabled": False,
        "event_types": ALL_TYPES,
        "retention_days": 7,
        "updated_at": None,
        "secret": None,
    }
    assert not NotificationSettings.objects.exists()
    assert entries(project, "notifications.secret_revealed") == 0


@pytest.mark.parametrize("who", ["admin", "engineer"])
def test_roles_that_view_certificates_get_the_secret_and_each_answer_is_audited(who, client, acme, project, settings):
    settings.SITE_URL = "https://console.example.com"
    receiving = services.enable(None, project)
    answer = api(client, acme, who).get(url(project))
    body = answer.json()
    assert body["secret"] == receiving.secret and body["enabled"] is True
    assert body["receiving_url"] == f"https://console.example.com/webhooks/agora/{project.project_id}/"
    assert answer["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.get(project=project, action="notifications.secret_revealed")
    assert entry.details == {"door": "api"} and entry.actor == acme.users[who]


@pytest.mark.parametrize("who", ["product_operation", "cs_maintenance"])
def test_other_channel_roles_read_the_settings_with_a_null_secret(who, client, acme, project):
    receiving = services.enable(None, project)
    answer = api(client, acme, who).get(url(project))
    assert answer.status_code == 200
    assert answer.json()["secret"] is None
    assert receiving.secret not in answer.content.decode()
    assert entries(project, "notifications.secret_revealed") == 0


def test_finance_is_refused(client, acme, project):
    services.enable(None, project)
    answer = api(client, acme, "finance").get(url(project))
    assert answer.status_code == 403 and "channels" in message(answer)


def test_other_organizations_and_out_of_scope_projects_are_404(client, acme, globex, project):
    receiving = services.enable(None, project)
    outsider = api(client, globex, "admin")
    assert outsider.get(url(project)).status_code == 404
    assert outsider.patch(url(project), {"rotate_secret": True}).status_code == 404
    scoped = create_role(
        acme.membership("admin"),
        name="Other project",
        levels={"channels": "manage", "certificates": "view"},
        all_projects=False,
        projects=[acme.projects[1]],
    )
    acme.users["engineer"].memberships.update(role=scoped)
    engineer = api(client, acme, "engineer")
    assert engineer.get(url(project)).status_code == 404
    assert engineer.patch(url(project), {"enabled": False}).status_code == 404
    assert engineer.get(url(acme.projects[1])).status_code == 200
    assert NotificationSettings.objects.get(pk=receiving.pk).secret == receiving.secret
    assert NotificationSettings.objects.get(pk=receiving.pk).enabled


def test_anonymous_callers_get_401(client, project):
    assert client.get(url(project)).status_code == 401


def test_an_engineer_enables_and_configures_in_one_patch(client, acme, project):
    answer = api(client, acme, "engineer").patch(
        url(project), {"enabled": True, "event_types": [104, 103, 111, 112], "retention_days": 14}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["enabled"], body["event_types"], body["retention_days"]) == (True, [103, 104, 111, 112], 14)
    saved = NotificationSettings.objects.get(project=project)
    assert body["secret"] == saved.secret and body["updated_at"]
    assert entries(project, "notifications.enabled") == 1
    assert entries(project, "notifications.updated") == 1


def test_cs_maintenance_manages_without_ever_getting_the_secret(client, acme, project):
    support = api(client, acme, "cs_maintenance")
    enabled = support.patch(url(project), {"enabled": True})
    rotated = support.patch(url(project), {"rotate_secret": True})
    assert enabled.json()["secret"] is None and rotated.json()["secret"] is None
    assert entries(project, "notifications.secret_rotated") == 1
    assert NotificationSettings.objects.get(project=project).secret not in rotated.content.decode()


def test_rotating_answers_the_new_secret_and_the_old_one_stops_verifying(client, acme, project):
    receiving = services.enable(None, project)
    answer = api(client, acme, "engineer").patch(url(project), {"rotate_secret": True})
    new = NotificationSettings.objects.get(pk=receiving.pk)
    assert answer.json()["secret"] == new.secret != receiving.secret
    assert entries(project, "notifications.secret_rotated") == 1
    client.logout()
    assert deliver(client, receiving, notice("n1", ncs.BROADCASTER_JOINED, seq=1)).status_code == 401
    assert deliver(client, new, notice("n1", ncs.BROADCASTER_JOINED, seq=1)).status_code == 200


def test_disabling_makes_the_receiver_answer_404_and_enabling_keeps_the_secret(client, acme, project):
    receiving = services.enable(None, project)
    engineer = api(client, acme, "engineer")
    assert engineer.patch(url(project), {"enabled": False}).json()["enabled"] is False
    assert deliver(client, receiving, notice("n1", ncs.BROADCASTER_JOINED, seq=1)).status_code == 404
    assert engineer.patch(url(project), {"enabled": True}).json()["secret"] == receiving.secret
    assert entries(project, "notifications.disabled") == entries(project, "notifications.enabled") - 1 == 1


def test_the_same_patch_twice_changes_and_audits_once(client, acme, project):
    services.enable(None, project)
    engineer = api(client, acme, "engineer")
    for _ in range(2):
        assert engineer.patch(url(project), {"retention_days": 3, "event_types": [103]}).status_code == 200
    assert entries(project, "notifications.updated") == 1


def test_only_the_fields_given_change(client, acme, project):
    services.enable(None, project)
    services.update(None, project, event_types=[103, 104], retention_days=5)
    answer = api(client, acme, "engineer").patch(url(project), {"retention_days": 9})
    assert (answer.json()["event_types"], answer.json()["retention_days"]) == ([103, 104], 9)


@pytest.mark.parametrize("who", ["finance", "product_operation"])
def test_roles_without_channels_manage_change_nothing(who, client, acme, project):
    receiving = services.enable(None, project)
    for body in ({"enabled": False}, {"rotate_secret": True}, {"retention_days": 3}):
        answer = api(client, acme, who).patch(url(project), body)
        assert answer.status_code == 403 and message(answer)
    after = NotificationSettings.objects.get(pk=receiving.pk)
    assert (after.enabled, after.secret, after.retention_days) == (True, receiving.secret, 7)


BAD_BODIES = [
    {"retention_days": 0},
    {"retention_days": 31},
    {"retention_days": "a week"},
    {"retention_days": 7.5},
    {"event_types": [999]},
    {"event_types": []},
    {"event_types": "103"},
    {"event_types": ["103\n"]},
    {"event_types": ["10\u00003"]},
    {"event_types": [103] * 100},
    {"enabled": "perhaps"},
    {"rotate_secret": [True]},
    {"secret": "my-own-secret"},
    {"retention_days": 3, "webhook_url": "https://evil.example/"},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_input_is_400_with_a_message_and_changes_nothing(body, client, acme, project):
    receiving = services.enable(None, project)
    answer = api(client, acme, "engineer").patch(url(project), body)
    assert answer.status_code == 400, answer.content
    assert message(answer)
    after = NotificationSettings.objects.get(pk=receiving.pk)
    assert (after.secret, after.event_types, after.retention_days) == (receiving.secret, ALL_TYPES, 7)
    assert entries(project, "notifications.updated") == 0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"[1, 2]", 400),
        (b'{"retention_days": ', 400),
        (b'"text"', 400),
        (json.dumps({"retention_days": 3, "pad": "x" * (2 * 1024 * 1024)}).encode(), 413),
    ],
)
def test_malformed_or_oversized_bodies_are_refused(raw, status, client, acme, project):
    services.enable(None, project)
    answer = client.patch(url(project), raw, content_type="application/json", **basic_auth(acme.membership("engineer")))
    assert answer.status_code == status
    assert message(answer)
    assert NotificationSettings.objects.get(project=project).retention_days == 7


def test_settings_need_notifications_enabled_once(client, acme, project):
    engineer = api(client, acme, "engineer")
    for body in ({"retention_days": 3}, {"rotate_secret": True}, {"enabled": True, "retention_days": 0}):
        answer = engineer.patch(url(project), body)
        assert answer.status_code == 400 and message(answer)
    assert not NotificationSettings.objects.exists()  # the refused PATCH enabled nothing either
    assert engineer.patch(url(project), {"enabled": False}).json()["enabled"] is False  # nothing to disable
    assert not NotificationSettings.objects.exists()


def test_a_refusal_late_in_a_patch_undoes_what_came_before(client, acme, project):
    """One PATCH is one transaction: a service that refuses its step (here the update, over a retention set past
    the rule by hand) undoes the enable that came before it."""
    receiving = services.enable(None, project)
    services.disable(None, project)
    NotificationSettings.objects.filter(pk=receiving.pk).update(retention_days=99)  # past the rule, by hand
    answer = api(client, acme, "engineer").patch(url(project), {"enabled": True, "event_types": [103]})
    assert answer.status_code == 400 and "days" in message(answer)
    after = NotificationSettings.objects.get(pk=receiving.pk)
    assert not after.enabled and after.event_types == ALL_TYPES
    assert entries(project, "notifications.enabled") == 1  # the fixture's only


def test_the_schema_documents_the_endpoint_under_channels_and_calls(client):
    schema = client.get("/api/schema/?format=json").json()
    operations = schema["paths"]["/api/v1/projects/{project_id}/notifications/"]
    assert set(operations) >= {"get", "patch"}
    assert all(op["tags"] == ["Channels and calls"] for name, op in operations.items() if name in ("get", "patch"))
    assert "secret" in schema["components"]["schemas"]["NotificationSettings"]["properties"]

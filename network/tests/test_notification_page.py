"""A project's Notifications tab: who sees what (the secret only for roles that may view App Certificates, and
only after an audited reveal), who changes what (channels "manage"), the project scope, bad input, and the
Check against a real HTTP server."""

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from accounts.services import create_role
from network import ncs, services
from network.check import NOTICE_PREFIX
from network.models import Call, ChannelUser, NotificationSettings, ReceivedNotice
from network.tests.test_webhook import deliver, notice

ROLES_THAT_READ = ("admin", "product_operation", "cs_maintenance", "engineer")
MANAGERS = ("admin", "cs_maintenance", "engineer")
SECRET_VIEWERS = ("admin", "engineer")


@pytest.fixture
def project(acme):
    return acme.projects[0]


@pytest.fixture
def receiving(acme, project):
    return services.enable(None, project)


def url(project, action: str = "") -> str:
    name = f"channels:notifications_{action}" if action else "channels:notifications"
    return reverse(name, args=[project.project_id])


def entries(project, action: str) -> int:
    return AuditEntry.objects.filter(project=project, action=action).count()


def page(client_for, acme, who: str, project) -> str:
    response = client_for(acme.users[who]).get(url(project))
    assert response.status_code == 200
    return response.content.decode()


# Reading --------------------------------------------------------------------------------------------------


def test_finance_cannot_open_the_tab(client_for, acme, project):
    assert client_for(acme.users["finance"]).get(url(project)).status_code == 403


def test_another_organizations_member_gets_404(client_for, globex, project, receiving):
    client = client_for(globex.users["admin"])
    assert client.get(url(project)).status_code == 404
    assert client.post(url(project, "reveal")).status_code == 404
    assert client.post(url(project, "check")).status_code == 404
    assert client.post(url(project, "rotate")).status_code == 404
    assert NotificationSettings.objects.get(pk=receiving.pk).secret == receiving.secret


def test_a_project_outside_the_roles_scope_is_404(client_for, acme, project, receiving):
    scoped = create_role(
        acme.membership("admin"),
        name="Second project only",
        levels={"channels": "manage", "certificates": "view"},
        all_projects=False,
        projects=[acme.projects[1]],
    )
    acme.users["engineer"].memberships.update(role=scoped)
    client = client_for(acme.users["engineer"])
    assert client.get(url(project)).status_code == 404
    assert client.post(url(project, "reveal")).status_code == 404
    assert client.post(url(project, "disable")).status_code == 404
    assert client.get(url(acme.projects[1])).status_code == 200
    assert entries(project, "notifications.secret_revealed") == 0


def test_the_empty_state_explains_and_offers_to_enable_to_managers_only(client_for, acme, project):
    for who in ROLES_THAT_READ:
        html = page(client_for, acme, who, project)
        assert "Receive Agora's notifications" in html
        assert ("Enable notifications" in html) == (who in MANAGERS), who


def test_the_receiving_url_is_absolute_on_this_host_or_site_url(client_for, acme, project, receiving, settings):
    path = f"/webhooks/agora/{project.project_id}/"
    assert f"http://testserver{path}" in page(client_for, acme, "product_operation", project)
    settings.SITE_URL = "https://console.example.com"
    html = page(client_for, acme, "product_operation", project)
    assert f"https://console.example.com{path}" in html
    assert 'data-copy="https://console.example.com' in html  # the copy button


@pytest.mark.parametrize("who", ROLES_THAT_READ)
def test_the_secret_is_never_in_the_page_before_a_reveal(who, client_for, acme, project, receiving):
    html = page(client_for, acme, who, project)
    assert receiving.secret not in html
    assert ("Reveal" in html) == (who in SECRET_VIEWERS)
    if who not in SECRET_VIEWERS:
        assert "cannot see the secret" in html


def test_product_operation_reads_everything_but_sees_no_change_button(client_for, acme, project, receiving):
    html = page(client_for, acme, "product_operation", project)
    assert "Enabled" in html and "105 Audience joined" in html and "7 days" in html
    for control in ("Disable…", "Generate a new secret…", ">Check</button>", ">Save</button>", "Reveal"):
        assert control not in html


def test_cs_maintenance_manages_without_seeing_the_secret(client_for, acme, project, receiving):
    html = page(client_for, acme, "cs_maintenance", project)
    assert receiving.secret not in html
    assert "Disable…" in html and "Generate a new secret…" in html and ">Check</button>" in html
    assert client_for(acme.users["cs_maintenance"]).post(url(project, "reveal")).status_code == 403
    assert entries(project, "notifications.secret_revealed") == 0


def test_the_last_notifications_received_are_listed_newest_first(client, client_for, acme, project, receiving):
    for number in range(25):
        deliver(client, receiving, notice(f"n{number}", ncs.BROADCASTER_JOINED, uid=number + 1, seq=number + 1))
    deliver(client, receiving, notice("n24", ncs.BROADCASTER_JOINED, uid=25, seq=25))  # delivered again
    html = page(client_for, acme, "product_operation", project)
    rows = html.split('id="recent-notices"')[1].split("</table>")[0].count("<tr>") - 1
    assert rows == 20
    newest = html.index("room-42")
    assert "103 Host joined" in html and "Applied" in html
    assert html.index(">25<", newest) < html.index(">6<", newest)  # UID 25 (newest) before UID 6
    assert ReceivedNotice.objects.get(project=project, notice_id="n24").deliveries == 2


# Reveal -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", SECRET_VIEWERS)
def test_a_reveal_shows_the_secret_once_with_a_copy_button_and_is_audited(who, client_for, acme, project, receiving):
    response = client_for(acme.users[who]).post(url(project, "reveal"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-copy="{receiving.secret}"' in html
    assert response["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.get(project=project, action="notifications.secret_revealed")
    assert receiving.secret not in str(entry.details)
    assert receiving.secret not in page(client_for, acme, who, project)  # the next visit: masked again


@pytest.mark.parametrize("who", ["finance", "product_operation", "cs_maintenance"])
def test_roles_without_certificates_view_cannot_reveal(who, client_for, acme, project, receiving):
    response = client_for(acme.users[who]).post(url(project, "reveal"))
    assert response.status_code == 403
    assert receiving.secret not in response.content.decode()


def test_revealing_before_enabling_says_so(client_for, acme, project):
    response = client_for(acme.users["engineer"]).post(url(project, "reveal"), follow=True)
    assert "does not receive notifications" in response.content.decode()


# Enable, disable, rotate ------------------------------------------------------------------------------------


def test_an_engineer_enables_notifications_once_however_often_the_button_is_pressed(client_for, acme, project):
    client = client_for(acme.users["engineer"])
    first = client.post(url(project, "enable"))
    second = client.post(url(project, "enable"))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == url(project)
    receiving = NotificationSettings.objects.get(project=project)
    assert receiving.enabled and receiving.event_types == sorted(ncs.EVENT_NAMES)
    assert entries(project, "notifications.enabled") == 1
    entry = AuditEntry.objects.get(project=project, action="notifications.enabled")
    assert entry.actor == acme.users["engineer"]


@pytest.mark.parametrize("who", ["finance", "product_operation"])
def test_roles_that_do_not_manage_channels_change_nothing(who, client_for, acme, project):
    client = client_for(acme.users[who])
    assert client.post(url(project, "enable")).status_code == 403
    assert not NotificationSettings.objects.filter(project=project).exists()
    receiving = services.enable(None, project)
    for action in ("disable", "rotate", "check"):
        assert client.post(url(project, action)).status_code == 403, action
    assert client.post(url(project), {"event_types": ["103"], "retention_days": "3"}).status_code == 403
    assert client.get(url(project, "disable")).status_code == 403
    after = NotificationSettings.objects.get(project=project)
    assert (after.enabled, after.secret, after.event_types, after.retention_days) == (
        True,
        receiving.secret,
        receiving.event_types,
        7,
    )


def test_disabling_asks_first_then_the_webhook_answers_404(client, client_for, acme, project, receiving):
    manager = client_for(acme.users["cs_maintenance"])
    question = manager.get(url(project, "disable"))
    assert question.status_code == 200
    assert "Stop receiving notifications" in question.content.decode()
    assert NotificationSettings.objects.get(pk=receiving.pk).enabled  # asking changed nothing
    assert manager.post(url(project, "disable")).status_code == 302
    assert not NotificationSettings.objects.get(pk=receiving.pk).enabled
    assert entries(project, "notifications.disabled") == 1
    client.logout()
    assert deliver(client, receiving, notice("n1", ncs.BROADCASTER_JOINED, seq=1)).status_code == 404
    html = page(client_for, acme, "engineer", project)
    assert "Notifications are disabled" in html and "Enable notifications" in html


def test_rotating_asks_first_and_the_old_secret_stops_verifying(client, client_for, acme, project, receiving):
    manager = client_for(acme.users["engineer"])
    assert "Generate a new notification secret" in manager.get(url(project, "rotate")).content.decode()
    assert NotificationSettings.objects.get(pk=receiving.pk).secret == receiving.secret
    response = manager.post(url(project, "rotate"), follow=True)
    assert "A new secret was generated" in response.content.decode()
    rotated = NotificationSettings.objects.get(pk=receiving.pk)
    assert rotated.secret != receiving.secret
    assert receiving.secret not in response.content.decode() and rotated.secret not in response.content.decode()
    assert entries(project, "notifications.secret_rotated") == 1
    client.logout()
    assert deliver(client, receiving, notice("n1", ncs.BROADCASTER_JOINED, seq=1)).status_code == 401
    assert deliver(client, rotated, notice("n1", ncs.BROADCASTER_JOINED, seq=1)).status_code == 200


def test_rotating_before_enabling_is_refused_with_a_message(client_for, acme, project):
    response = client_for(acme.users["engineer"]).post(url(project, "rotate"), follow=True)
    assert "enable them first" in response.content.decode()
    assert not NotificationSettings.objects.filter(project=project).exists()


# The settings form ------------------------------------------------------------------------------------------


def test_saving_event_types_and_retention_is_audited_once_for_a_double_submit(client_for, acme, project, receiving):
    client = client_for(acme.users["engineer"])
    data = {"event_types": ["104", "103", "111"], "retention_days": "3"}
    first, second = client.post(url(project), data), client.post(url(project), data)
    assert first.status_code == second.status_code == 302
    saved = NotificationSettings.objects.get(pk=receiving.pk)
    assert (saved.event_types, saved.retention_days) == ([103, 104, 111], 3)
    entry = AuditEntry.objects.get(project=project, action="notifications.updated")
    assert entry.details["retention_days"] == {"from": 7, "to": 3}
    assert entry.details["event_types"]["to"] == [103, 104, 111]
    html = page(client_for, acme, "engineer", project)
    assert "Tick the event types ticked here: 103, 104, 111." in html


BAD = [
    ({"event_types": ["103"], "retention_days": "0"}, "retention_days"),
    ({"event_types": ["103"], "retention_days": "31"}, "retention_days"),
    ({"event_types": ["103"], "retention_days": "7\n"}, None),  # Django reads it as 7: not refused, not a 500
    ({"event_types": ["103"], "retention_days": "seven"}, "retention_days"),
    ({"event_types": ["103"], "retention_days": "\x00"}, "retention_days"),
    ({"event_types": ["999"], "retention_days": "7"}, "event_types"),
    ({"event_types": ["103\r\n"], "retention_days": "7"}, "event_types"),
    ({"event_types": ["10\x003"], "retention_days": "7"}, "event_types"),
    ({"event_types": [], "retention_days": "7"}, "event_types"),
    ({"event_types": ["x" * (2 * 1024 * 1024)], "retention_days": "7"}, "event_types"),
    ({"retention_days": "7"}, "event_types"),
]


@pytest.mark.parametrize(("data", "field"), BAD)
def test_bad_input_is_refused_with_a_field_error_and_changes_nothing(data, field, client_for, acme, project, receiving):
    client = client_for(acme.users["engineer"])
    before = NotificationSettings.objects.values("event_types", "retention_days").get(pk=receiving.pk)
    response = client.post(url(project), data)
    assert response.status_code in (200, 302)
    if field is None:
        return
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors
    assert NotificationSettings.objects.values("event_types", "retention_days").get(pk=receiving.pk) == before
    assert entries(project, "notifications.updated") == 0
    assert "x" * 1000 not in response.content.decode()


def test_saving_before_enabling_says_to_enable_first(client_for, acme, project):
    data = {"event_types": ["103"], "retention_days": "3"}
    response = client_for(acme.users["engineer"]).post(url(project), data, follow=True)
    assert response.redirect_chain == [(url(project), 302)]
    assert "enable them first" in response.content.decode()
    assert not NotificationSettings.objects.filter(project=project).exists()


def test_the_service_refuses_what_the_form_would(project, receiving):
    from console.refusals import RuleViolation

    bad = (([], 7), ([103, True], 7), (["103"], 7), ([[103]], 7), ("103", 7), ([103], 0), ([103], 31), ([103], True))
    for event_types, days in bad:
        with pytest.raises(RuleViolation):
            services.update(None, project, event_types=event_types, retention_days=days)
    services.update(None, project, event_types=[112, 103, 103], retention_days=30)
    assert NotificationSettings.objects.values_list("event_types", "retention_days").get() == ([103, 112], 30)


# Check ------------------------------------------------------------------------------------------------------


def test_check_sends_signed_test_notifications_over_http_and_keeps_presence_clean(
    live_server, client_for, acme, project, receiving, settings
):
    settings.SITE_URL = live_server.url
    services.update(None, project, event_types=[101, 103, 104, 105, 111], retention_days=7)
    response = client_for(acme.users["engineer"]).post(url(project, "check"))
    assert response.status_code == 200
    results = response.context["results"]
    assert [(r.event_type, r.ok, r.status) for r in results] == [
        (101, True, 200),
        (103, True, 200),
        (104, True, 200),
        (105, True, 200),
        (111, True, 200),
    ]
    html = response.content.decode()
    assert html.count('<span class="good">OK</span>') == 5
    received = ReceivedNotice.objects.filter(project=project)
    assert received.count() == 5
    assert all(n.notice_id.startswith(NOTICE_PREFIX) for n in received)
    assert set(received.values_list("outcome", flat=True)) == {ReceivedNotice.Outcome.RECORDED}
    assert set(received.values_list("channel_name", "uid").exclude(event_type=101)) == {
        (ncs.TEST_CHANNEL, ncs.TEST_UID)
    }
    assert not ChannelUser.objects.filter(project=project).exists()
    assert not Call.objects.filter(project=project).exists()
    entry = AuditEntry.objects.get(project=project, action="notifications.checked")
    assert entry.details == {"passed": 5, "events": 5}
    assert receiving.secret not in html


def test_check_reports_what_the_receiver_answered(live_server, client_for, acme, project, receiving, settings):
    """A SITE_URL that leads nowhere on the console: the check shows the 404 it got, as Agora's console would."""
    settings.SITE_URL = f"{live_server.url}/nowhere"
    services.update(None, project, event_types=[103, 104], retention_days=7)
    response = client_for(acme.users["engineer"]).post(url(project, "check"))
    assert response.status_code == 200
    assert [(r.ok, r.status) for r in response.context["results"]] == [(False, 404), (False, 404)]
    assert 'class="bad">Failed' in response.content.decode()
    assert entries(project, "notifications.checked") == 1
    assert not ReceivedNotice.objects.filter(project=project).exists()


def test_check_needs_notifications_enabled(client_for, acme, project, receiving):
    services.disable(None, project)
    response = client_for(acme.users["engineer"]).post(url(project, "check"), follow=True)
    assert "Enable notifications before checking them" in response.content.decode()
    assert entries(project, "notifications.checked") == 0

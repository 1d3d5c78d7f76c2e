"""Kick, ban, mute, extend and lift from the live channels pages, against an upstream over real HTTP."""

import pytest

from accounts.models import AuditEntry
from network.models import KickingRule

from . import kicking_upstream
from .kicking_upstream import Fault

upstream = kicking_upstream.upstream  # the fixture


@pytest.fixture
def project(acme):
    return acme.projects[0]


@pytest.fixture
def support(acme, client_for):
    return client_for(acme.users["cs_maintenance"])


def base(project) -> str:
    return f"/projects/{project.project_id}"


def test_a_kick_asks_first_then_removes_the_uid_once(upstream, project, support):
    url = f"{base(project)}/channels/room-42/kick/1001/"
    assert "Remove UID 1001 from room-42?" in support.get(url).content.decode()
    response = support.post(url, follow=True)
    assert "UID 1001 was removed from room-42." in response.content.decode()
    [post] = upstream.seen
    assert post.body["cname"] == "room-42" and post.body["uid"] == 1001 and post.body["time"] == 0
    assert not KickingRule.objects.exists()
    assert AuditEntry.objects.filter(action="kicking.kicked", actor_email="cs_maintenance@acme.test").exists()


def ban(client, project, **fields):
    data = {"scope": "user_in_channel", "channel_name": "room-42", "uid": "1001", "action": "ban", "minutes": "30"}
    return client.post(f"{base(project)}/rules/new/?channel_name=room-42", {**data, **fields})


def test_a_ban_from_the_form_is_kept_and_listed(upstream, project, support):
    form = support.get(f"{base(project)}/rules/new/?scope=user_in_channel&channel_name=room-42&uid=1001&action=ban")
    assert 'value="1001"' in form.content.decode()
    response = ban(support, project)
    assert response.status_code == 302 and response["Location"] == f"{base(project)}/channels/room-42/"
    rule = KickingRule.objects.get()
    assert (rule.channel_name, rule.uid, rule.privileges) == ("room-42", 1001, ["join_channel"])
    assert upstream.seen[0].body["time"] == 30
    page = support.get(f"{base(project)}/channels/").content.decode()
    assert "UID 1001 in room-42" in page and "may not join" in page


def test_a_mute_of_a_uid_everywhere(upstream, project, support):
    ban(support, project, scope="user", action="mute", channel_name="ignored")
    rule = KickingRule.objects.get()
    assert rule.channel_name == "" and sorted(rule.privileges) == ["publish_audio", "publish_video"]
    assert rule.who == "UID 1001 in every channel"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"uid": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"uid": ""}, "Give the UID"),
        ({"scope": "ip", "ip": "not an address"}, "Enter a valid IPv4 or IPv6 address."),
        ({"channel_name": "room\x01"}, "control characters"),
        ({"channel_name": "x" * 65}, "at most 64"),
        ({"minutes": "1441"}, "less than or equal to 1440"),
    ],
)
def test_bad_input_shows_field_errors_and_asks_nothing(upstream, project, support, fields, error):
    response = ban(support, project, **fields)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not upstream.seen and not KickingRule.objects.exists()


def test_an_upstream_refusal_is_shown_on_the_form_and_nothing_is_kept(upstream, project, support):
    upstream.faults.append(Fault("POST", status=500))
    response = ban(support, project)
    assert response.status_code == 200
    assert "form-errors" in response.content.decode()
    assert not KickingRule.objects.exists()


def test_extend_and_lift_a_rule(upstream, project, support):
    ban(support, project)
    rule = KickingRule.objects.get()
    response = support.post(f"{base(project)}/rules/{rule.pk}/extend/", {"minutes": "120"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert upstream.seen[-1].method == "PUT"
    lift = f"{base(project)}/rules/{rule.pk}/lift/"
    assert "Lift the rule on UID 1001 in room-42?" in support.get(lift).content.decode()
    assert support.post(lift).status_code == 302
    assert upstream.seen[-1].method == "DELETE" and not KickingRule.objects.exists()
    assert support.get(lift).status_code == 404


def test_viewers_cannot_kick_or_ban(upstream, project, acme, client_for):
    viewer = client_for(acme.users["product_operation"])
    assert viewer.post(f"{base(project)}/channels/room-42/kick/1001/").status_code == 403
    assert ban(viewer, project).status_code == 403
    assert not upstream.seen


def test_another_organizations_rule_is_404(upstream, project, support, globex, acme, client_for):
    ban(support, project)
    rule = KickingRule.objects.get()
    outsider = client_for(globex.users["admin"])
    assert outsider.post(f"{base(project)}/rules/{rule.pk}/lift/").status_code == 404
    assert outsider.post(f"{base(globex.projects[0])}/rules/{rule.pk}/lift/").status_code == 404
    assert KickingRule.objects.exists()


@pytest.mark.parametrize("name", ["a/b", "/", ""])
def test_a_channel_name_no_page_can_have_leads_back_to_the_list(upstream, project, support, name):
    response = support.get(f"{base(project)}/rules/new/", {"channel_name": name})
    assert response.status_code == 200
    assert f'<a class="button" href="{base(project)}/channels/">Cancel</a>' in response.content.decode()

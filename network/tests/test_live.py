"""Live channels: the page of who is online in a project's channels, and Agora's /dev/v1/channel queries over
the same state."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.api_credentials import create_credential
from accounts.services import create_role
from network import live, ncs
from network.models import ChannelUser, ReceivedNotice

NOW = timezone.now()


def online(project, channel, uid, role=ncs.HOST, *, is_online=True, platform=7, minutes_ago=5):
    return ChannelUser.objects.create(
        project=project,
        channel_name=channel,
        uid=uid,
        role=role,
        online=is_online,
        last_client_seq=uid,
        platform=platform,
        joined_at=NOW - timedelta(minutes=minutes_ago),
        updated_at=NOW,
    )


@pytest.fixture
def busy(acme):
    """Acme's first project: room-1 with 2 hosts and 3 audience, lobby with 1 communication user, and one user
    who left room-1; Acme's second project has a channel too."""
    project = acme.projects[0]
    online(project, "room-1", 1, ncs.HOST)
    online(project, "room-1", 2, ncs.HOST)
    for uid in (10, 11, 12):
        online(project, "room-1", uid, ncs.AUDIENCE)
    online(project, "room-1", 99, ncs.AUDIENCE, is_online=False)
    online(project, "lobby", 7, ncs.COMMUNICATION, platform=1)
    online(acme.projects[1], "elsewhere", 5)
    return project


def test_online_channels_count_users_by_role_busiest_first(busy):
    rows = list(live.online_channels(busy))
    assert [(r["channel_name"], r["users"], r["hosts"], r["audience"]) for r in rows] == [
        ("room-1", 5, 2, 3),
        ("lobby", 1, 1, 0),
    ]
    assert live.online_totals(busy) == {"channels": 2, "users": 6}


# The pages -------------------------------------------------------------------------------------------


def live_url(project) -> str:
    return f"/projects/{project.project_id}/channels/"


def test_the_live_page_lists_channels_with_their_counts(busy, acme, client_for):
    response = client_for(acme.users["product_operation"]).get(live_url(busy))
    assert response.status_code == 200
    page = response.content.decode()
    assert "room-1" in page and "lobby" in page and "elsewhere" not in page
    assert "<strong>2</strong> channels and <strong>6</strong> users online" in page
    assert 'data-live-refresh="10"' in page


def test_the_live_page_searches_by_channel_name(busy, acme, client_for):
    page = client_for(acme.users["engineer"]).get(live_url(busy), {"q": "lob"}).content.decode()
    assert "lobby" in page and "room-1" not in page


def test_an_empty_project_says_nobody_is_online(acme, client_for):
    page = client_for(acme.users["engineer"]).get(live_url(acme.projects[0])).content.decode()
    assert "Nobody is in a channel now" in page


def test_finance_may_not_open_live_channels(busy, acme, client_for):
    assert client_for(acme.users["finance"]).get(live_url(busy)).status_code == 403


def test_another_organizations_project_is_404(busy, globex, client_for):
    assert client_for(globex.users["admin"]).get(live_url(busy)).status_code == 404


def test_a_scoped_role_sees_only_its_projects(busy, acme, client_for):
    admin = acme.membership("admin")
    scoped = create_role(
        admin, name="Support one", levels={"channels": "manage"}, all_projects=False, projects=[acme.projects[1]]
    )
    user = acme.users["engineer"]
    user.memberships.update(role=scoped)
    client = client_for(user)
    assert client.get(live_url(busy)).status_code == 404
    assert client.get(live_url(acme.projects[1])).status_code == 200
    index = client.get("/channels/").content.decode()
    assert acme.projects[1].name in index and busy.name not in index


def channel_url(project, channel) -> str:
    return f"/projects/{project.project_id}/channels/{channel}/"


def test_the_channel_page_shows_hosts_audience_and_role_changes(busy, acme, client_for):
    ReceivedNotice.objects.create(
        project=busy,
        notice_id="r1",
        product_id=1,
        event_type=ncs.BECAME_BROADCASTER,
        channel_name="room-1",
        uid=2,
        client_seq=3,
        payload={},
        outcome="applied",
        first_received_at=NOW,
        last_received_at=NOW,
    )
    page = client_for(acme.users["product_operation"]).get(channel_url(busy, "room-1")).content.decode()
    assert 'Hosts <span class="badge">2</span>' in page
    assert 'Audience <span class="badge">3</span>' in page
    assert "became host" in page
    assert "<code>99</code>" not in page  # left
    assert "Kick" not in page  # Product/Operation views only


def test_managers_get_kick_ban_and_mute_buttons(busy, acme, client_for):
    page = client_for(acme.users["cs_maintenance"]).get(channel_url(busy, "room-1")).content.decode()
    assert f"/projects/{busy.project_id}/channels/room-1/kick/10/" in page
    assert "scope=user_in_channel&amp;channel_name=room-1&amp;uid=10&amp;action=ban" in page


def test_a_channel_nobody_is_in_says_so(busy, acme, client_for):
    page = client_for(acme.users["engineer"]).get(channel_url(busy, "no such room")).content.decode()
    assert "Nobody is in this channel now." in page


# Agora's /dev/v1/channel -----------------------------------------------------------------------------


@pytest.fixture
def agora(acme, client):
    credential = create_credential(acme.membership("product_operation"), "presence script")
    pair = f"{credential.credential.customer_id}:{credential.secret}".encode()
    header = {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def get(path, **params):
        return client.get(f"/dev/v1/{path}", params, headers=header)

    return get


def test_the_channel_list_pages_from_zero(busy, agora):
    first = agora(f"channel/{busy.app_id}", page_size=1)
    assert first.status_code == 200
    assert first.json() == {
        "success": True,
        "data": {"channels": [{"channel_name": "room-1", "user_count": 5}], "total_size": 2},
    }
    second = agora(f"channel/{busy.app_id}", page_no=1, page_size=1).json()["data"]
    assert second["channels"] == [{"channel_name": "lobby", "user_count": 1}]
    past = agora(f"channel/{busy.app_id}", page_no=5).json()["data"]
    assert past == {"channels": [], "total_size": 2}


@pytest.mark.parametrize(
    "params", [{"page_size": 0}, {"page_size": 501}, {"page_no": -1}, {"page_no": "x"}, {"page_size": "9" * 40}]
)
def test_bad_paging_is_400(busy, agora, params):
    response = agora(f"channel/{busy.app_id}", **params)
    assert response.status_code == 400
    assert response.json()["message"]


def test_an_unknown_or_foreign_appid_is_invalid(busy, agora, globex):
    for app_id in ("0" * 32, globex.projects[0].app_id, "x\x01y"):
        response = agora(f"channel/{app_id}")
        assert response.status_code == 400
        assert response.json() == {"message": "invalid appid"}


def test_a_live_channel_lists_broadcasters_and_audience(busy, agora):
    data = agora(f"channel/user/{busy.app_id}/room-1").json()["data"]
    assert data == {
        "channel_exist": True,
        "mode": 2,
        "broadcasters": [1, 2],
        "audience": [10, 11, 12],
        "audience_total": 3,
    }
    hosts = agora(f"channel/user/{busy.app_id}/room-1/hosts_only").json()["data"]
    assert hosts == {"channel_exist": True, "mode": 2, "broadcasters": [1, 2]}
    assert agora(f"channel/user/{busy.app_id}/room-1", hosts_only="").json()["data"] == hosts


def test_a_communication_channel_lists_its_users(busy, agora):
    data = agora(f"channel/user/{busy.app_id}/lobby").json()["data"]
    assert data == {"channel_exist": True, "mode": 1, "total": 1, "users": [7]}


def test_an_empty_channel_does_not_exist(busy, agora):
    assert agora(f"channel/user/{busy.app_id}/ghost").json() == {"success": True, "data": {"channel_exist": False}}


def test_one_users_state(busy, agora):
    data = agora(f"channel/user/property/{busy.app_id}/7/lobby").json()["data"]
    assert data == {
        "in_channel": True,
        "uid": 7,
        "join": int((NOW - timedelta(minutes=5)).timestamp()),
        "role": 1,
        "platform": 1,
    }
    assert agora(f"channel/user/property/{busy.app_id}/99/room-1").json()["data"] == {"in_channel": False}
    audience = agora(f"channel/user/property/{busy.app_id}/10/room-1").json()["data"]
    assert audience["role"] == 3


@pytest.mark.parametrize("uid", ["0", "abc", "4294967296", "-1"])
def test_a_bad_uid_is_400(busy, agora, uid):
    response = agora(f"channel/user/property/{busy.app_id}/{uid}/room-1")
    assert response.status_code == 400
    assert "uid" in response.json()["message"]


def test_finance_may_not_query_channels(busy, acme, client):
    credential = create_credential(acme.membership("finance"), "finance script")
    pair = f"{credential.credential.customer_id}:{credential.secret}".encode()
    response = client.get(
        f"/dev/v1/channel/{busy.app_id}", headers={"Authorization": "Basic " + base64.b64encode(pair).decode()}
    )
    assert response.status_code == 403


# The native API -----------------------------------------------------------------------------------------


def test_the_native_api_pages_the_online_channels(busy, acme, client_for):
    client = client_for(acme.users["product_operation"])
    answer = client.get(f"/api/v1/projects/{busy.project_id}/channels/", {"page_size": 1}).json()
    assert answer["total"] == 2 and answer["page"] == 1
    [room] = answer["channels"]
    assert (room["channel_name"], room["users"], room["hosts"], room["audience"]) == ("room-1", 5, 2, 3)
    second = client.get(f"/api/v1/projects/{busy.project_id}/channels/", {"page_size": 1, "page": 2}).json()
    assert [row["channel_name"] for row in second["channels"]] == ["lobby"]
    assert client.get(f"/api/v1/projects/{busy.project_id}/channels/", {"page": 9}).json()["channels"] == []


@pytest.mark.parametrize("params", [{"page": 0}, {"page_size": 501}, {"page": "x"}, {"page_size": "1\x00"}])
def test_bad_pages_are_400(busy, acme, client_for, params):
    response = client_for(acme.users["engineer"]).get(f"/api/v1/projects/{busy.project_id}/channels/", params)
    assert response.status_code == 400 and response.json()["message"]


def test_the_native_api_lists_a_channels_users(busy, acme, client_for):
    client = client_for(acme.users["engineer"])
    users = client.get(f"/api/v1/projects/{busy.project_id}/channels/room-1/").json()["users"]
    assert [(user["uid"], user["role"]) for user in users][:2] == [(1, "Host"), (2, "Host")]
    assert {user["platform"] for user in users} == {"Web"}
    assert client.get(f"/api/v1/projects/{busy.project_id}/channels/ghost/").json()["users"] == []


def test_the_native_api_keeps_to_the_organization(busy, globex, acme, client_for):
    assert client_for(globex.users["admin"]).get(f"/api/v1/projects/{busy.project_id}/channels/").status_code == 404
    assert client_for(acme.users["finance"]).get(f"/api/v1/projects/{busy.project_id}/channels/").status_code == 403

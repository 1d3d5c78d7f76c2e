"""The sandbox's channel, kicking-rule and call analytics APIs: Agora's auth, shapes, paging and limits,
answered from what the sandbox network simulated, consistently (call rates, session rates and metrics)."""

import base64
import random
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from network import ncs, sandbox_network, services
from network.models import ChannelUser, SandboxCall, SandboxRule, SandboxSession
from network.sandbox_network import Client, Courier, Network
from projects.models import Project

NOW = timezone.now().replace(microsecond=0)
WEB = Client(7, "4.20.2", "Mozilla/5.0", "Wi-Fi", "Germany:Berlin", "203.0.113.7")
ANDROID = Client(1, "4.3.1", "Pixel 8 (Android 14)", "4G", "India:Maharashtra", "198.51.100.9")
RECORDER = Client(6, "4.3.1", "Cloud Recording", "LAN", "United States:Virginia", "192.0.2.1", 10)


def basic(org) -> str:
    upstream = org.organization.upstream
    token = base64.b64encode(f"{upstream.customer_id}:{upstream.customer_secret}".encode()).decode()
    return f"Basic {token}"


@pytest.fixture
def project(acme) -> Project:
    return Project.objects.prefetch_related("certificates").get(pk=acme.projects[0].pk)


@pytest.fixture
def api(client, acme):
    """`api(method, path, **params)`: the sandbox with Acme's sandbox credentials; JSON bodies for writes."""

    def call(method, path, body=None, **params):
        headers = {"HTTP_AUTHORIZATION": basic(acme)}
        url = f"/sandbox{path}"
        if method == "get":
            return client.get(url, params, **headers)
        return getattr(client, method)(url, body, content_type="application/json", **headers)

    return call


def join(network, channel, uid, role, *, at=NOW, client=WEB):
    token = network.issue_token(channel, uid, at=at)
    return network.join(channel, uid, token=token, role=role, client=client, at=at)


@pytest.fixture
def live_channel(project):
    """room-live: host 1, audience 2 and 3, a cloud recorder 4; meeting: communication users 10 and 11."""
    network = Network(project, draw=random.Random(3))
    sessions = {
        1: join(network, "room-live", 1, ncs.HOST),
        2: join(network, "room-live", 2, ncs.AUDIENCE, at=NOW + timedelta(seconds=5), client=ANDROID),
        3: join(network, "room-live", 3, ncs.AUDIENCE, at=NOW + timedelta(seconds=6)),
        4: join(network, "room-live", 4, ncs.AUDIENCE, at=NOW + timedelta(seconds=7), client=RECORDER),
        10: join(network, "meeting", 10, ncs.COMMUNICATION),
        11: join(network, "meeting", 11, ncs.COMMUNICATION, at=NOW + timedelta(seconds=1)),
    }
    return sessions


# Authentication and the switch --------------------------------------------------------------------------

PATHS = [
    ("get", "/dev/v1/channel/{app_id}"),
    ("get", "/dev/v1/channel/user/{app_id}/room-live"),
    ("get", "/dev/v1/channel/user/{app_id}/room-live/hosts_only"),
    ("get", "/dev/v1/channel/user/property/{app_id}/1/room-live"),
    ("get", "/dev/v1/kicking-rule"),
    ("post", "/dev/v1/kicking-rule"),
    ("put", "/dev/v1/kicking-rule"),
    ("delete", "/dev/v1/kicking-rule"),
    ("get", "/beta/analytics/call/lists"),
    ("get", "/beta/analytics/call/sessions"),
    ("get", "/beta/analytics/call/metrics"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_every_endpoint_wants_the_sandbox_credentials(client, acme, project, method, path):
    url = "/sandbox" + path.format(app_id=project.app_id)
    wrong = "Basic " + base64.b64encode(f"{acme.organization.upstream.customer_id}:nope".encode()).decode()
    for headers in ({}, {"HTTP_AUTHORIZATION": wrong}, {"HTTP_AUTHORIZATION": "Bearer x"}):
        response = getattr(client, method)(url, **headers)
        assert response.status_code == 401
        assert response.json() == {"message": "Invalid authentication credentials"}


@pytest.mark.parametrize(("method", "path"), PATHS[:4] + PATHS[8:])
def test_the_read_only_endpoints_refuse_writes(api, project, method, path):
    assert api("post", path.format(app_id=project.app_id), {}).status_code == 405


def test_the_sandbox_off_is_404(api, project, settings):
    settings.USAGE_SANDBOX = False
    assert api("get", f"/dev/v1/channel/{project.app_id}").status_code == 404
    assert api("post", "/dev/v1/kicking-rule", {}).status_code == 404


def test_injected_faults_apply_to_the_network_endpoints_too(api, project, settings):
    settings.USAGE_SANDBOX_FAULTS = {"error_rate": 1, "faults": ["500"]}
    assert api("get", f"/dev/v1/channel/{project.app_id}").status_code == 500
    assert api("post", "/dev/v1/kicking-rule", {"appid": project.app_id}).status_code == 500
    assert not SandboxRule.objects.exists()


def test_another_organizations_app_id_is_an_unknown_app_id(api, globex):
    app_id = globex.projects[0].app_id
    for path in (f"/dev/v1/channel/{app_id}", f"/dev/v1/channel/user/{app_id}/x", "/dev/v1/kicking-rule"):
        response = api("get", path, appid=app_id)
        assert (response.status_code, response.json()) == (400, {"message": "invalid appid"})
    response = api("get", "/beta/analytics/call/lists", appid=app_id, start_ts=1, end_ts=2)
    assert (response.status_code, response.json()) == (400, {"code": 400, "message": "invalid appid"})
    response = api("post", "/dev/v1/kicking-rule", {"appid": app_id, "cname": "x", "privileges": ["join_channel"]})
    assert (response.status_code, response.json()) == (400, {"message": "invalid appid"})


# Channels -----------------------------------------------------------------------------------------------


def test_the_channel_list_pages_from_0_busiest_first(api, project, live_channel):
    path = f"/dev/v1/channel/{project.app_id}"
    assert api("get", path).json() == {
        "success": True,
        "data": {
            "channels": [{"channel_name": "room-live", "user_count": 4}, {"channel_name": "meeting", "user_count": 2}],
            "total_size": 2,
        },
    }
    second = api("get", path, page_no=1, page_size=1).json()["data"]
    assert second == {"channels": [{"channel_name": "meeting", "user_count": 2}], "total_size": 2}
    assert api("get", path, page_no=5).json()["data"] == {"channels": [], "total_size": 2}


@pytest.mark.parametrize("params", [{"page_size": 0}, {"page_size": 501}, {"page_no": "x"}, {"page_no": "-1"}])
def test_bad_paging_is_400(api, project, params):
    response = api("get", f"/dev/v1/channel/{project.app_id}", **params)
    assert response.status_code == 400 and response.json()["message"]


def test_users_of_a_live_channel_a_communication_channel_and_an_empty_one(api, project, live_channel):
    base = f"/dev/v1/channel/user/{project.app_id}"
    live = api("get", f"{base}/room-live").json()
    assert live == {
        "success": True,
        "data": {"channel_exist": True, "mode": 2, "broadcasters": [1], "audience": [2, 3, 4], "audience_total": 3},
    }
    hosts = {"success": True, "data": {"channel_exist": True, "mode": 2, "broadcasters": [1]}}
    assert api("get", f"{base}/room-live/hosts_only").json() == hosts
    assert api("get", f"{base}/room-live", hosts_only="").json() == hosts
    meeting = api("get", f"{base}/meeting").json()["data"]
    assert meeting == {"channel_exist": True, "mode": 1, "total": 2, "users": [10, 11]}
    assert api("get", f"{base}/nobody-here").json() == {"success": True, "data": {"channel_exist": False}}


def test_one_users_property(api, project, live_channel):
    base = f"/dev/v1/channel/user/property/{project.app_id}"
    assert api("get", f"{base}/2/room-live").json() == {
        "success": True,
        "data": {"in_channel": True, "uid": 2, "join": int(NOW.timestamp()) + 5, "role": 3, "platform": 1},
    }
    assert api("get", f"{base}/1/room-live").json()["data"]["role"] == 2
    assert api("get", f"{base}/10/meeting").json()["data"]["role"] == 1
    assert api("get", f"{base}/99/room-live").json() == {"success": True, "data": {"in_channel": False}}
    for bad in ("0", "abc", "4294967296"):
        assert api("get", f"{base}/{bad}/room-live").status_code == 400


# Kicking rules ------------------------------------------------------------------------------------------


def test_a_join_channel_rule_kicks_at_once_is_listed_extended_and_removed(api, project, live_channel):
    body = {"appid": project.app_id, "cname": "room-live", "uid": 2, "time": 10, "privileges": ["join_channel"]}
    created = api("post", "/dev/v1/kicking-rule", body)
    assert created.status_code == 200
    rule_id = created.json()["id"]
    assert created.json() == {"status": "success", "id": rule_id}
    kicked = SandboxSession.objects.get(pk=live_channel[2].pk)
    assert kicked.leave_reason == 3 and kicked.left_at is not None
    assert SandboxSession.objects.filter(left_at__isnull=True).count() == 5

    listed = api("get", "/dev/v1/kicking-rule", appid=project.app_id).json()
    assert listed["status"] == "success" and [rule["id"] for rule in listed["rules"]] == [rule_id]
    rule = listed["rules"][0]
    assert (rule["cname"], rule["uid"], rule["ip"], rule["privileges"]) == ("room-live", 2, None, ["join_channel"])

    extended = api("put", "/dev/v1/kicking-rule", {"appid": project.app_id, "id": rule_id, "time": 60}).json()
    assert extended["status"] == "success" and extended["result"]["id"] == rule_id
    expires = SandboxRule.objects.get().expires_at
    assert timedelta(minutes=59) < expires - timezone.now() <= timedelta(minutes=60)
    assert extended["result"]["ts"] == expires.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    # the banned user cannot come back while the rule is in force
    network = Network(project)
    assert join(network, "room-live", 2, ncs.AUDIENCE, at=timezone.now()) is None

    removed = api("delete", "/dev/v1/kicking-rule", {"appid": project.app_id, "id": rule_id})
    assert removed.json() == {"status": "success", "id": rule_id}
    assert not SandboxRule.objects.exists()
    assert api("delete", "/dev/v1/kicking-rule", {"appid": project.app_id, "id": rule_id}).status_code == 404


def test_a_one_shot_kick_keeps_nothing(api, project, live_channel):
    body = {"appid": project.app_id, "cname": "meeting", "time": 0, "privileges": ["join_channel"]}
    response = api("post", "/dev/v1/kicking-rule", body)
    assert response.status_code == 200 and response.json()["id"] > 0
    assert not SandboxRule.objects.exists()
    assert set(SandboxSession.objects.filter(leave_reason=3).values_list("uid", flat=True)) == {10, 11}
    assert SandboxCall.objects.get(channel_name="meeting").ended_at is not None
    assert api("get", "/dev/v1/kicking-rule", appid=project.app_id).json() == {"status": "success", "rules": []}
    # they may come back at once
    assert join(Network(project), "meeting", 10, ncs.COMMUNICATION, at=timezone.now()) is not None


def test_publish_rules_are_kept_and_kick_nobody(api, project, live_channel):
    body = {"appid": project.app_id, "uid": 1, "time_in_seconds": 5, "privileges": ["publish_audio"]}
    assert api("post", "/dev/v1/kicking-rule", body).status_code == 200
    rule = SandboxRule.objects.get()
    assert rule.privileges == ["publish_audio"] and 9 <= (rule.expires_at - rule.created_at).total_seconds() <= 10
    assert SandboxSession.objects.filter(left_at__isnull=True).count() == 6


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"cname": "x", "privileges": ["join_channel"]}, 400),  # no appid
        ({"appid": "{app_id}", "privileges": ["join_channel"]}, 400),  # nobody named
        ({"appid": "{app_id}", "cname": "x", "privileges": ["kick"]}, 400),
        ({"appid": "{app_id}", "cname": "x", "privileges": "join_channel"}, 400),
        ({"appid": "{app_id}", "uid": 0, "privileges": ["join_channel"]}, 400),
        ({"appid": "{app_id}", "ip": "not-an-ip", "privileges": ["join_channel"]}, 400),
        ({"appid": "{app_id}", "cname": "x", "time": -1, "privileges": ["join_channel"]}, 400),
        ({"appid": "{app_id}", "cname": "x", "time": "soon", "privileges": ["join_channel"]}, 400),
        (["not", "an", "object"], 400),
    ],
)
def test_bad_rules_are_400(api, project, body, status):
    if isinstance(body, dict):
        body = {key: value.format(app_id=project.app_id) if key == "appid" else value for key, value in body.items()}
    response = api("post", "/dev/v1/kicking-rule", body)
    assert response.status_code == status and response.json()["message"]
    assert not SandboxRule.objects.exists()


def test_rule_bodies_must_be_json(client, acme, project):
    headers = {"HTTP_AUTHORIZATION": basic(acme)}
    form = client.post("/sandbox/dev/v1/kicking-rule", {"appid": project.app_id}, **headers)
    assert form.status_code == 415
    garbage = client.post("/sandbox/dev/v1/kicking-rule", "{", content_type="application/json", **headers)
    assert garbage.status_code == 400


@pytest.mark.parametrize(
    "body",
    [{"id": 999}, {"id": "1"}, {"id": True}, {}],
)
def test_changing_a_rule_that_is_not_there(api, project, body):
    body = {"appid": project.app_id, "time": 5, **body}
    for method in ("put", "delete"):
        response = api(method, "/dev/v1/kicking-rule", body)
        assert response.status_code in (400, 404) and response.json()["message"]


def test_a_put_needs_a_duration(api, project):
    rule = SandboxRule.objects.create(
        project=project, channel_name="x", privileges=["join_channel"], expires_at=NOW + timedelta(hours=1)
    )
    response = api("put", "/dev/v1/kicking-rule", {"appid": project.app_id, "id": rule.pk})
    assert response.status_code == 400


def test_the_kick_reaches_the_console_as_a_signed_leave_with_reason_3(acme, project, live_server):
    services.enable(None, project)
    network = Network(project, draw=random.Random(5))
    for uid in (1, 2, 3):
        join(network, "stage", uid, ncs.HOST if uid == 1 else ncs.AUDIENCE, at=NOW + timedelta(seconds=uid))
    Courier.for_project(project, live_server.url).deliver(network.notifications)
    assert ChannelUser.objects.filter(project=project, online=True).count() == 3
    upstream = acme.organization.upstream
    response = requests.post(
        f"{live_server.url}/sandbox/dev/v1/kicking-rule",
        json={"appid": project.app_id, "cname": "stage", "uid": 2, "time": 0, "privileges": ["join_channel"]},
        auth=(upstream.customer_id, upstream.customer_secret),
        timeout=10,
    )
    assert response.status_code == 200
    sandbox_network.wait_for_deliveries()
    kicked = ChannelUser.objects.get(project=project, channel_name="stage", uid=2)
    assert not kicked.online and kicked.leave_reason == 3
    online = set(ChannelUser.objects.filter(project=project, online=True).values_list("uid", flat=True))
    assert online == {1, 3}


# Call analytics -----------------------------------------------------------------------------------------


@pytest.fixture
def calls(project):
    """Three calls: an ended one in room-a an hour ago, one in room-b still going, an earlier one in room-a."""
    network = Network(project, draw=random.Random(11))
    ended = [join(network, "room-a", uid, ncs.COMMUNICATION, at=NOW - timedelta(minutes=60 - uid)) for uid in (1, 2, 3)]
    for session in ended:
        network.leave(session, NOW - timedelta(minutes=30 - session.uid))
    going = [join(network, "room-b", 7, ncs.HOST, at=NOW - timedelta(minutes=20))]
    going += [join(network, "room-b", uid, ncs.AUDIENCE, at=NOW - timedelta(minutes=19)) for uid in (8, 9)]
    going += [join(network, "room-b", 6, ncs.AUDIENCE, at=NOW - timedelta(minutes=19), client=RECORDER)]
    network.leave(going[2], NOW - timedelta(minutes=5))
    earlier = join(network, "room-a", 4, ncs.COMMUNICATION, at=NOW - timedelta(hours=5))
    network.leave(earlier, NOW - timedelta(hours=4))
    return {
        "ended": SandboxCall.objects.get(channel_name="room-a", ended_at__gt=NOW - timedelta(hours=2)),
        "going": SandboxCall.objects.get(channel_name="room-b"),
        "earlier": SandboxCall.objects.get(channel_name="room-a", ended_at__lt=NOW - timedelta(hours=2)),
    }


def window(hours=3, ago=0) -> dict:
    end = int((NOW - timedelta(hours=ago)).timestamp()) + 60
    return {"start_ts": end - hours * 3600, "end_ts": end}


def test_call_lists_newest_first_with_agoras_fields(api, project, calls):
    answer = api("get", "/beta/analytics/call/lists", appid=project.app_id, **window()).json()
    assert (answer["code"], answer["total_size"], answer["page_no"], answer["page_size"]) == (200, 2, 1, 20)
    assert answer["has_more"] is False
    going, ended = answer["call_lists"]
    assert going["call_id"] == calls["going"].call_id and going["finished"] is False and going["destroyed_ts"] == 0
    assert (going["call_pcu"], going["call_acu"]) == (4, 4)
    assert ended == {
        **ended,
        "call_id": calls["ended"].call_id,
        "cname": "room-a",
        "created_ts": int(calls["ended"].started_at.timestamp()),
        "destroyed_ts": int(calls["ended"].ended_at.timestamp()),
        "finished": True,
        "call_pcu": 3,
        "call_acu": 3,
    }
    for row in (going, ended):
        assert 0 <= row["call_audio_freeze_rate"] < 1 and 0 <= row["call_video_freeze_rate"] < 1


def test_call_lists_filter_by_channel_and_page(api, project, calls):
    answer = api("get", "/beta/analytics/call/lists", appid=project.app_id, cname="room-a", **window(hours=6)).json()
    assert [row["call_id"] for row in answer["call_lists"]] == [calls["ended"].call_id, calls["earlier"].call_id]
    first = api("get", "/beta/analytics/call/lists", appid=project.app_id, page_size=1, **window(hours=6)).json()
    assert first["total_size"] == 3 and first["has_more"] is True and len(first["call_lists"]) == 1
    last = api("get", "/beta/analytics/call/lists", appid=project.app_id, page_size=1, page_no=3, **window(6)).json()
    assert last["has_more"] is False and last["call_lists"][0]["call_id"] == calls["earlier"].call_id
    beyond = api("get", "/beta/analytics/call/lists", appid=project.app_id, page_no=9, **window(6)).json()
    assert beyond["call_lists"] == [] and beyond["total_size"] == 3


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({}, 400, "start_ts is required"),
        ({"start_ts": "x", "end_ts": "1"}, 400, "start_ts must be a whole number"),
        ({"start_ts": 20, "end_ts": 10}, 400, "start_ts must be before end_ts"),
        ({"page_size": 101}, 400, "page_size must be between 1 and 100"),
        ({"page_no": 0}, 400, "page_no starts at 1"),
        ({"hours": 25}, 300, "query time length limit error"),
        ({"ago": 16 * 24}, 300, "query time range limit error"),
    ],
)
def test_call_lists_refusals_are_agoras(api, project, params, code, message):
    params = dict(params)
    if "start_ts" not in params and params != {}:
        params = {**window(hours=params.pop("hours", 3), ago=params.pop("ago", 0)), **params}
    response = api("get", "/beta/analytics/call/lists", appid=project.app_id, **params)
    assert response.status_code == (200 if code == 300 else 400)  # Agora's limits come as code 300 in a 200
    assert response.json() == {"code": code, "message": message}


def test_sessions_of_a_call_newest_join_first_without_server_users(api, project, calls):
    params = {"appid": project.app_id, "call_id": calls["going"].call_id, **window(hours=1)}
    answer = api("get", "/beta/analytics/call/sessions", **params).json()
    assert answer["total_size"] == 3 and [row["uid"] for row in answer["call_info"]] == [9, 8, 7]
    host = answer["call_info"][-1]
    assert host == {
        **host,
        "cname": "room-b",
        "platform": "Web",
        "network": "Wi-Fi",
        "speaker": True,
        "roles": ["HOST"],
        "sdk_version": "4.20.2",
        "device_type": "Mozilla/5.0",
        "region": "Germany:Berlin",
        "join_ts": int((NOW - timedelta(minutes=20)).timestamp()),
        "leave_ts": 0,
        "finished": False,
    }
    assert len(host["sid"]) == 32
    left = answer["call_info"][0]
    assert left["finished"] is True and left["speaker"] is False and left["roles"] == ["AUDIENCE"]
    everyone = api("get", "/beta/analytics/call/sessions", exclude_server_user="false", **params).json()
    assert everyone["total_size"] == 4 and "Linux" in {row["platform"] for row in everyone["call_info"]}
    some = api("get", "/beta/analytics/call/sessions", uids="7,9", **params).json()
    assert [row["uid"] for row in some["call_info"]] == [9, 7]
    paged = api("get", "/beta/analytics/call/sessions", page_size=2, page_no=2, **params).json()
    assert [row["uid"] for row in paged["call_info"]] == [7] and paged["has_more"] is False


@pytest.mark.parametrize(
    "params",
    [
        {"call_id": ""},
        {"uids": ",".join(str(n) for n in range(1, 12))},
        {"uids": "abc"},
        {"exclude_server_user": "maybe"},
        {"hours": 7},
    ],
)
def test_sessions_refusals(api, project, calls, params):
    params = {"call_id": calls["going"].call_id, **params}
    params.update(window(hours=params.pop("hours", 1)))
    response = api("get", "/beta/analytics/call/sessions", appid=project.app_id, **params)
    assert response.status_code in (200, 400) and response.json()["code"] in (300, 400)
    assert response.json()["message"] and "call_info" not in response.json()


def test_an_unknown_call_has_no_sessions_and_no_metrics(api, project):
    params = {"appid": project.app_id, "call_id": "f" * 24, **window(hours=1)}
    assert api("get", "/beta/analytics/call/sessions", **params).json()["call_info"] == []
    assert api("get", "/beta/analytics/call/metrics", sids="ABC", **params).json()["metrics"] == []


def test_metrics_of_the_sessions_asked_for(api, project, calls):
    sessions = {session.uid: session.sid for session in calls["going"].sessions.all()}
    params = {"appid": project.app_id, "call_id": calls["going"].call_id, **window(hours=1)}
    answer = api("get", "/beta/analytics/call/metrics", sids=f"{sessions[7]},{sessions[8]},UNKNOWN", **params).json()
    assert answer["code"] == 200 and [item["sid"] for item in answer["metrics"]] == [sessions[7], sessions[8]]
    host, viewer = answer["metrics"]
    host_mids = {(item["mid"], item["peer_uid"]) for item in host["data"]}
    assert (20024, 0) in host_mids and (20011, 7) not in host_mids  # a host sends; nobody else publishes
    viewer_mids = {(item["mid"], item["peer_uid"]) for item in viewer["data"]}
    assert (20011, 7) in viewer_mids and (20009, 7) in viewer_mids and (20024, 0) not in viewer_mids
    for item in viewer["data"]:
        times = [ts for ts, _ in item["kvs"]]
        assert times == sorted(times) and all(ts % 10 == 0 for ts in times)
    assert api("get", "/beta/analytics/call/metrics", **params).status_code == 400  # sids is required
    many = ",".join(f"S{n}" for n in range(21))
    assert api("get", "/beta/analytics/call/metrics", sids=many, **params).status_code == 400


def test_freeze_rates_agree_with_the_metrics(api, project):
    """A call with troubled users: each session's rates (sessions) and the call's (lists) are the freeze time
    of its metrics over their stream time."""
    network = Network(project, draw=random.Random(99))
    seeds = [19, 39, 2, 3, 4]  # the first two on a poor network
    for uid, seed in enumerate(seeds, start=1):
        role = ncs.HOST if uid <= 2 else ncs.AUDIENCE
        at = NOW - timedelta(minutes=50 - uid)
        network.join(
            "troubled", uid, token=network.issue_token("troubled", uid, at=at), role=role, client=WEB, at=at, seed=seed
        )
    for session in SandboxSession.objects.all():
        network.leave(session, NOW - timedelta(minutes=10 - session.uid))
    call = SandboxCall.objects.get()
    params = {"appid": project.app_id, "call_id": call.call_id, **window(hours=1)}
    rows = api("get", "/beta/analytics/call/sessions", **params).json()["call_info"]
    metrics = api("get", "/beta/analytics/call/metrics", sids=",".join(r["sid"] for r in rows), **params).json()
    series = {item["sid"]: item["data"] for item in metrics["metrics"]}
    totals = {"audio": 0, "video": 0, "samples": 0}
    for row in rows:
        audio = [value for item in series[row["sid"]] if item["mid"] == 20005 for _, value in item["kvs"]]
        video = [value for item in series[row["sid"]] if item["mid"] == 20011 for _, value in item["kvs"]]
        assert len(audio) == len(video) > 0
        assert row["user_audio_freeze_rate"] == pytest.approx(sum(audio) / (len(audio) * 10_000), abs=5e-5)
        assert row["user_video_freeze_rate"] == pytest.approx(sum(video) / (len(video) * 10_000), abs=5e-5)
        totals["audio"] += sum(audio)
        totals["video"] += sum(video)
        totals["samples"] += len(video)
    listed = api("get", "/beta/analytics/call/lists", appid=project.app_id, **window(hours=1)).json()["call_lists"]
    assert len(listed) == 1
    video_rate = totals["video"] / (totals["samples"] * 10_000)
    assert listed[0]["call_video_freeze_rate"] == pytest.approx(video_rate, abs=5e-5)
    assert listed[0]["call_audio_freeze_rate"] == pytest.approx(
        totals["audio"] / (totals["samples"] * 10_000), abs=5e-5
    )
    assert video_rate > 0.05  # the poor hosts freeze everyone's video beyond Agora's threshold

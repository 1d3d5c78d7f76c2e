"""Agora Analytics' call inspector API at /beta/analytics/call/{lists,sessions,metrics}, and the console's native
calls API at /api/v1/projects/{project_id}/calls/: answers in Agora's shapes from what the console stores,
Agora's limits and messages, permissions, scope and ids."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from accounts.services import create_role
from console.tests.api_helpers import basic_auth
from network.models import Call, CallSession
from network.tests.call_data import make_call

pytestmark = pytest.mark.django_db

LISTS, SESSIONS, METRICS = "/beta/analytics/call/lists", "/beta/analytics/call/sessions", "/beta/analytics/call/metrics"


@pytest.fixture
def setup(acme):
    """Acme's first project: an ended call (three users, metrics) an hour ago, another channel's call two hours
    ago, and a call in progress known from webhooks only."""
    project = acme.projects[0]
    now = timezone.now().replace(microsecond=0)
    call = make_call(project, start=now - timedelta(hours=1), minutes=30)
    other = make_call(
        project,
        channel="lobby",
        call_id="b" * 24,
        start=now - timedelta(hours=2),
        minutes=10,
        metrics=False,
        video_spike_for=None,
    )
    live = Call.objects.create(project=project, channel_name="live", started_at=now - timedelta(minutes=5))
    window = {"start_ts": int((now - timedelta(hours=3)).timestamp()), "end_ts": int(now.timestamp())}
    return {"project": project, "call": call, "other": other, "live": live, "window": window, "now": now}


def get(client, membership, path, **params):
    return client.get(path, params, **basic_auth(membership))


def message(response) -> str:
    return response.json()["message"]


# /beta/analytics/call/lists ------------------------------------------------------------------------------


def test_lists_answers_agoras_shape_newest_first(acme, setup, client):
    project = setup["project"]
    response = get(client, acme.membership("engineer"), LISTS, appid=project.app_id, **setup["window"])
    assert response.status_code == 200
    assert response["X-Resource-ID"] == project.project_id
    body = response.json()
    assert {key: body[key] for key in ("code", "total_size", "page_no", "page_size", "has_more")} == {
        "code": 200,
        "total_size": 3,
        "page_no": 1,
        "page_size": 20,
        "has_more": False,
    }
    live, ended, lobby = body["call_lists"]
    assert live == {
        "call_id": f"console-{setup['live'].pk}",
        "cname": "live",
        "created_ts": int(setup["live"].started_at.timestamp()),
        "destroyed_ts": 0,
        "finished": False,
        "call_pcu": 0,
        "call_acu": 0,
        "call_audio_freeze_rate": 0,
        "call_video_freeze_rate": 0,
    }
    call = setup["call"]
    assert ended["call_id"] == call.call_id and ended["cname"] == "room-42" and ended["finished"] is True
    assert ended["destroyed_ts"] == int(call.ended_at.timestamp())
    assert (ended["call_pcu"], ended["call_acu"], ended["call_video_freeze_rate"]) == (3, 3, 0.071)
    assert lobby["cname"] == "lobby"


def test_lists_filters_by_channel_and_pages(acme, setup, client):
    project, admin = setup["project"], acme.membership("admin")
    body = get(client, admin, LISTS, appid=project.app_id, cname="lobby", **setup["window"]).json()
    assert [entry["cname"] for entry in body["call_lists"]] == ["lobby"]
    body = get(client, admin, LISTS, appid=project.app_id, page_no=2, page_size=2, **setup["window"]).json()
    assert (body["total_size"], body["has_more"], len(body["call_lists"])) == (3, False, 1)
    body = get(client, admin, LISTS, appid=project.app_id, page_no=1, page_size=2, **setup["window"]).json()
    assert body["has_more"] is True
    body = get(client, admin, LISTS, appid=project.app_id, page_no=9, **setup["window"]).json()
    assert body["call_lists"] == []
    assert get(client, admin, f"{LISTS}/", appid=project.app_id, **setup["window"]).status_code == 200


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "appid is required"),
        ({"appid": "0" * 32}, "invalid appid"),
        ({"appid": "APP"}, "start_ts is required"),
        ({"appid": "APP", "start_ts": "10", "end_ts": "10"}, "start_ts must be before end_ts"),
        ({"appid": "APP", "start_ts": "x", "end_ts": "10"}, "start_ts must be a whole number"),
        ({"appid": "APP", "start_ts": "1", "end_ts": "99999999999999999"}, "start_ts and end_ts must be Unix times"),
        ({"appid": "APP", "start_ts": "1", "end_ts": "2", "page_size": "101"}, "page_size must be between 1 and 100"),
        ({"appid": "APP", "start_ts": "1", "end_ts": "2", "page_no": "0"}, "page_no starts at 1"),
        ({"appid": "APP", "start_ts": "1", "end_ts": "2", "page_size": "-1"}, "page_size must be a whole number"),
        ({"appid": "APP\x00"}, "invalid appid"),
        ({"appid": "APP", "start_ts": "1", "end_ts": "2", "cname": "room\x00"}, "cname must be a channel name"),
        ({"appid": "APP", "start_ts": "1", "end_ts": "2", "cname": "x" * 65}, "cname must be a channel name"),
    ],
)
def test_lists_refuses_what_agora_refuses(params, expected, acme, setup, client):
    params = {key: value.replace("APP", setup["project"].app_id) for key, value in params.items()}
    response = get(client, acme.membership("admin"), LISTS, **params)
    assert response.status_code == 400
    assert message(response).startswith(expected)


def test_who_may_ask(acme, globex, setup, client):
    project = setup["project"]
    params = {"appid": project.app_id, **setup["window"]}
    assert client.get(LISTS, params).status_code == 401
    assert get(client, acme.membership("finance"), LISTS, **params).status_code == 403
    assert get(client, acme.membership("product_operation"), LISTS, **params).status_code == 200
    response = get(client, globex.membership("admin"), LISTS, **params)
    assert (response.status_code, message(response)) == (400, "invalid appid")
    client.force_login(acme.users["cs_maintenance"])  # a session works too
    assert client.get(LISTS, params).status_code == 200


def test_a_member_scoped_elsewhere_cannot_name_the_project(acme, setup, client):
    first, second = acme.projects
    role = create_role(
        acme.membership("admin"), name="Second only", levels={"channels": "view"}, all_projects=False, projects=[second]
    )
    Membership.objects.filter(user=acme.users["engineer"], organization=acme.organization).update(role=role)
    response = get(client, acme.membership("engineer"), LISTS, appid=first.app_id, **setup["window"])
    assert (response.status_code, message(response)) == (400, "invalid appid")


def test_any_other_beta_path_is_a_json_404(acme, client):
    for path in ("/beta/", "/beta/analytics/call/details", "/beta/insight/usage/by_time"):
        response = get(client, acme.membership("admin"), path)
        assert response.status_code == 404 and response.json() == {"message": "No such API endpoint."}


# /beta/analytics/call/sessions --------------------------------------------------------------------------


def test_sessions_answers_agoras_shape_newest_join_first(acme, setup, client):
    project, call = setup["project"], setup["call"]
    response = get(
        client, acme.membership("admin"), SESSIONS, appid=project.app_id, call_id=call.call_id, **setup["window"]
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total_size"] == 3 and body["has_more"] is False
    first = body["call_info"][0]
    session = CallSession.objects.get(call=call, uid=1003)
    assert first == {
        "sid": session.sid,
        "cname": "room-42",
        "uid": 1003,
        "account": "user-1003",
        "network": "Wi-Fi",
        "platform": "Web",
        "speaker": True,
        "roles": ["HOST"],
        "sdk_version": "4.3.0",
        "device_type": "Pixel 7 (Android 14)",
        "join_ts": int(session.joined_at.timestamp()),
        "leave_ts": int(session.left_at.timestamp()),
        "finished": True,
        "user_audio_freeze_rate": 0.002,
        "user_video_freeze_rate": 0.09,
    }
    assert [entry["uid"] for entry in body["call_info"]] == [1003, 1002, 1001]


def test_sessions_filters_uids_and_leaves_out_servers_unless_asked(acme, setup, client):
    project, call, admin = setup["project"], setup["call"], acme.membership("admin")
    CallSession.objects.filter(call=call, uid=1001).update(platform="Linux")
    ask = {"appid": project.app_id, "call_id": call.call_id, **setup["window"]}
    body = get(client, admin, SESSIONS, **ask).json()
    assert sorted(entry["uid"] for entry in body["call_info"]) == [1002, 1003]
    body = get(client, admin, SESSIONS, exclude_server_user="false", **ask).json()
    assert body["total_size"] == 3
    body = get(client, admin, SESSIONS, uids="1002, 1003", **ask).json()
    assert sorted(entry["uid"] for entry in body["call_info"]) == [1002, 1003]
    body = get(client, admin, SESSIONS, page_size=1, page_no=1, **ask).json()
    assert body["has_more"] is True and len(body["call_info"]) == 1
    body = get(client, admin, SESSIONS, page_size=1, page_no=2, **ask).json()
    assert body["has_more"] is False and len(body["call_info"]) == 1
    outside = {"start_ts": int(call.ended_at.timestamp()) + 60, "end_ts": int(call.ended_at.timestamp()) + 120}
    body = get(client, admin, SESSIONS, appid=project.app_id, call_id=call.call_id, **outside).json()
    assert body["total_size"] == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"call_id": ""}, "call_id is required"),
        ({"call_id": "no-such-call"}, "invalid call_id"),
        ({"uids": ",".join(str(uid) for uid in range(1, 12))}, "uids lists at most 10"),
        ({"uids": "1,abc"}, "uid must be an integer from 1 to 4294967295"),
        ({"uids": "0"}, "uid must be an integer from 1 to 4294967295"),
        ({"exclude_server_user": "maybe"}, "exclude_server_user must be true or false"),
        ({"page_size": "1000"}, "page_size must be between 1 and 100"),
    ],
)
def test_sessions_refuses_what_agora_refuses(params, expected, acme, setup, client):
    ask = {"appid": setup["project"].app_id, "call_id": setup["call"].call_id, **setup["window"], **params}
    response = get(client, acme.membership("admin"), SESSIONS, **ask)
    assert response.status_code == 400 and message(response) == expected


def test_a_call_known_from_webhooks_only_has_no_sessions_yet(acme, setup, client):
    ask = {"appid": setup["project"].app_id, "call_id": f"console-{setup['live'].pk}", **setup["window"]}
    body = get(client, acme.membership("admin"), SESSIONS, **ask).json()
    assert body["total_size"] == 0 and body["call_info"] == []


def test_another_projects_call_is_an_invalid_call_id(acme, setup, client):
    call = make_call(acme.projects[1], call_id="c" * 24, metrics=False)
    ask = {"appid": setup["project"].app_id, "call_id": call.call_id, **setup["window"]}
    response = get(client, acme.membership("admin"), SESSIONS, **ask)
    assert (response.status_code, message(response)) == (400, "invalid call_id")


# /beta/analytics/call/metrics ---------------------------------------------------------------------------


def test_metrics_answers_each_sessions_series_within_the_window(acme, setup, client):
    project, call = setup["project"], setup["call"]
    session = CallSession.objects.get(call=call, uid=1001)
    start = int(call.started_at.timestamp())
    window = {"start_ts": start + 60, "end_ts": start + 120}
    ask = {"appid": project.app_id, "call_id": call.call_id, "sids": f"{session.sid},UNKNOWN", **window}
    body = get(client, acme.membership("admin"), METRICS, **ask).json()
    assert body["code"] == 200
    assert [entry["sid"] for entry in body["metrics"]] == [session.sid]
    data = body["metrics"][0]["data"]
    assert {(item["mid"], item["peer_uid"]) for item in data} >= {(20003, 0), (20011, 1002), (20004, 1003)}
    kvs = next(item["kvs"] for item in data if item["mid"] == 20003)
    assert [moment for moment, _ in kvs] == list(range(start + 60, start + 121, 10))
    assert all(isinstance(moment, int) for moment, _ in kvs)


def test_metrics_without_sids_answers_the_calls_sessions(acme, setup, client):
    ask = {"appid": setup["project"].app_id, "call_id": setup["call"].call_id, **setup["window"]}
    body = get(client, acme.membership("admin"), METRICS, **ask).json()
    assert len(body["metrics"]) == 3


def test_metrics_refuses_sids_that_are_no_ids(acme, setup, client):
    ask = {"appid": setup["project"].app_id, "call_id": setup["call"].call_id, **setup["window"]}
    response = get(client, acme.membership("admin"), METRICS, sids="A\x00B", **ask)
    assert (response.status_code, message(response)) == (400, "sids must list session ids of at most 64 characters")


def test_metrics_refuses_more_than_20_sids(acme, setup, client):
    ask = {"appid": setup["project"].app_id, "call_id": setup["call"].call_id, **setup["window"]}
    response = get(client, acme.membership("admin"), METRICS, sids=",".join(f"S{n}" for n in range(21)), **ask)
    assert (response.status_code, message(response)) == (400, "sids lists at most 20")


# The native API -----------------------------------------------------------------------------------------


def api(project, rest: str = "") -> str:
    return f"/api/v1/projects/{project.project_id}/calls/{rest}"


def test_native_list_searches_like_the_page(acme, setup, client):
    project, admin = setup["project"], acme.membership("product_operation")
    body = get(client, admin, api(project)).json()
    assert [row["channel_name"] for row in body["results"]] == ["live", "room-42", "lobby"]
    live = body["results"][0]
    assert live["public_id"] == f"console-{setup['live'].pk}" and live["in_progress"] is True
    assert live["call_id"] == "" and live["id"] == setup["live"].pk
    ended = body["results"][1]
    assert ended["duration_seconds"] == 1800 and ended["video_freezing"] is True and ended["audio_freezing"] is False

    def names(**params) -> list[str]:
        return [row["channel_name"] for row in get(client, admin, api(project), **params).json()["results"]]

    assert names(status="ended", min_video_freeze="5") == ["room-42"]
    assert names(q="lobby") == ["lobby"]
    assert names(range="1h") == ["live"]
    assert names(min_minutes="20") == ["room-42"]
    body = get(client, admin, api(project), page_size=1).json()
    assert len(body["results"]) == 1 and body["next"]


@pytest.mark.parametrize(
    "params",
    [{"min_users": "many"}, {"from": "2026-13-01"}, {"status": "x"}, {"q": "a\nb"}, {"min_video_freeze": "nan"}],
)
def test_native_list_refuses_bad_filters(params, acme, setup, client):
    response = get(client, acme.membership("admin"), api(setup["project"]), **params)
    assert response.status_code == 400 and set(response.json()) == {"message"}


def test_native_call_with_its_sessions_by_any_of_its_ids(acme, setup, client):
    project, call = setup["project"], setup["call"]
    for key in (call.call_id, call.pk):
        body = get(client, acme.membership("admin"), api(project, f"{key}/")).json()
        assert body["public_id"] == call.call_id and body["sessions_total"] == 3
        assert [session["uid"] for session in body["sessions"]] == [1001, 1002, 1003]
    body = get(client, acme.membership("admin"), api(project, f"console-{setup['live'].pk}/")).json()
    assert body["sessions"] == [] and body["in_progress"] is True


def test_native_metrics_of_chosen_users(acme, setup, client):
    project, call, admin = setup["project"], setup["call"], acme.membership("admin")
    response = get(client, admin, api(project, f"{call.call_id}/metrics/"), uids="1002")
    assert response.status_code == 200
    body = response.json()
    assert body["call"] == call.call_id and {row["uid"] for row in body["series"]} == {1002}
    loss = next(row for row in body["series"] if row["mid"] == 20017)
    assert (loss["metric"], loss["unit"], loss["side"], loss["bad_above"]) == (
        "Video upstream packet loss",
        "%",
        "sender",
        5,
    )
    assert max(value for _, value in loss["points"]) == 12.0
    start = call.started_at
    window = {
        "from": f"{start + timedelta(minutes=1):%Y-%m-%dT%H:%M:%S}",
        "to": f"{start + timedelta(minutes=2):%Y-%m-%dT%H:%M:%S}",
    }
    body = get(client, admin, api(project, f"{call.call_id}/metrics/"), uids="1002", **window).json()
    assert all(len(row["points"]) == 7 for row in body["series"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "uids is required"),
        ({"uids": ",".join(str(n) for n in range(21))}, "uids lists at most 20"),
        ({"uids": "x"}, "uids must be whole numbers"),
        ({"uids": "1", "from": "whenever"}, "From must be a date and time"),
    ],
)
def test_native_metrics_refuses_bad_questions(params, expected, acme, setup, client):
    response = get(
        client, acme.membership("admin"), api(setup["project"], f"{setup['call'].call_id}/metrics/"), **params
    )
    assert response.status_code == 400 and message(response).startswith(expected)


def test_native_api_permissions_and_scope(acme, globex, setup, client):
    project, call = setup["project"], setup["call"]
    for path in (api(project), api(project, f"{call.call_id}/"), api(project, f"{call.call_id}/metrics/?uids=1001")):
        assert client.get(path).status_code == 401
        assert get(client, acme.membership("finance"), path).status_code == 403
        assert get(client, globex.membership("admin"), path).status_code == 404
    theirs = make_call(globex.projects[0], call_id="d" * 24, metrics=False)
    assert get(client, acme.membership("admin"), api(project, f"{theirs.call_id}/")).status_code == 404
    assert get(client, acme.membership("admin"), api(project, "no%20such/")).status_code == 404


def test_basic_credentials_with_a_wrong_secret_are_refused(acme, setup, client):
    wrong = "Basic " + base64.b64encode(b"nobody:nothing").decode()
    response = client.get(LISTS, {"appid": setup["project"].app_id, **setup["window"]}, HTTP_AUTHORIZATION=wrong)
    assert response.status_code == 401

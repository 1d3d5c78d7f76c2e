"""The channel and call pulls (network.pulling) against a fake Agora over real HTTP (network/tests/fake_agora.py).

Channels: a lost join puts the user online (a new row at sequence 0, a known row keeping its sequence, so the
webhooks that follow still apply in order), a lost leave takes them offline, a lost role change is corrected,
a webhook applied after the pull began wins, an audience list Agora cut short sends nobody offline, and the
cap on channels queried a run holds. Calls: upserted by call id, merged with the call a webhook opened, their
sessions and metrics in Agora's windows, pages and batches, replaced on a second pull (the same rows). Faults:
500, 429 with Retry-After, malformed JSON, timeouts and Analytics' refusals are retried, then end the run
partial or failed with our own words. Runs: kinds, triggers, the schedule, the reaper, the command, the usage
pages that show usage runs only; and a real Celery worker, killed mid-run, whose run the reaper resumes.
"""

import random
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from itertools import pairwise
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from console.refusals import RuleViolation
from network import ncs, presence, pulling
from network import tasks as network_tasks
from network.models import Call, CallSession, ChannelUser, MetricSeries, SandboxCall, SandboxSession
from network.sandbox_traffic import simulate
from usage import sandbox as usage_sandbox
from usage import services as usage_services
from usage import tasks as usage_tasks
from usage.client import UpstreamClient, UpstreamError, read_channel_users, read_metrics, time_spans
from usage.models import PullRun, Upstream
from usage.pulling import MAX_RESUMES
from usage.tests.test_client import Reply, Sleeps
from usage.tests.worker_process import STALE_AFTER, Workers, broker, wait_for  # noqa: F401  (broker: the fixture)

from .fake_agora import FakeAgora, call, session, ts

CHANNELS, CALLS = PullRun.Kind.CHANNELS, PullRun.Kind.CALLS
EARLIER = timedelta(minutes=5)
STALE = timedelta(minutes=10)


class WorkerKilled(BaseException):
    """Stands for SIGKILL inside this process: nothing the run does on an error runs."""


@pytest.fixture
def agora(acme, settings):
    """Acme's upstream is the fake Agora (on loopback, allowed for the test); nothing waits between requests."""
    fake = FakeAgora()
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [urlsplit(fake.url).netloc]
    settings.NETWORK_CHANNEL_QPS = 0
    settings.NETWORK_ANALYTICS_QPS = 10_000
    settings.PULL_RUN_STALE_AFTER = STALE
    upstream = acme.organization.upstream
    upstream.base_url = fake.url
    upstream.save()
    yield fake
    fake.close()


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """Records execute_pull_run.delay calls instead of sending them to a broker."""
    calls = []
    monkeypatch.setattr(usage_tasks.execute_pull_run, "delay", calls.append)
    return calls


def client_of(org, **options) -> UpstreamClient:
    options = {"retries": 2, "timeout": 2.0, "sleep": Sleeps(), **options}
    return UpstreamClient.for_upstream(org.organization.upstream, **options)


def pull(org, kind, *, project=None, client=None, progress=None) -> PullRun:
    run = pulling.create_run(org.organization, kind, trigger=PullRun.Trigger.COMMAND, project=project)
    return pulling.execute(run, client=client or client_of(org), progress=progress)


def user(project, channel: str, uid: int, *, online=True, role=ncs.HOST, seq=100, updated=None) -> ChannelUser:
    now = timezone.now()
    return ChannelUser.objects.create(
        project=project,
        channel_name=channel,
        uid=uid,
        role=role,
        online=online,
        last_client_seq=seq,
        joined_at=now - timedelta(hours=1),
        left_at=None if online else now - timedelta(minutes=30),
        leave_reason=None if online else 1,
        updated_at=updated or now - EARLIER,
    )


def state(project) -> dict[tuple[str, int], tuple[bool, int, int]]:
    """(channel, uid) -> (online, role, last_client_seq)"""
    rows = ChannelUser.objects.filter(project=project)
    return {(r.channel_name, r.uid): (r.online, r.role, r.last_client_seq) for r in rows}


def notice(event_type: int, channel: str, uid: int, seq: int) -> ncs.Notice:
    payload = {"channelName": channel, "uid": uid, "clientSeq": seq, "ts": int(time.time())}
    return ncs.Notice(f"n-{channel}-{uid}-{seq}-{event_type}", 1, event_type, 0, payload, channel, uid, seq, None)


# Reading Agora's answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ([], "does not have the expected shape"),
        ({"success": False, "data": {}}, "without success"),
        ({"success": True, "data": {"channel_exist": "yes"}}, "whether the channel exists"),
        ({"success": True, "data": {"channel_exist": True, "mode": 3}}, "unknown channel profile"),
        ({"success": True, "data": {"channel_exist": True, "mode": 1, "users": ["alice"]}}, "not UIDs"),
        ({"success": True, "data": {"channel_exist": True, "mode": 2, "broadcasters": [-1]}}, "not UIDs"),
    ],
)
def test_a_user_list_of_the_wrong_shape_is_refused_in_our_words(answer, words):
    with pytest.raises(UpstreamError, match=words):
        read_channel_users(answer)


def test_user_lists_are_read_by_profile():
    live = {"success": True, "data": {"channel_exist": True, "mode": 2, "broadcasters": [1], "audience": [2, 2]}}
    read = read_channel_users(live)
    assert (read.hosts, read.audience, read.audience_complete) == ((1,), (2,), True)
    cut = {**live["data"], "audience_total": 10_001}
    assert read_channel_users({"success": True, "data": cut}).audience_complete is False
    gone = read_channel_users({"success": True, "data": {"channel_exist": False}})
    assert not gone.exists and not gone.hosts


def test_metrics_about_a_session_not_asked_for_or_not_numbers_are_refused():
    good = {"code": 200, "metrics": [{"sid": "A", "data": [{"mid": 20003, "peer_uid": 0, "kvs": [[1, 2.5]]}]}]}
    assert read_metrics(good, ["A"]) == {"A": {(20003, 0): [[1, 2.5]]}}
    with pytest.raises(UpstreamError, match="not asked about"):
        read_metrics(good, ["B"])
    bad = {"code": 200, "metrics": [{"sid": "A", "data": [{"mid": 20003, "kvs": [[1, "high"]]}]}]}
    with pytest.raises(UpstreamError, match="not a number"):
        read_metrics(bad, ["A"])
    gap = {"code": 200, "metrics": [{"sid": "A", "data": [{"mid": 20003, "kvs": [[1, None], [2, 3]]}]}]}
    assert read_metrics(gap, ["A"]) == {"A": {(20003, 0): [[2, 3]]}}


def test_windows_cover_the_time_without_gaps_and_none_is_longer_than_allowed():
    start = datetime(2026, 1, 1, 10, 0, 0, 500_000, tzinfo=UTC)
    spans = time_spans(start, start + timedelta(hours=2, minutes=30), timedelta(hours=1))
    assert spans[0][0] == ts(start) and spans[-1][1] == ts(start) + 9001  # whole seconds around the window
    assert all(b - a <= 3600 for a, b in spans) and all(x[1] == y[0] for x, y in pairwise(spans))


# Channels ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lost_joins_and_leaves_are_reconciled_keeping_known_sequences(acme, agora):
    project = acme.projects[0]
    agora.channels[project.app_id] = {
        "room-1": {"hosts": [1], "audience": [2, 3]},
        "lobby": {"users": [10, 11]},
    }
    user(project, "room-1", 1)  # known and listed: untouched
    user(project, "room-1", 4)  # left while the leave was lost
    user(project, "room-1", 3, online=False, role=ncs.AUDIENCE, seq=50)  # came back while the join was lost
    user(project, "gone", 20)  # a channel Agora no longer lists
    before = ChannelUser.objects.get(uid=1).updated_at

    run = pull(acme, CHANNELS)

    assert run.status == PullRun.Status.SUCCEEDED, run.error
    assert (run.kind, run.trigger, run.error) == (CHANNELS, PullRun.Trigger.COMMAND, "")
    assert state(project) == {
        ("room-1", 1): (True, ncs.HOST, 100),
        ("room-1", 2): (True, ncs.AUDIENCE, 0),
        ("room-1", 3): (True, ncs.AUDIENCE, 50),
        ("room-1", 4): (False, ncs.HOST, 100),
        ("lobby", 10): (True, ncs.COMMUNICATION, 0),
        ("lobby", 11): (True, ncs.COMMUNICATION, 0),
        ("gone", 20): (False, ncs.HOST, 100),
    }
    assert ChannelUser.objects.get(uid=1).updated_at == before
    left = ChannelUser.objects.get(uid=4)
    assert left.left_at >= run.started_at and left.leave_reason is None
    back = ChannelUser.objects.get(uid=3)
    assert back.joined_at >= run.started_at and back.left_at is None and back.leave_reason is None
    # Two listings (one a project) and the three channels whose count differs: room-1, lobby and gone.
    assert (run.windows_total, run.windows_done, run.windows_failed) == (5, 5, 0)
    assert run.rows_written == 6 and run.attempts == 5 and run.finished_at >= run.started_at


@pytest.mark.django_db
def test_webhooks_after_a_reconcile_still_apply_by_sequence(acme, agora):
    project = acme.projects[0]
    agora.channels[project.app_id] = {"room-1": {"hosts": [1], "audience": [2]}}
    user(project, "room-1", 1, online=False, seq=50)
    pull(acme, CHANNELS)
    assert presence.receive(project.pk, notice(ncs.BROADCASTER_LEFT, "room-1", 1, 49)) == "stale"
    assert ChannelUser.objects.get(uid=1).online
    assert presence.receive(project.pk, notice(ncs.BROADCASTER_LEFT, "room-1", 1, 51)) == "applied"
    assert presence.receive(project.pk, notice(ncs.AUDIENCE_LEFT, "room-1", 2, 5)) == "applied"  # from 0
    assert not ChannelUser.objects.filter(online=True).exists()


@pytest.mark.django_db
def test_a_webhook_applied_after_the_pull_began_wins_over_the_list(acme, agora):
    project = acme.projects[0]
    agora.channels[project.app_id] = {"room-1": {"hosts": [1, 2]}}  # lists 2, not 4
    user(project, "room-1", 1)
    user(project, "room-1", 4, seq=10)

    def webhooks_meanwhile(run):  # after the listing, before the channel's users are asked for
        if run.windows_done == 1:
            presence.receive(project.pk, notice(ncs.BROADCASTER_LEFT, "room-1", 2, 7))  # 2 left just now
            presence.receive(project.pk, notice(ncs.BROADCASTER_JOINED, "room-1", 4, 11))  # 4 rejoined

    run = pull(acme, CHANNELS, project=project, progress=webhooks_meanwhile)

    assert run.status == PullRun.Status.SUCCEEDED
    assert state(project) == {
        ("room-1", 1): (True, ncs.HOST, 100),
        ("room-1", 2): (False, ncs.HOST, 7),
        ("room-1", 4): (True, ncs.HOST, 11),
    }


@pytest.mark.django_db
def test_a_lost_role_change_is_corrected_and_communication_users_are_not_hosts_to_change(acme, agora):
    project = acme.projects[0]
    agora.channels[project.app_id] = {"stage": {"hosts": [2, 3], "audience": [1]}}
    user(project, "stage", 1, role=ncs.HOST)
    user(project, "stage", 2, role=ncs.AUDIENCE)
    user(project, "stage", 3, role=ncs.COMMUNICATION)  # a v4 communication user: listed as a broadcaster
    pull(acme, CHANNELS, project=project)
    assert state(project) == {
        ("stage", 1): (True, ncs.AUDIENCE, 100),
        ("stage", 2): (True, ncs.HOST, 100),
        ("stage", 3): (True, ncs.COMMUNICATION, 100),
    }


@pytest.mark.django_db
def test_an_audience_list_agora_cut_short_sends_no_audience_member_offline(acme, agora):
    project = acme.projects[0]
    raw = {"channel_exist": True, "mode": 2, "broadcasters": [1], "audience": [2], "audience_total": 10_001}
    agora.channels[project.app_id] = {"arena": {"raw": raw}}
    user(project, "arena", 7, role=ncs.AUDIENCE)  # one of those past the first 10,000
    user(project, "arena", 8, role=ncs.HOST)  # a host Agora does not list left
    pull(acme, CHANNELS, project=project)
    assert state(project) == {
        ("arena", 1): (True, ncs.HOST, 0),
        ("arena", 2): (True, ncs.AUDIENCE, 0),
        ("arena", 7): (True, ncs.AUDIENCE, 100),
        ("arena", 8): (False, ncs.HOST, 100),
    }


@pytest.mark.django_db
def test_channel_lists_are_read_in_pages_of_500(acme, agora):
    project = acme.projects[0]
    agora.channels[project.app_id] = {f"ch-{n:04}": {"users": [n + 1]} for n in range(1100)}
    listed = client_of(acme).online_channels(project.app_id)
    assert len(listed) == 1100 and listed["ch-1099"] == 1
    pages = [(s.query["page_no"], s.query["page_size"]) for s in agora.asked("/dev/v1/channel/")]
    assert pages == [("0", "500"), ("1", "500"), ("2", "500")]


@pytest.mark.django_db
def test_a_run_queries_at_most_the_cap_the_differing_channels_first(acme, agora, settings, caplog):
    settings.NETWORK_PULL_MAX_CHANNELS = 3
    project = acme.projects[0]
    agora.channels[project.app_id] = {name: {"users": [n]} for n, name in enumerate("abcdef", start=1)}
    user(project, "b", 2, role=ncs.COMMUNICATION)  # as listed
    user(project, "e", 5, role=ncs.COMMUNICATION)  # as listed

    run = pull(acme, CHANNELS, project=project)

    queried = [s.path.rsplit("/", 1)[1] for s in agora.asked("/channel/user/")]
    assert queried == ["a", "c", "d"]  # a, c, d, f differ; b and e are as the console knows them
    assert run.status == PullRun.Status.SUCCEEDED
    assert (run.windows_total, run.windows_done, run.windows_failed) == (7, 4, 0)  # 3 left for the next runs
    assert "left 3 for the next runs" in caplog.text and "NETWORK_PULL_MAX_CHANNELS = 3" in caplog.text
    again = pull(acme, CHANNELS, project=project)  # the next run goes on with what still differs
    assert [s.path.rsplit("/", 1)[1] for s in agora.asked("/channel/user/")][3] == "f"
    assert again.windows_total - again.windows_done == 3  # f, then the channels as the console knows them, in turns
    assert {uid for (_, uid), (online, *_) in state(project).items() if online} == {1, 2, 3, 4, 5, 6}


@pytest.mark.django_db
def test_channel_requests_are_paced(acme, agora, settings):
    settings.NETWORK_CHANNEL_QPS = 4
    project = acme.projects[0]
    agora.channels[project.app_id] = {"a": {"users": [1]}, "b": {"users": [2]}}
    sleeps = Sleeps()
    pull(acme, CHANNELS, project=project, client=client_of(acme, sleep=sleeps))
    assert len(agora.seen) == 3 and len(sleeps) == 2 and all(0 < s <= 0.25 for s in sleeps)


def test_the_built_in_sandbox_is_not_paced(settings):
    """The sandbox sets no request limits (seed_demo pulls from it at once); a real upstream is paced."""
    settings.NETWORK_CHANNEL_QPS = 4
    assert pulling._min_interval(PullRun.Kind.CHANNELS, Upstream(base_url="")) == 0
    assert pulling._min_interval(PullRun.Kind.CHANNELS, Upstream(base_url="https://api.agora.io")) == 0.25
    assert pulling._min_interval(PullRun.Kind.CALLS, Upstream(base_url="https://api.agora.io")) > 0


# Calls -------------------------------------------------------------------------------------------------


def now_s() -> datetime:
    return timezone.now().replace(microsecond=0)


def with_details(agora, project, call_id: str, cname: str, start: datetime, end: datetime | None, users: int):
    """A call of `users` sessions, each with two metric series (its own bitrate, a freeze time about a peer)."""
    agora.calls.setdefault(project.app_id, []).append(call(call_id, cname, start, end, pcu=users, acu=users))
    agora.sessions[call_id] = [
        session(f"{call_id}-S{n:03}", 1000 + n, cname, start + timedelta(seconds=n), end) for n in range(users)
    ]
    last = ts(end or timezone.now())
    for n in range(users):
        points = [[at, float(n)] for at in range(ts(start), last, 600)]
        agora.metrics[f"{call_id}-S{n:03}"] = [(20003, 0, points), (20011, 1000 + (n + 1) % users, points)]


def call_rows(project) -> list[tuple]:
    fields = ("pk", "call_id", "channel_name", "started_at", "ended_at", "peak_users", "accumulated_users")
    return list(Call.objects.filter(project=project).order_by("pk").values_list(*fields))


def detail_rows() -> tuple[list, list]:
    sessions = list(CallSession.objects.order_by("pk").values_list("pk", "call", "sid", "uid", "left_at"))
    series = list(MetricSeries.objects.order_by("pk").values_list("pk", "session", "mid", "peer_uid", "points"))
    return sessions, series


@pytest.mark.django_db
def test_calls_are_upserted_with_their_figures_and_ended_ones_detailed(acme, agora):
    project, now = acme.projects[0], now_s()
    with_details(agora, project, "c-ended", "room-1", now - timedelta(minutes=50), now - timedelta(minutes=20), 3)
    with_details(agora, project, "c-live", "room-2", now - timedelta(minutes=10), None, 2)

    run = pull(acme, CALLS)

    assert run.status == PullRun.Status.SUCCEEDED, run.error
    ended, live = Call.objects.get(call_id="c-ended"), Call.objects.get(call_id="c-live")
    assert (ended.channel_name, ended.started_at, ended.ended_at) == (
        "room-1",
        now - timedelta(minutes=50),
        now - timedelta(minutes=20),
    )
    assert (ended.peak_users, ended.accumulated_users, ended.audio_freeze_rate, ended.video_freeze_rate) == (
        3,
        3,
        0.01,
        0.02,
    )
    assert ended.details_pulled_at >= run.started_at and live.details_pulled_at is None and live.ended_at is None
    assert sorted(ended.sessions.values_list("uid", flat=True)) == [1000, 1001, 1002]
    first = ended.sessions.get(uid=1000)
    assert (first.account, first.network, first.roles, first.sdk_version) == ("user-1000", "Wi-Fi", ["HOST"], "4.3.0")
    freeze = MetricSeries.objects.get(session=first, mid=20011)
    assert freeze.peer_uid == 1001 and [at for at, _ in freeze.points] == list(
        range(ts(ended.started_at), ts(ended.ended_at), 600)
    )
    assert MetricSeries.objects.count() == 6
    assert (run.windows_total, run.windows_done, run.rows_written) == (3, 3, 2 + 3 + 6)  # 2 listings, 1 call


@pytest.mark.django_db
def test_a_call_a_webhook_opened_becomes_the_pulled_call(acme, agora):
    project, now = acme.projects[0], now_s()
    start = now - timedelta(minutes=30)
    opened = Call.objects.create(project=project, channel_name="room-1", started_at=start + timedelta(seconds=55))
    before = Call.objects.create(  # the call before, which ended just before this one began
        project=project,
        channel_name="room-1",
        started_at=start - timedelta(seconds=50),
        ended_at=start - timedelta(seconds=5),
    )
    other = Call.objects.create(project=project, channel_name="room-1", started_at=start - timedelta(minutes=3))
    elsewhere = Call.objects.create(project=project, channel_name="room-9", started_at=start)
    with_details(agora, project, "c-1", "room-1", start, None, 2)

    pull(acme, CALLS)

    merged = Call.objects.get(call_id="c-1")
    assert merged.pk == opened.pk and merged.started_at == start and merged.peak_users == 2
    assert {c.call_id for c in Call.objects.filter(pk__in=(other.pk, elsewhere.pk, before.pk))} == {""}
    assert Call.objects.filter(project=project).count() == 4
    # Agora's 101 for it arrives late and opens a second row: the next pull folds it into the pulled one.
    Call.objects.filter(pk=merged.pk).update(ended_at=now - timedelta(minutes=1))
    late = Call.objects.create(project=project, channel_name="room-1", started_at=start + timedelta(seconds=2))
    Call.objects.filter(pk=late.pk).update(ended_at=now, last_uid=1001)
    pull(acme, CALLS)
    assert not Call.objects.filter(pk=late.pk).exists()
    assert Call.objects.get(pk=merged.pk).last_uid == 1001


@pytest.mark.django_db
def test_a_second_pull_leaves_the_same_rows_and_details_a_call_once(acme, agora):
    project, now = acme.projects[0], now_s()
    with_details(agora, project, "c-1", "room-1", now - timedelta(minutes=70), now - timedelta(minutes=10), 25)
    pull(acme, CALLS)
    calls, details = call_rows(project), detail_rows()
    asked = len(agora.seen)

    second = pull(acme, CALLS)
    assert second.status == PullRun.Status.SUCCEEDED and second.windows_total == 2  # listings only
    assert len(agora.seen) == asked + 2 and call_rows(project) == calls and detail_rows() == details

    Call.objects.update(details_pulled_at=None)  # details asked for again: replaced, never added
    pull(acme, CALLS)
    assert call_rows(project) == calls and detail_rows() == details


@pytest.mark.django_db
def test_details_follow_agoras_windows_pages_and_batches_and_replace_what_was_held(acme, agora):
    project, now = acme.projects[0], now_s()
    start, end = now - timedelta(hours=2, minutes=40), now - timedelta(minutes=10)  # three windows of 1 h
    with_details(agora, project, "c-big", "hall", start, end, 130)  # two pages of sessions, 7 metrics batches

    run = pull(acme, CALLS, project=project)

    assert run.status == PullRun.Status.SUCCEEDED, run.error
    sessions = agora.asked("/call/sessions")
    assert {(s.query["page_no"], s.query["page_size"]) for s in sessions} == {("1", "100"), ("2", "100")}
    assert len({s.query["start_ts"] for s in sessions}) == 3
    metrics = agora.asked("/call/metrics")
    assert len(metrics) == 3 * 7 and max(len(s.query["sids"].split(",")) for s in metrics) == 20
    assert all(int(s.query["end_ts"]) - int(s.query["start_ts"]) <= 3600 for s in sessions + metrics)
    assert CallSession.objects.count() == 130 and MetricSeries.objects.count() == 260
    series = MetricSeries.objects.get(session__sid="c-big-S007", mid=20003)
    assert [at for at, _ in series.points] == list(range(ts(start), ts(end), 600))  # windows meet: no twice

    # Agora no longer has one session and one series: they go.
    del agora.sessions["c-big"][0]
    agora.metrics["c-big-S001"] = agora.metrics["c-big-S001"][:1]
    Call.objects.update(details_pulled_at=None)
    pull(acme, CALLS, project=project)
    assert CallSession.objects.count() == 129 and MetricSeries.objects.count() == 257


@pytest.mark.django_db
def test_a_call_whose_details_fail_leaves_the_others_and_the_run_is_partial(acme, agora):
    project, now = acme.projects[0], now_s()
    with_details(agora, project, "c-bad", "a", now - timedelta(minutes=60), now - timedelta(minutes=30), 2)
    with_details(agora, project, "c-good", "b", now - timedelta(minutes=50), now - timedelta(minutes=20), 2)
    agora.fail(lambda seen: seen.query.get("call_id") == "c-bad", *[Reply(500, {"message": "secret words"})] * 3)

    run = pull(acme, CALLS)

    assert run.status == PullRun.Status.PARTIAL
    assert run.error == f"{project.name}, call c-bad in a: The upstream answered 500 Internal Server Error."
    assert Call.objects.get(call_id="c-good").details_pulled_at is not None
    assert Call.objects.get(call_id="c-bad").details_pulled_at is None
    assert (run.windows_done, run.windows_failed) == (3, 1)
    again = pull(acme, CALLS)  # the next run asks again for the one that failed
    assert again.status == PullRun.Status.SUCCEEDED and Call.objects.filter(details_pulled_at=None).count() == 0


@pytest.mark.django_db
def test_calls_not_yet_ended_long_enough_or_too_old_wait(acme, agora, settings):
    project, now = acme.projects[0], now_s()
    with_details(agora, project, "c-just", "a", now - timedelta(minutes=10), now - timedelta(minutes=2), 2)
    pull(acme, CALLS)
    assert Call.objects.get(call_id="c-just").details_pulled_at is None  # Analytics' data delay (300 s)
    settings.NETWORK_CALL_DETAILS_DELAY = timedelta(seconds=60)
    pull(acme, CALLS)
    assert Call.objects.get(call_id="c-just").details_pulled_at is not None
    old = Call.objects.create(
        project=project, channel_name="x", call_id="c-old", started_at=now - timedelta(days=2), ended_at=now
    )
    pull(acme, CALLS)
    assert Call.objects.get(pk=old.pk).details_pulled_at is None  # past the plan's look-back (1 day)


@pytest.mark.django_db
def test_a_long_call_list_window_is_asked_for_in_windows_of_at_most_8_hours(acme, agora, settings):
    settings.NETWORK_CALLS_WINDOW = timedelta(hours=20)
    project, now = acme.projects[0], now_s()
    with_details(agora, project, "c-old", "a", now - timedelta(hours=19), now - timedelta(hours=18), 1)
    with_details(agora, project, "c-across", "b", now - timedelta(hours=12, minutes=30), None, 1)
    run = pull(acme, CALLS, project=project)
    assert run.status == PullRun.Status.SUCCEEDED, run.error
    lists = agora.asked("/call/lists")
    assert len(lists) == 3 and all(int(s.query["end_ts"]) - int(s.query["start_ts"]) <= 8 * 3600 for s in lists)
    assert set(Call.objects.values_list("call_id", flat=True)) == {"c-old", "c-across"}  # found twice, one row


# Faults ------------------------------------------------------------------------------------------------


def channel_list_of(project):
    return lambda seen: seen.path == f"/dev/v1/channel/{project.app_id}"


@pytest.mark.django_db
def test_a_500_and_a_429_with_retry_after_are_retried(acme, agora):
    project = acme.projects[0]
    agora.channels[project.app_id] = {"a": {"users": [1]}}
    agora.fail(channel_list_of(project), Reply(500), Reply(429, {"message": "slow down"}, {"Retry-After": "3"}))
    sleeps = Sleeps()
    run = pull(acme, CHANNELS, project=project, client=client_of(acme, sleep=sleeps))
    assert run.status == PullRun.Status.SUCCEEDED and run.attempts == 4  # 3 for the listing, 1 for the channel
    assert len(sleeps) == 2 and sleeps[1] >= 3
    assert ChannelUser.objects.get(uid=1).online


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(503, {"message": "secret words"}), "The upstream answered 503 Service Unavailable."),
        (Reply(429, {"message": "secret words"}, {"Retry-After": "1"}), "The upstream answered 429 Too Many"),
        (Reply(body='{"success": true, "data": {"chan'), "The upstream answered something that is not JSON."),
        (Reply(body={"success": True, "data": {"channels": "secret words"}}), "does not have the expected shape"),
        (Reply(body={"ok": 1}, delay=1.0), "no answer in time"),
        (Reply(403, {"message": "secret words"}), "refused the request: 403 Forbidden"),
    ],
)
@pytest.mark.django_db
def test_faults_that_last_end_the_run_failed_in_our_words(acme, agora, reply, words):
    project = acme.projects[0]
    agora.fail(channel_list_of(project), *[reply] * 9)
    run = pull(acme, CHANNELS, project=project, client=client_of(acme, timeout=0.5))
    assert run.status == PullRun.Status.FAILED
    assert run.error.startswith(f"{project.name}: listing its online channels failed: ") and words in run.error
    assert "secret" not in run.error
    assert run.attempts == (1 if "403" in words or "shape" in words else 3)


@pytest.mark.django_db
def test_one_project_failing_makes_the_run_partial(acme, agora):
    first, second = acme.projects
    agora.channels[second.app_id] = {"a": {"users": [1]}}
    agora.fail(channel_list_of(first), *[Reply(500)] * 9)
    run = pull(acme, CHANNELS)
    assert run.status == PullRun.Status.PARTIAL and (run.windows_done, run.windows_failed) == (2, 1)
    failure = "listing its online channels failed: The upstream answered 500 Internal Server Error."
    assert run.error == f"{first.name}: {failure}"
    assert ChannelUser.objects.get(uid=1).project == second


@pytest.mark.django_db
def test_analytics_refusals_are_said_in_our_words_and_its_rate_limit_is_waited_out(acme, agora):
    project, now = acme.projects[0], now_s()
    with_details(agora, project, "c-1", "a", now - timedelta(minutes=30), now - timedelta(minutes=10), 1)
    qps = Reply(body={"code": 300, "message": "qps limit error"})
    lists = lambda seen: "/call/lists" in seen.path  # noqa: E731
    agora.fail(lists, qps)
    sleeps = Sleeps()
    run = pull(acme, CALLS, project=project, client=client_of(acme, sleep=sleeps))
    assert run.status == PullRun.Status.SUCCEEDED and any(s >= 1 for s in sleeps)

    agora.fail(lists, Reply(body={"code": 300, "message": "qpd limit error"}))
    run = pull(acme, CALLS, project=project)
    assert run.status == PullRun.Status.FAILED
    assert run.error.endswith("analytics API refused the query: its limit of requests per day was reached.")
    agora.fail(lists, Reply(body={"code": 401, "message": "secret words"}))
    assert "answered code 401, not success" in pull(acme, CALLS, project=project).error


@pytest.mark.django_db
def test_an_organization_without_upstream_fails_its_run(acme):
    acme.organization.upstream.delete()
    run = pull(acme, CHANNELS, client=UpstreamClient("http://127.0.0.1:9", "id", "secret"))
    assert run.status == PullRun.Status.FAILED and run.error == "This organization has no upstream configured."


# Runs: the schedule, the console, the command, the reaper ------------------------------------------------


@pytest.mark.django_db
def test_the_schedule_queues_one_run_per_organization_and_kind_until_it_ends(acme, globex, agora, sent, settings):
    settings.USAGE_UPSTREAM_URL = ""  # globex's sandbox upstream has no address: nothing to ask
    assert network_tasks.pull_channels() == 1 and sent == [PullRun.objects.get().pk]
    PullRun.objects.all().delete()
    sent.clear()
    settings.USAGE_UPSTREAM_URL = "http://127.0.0.1:9/sandbox"
    assert network_tasks.pull_channels() == 2 and network_tasks.pull_calls() == 2 and len(sent) == 4
    assert network_tasks.pull_channels() == 0 and network_tasks.pull_calls() == 0  # delivered again: pending
    runs = PullRun.objects.filter(organization=acme.organization)
    assert sorted(runs.values_list("kind", "trigger", "status")) == [
        (CALLS, PullRun.Trigger.SCHEDULE, PullRun.Status.QUEUED),
        (CHANNELS, PullRun.Trigger.SCHEDULE, PullRun.Status.QUEUED),
    ]
    assert usage_tasks.execute_pull_run(sent[0]) == PullRun.Status.SUCCEEDED  # the one execute task
    assert network_tasks.pull_channels() == 1  # acme's ended; globex's still queued


@pytest.mark.django_db
def test_finished_network_runs_are_forgotten_after_a_week(acme, agora, sent):
    old = pulling.create_run(acme.organization, CHANNELS, trigger=PullRun.Trigger.SCHEDULE)
    PullRun.objects.filter(pk=old.pk).update(
        status=PullRun.Status.SUCCEEDED, created_at=F("created_at") - timedelta(days=8)
    )
    usage_run = PullRun.objects.create(
        organization=acme.organization, trigger="schedule", date_from=old.date_from, date_to=old.date_to
    )
    PullRun.objects.filter(pk=usage_run.pk).update(created_at=F("created_at") - timedelta(days=30))
    network_tasks.pull_channels()
    assert not PullRun.objects.filter(pk=old.pk).exists() and PullRun.objects.filter(pk=usage_run.pk).exists()


def test_beat_pulls_channels_every_minute_and_calls_every_five(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["network.tasks.pull_channels"].minute == set(range(60))
    assert schedule["network.tasks.pull_calls"].minute == set(range(0, 60, 5))


@pytest.mark.django_db
def test_a_console_pull_is_audited_queued_and_refused_while_one_is_pending(
    acme, agora, django_capture_on_commit_callbacks, sent
):
    admin = acme.membership("admin")
    with django_capture_on_commit_callbacks(execute=True):
        run = pulling.start_pull(admin, CHANNELS, acme.projects[0])
    assert (run.trigger, run.kind, run.started_by, run.project) == (
        PullRun.Trigger.CONSOLE,
        CHANNELS,
        acme.users["admin"],
        acme.projects[0],
    )
    assert sent == [run.pk]
    entry = AuditEntry.objects.get(action="network.pull_started")
    assert entry.details == {"run": run.pk, "kind": "channels"} and entry.project_id == acme.projects[0].pk
    with pytest.raises(RuleViolation, match="already queued or running"):
        pulling.start_pull(admin, CHANNELS)
    assert pulling.start_pull(admin, CALLS).kind == CALLS


@pytest.mark.django_db
def test_the_command_pulls_both_kinds_in_the_foreground(acme, agora):
    project = acme.projects[0]
    agora.channels[project.app_id] = {"a": {"users": [1]}}
    out = StringIO()
    call_command("pull_network", "--org", acme.organization.slug, stdout=out, stderr=StringIO())
    assert out.getvalue().count("Succeeded") == 2 and "online channels" in out.getvalue()
    assert sorted(PullRun.objects.values_list("kind", "trigger")) == [(CALLS, "command"), (CHANNELS, "command")]
    assert ChannelUser.objects.get(uid=1).online


@pytest.mark.django_db
def test_the_command_fails_loudly_when_the_upstream_fails(acme, agora, settings):
    settings.USAGE_HTTP_RETRIES = 0
    agora.fail(lambda seen: True, *[Reply(500)] * 9)
    err = StringIO()
    with pytest.raises(Exception, match="did not fully succeed"):
        call_command(
            "pull_network", "--channels", "--project", acme.projects[0].project_id, stdout=StringIO(), stderr=err
        )
    assert "500 Internal Server Error" in err.getvalue()


def start_and_kill(org, kind, *, after: int) -> PullRun:
    """A queued run taken by a worker that dies once `after` units are done: left running."""
    run = pulling.create_run(org.organization, kind, trigger=PullRun.Trigger.SCHEDULE)

    def killed(run):
        if run.windows_done + run.windows_failed == after:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        pulling.execute(run, client=client_of(org), progress=killed)
    run.refresh_from_db()
    return run


def age(run: PullRun, by: timedelta) -> None:
    PullRun.objects.filter(pk=run.pk).update(heartbeat_at=F("heartbeat_at") - by)


@pytest.mark.django_db
def test_a_run_whose_worker_died_is_resumed_after_the_last_project_done(acme, agora, sent):
    first, second = sorted(acme.projects, key=lambda p: p.pk)
    agora.channels[first.app_id] = {"a": {"users": [1]}, "b": {"users": [2]}}
    agora.channels[second.app_id] = {"c": {"users": [3]}, "d": {"users": [4]}}
    run = start_and_kill(acme, CHANNELS, after=4)  # first's listing and channels, second's listing
    assert run.status == PullRun.Status.RUNNING and run.done_through_project == first.pk
    assert (run.windows_total, run.windows_done) == (3, 3)  # saved with the resume point
    age(run, STALE - timedelta(seconds=30))
    assert usage_tasks.reap_stale_pull_runs() == 0  # its heartbeat is fresh enough
    age(run, timedelta(minutes=1))
    assert usage_tasks.reap_stale_pull_runs() == 1 and sent == [run.pk]
    entry = AuditEntry.objects.get(action="network.pull_resumed")
    assert entry.details["run"] == run.pk and entry.details["resumed_count"] == 1
    agora.seen.clear()

    assert usage_tasks.execute_pull_run(run.pk) == PullRun.Status.SUCCEEDED
    assert all(second.app_id in s.path for s in agora.seen)  # the first project is not asked again
    run.refresh_from_db()
    assert (run.windows_total, run.windows_done, run.windows_failed, run.rows_written) == (6, 6, 0, 4)
    assert run.resumed_count == 1 and run.done_through_project is None and run.error == ""
    resumed = {(r.project_id, r.channel_name, r.uid, r.online) for r in ChannelUser.objects.all()}

    ChannelUser.objects.all().delete()
    clean = pull(acme, CHANNELS)
    assert (clean.windows_total, clean.windows_done, clean.rows_written) == (6, 6, 4)
    assert {(r.project_id, r.channel_name, r.uid, r.online) for r in ChannelUser.objects.all()} == resumed


@pytest.mark.django_db
def test_a_network_run_lost_too_often_fails(acme, agora, sent):
    run = start_and_kill(acme, CALLS, after=1)
    PullRun.objects.filter(pk=run.pk).update(resumed_count=MAX_RESUMES)
    age(run, STALE + timedelta(seconds=1))
    assert usage_tasks.reap_stale_pull_runs() == 0 and sent == []
    run.refresh_from_db()
    assert run.status == PullRun.Status.FAILED and f"lost {MAX_RESUMES + 1} times" in run.error
    assert AuditEntry.objects.filter(action="network.pull_abandoned", details__run=run.pk).exists()


# The usage pages and jobs keep to usage runs ---------------------------------------------------------------


@pytest.mark.django_db
def test_usage_pages_and_jobs_are_not_confused_by_network_runs(acme, agora, client_for, sent):
    today = timezone.now().date()
    channels = pulling.create_run(acme.organization, CHANNELS, trigger=PullRun.Trigger.SCHEDULE)
    calls = PullRun.objects.create(
        organization=acme.organization,
        project=acme.projects[0],
        kind=CALLS,
        trigger=PullRun.Trigger.SCHEDULE,
        date_from=today - timedelta(days=1),
        date_to=today,
        status=PullRun.Status.RUNNING,
    )
    page = client_for(acme.users["admin"]).get(reverse("usage:sync"))
    assert page.status_code == 200 and list(page.context["changelist"].page.object_list) == []
    assert page.context["active_count"] == 0
    assert client_for(acme.users["admin"]).get(reverse("usage:run_status", args=[channels.pk])).status_code == 404
    # A usage backfill and the hourly pull of the same days are not taken for pending ones.
    backfill = usage_services.start_backfill(acme.membership("admin"), None, today, today)
    assert backfill.kind == PullRun.Kind.USAGE
    assert usage_tasks.pull_recent() == len(acme.projects)
    assert calls.pk not in sent


# A real worker, killed, against the sandbox with faults -------------------------------------------------------


@pytest.fixture
def workers(transactional_db, tmp_path, broker, live_server, settings, monkeypatch):  # noqa: F811  (the fixture)
    """Worker processes on the test's database and broker, pulling from the sandbox this test process serves;
    killed at the end whatever happened."""
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    for name, value in {
        "NETWORK_CHANNEL_QPS": "0",
        "NETWORK_ANALYTICS_QPS": "1000",
        "NETWORK_CALL_DETAILS_DELAY_SECONDS": "0",
        "NETWORK_PULL_MAX_CALL_DETAILS": "500",
        "USAGE_HTTP_RETRIES": "8",
    }.items():
        monkeypatch.setenv(name, value)
    made = Workers(tmp_path, broker, None, settings.USAGE_UPSTREAM_URL)
    yield made
    made.stop_all()
    made.forget()


def sandbox_online(project, using: str = "default") -> set[tuple[str, int]]:
    sessions = SandboxSession.objects.using(using).filter(call__project=project, left_at__isnull=True)
    return set(sessions.values_list("call__channel_name", "uid"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")  # Celery's Redis backend
def test_a_real_worker_killed_mid_pull_is_resumed_by_the_reaper_and_faults_are_retried(
    acme, workers, settings, monkeypatch
):
    first, second = sorted(acme.projects, key=lambda p: p.pk)
    now = timezone.now()
    for seed, project in enumerate((first, second)):
        simulate(project, start=now - timedelta(minutes=50), end=now, users=40, draw=random.Random(seed))
    lost_leave = user(first, "gone-room", 999)  # left while its leave was lost
    run = pulling.create_run(acme.organization, CHANNELS, trigger=PullRun.Trigger.SCHEDULE)
    calls = pulling.create_run(acme.organization, CALLS, trigger=PullRun.Trigger.SCHEDULE)  # sent by the reaper
    db = workers.share().alias
    runs = PullRun.objects.using(db)

    settings.USAGE_SANDBOX_FAULTS = {"error_rate": 1.0, "faults": ["slow"], "slow_seconds": 0.3}  # every request
    worker = workers.start()
    workers.broker.send("usage.tasks.execute_pull_run", run.pk)
    wait_for(lambda: runs.get(pk=run.pk).done_through_project == first.pk, 60, "the first project", workers.log)
    workers.kill(worker)  # in the middle of the second project
    killed_at = timezone.now()
    at_kill = runs.get(pk=run.pk)
    assert at_kill.status == PullRun.Status.RUNNING and 0 < at_kill.windows_done == at_kill.windows_total

    # From now on a quarter of the sandbox's answers are 500, 429 or malformed JSON: retried.
    served, fault = [], usage_sandbox._fault

    def counted_fault():  # the live server answers in this process: its faults are counted here
        answer = fault()
        if answer is not None:
            served.append(answer)
        return answer

    monkeypatch.setattr(usage_sandbox, "_fault", counted_fault)
    settings.USAGE_SANDBOX_FAULTS = {"error_rate": 0.25, "faults": ["500", "429", "malformed"], "retry_after": 0}
    workers.start()
    time.sleep(max(0.0, (at_kill.heartbeat_at + STALE_AFTER - timezone.now()).total_seconds()) + 0.5)
    workers.broker.send("usage.tasks.reap_stale_pull_runs")
    for pk in (run.pk, calls.pk):
        wait_for(lambda pk=pk: not runs.get(pk=pk).is_active, 90, f"run {pk} to end", workers.log)

    finished = runs.get(pk=run.pk)
    assert finished.status == PullRun.Status.SUCCEEDED, (finished.error, workers.log())
    assert finished.resumed_count == 1 and finished.windows_done == finished.windows_total > at_kill.windows_done
    assert served  # faults were served, and retried: both runs succeeded
    users = ChannelUser.objects.using(db)
    for project in (first, second):
        online = {(u.channel_name, u.uid) for u in users.filter(project=project, online=True)}
        assert online == sandbox_online(project, db) and online
    assert not users.get(pk=lost_leave.pk).online
    # Resumed after the first project: its rows were not written again.
    assert not users.filter(project=first, updated_at__gt=killed_at).exists()
    assert AuditEntry.objects.using(db).filter(action="network.pull_resumed").count() == 1

    done = runs.get(pk=calls.pk)
    assert done.status == PullRun.Status.SUCCEEDED and done.resumed_count == 0, (done.error, workers.log())
    played = SandboxCall.objects.using(db).filter(project__in=(first, second))
    pulled = Call.objects.using(db)
    assert set(pulled.values_list("call_id", flat=True)) == set(played.values_list("call_id", flat=True))
    for played_call in played.filter(ended_at__isnull=False):
        users = played_call.sessions.exclude(platform=6)  # Agora leaves server users (recorders) out by default
        sessions = CallSession.objects.using(db).filter(call__call_id=played_call.call_id)
        assert set(sessions.values_list("sid", flat=True)) == set(users.values_list("sid", flat=True))
    assert MetricSeries.objects.using(db).exists()


# Against the sandbox, which plays the network ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the live server answers from other threads
def test_against_the_sandbox_the_pulls_make_up_for_every_lost_webhook(acme, live_server, settings):
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    settings.NETWORK_CHANNEL_QPS = 0
    settings.NETWORK_ANALYTICS_QPS = 10_000
    settings.NETWORK_CALL_DETAILS_DELAY = timedelta(0)
    project = acme.projects[0]
    now = timezone.now()
    simulate(project, start=now - timedelta(minutes=50), end=now, users=30, draw=random.Random(5))
    # Not one notification was delivered: the console knows nothing but what it pulls.

    channels = pull(acme, CHANNELS)
    assert channels.status == PullRun.Status.SUCCEEDED, channels.error
    in_sandbox = SandboxSession.objects.filter(call__project=project, left_at__isnull=True)
    online = set(in_sandbox.values_list("call__channel_name", "uid"))
    assert online and {(u.channel_name, u.uid) for u in ChannelUser.objects.filter(online=True)} == online

    calls = pull(acme, CALLS)
    assert calls.status == PullRun.Status.SUCCEEDED, calls.error
    played = SandboxCall.objects.filter(project=project)
    assert set(Call.objects.values_list("call_id", "channel_name")) == set(
        played.values_list("call_id", "channel_name")
    )
    ended = played.filter(ended_at__isnull=False)
    assert ended.exists() and Call.objects.filter(details_pulled_at__isnull=False).count() == ended.count()
    for played_call in ended:
        users = played_call.sessions.exclude(platform=6)  # Agora leaves server users (recorders) out by default
        pulled = CallSession.objects.filter(call__call_id=played_call.call_id)
        assert set(pulled.values_list("sid", "uid")) == set(users.values_list("sid", "uid"))
    assert MetricSeries.objects.exists()

    # The users still online leave, and again no notification arrives.
    later = timezone.now()
    simulate(project, start=later, end=later + timedelta(minutes=5), users=1, draw=random.Random(6))
    again = pull(acme, CHANNELS)
    assert again.status == PullRun.Status.SUCCEEDED, again.error
    online = set(in_sandbox.values_list("call__channel_name", "uid"))
    assert {(u.channel_name, u.uid) for u in ChannelUser.objects.filter(online=True)} == online


@pytest.mark.django_db(transaction=True)  # the local sandbox answers from another thread
def test_the_command_pulls_from_the_local_sandbox(acme, settings):
    settings.NETWORK_CHANNEL_QPS = 0
    project = acme.projects[0]
    now = timezone.now()
    simulate(project, start=now - timedelta(minutes=20), end=now, users=10, draw=random.Random(3))
    out = StringIO()
    call_command("pull_network", "--channels", "--project", project.project_id, "--local-sandbox", stdout=out)
    assert "Succeeded" in out.getvalue()
    online = {(u.channel_name, u.uid) for u in ChannelUser.objects.filter(online=True)}
    assert online == sandbox_online(project) and online

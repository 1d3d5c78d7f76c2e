"""The network the sandbox plays: tokens verified as the network would, UIDs given and conflicting, calls
opened and closed, notifications with Agora's events and sequences, kicking rules, and the quality drawn
from the seeds (freeze rates that agree with the metrics)."""

import random
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from network import ncs, sandbox_quality, sandbox_traffic
from network.models import SandboxCall, SandboxFailedJoin, SandboxRule, SandboxSession
from network.sandbox_network import (
    LEAVE_BANNED,
    LEAVE_SAME_UID,
    Client,
    Network,
    presence_of,
    roles_of,
    sign_token,
)
from projects import services as project_services
from projects.models import Project
from tokens.services import build_with_credentials

NOW = timezone.now().replace(microsecond=0)
WEB = Client(7, "4.20.2", "Mozilla/5.0", "Wi-Fi", "Germany:Berlin", "203.0.113.7")
LEGACY = Client(1, "3.7.2", "Pixel 8 (Android 14)", "4G", "India:Maharashtra", "203.0.113.8")


@pytest.fixture
def project(acme) -> Project:
    return Project.objects.prefetch_related("certificates").get(pk=acme.projects[0].pk)


@pytest.fixture
def network(project) -> Network:
    return Network(project, draw=random.Random(7))


def join(network, channel="room-1", user=1001, *, role=ncs.HOST, client=WEB, at=NOW, token=None):
    token = network.issue_token(channel, user, at=at) if token is None else token
    return network.join(channel, user, token=token, role=role, client=client, at=at)


def events(network) -> list[int]:
    return [notification.event_type for notification in network.notifications]


# Tokens -------------------------------------------------------------------------------------------------


def test_a_join_with_a_valid_token_opens_a_call_and_notifies_create_then_join(network, project):
    session = join(network)
    assert session is not None and session.left_at is None
    assert re.fullmatch(r"[0-9A-F]{32}", session.sid)
    assert re.fullmatch(r"[0-9a-f]{24}", session.call.call_id)
    assert session.call.project == project and session.call.started_at == NOW
    assert events(network) == [ncs.CHANNEL_CREATED, ncs.BROADCASTER_JOINED]
    created, joined = network.notifications
    assert created.payload == {"channelName": "room-1", "ts": int(NOW.timestamp())}
    assert joined.payload == {
        "channelName": "room-1",
        "uid": 1001,
        "platform": 7,
        "clientSeq": int(NOW.timestamp() * 1000),
        "ts": int(NOW.timestamp()),
    }
    assert not SandboxFailedJoin.objects.exists()


def refused_with(network, token, *, user=1001, channel="room-1") -> str:
    assert join(network, channel, user, token=token) is None
    failed = SandboxFailedJoin.objects.get()
    assert failed.project == network.project and failed.channel_name == channel and failed.attempted_at == NOW
    assert not SandboxSession.objects.exists() and not SandboxCall.objects.exists() and not network.notifications
    return failed.reason


def test_a_token_signed_with_a_certificate_the_project_does_not_have_is_refused(network, project):
    token = sign_token(project.app_id, "ab" * 16, "room-1", 1001, at=NOW)
    assert refused_with(network, token) == "No enabled certificate of the project signed the token."


def test_an_expired_token_is_refused(network, project):
    token = sign_token(project.app_id, project.primary.value, "room-1", 1001, at=NOW, expire=600, issued_before=601)
    assert refused_with(network, token) == "The token has expired."


def test_a_token_whose_join_privilege_expired_is_refused(network, project):
    params = {"channel": "room-1", "uid": 1001, "expire": 3600, "privilege_expire": 60}
    token = build_with_credentials(
        project.app_id, project.primary.value, "rtc", params, issue_ts=int(NOW.timestamp()) - 61
    )
    assert refused_with(network, token.token) == "The token's join privilege has expired."


def test_another_projects_token_is_refused(acme, network):
    other = Project.objects.prefetch_related("certificates").get(pk=acme.projects[1].pk)
    token = sign_token(other.app_id, other.primary.value, "room-1", 1001, at=NOW)
    assert refused_with(network, token) == "The token was issued for another App ID."


def test_a_token_for_this_app_id_signed_with_another_projects_certificate_is_refused(acme, network, project):
    other = Project.objects.prefetch_related("certificates").get(pk=acme.projects[1].pk)
    token = sign_token(project.app_id, other.primary.value, "room-1", 1001, at=NOW)
    assert refused_with(network, token) == "No enabled certificate of the project signed the token."


@pytest.mark.parametrize(
    ("channel", "user", "reason"),
    [("room-2", 1001, "The token is for another channel."), ("room-1", 1002, "The token is for another UID.")],
)
def test_a_token_for_another_channel_or_uid_is_refused(network, project, channel, user, reason):
    token = sign_token(project.app_id, project.primary.value, channel, user, at=NOW)
    assert refused_with(network, token) == reason


@pytest.mark.parametrize(("token", "reason"), [("", "No token"), ("007garbage", "The token cannot be read")])
def test_no_token_or_a_damaged_one_is_refused_by_a_secured_project(network, token, reason):
    assert refused_with(network, token).startswith(reason)


def test_a_token_for_uid_0_lets_any_uid_in(network, project):
    token = sign_token(project.app_id, project.primary.value, "room-1", 0, at=NOW)
    assert join(network, user=4242, token=token).uid == 4242


def test_the_secondary_certificate_verifies_while_enabled_only(acme, project):
    admin = acme.membership("admin")
    secondary = project_services.enable_secondary(admin, project)
    token = sign_token(project.app_id, secondary.value, "room-1", 1001, at=NOW)
    fresh = Project.objects.prefetch_related("certificates").get(pk=project.pk)
    assert join(Network(fresh), token=token) is not None
    project_services.disable_secondary(admin, fresh)
    disabled = Network(Project.objects.prefetch_related("certificates").get(pk=project.pk))
    assert join(disabled, "room-2", token=sign_token(project.app_id, secondary.value, "room-2", 1001, at=NOW)) is None
    assert SandboxFailedJoin.objects.get().reason == "No enabled certificate of the project signed the token."


def test_an_app_id_only_project_lets_users_in_without_a_token(acme):
    open_project = project_services.create_project(
        acme.membership("admin"), name="Open", mechanism=Project.Mechanism.APP_ID
    )
    network = Network(Project.objects.prefetch_related("certificates").get(pk=open_project.pk))
    assert network.issue_token("room-1", 1001, at=NOW) == ""
    assert join(network) is not None


def test_a_disabled_project_refuses_everyone(network, project):
    project.enabled = False
    assert refused_with(network, network.issue_token("room-1", 1001, at=NOW)) == "The project is disabled."


# UIDs ---------------------------------------------------------------------------------------------------


def test_uid_0_gets_a_uid_nobody_in_the_channel_has(network):
    first, second = join(network, user=0), join(network, user=0, at=NOW + timedelta(seconds=1))
    assert first.uid and second.uid and first.uid != second.uid
    assert [n.payload["uid"] for n in network.notifications if n.event_type == ncs.BROADCASTER_JOINED] == [
        first.uid,
        second.uid,
    ]


def test_a_user_account_always_gets_the_same_uid_in_the_project(network):
    first = join(network, user="alice")
    network.leave(first, NOW + timedelta(seconds=30))
    again = join(network, "room-9", user="alice", at=NOW + timedelta(seconds=60))
    assert first.uid == again.uid and first.account == again.account == "alice"


def test_the_same_uid_joining_again_pushes_the_older_session_out_with_reason_5(network):
    older = join(network, user=7)
    join(network, user=8, at=NOW + timedelta(seconds=1))
    newer = join(network, user=7, client=LEGACY, at=NOW + timedelta(seconds=2))
    older.refresh_from_db()
    assert older.left_at == NOW + timedelta(seconds=2) and older.leave_reason == LEAVE_SAME_UID
    assert newer.left_at is None and newer.call_id == older.call_id
    assert events(network)[-2:] == [ncs.BROADCASTER_LEFT, ncs.BROADCASTER_JOINED]
    left, joined = network.notifications[-2:]
    assert left.payload["reason"] == LEAVE_SAME_UID and left.payload["duration"] == 2
    assert left.payload["clientSeq"] < joined.payload["clientSeq"]
    assert network.pushed_out == 1


def test_the_same_uid_alone_in_the_channel_keeps_the_call_open(network):
    older = join(network, user=7)
    newer = join(network, user=7, at=NOW + timedelta(seconds=5))
    assert SandboxCall.objects.count() == 1 and newer.call_id == older.call_id
    assert ncs.CHANNEL_DESTROYED not in events(network)


# Calls and events ---------------------------------------------------------------------------------------


def test_the_last_leave_closes_the_call_with_last_uid(network):
    host = join(network, user=1)
    viewer = join(network, user=2, role=ncs.AUDIENCE, at=NOW + timedelta(seconds=3))
    network.leave(host, NOW + timedelta(seconds=60))
    assert SandboxCall.objects.get().ended_at is None
    network.leave(viewer, NOW + timedelta(seconds=90))
    call = SandboxCall.objects.get()
    assert call.ended_at == NOW + timedelta(seconds=90)
    assert events(network) == [101, 103, 105, 104, 106, 102]
    destroyed = network.notifications[-1]
    assert destroyed.payload == {"channelName": "room-1", "ts": int(call.ended_at.timestamp()), "lastUid": 2}
    assert network.notifications[-2].payload["duration"] == 87
    # the next join opens another call of the same channel
    again = join(network, user=3, at=NOW + timedelta(minutes=5))
    assert again.call_id != call.pk and SandboxCall.objects.count() == 2


def test_communication_users_are_notified_as_their_sdk_does(network):
    modern = join(network, user=1, role=ncs.COMMUNICATION)
    legacy = join(network, user=2, role=ncs.COMMUNICATION, client=LEGACY)
    network.leave(legacy, NOW + timedelta(seconds=9))
    network.leave(modern, NOW + timedelta(seconds=10))
    assert events(network) == [101, 103, 107, 108, 104, 102]


def test_role_changes_are_notified_and_kept(network):
    viewer = join(network, user=5, role=ncs.AUDIENCE)
    network.change_role(viewer, ncs.HOST, NOW + timedelta(seconds=60))
    network.change_role(viewer, ncs.AUDIENCE, NOW + timedelta(seconds=120))
    network.leave(viewer, NOW + timedelta(seconds=180))
    assert events(network) == [101, 105, 111, 112, 106, 102]
    viewer.refresh_from_db()
    start = int(NOW.timestamp())
    assert viewer.role_changes == [[start + 60, ncs.AUDIENCE, ncs.HOST], [start + 120, ncs.HOST, ncs.AUDIENCE]]
    assert roles_of(viewer) == ["AUDIENCE", "HOST"]
    assert presence_of(viewer, NOW).publishing == ((start + 60, start + 120),)


def test_client_sequences_increase_per_user_and_notice_ids_are_unique(network):
    host = join(network, user=1)
    # events in the same millisecond still get increasing sequences
    network.change_role(host, ncs.AUDIENCE, NOW)
    network.change_role(host, ncs.HOST, NOW)
    network.leave(host, NOW)
    sequences = [n.payload["clientSeq"] for n in network.notifications if "clientSeq" in n.payload]
    assert sequences == sorted(set(sequences)) and len(sequences) == 4
    assert len({n.notice_id for n in network.notifications}) == len(network.notifications)
    # a later network of the same project continues the user's sequence
    later = Network(network.project)
    join(later, user=1, at=NOW)
    assert later.notifications[-1].payload["clientSeq"] > sequences[-1]


# Kicking rules ------------------------------------------------------------------------------------------


def rule(project, *, privileges=("join_channel",), minutes=10, **scope) -> SandboxRule:
    return SandboxRule.objects.create(
        project=project,
        privileges=list(privileges),
        created_at=NOW - timedelta(seconds=1),
        expires_at=NOW + timedelta(minutes=minutes),
        **scope,
    )


def test_a_join_channel_rule_pushes_matching_users_out_with_reason_3(network, project):
    banned = join(network, user=1)
    spared = join(network, user=2, at=NOW + timedelta(seconds=1))
    elsewhere = join(network, "room-2", user=1, at=NOW + timedelta(seconds=1))
    kicked = network.kick(rule(project, channel_name="room-1", uid=1), NOW + timedelta(seconds=5))
    assert [session.pk for session in kicked] == [banned.pk]
    banned.refresh_from_db()
    assert banned.leave_reason == LEAVE_BANNED and banned.left_at == NOW + timedelta(seconds=5)
    assert network.notifications[-1].payload["reason"] == LEAVE_BANNED
    for session in (spared, elsewhere):
        session.refresh_from_db()
        assert session.left_at is None


def test_a_rule_in_force_refuses_the_joins_it_names(network, project):
    rule(project, ip=WEB.ip)
    assert join(network, at=NOW + timedelta(seconds=5)) is None
    assert SandboxFailedJoin.objects.get().reason.startswith("Banned from joining by kicking rule")
    assert join(Network(project), client=LEGACY, at=NOW + timedelta(seconds=6)) is not None


def test_a_join_before_the_rule_existed_is_not_refused(network, project):
    rule(project, channel_name="room-1")
    assert join(network, at=NOW - timedelta(minutes=5)) is not None


def test_publish_rules_neither_kick_nor_refuse(network, project):
    join(network, user=1)
    muted = rule(project, uid=1, privileges=("publish_audio", "publish_video"))
    assert network.kick(muted, NOW) == []
    assert join(network, user=2, at=NOW + timedelta(seconds=1)) is not None


# Quality ------------------------------------------------------------------------------------------------


def presences(seeds, *, length=1800, audience=()) -> list[sandbox_quality.Presence]:
    start = 1_700_000_000
    return [
        sandbox_quality.Presence(
            f"S{n}", n + 1, seed, start, start + length, () if n in audience else ((start, start + length),)
        )
        for n, seed in enumerate(seeds)
    ]


def test_the_series_are_drawn_again_identically_and_cover_every_catalogued_metric():
    call = presences([11, 22, 33])
    first = sandbox_quality.series(call[0], call, 0, 2**31)
    assert first == sandbox_quality.series(call[0], call, 0, 2**31)
    mids = {mid for mid, _, _ in first}
    assert mids == set(
        sandbox_quality.PUBLISHING_METRICS + sandbox_quality.DEVICE_METRICS + sandbox_quality.RECEIVING_METRICS
    )
    peers = {peer for _, peer, _ in first}
    assert peers == {0, 2, 3}
    for _, _, points in first:
        assert all(ts % 10 == 0 and call[0].start <= ts < call[0].end for ts, _ in points)


def test_a_session_still_in_the_call_keeps_its_past_points_as_time_goes_on():
    early = presences([5, 6, 7, 8], length=600)
    later = presences([5, 6, 7, 8], length=1200)
    before = sandbox_quality.series(early[0], early, 0, 2**31)
    after = sandbox_quality.series(later[0], later, 0, 2**31)
    for (mid, peer, points), (mid2, peer2, points2) in zip(before, after, strict=True):
        assert (mid, peer) == (mid2, peer2) and points2[: len(points)] == points


def test_freeze_rates_are_those_of_the_freeze_series():
    call = presences([sandbox_quality.seed_with_profile(9, sandbox_quality.POOR), 40, 41, 42], audience=(3,))
    totals, by_session = sandbox_quality.call_totals(call)
    audio = video = samples = 0
    for presence in call:
        series = sandbox_quality.series(presence, call, 0, 2**31)
        own_audio = sum(v for mid, _, points in series if mid == sandbox_quality.AUDIO_FREEZE for _, v in points)
        own_video = sum(v for mid, _, points in series if mid == sandbox_quality.VIDEO_FREEZE for _, v in points)
        count = sum(len(points) for mid, _, points in series if mid == sandbox_quality.VIDEO_FREEZE)
        session = by_session[presence.sid]
        assert (session.audio_ms, session.video_ms, session.stream_samples) == (own_audio, own_video, count)
        audio, video, samples = audio + own_audio, video + own_video, samples + count
    assert video > 0 and totals.video_rate == video / (samples * 10_000)
    assert totals.audio_rate == audio / (samples * 10_000)
    # the audience member receives but sends nothing: nobody receives from it
    assert all(peer != 4 for _, peer, _ in sandbox_quality.series(call[0], call, 0, 2**31))


def test_poor_networks_freeze_above_agoras_thresholds_and_good_ones_below():
    poor = [sandbox_quality.seed_with_profile(seed, sandbox_quality.POOR) for seed in (100, 200, 300)]
    good = [sandbox_quality.seed_with_profile(seed, sandbox_quality.GOOD) for seed in (120, 220, 320)]
    bad_call, _ = sandbox_quality.call_totals(presences(poor, length=3600))
    fine_call, _ = sandbox_quality.call_totals(presences(good, length=3600))
    assert bad_call.video_rate > sandbox_quality.agora_shapes.VIDEO_FREEZE_BAD
    assert bad_call.audio_rate > sandbox_quality.agora_shapes.AUDIO_FREEZE_BAD
    assert fine_call.video_rate < 0.02 and fine_call.audio_rate < 0.01


def test_peak_users_counts_the_most_at_once():
    start = 1_700_000_000
    spans = [(0, 100), (50, 150), (100, 200), (120, 130)]
    call = [sandbox_quality.Presence(f"S{n}", n, n, start + a, start + b, ()) for n, (a, b) in enumerate(spans)]
    assert sandbox_quality.peak_users(call) == 3


# Traffic ------------------------------------------------------------------------------------------------


def test_simulated_traffic_leaves_live_channels_refused_joins_and_troubled_calls(project):
    network, report = sandbox_traffic.simulate(
        project, start=NOW - timedelta(hours=3), end=NOW, users=80, draw=random.Random(2024)
    )
    online = SandboxSession.objects.filter(left_at__isnull=True)
    assert report.online_users == online.count() > 0 and report.online_channels >= 1
    assert report.refused == SandboxFailedJoin.objects.count() >= 2
    assert report.calls == SandboxCall.objects.count() and report.sessions == SandboxSession.objects.count()
    for call in SandboxCall.objects.all():
        still_in = call.sessions.filter(left_at__isnull=True).exists()
        assert still_in == (call.ended_at is None)
        assert NOW - timedelta(hours=3) <= call.started_at <= NOW
    assert all(session.joined_at <= NOW for session in SandboxSession.objects.all())
    rates = []
    for call in SandboxCall.objects.all():
        totals, _ = sandbox_quality.call_totals([presence_of(session, NOW) for session in call.sessions.all()])
        rates.append(totals.video_rate)
    assert any(rate > 0.05 for rate in rates) and any(rate < 0.05 for rate in rates)
    # every event of the run is there to deliver, each with its own noticeId
    assert len({n.notice_id for n in network.notifications}) == len(network.notifications) == report.notifications


def test_a_second_run_lets_the_earlier_users_leave_and_uses_other_channels(project):
    sandbox_traffic.simulate(project, start=NOW - timedelta(hours=1), end=NOW, users=20, draw=random.Random(1))
    earlier = set(SandboxSession.objects.filter(left_at__isnull=True).values_list("pk", flat=True))
    first_channels = set(SandboxCall.objects.values_list("channel_name", flat=True))
    later = NOW + timedelta(minutes=30)
    _, report = sandbox_traffic.simulate(project, start=NOW, end=later, users=20, draw=random.Random(2))
    assert report.earlier_left == len(earlier) > 0
    assert not SandboxSession.objects.filter(pk__in=earlier, left_at__isnull=True).exists()
    assert not first_channels & set(report.channels)

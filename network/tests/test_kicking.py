"""network.kicking: kicks, bans and mutes asked of the upstream over real HTTP (a fake Agora keeping rules in a
dict, network/tests/kicking_upstream.py), the console's own record written only once the upstream said yes."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEntry
from console.refusals import RuleViolation
from network import kicking
from network.models import KickingRule, SandboxRule
from usage.client import OutcomeUnknown, UpstreamClient, UpstreamError, UpstreamRefused
from usage.models import Upstream

from . import kicking_upstream
from .kicking_upstream import Fault

upstream = kicking_upstream.upstream  # the fixture


@pytest.fixture
def project(acme):
    return acme.projects[0]


@pytest.fixture
def support(acme):
    return acme.membership("cs_maintenance")


def entries(action: str):
    return AuditEntry.objects.filter(action=action)


def near(moment, expected, slack: float = 5) -> bool:
    return abs((moment - expected).total_seconds()) <= slack


# Creating ----------------------------------------------------------------------------------------------


def test_a_ban_is_asked_of_the_upstream_then_kept_and_audited(upstream, project, support):
    rule = kicking.create_rule(
        support, project, channel_name="room-42", uid=1001, privileges=["join_channel"], seconds=600
    )
    [post] = upstream.seen
    assert (post.method, post.body) == (
        "POST",
        {"appid": project.app_id, "cname": "room-42", "uid": 1001, "privileges": ["join_channel"], "time": 10},
    )
    assert post.authorization.startswith("Basic ")
    assert rule.upstream_id == 1953 and rule.upstream_id in upstream.rules
    assert (rule.channel_name, rule.uid, rule.ip, rule.privileges) == ("room-42", 1001, "", ["join_channel"])
    assert near(rule.expires_at, timezone.now() + timedelta(minutes=10))
    assert list(kicking.rules_in_force(project)) == [rule]
    [entry] = entries("kicking.rule_created")
    assert entry.actor == support.user and entry.project_id == project.pk
    assert entry.details["who"] == "UID 1001 in room-42"
    assert entry.details["what"] == "may not join"
    assert entry.details["until"] == rule.expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert entry.details["upstream_id"] == 1953 and entry.details["rule"] == rule.pk


@pytest.mark.parametrize(
    ("seconds", "sent", "lasts"),
    [
        (1, {"time_in_seconds": 10}, 10),  # Agora's floor
        (10, {"time_in_seconds": 10}, 10),
        (60, {"time": 1}, 60),  # whole minutes go as `time`
        (61, {"time_in_seconds": 61}, 61),
        (86_430, {"time_in_seconds": 86_430}, 86_430),
        (86_431, {"time_in_seconds": 86_430}, 86_430),  # Agora's ceiling
        (10**12, {"time_in_seconds": 86_430}, 86_430),
    ],
)
def test_durations_are_clamped_as_agora_clamps_them(upstream, project, support, seconds, sent, lasts):
    rule = kicking.create_rule(support, project, uid=7, privileges=["publish_audio"], seconds=seconds)
    body = upstream.seen[0].body
    assert {key: body[key] for key in ("time", "time_in_seconds") if key in body} == sent
    assert near(rule.expires_at, timezone.now() + timedelta(seconds=lasts))


def test_a_mute_of_an_ip_names_only_what_is_set(upstream, project, support):
    rule = kicking.create_rule(
        support, project, ip=" 2001:DB8::1 ", privileges=["publish_video", "publish_audio"], seconds=300
    )
    body = upstream.seen[0].body
    assert "cname" not in body and "uid" not in body
    assert body["ip"] == "2001:db8::1" and body["privileges"] == ["publish_audio", "publish_video"]
    assert rule.who == "IP 2001:db8::1" and rule.what == "may not publish audio or publish video"


def test_a_one_shot_kick_keeps_no_rule(upstream, project, support):
    assert kicking.kick(support, project, "room-42", 1001) is None
    [post] = upstream.seen
    assert post.body == {
        "appid": project.app_id,
        "cname": "room-42",
        "uid": 1001,
        "privileges": ["join_channel"],
        "time": 0,
    }
    assert not KickingRule.objects.exists() and not upstream.rules
    [entry] = entries("kicking.kicked")
    assert entry.actor == support.user and entry.details["who"] == "UID 1001 in room-42"


def test_zero_seconds_is_a_one_shot_whatever_the_target(upstream, project, support):
    assert kicking.create_rule(support, project, channel_name="lobby", privileges=["join_channel"], seconds=0) is None
    assert upstream.seen[0].body["time"] == 0 and not KickingRule.objects.exists()
    assert entries("kicking.kicked").get().details["who"] == "everyone in lobby"


def test_a_one_shot_kick_is_sent_again_when_the_upstream_failed(upstream, project, support):
    """Agora: a kick can fail (the SDK reconnecting); just call again. Kicking twice is harmless."""
    upstream.faults.append(Fault("POST", status=503))
    kicking.kick(support, project, "room-42", 1001)
    assert upstream.methods() == ["POST", "POST"]
    assert entries("kicking.kicked").count() == 1


# When the upstream does not say yes: nothing is kept ---------------------------------------------------


def test_upstream_500_leaves_nothing_and_is_not_retried(upstream, project, support):
    upstream.faults.append(Fault("POST", status=500))
    with pytest.raises(RuleViolation, match="500 Internal Server Error"):
        kicking.create_rule(support, project, uid=1001, privileges=["join_channel"], seconds=600)
    assert upstream.methods() == ["POST"]  # a POST is never repeated blindly
    assert not KickingRule.objects.exists() and not AuditEntry.objects.filter(action__startswith="kicking.").exists()


def test_refused_credentials_say_where_to_fix_them(upstream, project, support):
    upstream.faults.append(Fault("POST", status=401))
    with pytest.raises(RuleViolation, match="401 Unauthorized.*Customer ID and Secret"):
        kicking.create_rule(support, project, uid=1001, privileges=["join_channel"], seconds=600)
    assert not KickingRule.objects.exists()


def test_a_timed_out_post_is_recovered_by_listing_the_rules(upstream, project, support):
    """Agora: on a timeout, GET the rules to find the new one's id. The upstream created it, answered late."""
    upstream.rules[77] = {  # an older rule on the same target: not the one just asked for
        "id": 77,
        "appid": project.app_id,
        "uid": 1001,
        "opid": 1,
        "cname": None,
        "ip": None,
        "ts": timezone.now() + timedelta(seconds=30),
        "privileges": ["join_channel"],
        "createAt": timezone.now(),
        "updateAt": timezone.now(),
    }
    upstream.faults.append(Fault("POST", act=True, delay=2.0))  # longer than the client's timeout (1 s)
    rule = kicking.create_rule(support, project, uid=1001, privileges=["join_channel"], seconds=3600)
    assert upstream.methods() == ["POST", "GET"]
    assert upstream.seen[1].query == {"appid": project.app_id}
    assert rule.upstream_id == 1953
    assert entries("kicking.rule_created").count() == 1


def test_a_504_is_recovered_too(upstream, project, support):
    upstream.faults.append(Fault("POST", status=504, act=True))
    rule = kicking.create_rule(support, project, channel_name="room-1", privileges=["publish_video"], seconds=120)
    assert upstream.methods() == ["POST", "GET"] and rule.upstream_id == 1953


def test_a_timed_out_post_that_did_nothing_leaves_nothing(upstream, project, support):
    upstream.faults.append(Fault("POST", status=500, delay=2.0))  # no rule, and no answer in time
    with pytest.raises(RuleViolation, match="does not list such a rule"):
        kicking.create_rule(support, project, uid=1001, privileges=["join_channel"], seconds=600)
    assert upstream.methods() == ["POST", "GET"]
    assert not KickingRule.objects.exists()


def test_a_rule_known_already_is_not_adopted_twice(upstream, project, support):
    first = kicking.create_rule(support, project, uid=5, privileges=["join_channel"], seconds=600)
    KickingRule.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    upstream.faults.append(Fault("POST", status=500, delay=2.0))
    with pytest.raises(RuleViolation):  # rule 1953 matches, but is first's
        kicking.create_rule(support, project, uid=5, privileges=["join_channel"], seconds=600)
    assert KickingRule.objects.count() == 1


def test_no_upstream_no_rule(upstream, project, support, settings):
    Upstream.objects.filter(organization=project.organization).delete()
    with pytest.raises(RuleViolation, match="No upstream is configured"):
        kicking.kick(support, project, "room-42", 1001)
    settings.USAGE_UPSTREAM_URL = ""  # no default upstream, and the organization's names none
    Upstream.new_sandbox(project.organization).save()
    with pytest.raises(RuleViolation, match="No upstream is configured"):
        kicking.create_rule(support, project, uid=1, privileges=["join_channel"], seconds=60)
    assert not upstream.seen


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        ({"uid": 0}, "uid", "UID 0 names nobody"),
        ({"uid": 2**32}, "uid", "from 1 to 4294967295"),
        ({"uid": True}, "uid", "whole number"),
        ({}, None, "names a channel, a UID or an IP"),
        ({"ip": "300.1.1.1"}, "ip", "not an IPv4 or IPv6"),
        ({"channel_name": "room\n42"}, "channel_name", "control characters"),
        ({"channel_name": "é" * 33}, "channel_name", "at most 64 bytes"),
    ],
)
def test_invalid_targets_are_refused_before_asking(upstream, project, support, target, field, message):
    with pytest.raises(RuleViolation, match=message) as refusal:
        kicking.create_rule(support, project, privileges=["join_channel"], seconds=60, **target)
    assert refusal.value.field == field
    assert not upstream.seen and not KickingRule.objects.exists()


@pytest.mark.parametrize("privileges", [[], ["kick"], ["join_channel", "publish_screen"]])
def test_unknown_privileges_are_refused(upstream, project, support, privileges):
    with pytest.raises(RuleViolation) as refusal:
        kicking.create_rule(support, project, uid=1, privileges=privileges, seconds=60)
    assert refusal.value.field == "privileges" and not upstream.seen


@pytest.mark.parametrize("seconds", [-1, 1.5, "60", None])
def test_a_duration_is_a_whole_number_of_seconds(upstream, project, support, seconds):
    with pytest.raises(RuleViolation, match="whole number of seconds"):
        kicking.create_rule(support, project, uid=1, privileges=["join_channel"], seconds=seconds)


def test_a_kick_names_the_channel_and_the_user(upstream, project, support):
    with pytest.raises(RuleViolation, match="channel") as refusal:
        kicking.kick(support, project, "", 1001)
    assert refusal.value.field == "channel_name"
    with pytest.raises(RuleViolation, match="UID 0"):
        kicking.kick(support, project, "room-42", 0)
    assert not upstream.seen


# Double submits ----------------------------------------------------------------------------------------


def test_the_same_rule_asked_twice_at_once_is_made_once(upstream, project, support):
    rule = kicking.create_rule(support, project, uid=9, privileges=["join_channel"], seconds=600)
    again = kicking.create_rule(support, project, uid=9, privileges=["join_channel"], seconds=600)
    assert again == rule and upstream.methods() == ["POST"]
    assert entries("kicking.rule_created").count() == 1
    other = kicking.create_rule(support, project, uid=9, privileges=["join_channel"], seconds=1200)
    assert other != rule and upstream.methods() == ["POST", "POST"]  # another duration: another rule


def test_the_same_rule_while_the_first_is_in_flight_is_refused(upstream, project, support):
    refusals = []

    def second_submit(body):
        try:
            kicking.create_rule(support, project, uid=9, privileges=["join_channel"], seconds=600)
        except RuleViolation as refusal:
            refusals.append(str(refusal))

    upstream.faults.append(Fault("POST", hook=second_submit))
    kicking.create_rule(support, project, uid=9, privileges=["join_channel"], seconds=600)
    assert refusals == ["The same rule is being created already: wait for it, then look at the rules."]
    assert upstream.methods() == ["POST"] and KickingRule.objects.count() == 1


# Extending and removing --------------------------------------------------------------------------------


@pytest.fixture
def ban(upstream, project, support):
    rule = kicking.create_rule(
        support, project, channel_name="room-42", uid=1001, privileges=["join_channel"], seconds=600
    )
    upstream.seen.clear()
    return rule


def test_extending_counts_from_now(upstream, ban, support):
    before = ban.expires_at
    rule = kicking.extend_rule(support, ban, seconds=3 * 3600)
    [put] = upstream.seen
    assert (put.method, put.body) == ("PUT", {"appid": ban.project.app_id, "id": 1953, "time": 180})
    assert near(rule.expires_at, timezone.now() + timedelta(hours=3))
    assert KickingRule.objects.get().expires_at == rule.expires_at
    [entry] = entries("kicking.rule_extended")
    assert entry.actor == support.user
    assert entry.details["previously"] == before.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert entry.details["until"] == rule.expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_extending_can_shorten_and_is_clamped(upstream, ban, support):
    rule = kicking.extend_rule(support, ban, seconds=3)
    assert upstream.seen[0].body["time_in_seconds"] == 10
    assert near(rule.expires_at, timezone.now() + timedelta(seconds=10))
    with pytest.raises(RuleViolation, match="remove it"):
        kicking.extend_rule(support, ban, seconds=0)


def test_put_and_delete_are_retried_on_5xx_and_timeouts(upstream, ban, support):
    upstream.faults += [Fault("PUT", status=502), Fault("PUT", status=500, delay=2.0)]
    kicking.extend_rule(support, ban, seconds=1200)
    assert upstream.methods() == ["PUT", "PUT", "PUT"]
    upstream.faults.append(Fault("DELETE", status=503))
    kicking.remove_rule(support, ban)
    assert upstream.methods()[3:] == ["DELETE", "DELETE"] and not KickingRule.objects.exists()


def test_an_extension_the_upstream_refuses_changes_nothing(upstream, ban, support):
    upstream.faults += [Fault("PUT", status=500)] * 3  # every attempt
    with pytest.raises(RuleViolation, match="Could not extend rule"):
        kicking.extend_rule(support, ban, seconds=1200)
    assert KickingRule.objects.get().expires_at == ban.expires_at
    assert not entries("kicking.rule_extended").exists()


def test_removing_asks_the_upstream_then_forgets_the_rule(upstream, ban, support):
    kicking.remove_rule(support, ban)
    [delete] = upstream.seen
    assert (delete.method, delete.body) == ("DELETE", {"appid": ban.project.app_id, "id": 1953})
    assert not KickingRule.objects.exists() and not upstream.rules
    [entry] = entries("kicking.rule_removed")
    assert entry.actor == support.user and entry.details["who"] == "UID 1001 in room-42"
    with pytest.raises(RuleViolation, match="removed already"):
        kicking.remove_rule(support, ban)


def test_a_removal_the_upstream_refuses_keeps_the_rule(upstream, ban, support):
    upstream.faults.append(Fault("DELETE", status=403))
    with pytest.raises(RuleViolation, match="403 Forbidden"):
        kicking.remove_rule(support, ban)
    assert KickingRule.objects.filter(pk=ban.pk).exists()
    assert not entries("kicking.rule_removed").exists()


def test_an_expired_rule_is_neither_extended_nor_removed(upstream, ban, support):
    KickingRule.objects.filter(pk=ban.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for change in (lambda: kicking.extend_rule(support, ban, seconds=600), lambda: kicking.remove_rule(support, ban)):
        with pytest.raises(RuleViolation, match="no longer in force"):
            change()
    assert not upstream.seen
    assert list(kicking.rules_in_force(ban.project)) == []


def test_a_rule_being_changed_is_not_changed_by_another_request(upstream, ban, support):
    refusals = []

    def meanwhile(body):
        try:
            kicking.remove_rule(support, ban)
        except RuleViolation as refusal:
            refusals.append(str(refusal))

    upstream.faults.append(Fault("PUT", hook=meanwhile))
    kicking.extend_rule(support, ban, seconds=1200)
    assert refusals == [f"Rule {ban.pk} is being changed by another request: wait for it, then look again."]
    assert upstream.methods() == ["PUT"] and KickingRule.objects.filter(pk=ban.pk).exists()


def test_an_actor_of_none_is_the_console_itself(upstream, project):
    kicking.kick(None, project, "room-42", 1001)
    assert entries("kicking.kicked").get().actor_email == "system"


def test_the_duration_choices_are_whole_minutes_up_to_a_day():
    assert all(seconds % 60 == 0 and 60 <= seconds <= 86_400 for seconds, _ in kicking.DURATION_CHOICES)


# Against the built-in sandbox (network/sandbox_api.py), served by a live server ----------------------------


def test_the_sandbox_keeps_the_rules_the_console_asks_for(live_server, settings, acme):
    settings.USAGE_UPSTREAM_URL = f"{live_server.url}/sandbox"
    project, support = acme.projects[0], acme.membership("cs_maintenance")
    rule = kicking.create_rule(
        support, project, channel_name="room-42", uid=1001, privileges=["join_channel"], seconds=600
    )
    kept = SandboxRule.objects.get(pk=rule.upstream_id)
    assert (kept.project, kept.channel_name, kept.uid, kept.privileges) == (project, "room-42", 1001, ["join_channel"])
    assert near(kept.expires_at, rule.expires_at)

    rule = kicking.extend_rule(support, rule, seconds=90)
    kept.refresh_from_db()
    assert near(kept.expires_at, timezone.now() + timedelta(seconds=90)) and near(rule.expires_at, kept.expires_at, 1)

    kicking.kick(support, project, "room-42", 2002)  # a one-shot: the sandbox keeps nothing either
    assert list(SandboxRule.objects.values_list("pk", flat=True)) == [kept.pk]
    assert KickingRule.objects.count() == 1

    kicking.remove_rule(support, rule)
    assert not SandboxRule.objects.exists() and not KickingRule.objects.exists()
    actions = AuditEntry.objects.filter(action__startswith="kicking.").values_list("action", flat=True)
    assert sorted(actions) == [
        "kicking.kicked",
        "kicking.rule_created",
        "kicking.rule_extended",
        "kicking.rule_removed",
    ]


# The client's writes (usage.client.UpstreamClient.send_json) ----------------------------------------------


def client_for(url: str, **options) -> UpstreamClient:
    return UpstreamClient(url, "id", "secret", timeout=1.0, retries=2, sleep=lambda seconds: None, **options)


def test_a_post_that_never_reached_the_upstream_is_tried_again():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again below: connections are refused
    client = client_for(f"http://127.0.0.1:{port}")
    with pytest.raises(UpstreamError, match="connection refused") as failure:
        client.send_json("POST", "/dev/v1/kicking-rule", {"appid": "x"})
    assert not isinstance(failure.value, OutcomeUnknown) and client.attempts == 3


def test_answers_of_the_wrong_shape_are_refused_in_our_words(upstream):
    upstream.faults.append(Fault("POST", status=302))
    client = client_for(upstream.url)
    with pytest.raises(UpstreamError, match="a redirect, which is not followed"):
        client.create_kicking_rule({"appid": "x", "uid": 1, "privileges": ["join_channel"]})
    upstream.faults.append(Fault("PUT", status=200))  # 200 {"message": "fault"}
    with pytest.raises(UpstreamError, match="did not confirm the new duration"):
        client.update_kicking_rule({"appid": "x", "id": 5, "time": 1})
    with pytest.raises(UpstreamRefused, match="refused the request: 404 Not Found"):  # no such rule upstream
        client.update_kicking_rule({"appid": "x", "id": 5, "time": 1})
    with pytest.raises(ValueError, match="writes"):
        client.send_json("GET", "/dev/v1/kicking-rule", {})
    assert client.kicking_rules("x") == []


def test_a_user_typed_base_url_is_guarded_for_writes_too():
    client = client_for("http://127.0.0.1:9", guarded=True)
    with pytest.raises(UpstreamError, match="loopback, private or otherwise internal"):
        client.send_json("DELETE", "/dev/v1/kicking-rule", {"appid": "x", "id": 1})

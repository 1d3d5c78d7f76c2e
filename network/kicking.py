"""Kicking rules: put a user out of a channel, ban a UID, an IP or a channel for a while, or stop them
publishing, with Agora's semantics (reference section 4.4).

The console cannot act on the network itself: it asks the organization's upstream (Agora's
/dev/v1/kicking-rule; the built-in sandbox in development) and keeps its own record of each rule in force
(KickingRule, with the upstream's id). The local row is written only once the upstream said success: when it
refuses, fails or cannot be reached, nothing is written and RuleViolation says why.

What a rule covers (which of channel, UID and IP it names):
- IP only: nobody from that address may join (or publish in) any channel of the project;
- channel only: nobody may join (or publish in) that channel;
- UID only: that UID may not join (or publish in) any channel;
- channel and UID: that UID may not join (or publish in) that channel.
`join_channel` bans joining and puts out whoever is in; `publish_audio` / `publish_video` mute.

Durations follow Agora: 0 seconds is a one-shot kick (the users go offline and may rejoin at once: no rule
stays, so no row); any other duration is clamped to 10 s .. 86,430 s (24 h 30 s). A POST that got no answer
in time, or 504, may still have created the rule: the upstream's rules are then listed and a matching new one
adopted, as Agora advises. PUT and DELETE are retried on 5xx and timeouts (usage.client).

Same contract as every app's services: `(actor, project, ..., *, request=None)`, audited with the actor
(None: the console itself). Permissions (channels "manage") and project scope are the callers' to check.
"""

import hashlib
import ipaddress
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.models import Membership
from console.refusals import RuleViolation
from console.text import has_control_characters
from projects.models import Project
from usage.client import OutcomeUnknown, UpstreamClient, UpstreamError, UpstreamRefused, UpstreamRule
from usage.models import Upstream

from . import agora_shapes, ncs
from .models import KickingRule

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "kicking.kicked": "Kicked out (one-shot rule: may rejoin at once)",
    "kicking.rule_created": "Kicking rule created",
    "kicking.rule_extended": "Kicking rule extended",
    "kicking.rule_removed": "Kicking rule removed",
}

# Durations a form offers, in minutes as Agora's `time` (any whole number of seconds is taken too).
DURATION_MINUTES = (1, 5, 10, 30, 60, 120, 360, 720, 1440)
DURATION_CHOICES = [
    (minutes * 60, f"{minutes} min" if minutes < 60 else f"{minutes // 60} h") for minutes in DURATION_MINUTES
]
TIMEOUT = 20.0  # seconds; Agora asks for at least 20 s on a POST (a rule reaches every edge server)
RETRIES = 2  # PUT, DELETE and the rule list after a POST timed out: 3 attempts in all, a person is waiting
MAX_BACKOFF = 2.0
EXPIRY_SLACK = timedelta(seconds=90)  # clock skew and transit allowed when matching a rule after a timeout
DOUBLE_SUBMIT = timedelta(seconds=15)  # the same rule asked again within this: the first one's answer
BUSY_SECONDS = 180  # longer than any one operation can take (POST, then listing, with their timeouts)


# Reading -----------------------------------------------------------------------------------------------


def rules_in_force(project: Project) -> QuerySet[KickingRule]:
    """The project's rules that have not expired yet, the soonest to end first."""
    return KickingRule.objects.filter(project=project, expires_at__gt=timezone.now()).order_by("expires_at", "pk")


def clamped_seconds(seconds: object) -> int:
    """A duration as Agora takes `time_in_seconds`: 0 stays 0 (a one-shot kick), anything else is brought
    into 10 .. 86,430 s. Not a whole number of at least 0: RuleViolation."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise RuleViolation("The duration must be a whole number of seconds, at least 0.", field="seconds")
    return agora_shapes.duration_seconds({"time_in_seconds": seconds})


# Changing ----------------------------------------------------------------------------------------------


def kick(
    actor: Membership | None, project: Project, channel_name: str, uid: int, *, request: HttpRequest | None = None
) -> None:
    """Put UID `uid` out of channel `channel_name` now: Agora's one-shot kick (a rule on the channel and UID
    with `join_channel` and time 0). The user goes offline (their SDK reports BANNED_BY_SERVER) and may rejoin at
    once; no rule stays, so nothing is kept but the audit entry. Sent again by the client when the upstream did
    not answer, as Agora advises (kicking twice is harmless). RuleViolation when refused."""
    if not channel_name:
        raise RuleViolation("Name the channel to kick the user out of.", field="channel_name")
    if uid is None:
        raise RuleViolation("Name the UID of the user to kick out.", field="uid")
    create_rule(
        actor, project, channel_name=channel_name, uid=uid, privileges=["join_channel"], seconds=0, request=request
    )


def create_rule(
    actor: Membership | None,
    project: Project,
    *,
    channel_name: str = "",
    uid: int | None = None,
    ip: str = "",
    privileges: Iterable[str],
    seconds: int,
    request: HttpRequest | None = None,
) -> KickingRule | None:
    """Ban (`join_channel`) or mute (`publish_audio`, `publish_video`) whom `channel_name`, `uid` and `ip`
    name (at least one; see the module's notes for what each combination covers) for `seconds`.

    `seconds` is clamped as Agora clamps `time_in_seconds` (10 .. 86,430); 0 is a one-shot kick: the upstream
    acts at once, no rule stays, and None is returned. Otherwise the new KickingRule, written once the upstream
    confirmed it with its id. The same rule asked again within a few seconds (a double submit) returns the first
    one without asking the upstream again. Audited with whom, what and until when.

    RuleViolation (with the form field when one is at fault): no target, UID 0 or out of range, an IP that is
    not one, an unknown privilege, a channel name that is too long or holds control characters, no upstream
    configured, the upstream refused or failed (its status in our words), or the same rule is being created.
    """
    target = _target(channel_name, uid, ip)
    privileges = _privileges(privileges)
    seconds = clamped_seconds(seconds)
    signature = f"{project.pk}:{target}:{','.join(privileges)}:{seconds}"
    with _one_at_a_time(signature, "The same rule is being created already: wait for it, then look at the rules."):
        client = _client(project)
        if seconds:
            earlier = _just_created(project, target, privileges, seconds)
            if earlier is not None:
                return earlier
        body = {"appid": project.app_id, **_named(*target), "privileges": list(privileges), **duration_field(seconds)}
        words = _unsaved(target, privileges)
        doing = f"kick out {words.who}" if not seconds else f"apply the rule ({words.who} {words.what})"
        try:
            upstream_id = client.create_kicking_rule(body, retry=not seconds)
        except OutcomeUnknown:
            upstream_id = _recover(client, project, target, privileges, seconds, doing)
        except UpstreamError as error:
            raise _refusal(error, doing) from error
        return _record_new(actor, project, client, upstream_id, target, privileges, seconds, request)


def extend_rule(
    actor: Membership | None, rule: KickingRule, *, seconds: int, request: HttpRequest | None = None
) -> KickingRule:
    """Make `rule` last `seconds` from now (Agora's PUT: the new expiry counts from the request, sooner or later
    than the current one), clamped to 10 .. 86,430 s; the rule, updated. Audited with the old and new expiry.
    RuleViolation: 0 seconds (remove the rule instead), the rule expired or was removed, no upstream, the
    upstream refused or failed (retried on 5xx and timeouts first)."""
    seconds = clamped_seconds(seconds)
    if not seconds:
        raise RuleViolation("A rule lasts at least 10 seconds: to end it now, remove it.", field="seconds")
    with _one_at_a_time(f"rule:{rule.pk}", _BUSY_RULE.format(rule=rule.pk)):
        rule = _in_force(rule)
        project = rule.project
        client = _client(project)
        body = {"appid": project.app_id, "id": rule.upstream_id, **duration_field(seconds)}
        try:
            upstream_expiry = client.update_kicking_rule(body)
        except UpstreamError as error:
            raise _refusal(error, f"extend rule {rule.pk}") from error
        now = timezone.now()
        previous = rule.expires_at
        rule.expires_at, rule.updated_at = upstream_expiry or now + timedelta(seconds=seconds), now
        with transaction.atomic():
            rule.save(update_fields=["expires_at", "updated_at"])
            _audit("kicking.rule_extended", actor, rule, request, seconds=seconds, previously=_iso(previous))
        return rule


def remove_rule(actor: Membership | None, rule: KickingRule, *, request: HttpRequest | None = None) -> None:
    """End `rule` now (Agora's DELETE): whom it named may join and publish again. The local row goes once the
    upstream confirmed; the audit entry keeps what the rule was. RuleViolation: the rule expired or was removed
    already, no upstream, the upstream refused or failed (retried on 5xx and timeouts first)."""
    with _one_at_a_time(f"rule:{rule.pk}", _BUSY_RULE.format(rule=rule.pk)):
        rule = _in_force(rule)
        project = rule.project
        client = _client(project)
        try:
            client.delete_kicking_rule({"appid": project.app_id, "id": rule.upstream_id})
        except UpstreamError as error:
            raise _refusal(error, f"remove rule {rule.pk}") from error
        with transaction.atomic():
            _audit("kicking.rule_removed", actor, rule, request)
            KickingRule.objects.filter(pk=rule.pk).delete()


def duration_field(seconds: int) -> dict:
    """The duration as Agora's body carries it: whole minutes as `time` (which every version takes), other
    durations as `time_in_seconds`; 0 (a one-shot kick) as `time` 0."""
    if seconds % 60 == 0:
        return {"time": seconds // 60}
    return {"time_in_seconds": seconds}


# Helpers -----------------------------------------------------------------------------------------------

_BUSY_RULE = "Rule {rule} is being changed by another request: wait for it, then look again."
Target = tuple[str, int | None, str]  # channel name, UID, IP


def _target(channel_name: object, uid: object, ip: object) -> Target:
    channel_name = channel_name or ""
    if not isinstance(channel_name, str) or has_control_characters(channel_name):
        raise RuleViolation("A channel name is one line of text, without control characters.", field="channel_name")
    if len(channel_name.encode()) > ncs.MAX_CHANNEL_NAME:
        raise RuleViolation(f"A channel name has at most {ncs.MAX_CHANNEL_NAME} bytes.", field="channel_name")
    if uid is not None and (isinstance(uid, bool) or not isinstance(uid, int) or not 0 < uid <= agora_shapes.MAX_UID):
        message = (
            "UID 0 names nobody (the network gives such users a UID): give the user's UID."
            if uid == 0
            else f"A UID is a whole number from 1 to {agora_shapes.MAX_UID}."
        )
        raise RuleViolation(message, field="uid")
    address = ""
    if ip:
        try:
            address = str(ipaddress.ip_address(str(ip).strip()))
        except ValueError:
            raise RuleViolation("The IP address is not an IPv4 or IPv6 address.", field="ip") from None
    if not (channel_name or uid or address):
        raise RuleViolation("A rule names a channel, a UID or an IP address (or several of them).")
    return channel_name, uid, address


def _privileges(privileges: Iterable[str]) -> tuple[str, ...]:
    if isinstance(privileges, str):
        privileges = [privileges]
    chosen = tuple(dict.fromkeys(privileges or ()))
    if not chosen:
        raise RuleViolation("Choose what the rule forbids: joining, publishing audio or video.", field="privileges")
    unknown = [item for item in chosen if item not in agora_shapes.PRIVILEGES]
    if unknown:
        raise RuleViolation(
            f"Unknown privilege {unknown[0]!r}: the choices are {', '.join(agora_shapes.PRIVILEGES)}.",
            field="privileges",
        )
    return tuple(item for item in agora_shapes.PRIVILEGES if item in chosen)  # Agora's order, whatever was given


def _unsaved(target: Target, privileges: tuple[str, ...]) -> KickingRule:
    """A rule that is not stored, for its words (KickingRule.who and .what)."""
    channel_name, uid, ip = target
    return KickingRule(channel_name=channel_name, uid=uid, ip=ip, privileges=list(privileges))


def _named(channel_name: str, uid: int | None, ip: str) -> dict:
    """The target fields of Agora's body: only those set (Agora refuses uid 0 and ip 0)."""
    return {
        **({"cname": channel_name} if channel_name else {}),
        **({"uid": uid} if uid else {}),
        **({"ip": ip} if ip else {}),
    }


def _client(project: Project) -> UpstreamClient:
    upstream = Upstream.objects.filter(organization=project.organization_id).first()
    if upstream is None or not upstream.effective_url:
        raise RuleViolation(
            "No upstream is configured for this organization: the console acts on channels through it. An Admin "
            "sets it under Usage → Settings."
        )
    return UpstreamClient.for_upstream(upstream, timeout=TIMEOUT, retries=RETRIES, max_backoff=MAX_BACKOFF)


@contextmanager
def _one_at_a_time(key: str, busy: str) -> Iterator[None]:
    """One request at a time for `key` (a rule, or the same new rule asked twice at once): the other is refused
    with `busy` rather than sent to the upstream a second time."""
    marker = f"kicking-busy:{hashlib.sha256(key.encode()).hexdigest()}"  # any channel name, a safe key
    if not cache.add(marker, 1, timeout=BUSY_SECONDS):
        raise RuleViolation(busy)
    try:
        yield
    finally:
        cache.delete(marker)


def _just_created(project: Project, target: Target, privileges: tuple[str, ...], seconds: int) -> KickingRule | None:
    """The same rule, for the same duration, created moments ago (a double submit), or None."""
    channel_name, uid, ip = target
    recent = KickingRule.objects.filter(
        project=project,
        channel_name=channel_name,
        uid=uid,
        ip=ip,
        created_at__gte=timezone.now() - DOUBLE_SUBMIT,
        expires_at__gt=timezone.now(),
    ).order_by("-pk")
    for rule in recent:
        asked = rule.expires_at - rule.created_at
        if tuple(rule.privileges) == privileges and abs(asked - timedelta(seconds=seconds)) <= timedelta(seconds=2):
            return rule
    return None


def _recover(
    client: UpstreamClient,
    project: Project,
    target: Target,
    privileges: tuple[str, ...],
    seconds: int,
    doing: str,
) -> int:
    """After a POST that may or may not have worked: the id of the matching rule the upstream lists that no
    local row has yet (the newest if several), as Agora advises. A one-shot kick leaves nothing to find: its
    POST is retried instead (create_kicking_rule's `retry`), so it never comes here."""
    try:
        listed = client.kicking_rules(project.app_id)
    except UpstreamError as error:
        raise RuleViolation(
            f"Could not {doing}: the upstream did not answer in time, and listing its rules failed too "
            f"({error}) so whether the rule exists there is unknown. Look at the rules in force before trying again."
        ) from error
    now = timezone.now()
    known = set(KickingRule.objects.filter(project=project).values_list("upstream_id", flat=True))
    matching = [
        rule
        for rule in listed
        if rule.id not in known
        and _same(rule, target, privileges)
        and abs(rule.expires_at - (now + timedelta(seconds=seconds))) <= EXPIRY_SLACK + timedelta(seconds=TIMEOUT)
    ]
    if not matching:
        raise RuleViolation(
            f"Could not {doing}: the upstream did not answer in time and does not list such a rule, so it was "
            "most likely not created. Try again."
        )
    return max(matching, key=lambda rule: (rule.expires_at, rule.id)).id


def _same(listed: UpstreamRule, target: Target, privileges: tuple[str, ...]) -> bool:
    channel_name, uid, ip = target
    try:
        listed_ip = str(ipaddress.ip_address(listed.ip)) if listed.ip else ""
    except ValueError:
        return False
    return (listed.channel_name, listed.uid, listed_ip) == (channel_name, uid, ip) and set(listed.privileges) == set(
        privileges
    )


def _record_new(
    actor: Membership | None,
    project: Project,
    client: UpstreamClient,
    upstream_id: int,
    target: Target,
    privileges: tuple[str, ...],
    seconds: int,
    request: HttpRequest | None,
) -> KickingRule | None:
    """The rule the upstream confirmed, written and audited together. Should the write fail, the upstream's
    rule is removed again so that no rule goes on that the console does not know of."""
    channel_name, uid, ip = target
    if not seconds:
        words = _unsaved(target, privileges)
        details = {"who": words.who, "what": words.what, "upstream_id": upstream_id}
        audit.record_about_project("kicking.kicked", actor=actor, project=project, request=request, **details)
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            rule = KickingRule.objects.create(
                project=project,
                upstream_id=upstream_id,
                channel_name=channel_name,
                uid=uid,
                ip=ip,
                privileges=list(privileges),
                expires_at=now + timedelta(seconds=seconds),
                created_at=now,
                updated_at=now,
            )
            _audit("kicking.rule_created", actor, rule, request, seconds=seconds)
    except Exception:
        try:
            client.delete_kicking_rule({"appid": project.app_id, "id": upstream_id})
        except UpstreamError:
            pass  # the upstream ends it when it expires
        raise
    return rule


def _in_force(rule: KickingRule) -> KickingRule:
    """The rule as stored now, with its project; RuleViolation when it was removed or has expired."""
    current = KickingRule.objects.select_related("project__organization").filter(pk=rule.pk).first()
    if current is None:
        raise RuleViolation(f"Rule {rule.pk} was removed already.")
    if current.upstream_id is None:
        raise RuleViolation(f"Rule {rule.pk} has no id at the upstream: the console cannot change it there.")
    if current.expires_at <= timezone.now():
        raise RuleViolation(
            f"Rule {rule.pk} ended at {current.expires_at:%Y-%m-%d %H:%M:%S} UTC: it is no longer in force. "
            "Create a new one if needed."
        )
    return current


def _refusal(error: UpstreamError, doing: str) -> RuleViolation:
    message = f"Could not {doing}. {error}"
    if isinstance(error, UpstreamRefused) and error.status in (401, 403):
        message += " Check the upstream's Customer ID and Secret under Usage → Settings."
    return RuleViolation(message)


def _iso(moment: datetime) -> str:
    return agora_shapes.iso(moment)


def _audit(
    action: str, actor: Membership | None, rule: KickingRule, request: HttpRequest | None, **extra: object
) -> None:
    details = {
        "rule": rule.pk,
        "upstream_id": rule.upstream_id,
        "who": rule.who,
        "what": rule.what,
        "until": _iso(rule.expires_at),
        **extra,
    }
    audit.record_about_project(action, actor=actor, project=rule.project, request=request, **details)

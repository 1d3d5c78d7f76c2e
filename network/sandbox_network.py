"""The network the sandbox plays in development: channels of a project, the users in them, and the signed
notifications Agora's Notification Center would send the console about them.

- A user joins with a token. The sandbox verifies it as the network would (tokens.accesstoken2): read, for
  the project's App ID, signed by one of the project's enabled certificates, not expired, for that channel
  and UID, with the join privilege. Otherwise the join is refused and kept as a SandboxFailedJoin, as is a
  join that a kicking rule in force forbids. A project in "App ID only" mode lets users in without a token.
- uid 0 (or a user account) gets a UID from the network. A second user joining a channel with the UID of a
  user already in it pushes the older one out (leave reason 5).
- A call opens with the first join of an empty channel (24-hex call id, event 101) and closes with the last
  leave (event 102 with lastUid). Each user's time in it is a SandboxSession (32-hex uppercase sid, role,
  client, seed); its metrics are drawn from the seed when asked for (sandbox_quality), never stored.
- Every join, leave and role change is a notification (103-108, 111, 112) with a clientSeq that increases per
  user and a noticeId of its own. The Courier delivers them signed (ncs.signatures, both headers) over HTTP
  to the console's receiving URL of the project, as Agora would, only when the project's notifications are
  enabled (the secret and event types come from there: Agora holds the same), with the duplicates,
  reordering and loss of NETWORK_SANDBOX_FAULTS.

Times are those of the simulation (`at`): simulate_traffic plays minutes that ended now.
"""

import hashlib
import json
import random
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import requests
from django.conf import settings
from django.db.models import Max, QuerySet
from django.urls import reverse

from projects.models import Project
from tokens import accesstoken2 as at2
from tokens import rules as token_rules
from tokens.services import build_with_credentials

from . import ncs, sandbox_quality
from .models import NotificationSettings, SandboxCall, SandboxFailedJoin, SandboxRule, SandboxSession

# Leave reasons (reference section 5.3)
LEAVE_NORMAL, LEAVE_TIMEOUT, LEAVE_BANNED, LEAVE_SAME_UID = 1, 2, 3, 5
PUBLISHERS = (ncs.HOST, ncs.COMMUNICATION)
LINUX = 6
CLOUD_RECORDING = 10
TOKEN_SECONDS = 3600
JOIN_CHANNEL = "join_channel"
PLATFORM_NAMES = {1: "Android", 2: "iOS", 5: "Windows", 6: "Linux", 7: "Web", 8: "macOS", 0: "Other"}


# Clients ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """What a simulated user runs and where it is."""

    platform: int
    sdk_version: str
    device_type: str
    network: str
    region: str
    ip: str
    client_type: int | None = None  # Linux only: 10 is Agora's cloud recording

    @property
    def sends_communication_events(self) -> bool:
        """v3 SDKs report communication users with 107/108; v4 ones as broadcasters (103/104)."""
        return is_legacy_sdk(self.sdk_version)


def is_legacy_sdk(sdk_version: str) -> bool:
    major = sdk_version.split(".")[0]
    return major.isdigit() and int(major) < 4


_DEVICES = {
    1: (
        "Pixel 8 (Android 14)",
        "Samsung SM-S911B (Android 14)",
        "Xiaomi 2201117TG (Android 13)",
        "Pixel 6a (Android 13)",
    ),
    2: ("iPhone15,2 (iOS 17.4)", "iPhone14,5 (iOS 16.7)", "iPad13,4 (iPadOS 17.2)"),
    5: ("Windows 11 x64", "Windows 10 x64"),
    7: (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    ),
    8: ("MacBookPro18,1 (macOS 14.4)", "Macmini9,1 (macOS 13.6)"),
}
_SDKS = {1: ("4.3.1", "4.2.6", "3.7.2"), 2: ("4.3.1", "4.2.6", "3.7.2"), 5: ("4.3.1", "3.7.2"), 7: ("4.20.2", "4.18.0")}
_REGIONS = (
    "United States:California",
    "United States:New York",
    "Germany:Berlin",
    "United Kingdom:England",
    "India:Maharashtra",
    "Pakistan:Sindh",
    "Brazil:Sao Paulo",
    "Japan:Tokyo",
    "Singapore:Singapore",
    "Nigeria:Lagos",
)
_DOCUMENTATION_NETWORKS = ("192.0.2", "198.51.100", "203.0.113")  # addresses that belong to nobody


def random_client(draw: random.Random, *, recorder: bool = False) -> Client:
    ip = f"{draw.choice(_DOCUMENTATION_NETWORKS)}.{draw.randint(1, 254)}"
    if recorder:
        return Client(LINUX, "4.3.1", "Cloud Recording", "LAN", "United States:Virginia", ip, CLOUD_RECORDING)
    platform = draw.choices((1, 2, 5, 7, 8), weights=(30, 25, 12, 25, 8))[0]
    networks = ("Wi-Fi", "4G", "5G") if platform in (1, 2) else ("Wi-Fi", "LAN")
    sdk = draw.choice(_SDKS.get(platform, ("4.3.1",)))
    return Client(platform, sdk, draw.choice(_DEVICES[platform]), draw.choice(networks), draw.choice(_REGIONS), ip)


# Notifications ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    notice_id: str
    event_type: int
    payload: dict


def new_notice_id(event_type: int) -> str:
    """Shaped like Agora's ("2000001428:4330:107"), unique per event: a re-delivery keeps it."""
    return f"{secrets.randbelow(10**10):010d}:{secrets.randbelow(10**4):04d}:{event_type}"


def seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# The network of one project -----------------------------------------------------------------------------


class Network:
    """A project's channels as the network sees them. Each change is written at once (SandboxCall,
    SandboxSession, SandboxFailedJoin) and its notifications appended to `notifications`, which the caller
    hands to a Courier."""

    def __init__(self, project: Project, *, draw: random.Random | None = None):
        self.project = project
        self.draw = draw or random.Random()
        certificates = list(project.certificates.all())
        self.certificates = [certificate.value for certificate in certificates if certificate.enabled]
        self.primary = next((c.value for c in certificates if c.slot == c.Slot.PRIMARY and c.enabled), None)
        self.notifications: list[Notification] = []
        self._sequences: dict[tuple[str, int], int] = {}
        self._rules: list[SandboxRule] | None = None
        self.pushed_out = 0  # sessions pushed out by the same UID joining again
        self.calls_opened = 0

    # Tokens, as the customer's token server signs them and as the network checks them -------------------

    def issue_token(
        self, channel: str, user: int | str, *, at: datetime, publisher: bool = True, expire: int = TOKEN_SECONDS
    ) -> str:
        """An RTC token for `user` (a UID, 0 for any, or a user account) signed with the primary certificate,
        issued a few seconds before `at`; "" when the project has no enabled primary (App ID only)."""
        if self.primary is None:
            return ""
        return sign_token(self.project.app_id, self.primary, channel, user, at=at, publisher=publisher, expire=expire)

    def check_token(self, token: str, channel: str, user: int | str, at: datetime) -> str:
        """Why the network refuses `token` for this join at `at`, or "" when it lets the user in."""
        if not token:
            if self.project.accepts_app_id_only:
                return ""
            return "No token: the project requires one (App ID + Token)."
        if not self.certificates:
            return "" if self.project.accepts_app_id_only else "The project has no enabled certificate."
        return token_problem(token, self.project.app_id, self.certificates, channel, user, at)

    # Joining and leaving -------------------------------------------------------------------------------

    def join(
        self,
        channel: str,
        user: int | str,
        *,
        token: str,
        role: int,
        client: Client,
        at: datetime,
        seed: int | None = None,
    ) -> SandboxSession | None:
        """`user` (a UID, 0 to be given one, or a user account) joins `channel` in `role`. The session, or
        None when the join is refused (then recorded as a SandboxFailedJoin)."""
        requested = user if isinstance(user, int) else 0
        if not self.project.enabled or self.project.is_archived:
            self._refuse(channel, requested, at, "The project is disabled.")
            return None
        problem = self.check_token(token, channel, user, at)
        if problem:
            self._refuse(channel, requested, at, problem)
            return None
        uid = self._uid_for(channel, user)
        rule = self.rule_against(channel, uid, client.ip, at)
        if rule is not None:
            self._refuse(channel, uid, at, f"Banned from joining by kicking rule {rule.pk}.")
            return None
        for older in self.online(channel).filter(uid=uid):
            # the call goes on: the newcomer takes the older one's place
            self.leave(older, at, LEAVE_SAME_UID, keep_call=True)
            self.pushed_out += 1
        call = self.online_call(channel) or self._open_call(channel, at)
        session = SandboxSession.objects.create(
            call=call,
            sid=secrets.token_hex(16).upper(),
            uid=uid,
            role=role,
            platform=client.platform,
            network=client.network,
            region=client.region,
            sdk_version=client.sdk_version,
            device_type=client.device_type,
            account=user if isinstance(user, str) else "",
            ip=client.ip,
            joined_at=at,
            client_seq=self._next_sequence(channel, uid, at),
            seed=self.draw.getrandbits(62) if seed is None else seed,
        )
        self._emit(join_event(role, session.sdk_version), self._presence_payload(session, at, client.client_type))
        return session

    def leave(
        self, session: SandboxSession, at: datetime, reason: int = LEAVE_NORMAL, *, keep_call: bool = False
    ) -> None:
        """The user leaves (reason 1 normal, 3 kicked, 5 pushed out by the same UID...); the last one out
        closes the call, unless someone takes its place at once (`keep_call`)."""
        channel = session.call.channel_name
        session.left_at, session.leave_reason = at, reason
        session.client_seq = self._next_sequence(channel, session.uid, at)
        session.save(update_fields=["left_at", "leave_reason", "client_seq"])
        payload = self._presence_payload(session, at, CLOUD_RECORDING if session.platform == LINUX else None)
        payload["reason"] = reason
        payload["duration"] = max(0, seconds(at) - seconds(session.joined_at))
        self._emit(leave_event(session.role, session.sdk_version), payload)
        if not keep_call and not SandboxSession.objects.filter(call=session.call, left_at__isnull=True).exists():
            call = session.call
            call.ended_at = at
            call.save(update_fields=["ended_at"])
            self._emit(ncs.CHANNEL_DESTROYED, {"channelName": channel, "ts": seconds(at), "lastUid": session.uid})

    def change_role(self, session: SandboxSession, role: int, at: datetime) -> None:
        """A live user becomes host (111) or audience (112); communication users have no roles to change."""
        if role == session.role or ncs.COMMUNICATION in (role, session.role):
            return
        channel = session.call.channel_name
        session.role_changes = [*session.role_changes, [seconds(at), session.role, role]]
        session.role = role
        session.client_seq = self._next_sequence(channel, session.uid, at)
        session.save(update_fields=["role", "role_changes", "client_seq"])
        payload = {"channelName": channel, "uid": session.uid, "clientSeq": session.client_seq, "ts": seconds(at)}
        self._emit(ncs.BECAME_BROADCASTER if role == ncs.HOST else ncs.BECAME_AUDIENCE, payload)

    def kick(self, rule: SandboxRule, at: datetime) -> list[SandboxSession]:
        """Push out every user online that a join_channel rule names (leave reason 3)."""
        if JOIN_CHANNEL not in rule.privileges:
            return []
        kicked = [session for session in self.online().order_by("joined_at") if rule_matches(rule, session)]
        for session in kicked:
            self.leave(session, at, LEAVE_BANNED)
        return kicked

    # What is there ------------------------------------------------------------------------------------

    def online(self, channel: str | None = None) -> QuerySet[SandboxSession]:
        sessions = SandboxSession.objects.filter(call__project=self.project, left_at__isnull=True)
        if channel is not None:
            sessions = sessions.filter(call__channel_name=channel)
        return sessions.select_related("call")

    def online_call(self, channel: str) -> SandboxCall | None:
        return SandboxCall.objects.filter(project=self.project, channel_name=channel, ended_at__isnull=True).first()

    def rule_against(self, channel: str, uid: int, ip: str, at: datetime) -> SandboxRule | None:
        """The join_channel rule in force at `at` that forbids this join, if any."""
        if self._rules is None:
            self._rules = list(SandboxRule.objects.filter(project=self.project))  # joins may be in the past
        for rule in self._rules:
            if rule.created_at <= at < rule.expires_at and JOIN_CHANNEL in rule.privileges:
                if rule_matches_join(rule, channel, uid, ip):
                    return rule
        return None

    # Inside -------------------------------------------------------------------------------------------

    def _refuse(self, channel: str, uid: int, at: datetime, reason: str) -> None:
        SandboxFailedJoin.objects.create(
            project=self.project, channel_name=channel, uid=uid, attempted_at=at, reason=reason[:200]
        )

    def _uid_for(self, channel: str, user: int | str) -> int:
        """The UID given: the one asked for; for a user account always the same one in the project; for 0
        one nobody in the channel has."""
        if isinstance(user, str):
            digest = hashlib.sha256(f"{self.project.app_id}:{user}".encode()).digest()
            return int.from_bytes(digest[:4], "big") % (ncs.MAX_U32 - 1) + 1
        if user:
            return user
        taken = set(self.online(channel).values_list("uid", flat=True))
        while True:
            uid = self.draw.randint(100_000_000, ncs.MAX_U32)
            if uid not in taken:
                return uid

    def _open_call(self, channel: str, at: datetime) -> SandboxCall:
        call = SandboxCall.objects.create(
            project=self.project, call_id=secrets.token_hex(12), channel_name=channel, started_at=at
        )
        self.calls_opened += 1
        self._emit(ncs.CHANNEL_CREATED, {"channelName": channel, "ts": seconds(at)})
        return call

    def _next_sequence(self, channel: str, uid: int, at: datetime) -> int:
        """The user's next clientSeq: the event's time in ms, and always above the user's previous one."""
        key = (channel, uid)
        if key not in self._sequences:
            found = SandboxSession.objects.filter(
                call__project=self.project, call__channel_name=channel, uid=uid
            ).aggregate(last=Max("client_seq"))["last"]
            self._sequences[key] = found or 0
        self._sequences[key] = max(self._sequences[key] + 1, milliseconds(at))
        return self._sequences[key]

    def _presence_payload(self, session: SandboxSession, at: datetime, client_type: int | None) -> dict:
        payload = {"channelName": session.call.channel_name, "uid": session.uid, "platform": session.platform}
        if session.platform == LINUX and client_type is not None:
            payload["clientType"] = client_type
        payload.update(clientSeq=session.client_seq, ts=seconds(at))
        return payload

    def _emit(self, event_type: int, payload: dict) -> None:
        self.notifications.append(Notification(new_notice_id(event_type), event_type, payload))


def join_event(role: int, sdk_version: str) -> int:
    if role == ncs.AUDIENCE:
        return ncs.AUDIENCE_JOINED
    if role == ncs.COMMUNICATION and is_legacy_sdk(sdk_version):
        return ncs.COMMUNICATION_JOINED
    return ncs.BROADCASTER_JOINED


def leave_event(role: int, sdk_version: str) -> int:
    return join_event(role, sdk_version) + 1


def rule_matches_join(rule: SandboxRule, channel: str, uid: int, ip: str) -> bool:
    """Agora's scopes: each of cname, uid and ip that the rule names must match (section 4.4)."""
    return (
        (not rule.channel_name or rule.channel_name == channel)
        and (rule.uid is None or rule.uid == uid)
        and (not rule.ip or rule.ip == ip)
    )


def rule_matches(rule: SandboxRule, session: SandboxSession) -> bool:
    return rule_matches_join(rule, session.call.channel_name, session.uid, session.ip)


# Tokens -------------------------------------------------------------------------------------------------


def sign_token(
    app_id: str,
    certificate: str,
    channel: str,
    user: int | str,
    *,
    at: datetime,
    publisher: bool = True,
    expire: int = TOKEN_SECONDS,
    issued_before: int = 5,
) -> str:
    """An RTC token built by the tokens app's builder, issued `issued_before` seconds before `at`."""
    params: dict = {"channel": channel, "role": "publisher" if publisher else "subscriber", "expire": expire}
    params["account" if isinstance(user, str) else "uid"] = user
    issued = build_with_credentials(app_id, certificate, "rtc", params, issue_ts=seconds(at) - issued_before)
    return issued.token


def token_problem(
    token: str, app_id: str, certificates: Iterable[str], channel: str, user: int | str, at: datetime
) -> str:
    """Why `token` does not let `user` into `channel` of the project at `at` ("" when it does)."""
    try:
        parsed = at2.parse(token)
    except at2.TokenError as error:
        return f"The token cannot be read: {error}"
    if parsed.app_id.lower() != app_id.lower():
        return "The token was issued for another App ID."
    if not any(parsed.verify(certificate) for certificate in certificates):
        return "No enabled certificate of the project signed the token."
    now = at.timestamp()
    if parsed.is_expired(now):
        return "The token has expired."
    rtc = next((service for service in parsed.services if service.type == at2.RTC), None)
    if rtc is None:
        return "The token grants no RTC privilege."
    if rtc.fields.get("channel_name") != channel:
        return "The token is for another channel."
    if rtc.fields.get("uid") not in ("", at2.uid_text(user)):
        return "The token is for another UID."
    join = rtc.privileges.get(at2.JOIN_CHANNEL)
    if join is None:
        return "The token does not grant joining a channel."
    if join and now > parsed.issue_ts + join:
        return "The token's join privilege has expired."
    return ""


BAD_TOKENS = ("wrong_certificate", "expired", "other_project", "other_channel")


def bad_token(network: Network, kind: str, channel: str, user: int | str, at: datetime) -> str:
    """A token the network must refuse, of one of the BAD_TOKENS kinds (what goes wrong in real apps: a token
    server with an old certificate, a token kept too long, a token of another app or another channel)."""
    app_id = network.project.app_id
    if kind == "wrong_certificate":
        return sign_token(app_id, secrets.token_hex(16), channel, user, at=at)
    if kind == "expired":
        return sign_token(app_id, network.primary or secrets.token_hex(16), channel, user, at=at, issued_before=7200)
    if kind == "other_project":
        other = (
            Project.objects.filter(organization_id=network.project.organization_id)
            .exclude(pk=network.project.pk)
            .prefetch_related("certificates")
            .first()
        )
        primary = other.primary if other is not None else None
        if other is not None and primary is not None:
            return sign_token(other.app_id, primary.value, channel, user, at=at)
        return sign_token(secrets.token_hex(16), secrets.token_hex(16), channel, user, at=at)
    other_channel = f"{channel}-x"[: token_rules.MAX_CHANNEL_BYTES]
    return sign_token(app_id, network.primary or secrets.token_hex(16), other_channel, user, at=at)


# The quality of what happened ---------------------------------------------------------------------------


def presence_of(session: SandboxSession, clock: datetime) -> sandbox_quality.Presence:
    """The session for the quality model: until it left, or until `clock` while it is in the call."""
    start = seconds(session.joined_at)
    end = max(start, seconds(session.left_at or clock))
    changes = session.role_changes or []
    role = changes[0][1] if changes else session.role
    spans, since = [], start
    for ts, _before, after in changes:
        if role in PUBLISHERS and ts > since:
            spans.append((since, min(ts, end)))
        role, since = after, max(since, ts)
    if role in PUBLISHERS and end > since:
        spans.append((since, end))
    return sandbox_quality.Presence(session.sid, session.uid, session.seed, start, end, tuple(spans), session.network)


def roles_of(session: SandboxSession) -> list[str]:
    """Every role the session had, as Agora Analytics names them."""
    names = {ncs.HOST: "HOST", ncs.AUDIENCE: "AUDIENCE", ncs.COMMUNICATION: "COMMUNICATION"}
    roles = [session.role_changes[0][1]] if session.role_changes else []
    roles += [after for _, _, after in session.role_changes] + [session.role]
    return list(dict.fromkeys(names[role] for role in roles))


# Delivering notifications -------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    notifications: int = 0  # handed to the courier
    sent: int = 0  # deliveries the console answered 200 (duplicates included)
    duplicated: int = 0
    reordered: int = 0
    dropped: int = 0  # lost on purpose (loss_rate)
    failed: int = 0  # given up after Agora's retries
    unsubscribed: int = 0  # event types the project's settings do not subscribe to
    url: str = ""

    def add(self, other: "DeliveryReport") -> None:
        for name in ("notifications", "sent", "duplicated", "reordered", "dropped", "failed", "unsubscribed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.url = self.url or other.url


def console_url() -> str:
    """Where the sandbox finds the console when no request tells it: SITE_URL, else what `make run` serves."""
    return settings.SITE_URL or f"http://127.0.0.1:{settings.PORT}"


def faults() -> dict:
    return dict(getattr(settings, "NETWORK_SANDBOX_FAULTS", None) or {})


@dataclass
class Courier:
    """Delivers one project's notifications as Agora's Notification Center does: signed over the exact bytes
    sent, answered 200 or sent again (up to 3 retries, a new notifyMs each time), and, with the fault
    settings, some sent twice, some held back behind later ones, some never sent."""

    url: str
    secret: str
    event_types: frozenset[int]
    fault_rates: dict = field(default_factory=dict)
    draw: random.Random = field(default_factory=random.Random)
    timeout: float = 10.0
    retries: int = 3

    @classmethod
    def for_project(
        cls, project: Project, base_url: str, *, fault_rates: dict | None = None, draw: random.Random | None = None
    ) -> "Courier | None":
        """The project's courier, or None when its notifications are not enabled (Agora sends nothing)."""
        receiving = NotificationSettings.objects.filter(project=project, enabled=True).first()
        if receiving is None:
            return None
        path = reverse("network:agora_notification", kwargs={"project_id": project.project_id})
        return cls(
            url=f"{base_url.rstrip('/')}{path}",
            secret=receiving.secret,
            event_types=frozenset(receiving.event_types or []),
            fault_rates=faults() if fault_rates is None else fault_rates,
            draw=draw or random.Random(),
        )

    def deliver(self, notifications: Iterable[Notification]) -> DeliveryReport:
        report = DeliveryReport(url=self.url)
        held: list[list] = []  # [sends to wait, notification]
        for notification in notifications:
            report.notifications += 1
            if notification.event_type not in self.event_types:
                report.unsubscribed += 1
                continue
            if self.draw.random() < self.fault_rates.get("loss_rate", 0):
                report.dropped += 1
                continue
            if self.draw.random() < self.fault_rates.get("reorder_rate", 0):
                held.append([self.draw.randint(1, 3), notification])
                report.reordered += 1
                continue
            self._send_with_faults(notification, report)
            for entry in held:
                entry[0] -= 1
            for entry in [entry for entry in held if entry[0] <= 0]:
                held.remove(entry)
                self._send_with_faults(entry[1], report)
        for _, notification in held:
            self._send_with_faults(notification, report)
        return report

    def _send_with_faults(self, notification: Notification, report: DeliveryReport) -> None:
        self._send(notification, report)
        if self.draw.random() < self.fault_rates.get("duplicate_rate", 0):
            report.duplicated += 1
            self._send(notification, report)

    def _send(self, notification: Notification, report: DeliveryReport) -> None:
        # A connection per delivery: development servers stall ~40 ms on a kept-alive connection's POSTs.
        for _ in range(1 + self.retries):
            body = notification_body(notification)
            sha1, sha256 = ncs.signatures(self.secret, body)
            headers = {"Content-Type": "application/json", "Agora-Signature": sha1, "Agora-Signature-V2": sha256}
            try:
                response = requests.post(self.url, data=body, headers=headers, timeout=self.timeout)
            except requests.RequestException:
                continue
            if response.status_code == 200:
                report.sent += 1
                return
        report.failed += 1


def notification_body(notification: Notification) -> bytes:
    """The bytes of one delivery: notifyMs is when it is sent, so each delivery's bytes (and signatures)
    differ while the noticeId stays."""
    message = {
        "noticeId": notification.notice_id,
        "productId": ncs.RTC_PRODUCT,
        "eventType": notification.event_type,
        "notifyMs": int(time.time() * 1000),
        "payload": notification.payload,
    }
    return json.dumps(message, separators=(",", ":")).encode()


# Deliveries started by an API call (a kick) go out after the answer, as Agora's do; tests wait for them.
_deliveries: list[threading.Thread] = []
_deliveries_lock = threading.Lock()


def deliver_later(courier: "Courier | None", notifications: list[Notification]) -> None:
    if courier is None or not notifications:
        return
    thread = threading.Thread(target=courier.deliver, args=(notifications,), daemon=True, name="sandbox-ncs")
    with _deliveries_lock:
        _deliveries[:] = [running for running in _deliveries if running.is_alive()]
        _deliveries.append(thread)
    thread.start()


def wait_for_deliveries(timeout: float = 30.0) -> None:
    """Wait until the deliveries started by API calls are done (tests)."""
    deadline = time.monotonic() + timeout
    with _deliveries_lock:
        running = list(_deliveries)
    for thread in running:
        thread.join(max(0.0, deadline - time.monotonic()))

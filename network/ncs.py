"""Agora's Notification Center Service (NCS) as the console receives it: the signatures over the raw body,
the RTC channel event types, and the checks of a notification's fields. Pure functions, no database.

Agora signs the exact bytes it sends with the project's notification secret: `Agora-Signature` (HMAC-SHA1,
hex) and `Agora-Signature-V2` (HMAC-SHA256, hex). The body must be verified before it is parsed: JSON read
and written again would not give the same bytes.
"""

import hmac
import json
from dataclasses import dataclass

from console.refusals import RuleViolation

MAX_BODY = 64 * 1024  # bytes; an RTC notification is a few hundred
MAX_NOTICE_ID = 128
MAX_CHANNEL_NAME = 64  # bytes, Agora's limit on a channel name
MAX_U32 = 2**32 - 1
MAX_SEQUENCE = 2**63 - 1

CHANNEL_CREATED, CHANNEL_DESTROYED = 101, 102
BROADCASTER_JOINED, BROADCASTER_LEFT = 103, 104
AUDIENCE_JOINED, AUDIENCE_LEFT = 105, 106
COMMUNICATION_JOINED, COMMUNICATION_LEFT = 107, 108
BECAME_BROADCASTER, BECAME_AUDIENCE = 111, 112

EVENT_NAMES = {
    CHANNEL_CREATED: "Channel created",
    CHANNEL_DESTROYED: "Channel destroyed",
    BROADCASTER_JOINED: "Host joined",
    BROADCASTER_LEFT: "Host left",
    AUDIENCE_JOINED: "Audience joined",
    AUDIENCE_LEFT: "Audience left",
    COMMUNICATION_JOINED: "User joined (communication)",
    COMMUNICATION_LEFT: "User left (communication)",
    BECAME_BROADCASTER: "Became host",
    BECAME_AUDIENCE: "Became audience",
}
# Roles of a user in a channel (Agora's numbering in its presence sample: 1 host, 2 audience).
HOST, AUDIENCE, COMMUNICATION = 1, 2, 0
# Presence events: whether the user is online after it, and in which role. Both families are handled:
# v4 SDKs send 103/104 in the communication profile, some send 107/108.
PRESENCE = {
    BROADCASTER_JOINED: (True, HOST),
    BROADCASTER_LEFT: (False, HOST),
    AUDIENCE_JOINED: (True, AUDIENCE),
    AUDIENCE_LEFT: (False, AUDIENCE),
    COMMUNICATION_JOINED: (True, COMMUNICATION),
    COMMUNICATION_LEFT: (False, COMMUNICATION),
    BECAME_BROADCASTER: (True, HOST),
    BECAME_AUDIENCE: (True, AUDIENCE),
}
RTC_PRODUCT = 1
PLATFORMS = {1: "Android", 2: "iOS", 5: "Windows", 6: "Linux", 7: "Web", 8: "macOS", 0: "Other"}
# The channel and UID of the test notifications of a Check (Agora's console and this one send the same): they
# are recorded and never applied, so a check never puts anyone in a channel.
TEST_CHANNEL, TEST_UID = "test_webhook", 12121212


def _signature(secret: str, body: bytes, digest: str) -> str:
    return hmac.new(secret.encode(), body, digest).hexdigest()


def signatures(secret: str, body: bytes) -> tuple[str, str]:
    """(`Agora-Signature`, `Agora-Signature-V2`): hex HMAC-SHA1 and HMAC-SHA256 of `body` with `secret`."""
    return _signature(secret, body, "sha1"), _signature(secret, body, "sha256")


def verify(secret: str, body: bytes, *, sha1: str | None, sha256: str | None) -> bool:
    """Whether the headers sign `body` with `secret`, compared in constant time. The SHA-256 signature is
    checked when it is sent; the SHA-1 one only when it is the only one."""
    sent, digest = (sha256, "sha256") if sha256 else (sha1, "sha1")
    if not sent:
        return False
    return hmac.compare_digest(sent.strip().lower().encode(), _signature(secret, body, digest).encode())


@dataclass(frozen=True)
class Notice:
    """One notification, its fields checked."""

    notice_id: str
    product_id: int
    event_type: int
    notify_ms: int
    payload: dict
    channel_name: str = ""
    uid: int | None = None
    client_seq: int | None = None
    ts: int | None = None  # seconds

    @property
    def is_presence(self) -> bool:
        return self.product_id == RTC_PRODUCT and self.event_type in PRESENCE

    @property
    def sequence(self) -> int:
        """The order of this user's events: clientSeq, or for senders that do not send it the event time."""
        return self.client_seq if self.client_seq is not None else (self.ts or 0) * 1000


def _integer(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleViolation(f"{name} must be a whole number from {low} to {high}.")
    return value


def _optional_integer(payload: dict, name: str, high: int) -> int | None:
    return None if payload.get(name) is None else _integer(payload[name], name, 0, high)


def parse(body: bytes) -> Notice:
    """The notification in `body` (already verified), or RuleViolation saying what is wrong with it."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise RuleViolation("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise RuleViolation("The body must be a JSON object.")
    notice_id = data.get("noticeId")
    if not isinstance(notice_id, str) or not 1 <= len(notice_id) <= MAX_NOTICE_ID or not notice_id.isprintable():
        raise RuleViolation(f"noticeId must be text of 1 to {MAX_NOTICE_ID} printable characters.")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise RuleViolation("payload must be a JSON object.")
    channel_name = payload.get("channelName", "")
    if not isinstance(channel_name, str) or len(channel_name.encode()) > MAX_CHANNEL_NAME:
        raise RuleViolation(f"payload.channelName must be text of at most {MAX_CHANNEL_NAME} bytes.")
    notice = Notice(
        notice_id=notice_id,
        product_id=_integer(data.get("productId"), "productId", 0, MAX_U32),
        event_type=_integer(data.get("eventType"), "eventType", 0, MAX_U32),
        notify_ms=_integer(data.get("notifyMs", 0), "notifyMs", 0, MAX_SEQUENCE),
        payload=payload,
        channel_name=channel_name,
        uid=_optional_integer(payload, "uid", MAX_U32),
        client_seq=_optional_integer(payload, "clientSeq", MAX_SEQUENCE),
        ts=_optional_integer(payload, "ts", MAX_U32),
    )
    if notice.is_presence and (not channel_name or notice.uid is None):
        raise RuleViolation("A join, leave or role event needs payload.channelName and payload.uid.")
    return notice

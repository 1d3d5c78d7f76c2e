"""The Check of a project's notifications: signed test notifications sent over real HTTP to the receiving URL,
as Agora's console does before it saves a Notification Center configuration, and the verdict on each answer.

Each subscribed event type gets one notification for channel "test_webhook" and UID 12121212 (Agora's test
payload), signed with both headers over the exact bytes sent, its noticeId starting with "console-check-". The
receiver records them and applies none (network.presence), so a check never puts anyone in a channel.

A notification passes when it is answered 200 with a JSON body within 10 seconds. Otherwise the verdict is
Agora's: 590 no answer in time, 591 the host name does not resolve, 592 TLS failed (the certificate did not
verify), or the status the receiver answered. The notifications go one after another (a receiver on SQLite, or a
test server sharing one connection, takes one write at a time); once one fails to connect, the rest are not sent
but given the same verdict, and none is sent after BUDGET seconds, so a check ends well within a web worker's
timeout.
"""

import json
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import requests
import urllib3.exceptions

from . import ncs

TIMEOUT = 10.0  # seconds: what Agora allows a receiver
BUDGET = 15.0  # seconds: no notification is sent after this much time
NOTICE_PREFIX = "console-check-"
TIMED_OUT, UNRESOLVABLE, TLS_FAILED = 590, 591, 592
MAX_ANSWER = 64 * 1024  # bytes of an answer read: enough for any JSON acknowledgement
VERDICTS = {
    TIMED_OUT: "No answer within 10 s.",
    UNRESOLVABLE: "The host name of the receiving URL does not resolve.",
    TLS_FAILED: "The TLS connection failed: the server's certificate did not verify.",
}


@dataclass(frozen=True)
class Result:
    """How one test notification was answered. `status`: the HTTP status, Agora's 590/591/592, or None when
    nothing answered (connection refused) or it was not sent."""

    event_type: int
    notice_id: str
    ok: bool
    status: int | None
    detail: str
    seconds: float | None = None

    @property
    def event_name(self) -> str:
        return ncs.EVENT_NAMES.get(self.event_type, str(self.event_type))


def check_payload(event_type: int, now_ms: int) -> dict:
    """Agora's RTC test payload for one event type: the fields its real notifications of that type carry."""
    seconds = now_ms // 1000
    if event_type == ncs.CHANNEL_CREATED:
        return {"channelName": ncs.TEST_CHANNEL, "ts": seconds}
    if event_type == ncs.CHANNEL_DESTROYED:
        return {"channelName": ncs.TEST_CHANNEL, "ts": seconds, "lastUid": ncs.TEST_UID}
    payload: dict = {"channelName": ncs.TEST_CHANNEL, "uid": ncs.TEST_UID, "clientSeq": now_ms, "ts": seconds}
    if event_type in (ncs.BECAME_BROADCASTER, ncs.BECAME_AUDIENCE):
        return payload
    payload["platform"] = 0
    if not ncs.PRESENCE.get(event_type, (True, 0))[0]:  # a leave
        payload.update(reason=1, duration=0)
    return payload


def check_body(event_type: int, notice_id: str, now_ms: int) -> bytes:
    notice = {
        "noticeId": notice_id,
        "productId": ncs.RTC_PRODUCT,
        "eventType": event_type,
        "notifyMs": now_ms,
        "payload": check_payload(event_type, now_ms),
    }
    return json.dumps(notice, separators=(",", ":")).encode()


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether `error`, its arguments or anything in its chain of causes is one of `kinds`."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kinds):
            return True
        pending.extend([current.__cause__, current.__context__, *current.args, getattr(current, "reason", None)])
    return False


def _failure(error: requests.RequestException) -> tuple[int | None, str]:
    """The verdict on a request that got no HTTP answer."""
    if isinstance(error, requests.exceptions.SSLError):
        return TLS_FAILED, VERDICTS[TLS_FAILED]
    if isinstance(error, requests.Timeout):
        return TIMED_OUT, VERDICTS[TIMED_OUT]
    if _caused_by(error, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
        return UNRESOLVABLE, VERDICTS[UNRESOLVABLE]
    if isinstance(error, requests.ConnectionError):
        return None, "Nothing accepted the connection at the receiving URL."
    return None, "The receiving URL cannot be called."


def _read(response: requests.Response, deadline: float) -> bytes | None:
    """The answer's body, at most MAX_ANSWER bytes; None when it did not arrive before `deadline`."""
    body = b""
    for chunk in response.iter_content(chunk_size=8192):
        body += chunk
        if time.monotonic() > deadline:
            return None
        if len(body) >= MAX_ANSWER:
            break
    return body


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def send_one(session: requests.Session, url: str, secret: str, event_type: int, *, timeout: float = TIMEOUT) -> Result:
    """Send one signed test notification of `event_type` to `url` and judge the answer."""
    now_ms = int(time.time() * 1000)
    notice_id = f"{NOTICE_PREFIX}{uuid.uuid4().hex[:16]}-{event_type}"
    body = check_body(event_type, notice_id, now_ms)
    sha1, sha256 = ncs.signatures(secret, body)
    headers = {"Content-Type": "application/json", "Agora-Signature": sha1, "Agora-Signature-V2": sha256}
    started = time.monotonic()
    deadline = started + timeout
    try:
        with session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            answer = _read(response, deadline)
            status = response.status_code
    except requests.RequestException as error:
        code, detail = _failure(error)
        return Result(event_type, notice_id, False, code, detail, time.monotonic() - started)
    seconds = time.monotonic() - started
    if answer is None:
        return Result(event_type, notice_id, False, TIMED_OUT, VERDICTS[TIMED_OUT], seconds)
    if status != 200:
        return Result(event_type, notice_id, False, status, f"Answered {status}, not 200.", seconds)
    if not _is_json(answer):
        return Result(event_type, notice_id, False, status, "Answered 200, but the body is not JSON.", seconds)
    return Result(event_type, notice_id, True, status, "OK: 200 with a JSON body.", seconds)


def send_test_notifications(
    url: str, secret: str, event_types: Iterable[int], *, timeout: float = TIMEOUT, budget: float = BUDGET
) -> list[Result]:
    """One signed test notification per event type in `event_types` to `url`, one after another; a result
    for each, in the order of the types."""
    results: list[Result] = []
    started = time.monotonic()
    unreachable: Result | None = None
    with requests.Session() as session:
        for event_type in sorted(set(event_types)):
            if unreachable is not None:
                results.append(_not_sent(event_type, unreachable.status, f"Not sent: {unreachable.detail}"))
            elif results and time.monotonic() - started > budget:
                results.append(_not_sent(event_type, TIMED_OUT, f"Not sent: the check stops after {budget:.0f} s."))
            else:
                result = send_one(session, url, secret, event_type, timeout=timeout)
                results.append(result)
                if result.status is None or result.status in VERDICTS:
                    unreachable = result
    return results


def _not_sent(event_type: int, status: int | None, detail: str) -> Result:
    return Result(event_type, "", False, status, detail)

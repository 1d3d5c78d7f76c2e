"""What a parsed token grants, in words and dates a person reads: the temp-token page and the inspector.

`describe(details)` takes accesstoken2 Token.as_dict() (expiries as seconds after the issue time) and returns
the same facts with labels ("Channel", "UID", "Join channel") and absolute times, so that no page shows a raw
field name or a Unix timestamp.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from . import accesstoken2 as at2

SERVICE_TITLES = {
    "rtc": "RTC",
    "rtm": "RTM (Signaling)",
    "streaming": "Streaming",
    "fpa": "FPA",
    "chat": "Chat",
    "fcdn": "FCDN",
    "apaas": "Flexible Classroom (APaaS)",
    "rtm2": "RTM with permissions",
}
FIELD_LABELS = {
    "channel_name": "Channel",
    "uid": "UID",
    "user_id": "User ID",
    "account": "Account",
    "room_uuid": "Room UUID",
    "user_uuid": "User UUID",
    "role": "Role",
}
EMPTY_MEANS = {"uid": "any UID may use it", "user_id": "app token", "room_uuid": "none", "user_uuid": "none"}
PRIVILEGE_LABELS = {
    "join_channel": "Join channel",
    "publish_audio_stream": "Publish audio",
    "publish_video_stream": "Publish video",
    "publish_data_stream": "Publish data streams",
    "login": "Log in",
    "publish_mix_stream": "Publish mixed stream",
    "publish_raw_stream": "Publish raw stream",
    "user": "User",
    "app": "App",
    "publish": "Publish",
    "play": "Play",
    "room_user": "Room user",
}


@dataclass
class Privilege:
    label: str
    until: datetime | None  # None: no separate limit, the token's expiry governs


@dataclass
class ServiceGrant:
    title: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (label, value, what an empty value means)
    permissions: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (resource, read/write, names)
    privileges: list[Privilege] = field(default_factory=list)


@dataclass
class TokenGrant:
    app_id: str
    issued_at: datetime
    expires_at: datetime
    salt: int
    services: list[ServiceGrant]
    unknown_service_type: int | None = None

    @property
    def expired(self) -> bool:
        return datetime.now(UTC) > self.expires_at


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _service(service: dict, issue_ts: int) -> ServiceGrant:
    grant = ServiceGrant(SERVICE_TITLES.get(service["service"], service["service"]))
    for key, value in service.items():
        if key in ("type", "service", "privileges"):
            continue
        if key == "permissions":
            grant.permissions = [
                (resource.replace("_", " ").capitalize(), permission, names)
                for resource, by_permission in value.items()
                for permission, names in by_permission.items()
            ]
        else:
            grant.fields.append((FIELD_LABELS.get(key, key), str(value), EMPTY_MEANS.get(key, "empty")))
    grant.privileges = [
        Privilege(
            PRIVILEGE_LABELS.get(name, name.replace("_", " ").capitalize()),
            _at(issue_ts + seconds) if seconds else None,
        )
        for name, seconds in service["privileges"].items()
    ]
    return grant


def describe(details: dict) -> TokenGrant:
    """A 007 token's contents (Token.as_dict()) as labelled facts with absolute times."""
    issue_ts = details["issue_ts"]
    return TokenGrant(
        app_id=details["app_id"],
        issued_at=_at(issue_ts),
        expires_at=_at(issue_ts + details["expire"]),
        salt=details["salt"],
        services=[_service(service, issue_ts) for service in details["services"]],
        unknown_service_type=details.get("unknown_service_type"),
    )


def describe_legacy(details: dict) -> list[Privilege]:
    """A legacy 006 token's privileges: their values are absolute times already (RTM login is 1000)."""
    names = {**at2.PRIVILEGE_NAMES[at2.RTC], 1000: "login"}
    return [
        Privilege(PRIVILEGE_LABELS.get(names.get(int(key), ""), f"Privilege {key}"), _at(value) if value else None)
        for key, value in details["privileges"].items()
    ]

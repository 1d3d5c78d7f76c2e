"""AccessToken2 ("007" tokens): build, parse and verify, byte-compatible with Agora's builders.

Pure Python, no Django. The format (see the project's reference) in short, all integers little-endian:

    signing_info = str(app_id) u32(issue_ts) u32(expire) u32(salt) u16(n) service...
    signature    = HMAC(HMAC(HMAC(u32(issue_ts), certificate), keyed by u32(salt)), signing_info)
    token        = "007" + base64(zlib(str(signature) + signing_info))

Expiries (the token's and each privilege's) are seconds after issue_ts; 0 means "no separate limit".
A service type this module does not know is built as its type and privileges alone and, when parsing, ends
the readable part of a token (its fields' layout is unknown), as Agora's own parsers do.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import struct
import time
import zlib
from dataclasses import dataclass, field
from functools import lru_cache

VERSION = "007"
LEGACY_VERSION = "006"

# Service types and their privileges.
RTC, RTM, STREAMING, FPA, CHAT, FCDN, APAAS, RTM2 = 1, 2, 3, 4, 5, 6, 7, 8
SERVICE_NAMES = {
    RTC: "rtc",
    RTM: "rtm",
    STREAMING: "streaming",
    FPA: "fpa",
    CHAT: "chat",
    FCDN: "fcdn",
    APAAS: "apaas",
    RTM2: "rtm2",
}
PRIVILEGE_NAMES = {
    RTC: {1: "join_channel", 2: "publish_audio_stream", 3: "publish_video_stream", 4: "publish_data_stream"},
    RTM: {1: "login"},
    STREAMING: {1: "publish_mix_stream", 2: "publish_raw_stream"},
    FPA: {1: "login"},
    CHAT: {1: "user", 2: "app"},
    FCDN: {1: "publish", 2: "play"},
    APAAS: {1: "room_user", 2: "user", 3: "app"},
    RTM2: {1: "login"},
}
# RTM2 permissions: resource type -> permission -> resource names ("*" for all).
RTM2_RESOURCES = {0: "message_channels", 1: "stream_channels", 2: "group_channels", 3: "server_groups", 4: "users"}
RTM2_PERMISSIONS = {0: "read", 1: "write"}
JOIN_CHANNEL, PUBLISH_AUDIO, PUBLISH_VIDEO, PUBLISH_DATA = 1, 2, 3, 4
RTM_LOGIN = FPA_LOGIN = RTM2_LOGIN = 1
CHAT_USER, CHAT_APP = 1, 2
APAAS_ROOM_USER, APAAS_USER, APAAS_APP = 1, 2, 3

ROLE_PUBLISHER, ROLE_SUBSCRIBER = 1, 2

MAX_U32 = 2**32 - 1
MAX_SALT = 99_999_999
MAX_PAYLOAD = 1 << 20  # decompressed bytes a token may hold: real tokens are well under 1 KiB
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class TokenError(ValueError):
    """A token that cannot be built or read; the message says why."""


# Services ---------------------------------------------------------------------------------------


@dataclass
class Service:
    """One service of a token: its type, its privileges (key -> seconds after issue) and its fields.

    Fields by type: RTC and Streaming `channel_name`, `uid`; RTM and Chat `user_id`; FCDN `channel_name`,
    `account`; APaaS `room_uuid`, `user_uuid`, `role`; RTM2 `user_id`, `permissions` (see rtm2_permissions);
    FPA and service types this module does not know none.
    """

    type: int
    privileges: dict[int, int] = field(default_factory=dict)
    fields: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return SERVICE_NAMES.get(self.type, f"unknown({self.type})")

    def as_dict(self) -> dict:
        names = PRIVILEGE_NAMES.get(self.type, {})
        fields = dict(self.fields)
        if "permissions" in fields:
            fields["permissions"] = {
                RTM2_RESOURCES.get(resource, str(resource)): {
                    RTM2_PERMISSIONS.get(permission, str(permission)): list(names_)
                    for permission, names_ in permissions.items()
                }
                for resource, permissions in fields["permissions"].items()
            }
        return {
            "type": self.type,
            "service": self.name,
            **fields,
            "privileges": {names.get(key, str(key)): value for key, value in sorted(self.privileges.items())},
        }


_FIELDS = {
    RTC: (("channel_name", "str"), ("uid", "str")),
    RTM: (("user_id", "str"),),
    STREAMING: (("channel_name", "str"), ("uid", "str")),
    FPA: (),
    CHAT: (("user_id", "str"),),
    FCDN: (("channel_name", "str"), ("account", "str")),
    APAAS: (("room_uuid", "str"), ("user_uuid", "str"), ("role", "i16")),
    RTM2: (("user_id", "str"), ("permissions", "rtm2")),
}


def _lookup(value: int | str, names: dict[int, str], what: str) -> int:
    """A resource type or permission given by number or by name."""
    by_name = {name: number for number, name in names.items()}
    if isinstance(value, int) and not isinstance(value, bool) and value in names:
        return value
    if isinstance(value, str) and value in by_name:
        return by_name[value]
    raise TokenError(f"Unknown RTM2 {what} {value!r}: use one of {', '.join(names.values())}.")


def rtm2_permissions(permissions: object) -> dict[int, dict[int, tuple[str, ...]]]:
    """RTM2 permissions in the token's terms, from e.g. {"message_channels": {"read": ["lobby"]}}.

    Resource types and permissions may be names or numbers; empty lists are left out. The order of the
    names is kept (it is part of the signed bytes); resource types and permissions are packed in
    ascending order.
    """
    if not isinstance(permissions, dict):
        raise TokenError("RTM2 permissions map resource types to permissions to lists of names.")
    cleaned: dict[int, dict[int, tuple[str, ...]]] = {}
    for resource, by_permission in permissions.items():
        resource_type = _lookup(resource, RTM2_RESOURCES, "resource type")
        if not isinstance(by_permission, dict):
            raise TokenError(f"The RTM2 {RTM2_RESOURCES[resource_type]} permissions must map read/write to names.")
        for permission, names in by_permission.items():
            key = _lookup(permission, RTM2_PERMISSIONS, "permission")
            if isinstance(names, str) or not isinstance(names, list | tuple):
                raise TokenError("RTM2 resource names come as a list.")
            if len(names) > 0xFFFF or not all(isinstance(name, str) for name in names):
                raise TokenError("RTM2 resource names are text, at most 65,535 of them per permission.")
            if names:
                cleaned.setdefault(resource_type, {})[key] = tuple(names)
    return {resource: dict(sorted(cleaned[resource].items())) for resource in sorted(cleaned)}


def rtc_service(channel_name: str, uid: int | str, privileges: dict[int, int]) -> Service:
    return Service(RTC, privileges, {"channel_name": channel_name, "uid": uid_text(uid)})


def uid_text(uid: int | str) -> str:
    """How a uid is written in a token: a number as decimal text, 0 as "" (any uid); an account as given."""
    if isinstance(uid, str):
        return uid
    if isinstance(uid, bool) or not isinstance(uid, int):
        raise TokenError(f"A uid must be a whole number or a user account (text), not {type(uid).__name__}.")
    if not 0 <= uid <= MAX_U32:
        raise TokenError(f"uid must be between 0 and {MAX_U32}, not {uid}.")
    return str(uid) if uid else ""


# Packing ----------------------------------------------------------------------------------------

_u16 = struct.Struct("<H").pack
_i16 = struct.Struct("<h").pack
_u32 = struct.Struct("<I").pack
_header = struct.Struct("<IIIH").pack  # issue_ts, expire, salt, service count
_privilege = struct.Struct("<HI").pack


def _str(value: str | bytes) -> bytes:
    if isinstance(value, str):
        data = value.encode()
    elif isinstance(value, bytes):
        data = value
    else:
        raise TokenError(f"A token field must be text, not {type(value).__name__}.")
    if len(data) > 0xFFFF:
        raise TokenError("A token field is longer than 65,535 bytes.")
    return _u16(len(data)) + data


def _pack_rtm2_permissions(permissions: dict) -> bytes:
    cleaned = rtm2_permissions(permissions)
    parts = [_u16(len(cleaned))]
    for resource, by_permission in cleaned.items():
        parts += [_u16(resource), _u16(len(by_permission))]
        for permission, names in by_permission.items():
            parts += [_u16(permission), _u16(len(names)), *(_str(name) for name in names)]
    return b"".join(parts)


def _pack_service(service: Service) -> bytes:
    if isinstance(service.type, bool) or not isinstance(service.type, int) or not 0 <= service.type <= 0xFFFF:
        raise TokenError("A service type is a whole number from 0 to 65,535.")
    if service.type not in _FIELDS and service.fields:
        raise TokenError(f"Service type {service.type} is not known here: only its privileges can be packed.")
    try:
        parts = [_u16(service.type), _u16(len(service.privileges))]
        for key in sorted(service.privileges):
            parts.append(_privilege(key, service.privileges[key]))
    except struct.error as error:
        raise TokenError(f"A privilege expiry must be a whole number of seconds between 0 and {MAX_U32}.") from error
    for name, kind in _FIELDS.get(service.type, ()):
        if kind == "rtm2":
            parts.append(_pack_rtm2_permissions(service.fields.get(name, {})))
            continue
        value = service.fields.get(name, -1 if kind == "i16" else "")
        if kind == "i16":
            try:
                parts.append(_i16(value))
            except struct.error as error:
                raise TokenError(f"The {name} must be a whole number between -32768 and 32767.") from error
        else:
            parts.append(_str(value))
    return b"".join(parts)


@lru_cache(maxsize=256)
def _first_key(app_certificate: str, issue_ts: int) -> bytes:
    # Depends only on the certificate and the second: shared by every token built in that second.
    return hmac.digest(_u32(issue_ts), app_certificate.encode(), "sha256")


def _signature(app_certificate: str, issue_ts: int, salt: int, signing_info: bytes) -> bytes:
    signing_key = hmac.digest(_u32(salt), _first_key(app_certificate, issue_ts), "sha256")
    return hmac.digest(signing_key, signing_info, "sha256")


def check_hex32(value: str, what: str) -> str:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise TokenError(f"{what} must be 32 hexadecimal characters.")
    return value


def build(
    app_id: str,
    app_certificate: str,
    services: list[Service],
    expire: int,
    *,
    issue_ts: int | None = None,
    salt: int | None = None,
) -> str:
    """A token for these services. Issue time defaults to now, salt to a random 1..99,999,999."""
    check_hex32(app_id, "The App ID")
    check_hex32(app_certificate, "The App Certificate")
    if not services:
        raise TokenError("A token needs at least one service.")
    if issue_ts is None:
        issue_ts = int(time.time())
    if salt is None:
        salt = secrets.randbelow(MAX_SALT) + 1
    for name, value in (("issue time", issue_ts), ("expire", expire), ("salt", salt)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_U32:
            raise TokenError(f"The {name} must be between 0 and {MAX_U32}.")
    ordered = sorted(services, key=lambda service: service.type)
    body = b"".join(_pack_service(service) for service in ordered)
    signing_info = _str(app_id) + _header(issue_ts, expire, salt, len(ordered)) + body
    signature = _signature(app_certificate, issue_ts, salt, signing_info)
    return VERSION + base64.b64encode(zlib.compress(_str(signature) + signing_info)).decode()


# The builders people call -----------------------------------------------------------------------


def rtc_privileges(role: int, privilege_expire: int) -> dict[int, int]:
    if role == ROLE_PUBLISHER:
        return {
            JOIN_CHANNEL: privilege_expire,
            PUBLISH_AUDIO: privilege_expire,
            PUBLISH_VIDEO: privilege_expire,
            PUBLISH_DATA: privilege_expire,
        }
    if role == ROLE_SUBSCRIBER:
        return {JOIN_CHANNEL: privilege_expire}
    raise TokenError("The role must be 1 (publisher) or 2 (subscriber).")


def build_rtc(
    app_id: str,
    app_certificate: str,
    channel_name: str,
    uid: int | str,
    role: int,
    token_expire: int,
    privilege_expire: int = 0,
    **when: int | None,
) -> str:
    """RTC token for a uid (int) or a user account (str).

    The privileges have no separate limit by default (0, as Agora's builders): the token's expiry governs.
    """
    service = rtc_service(channel_name, uid, rtc_privileges(role, privilege_expire))
    return build(app_id, app_certificate, [service], token_expire, **when)


def build_rtc_with_privileges(
    app_id: str,
    app_certificate: str,
    channel_name: str,
    uid: int | str,
    token_expire: int,
    join_channel: int,
    publish_audio: int,
    publish_video: int,
    publish_data: int,
    **when: int | None,
) -> str:
    privileges = {
        JOIN_CHANNEL: join_channel,
        PUBLISH_AUDIO: publish_audio,
        PUBLISH_VIDEO: publish_video,
        PUBLISH_DATA: publish_data,
    }
    return build(app_id, app_certificate, [rtc_service(channel_name, uid, privileges)], token_expire, **when)


def build_rtc_rtm(
    app_id: str,
    app_certificate: str,
    channel_name: str,
    account: int | str,
    role: int,
    token_expire: int,
    privilege_expire: int = 0,
    rtm_user_id: str | None = None,
    rtm_expire: int | None = None,
    **when: int | None,
) -> str:
    """RTC for (channel, account, role) plus RTM login for the account (or a separate RTM user id).

    As Agora's `build_token_with_rtm`: the RTC privileges last `privilege_expire` (0: no separate limit),
    the RTM login `rtm_expire` (default: the token's expiry).
    """
    rtm_expire = token_expire if rtm_expire is None else rtm_expire
    services = [
        rtc_service(channel_name, account, rtc_privileges(role, privilege_expire)),
        Service(RTM, {RTM_LOGIN: rtm_expire}, {"user_id": rtm_user_id if rtm_user_id is not None else str(account)}),
    ]
    return build(app_id, app_certificate, services, token_expire, **when)


def build_rtc_rtm_with_privileges(
    app_id: str,
    app_certificate: str,
    channel_name: str,
    account: int | str,
    role: int,
    token_expire: int,
    join_channel: int,
    publish_audio: int,
    publish_video: int,
    publish_data: int,
    rtm_user_id: str,
    rtm_expire: int,
    **when: int | None,
) -> str:
    """RTC + RTM with an expiry per privilege, as Agora's `build_token_with_rtm2`.

    Join lasts `join_channel`; a publisher also gets the three publish privileges with their own expiries (a
    subscriber none); RTM login for `rtm_user_id` lasts `rtm_expire`; the token lasts `token_expire`.
    """
    privileges = {JOIN_CHANNEL: join_channel}
    if role == ROLE_PUBLISHER:
        privileges |= {PUBLISH_AUDIO: publish_audio, PUBLISH_VIDEO: publish_video, PUBLISH_DATA: publish_data}
    elif role != ROLE_SUBSCRIBER:
        raise TokenError("The role must be 1 (publisher) or 2 (subscriber).")
    services = [
        rtc_service(channel_name, account, privileges),
        Service(RTM, {RTM_LOGIN: rtm_expire}, {"user_id": rtm_user_id}),
    ]
    return build(app_id, app_certificate, services, token_expire, **when)


def build_rtm(app_id: str, app_certificate: str, user_id: str, expire: int, **when: int | None) -> str:
    return build(app_id, app_certificate, [Service(RTM, {RTM_LOGIN: expire}, {"user_id": user_id})], expire, **when)


def build_rtm_with_permissions(
    app_id: str, app_certificate: str, user_id: str, permissions: dict, expire: int, **when: int | None
) -> str:
    """RTM2 (service 8): login for `user_id` plus read/write permissions on resources (see rtm2_permissions)."""
    service = Service(RTM2, {RTM2_LOGIN: expire}, {"user_id": user_id, "permissions": rtm2_permissions(permissions)})
    return build(app_id, app_certificate, [service], expire, **when)


def build_chat_user(app_id: str, app_certificate: str, user_id: str, expire: int, **when: int | None) -> str:
    return build(app_id, app_certificate, [Service(CHAT, {CHAT_USER: expire}, {"user_id": user_id})], expire, **when)


def build_chat_app(app_id: str, app_certificate: str, expire: int, **when: int | None) -> str:
    return build(app_id, app_certificate, [Service(CHAT, {CHAT_APP: expire}, {"user_id": ""})], expire, **when)


def build_fpa(app_id: str, app_certificate: str, expire: int, **when: int | None) -> str:
    """As Agora's FPA builder: the login privilege has no separate limit (0); the token lasts `expire`."""
    return build(app_id, app_certificate, [Service(FPA, {FPA_LOGIN: 0})], expire, **when)


def build_apaas_room_user(
    app_id: str, app_certificate: str, room_uuid: str, user_uuid: str, role: int, expire: int, **when: int | None
) -> str:
    service = Service(APAAS, {APAAS_ROOM_USER: expire}, {"room_uuid": room_uuid, "user_uuid": user_uuid, "role": role})
    return build(app_id, app_certificate, [service], expire, **when)


def build_apaas_user(app_id: str, app_certificate: str, user_uuid: str, expire: int, **when: int | None) -> str:
    service = Service(APAAS, {APAAS_USER: expire}, {"room_uuid": "", "user_uuid": user_uuid, "role": -1})
    return build(app_id, app_certificate, [service], expire, **when)


def build_apaas_app(app_id: str, app_certificate: str, expire: int, **when: int | None) -> str:
    service = Service(APAAS, {APAAS_APP: expire}, {"room_uuid": "", "user_uuid": "", "role": -1})
    return build(app_id, app_certificate, [service], expire, **when)


# Parsing and verifying --------------------------------------------------------------------------


@dataclass
class Token:
    """A parsed "007" token."""

    app_id: str
    issue_ts: int
    expire: int
    salt: int
    services: list[Service]
    signature: bytes
    signing_info: bytes
    version: str = VERSION
    unknown_service_type: int | None = None  # the first service this module cannot read, if any

    @property
    def expires_at(self) -> int:
        return self.issue_ts + self.expire

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) > self.expires_at

    def verify(self, app_certificate: str) -> bool:
        """True when `app_certificate` signed this token (constant-time comparison)."""
        try:
            check_hex32(app_certificate, "The App Certificate")
        except TokenError:
            return False
        expected = _signature(app_certificate, self.issue_ts, self.salt, self.signing_info)
        return hmac.compare_digest(expected, self.signature)

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "app_id": self.app_id,
            "issue_ts": self.issue_ts,
            "expire": self.expire,
            "expires_at": self.expires_at,
            "salt": self.salt,
            "services": [service.as_dict() for service in self.services],
            **({"unknown_service_type": self.unknown_service_type} if self.unknown_service_type is not None else {}),
        }


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise TokenError("The token is truncated.")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def i16(self) -> int:
        return struct.unpack("<h", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def bytes_(self) -> bytes:
        return self.take(self.u16())

    def str_(self) -> str:
        try:
            return self.bytes_().decode()
        except UnicodeDecodeError as error:
            raise TokenError("A text field of the token is not valid UTF-8.") from error

    def privileges(self) -> dict[int, int]:
        return {self.u16(): self.u32() for _ in range(self.u16())}

    def rtm2_permissions(self) -> dict[int, dict[int, tuple[str, ...]]]:
        permissions: dict[int, dict[int, tuple[str, ...]]] = {}
        for _ in range(self.u16()):
            resource = permissions.setdefault(self.u16(), {})
            for _ in range(self.u16()):
                permission = self.u16()
                resource[permission] = tuple(self.str_() for _ in range(self.u16()))
        return permissions

    def field(self, kind: str) -> int | str | dict[int, dict[int, tuple[str, ...]]]:
        if kind == "i16":
            return self.i16()
        return self.str_() if kind == "str" else self.rtm2_permissions()

    @property
    def done(self) -> bool:
        return self.offset == len(self.data)


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as error:
        raise TokenError("The token is not valid base64.") from error


def _decompress(data: bytes) -> bytes:
    """One complete zlib stream, nothing after it, at most MAX_PAYLOAD bytes once inflated."""
    decompressor = zlib.decompressobj()
    try:
        payload = decompressor.decompress(data, MAX_PAYLOAD)
    except zlib.error as error:
        raise TokenError("The token is damaged: its compressed data cannot be read.") from error
    if decompressor.unconsumed_tail:
        raise TokenError("The token is too large.")
    if not decompressor.eof:
        raise TokenError("The token is truncated: its compressed data is incomplete.")
    if decompressor.unused_data:
        raise TokenError("The token has unexpected bytes after its compressed data.")
    return payload


def parse(token: str) -> Token:
    """Read a "007" token. Raises TokenError for anything that is not a complete, well-formed token."""
    if not isinstance(token, str):
        raise TokenError(f"A token is text, not {type(token).__name__}.")
    token = token.strip()
    if token.startswith(LEGACY_VERSION):
        raise TokenError("This is a legacy 006 token; use parse_legacy().")
    if not token.startswith(VERSION):
        raise TokenError("Not an AccessToken2: a token starts with 007 (or 006 for legacy tokens).")
    data = _decompress(_decode_base64(token[3:]))
    reader = _Reader(data)
    signature = reader.bytes_()
    signing_info = data[reader.offset :]
    app_id = reader.str_()
    issue_ts, expire, salt, count = reader.u32(), reader.u32(), reader.u32(), reader.u16()
    services: list[Service] = []
    for _ in range(count):
        service_type = reader.u16()
        if service_type not in _FIELDS:
            # Its fields' layout is unknown, so nothing after it can be read; the signature still covers it all.
            partial = Token(app_id, issue_ts, expire, salt, services, signature, signing_info)
            partial.unknown_service_type = service_type
            return partial
        privileges = reader.privileges()
        fields = {name: reader.field(kind) for name, kind in _FIELDS[service_type]}
        services.append(Service(service_type, privileges, fields))
    if not reader.done:
        raise TokenError("The token has unexpected bytes after its last service.")
    return Token(app_id, issue_ts, expire, salt, services, signature, signing_info)


@dataclass
class LegacyToken:
    """A parsed "006" AccessToken (read-only: enough to say what it is)."""

    app_id: str
    salt: int
    expire_ts: int
    privileges: dict[int, int]
    version: str = LEGACY_VERSION

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) > self.expire_ts

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "app_id": self.app_id,
            "salt": self.salt,
            "expire_ts": self.expire_ts,
            "privileges": {str(key): value for key, value in sorted(self.privileges.items())},
        }


def parse_legacy(token: str) -> LegacyToken:
    if not isinstance(token, str):
        raise TokenError(f"A token is text, not {type(token).__name__}.")
    token = token.strip()
    if not token.startswith(LEGACY_VERSION) or len(token) < 3 + 32:
        raise TokenError("Not a legacy 006 token.")
    app_id = token[3:35]
    reader = _Reader(_decode_base64(token[35:]))
    reader.bytes_()  # signature: needs the certificate and the channel/uid to check, which 006 does not carry
    reader.u32()
    reader.u32()  # crc32 of channel and uid
    message = _Reader(reader.bytes_())
    salt, expire_ts = message.u32(), message.u32()
    privileges = message.privileges()
    if not reader.done or not message.done:
        raise TokenError("The legacy token has unexpected trailing bytes.")
    return LegacyToken(app_id, salt, expire_ts, privileges)

"""AccessToken2 ("007") library: the published vectors, every builder, round trips, tampering, refusals,
parse errors, expiry, unknown service types and legacy "006" tokens.

The layout is re-implemented here from the reference (`encode` below) so that the library is checked against
an independent reading of the format, not against itself.
"""

import base64
import hmac
import secrets
import string
import struct
import time
import zlib

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tokens import accesstoken2 as at2
from tokens.accesstoken2 import (
    APAAS,
    CHAT,
    FCDN,
    FPA,
    MAX_SALT,
    MAX_U32,
    ROLE_PUBLISHER,
    ROLE_SUBSCRIBER,
    RTC,
    RTM,
    RTM2,
    STREAMING,
    LegacyToken,
    Service,
    Token,
    TokenError,
)

# The pytest-django autouse settings fixture is function scoped; it does not interact with these examples.
PROPERTY = hypothesis_settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FUZZ = hypothesis_settings(PROPERTY, max_examples=500)

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
UID = 2882341273
WHEN = {"issue_ts": 1111111, "salt": 1}

V1_RTC_UID = (
    "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMo"
    "AwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj"
)
V2_RTC_UID0 = (
    "007eJxTYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMo"
    "AwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMADacImo="
)
V3_CHAT_USER = (
    "007eJxTYNAIsnbS3v/A5t2TC6feR15r+6cq8bqAvfaW+tk/Vzz+p6xTYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDAyA"
    "DCrEDMCOZzMRhZWBgZmxgamRsDAB+lHrg="
)
V4_CHAT_APP = (
    "007eJxTYNDNaz3snC8huEfHWdz6s98qltq4zqy9fl99Uh0FDvy6F6DAYGlu4OxobJqSamaQbGJiZmKalJSYapFoZGhqYGaYZGzs/kWAIYKJgYGRAY"
    "RZgZgJzGdgAACt8hhr"
)
V5_FIVE_SERVICES = (
    "007eJxTYAh5UWu1drfhsnu9etvupS0v/iFs+3PC/Sbl8gdht55xSusqMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZG"
    "BgYAWSLEAM4jOBSWYwyQImFRjMU8yNjM1MU5MsLYxNLEyNLc1TjVON0yxTTMwMklJSErkYjCwsjIxNDI3MjZmA5kBM4mQoSS0uiS8tTi1iZmBCMZ"
    "40I1mgToSYgCwDAGL1OcI="
)


def rtc(uid, privileges, channel=CHANNEL):
    return Service(RTC, privileges, {"channel_name": channel, "uid": uid})


def rtm(user_id, login):
    return Service(RTM, {1: login}, {"user_id": user_id})


def chat(user_id, privileges):
    return Service(CHAT, privileges, {"user_id": user_id})


def apaas(room_uuid, user_uuid, role, privileges):
    return Service(APAAS, privileges, {"room_uuid": room_uuid, "user_uuid": user_uuid, "role": role})


ALL_RTC = {1: 600, 2: 600, 3: 600, 4: 600}
FIVE_SERVICES = [
    rtc(str(UID), ALL_RTC),
    rtm("test_user", 600),
    Service(STREAMING, {1: 600, 2: 600}, {"channel_name": CHANNEL, "uid": str(UID)}),
    Service(FPA, {}, {}),
    chat(str(UID), {1: 600}),
]
# Each vector with the services its parse must show.
VECTORS = {
    "rtc uid": (V1_RTC_UID, [rtc(str(UID), {1: 600})]),
    "rtc uid 0": (V2_RTC_UID0, [rtc("", {1: 600})]),
    "chat user": (V3_CHAT_USER, [chat(str(UID), {1: 600})]),
    "chat app": (V4_CHAT_APP, [chat("", {2: 600})]),
    "five services": (V5_FIVE_SERVICES, FIVE_SERVICES),
}
# Vectors 6-9, from Agora's current builders.
V6_RTM2 = (
    "007eJxTYChs/HrfWU/P58rLZ2I2mY/39AYonpmS8e3cn7WcDOo5AkcVGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMo"
    "AwBxAzgvmcDCWpxSXxpcWpRUAeAwSzMuTkJyVVsjDkpZYXg1TCBSDaGRm0AINtJPg="
)
V7_FPA = (
    "007eJxTYNiwxufcUWuGRW/Op5XM7WPh27jxnn3+siknjr/jbYrarDJDgcHS3MDZ0dg0JdXMINnExMzENCkpMdUi0cjQ1MDMMMnY2P2LAENDICMDIw"
    "MDELMwQFgMDAB/rxuM"
)
V8_RTC_PRIVILEGE_0 = (
    "007eJxTYCjvdzbWfdRvW3iNTXtGaMYq8Zvu4vrm1kpuTqeXPfxxS1CBwdLcwNnR2DQl1cwg2cTEzMQ0KSkx1SLRyNDUwMwwydjY/YsAQwQTAwMjAw"
    "hDIAgoMJinmBsZm5mmJllaGJtYmBpbmqcapxqnWaaYmBkkpaQkcjEYWVgYGZsYGpkbAwC2/CKh"
)
V9_UNKNOWN_SERVICE = (
    "007eJxTYEiRm9yU2vT/5PboJeqC7Uyq0+9zn8i/rOarXHU9+2gdx34FBktzA2dHY9OUVDODZBMTMxPTpKTEVItEI0NTAzPDJGNj9y8CDBFMDAyMDA"
    "wMTEASBEF8BQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MTQyNz4+fMMH0A1colbw=="
)
V6_PERMISSIONS = {0: {0: ("lobby", "news"), 1: ("lobby",)}, 4: {0: ("*",)}}
VECTORS |= {
    "rtm2": (V6_RTM2, [Service(RTM2, {1: 600}, {"user_id": "test_user", "permissions": V6_PERMISSIONS})]),
    "rtc privilege 0": (V8_RTC_PRIVILEGE_0, [rtc(str(UID), {1: 0})]),
}
VECTOR_TOKENS = [token for token, _ in VECTORS.values()]


# An independent encoder, written from the reference ------------------------------------------------

FIELD_KINDS = {1: "ss", 2: "s", 3: "ss", 4: "", 5: "s", 6: "ss", 7: "ssh", 8: "sp"}
FIELD_NAMES = {
    1: ("channel_name", "uid"),
    2: ("user_id",),
    3: ("channel_name", "uid"),
    4: (),
    5: ("user_id",),
    6: ("channel_name", "account"),
    7: ("room_uuid", "user_uuid", "role"),
    8: ("user_id", "permissions"),
}


def pack_str(value):
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("<H", len(data)) + data


def pack_privileges(privileges):
    return struct.pack("<H", len(privileges)) + b"".join(
        struct.pack("<HI", key, privileges[key]) for key in sorted(privileges)
    )


def pack_permissions(permissions):
    """RTM2: resource types, then permissions, in ascending order; the names in their given order."""
    out = struct.pack("<H", len(permissions))
    for resource in sorted(permissions):
        out += struct.pack("<HH", resource, len(permissions[resource]))
        for permission in sorted(permissions[resource]):
            names = permissions[resource][permission]
            out += struct.pack("<HH", permission, len(names)) + b"".join(pack_str(name) for name in names)
    return out


def pack_field(kind, value):
    if kind == "h":
        return struct.pack("<h", value)
    return pack_permissions(value) if kind == "p" else pack_str(value)


def pack_service(service):
    """A service type the reference does not describe is its type and privileges alone."""
    out = struct.pack("<H", service.type) + pack_privileges(service.privileges)
    for name, kind in zip(FIELD_NAMES.get(service.type, ()), FIELD_KINDS.get(service.type, ""), strict=True):
        out += pack_field(kind, service.fields[name])
    return out


def signing_info(app_id, issue_ts, expire, salt, services):
    ordered = sorted(services, key=lambda service: service.type)
    return (
        pack_str(app_id)
        + struct.pack("<IIIH", issue_ts, expire, salt, len(ordered))
        + b"".join(pack_service(service) for service in ordered)
    )


def sign(certificate, issue_ts, salt, info):
    key_1 = hmac.digest(struct.pack("<I", issue_ts), certificate.encode(), "sha256")
    signing_key = hmac.digest(struct.pack("<I", salt), key_1, "sha256")
    return hmac.digest(signing_key, info, "sha256")


def seal(payload, version="007"):
    return version + base64.b64encode(zlib.compress(payload)).decode()


def encode(app_id, certificate, services, expire, issue_ts, salt):
    info = signing_info(app_id, issue_ts, expire, salt, services)
    return seal(pack_str(sign(certificate, issue_ts, salt, info)) + info)


def payload_of(token):
    return zlib.decompress(base64.b64decode(token[3:]))


def services_of(token):
    return [(service.type, service.privileges, service.fields) for service in at2.parse(token).services]


def expected(services):
    return [(service.type, service.privileges, service.fields) for service in services]


def other_certificate(certificate):
    """A different valid certificate: the first character replaced by another hex digit."""
    return ("0" if certificate[0] != "0" else "1") + certificate[1:]


# The vectors -------------------------------------------------------------------------------------------


def test_the_encoder_of_these_tests_reproduces_the_vectors():
    for token, services in VECTORS.values():
        assert encode(APP_ID, CERT, services, 600, **WHEN) == token


def test_vector_1_rtc_by_uid_and_by_the_same_account():
    assert at2.build_rtc(APP_ID, CERT, CHANNEL, UID, ROLE_SUBSCRIBER, 600, 600, **WHEN) == V1_RTC_UID
    assert at2.build_rtc(APP_ID, CERT, CHANNEL, "2882341273", ROLE_SUBSCRIBER, 600, 600, **WHEN) == V1_RTC_UID
    assert at2.build(APP_ID, CERT, [at2.rtc_service(CHANNEL, UID, {1: 600})], 600, **WHEN) == V1_RTC_UID
    assert at2.build_rtc_with_privileges(APP_ID, CERT, CHANNEL, UID, 600, 600, 0, 0, 0, **WHEN) != V1_RTC_UID


def test_vector_2_rtc_uid_0():
    assert at2.build_rtc(APP_ID, CERT, CHANNEL, 0, ROLE_SUBSCRIBER, 600, 600, **WHEN) == V2_RTC_UID0
    assert at2.build(APP_ID, CERT, [at2.rtc_service(CHANNEL, 0, {1: 600})], 600, **WHEN) == V2_RTC_UID0
    # The account "0" is a user account, not the wildcard uid.
    assert at2.build_rtc(APP_ID, CERT, CHANNEL, "0", ROLE_SUBSCRIBER, 600, 600, **WHEN) != V2_RTC_UID0


def test_vector_3_chat_user():
    assert at2.build_chat_user(APP_ID, CERT, "2882341273", 600, **WHEN) == V3_CHAT_USER


def test_vector_4_chat_app():
    assert at2.build_chat_app(APP_ID, CERT, 600, **WHEN) == V4_CHAT_APP


def test_vector_5_five_services_in_any_order():
    assert at2.build(APP_ID, CERT, FIVE_SERVICES, 600, **WHEN) == V5_FIVE_SERVICES
    assert at2.build(APP_ID, CERT, FIVE_SERVICES[::-1], 600, **WHEN) == V5_FIVE_SERVICES


def test_vector_6_rtm2_with_permissions_by_name_or_number():
    by_name = {"message_channels": {"read": ["lobby", "news"], "write": ["lobby"]}, "users": {"read": ["*"]}}
    assert at2.build_rtm_with_permissions(APP_ID, CERT, "test_user", by_name, 600, **WHEN) == V6_RTM2
    assert at2.build_rtm_with_permissions(APP_ID, CERT, "test_user", V6_PERMISSIONS, 600, **WHEN) == V6_RTM2
    # Resource types and permissions are packed in ascending order whatever order they come in.
    reordered = {"users": {"read": ["*"]}, "message_channels": {"write": ["lobby"], "read": ["lobby", "news"]}}
    assert at2.build_rtm_with_permissions(APP_ID, CERT, "test_user", reordered, 600, **WHEN) == V6_RTM2
    # The order of the names is part of the signed bytes.
    swapped = {"message_channels": {"read": ["news", "lobby"], "write": ["lobby"]}, "users": {"read": ["*"]}}
    assert at2.build_rtm_with_permissions(APP_ID, CERT, "test_user", swapped, 600, **WHEN) != V6_RTM2


def test_vector_6_parses_to_named_permissions():
    [service] = at2.parse(V6_RTM2).as_dict()["services"]
    assert service == {
        "type": 8,
        "service": "rtm2",
        "user_id": "test_user",
        "permissions": {"message_channels": {"read": ["lobby", "news"], "write": ["lobby"]}, "users": {"read": ["*"]}},
        "privileges": {"login": 600},
    }


def test_vector_7_fpa_puts_the_expiry_in_the_token_and_0_in_the_login():
    assert at2.build_fpa(APP_ID, CERT, 86400, **WHEN) == V7_FPA
    parsed = at2.parse(V7_FPA)
    assert parsed.expire == 86400 and parsed.services[0].privileges == {1: 0}
    assert parsed.verify(CERT) and not parsed.verify(other_certificate(CERT))


def test_vector_8_privilege_0_is_the_default_privilege_expiry():
    assert at2.build_rtc(APP_ID, CERT, CHANNEL, UID, ROLE_SUBSCRIBER, 600, **WHEN) == V8_RTC_PRIVILEGE_0
    assert at2.build_rtc(APP_ID, CERT, CHANNEL, UID, ROLE_SUBSCRIBER, 600, 0, **WHEN) == V8_RTC_PRIVILEGE_0


def test_vector_9_an_unknown_service_is_built_from_its_privileges_alone():
    services = [at2.rtc_service(CHANNEL, UID, {1: 600}), Service(999, {1: 600})]
    assert at2.build(APP_ID, CERT, services, 600, **WHEN) == V9_UNKNOWN_SERVICE
    assert encode(APP_ID, CERT, services, 600, **WHEN) == V9_UNKNOWN_SERVICE


def test_vector_9_parses_up_to_the_unknown_service_and_verifies():
    parsed = at2.parse(V9_UNKNOWN_SERVICE)
    assert services_of(V9_UNKNOWN_SERVICE) == expected([rtc(str(UID), {1: 600})])
    assert parsed.unknown_service_type == 999
    assert parsed.as_dict()["unknown_service_type"] == 999
    assert parsed.verify(CERT) and not parsed.verify(other_certificate(CERT))
    # The signature covers the unknown service too: any change to it is caught.
    data = payload_of(V9_UNKNOWN_SERVICE)
    for position in range(len(data) - 10, len(data)):
        changed = data[:position] + bytes([data[position] ^ 1]) + data[position + 1 :]
        assert fails(seal(changed))


def test_known_tokens_say_nothing_of_unknown_services():
    assert at2.parse(V1_RTC_UID).unknown_service_type is None
    assert "unknown_service_type" not in at2.parse(V1_RTC_UID).as_dict()


@pytest.mark.parametrize("name", VECTORS)
def test_each_vector_parses_to_the_documented_fields(name):
    token, services = VECTORS[name]
    parsed = at2.parse(token)
    assert isinstance(parsed, Token)
    assert parsed.version == "007"
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (APP_ID, 1111111, 600, 1)
    assert parsed.expires_at == 1111711
    assert [(s.type, s.privileges, s.fields) for s in parsed.services] == expected(services)
    assert len(parsed.signature) == 32
    assert parsed.signing_info == signing_info(APP_ID, 1111111, 600, 1, services)


def test_parsed_vector_as_a_plain_dict():
    assert at2.parse(V5_FIVE_SERVICES).as_dict() == {
        "version": "007",
        "app_id": APP_ID,
        "issue_ts": 1111111,
        "expire": 600,
        "expires_at": 1111711,
        "salt": 1,
        "services": [
            {
                "type": 1,
                "service": "rtc",
                "channel_name": CHANNEL,
                "uid": "2882341273",
                "privileges": {
                    "join_channel": 600,
                    "publish_audio_stream": 600,
                    "publish_video_stream": 600,
                    "publish_data_stream": 600,
                },
            },
            {"type": 2, "service": "rtm", "user_id": "test_user", "privileges": {"login": 600}},
            {
                "type": 3,
                "service": "streaming",
                "channel_name": CHANNEL,
                "uid": "2882341273",
                "privileges": {"publish_mix_stream": 600, "publish_raw_stream": 600},
            },
            {"type": 4, "service": "fpa", "privileges": {}},
            {"type": 5, "service": "chat", "user_id": "2882341273", "privileges": {"user": 600}},
        ],
    }


@pytest.mark.parametrize("token", VECTOR_TOKENS)
def test_each_vector_verifies_with_the_certificate_and_no_other(token):
    parsed = at2.parse(token)
    assert parsed.verify(CERT) is True
    for position in range(32):
        for replacement in "0aF":
            changed = CERT[:position] + replacement + CERT[position + 1 :]
            if changed != CERT:
                assert parsed.verify(changed) is False, changed
    assert parsed.verify(CERT.lower()) is False  # the certificate is signed as given, case preserved
    assert parsed.verify(CERT.upper()) is False
    assert parsed.verify(APP_ID) is False
    for _ in range(20):
        assert parsed.verify(secrets.token_hex(16)) is False
    for not_a_certificate in ("", CERT[:-1], CERT + "0", "g" * 32, None, 42):
        assert parsed.verify(not_a_certificate) is False


@PROPERTY
@given(
    token=st.sampled_from(VECTOR_TOKENS),
    certificate=st.text(alphabet="0123456789abcdefABCDEF", min_size=32, max_size=32),
)
def test_a_vector_fails_with_any_random_certificate(token, certificate):
    assert at2.parse(token).verify(certificate) is (certificate == CERT)


# Every builder entry point --------------------------------------------------------------------------------

APAAS_ROOM = "f3b1a1d0-room"
APAAS_USER_UUID = "user-42"

BUILDERS = {
    "rtc uid publisher": (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 12345, ROLE_PUBLISHER, 3600),
        [rtc("12345", {1: 0, 2: 0, 3: 0, 4: 0})],
    ),
    "rtc uid subscriber": (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 12345, ROLE_SUBSCRIBER, 3600),
        [rtc("12345", {1: 0})],
    ),
    "rtc uid 0 is any uid": (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 0, ROLE_PUBLISHER, 3600),
        [rtc("", {1: 0, 2: 0, 3: 0, 4: 0})],
    ),
    "rtc max uid": (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, MAX_U32, ROLE_SUBSCRIBER, 3600),
        [rtc("4294967295", {1: 0})],
    ),
    "rtc account publisher": (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, "alice", ROLE_PUBLISHER, 3600),
        [rtc("alice", {1: 0, 2: 0, 3: 0, 4: 0})],
    ),
    "rtc account subscriber": (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, "alice", ROLE_SUBSCRIBER, 3600),
        [rtc("alice", {1: 0})],
    ),
    'rtc account "0" stays "0"': (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, "0", ROLE_SUBSCRIBER, 3600),
        [rtc("0", {1: 0})],
    ),
    "rtc one privilege expiry": (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 7, ROLE_PUBLISHER, 3600, 600),
        [rtc("7", {1: 600, 2: 600, 3: 600, 4: 600})],
    ),
    "rtc one privilege expiry, subscriber": (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 7, ROLE_SUBSCRIBER, 3600, privilege_expire=600),
        [rtc("7", {1: 600})],
    ),
    "rtc privilege expiry 0 (no separate limit)": (
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 7, ROLE_SUBSCRIBER, 3600, 0),
        [rtc("7", {1: 0})],
    ),
    "rtc per-privilege expiries": (
        lambda: at2.build_rtc_with_privileges(APP_ID, CERT, CHANNEL, 7, 3600, 100, 200, 300, 400),
        [rtc("7", {1: 100, 2: 200, 3: 300, 4: 400})],
    ),
    "rtc per-privilege expiries, account": (
        lambda: at2.build_rtc_with_privileges(APP_ID, CERT, CHANNEL, "bob", 3600, 100, 0, 0, 400),
        [rtc("bob", {1: 100, 2: 0, 3: 0, 4: 400})],
    ),
    "rtc + rtm": (
        lambda: at2.build_rtc_rtm(APP_ID, CERT, CHANNEL, "alice", ROLE_PUBLISHER, 3600),
        [rtc("alice", {1: 0, 2: 0, 3: 0, 4: 0}), rtm("alice", 3600)],
    ),
    "rtc + rtm subscriber, own expiries": (
        lambda: at2.build_rtc_rtm(
            APP_ID, CERT, CHANNEL, "alice", ROLE_SUBSCRIBER, 3600, privilege_expire=600, rtm_expire=1200
        ),
        [rtc("alice", {1: 600}), rtm("alice", 1200)],
    ),
    "rtc + rtm, separate rtm user id": (
        lambda: at2.build_rtc_rtm(APP_ID, CERT, CHANNEL, "alice", ROLE_PUBLISHER, 3600, rtm_user_id="alice-rtm"),
        [rtc("alice", {1: 0, 2: 0, 3: 0, 4: 0}), rtm("alice-rtm", 3600)],
    ),
    "rtc + rtm, an expiry per privilege (publisher)": (
        lambda: at2.build_rtc_rtm_with_privileges(
            APP_ID, CERT, CHANNEL, "rtc-account", ROLE_PUBLISHER, 3600, 1, 2, 3, 4, "rtm-account", 1800
        ),
        [rtc("rtc-account", {1: 1, 2: 2, 3: 3, 4: 4}), rtm("rtm-account", 1800)],
    ),
    "rtc + rtm, an expiry per privilege (subscriber joins only)": (
        lambda: at2.build_rtc_rtm_with_privileges(
            APP_ID, CERT, CHANNEL, "rtc-account", ROLE_SUBSCRIBER, 3600, 100, 2, 3, 4, "rtm-account", 0
        ),
        [rtc("rtc-account", {1: 100}), rtm("rtm-account", 0)],
    ),
    "rtm2": (
        lambda: at2.build_rtm_with_permissions(
            APP_ID, CERT, "u", {"stream_channels": {"write": ["s1"]}, "group_channels": {"read": ["g"]}}, 3600
        ),
        [Service(RTM2, {1: 3600}, {"user_id": "u", "permissions": {1: {1: ("s1",)}, 2: {0: ("g",)}}})],
    ),
    "rtm": (
        lambda: at2.build_rtm(APP_ID, CERT, "test_user", 3600),
        [rtm("test_user", 3600)],
    ),
    "chat user": (
        lambda: at2.build_chat_user(APP_ID, CERT, "bob", 3600),
        [chat("bob", {1: 3600})],
    ),
    "chat app": (
        lambda: at2.build_chat_app(APP_ID, CERT, 3600),
        [chat("", {2: 3600})],
    ),
    "fpa": (
        lambda: at2.build_fpa(APP_ID, CERT, 3600),
        [Service(FPA, {1: 0}, {})],
    ),
    "apaas room user": (
        lambda: at2.build_apaas_room_user(APP_ID, CERT, APAAS_ROOM, APAAS_USER_UUID, 2, 3600),
        [apaas(APAAS_ROOM, APAAS_USER_UUID, 2, {1: 3600})],
    ),
    "apaas user": (
        lambda: at2.build_apaas_user(APP_ID, CERT, APAAS_USER_UUID, 3600),
        [apaas("", APAAS_USER_UUID, -1, {2: 3600})],
    ),
    "apaas app": (
        lambda: at2.build_apaas_app(APP_ID, CERT, 3600),
        [apaas("", "", -1, {3: 3600})],
    ),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_every_builder_grants_exactly_the_documented_services(name):
    build, services = BUILDERS[name]
    before = int(time.time())
    token = build()
    after = int(time.time())
    parsed = at2.parse(token)
    assert token.startswith("007")
    assert parsed.app_id == APP_ID
    assert parsed.expire == 3600
    assert before <= parsed.issue_ts <= after
    assert 1 <= parsed.salt <= MAX_SALT
    assert services_of(token) == expected(services)
    assert parsed.verify(CERT)
    # Byte for byte what the independent encoder makes of the same inputs.
    assert token == encode(APP_ID, CERT, services, 3600, parsed.issue_ts, parsed.salt)


def test_rtc_uid_as_text_and_rtc_service():
    assert at2.uid_text(0) == ""
    assert at2.uid_text(1) == "1"
    assert at2.uid_text(MAX_U32) == "4294967295"
    assert at2.uid_text("0") == "0"
    assert at2.uid_text("") == ""
    service = at2.rtc_service(CHANNEL, 0, {1: 5})
    assert (service.type, service.privileges, service.fields) == (RTC, {1: 5}, {"channel_name": CHANNEL, "uid": ""})


def test_rtc_privileges_by_role():
    assert at2.rtc_privileges(ROLE_PUBLISHER, 60) == {1: 60, 2: 60, 3: 60, 4: 60}
    assert at2.rtc_privileges(ROLE_SUBSCRIBER, 60) == {1: 60}
    for role in (0, 3, "publisher", None):
        with pytest.raises(TokenError):
            at2.rtc_privileges(role, 60)


def test_service_names_and_privilege_names():
    assert at2.SERVICE_NAMES == {
        1: "rtc",
        2: "rtm",
        3: "streaming",
        4: "fpa",
        5: "chat",
        6: "fcdn",
        7: "apaas",
        8: "rtm2",
    }
    assert (RTC, RTM, STREAMING, FPA, CHAT, FCDN, APAAS, RTM2) == (1, 2, 3, 4, 5, 6, 7, 8)
    assert Service(FCDN, {1: 5, 2: 6}, {"channel_name": "c", "account": "a"}).as_dict() == {
        "type": 6,
        "service": "fcdn",
        "channel_name": "c",
        "account": "a",
        "privileges": {"publish": 5, "play": 6},
    }


# Round trips (hypothesis) ------------------------------------------------------------------------------

hex32 = st.text(alphabet="0123456789abcdefABCDEF", min_size=32, max_size=32)
u32 = st.integers(0, MAX_U32)
uids = st.integers(0, MAX_U32)
texts = st.text(max_size=80)
accounts = st.text(min_size=1, max_size=255)


@st.composite
def services(draw, service_type=None):
    kind = draw(st.sampled_from(sorted(FIELD_KINDS))) if service_type is None else service_type
    privileges = draw(st.dictionaries(st.integers(0, 0xFFFF), u32, max_size=5))
    fields = {}
    for name, field_kind in zip(FIELD_NAMES[kind], FIELD_KINDS[kind], strict=True):
        if field_kind == "h":
            fields[name] = draw(st.integers(-32768, 32767))
        else:
            fields[name] = draw(rtm2_permissions) if field_kind == "p" else draw(texts)
    return Service(kind, privileges, fields)


# RTM2 permissions as the parser returns them: ascending keys, non-empty tuples of names.
rtm2_permissions = st.dictionaries(
    st.sampled_from(sorted(at2.RTM2_RESOURCES)),
    st.dictionaries(
        st.sampled_from(sorted(at2.RTM2_PERMISSIONS)),
        st.tuples(texts).map(tuple) | st.lists(texts, min_size=1, max_size=4).map(tuple),
        min_size=1,
    ),
).map(lambda permissions: {key: dict(sorted(value.items())) for key, value in sorted(permissions.items())})


@PROPERTY
@example(APP_ID, CERT, CHANNEL, 0, ROLE_PUBLISHER, 0, None, 0, 0)
@example(APP_ID, CERT, "", MAX_U32, ROLE_SUBSCRIBER, MAX_U32, MAX_U32, MAX_U32, MAX_U32)
@given(
    app_id=hex32,
    certificate=hex32,
    channel=texts,
    who=st.one_of(uids, accounts),
    role=st.sampled_from([ROLE_PUBLISHER, ROLE_SUBSCRIBER]),
    expire=u32,
    privilege_expire=st.one_of(st.none(), u32),
    issue_ts=u32,
    salt=u32,
)
def test_rtc_round_trip(app_id, certificate, channel, who, role, expire, privilege_expire, issue_ts, salt):
    given = {} if privilege_expire is None else {"privilege_expire": privilege_expire}
    token = at2.build_rtc(app_id, certificate, channel, who, role, expire, issue_ts=issue_ts, salt=salt, **given)
    parsed = at2.parse(token)
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (app_id, issue_ts, expire, salt)
    grant = 0 if privilege_expire is None else privilege_expire  # Agora's default: no separate limit
    privileges = {1: grant, 2: grant, 3: grant, 4: grant} if role == ROLE_PUBLISHER else {1: grant}
    uid = who if isinstance(who, str) else (str(who) if who else "")
    assert services_of(token) == expected([rtc(uid, privileges, channel)])
    assert parsed.verify(certificate)
    assert not parsed.verify(other_certificate(certificate))
    assert token == encode(app_id, certificate, [rtc(uid, privileges, channel)], expire, issue_ts, salt)


@PROPERTY
@given(
    app_id=hex32,
    certificate=hex32,
    channel=texts,
    account=accounts,
    rtm_user_id=st.one_of(st.none(), texts),
    role=st.sampled_from([ROLE_PUBLISHER, ROLE_SUBSCRIBER]),
    expire=u32,
    privilege_expire=u32,
    rtm_expire=u32,
    issue_ts=u32,
    salt=u32,
)
def test_rtc_rtm_round_trip(
    app_id, certificate, channel, account, rtm_user_id, role, expire, privilege_expire, rtm_expire, issue_ts, salt
):
    when = {"issue_ts": issue_ts, "salt": salt}
    token = at2.build_rtc_rtm(
        app_id, certificate, channel, account, role, expire, privilege_expire, rtm_user_id, rtm_expire, **when
    )
    privileges = at2.rtc_privileges(role, privilege_expire)
    user_id = account if rtm_user_id is None else rtm_user_id
    assert services_of(token) == expected([rtc(account, privileges, channel), rtm(user_id, rtm_expire)])
    assert at2.parse(token).verify(certificate)


@PROPERTY
@given(
    app_id=hex32,
    certificate=hex32,
    user_id=texts,
    room=texts,
    role=st.integers(-32768, 32767),
    expire=u32,
    issue_ts=u32,
    salt=u32,
)
def test_user_builders_round_trip(app_id, certificate, user_id, room, role, expire, issue_ts, salt):
    when = {"issue_ts": issue_ts, "salt": salt}
    cases = [
        (at2.build_rtm(app_id, certificate, user_id, expire, **when), [rtm(user_id, expire)]),
        (at2.build_chat_user(app_id, certificate, user_id, expire, **when), [chat(user_id, {1: expire})]),
        (at2.build_chat_app(app_id, certificate, expire, **when), [chat("", {2: expire})]),
        (at2.build_fpa(app_id, certificate, expire, **when), [Service(FPA, {1: 0}, {})]),
        (
            at2.build_apaas_room_user(app_id, certificate, room, user_id, role, expire, **when),
            [apaas(room, user_id, role, {1: expire})],
        ),
        (at2.build_apaas_user(app_id, certificate, user_id, expire, **when), [apaas("", user_id, -1, {2: expire})]),
        (at2.build_apaas_app(app_id, certificate, expire, **when), [apaas("", "", -1, {3: expire})]),
    ]
    for token, granted in cases:
        parsed = at2.parse(token)
        assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (app_id, issue_ts, expire, salt)
        assert services_of(token) == expected(granted)
        assert parsed.verify(certificate)
        assert token == encode(app_id, certificate, granted, expire, issue_ts, salt)


@PROPERTY
@given(
    app_id=hex32,
    certificate=hex32,
    granted=st.lists(services(), min_size=1, max_size=8),
    expire=u32,
    issue_ts=u32,
    salt=u32,
)
def test_any_services_round_trip(app_id, certificate, granted, expire, issue_ts, salt):
    token = at2.build(app_id, certificate, granted, expire, issue_ts=issue_ts, salt=salt)
    parsed = at2.parse(token)
    ordered = sorted(granted, key=lambda service: service.type)  # stable: same-type services keep their order
    assert services_of(token) == expected(ordered)
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (app_id, issue_ts, expire, salt)
    assert parsed.verify(certificate)
    assert token == encode(app_id, certificate, granted, expire, issue_ts, salt)


# Tampering ---------------------------------------------------------------------------------------------


def fails(token, certificate=CERT):
    """True when the token is refused: it does not parse, or it does not verify."""
    try:
        return not at2.parse(token).verify(certificate)
    except TokenError:
        return True


@pytest.mark.parametrize("token", VECTOR_TOKENS)
def test_every_bit_of_the_payload_is_protected(token):
    payload = payload_of(token)
    for index in range(len(payload)):
        for mask in (1, 2, 4, 8, 16, 32, 64, 128, 255):
            changed = bytearray(payload)
            changed[index] ^= mask
            assert fails(seal(bytes(changed))), (index, mask)


@PROPERTY
@given(token=st.sampled_from(VECTOR_TOKENS), data=st.data())
def test_any_byte_of_the_payload_replaced_is_refused(token, data):
    payload = payload_of(token)
    index = data.draw(st.integers(0, len(payload) - 1), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda byte: byte != payload[index]), label="value")
    assert fails(seal(payload[:index] + bytes([value]) + payload[index + 1 :]))


BASE64_CHARACTERS = string.ascii_letters + string.digits + "+/="


@pytest.mark.parametrize("token", VECTOR_TOKENS)
def test_every_character_of_the_token_is_protected(token):
    """Every one-character change fails to parse or fails to verify, except other spellings of the same token.

    Decoders ignore the bits that pad the stream to a whole byte (the unused low bits of the last base64
    character before "=", the high bits of the last deflate byte), and a deflate stream can spell the same
    bytes in more than one way (seen in vector 6, where a change inside its Huffman tables inflates to the
    same payload). Such a change carries the very same signed payload; Agora's own decoders accept those
    spellings too. Anything else must be refused.
    """
    compressed = base64.b64decode(token[3:])
    same_token = set()
    for position in range(len(token)):
        for character in BASE64_CHARACTERS + "06 .-_":
            if character == token[position]:
                continue
            changed = token[:position] + character + token[position + 1 :]
            if fails(changed):
                continue
            # It verifies: it must be the same payload, spelled differently only in padding bits.
            decoded = base64.b64decode(changed[3:])
            assert len(decoded) == len(compressed)
            assert zlib.decompress(decoded) == payload_of(token), (position, character)
            same_token.add(position)
    assert len(same_token) <= 6, same_token  # a handful of characters, never a field


def test_data_after_the_compressed_stream_is_refused():
    compressed = base64.b64decode(V1_RTC_UID[3:])
    for extra in (b"\x00", b"x", b"garbage", compressed):
        with pytest.raises(TokenError, match="after its compressed data"):
            at2.parse("007" + base64.b64encode(compressed + extra).decode())
    with pytest.raises(TokenError):
        at2.parse(V2_RTC_UID0 + "AAAA")


# Defaults: issue time now, random salt ----------------------------------------------------------------


def test_issue_time_defaults_to_now_and_salt_is_random():
    before = int(time.time())
    tokens = [at2.build_rtc(APP_ID, CERT, CHANNEL, 1, ROLE_PUBLISHER, 600) for _ in range(300)]
    after = int(time.time())
    parsed = [at2.parse(token) for token in tokens]
    assert all(before <= token.issue_ts <= after for token in parsed)
    salts = [token.salt for token in parsed]
    assert all(1 <= salt <= MAX_SALT for salt in salts)
    assert len(set(salts)) >= 295  # 300 draws from 10^8: a repeat is rare, several mean it is not random
    assert len(set(tokens)) >= 295


def test_explicit_issue_time_and_salt_are_used_as_given():
    token = at2.parse(at2.build_rtm(APP_ID, CERT, "u", 60, issue_ts=5, salt=MAX_SALT))
    assert (token.issue_ts, token.salt) == (5, MAX_SALT)
    only_salt = at2.parse(at2.build_rtm(APP_ID, CERT, "u", 60, salt=7))
    assert only_salt.salt == 7 and abs(only_salt.issue_ts - time.time()) < 5
    only_time = at2.parse(at2.build_rtm(APP_ID, CERT, "u", 60, issue_ts=5))
    assert only_time.issue_ts == 5 and 1 <= only_time.salt <= MAX_SALT


def test_random_salt_bounds(monkeypatch):
    # The salt is 1 + secrets.randbelow(99,999,999): check both ends of the range.
    for drawn, salt in ((0, 1), (MAX_SALT - 1, MAX_SALT)):
        monkeypatch.setattr(at2.secrets, "randbelow", lambda bound, drawn=drawn: drawn)
        assert at2.parse(at2.build_fpa(APP_ID, CERT, 60)).salt == salt


# Refusals when building ---------------------------------------------------------------------------------

NOT_HEX32 = ["", "0" * 31, "0" * 33, "g" * 32, APP_ID[:-1] + "Z", " " + APP_ID[1:], APP_ID + "\n", "٠" * 32, None, 42]


@pytest.mark.parametrize("bad", NOT_HEX32)
def test_app_id_and_certificate_must_be_32_hex(bad):
    with pytest.raises(TokenError, match="App ID"):
        at2.build_rtc(bad, CERT, CHANNEL, 1, ROLE_PUBLISHER, 600)
    with pytest.raises(TokenError, match="App Certificate"):
        at2.build_rtc(APP_ID, bad, CHANNEL, 1, ROLE_PUBLISHER, 600)
    with pytest.raises(TokenError):
        at2.check_hex32(bad, "It")


def test_check_hex32_returns_the_value_as_given():
    assert at2.check_hex32(APP_ID, "The App ID") == APP_ID


def test_a_token_needs_a_service():
    with pytest.raises(TokenError, match="at least one service"):
        at2.build(APP_ID, CERT, [], 600)


@pytest.mark.parametrize("uid", [-1, MAX_U32 + 1, 2**64, True, 1.0, None, b"12"])
def test_uid_out_of_range_or_of_the_wrong_type(uid):
    with pytest.raises(TokenError, match="uid"):
        at2.build_rtc(APP_ID, CERT, CHANNEL, uid, ROLE_PUBLISHER, 600)


@pytest.mark.parametrize("value", [-1, MAX_U32 + 1, 2**40])
def test_values_out_of_u32_are_refused(value):
    builds = [
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 1, ROLE_PUBLISHER, value),
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 1, ROLE_PUBLISHER, 600, value),
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 1, ROLE_PUBLISHER, 600, issue_ts=value),
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 1, ROLE_PUBLISHER, 600, salt=value),
        lambda: at2.build_rtc_with_privileges(APP_ID, CERT, CHANNEL, 1, 600, 600, value, 600, 600),
        lambda: at2.build_rtc_rtm(APP_ID, CERT, CHANNEL, "a", ROLE_PUBLISHER, 600, rtm_expire=value),
        lambda: at2.build_rtm(APP_ID, CERT, "u", value),
        lambda: at2.build_chat_user(APP_ID, CERT, "u", value),
        lambda: at2.build_chat_app(APP_ID, CERT, value),
        lambda: at2.build_fpa(APP_ID, CERT, value),
        lambda: at2.build_apaas_app(APP_ID, CERT, value),
        lambda: at2.build(APP_ID, CERT, [Service(RTM, {value: 1}, {"user_id": "u"})], 600),  # key is a u16
    ]
    for build in builds:
        with pytest.raises(TokenError):
            build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 1, ROLE_PUBLISHER, "600"),
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 1, ROLE_PUBLISHER, 600, 1.5),
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 1, ROLE_PUBLISHER, 600, salt=True),
        lambda: at2.build_rtc(APP_ID, CERT, None, 1, ROLE_PUBLISHER, 600),
        lambda: at2.build_rtc(APP_ID, CERT, CHANNEL, 1, 3, 600),
        lambda: at2.build_rtm(APP_ID, CERT, None, 600),
        lambda: at2.build_rtm(APP_ID, CERT, "x" * 65536, 600),  # a str field holds at most 65,535 bytes
        lambda: at2.build_apaas_room_user(APP_ID, CERT, "r", "u", 32768, 600),  # the role is an i16
        lambda: at2.build(APP_ID, CERT, [Service(99, {}, {"user_id": "u"})], 600),  # unknown layout, no fields
        lambda: at2.build(APP_ID, CERT, [Service(0x10000, {}, {})], 600),  # the type is a u16
        lambda: at2.build_rtm_with_permissions(APP_ID, CERT, "u", {"channels": {"read": ["a"]}}, 600),
        lambda: at2.build_rtm_with_permissions(APP_ID, CERT, "u", {"users": {"delete": ["a"]}}, 600),
        lambda: at2.build_rtm_with_permissions(APP_ID, CERT, "u", {"users": {"read": "a"}}, 600),
        lambda: at2.build_rtm_with_permissions(APP_ID, CERT, "u", {"users": {"read": [1]}}, 600),
        lambda: at2.build_rtm_with_permissions(APP_ID, CERT, "u", {"users": ["a"]}, 600),
        lambda: at2.build_rtm_with_permissions(APP_ID, CERT, "u", [("users", "read", "a")], 600),
        lambda: at2.build_rtm_with_permissions(APP_ID, CERT, "u", {"users": {"read": ["a"] * 65536}}, 600),
    ],
)
def test_other_bad_inputs_are_refused_with_token_error(build):
    with pytest.raises(TokenError):
        build()


def test_longest_field_is_accepted():
    token = at2.build_rtm(APP_ID, CERT, "x" * 65535, 600)
    assert at2.parse(token).services[0].fields["user_id"] == "x" * 65535


# Parse errors are always TokenError -------------------------------------------------------------------


def payload(services_bytes, count, app_id=APP_ID):
    """A signed-looking payload whose services part is given as raw bytes."""
    info = pack_str(app_id) + struct.pack("<IIIH", 1111111, 600, 1, count) + services_bytes
    return pack_str(sign(CERT, 1111111, 1, info)) + info


@pytest.mark.parametrize(
    "token, message",
    [
        ("", "starts with 007"),
        ("008" + V1_RTC_UID[3:], "starts with 007"),
        ("eJxT" + V1_RTC_UID[3:], "starts with 007"),
        (V1_RTC_UID[1:], "starts with 007"),
        ("006" + V1_RTC_UID[3:], "legacy"),
        ("007", "truncated"),
        ("007@@@@", "base64"),
        ("007" + V1_RTC_UID[4:], "base64"),  # length no longer a multiple of 4
        ("007" + V1_RTC_UID[3:-4] + "!" + V1_RTC_UID[-3:], "base64"),
        ("007" + V1_RTC_UID[3:50] + "\n" + V1_RTC_UID[50:], "base64"),
        ("007" + "é" * 8, "base64"),
        ("007" + base64.b64encode(b"not zlib at all").decode(), "compressed data"),
        ("007" + base64.b64encode(b"x\x9c" + b"\xff" * 20).decode(), "compressed data"),
        (seal(b""), "truncated"),
        (seal(b"\x20\x00" + b"s" * 10), "truncated"),
        (seal(payload(b"", 1)), "truncated"),
        (seal(payload(b"", 0) + b"\x00"), "unexpected bytes after its last service"),
        (seal(payload_of(V5_FIVE_SERVICES) + b"\x01\x02"), "unexpected bytes after its last service"),
        (seal(payload(struct.pack("<HH", RTM2, 0), 1)), "truncated"),
        (seal(payload(struct.pack("<HH", RTM2, 0) + pack_str("u") + struct.pack("<HHH", 1, 0, 1), 1)), "truncated"),
        (seal(payload(struct.pack("<HH", RTM, 0) + pack_str(b"\xff\xfe"), 1)), "UTF-8"),
        (seal(payload(b"", 0, app_id=b"\xc3")), "UTF-8"),
    ],
)
def test_parse_errors_are_token_errors(token, message):
    with pytest.raises(TokenError, match=message):
        at2.parse(token)


@pytest.mark.parametrize("unknown", [0, 9, 999, 0xFFFF])
def test_an_unknown_service_type_ends_the_readable_part(unknown):
    # What follows it cannot be read (its layout is unknown), so it is kept as signed bytes, not refused.
    body = pack_service(Service(FPA, {1: 5})) + struct.pack("<HH", unknown, 0) + b"fields nobody here knows"
    parsed = at2.parse(seal(payload(body, 3)))
    assert services_of(seal(payload(body, 3))) == expected([Service(FPA, {1: 5})])
    assert parsed.unknown_service_type == unknown
    assert parsed.verify(CERT)


@PROPERTY
@given(
    certificate=hex32,
    user_id=texts,
    permissions=rtm2_permissions,
    expire=u32,
    issue_ts=u32,
    salt=u32,
)
def test_rtm2_round_trip(certificate, user_id, permissions, expire, issue_ts, salt):
    when = {"issue_ts": issue_ts, "salt": salt}
    token = at2.build_rtm_with_permissions(APP_ID, certificate, user_id, permissions, expire, **when)
    granted = [Service(RTM2, {1: expire}, {"user_id": user_id, "permissions": permissions})]
    assert services_of(token) == expected(granted)
    assert at2.parse(token).verify(certificate)
    assert token == encode(APP_ID, certificate, granted, expire, issue_ts, salt)
    # By name, as a person writes them, the same token.
    named = {
        at2.RTM2_RESOURCES[resource]: {at2.RTM2_PERMISSIONS[key]: list(names) for key, names in by_key.items()}
        for resource, by_key in permissions.items()
    }
    assert at2.build_rtm_with_permissions(APP_ID, certificate, user_id, named, expire, **when) == token


def test_a_token_with_no_service_parses_but_cannot_be_built():
    # Builders refuse it; parsing reports what is there (its signature is valid).
    parsed = at2.parse(seal(payload(b"", 0)))
    assert parsed.services == [] and parsed.verify(CERT)


@pytest.mark.parametrize("token", VECTOR_TOKENS)
def test_every_truncation_is_refused(token):
    data = payload_of(token)
    for end in range(len(data)):
        with pytest.raises(TokenError, match="truncated"):
            at2.parse(seal(data[:end]))
    compressed = base64.b64decode(token[3:])
    for end in range(len(compressed)):
        with pytest.raises(TokenError):
            at2.parse("007" + base64.b64encode(compressed[:end]).decode())
    for end in range(len(token)):
        with pytest.raises(TokenError):
            at2.parse(token[:end])


def test_trailing_bytes_after_the_last_service_are_refused():
    for extra in (b"\x00", b"\x01\x00", payload_of(V1_RTC_UID)):
        with pytest.raises(TokenError, match="unexpected bytes"):
            at2.parse(seal(payload_of(V1_RTC_UID) + extra))


def test_surrounding_whitespace_is_ignored():
    assert at2.parse(f"  {V1_RTC_UID}\n").verify(CERT)


def test_an_oversized_payload_is_refused_without_inflating_it():
    bomb = "007" + base64.b64encode(zlib.compress(b"\x00" * 20_000_000, 9)).decode()
    started = time.perf_counter()
    with pytest.raises(TokenError, match="too large"):
        at2.parse(bomb)
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("not_text", [None, 7, 7.0, b"007abc", V1_RTC_UID.encode(), ["007"], object()])
def test_parse_of_something_other_than_text_is_a_token_error(not_text):
    with pytest.raises(TokenError):
        at2.parse(not_text)
    with pytest.raises(TokenError):
        at2.parse_legacy(not_text)


def parse_or_token_error(parser, token):
    """Parse `token`; a TokenError is fine, any other exception fails the test. Exercise what parsing returns."""
    try:
        parsed = parser(token)
    except TokenError:
        return None
    parsed.as_dict()
    parsed.is_expired()
    if isinstance(parsed, Token):
        assert parsed.verify(CERT) in (True, False)
    return parsed


@FUZZ
@given(st.text())
def test_fuzz_parse_any_text(text):
    parse_or_token_error(at2.parse, text)
    parse_or_token_error(at2.parse, "007" + text)
    parse_or_token_error(at2.parse_legacy, "006" + text)


@FUZZ
@given(st.text(alphabet=string.ascii_letters + string.digits + "+/=", max_size=400))
def test_fuzz_parse_base64_looking_text(text):
    parse_or_token_error(at2.parse, "007" + text)
    parse_or_token_error(at2.parse_legacy, "006" + APP_ID + text)


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_parse_random_bytes(data):
    encoded = base64.b64encode(data).decode()
    parse_or_token_error(at2.parse, "007" + encoded)
    parse_or_token_error(at2.parse, seal(data))
    parse_or_token_error(at2.parse_legacy, "006" + APP_ID + encoded)
    parse_or_token_error(at2.parse, data)  # bytes, not text


@FUZZ
@given(token=st.sampled_from(VECTOR_TOKENS), data=st.data())
def test_fuzz_parse_damaged_payloads(token, data):
    """Random cuts, insertions and overwrites of real payloads reach every branch of the reader."""
    original = payload_of(token)
    start = data.draw(st.integers(0, len(original)), label="start")
    end = data.draw(st.integers(start, len(original)), label="end")
    inserted = data.draw(st.binary(max_size=40), label="inserted")
    damaged = original[:start] + inserted + original[end:]
    parsed = parse_or_token_error(at2.parse, seal(damaged))
    if damaged != original and parsed is not None:
        assert not parsed.verify(CERT)


@FUZZ
@given(count=st.integers(0, 0xFFFF), body=st.binary(max_size=300))
def test_fuzz_parse_random_services(count, body):
    parse_or_token_error(at2.parse, seal(payload(body, count)))


# Expiry -----------------------------------------------------------------------------------------------


def test_expires_at_and_is_expired():
    parsed = at2.parse(at2.build_rtm(APP_ID, CERT, "u", 600, issue_ts=1_000_000, salt=5))
    assert parsed.expires_at == 1_000_600
    assert not parsed.is_expired(now=1_000_000)
    assert not parsed.is_expired(now=1_000_600)  # expired only when now > issue_ts + expire
    assert parsed.is_expired(now=1_000_600.5)
    assert parsed.is_expired(now=1_000_601)
    assert parsed.is_expired()  # 1970 is long gone
    assert at2.parse(V1_RTC_UID).is_expired()


def test_a_fresh_token_is_not_expired():
    parsed = at2.parse(at2.build_rtc(APP_ID, CERT, CHANNEL, 0, ROLE_PUBLISHER, 600))
    assert not parsed.is_expired()
    assert parsed.is_expired(now=parsed.issue_ts + 601)
    assert abs(parsed.expires_at - (time.time() + 600)) < 5


def test_privilege_expiries_do_not_change_the_token_expiry():
    parsed = at2.parse(at2.build_rtc(APP_ID, CERT, CHANNEL, 0, ROLE_PUBLISHER, 600, 60, issue_ts=100, salt=1))
    assert parsed.expires_at == 700


# Legacy "006" tokens (parse only) -----------------------------------------------------------------------


def legacy_token(app_id, certificate, channel, uid, salt, expire_ts, privileges):
    """A 006 token laid out as the reference describes; the library only reads them."""
    message = struct.pack("<II", salt, expire_ts) + pack_privileges(privileges)
    # A 32-byte signature (HMAC of the certificate over what the token stands for); parse_legacy does not check it.
    signature = hmac.digest(certificate.encode(), (app_id + channel + uid).encode() + message, "sha256")
    content = (
        pack_str(signature)
        + struct.pack("<II", zlib.crc32(channel.encode()), zlib.crc32(uid.encode()))
        + pack_str(message)
    )
    return "006" + app_id + base64.b64encode(content).decode()


LEGACY_PRIVILEGES = {1: 1_700_000_600, 2: 1_700_000_600, 3: 1_700_000_600, 4: 1_700_000_600}


def test_legacy_token_is_read():
    token = legacy_token(APP_ID, CERT, CHANNEL, "2882341273", 424242, 1_700_000_600, LEGACY_PRIVILEGES)
    parsed = at2.parse_legacy(token)
    assert isinstance(parsed, LegacyToken)
    assert (parsed.version, parsed.app_id, parsed.salt, parsed.expire_ts) == ("006", APP_ID, 424242, 1_700_000_600)
    assert parsed.privileges == LEGACY_PRIVILEGES
    assert not parsed.is_expired(now=1_700_000_600)
    assert parsed.is_expired(now=1_700_000_601)
    assert parsed.is_expired()
    assert parsed.as_dict() == {
        "version": "006",
        "app_id": APP_ID,
        "salt": 424242,
        "expire_ts": 1_700_000_600,
        "privileges": {"1": 1_700_000_600, "2": 1_700_000_600, "3": 1_700_000_600, "4": 1_700_000_600},
    }


def test_legacy_rtm_token_and_an_unexpired_one():
    expire_ts = int(time.time()) + 3600
    parsed = at2.parse_legacy(legacy_token(APP_ID.lower(), CERT, "", "alice", 1, expire_ts, {1000: expire_ts}))
    assert parsed.app_id == APP_ID.lower()
    assert parsed.privileges == {1000: expire_ts}  # RTM login
    assert not parsed.is_expired()


def test_parse_says_a_legacy_token_is_legacy():
    token = legacy_token(APP_ID, CERT, CHANNEL, "1", 1, 1_700_000_000, {1: 1_700_000_000})
    with pytest.raises(TokenError, match="legacy 006"):
        at2.parse(token)
    with pytest.raises(TokenError, match="Not a legacy"):
        at2.parse_legacy(V1_RTC_UID)


def test_damaged_legacy_tokens_are_refused():
    token = legacy_token(APP_ID, CERT, CHANNEL, "1", 1, 1_700_000_000, {1: 1_700_000_000})
    content = base64.b64decode(token[35:])
    for bad in (
        "006",
        "006" + APP_ID[:20],
        token[:35] + "@@@@",
        token[:35] + base64.b64encode(content + b"\x00").decode(),  # trailing bytes
        *(token[:35] + base64.b64encode(content[:end]).decode() for end in range(len(content))),
    ):
        with pytest.raises(TokenError):
            at2.parse_legacy(bad)

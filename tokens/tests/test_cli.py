"""`manage.py agora_token`: build and inspect tokens from the command line."""

import base64
import io
import json
import os
import struct
import subprocess
import sys
import time
import zlib

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from projects import services as project_services
from projects.models import Project
from tokens import accesstoken2 as at2

# The reference vectors (shared/reference/accesstoken2.md).
APP_ID = "970CA35de60c44645bbae8a215061b33"
CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"
OTHER_CERTIFICATE = "0123456789abcdef0123456789abcdef"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
FIXED = ["--issue-ts", "1111111", "--salt", "1"]
CREDENTIALS = ["--app-id", APP_ID, "--app-certificate", CERTIFICATE]

VECTOR_RTC_UID = (
    "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAw"
    "MoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj"
)
VECTOR_RTC_UID_0 = (
    "007eJxTYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAw"
    "MoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMADacImo="
)
VECTOR_CHAT_USER = (
    "007eJxTYNAIsnbS3v/A5t2TC6feR15r+6cq8bqAvfaW+tk/Vzz+p6xTYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDA"
    "yADCrEDMCOZzMRhZWBgZmxgamRsDAB+lHrg="
)
VECTOR_CHAT_APP = (
    "007eJxTYNDNaz3snC8huEfHWdz6s98qltq4zqy9fl99Uh0FDvy6F6DAYGlu4OxobJqSamaQbGJiZmKalJSYapFoZGhqYGaYZGzs/kWAIYKJgYGR"
    "AYRZgZgJzGdgAACt8hhr"
)
VECTOR_RTM2 = (
    "007eJxTYChs/HrfWU/P58rLZ2I2mY/39AYonpmS8e3cn7WcDOo5AkcVGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAw"
    "MoAwBxAzgvmcDCWpxSXxpcWpRUAeAwSzMuTkJyVVsjDkpZYXg1TCBSDaGRm0AINtJPg="
)
VECTOR_RTC_PRIVILEGE_0 = (
    "007eJxTYCjvdzbWfdRvW3iNTXtGaMYq8Zvu4vrm1kpuTqeXPfxxS1CBwdLcwNnR2DQl1cwg2cTEzMQ0KSkx1SLRyNDUwMwwydjY/YsAQwQTAwMj"
    "AwhDIAgoMJinmBsZm5mmJllaGJtYmBpbmqcapxqnWaaYmBkkpaQkcjEYWVgYGZsYGpkbAwC2/CKh"
)
# Vectors 1 and 2 give the join privilege the token's 600 s; Agora's default (vector 8) is 0.
RTC_VECTOR_ARGS = ["--channel", CHANNEL, "--role", "subscriber", "--expire", "600", "--privilege-expire", "600"]


def agora_token(*args: str) -> tuple[str, str]:
    """Run the command in-process; returns (stdout, stderr). CommandError propagates."""
    out, err = io.StringIO(), io.StringIO()
    call_command("agora_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing(*args: str, match: str) -> tuple[str, CommandError]:
    """Run a command that must fail with a message matching `match`; returns (stdout, error)."""
    out = io.StringIO()
    with pytest.raises(CommandError, match=match) as caught:
        call_command("agora_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue(), caught.value


def build(*args: str) -> str:
    out, _ = agora_token("build", *args)
    assert out.endswith("\n") and out.count("\n") == 1
    return out.strip()


def legacy_token(app_id: str, expire_ts: int, salt: int = 7) -> str:
    """A well-formed 006 token (its signature is not checked by anything here)."""

    def text(data: bytes) -> bytes:
        return struct.pack("<H", len(data)) + data

    message = struct.pack("<II", salt, expire_ts) + struct.pack("<H", 1) + struct.pack("<HI", 1, expire_ts)
    content = text(b"\x01" * 32) + struct.pack("<II", 123, 456) + text(message)
    return "006" + app_id + base64.b64encode(content).decode()


def tampered(token: str, offset_from_end: int = 1) -> str:
    """The same token with one byte of its signed content changed (still well-formed)."""
    data = bytearray(zlib.decompress(base64.b64decode(token[3:])))
    data[-offset_from_end] ^= 0x01
    return "007" + base64.b64encode(zlib.compress(bytes(data))).decode()


# Building ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        (["rtc", "--uid", "2882341273", *RTC_VECTOR_ARGS], VECTOR_RTC_UID),
        (["rtc", "--account", "2882341273", *RTC_VECTOR_ARGS], VECTOR_RTC_UID),
        (["rtc", "--uid", "0", *RTC_VECTOR_ARGS], VECTOR_RTC_UID_0),
        (["chat-user", "--user-id", "2882341273", "--expire", "600"], VECTOR_CHAT_USER),
        (["chat-app", "--expire", "600"], VECTOR_CHAT_APP),
        (["rtc", "--uid", "2882341273", *RTC_VECTOR_ARGS[:-2]], VECTOR_RTC_PRIVILEGE_0),
        (["rtc", "--uid", "2882341273", *RTC_VECTOR_ARGS[:-1], "0"], VECTOR_RTC_PRIVILEGE_0),
        (
            [
                "rtm2",
                "--user-id",
                "test_user",
                "--expire",
                "600",
                "--permission",
                "users:read:*",
                "--permission",
                "message_channels:read:lobby,news",
                "--permission",
                "message_channels:write:lobby",
            ],
            VECTOR_RTM2,
        ),
    ],
    ids=["rtc-uid", "rtc-account", "rtc-uid-0", "chat-user", "chat-app", "privilege-default-0", "privilege-0", "rtm2"],
)
def test_build_reproduces_the_reference_vectors(args, expected):
    out, err = agora_token("build", *args, *CREDENTIALS, *FIXED)
    assert out == expected + "\n"
    assert err == ""


def test_build_as_a_real_process_prints_the_token_alone(tmp_path):
    env = {**os.environ, "CONSOLE_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "console.settings"}
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "agora_token", "build", "rtc"]
    done = subprocess.run(
        [*command, "--uid", "2882341273", *RTC_VECTOR_ARGS, *CREDENTIALS, *FIXED],
        capture_output=True,
        cwd=settings.BASE_DIR,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == (VECTOR_RTC_UID + "\n").encode()

    refused = subprocess.run(
        [*command, "--uid", "4294967296", *RTC_VECTOR_ARGS, *CREDENTIALS],
        capture_output=True,
        cwd=settings.BASE_DIR,
        env=env,
        timeout=60,
    )
    assert refused.returncode != 0
    assert refused.stdout == b""
    assert b"The uid must be between 0 and 4294967295" in refused.stderr
    assert b"Traceback" not in refused.stderr


def test_build_rtc_publisher_grants_all_four_privileges_until_the_privilege_expiry():
    before = int(time.time())
    token = build(
        "rtc", *CREDENTIALS, "--channel", "demo room", "--account", "alice", "--role", "publisher",
        "--expire", "3600", "--privilege-expire", "600",
    )  # fmt: skip
    parsed = at2.parse(token)
    assert parsed.verify(CERTIFICATE)
    assert before <= parsed.issue_ts <= int(time.time())
    assert 1 <= parsed.salt <= at2.MAX_SALT
    assert parsed.expire == 3600
    (service,) = parsed.services
    assert service.as_dict() == {
        "type": at2.RTC,
        "service": "rtc",
        "channel_name": "demo room",
        "uid": "alice",
        "privileges": {
            "join_channel": 600,
            "publish_audio_stream": 600,
            "publish_video_stream": 600,
            "publish_data_stream": 600,
        },
    }


def test_build_rtm_and_rtc_rtm():
    rtm = at2.parse(build("rtm", *CREDENTIALS, "--user-id", "bob@example", "--expire", "120"))
    assert [s.as_dict() for s in rtm.services] == [
        {"type": at2.RTM, "service": "rtm", "user_id": "bob@example", "privileges": {"login": 120}}
    ]

    args = ["rtc-rtm", *CREDENTIALS, "--channel", "demo", "--account", "carol", "--role", "subscriber"]
    both = at2.parse(build(*args, "--expire", "900"))
    assert [(s.name, s.fields, s.privileges) for s in both.services] == [
        ("rtc", {"channel_name": "demo", "uid": "carol"}, {at2.JOIN_CHANNEL: 0}),
        ("rtm", {"user_id": "carol"}, {at2.RTM_LOGIN: 900}),
    ]
    separate = at2.parse(build(*args, "--expire", "900", "--privilege-expire", "60", "--rtm-user-id", "carol-rtm"))
    assert separate.services[0].privileges == {at2.JOIN_CHANNEL: 60}
    assert separate.services[1].fields == {"user_id": "carol-rtm"}


def test_build_rtc_rtm_with_an_expiry_per_privilege_matches_agoras_rtm2_builder():
    args = ["rtc-rtm", *CREDENTIALS, *FIXED, "--channel", "demo", "--account", "rtc-account", "--role", "publisher"]
    expiries = ["--join-expire", "1", "--publish-audio-expire", "2", "--publish-video-expire", "3"]
    expiries += ["--publish-data-expire", "4", "--rtm-user-id", "rtm-account", "--rtm-expire", "0"]
    token = build(*args, "--expire", "900", *expiries)
    assert token == at2.build_rtc_rtm_with_privileges(
        APP_ID, CERTIFICATE, "demo", "rtc-account", 1, 900, 1, 2, 3, 4, "rtm-account", 0, issue_ts=1111111, salt=1
    )
    # Unnamed privileges take --privilege-expire.
    partly = at2.parse(build(*args, "--expire", "900", "--privilege-expire", "50", "--publish-video-expire", "7"))
    assert partly.services[0].privileges == {1: 50, 2: 50, 3: 7, 4: 50}


@pytest.mark.parametrize(
    "permission, message",
    [
        ("users", "RESOURCE:read"),
        ("users:read", "RESOURCE:read"),
        ("rooms:read:a", "Unknown RTM2 resource type"),
        ("users:own:a", "Unknown RTM2 permission"),
        ("users:read:a b", "no spaces"),
        ("users:read:a,,b", "1 to 64"),
    ],
)
def test_build_rtm2_refuses_bad_permissions(permission, message):
    failing(
        "build", "rtm2", *CREDENTIALS, "--user-id", "u", "--expire", "60", "--permission", permission, match=message
    )


def test_issue_time_and_salt_make_output_deterministic_and_expiry_may_exceed_a_day():
    args = ["chat-app", *CREDENTIALS, "--expire", str(at2.MAX_U32), "--issue-ts", "1700000000", "--salt", "99"]
    first, second = build(*args), build(*args)
    assert first == second
    parsed = at2.parse(first)
    assert (parsed.issue_ts, parsed.salt, parsed.expire) == (1_700_000_000, 99, at2.MAX_U32)


def test_build_with_a_project_signs_with_its_primary_certificate(acme):
    project = acme.projects[0]
    token = build(
        "rtc", "--project", project.project_id, "--channel", "demo", "--uid", "7", "--role", "publisher",
        "--expire", "3600",
    )  # fmt: skip
    parsed = at2.parse(token)
    assert parsed.app_id == project.app_id
    assert parsed.verify(project.primary.value)
    assert not parsed.verify(acme.projects[1].primary.value)

    out, _ = agora_token("inspect", token, "--project", project.project_id)
    shown = json.loads(out)
    assert shown["signature_valid"] is True
    assert shown["signed_by"] == "primary"
    assert shown["signer_enabled"] is True
    assert shown["expired"] is False


def test_build_with_a_project_for_every_kind(acme):
    project = acme.projects[1]
    for args in (
        ["rtm", "--user-id", "u1", "--expire", "60"],
        ["chat-user", "--user-id", "u1", "--expire", "60"],
        ["chat-app", "--expire", "60"],
        ["rtc-rtm", "--channel", "c", "--account", "u1", "--role", "publisher", "--expire", "60"],
    ):
        token = build(args[0], "--project", project.project_id, *args[1:])
        assert at2.parse(token).verify(project.primary.value), args


# Inspecting -------------------------------------------------------------------------------------


def test_inspect_without_a_certificate_prints_the_token_and_exits_0():
    out, err = agora_token("inspect", VECTOR_RTC_UID)
    shown = json.loads(out)
    assert out == json.dumps(shown, indent=2) + "\n"
    assert err == ""
    assert shown == {
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
                "privileges": {"join_channel": 600},
            }
        ],
        "expired": True,
    }


def test_inspect_round_trip_with_the_certificate():
    token = build("rtc", *CREDENTIALS, "--channel", "demo", "--uid", "0", "--role", "publisher", "--expire", "60")
    out, _ = agora_token("inspect", token, "--app-certificate", CERTIFICATE)
    shown = json.loads(out)
    assert shown["signature_valid"] is True
    assert shown["expired"] is False
    assert shown["services"][0]["uid"] == ""
    assert shown["expire"] == 60
    assert "signed_by" not in shown


def test_inspect_an_expired_token_that_verifies_exits_0():
    out, _ = agora_token("inspect", VECTOR_CHAT_APP, "--app-certificate", CERTIFICATE)
    shown = json.loads(out)
    assert (shown["signature_valid"], shown["expired"]) == (True, True)


def test_inspect_reads_the_token_from_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(VECTOR_CHAT_USER + "\n"))
    out, _ = agora_token("inspect", "-", "--app-certificate", CERTIFICATE)
    assert json.loads(out)["services"][0]["user_id"] == "2882341273"


def test_inspect_exits_1_for_a_wrong_certificate():
    out, error = failing("inspect", VECTOR_RTC_UID, "--app-certificate", OTHER_CERTIFICATE, match="does not verify")
    assert error.returncode == 1
    assert json.loads(out)["signature_valid"] is False


@pytest.mark.parametrize("offset_from_end", [1, 20, 60])
def test_inspect_exits_1_for_a_tampered_token(offset_from_end):
    token = tampered(VECTOR_RTC_UID, offset_from_end)
    assert token != VECTOR_RTC_UID
    out, error = failing("inspect", token, "--app-certificate", CERTIFICATE, match="does not verify")
    assert error.returncode == 1
    assert json.loads(out)["signature_valid"] is False


@pytest.mark.parametrize(
    "token, match",
    [
        ("007" + "!" * 20, "not valid base64"),
        (VECTOR_RTC_UID[:40], "damaged|truncated|base64"),
        ("hello", "Not an AccessToken2"),
        ("", "Not an AccessToken2"),
    ],
)
def test_inspect_exits_1_for_a_token_that_cannot_be_read(token, match):
    out, error = failing("inspect", token, "--app-certificate", CERTIFICATE, match=match)
    assert error.returncode == 1
    assert out == ""


def test_inspect_with_a_project_reports_the_secondary_and_whether_it_is_enabled(acme):
    project = acme.projects[0]
    admin = acme.membership("admin")
    secondary = project_services.enable_secondary(admin, project)
    token = build(
        "rtm", "--app-id", project.app_id, "--app-certificate", secondary.value, "--user-id", "u", "--expire", "60"
    )

    out, _ = agora_token("inspect", token, "--project", project.project_id)
    shown = json.loads(out)
    assert (shown["signature_valid"], shown["signed_by"], shown["signer_enabled"]) == (True, "secondary", True)

    project_services.disable_secondary(admin, Project.objects.get(pk=project.pk))
    out, error = failing("inspect", token, "--project", project.project_id, match="secondary certificate.*disabled")
    assert error.returncode == 1
    assert json.loads(out)["signer_enabled"] is False


def test_inspect_with_the_wrong_project_exits_1_and_names_the_app_id(acme):
    token = build("chat-app", "--project", acme.projects[0].project_id, "--expire", "60")
    other = acme.projects[1]
    out, error = failing("inspect", token, "--project", other.project_id, match=f"not this project's {other.app_id}")
    shown = json.loads(out)
    assert (shown["signature_valid"], shown["signed_by"], shown["signer_enabled"]) == (False, None, None)


def test_inspect_a_legacy_token():
    token = legacy_token(APP_ID, expire_ts=int(time.time()) + 600)
    out, _ = agora_token("inspect", token)
    shown = json.loads(out)
    assert (shown["version"], shown["app_id"], shown["expired"]) == ("006", APP_ID, False)
    assert shown["privileges"] == {"1": shown["expire_ts"]}

    # Its signature covers the channel and uid, which it does not carry: never reported as verified.
    out, error = failing("inspect", token, "--app-certificate", CERTIFICATE, match="legacy 006 token cannot be")
    assert json.loads(out)["signature_valid"] is None


# Refusals ---------------------------------------------------------------------------------------


RTC = ["build", "rtc", *CREDENTIALS, "--role", "publisher", "--expire", "60"]


@pytest.mark.parametrize(
    "args, match",
    [
        ([*RTC, "--channel", "bad/channel", "--uid", "1"], "channel name contains characters that are not allowed"),
        ([*RTC, "--channel", "c" * 64, "--uid", "1"], "shorter than 64 bytes"),
        ([*RTC, "--channel", "", "--uid", "1"], "Enter a channel name"),
        ([*RTC, "--channel", "c", "--uid", "4294967296"], "uid must be between 0 and 4294967295"),
        ([*RTC, "--channel", "c", "--uid", "-1"], "uid must be a whole number"),
        ([*RTC, "--channel", "c", "--uid", "abc"], "uid must be a whole number"),
        ([*RTC, "--channel", "c", "--uid", "\u00b2"], "uid must be a whole number"),  # superscript two
        ([*RTC, "--channel", "c", "--uid", "\u0663"], "uid must be a whole number"),  # Arabic-Indic three
        ([*RTC, "--channel", "c", "--uid", "1", "--privilege-expire", "\u00b2"], "privilege expiry must be a number"),
        ([*RTC, "--channel", "c", "--account", "a" * 256], "at most 255 bytes"),
        ([*RTC, "--channel", "c", "--uid", "1", "--account", "a"], "not allowed with argument"),
        ([*RTC, "--channel", "c"], "one of the arguments --uid --account is required"),
        ([*RTC, "--channel", "c", "--uid", "1", "--privilege-expire", "-1"], "privilege expiry must be a number"),
        (["build", "rtc", *CREDENTIALS, "--channel", "c", "--uid", "1", "--role", "admin", "--expire", "60"],
         'role must be "publisher" or "subscriber"'),
        (["build", "chat-app", *CREDENTIALS, "--expire", "0"], "expiry must be between 1 and 4,294,967,295"),
        (["build", "chat-app", *CREDENTIALS, "--expire", str(2**32)], "expiry must be between 1"),
        (["build", "chat-app", *CREDENTIALS, "--expire", "1h"], "expiry must be a number of seconds"),
        (["build", "chat-app", *CREDENTIALS, "--expire", "\u00b2"], "expiry must be a number of seconds"),
        (["build", "chat-app", *CREDENTIALS], "the following arguments are required: --expire"),
        (["build", "chat-app", *CREDENTIALS, "--expire", "60", "--salt", "x"], "salt must be a whole number"),
        (["build", "chat-app", *CREDENTIALS, "--expire", "60", "--issue-ts", str(2**32)], "issue time must be"),
        (["build", "rtm", *CREDENTIALS, "--user-id", " bob", "--expire", "60"], "cannot start or end with a space"),
        (["build", "chat-user", *CREDENTIALS, "--user-id", "u" * 65, "--expire", "60"], "at most 64 bytes"),
        (["build", "rtc-rtm", *CREDENTIALS, "--channel", "c", "--account", "a" * 65, "--role", "publisher",
          "--expire", "60"], "user id must be at most 64 bytes"),
        (["build", "chat-app", "--expire", "60"], "Give --app-id and --app-certificate, or --project ID"),
        (["build", "chat-app", "--app-id", APP_ID, "--expire", "60"], "Give --app-id and --app-certificate"),
        (["build", "chat-app", "--app-id", "xyz", "--app-certificate", CERTIFICATE, "--expire", "60"],
         "App ID must be 32 hexadecimal characters"),
        (["build", "chat-app", "--app-id", APP_ID, "--app-certificate", CERTIFICATE[:-1], "--expire", "60"],
         "App Certificate must be 32 hexadecimal characters"),
        (["build", "chat-app", *CREDENTIALS, "--project", "abc", "--expire", "60"], "not both"),
        (["build", "fpa", *CREDENTIALS, "--expire", "60"], "invalid choice"),
        (["build"], "required"),
        ([], "required"),
        (["inspect", VECTOR_RTC_UID, "--app-certificate", "nothex"], "App Certificate must be 32 hexadecimal"),
        (["inspect", VECTOR_RTC_UID, "--app-certificate", CERTIFICATE, "--project", "x"], "not allowed with"),
    ],
)  # fmt: skip
def test_refusals(args, match):
    out, _ = failing(*args, match=match)
    assert out == ""


def test_refuses_an_unknown_project(db):
    failing("build", "chat-app", "--project", "nosuchid", "--expire", "60", match="No project with the id 'nosuchid'")
    failing("inspect", VECTOR_CHAT_APP, "--project", "nosuchid", match="No project with the id")


def test_refuses_a_disabled_project(acme):
    project = acme.projects[0]
    project_services.set_enabled(acme.membership("admin"), project, False)
    out, _ = failing(
        "build", "rtc", "--project", project.project_id, "--channel", "c", "--uid", "1", "--role", "publisher",
        "--expire", "60", match="This project is disabled",
    )  # fmt: skip
    assert out == ""

    # Inspecting a disabled project's tokens still works: that is when people need it.
    token = build("chat-app", "--app-id", project.app_id, "--app-certificate", project.primary.value, "--expire", "60")
    out, _ = agora_token("inspect", token, "--project", project.project_id)
    assert json.loads(out)["signed_by"] == "primary"


def test_refuses_a_project_without_a_certificate(acme):
    project = project_services.create_project(
        acme.membership("admin"), name="App ID only", mechanism=Project.Mechanism.APP_ID
    )
    failing("build", "chat-app", "--project", project.project_id, "--expire", "60", match="no enabled primary")


def test_an_unknown_project_is_reported(db):
    failing("build", "chat-app", "--project", "nosuchid", "--expire", "60", match="No project with the id")

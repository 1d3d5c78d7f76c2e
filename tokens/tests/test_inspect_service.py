"""tokens.services.inspect_token: what the inspector says about one pasted token, without the web page."""

import base64
import struct
import time
import zlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.access import restrict
from accounts.models import Membership, Role, User
from conftest import PASSWORD
from projects import services as project_services
from projects.models import Certificate, Project
from tokens import accesstoken2 as at2
from tokens.services import inspect_token

OTHER_CERTIFICATE = "0123456789abcdef0123456789abcdef"


def primary_value(project) -> str:
    return Certificate.objects.get(project=project, slot="primary").value


def rtc_token(project, certificate=None, **when) -> str:
    return at2.build_rtc(project.app_id, certificate or primary_value(project), "demo", 42, 1, 600, **when)


def legacy_token(app_id: str, expire_ts: int, salt: int = 7) -> str:
    """A "006" token laid out by hand from the reference (signature and CRCs are opaque to the parser)."""
    privileges = {1: expire_ts, 2: expire_ts}
    message = struct.pack("<IIH", salt, expire_ts, len(privileges)) + b"".join(
        struct.pack("<HI", key, value) for key, value in sorted(privileges.items())
    )
    signature = bytes(range(32))
    content = (
        struct.pack("<H", len(signature))
        + signature
        + struct.pack("<II", zlib.crc32(b"demo"), zlib.crc32(b"42"))
        + struct.pack("<H", len(message))
        + message
    )
    return "006" + app_id + base64.b64encode(content).decode()


@pytest.fixture
def engineer(acme):
    return acme.membership("engineer")


@pytest.fixture
def visible(engineer):
    """What the inspector searches: the projects the engineer may see."""
    return restrict(Project, engineer)


def test_a_token_signed_with_the_primary_names_its_project_and_the_primary(acme, visible):
    project = acme.projects[0]
    inspection = inspect_token(rtc_token(project), visible)
    assert inspection.error == ""
    assert inspection.version == "007" and not inspection.is_legacy
    assert inspection.project == project
    assert (inspection.signed_by, inspection.signer_enabled) == ("primary", True)
    assert inspection.expired is False
    assert inspection.details["app_id"] == project.app_id
    assert inspection.details["services"][0]["channel_name"] == "demo"
    assert inspection.details["services"][0]["uid"] == "42"
    assert 0 < (inspection.expires_at - datetime.now(UTC)).total_seconds() <= 600


def test_the_project_is_found_by_its_own_app_id_not_another_one(acme, visible):
    first, second = acme.projects
    inspection = inspect_token(rtc_token(second), visible)
    assert inspection.project == second
    assert inspection.signed_by == "primary"
    # The App ID of the first project with the certificate of the second: the first project's certs don't verify.
    forged = at2.build_rtc(first.app_id, primary_value(second), "demo", 42, 1, 600)
    inspection = inspect_token(forged, visible)
    assert inspection.project == first
    assert inspection.signed_by == ""


def test_an_old_token_verifies_as_secondary_after_a_swap_and_as_disabled_after_disabling(acme, engineer, visible):
    project = acme.projects[0]
    old = rtc_token(project)
    project_services.enable_secondary(engineer, project)
    project_services.swap_certificates(engineer, project)

    inspection = inspect_token(old, visible)
    assert (inspection.signed_by, inspection.signer_enabled) == ("secondary", True)
    new = inspect_token(rtc_token(project), visible)
    assert (new.signed_by, new.signer_enabled) == ("primary", True)

    project_services.disable_secondary(engineer, project)
    inspection = inspect_token(old, visible)
    assert (inspection.signed_by, inspection.signer_enabled) == ("secondary", False)


def test_a_token_signed_with_a_deleted_certificate_verifies_with_none(acme, engineer, visible):
    project = acme.projects[0]
    old = rtc_token(project)
    project_services.enable_secondary(engineer, project)
    project_services.swap_certificates(engineer, project)
    project_services.disable_secondary(engineer, project)
    project_services.delete_secondary(engineer, project)
    inspection = inspect_token(old, visible)
    assert inspection.project == project
    assert inspection.signed_by == ""


def test_a_token_signed_with_an_unknown_certificate_verifies_with_none(acme, visible):
    project = acme.projects[0]
    inspection = inspect_token(rtc_token(project, OTHER_CERTIFICATE), visible)
    assert inspection.project == project
    assert inspection.signed_by == "" and inspection.signer_enabled is False


def test_an_expired_token_is_expired(acme, visible):
    project = acme.projects[0]
    issued = int(time.time()) - 3600
    inspection = inspect_token(rtc_token(project, issue_ts=issued), visible)  # 600 s, an hour ago
    assert inspection.expired is True
    assert inspection.expires_at == datetime.fromtimestamp(issued + 600, UTC)
    assert inspection.signed_by == "primary"  # still says who signed it


def test_a_token_of_another_organization_finds_no_project(acme, globex, visible):
    inspection = inspect_token(rtc_token(globex.projects[0]), visible)
    assert inspection.error == ""
    assert inspection.project is None
    assert inspection.signed_by == ""
    assert inspection.details["app_id"] == globex.projects[0].app_id


def test_a_scoped_member_finds_only_projects_in_scope(acme):
    role = Role.objects.create(
        organization=acme.organization, name="P1", levels={"projects": "view"}, all_projects=False
    )
    role.projects.set([acme.projects[0]])
    user = User.objects.create_user("scoped@acme.test", PASSWORD)
    membership = Membership.objects.create(user=user, organization=acme.organization, role=role)
    projects = restrict(Project, membership)
    assert inspect_token(rtc_token(acme.projects[0]), projects).project == acme.projects[0]
    assert inspect_token(rtc_token(acme.projects[1]), projects).project is None


def test_the_app_id_matches_whatever_its_case(acme, visible):
    project = acme.projects[0]
    token = at2.build_rtc(project.app_id.upper(), primary_value(project), "demo", 0, 2, 600)
    inspection = inspect_token(token, visible)
    assert inspection.project == project
    assert inspection.signed_by == "primary"


def test_surrounding_whitespace_is_ignored(acme, visible):
    project = acme.projects[0]
    inspection = inspect_token(f"\n  {rtc_token(project)}\t \n", visible)
    assert inspection.error == "" and inspection.signed_by == "primary"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "hello",
        "007",
        "007!!!not base64!!!",
        "007" + base64.b64encode(b"not zlib at all").decode(),
        "007" + base64.b64encode(zlib.compress(b"\x05\x00abc")).decode(),
        "006",
        "006" + "a" * 32,
        "006" + "a" * 32 + "%%%%",
        "008eJxTYBBbsMMnKq7p9Hf",
        "007é",
    ],
)
def test_garbage_is_an_error_not_an_exception(acme, visible, garbage):
    inspection = inspect_token(garbage, visible)
    assert inspection.error
    assert inspection.details is None and inspection.project is None


def test_a_truncated_or_extended_token_is_an_error(acme, visible):
    token = rtc_token(acme.projects[0])
    data = zlib.decompress(base64.b64decode(token[3:]))
    for payload in (data[:-1], data + b"\x00"):
        assert inspect_token("007" + base64.b64encode(zlib.compress(payload)).decode(), visible).error
    assert inspect_token(token[:-4], visible).error


def test_a_tampered_token_still_parses_but_verifies_with_none(acme, visible):
    project = acme.projects[0]
    token = at2.build_rtc(project.app_id, primary_value(project), "demo", 42, 1, 600)
    data = bytearray(zlib.decompress(base64.b64decode(token[3:])))
    data[-1] ^= 0x01  # the last byte of the uid "42" -> "43"
    tampered = "007" + base64.b64encode(zlib.compress(bytes(data))).decode()
    inspection = inspect_token(tampered, visible)
    assert inspection.error == ""
    assert inspection.project == project
    assert inspection.details["services"][0]["uid"] == "43"
    assert inspection.signed_by == ""


def test_a_legacy_token_is_recognised_with_its_app_id_and_expiry(acme, visible):
    project = acme.projects[0]
    expire_ts = int(time.time()) + 3600
    inspection = inspect_token(legacy_token(project.app_id, expire_ts), visible)
    assert inspection.error == ""
    assert inspection.version == "006" and inspection.is_legacy
    assert inspection.details["app_id"] == project.app_id
    assert inspection.details["salt"] == 7
    assert inspection.project == project
    assert inspection.expired is False
    assert inspection.expires_at == datetime.fromtimestamp(expire_ts, UTC)
    assert inspection.signed_by == ""  # 006 signatures need the channel and uid: not checked


def test_an_expired_legacy_token_of_another_app_is_expired_and_unowned(acme, visible):
    inspection = inspect_token(legacy_token("f" * 32, int(time.time()) - 10), visible)
    assert inspection.is_legacy and inspection.expired is True
    assert inspection.project is None
    assert inspection.details["app_id"] == "f" * 32


def test_inspecting_writes_nothing(acme, visible, django_assert_max_num_queries):
    token = rtc_token(acme.projects[0])
    with django_assert_max_num_queries(2) as context:  # the project and its certificates, both reads
        inspect_token(token, visible)
    assert all(query["sql"].lstrip().upper().startswith("SELECT") for query in context.captured_queries)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=80), st.text(max_size=80).map(lambda t: "007" + t)))
def test_any_text_gives_an_inspection_or_an_error_never_an_exception(acme, visible, text):
    inspection = inspect_token(text, visible)
    assert inspection.error or inspection.details is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_any_changed_byte_gives_an_error_or_no_signer(acme, visible, position, value):
    project = acme.projects[0]
    token = at2.build_rtc(project.app_id, primary_value(project), "demo", 42, 1, 600, issue_ts=int(time.time()), salt=5)
    data = bytearray(zlib.decompress(base64.b64decode(token[3:])))
    position %= len(data)
    if data[position] == value:
        value ^= 0xFF
    data[position] = value
    inspection = inspect_token("007" + base64.b64encode(zlib.compress(bytes(data))).decode(), visible)
    assert inspection.error or inspection.signed_by == ""

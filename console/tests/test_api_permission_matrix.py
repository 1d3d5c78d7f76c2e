"""Every endpoint of the native API x every built-in role, an anonymous caller and an outsider, called with an
API credential and with a browser session (in sudo mode, as the pages would have it).

Expectations are written out by hand below, one line per endpoint and method, not derived from the views.
The calls run in order on one database, so each allowed change finds the state it needs (e.g. the swap
follows the secondary's creation). Roles refused a change must leave everything as it was.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.services import create_role
from conftest import reauthenticated
from console import api_urls
from console.tests.api_helpers import basic_auth
from console.tests.test_permission_matrix import (
    ADMIN_ONLY,
    BILLING,
    CERTIFICATE_MANAGERS,
    CHANNEL_MANAGERS,
    CHANNEL_VIEWERS,
    EVERYONE,
    PROJECT_EDITORS,
    PROJECT_VIEWERS,
    ROLES,
    TOKEN_ISSUERS,
    billing_objects,
)
from network.models import Call as NetworkCall
from network.models import KickingRule
from projects import services as project_services
from projects.models import Certificate, Project

AUDITORS = frozenset({"admin", "cs_maintenance"})


@dataclass(frozen=True)
class Call:
    name: str  # URL name
    method: str
    allowed: frozenset  # roles that get `ok`; other members get 403
    ok: int = 200
    on: str = ""  # which object the URL names (a key of the `targets` fixture); "" for collections
    body: dict | None = None

    @property
    def object_url(self) -> bool:
        return bool(self.on)


CALLS = [
    # Projects: projects view to read, projects edit to change.
    Call("api_projects", "get", PROJECT_VIEWERS),
    Call("api_projects", "post", PROJECT_EDITORS, ok=201, body={"name": "Matrix project"}),
    Call("api_project", "get", PROJECT_VIEWERS, on="project"),
    Call("api_project", "patch", PROJECT_EDITORS, on="project", body={"stage": "live"}),
    Call("api_project_disable", "post", PROJECT_EDITORS, on="project"),
    Call("api_project_enable", "post", PROJECT_EDITORS, on="project"),
    Call("api_project_archive", "post", PROJECT_EDITORS, on="project"),
    Call("api_project_unarchive", "post", PROJECT_EDITORS, on="project"),
    # App Certificates: certificates view to read and reveal, manage for the operations (a whole rotation).
    Call("api_certificates", "get", CERTIFICATE_MANAGERS, on="project"),
    Call("api_certificate_reveal", "post", CERTIFICATE_MANAGERS, on="primary"),
    Call("api_certificate_enable_secondary", "post", CERTIFICATE_MANAGERS, on="project"),
    Call("api_certificate_swap", "post", CERTIFICATE_MANAGERS, on="project"),
    Call("api_certificate_disable_secondary", "post", CERTIFICATE_MANAGERS, on="project"),
    Call("api_certificate_delete_secondary", "post", CERTIFICATE_MANAGERS, on="project"),
    Call("api_certificate_reset_primary", "post", CERTIFICATE_MANAGERS, on="project"),
    Call("api_certificate_enable_primary", "post", CERTIFICATE_MANAGERS, on="open_project"),
    Call("api_certificate_require_tokens", "post", CERTIFICATE_MANAGERS, on="open_project"),
    # Tokens: tokens generate.
    Call("api_tokens", "post", TOKEN_ISSUERS, on="project", body={"type": "rtc", "channel": "demo"}),
    Call("api_community_rtc_token", "get", TOKEN_ISSUERS, on="rtc"),
    Call("api_community_rtm_token", "get", TOKEN_ISSUERS, on="rtm"),
    # Usage: usage view (every built-in role).
    Call("api_usage_daily", "get", EVERYONE),
    Call("api_usage_summary", "get", EVERYONE),
    # Billing: billing view.
    Call("api_estimate", "get", BILLING),
    Call("api_statements", "get", BILLING),
    Call("api_statement", "get", BILLING, on="statement"),
    Call("api_transactions", "get", BILLING),
    # Members and roles: members view.
    Call("api_members", "get", ADMIN_ONLY),
    Call("api_member", "get", ADMIN_ONLY, on="member"),
    Call("api_roles", "get", ADMIN_ONLY),
    Call("api_role", "get", ADMIN_ONLY, on="role"),
    # Audit log: audit view.
    Call("api_audit", "get", AUDITORS),
    # Notification settings: channels view to read, channels manage to change ({"enabled": false} changes nothing
    # on a project that never enabled them; network/tests/test_notification_api.py makes real changes).
    Call("api_project_notifications", "get", CHANNEL_VIEWERS, on="project"),
    Call("api_project_notifications", "patch", CHANNEL_MANAGERS, on="project", body={"enabled": False}),
    # Kicking rules: channels view to read, manage to change. The changes are refused before the upstream is asked
    # (no privileges; no duration; the rule has expired): network/tests/test_kicking_api.py makes real ones.
    Call("api_kicking_rules", "get", CHANNEL_VIEWERS, on="project"),
    Call("api_kicking_rules", "post", CHANNEL_MANAGERS, ok=400, on="project", body={"uid": 42}),
    Call("api_kicking_rule", "get", CHANNEL_VIEWERS, on="expired_rule"),
    Call("api_kicking_rule", "patch", CHANNEL_MANAGERS, ok=400, on="expired_rule", body={"seconds": 0}),
    Call("api_kicking_rule", "delete", CHANNEL_MANAGERS, ok=400, on="expired_rule"),
    # Online channels and calls: channels view.
    Call("api_channels", "get", CHANNEL_VIEWERS, on="project"),
    Call("api_channel", "get", CHANNEL_VIEWERS, on="channel"),
    Call("api_calls", "get", CHANNEL_VIEWERS, on="project"),
    Call("api_call", "get", CHANNEL_VIEWERS, on="call"),
    Call("api_call_metrics", "get", CHANNEL_VIEWERS, ok=400, on="call"),  # no uids: 400 once allowed
]
NOT_CALLED = {"api_schema", "api_docs"}  # public: tested in test_permission_matrix.py


@pytest.fixture
def targets(acme) -> dict:
    """URL arguments for each kind of object, all of Acme."""
    admin = acme.membership("admin")
    project = acme.projects[0]
    open_project = project_services.create_project(admin, name="Open project", mechanism="app_id")
    custom = create_role(admin, name="Auditors", levels={"audit": "view"})
    project_id = project.project_id
    return {
        "project": {"project_id": project_id},
        "primary": {"project_id": project_id, "slot": "primary"},
        "open_project": {"project_id": open_project.project_id},
        "rtc": {"project_id": project_id, "channel": "demo", "role": "publisher", "id_type": "uid", "user": "42"},
        "rtm": {"project_id": project_id, "user_id": "someone"},
        "statement": billing_objects(acme)["billing:invoice"],
        "member": {"pk": acme.membership("engineer").pk},
        "role": {"pk": custom.pk},
        "expired_rule": {"project_id": project_id, "rule_id": expired_rule(project).pk},
        "call": {"project_id": project_id, "id": ended_call(project).call_id},
        "channel": {"project_id": project_id, "channel_name": "room-42"},
    }


def ended_call(project) -> NetworkCall:
    started = timezone.now() - timedelta(hours=1)
    return NetworkCall.objects.create(
        project=project, channel_name="room-42", call_id="a" * 24, started_at=started, ended_at=timezone.now()
    )


def expired_rule(project) -> KickingRule:
    """A ban on the project that has ended: changes to it are refused without asking the upstream."""
    ended = timezone.now() - timedelta(minutes=1)
    return KickingRule.objects.create(
        project=project, upstream_id=1, uid=42, privileges=["join_channel"], expires_at=ended
    )


def expected_status(call: Call, who: str) -> int:
    if who == "anonymous":
        return 401
    if who == "outsider":  # another organization's Admin: every level, none of Acme's objects
        return 404 if call.object_url else call.ok
    return call.ok if who in call.allowed else 403


def acme_state(acme) -> tuple:
    """What a refused caller must not change."""
    projects = Project.objects.filter(organization=acme.organization).order_by("pk")
    return (
        list(projects.values_list("name", "stage", "enabled", "archived_at", "mechanism", "certificates_version")),
        sorted(
            Certificate.objects.filter(project__organization=acme.organization).values_list("fingerprint", "enabled")
        ),
        AuditEntry.objects.filter(organization=acme.organization).count(),
    )


def caller(client, who: str, auth: str, acme, globex) -> dict:
    """Sign the caller in (session) or return their credential's headers."""
    if who == "anonymous":
        return {}
    org, key = (globex, "admin") if who == "outsider" else (acme, who)
    if auth == "credential":
        return basic_auth(org.membership(key))
    client.force_login(org.users[key])
    reauthenticated(client, org.users[key])
    return {}


def test_every_api_endpoint_is_in_the_matrix():
    endpoints = {pattern.name for pattern in api_urls.urlpatterns if pattern.name} - NOT_CALLED
    assert endpoints == {call.name for call in CALLS}


CALLERS = [("anonymous", "none")] + [(who, auth) for who in ("outsider", *ROLES) for auth in ("credential", "session")]


@pytest.mark.parametrize(("who", "auth"), CALLERS)
def test_every_endpoint_as_every_caller(who, auth, acme, globex, targets, client):
    headers = caller(client, who, auth, acme, globex)
    before = acme_state(acme)
    failures = []
    for call in CALLS:
        url = reverse(call.name, kwargs=targets[call.on] if call.on else {})
        send = getattr(client, call.method)
        if call.method == "get":
            response = send(url, **headers)
        else:
            response = send(url, call.body or {}, content_type="application/json", **headers)
        expected = expected_status(call, who)
        if response.status_code != expected:
            failures.append(f"{call.method.upper()} {url} ({call.name}) as {who}: {response.status_code}, {expected=}")
        elif expected >= 400 and set(response.json()) != {"message"}:
            failures.append(f"{call.method.upper()} {url} as {who}: error without a message: {response.content}")
        if expected == 403 and call.on == "primary":
            assert Project.objects.get(**targets["project"]).primary.value not in response.content.decode()
    assert not failures, "\n".join(failures)
    if who not in PROJECT_EDITORS | CERTIFICATE_MANAGERS:  # no change allowed to them above
        assert acme_state(acme) == before, f"{who} changed something"

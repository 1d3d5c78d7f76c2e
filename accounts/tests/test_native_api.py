"""The native API for members, roles and the audit log (read only)."""

from datetime import UTC, datetime

import pytest

from accounts import audit
from accounts.models import AuditEntry
from accounts.permissions import MODULES
from accounts.services import create_role, invite
from console.tests.api_helpers import Api, message

MEMBERS = "/api/v1/members/"
ROLES = "/api/v1/roles/"
AUDIT = "/api/v1/audit/"


@pytest.fixture
def api(acme, client):
    return Api(client, acme.membership("admin"))


def test_members_in_the_order_they_joined_without_secrets(acme, globex, api):
    invite(acme.membership("admin"), "pending@example.test", acme.roles["finance"])
    response = api.get(MEMBERS)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["email"] for row in rows] == [user.email for user in acme.users.values()]
    admin = rows[0]
    assert set(admin) == {"id", "email", "name", "role", "is_owner", "joined_at"}
    assert admin["is_owner"] is True and admin["role"]["name"] == "Admin"
    text = response.content.decode()
    assert "pending@example.test" not in text and "md5$" not in text and "globex" not in text


def test_members_filtered_by_role_and_search(acme, api):
    finance = acme.roles["finance"]
    emails = [row["email"] for row in api.get(MEMBERS, {"role": finance.pk}).json()["results"]]
    assert emails == ["finance@acme.test"]
    emails = [row["email"] for row in api.get(MEMBERS, {"search": "ENGINEER"}).json()["results"]]
    assert emails == ["engineer@acme.test"]


def test_one_member_and_another_organizations_member(acme, globex, api):
    mine = acme.membership("engineer")
    response = api.get(f"{MEMBERS}{mine.pk}/")
    assert response.status_code == 200 and response.json()["email"] == "engineer@acme.test"
    response = api.get(f"{MEMBERS}{globex.membership('engineer').pk}/")
    assert response.status_code == 404 and message(response)


def test_roles_with_every_module_level_and_their_scope(acme, globex, api):
    project = acme.projects[0]
    custom = create_role(
        acme.membership("admin"), name="Auditors", levels={"audit": "view"}, all_projects=False, projects=[project]
    )
    response = api.get(ROLES)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["name"] for row in rows] == ["Admin", "Finance", "Product/Operation", "CS/Maintenance", "Engineer"] + [
        "Auditors"
    ]
    finance = rows[1]
    assert finance["builtin"] is True and finance["builtin_key"] == "finance"
    assert set(finance["levels"]) == {module.key for module in MODULES}
    assert finance["levels"]["billing"] == "manage" and finance["levels"]["projects"] == "none"
    body = api.get(f"{ROLES}{custom.pk}/").json()
    assert body["all_projects"] is False and body["projects"] == [project.project_id]
    assert api.get(f"{ROLES}{globex.roles['admin'].pk}/").status_code == 404


def test_the_audit_log_newest_first_with_filters(acme, globex, api):
    organization = acme.organization
    old = AuditEntry.objects.create(
        created_at=datetime(2026, 1, 31, 23, 59, tzinfo=UTC), organization=organization, action="org.updated"
    )
    AuditEntry.objects.create(
        created_at=datetime(2026, 2, 1, 0, 0, tzinfo=UTC), organization=organization, action="role.created"
    )
    audit.record("org.updated", actor=None, organization=globex.organization, target="not Acme's")
    audit.record("auth.login", actor=acme.users["finance"], target="finance@acme.test")  # a member's sign-in

    response = api.get(AUDIT)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows[0]["action"] == "auth.login" and rows[0]["action_label"] == "Signed in"
    assert "not Acme's" not in response.content.decode()

    def listed(**params) -> list[str]:
        response = api.get(AUDIT, params)
        assert response.status_code == 200, response.content
        return [row["action"] for row in response.json()["results"]]

    assert listed(date_to="2026-01-31") == ["org.updated"]
    assert listed(date_from="2026-02-01", date_to="2026-02-01") == ["role.created"]
    assert listed(action="org.updated", date_to="2026-12-31") == ["org.updated"]
    assert listed(actor="finance@acme.test") == ["auth.login"]
    assert listed(date_to="9999-12-31", action="org.updated") == ["org.updated"]
    assert old.pk in [row["id"] for row in api.get(AUDIT, {"date_from": "0001-01-01"}).json()["results"]]

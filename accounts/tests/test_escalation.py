"""Nobody widens their own power: a scoped member editing their own role, a scoped creator widening a
shared role, a second Admin demoting the owner, and destructive operations through every door."""

import pytest

from accounts.models import AuditEntry, Membership, Role, User
from accounts.permissions import MODULES
from accounts.services import create_role, transfer_ownership, update_role
from conftest import PASSWORD
from projects.models import Project
from projects.services import create_project

LEVELS = {"members": "edit", "projects": "edit", "certificates": "view"}


@pytest.fixture
def scoped_lead(acme):
    """A member whose custom role may edit members and sees only Acme's first project."""
    role = Role.objects.create(
        organization=acme.organization, name="Project one lead", levels=LEVELS, all_projects=False
    )
    role.projects.set([acme.projects[0]])
    user = User.objects.create_user("lead@acme.test", PASSWORD)
    return Membership.objects.create(user=user, organization=acme.organization, role=role)


def role_form(role, projects, levels=LEVELS, name=None):
    data = {"name": name or role.name, "all_projects": "0", "projects": [p.pk for p in projects]}
    for module in MODULES:
        data[f"level_{module.key}"] = levels.get(module.key, "none")
    return data


def test_a_scoped_member_cannot_widen_their_own_roles_scope(acme, scoped_lead, client_for):
    client = client_for(scoped_lead.user)
    response = client.post(f"/members/roles/{scoped_lead.role.pk}/edit/", role_form(scoped_lead.role, acme.projects))
    assert response.status_code == 200
    assert "cannot change its permissions or data scope" in response.content.decode()
    assert list(scoped_lead.role.projects.all()) == [acme.projects[0]]
    other = acme.projects[1]
    assert client.post(f"/projects/{other.project_id}/certificates/reveal/primary/").status_code == 404


def test_a_scoped_member_cannot_change_their_own_roles_levels_but_may_rename_it(acme, scoped_lead):
    with pytest.raises(Exception, match="cannot change its permissions"):
        update_role(
            scoped_lead,
            scoped_lead.role,
            name="x",
            levels={**LEVELS, "certificates": "none"},
            all_projects=False,
            projects=[acme.projects[0]],
        )
    update_role(
        scoped_lead, scoped_lead.role, name="Renamed", levels=LEVELS, all_projects=False, projects=[acme.projects[0]]
    )
    assert Role.objects.get(pk=scoped_lead.role.pk).name == "Renamed"


def test_a_scoped_member_cannot_give_another_role_projects_outside_their_scope(acme, scoped_lead):
    other = create_role(
        acme.membership("admin"),
        name="Other",
        levels={"projects": "view"},
        all_projects=False,
        projects=[acme.projects[0]],
    )
    with pytest.raises(Exception, match="holds more than your own role"):
        update_role(
            scoped_lead, other, name="Other", levels={"projects": "view"}, all_projects=False, projects=acme.projects
        )
    assert list(other.projects.all()) == [acme.projects[0]]


def test_the_only_holder_of_a_scoped_role_sees_what_they_create_and_it_is_audited(acme, scoped_lead):
    project = create_project(scoped_lead, name="Lead's own")
    assert project in scoped_lead.role.projects.all()
    entry = AuditEntry.objects.get(action="role.scope_widened")
    assert entry.target == scoped_lead.role.name and entry.details["project_id"] == project.project_id


def test_a_shared_scoped_role_does_not_widen_behind_the_others_backs(acme, scoped_lead):
    colleague = User.objects.create_user("colleague@acme.test", PASSWORD)
    Membership.objects.create(user=colleague, organization=acme.organization, role=scoped_lead.role)
    with pytest.raises(Exception, match="share it"):
        create_project(scoped_lead, name="Widening")
    assert not Project.objects.filter(name="Widening").exists()
    assert list(scoped_lead.role.projects.all()) == [acme.projects[0]]


# The owner ---------------------------------------------------------------------------------------


@pytest.fixture
def second_admin(acme):
    user = User.objects.create_user("admin2@acme.test", PASSWORD)
    return Membership.objects.create(user=user, organization=acme.organization, role=acme.roles["admin"])


def test_a_second_admin_cannot_demote_the_owner(acme, second_admin, client_for):
    owner = acme.membership("admin")
    response = client_for(second_admin.user).post(f"/members/{owner.pk}/role/", {"role": acme.roles["engineer"].pk})
    assert response.status_code == 200
    assert "keeps the Admin role" in response.content.decode()
    assert Membership.objects.get(pk=owner.pk).role == acme.roles["admin"]


def test_only_the_owner_hands_over_ownership_then_the_former_owner_can_be_demoted(acme, second_admin):
    owner = acme.membership("admin")
    with pytest.raises(Exception, match="Only the owner"):
        transfer_ownership(second_admin, owner)
    transfer_ownership(owner, second_admin)
    acme.organization.refresh_from_db()
    assert acme.organization.owner == second_admin.user
    assert AuditEntry.objects.filter(action="org.ownership_transferred", target=second_admin.user.email).exists()


# Password re-entry through every door -------------------------------------------------------------


def test_reset_signkey_through_dev_v1_with_a_fresh_session_asks_for_the_password(acme, client_for):
    project = acme.projects[0]
    before = project.primary.value
    client = client_for(acme.users["admin"])
    client.get("/overview/")
    csrf = client.cookies.get("csrftoken")
    headers = {"HTTP_X_CSRFTOKEN": csrf.value} if csrf else {}
    response = client.post(
        "/dev/v1/reset_signkey", {"id": project.project_id}, content_type="application/json", **headers
    )
    assert response.status_code == 403, response.content
    assert "password" in response.json()["message"]
    assert Project.objects.get(pk=project.pk).primary.value == before

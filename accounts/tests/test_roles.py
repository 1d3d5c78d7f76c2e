"""Roles (Agora's "teams"): built-in roles with fixed levels, custom roles with a data scope."""

import pytest
from django.contrib.messages import get_messages

from accounts.access import restrict
from accounts.models import AuditEntry, Invitation, Membership, Role, User
from accounts.services import create_organization
from conftest import PASSWORD
from projects.models import Project

MODULE_KEYS = (
    "projects",
    "certificates",
    "tokens",
    "usage",
    "billing",
    "members",
    "api_credentials",
    "audit",
    "channels",
)
NOTHING = dict.fromkeys(MODULE_KEYS, "none")

# The spec's table, written out by hand rather than read from accounts.permissions.
EXPECTED_BUILTIN_LEVELS = {
    "Admin": {
        "projects": "edit",
        "certificates": "manage",
        "tokens": "generate",
        "usage": "manage",
        "billing": "manage",
        "members": "edit",
        "api_credentials": "manage",
        "audit": "view",
        "channels": "manage",
    },
    "Finance": {**NOTHING, "billing": "manage", "usage": "view"},
    "Product/Operation": {**NOTHING, "usage": "view", "projects": "view", "channels": "view"},
    "CS/Maintenance": {**NOTHING, "projects": "view", "usage": "view", "audit": "view", "channels": "manage"},
    "Engineer": {
        **NOTHING,
        "projects": "edit",
        "certificates": "manage",
        "tokens": "generate",
        "usage": "view",
        "api_credentials": "manage",
        "channels": "manage",
    },
}


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def role_data(name="Support lead", levels=None, all_projects=True, projects=()):
    data = {"name": name, "all_projects": "1" if all_projects else "0", "projects": [p.pk for p in projects]}
    for key in MODULE_KEYS:
        data[f"level_{key}"] = (levels or {}).get(key, "none")
    return data


def all_levels(role) -> dict[str, str]:
    return {key: role.level(key) for key in MODULE_KEYS}


@pytest.fixture
def admin_client(acme, client_for):
    return client_for(acme.users["admin"])


@pytest.fixture
def custom_role(acme):
    return Role.objects.create(organization=acme.organization, name="Auditor", levels={"audit": "view"})


# Built-in roles -----------------------------------------------------------------------------------


def test_every_organization_gets_the_builtin_roles_with_the_spec_levels(db):
    owner = User.objects.create_user("owner@example.com", PASSWORD)
    organization = create_organization(owner, "Initech")

    roles = {role.name: role for role in Role.objects.filter(organization=organization)}

    assert set(roles) == set(EXPECTED_BUILTIN_LEVELS)
    for name, expected in EXPECTED_BUILTIN_LEVELS.items():
        assert all_levels(roles[name]) == expected, name
        assert roles[name].is_builtin
        assert roles[name].all_projects
    owner_membership = Membership.objects.get(user=owner, organization=organization)
    assert owner_membership.role == roles["Admin"]


def test_admin_holds_every_module_at_its_highest_level(acme):
    admin = acme.membership("admin")
    for key, level in EXPECTED_BUILTIN_LEVELS["Admin"].items():
        assert admin.can(key, level), key


def test_builtin_roles_are_per_organization(acme, globex):
    assert acme.roles["admin"].pk != globex.roles["admin"].pk
    assert acme.organization.roles.count() == globex.organization.roles.count() == 5


def test_role_list_shows_builtin_and_custom_roles(acme, admin_client, custom_role):
    response = admin_client.get("/members/roles/")
    assert response.status_code == 200
    content = response.content.decode()
    for name in (*EXPECTED_BUILTIN_LEVELS, "Auditor"):
        assert name in content
    # Only the custom role offers edit and delete.
    assert f"/members/roles/{custom_role.pk}/edit/" in content
    assert f"/members/roles/{acme.roles['finance'].pk}/edit/" not in content
    assert f"/members/roles/{acme.roles['finance'].pk}/delete/" not in content


# Creating custom roles ----------------------------------------------------------------------------


def test_new_role_form_has_a_radio_group_per_module_and_a_data_scope(acme, admin_client):
    response = admin_client.get("/members/roles/new/")
    assert response.status_code == 200
    form = response.context["form"]
    for key in MODULE_KEYS:
        field = form.fields[f"level_{key}"]
        assert field.widget.input_type == "radio"
        assert [value for value, _ in field.choices][0] == "none"
    assert [value for value, _ in form.fields["level_projects"].choices] == ["none", "view", "edit"]
    assert [value for value, _ in form.fields["level_tokens"].choices] == ["none", "generate"]
    assert form.fields["all_projects"].widget.input_type == "radio"
    assert set(form.fields["projects"].queryset) == set(acme.projects)
    content = response.content.decode()
    assert 'type="radio" name="level_certificates" value="manage"' in content
    assert "Selected projects" in content


def test_create_a_custom_role_with_selected_projects(acme, admin_client):
    levels = {"projects": "view", "usage": "view", "tokens": "generate"}
    data = role_data("Project one team", levels, all_projects=False, projects=[acme.projects[0]])

    response = admin_client.post("/members/roles/new/", data)

    assert response.status_code == 302
    assert response["Location"] == "/members/roles/"
    role = Role.objects.get(organization=acme.organization, name="Project one team")
    assert not role.is_builtin
    assert all_levels(role) == {**NOTHING, **levels}
    assert role.levels == levels  # "none" is not stored
    assert role.all_projects is False
    assert list(role.projects.all()) == [acme.projects[0]]
    entry = AuditEntry.objects.get(action="role.created")
    assert entry.organization == acme.organization
    assert entry.actor == acme.users["admin"]
    assert entry.target == "Project one team"
    assert entry.details == {"levels": levels}


def test_create_a_custom_role_for_all_projects_ignores_picked_projects(acme, admin_client):
    data = role_data("Everything viewer", {"projects": "view"}, all_projects=True, projects=[acme.projects[0]])
    assert admin_client.post("/members/roles/new/", data).status_code == 302
    role = Role.objects.get(name="Everything viewer")
    assert role.all_projects is True
    assert role.projects.count() == 0


def test_selected_projects_with_none_picked_is_a_form_error(acme, admin_client):
    response = admin_client.post("/members/roles/new/", role_data("Nobody's team", all_projects=False))
    assert response.status_code == 200
    assert response.context["form"].errors["projects"]
    assert not Role.objects.filter(name="Nobody's team").exists()
    assert not AuditEntry.objects.filter(action="role.created").exists()


def test_projects_of_another_organization_cannot_be_selected(acme, globex, admin_client):
    data = role_data("Spy team", {"projects": "view"}, all_projects=False, projects=[globex.projects[0]])
    response = admin_client.post("/members/roles/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors["projects"]
    assert not Role.objects.filter(name="Spy team").exists()


def test_duplicate_role_name_is_a_form_error(acme, admin_client, custom_role):
    for name in ("Auditor", "auditor", " Auditor ", "Finance"):
        response = admin_client.post("/members/roles/new/", role_data(name))
        assert response.status_code == 200, name
        assert response.context["form"].errors["name"], name
    assert Role.objects.filter(organization=acme.organization).count() == 6


def test_same_role_name_in_another_organization_is_fine(acme, globex, admin_client):
    Role.objects.create(organization=globex.organization, name="Support lead", levels={"usage": "view"})
    assert admin_client.post("/members/roles/new/", role_data("Support lead", {"usage": "view"})).status_code == 302
    assert Role.objects.filter(organization=acme.organization, name="Support lead").exists()


def test_role_with_every_module_at_none_is_not_a_server_error(acme, admin_client, custom_role):
    """A role that grants nothing (Overview only) is bad input at worst: a form error or a saved role, never a 500."""
    admin_client.raise_request_exception = False
    created = admin_client.post("/members/roles/new/", role_data("Overview only"))
    assert created.status_code in (200, 302)
    if created.status_code == 200:
        assert created.context["form"].errors
    edited = admin_client.post(f"/members/roles/{custom_role.pk}/edit/", role_data("Auditor"))
    assert edited.status_code in (200, 302)


def test_unknown_level_is_a_form_error(acme, admin_client):
    data = role_data("Odd")
    data["level_tokens"] = "view"
    response = admin_client.post("/members/roles/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors["level_tokens"]
    assert not Role.objects.filter(name="Odd").exists()


def test_cannot_create_a_role_above_your_own_levels(acme, client_for):
    lead_role = Role.objects.create(organization=acme.organization, name="Lead", levels={"members": "edit"})
    lead = User.objects.create_user("lead@acme.test", PASSWORD)
    Membership.objects.create(user=lead, organization=acme.organization, role=lead_role)

    response = client_for(lead).post("/members/roles/new/", role_data("Money", {"billing": "view"}))

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Role.objects.filter(name="Money").exists()
    assert not AuditEntry.objects.filter(action="role.created").exists()


def test_roles_pages_need_members_edit(acme, client_for, custom_role):
    client = client_for(acme.users["cs_maintenance"])
    assert client.get("/members/roles/new/").status_code == 403
    assert client.post("/members/roles/new/", role_data("X")).status_code == 403
    assert client.post(f"/members/roles/{custom_role.pk}/delete/").status_code == 403
    assert Role.objects.filter(pk=custom_role.pk).exists()


# Project scope ----------------------------------------------------------------------------------


@pytest.fixture
def scoped_member(acme, admin_client):
    """A member whose role (created through the page) sees only Acme's first project."""
    data = role_data("Project one team", {"projects": "view"}, all_projects=False, projects=[acme.projects[0]])
    assert admin_client.post("/members/roles/new/", data).status_code == 302
    user = User.objects.create_user("scoped@acme.test", PASSWORD)
    role = Role.objects.get(name="Project one team")
    return Membership.objects.create(user=user, organization=acme.organization, role=role)


def test_scoped_member_only_sees_the_selected_projects(acme, globex, scoped_member):
    visible = restrict(Project, scoped_member)
    assert list(visible) == [acme.projects[0]]
    assert list(restrict(Project.objects.all(), scoped_member)) == [acme.projects[0]]
    # An unscoped member sees every project of the organization, and none of another one.
    assert set(restrict(Project, acme.membership("engineer"))) == set(acme.projects)


def test_overview_lists_only_the_scoped_projects(acme, scoped_member, client_for):
    response = client_for(scoped_member.user).get("/overview/")
    assert response.status_code == 200
    assert list(response.context["recent_projects"]) == [acme.projects[0]]
    assert response.context["project_count"] == 1
    content = response.content.decode()
    assert "Acme project 1" in content
    assert "Acme project 2" not in content


def test_overview_of_an_unscoped_member_lists_every_project(acme, client_for):
    response = client_for(acme.users["engineer"]).get("/overview/")
    assert response.context["project_count"] == 2
    content = response.content.decode()
    assert "Acme project 1" in content
    assert "Acme project 2" in content


def test_changing_the_scope_through_the_page(acme, admin_client, scoped_member, client_for):
    role = scoped_member.role
    data = role_data("Project one team", {"projects": "view"}, all_projects=False, projects=[acme.projects[1]])
    assert admin_client.post(f"/members/roles/{role.pk}/edit/", data).status_code == 302
    assert list(restrict(Project, Membership.objects.get(pk=scoped_member.pk))) == [acme.projects[1]]
    content = client_for(scoped_member.user).get("/overview/").content.decode()
    assert "Acme project 2" in content
    assert "Acme project 1" not in content


# Editing and deleting -----------------------------------------------------------------------------


def test_edit_a_custom_role(acme, admin_client, custom_role):
    page = admin_client.get(f"/members/roles/{custom_role.pk}/edit/")
    assert page.status_code == 200
    assert page.context["form"].initial["level_audit"] == "view"

    data = role_data("Auditors", {"audit": "view", "usage": "view"})
    response = admin_client.post(f"/members/roles/{custom_role.pk}/edit/", data)

    assert response.status_code == 302
    custom_role.refresh_from_db()
    assert custom_role.name == "Auditors"
    assert custom_role.levels == {"audit": "view", "usage": "view"}
    entry = AuditEntry.objects.get(action="role.updated")
    assert entry.organization == acme.organization
    assert entry.actor == acme.users["admin"]
    assert entry.target == "Auditors"
    assert entry.details["old"]["name"] == "Auditor"
    assert entry.details["new"] == {
        "name": "Auditors",
        "levels": {"audit": "view", "usage": "view"},
        "all_projects": True,
        "projects": [],
    }


def test_keeping_the_name_while_editing_is_not_a_duplicate(acme, admin_client, custom_role):
    response = admin_client.post(f"/members/roles/{custom_role.pk}/edit/", role_data("Auditor", {"usage": "view"}))
    assert response.status_code == 302
    custom_role.refresh_from_db()
    assert custom_role.levels == {"usage": "view"}


def test_builtin_roles_cannot_be_edited(acme, admin_client):
    finance = acme.roles["finance"]
    for response in (
        admin_client.get(f"/members/roles/{finance.pk}/edit/"),
        admin_client.post(f"/members/roles/{finance.pk}/edit/", role_data("Finance", {"billing": "view"})),
    ):
        assert response.status_code == 302
        assert any("Built-in roles cannot be changed" in text for text in messages_of(response))
    finance.refresh_from_db()
    assert all_levels(finance) == EXPECTED_BUILTIN_LEVELS["Finance"]
    assert not AuditEntry.objects.filter(action="role.updated").exists()


def test_builtin_roles_cannot_be_deleted(acme, admin_client):
    engineer = acme.roles["engineer"]
    Membership.objects.filter(role=engineer).delete()  # unused, still refused
    response = admin_client.post(f"/members/roles/{engineer.pk}/delete/")
    assert response.status_code == 302
    assert any("Built-in roles cannot be deleted" in text for text in messages_of(response))
    assert Role.objects.filter(pk=engineer.pk).exists()
    assert not AuditEntry.objects.filter(action="role.deleted").exists()


def test_delete_asks_for_confirmation_then_deletes_an_unused_custom_role(acme, admin_client, custom_role):
    page = admin_client.get(f"/members/roles/{custom_role.pk}/delete/")
    assert page.status_code == 200
    assert "Delete role" in page.content.decode()
    assert Role.objects.filter(pk=custom_role.pk).exists()

    response = admin_client.post(f"/members/roles/{custom_role.pk}/delete/")

    assert response.status_code == 302
    assert not Role.objects.filter(pk=custom_role.pk).exists()
    assert "Role Auditor deleted." in messages_of(response)
    entry = AuditEntry.objects.get(action="role.deleted")
    assert entry.organization == acme.organization
    assert entry.actor == acme.users["admin"]
    assert entry.target == "Auditor"


def test_role_in_use_by_a_member_cannot_be_deleted(acme, admin_client, custom_role):
    Membership.objects.filter(pk=acme.membership("engineer").pk).update(role=custom_role)
    response = admin_client.post(f"/members/roles/{custom_role.pk}/delete/")
    assert response.status_code == 302
    assert any("is in use" in text for text in messages_of(response))
    assert Role.objects.filter(pk=custom_role.pk).exists()
    assert not AuditEntry.objects.filter(action="role.deleted").exists()


def test_role_in_use_by_a_pending_invitation_cannot_be_deleted(acme, admin_client, custom_role):
    assert admin_client.post("/members/invite/", {"email": "x@example.com", "role": custom_role.pk}).status_code == 302
    response = admin_client.post(f"/members/roles/{custom_role.pk}/delete/")
    assert any("is in use" in text for text in messages_of(response))
    assert Role.objects.filter(pk=custom_role.pk).exists()


def test_role_of_a_revoked_invitation_can_be_deleted(acme, admin_client, custom_role):
    admin_client.post("/members/invite/", {"email": "x@example.com", "role": custom_role.pk})
    invitation = Invitation.objects.get()
    admin_client.post(f"/members/invitations/{invitation.pk}/revoke/")
    assert admin_client.post(f"/members/roles/{custom_role.pk}/delete/").status_code == 302
    assert not Role.objects.filter(pk=custom_role.pk).exists()


def test_roles_of_another_organization_answer_404(acme, globex, admin_client):
    theirs = Role.objects.create(organization=globex.organization, name="Theirs", levels={"usage": "view"})
    assert admin_client.get(f"/members/roles/{theirs.pk}/edit/").status_code == 404
    assert admin_client.post(f"/members/roles/{theirs.pk}/edit/", role_data("Mine")).status_code == 404
    assert admin_client.post(f"/members/roles/{theirs.pk}/delete/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"

"""Members: change a member's role, remove a member, and the rules that protect the organization."""

import pytest
from django.contrib.messages import get_messages

from accounts.models import AuditEntry, Membership, Role, User
from conftest import PASSWORD


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def role_url(membership):
    return f"/members/{membership.pk}/role/"


def remove_url(membership):
    return f"/members/{membership.pk}/remove/"


def non_field_errors(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


@pytest.fixture
def admin_client(acme, client_for):
    return client_for(acme.users["admin"])


@pytest.fixture
def second_admin(acme):
    """A second Admin in Acme who is not the owner."""
    user = User.objects.create_user("admin2@acme.test", PASSWORD)
    return Membership.objects.create(user=user, organization=acme.organization, role=acme.roles["admin"])


@pytest.fixture
def team_lead(acme):
    """A custom role that may edit members but holds no billing, certificates, tokens or audit."""
    role = Role.objects.create(
        organization=acme.organization,
        name="Team lead",
        levels={"members": "edit", "projects": "view", "usage": "view", "channels": "view"},
    )
    user = User.objects.create_user("lead@acme.test", PASSWORD)
    return Membership.objects.create(user=user, organization=acme.organization, role=role)


# Changing roles ---------------------------------------------------------------------------------


def test_member_list_shows_every_member(acme, admin_client):
    response = admin_client.get("/members/")
    assert response.status_code == 200
    content = response.content.decode()
    for user in acme.users.values():
        assert user.email in content


def test_change_role_page_offers_the_roles(acme, admin_client):
    member = acme.membership("engineer")
    response = admin_client.get(role_url(member))
    assert response.status_code == 200
    offered = set(response.context["form"].fields["role"].queryset.values_list("name", flat=True))
    assert offered == {"Admin", "Finance", "Product/Operation", "CS/Maintenance", "Engineer"}


def test_change_a_members_role(acme, admin_client):
    member = acme.membership("engineer")

    response = admin_client.post(role_url(member), {"role": acme.roles["finance"].pk})

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == acme.roles["finance"]
    assert "engineer@acme.test now has the role Finance." in messages_of(response)
    entry = AuditEntry.objects.get(action="member.role_changed")
    assert entry.organization == acme.organization
    assert entry.actor == acme.users["admin"]
    assert entry.target == "engineer@acme.test"
    assert entry.details == {"old_role": "Engineer", "new_role": "Finance"}


def test_role_change_takes_effect_at_once(acme, admin_client, client_for):
    member = acme.membership("engineer")
    admin_client.post(role_url(member), {"role": acme.roles["finance"].pk})
    engineer = client_for(acme.users["engineer"])
    assert engineer.get("/billing/").status_code == 200
    assert engineer.get("/projects/").status_code == 403


def test_role_of_another_organization_is_refused(acme, globex, admin_client):
    member = acme.membership("engineer")
    response = admin_client.post(role_url(member), {"role": globex.roles["admin"].pk})
    assert response.status_code == 200
    assert response.context["form"].errors["role"]
    member.refresh_from_db()
    assert member.role == acme.roles["engineer"]


def test_members_without_members_edit_cannot_change_or_remove(acme, client_for):
    member = acme.membership("engineer")
    client = client_for(acme.users["cs_maintenance"])
    assert client.post(role_url(member), {"role": acme.roles["admin"].pk}).status_code == 403
    assert client.post(remove_url(member)).status_code == 403
    member.refresh_from_db()
    assert member.role == acme.roles["engineer"]


# Removing ---------------------------------------------------------------------------------------


def test_remove_asks_for_confirmation_on_get(acme, admin_client):
    member = acme.membership("engineer")
    response = admin_client.get(remove_url(member))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Remove engineer@acme.test?" in content
    assert "Remove member" in content
    assert Membership.objects.filter(pk=member.pk).exists()
    assert not AuditEntry.objects.filter(action="member.removed").exists()


def test_remove_a_member_on_post(acme, admin_client, client_for):
    member = acme.membership("engineer")

    response = admin_client.post(remove_url(member))

    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert User.objects.filter(email="engineer@acme.test").exists()  # the account stays
    assert "engineer@acme.test was removed from Acme." in messages_of(response)
    entry = AuditEntry.objects.get(action="member.removed")
    assert entry.organization == acme.organization
    assert entry.actor == acme.users["admin"]
    assert entry.target == "engineer@acme.test"
    # The removed person loses access to the organization at once.
    response = client_for(acme.users["engineer"]).get("/overview/")
    assert response.status_code == 302
    assert response["Location"] == "/organizations/new/"


def test_owner_cannot_be_removed(acme, admin_client, second_admin, client_for):
    owner = acme.membership("admin")
    for client in (admin_client, client_for(second_admin.user)):
        response = client.post(remove_url(owner))
        assert response.status_code == 302
        assert "The owner of the organization cannot be removed." in messages_of(response)
        assert Membership.objects.filter(pk=owner.pk).exists()
    assert not AuditEntry.objects.filter(action="member.removed").exists()


# The last Admin -----------------------------------------------------------------------------------


def test_last_admin_cannot_demote_themselves(acme, admin_client):
    owner = acme.membership("admin")
    response = admin_client.post(role_url(owner), {"role": acme.roles["engineer"].pk})
    assert response.status_code == 200
    assert any("at least one Admin" in error for error in non_field_errors(response))
    owner.refresh_from_db()
    assert owner.role == acme.roles["admin"]
    assert not AuditEntry.objects.filter(action="member.role_changed").exists()


def test_admin_can_demote_themselves_when_another_admin_remains(acme, admin_client, second_admin, client_for):
    third = Membership.objects.create(
        user=User.objects.create_user("admin3@acme.test", PASSWORD),
        organization=acme.organization,
        role=acme.roles["admin"],
    )
    client = client_for(second_admin.user)
    response = client.post(role_url(second_admin), {"role": acme.roles["engineer"].pk})
    assert response.status_code == 302
    second_admin.refresh_from_db()
    assert second_admin.role == acme.roles["engineer"]
    assert Membership.objects.get(pk=third.pk).role == acme.roles["admin"]


def test_last_admin_cannot_remove_themselves(acme, second_admin, client_for):
    # The owner is no longer an Admin, so the only Admin is a member who could otherwise be removed.
    Membership.objects.filter(pk=acme.membership("admin").pk).update(role=acme.roles["engineer"])
    client = client_for(second_admin.user)

    response = client.post(remove_url(second_admin))

    assert response.status_code == 302
    assert any("at least one Admin" in text for text in messages_of(response))
    assert Membership.objects.filter(pk=second_admin.pk).exists()
    assert not AuditEntry.objects.filter(action="member.removed").exists()


def test_admin_can_remove_themselves_when_another_admin_remains(acme, second_admin, client_for):
    client = client_for(second_admin.user)
    response = client.post(remove_url(second_admin))
    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    assert not Membership.objects.filter(pk=second_admin.pk).exists()
    assert AuditEntry.objects.get(action="member.removed").target == "admin2@acme.test"


def test_an_admin_can_remove_another_admin_who_is_not_the_last(acme, admin_client, second_admin):
    assert admin_client.post(remove_url(second_admin)).status_code == 302
    assert not Membership.objects.filter(pk=second_admin.pk).exists()


# Nobody grants more than they hold ----------------------------------------------------------------


def test_only_roles_within_your_own_levels_are_offered(acme, team_lead, client_for):
    client = client_for(team_lead.user)
    response = client.get(role_url(acme.membership("product_operation")))
    assert response.status_code == 200
    offered = set(response.context["form"].fields["role"].queryset.values_list("name", flat=True))
    assert offered == {"Product/Operation", "Team lead"}


def test_custom_role_without_billing_cannot_assign_finance(acme, team_lead, client_for):
    member = acme.membership("product_operation")
    client = client_for(team_lead.user)

    response = client.post(role_url(member), {"role": acme.roles["finance"].pk})

    assert response.status_code == 200
    assert response.context["form"].errors["role"]
    member.refresh_from_db()
    assert member.role == acme.roles["product_operation"]
    assert not AuditEntry.objects.filter(action="member.role_changed").exists()


def test_custom_role_cannot_make_itself_admin(acme, team_lead, client_for):
    client = client_for(team_lead.user)
    response = client.post(role_url(team_lead), {"role": acme.roles["admin"].pk})
    assert response.status_code == 200
    team_lead.refresh_from_db()
    assert team_lead.role.name == "Team lead"


def test_custom_role_cannot_change_a_member_who_holds_more(acme, team_lead, client_for):
    finance = acme.membership("finance")
    client = client_for(team_lead.user)
    response = client.post(role_url(finance), {"role": acme.roles["product_operation"].pk})
    assert response.status_code == 200
    assert any("cannot grant the role Finance" in error for error in non_field_errors(response))
    finance.refresh_from_db()
    assert finance.role == acme.roles["finance"]


def test_custom_role_cannot_remove_a_member_who_holds_more(acme, team_lead, client_for):
    finance = acme.membership("finance")
    response = client_for(team_lead.user).post(remove_url(finance))
    assert response.status_code == 302
    assert any("cannot grant the role Finance" in text for text in messages_of(response))
    assert Membership.objects.filter(pk=finance.pk).exists()


def test_custom_role_can_assign_a_role_within_its_levels(acme, team_lead, client_for):
    member = acme.membership("product_operation")
    newcomer = Membership.objects.create(
        user=User.objects.create_user("new@acme.test", PASSWORD),
        organization=acme.organization,
        role=team_lead.role,
    )
    client = client_for(team_lead.user)
    assert client.post(role_url(newcomer), {"role": acme.roles["product_operation"].pk}).status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.role == acme.roles["product_operation"]
    assert client.post(remove_url(member)).status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_scoped_role_cannot_grant_all_projects(acme, client_for):
    scoped = Role.objects.create(
        organization=acme.organization, name="Scoped lead", levels={"members": "edit"}, all_projects=False
    )
    scoped.projects.set([acme.projects[0]])
    user = User.objects.create_user("scoped@acme.test", PASSWORD)
    Membership.objects.create(user=user, organization=acme.organization, role=scoped)
    unscoped = Role.objects.create(organization=acme.organization, name="Members only", levels={"members": "view"})
    target = Membership.objects.create(
        user=User.objects.create_user("target@acme.test", PASSWORD), organization=acme.organization, role=scoped
    )

    response = client_for(user).post(role_url(target), {"role": unscoped.pk})

    assert response.status_code == 200
    target.refresh_from_db()
    assert target.role == scoped


# Other organizations --------------------------------------------------------------------------------


def test_member_of_another_organization_answers_404(acme, globex, admin_client):
    outsider = globex.membership("engineer")
    assert admin_client.get(role_url(outsider)).status_code == 404
    assert admin_client.post(role_url(outsider), {"role": acme.roles["finance"].pk}).status_code == 404
    assert admin_client.get(remove_url(outsider)).status_code == 404
    assert admin_client.post(remove_url(outsider)).status_code == 404
    outsider.refresh_from_db()
    assert outsider.role == globex.roles["engineer"]


def test_unknown_member_answers_404(acme, admin_client):
    assert admin_client.get("/members/999999/role/").status_code == 404
    assert admin_client.post("/members/999999/remove/").status_code == 404

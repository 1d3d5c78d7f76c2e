"""Accounts and organizations: sign-up, sign-in/out, passwords, the organization switcher and settings."""

import re

import pytest
from django.contrib.auth import get_user
from django.test import Client

from accounts.middleware import SESSION_KEY
from accounts.models import AuditEntry, Membership, Organization, User
from conftest import PASSWORD

NEW_PASSWORD = "a-Brand-new-pass-987"


def signup_data(**changes):
    data = {
        "name": "Wile E. Coyote",
        "email": "wile@example.com",
        "organization": "Coyote Labs",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    data.update(changes)
    return data


def signed_in_user(client):
    return get_user(client)


# Sign-up ----------------------------------------------------------------------------------------


def test_signup_page_shows_the_form(db):
    response = Client().get("/accounts/signup/")
    assert response.status_code == 200
    assert set(response.context["form"].fields) == {"name", "email", "organization", "password1", "password2"}


def test_signup_creates_user_organization_and_admin_membership_and_signs_in(db):
    client = Client()

    response = client.post("/accounts/signup/", signup_data(email="Wile@Example.com"))

    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    user = User.objects.get(email="wile@example.com")
    assert user.name == "Wile E. Coyote"
    assert user.check_password(NEW_PASSWORD)
    organization = Organization.objects.get(name="Coyote Labs")
    assert organization.owner == user
    membership = Membership.objects.get(user=user)
    assert membership.organization == organization
    assert membership.role.builtin_key == "admin"
    assert organization.roles.count() == 5
    assert signed_in_user(client) == user
    overview = client.get("/overview/")
    assert overview.status_code == 200
    assert overview.context["organization"] == organization
    assert AuditEntry.objects.filter(action="org.created", organization=organization, actor=user).count() == 1


def test_signup_with_an_existing_email_is_a_field_error(acme):
    client = Client()
    response = client.post("/accounts/signup/", signup_data(email="ADMIN@acme.test"))
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert User.objects.filter(email="admin@acme.test").count() == 1
    assert not Organization.objects.filter(name="Coyote Labs").exists()
    assert not signed_in_user(client).is_authenticated


@pytest.mark.parametrize("password", ["short1", "password123", "1234567890123", "wile@example.com"])
def test_signup_with_a_weak_password_is_a_field_error(db, password):
    client = Client()
    response = client.post("/accounts/signup/", signup_data(password1=password, password2=password))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors.get("password2") or errors.get("password1")
    assert not User.objects.filter(email="wile@example.com").exists()
    assert not signed_in_user(client).is_authenticated


def test_signup_with_mismatched_passwords_is_a_field_error(db):
    response = Client().post("/accounts/signup/", signup_data(password2=NEW_PASSWORD + "x"))
    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    assert not User.objects.exists()


def test_signup_when_signed_in_goes_to_the_overview(acme, client_for):
    response = client_for(acme.users["admin"]).get("/accounts/signup/")
    assert response.status_code == 302
    assert response["Location"] == "/overview/"


# Sign-in and sign-out ---------------------------------------------------------------------------------


def test_login_page_uses_the_standard_field_names(db):
    content = Client().get("/accounts/login/").content.decode()
    assert 'name="username"' in content
    assert 'name="password"' in content


def test_sign_in_with_email_and_password(acme):
    client = Client()
    response = client.post("/accounts/login/", {"username": "Finance@ACME.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    assert signed_in_user(client) == acme.users["finance"]
    assert AuditEntry.objects.filter(action="auth.login", target="finance@acme.test").count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(db):
    response = Client().get("/overview/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_logout_by_post(acme):
    client = Client()
    client.force_login(acme.users["engineer"])

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert not signed_in_user(client).is_authenticated
    assert client.get("/overview/").status_code == 302
    entry = AuditEntry.objects.get(action="auth.logout")
    assert entry.actor == acme.users["engineer"]
    assert entry.target == "engineer@acme.test"


def test_logout_by_get_is_not_allowed(acme):
    client = Client()
    client.force_login(acme.users["engineer"])
    assert client.get("/accounts/logout/").status_code == 405
    assert signed_in_user(client).is_authenticated


# Passwords --------------------------------------------------------------------------------------


def test_password_change_works_and_is_audited(acme):
    client = Client()
    client.force_login(acme.users["engineer"])
    assert client.get("/accounts/password/change/").status_code == 200

    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    user = User.objects.get(pk=acme.users["engineer"].pk)
    assert user.check_password(NEW_PASSWORD)
    assert signed_in_user(client) == user  # still signed in
    entry = AuditEntry.objects.get(action="auth.password_changed")
    assert entry.actor == user
    assert entry.target == "engineer@acme.test"
    fresh = Client()
    assert fresh.post("/accounts/login/", {"username": user.email, "password": NEW_PASSWORD}).status_code == 302


def test_password_change_with_a_wrong_old_password_is_refused(acme):
    client = Client()
    client.force_login(acme.users["engineer"])
    response = client.post(
        "/accounts/password/change/",
        {"old_password": "not-my-password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    assert User.objects.get(pk=acme.users["engineer"].pk).check_password(PASSWORD)
    assert not AuditEntry.objects.filter(action="auth.password_changed").exists()


def test_password_reset_mail_link_sets_a_new_password(acme, mailoutbox):
    client = Client()
    assert client.get("/accounts/password/reset/").status_code == 200

    response = client.post("/accounts/password/reset/", {"email": "finance@acme.test"})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["finance@acme.test"]
    match = re.search(r"http://testserver(/accounts/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert match, message.body
    link = match.group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    assert form_page.context["validlink"]
    set_password_url = form_page.redirect_chain[-1][0]
    done = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302

    user = User.objects.get(email="finance@acme.test")
    assert user.check_password(NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="auth.password_reset")
    assert entry.actor == user
    assert entry.target == "finance@acme.test"
    assert Client().post("/accounts/login/", {"username": user.email, "password": NEW_PASSWORD}).status_code == 302
    # The link works once.
    again = Client().get(link, follow=True)
    assert not again.context["validlink"]


def test_password_reset_for_an_unknown_email_sends_nothing_and_reveals_nothing(acme, mailoutbox):
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mailoutbox == []


# Organizations ----------------------------------------------------------------------------------


@pytest.fixture
def in_two_orgs(acme, globex):
    """Acme's admin is also an Engineer in Globex."""
    user = acme.users["admin"]
    Membership.objects.create(user=user, organization=globex.organization, role=globex.roles["engineer"])
    return user


def test_switch_to_an_organization_you_belong_to(acme, globex, in_two_orgs, client_for):
    client = client_for(in_two_orgs)
    assert client.get("/overview/").context["organization"] == acme.organization

    response = client.post("/organizations/switch/", {"organization": globex.organization.pk})

    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    assert client.session[SESSION_KEY] == globex.organization.pk
    overview = client.get("/overview/")
    assert overview.context["organization"] == globex.organization
    assert "Switched to Globex." in overview.content.decode()
    # The role follows the organization: an Engineer in Globex cannot open the members pages.
    assert client.get("/members/").status_code == 403
    client.post("/organizations/switch/", {"organization": acme.organization.pk})
    assert client.get("/members/").status_code == 200


def test_switcher_lists_the_other_organizations(acme, globex, in_two_orgs, client_for):
    content = client_for(in_two_orgs).get("/overview/").content.decode()
    assert f'name="organization" value="{globex.organization.pk}"' in content


@pytest.mark.parametrize("value", ["other", "", "abc", "999999"])
def test_switch_to_an_organization_you_do_not_belong_to_is_404(acme, globex, client_for, value):
    client = client_for(acme.users["admin"])
    client.get("/overview/")
    organization = str(globex.organization.pk) if value == "other" else value
    response = client.post("/organizations/switch/", {"organization": organization})
    assert response.status_code == 404
    assert client.session[SESSION_KEY] == acme.organization.pk
    assert client.get("/overview/").context["organization"] == acme.organization


def test_switch_needs_post(acme, client_for):
    assert client_for(acme.users["admin"]).get("/organizations/switch/").status_code == 405


def test_create_another_organization(acme, client_for):
    client = client_for(acme.users["finance"])
    assert client.get("/organizations/new/").status_code == 200

    response = client.post("/organizations/new/", {"name": "Finance Side Project"})

    assert response.status_code == 302
    organization = Organization.objects.get(name="Finance Side Project")
    assert organization.owner == acme.users["finance"]
    assert organization.slug
    membership = Membership.objects.get(user=acme.users["finance"], organization=organization)
    assert membership.role.builtin_key == "admin"
    assert organization.roles.count() == 5
    # Still a Finance member of Acme, now working in the new organization.
    assert Membership.objects.get(user=acme.users["finance"], organization=acme.organization).role.name == "Finance"
    assert client.get("/overview/").context["organization"] == organization
    assert AuditEntry.objects.filter(action="org.created", organization=organization).count() == 1


def test_organizations_with_the_same_name_get_distinct_slugs(acme, client_for):
    client = client_for(acme.users["finance"])
    client.post("/organizations/new/", {"name": "Acme"})
    slugs = list(Organization.objects.filter(name="Acme").values_list("slug", flat=True))
    assert len(slugs) == 2
    assert len(set(slugs)) == 2


def test_create_organization_with_a_blank_name_is_a_form_error(acme, client_for):
    response = client_for(acme.users["finance"]).post("/organizations/new/", {"name": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert Organization.objects.count() == 1


def test_a_user_without_organization_is_asked_to_create_one(db):
    user = User.objects.create_user("lonely@example.com", PASSWORD)
    client = Client()
    client.force_login(user)
    response = client.get("/overview/")
    assert response.status_code == 302
    assert response["Location"] == "/organizations/new/"
    assert client.post("/organizations/new/", {"name": "Lonely Inc"}).status_code == 302
    assert client.get("/overview/").status_code == 200


def test_rename_organization_is_audited(acme, client_for):
    client = client_for(acme.users["admin"])
    assert client.get("/settings/organization/").status_code == 200

    response = client.post("/settings/organization/", {"name": "Acme Corporation"})

    assert response.status_code == 302
    acme.organization.refresh_from_db()
    assert acme.organization.name == "Acme Corporation"
    entry = AuditEntry.objects.get(action="org.updated")
    assert entry.organization == acme.organization
    assert entry.actor == acme.users["admin"]
    assert entry.target == "Acme Corporation"
    assert entry.details == {"name": {"old": "Acme", "new": "Acme Corporation"}}


def test_rename_with_a_blank_name_is_a_form_error(acme, client_for):
    response = client_for(acme.users["admin"]).post("/settings/organization/", {"name": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    acme.organization.refresh_from_db()
    assert acme.organization.name == "Acme"
    assert not AuditEntry.objects.filter(action="org.updated").exists()


def test_organization_settings_need_members_edit(acme, client_for):
    client = client_for(acme.users["engineer"])
    assert client.get("/settings/organization/").status_code == 403
    assert client.post("/settings/organization/", {"name": "Hijacked"}).status_code == 403
    acme.organization.refresh_from_db()
    assert acme.organization.name == "Acme"

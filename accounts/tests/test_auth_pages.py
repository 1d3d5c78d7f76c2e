"""Accounts and organizations: sign-up, sign-in/out, passwords, the organization switcher and settings.

The sign-in pages are django-allauth's (accounts/adapters.py): a public sign-up verifies its address by mail
before it can sign in (accounts/tests/test_email_verification.py follows that link)."""

import re

import pytest
from django.contrib.auth import get_user
from django.test import Client

from accounts.middleware import SESSION_KEY
from accounts.models import AuditEntry, Membership, Organization, User
from conftest import PASSWORD

NEW_PASSWORD = "a-Brand-new-pass-987"
LOGIN = "/accounts/login/"
VERIFICATION_SENT = "/accounts/confirm-email/"
RESET = "/accounts/password/reset/"
RESET_LINK = re.compile(r"http://testserver(/accounts/password/reset/key/[^/\s]+/)")


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


def sign_in(client, email, password):
    return client.post(LOGIN, {"login": email, "password": password})


def mails_to(mailoutbox, address: str) -> list:
    return [message for message in mailoutbox if message.to == [address]]


def without(address: str, content: bytes) -> str:
    """A page's text with one address blanked out, to compare the pages two addresses got."""
    return re.sub(re.escape(address), "ADDRESS", content.decode(), flags=re.IGNORECASE)


# Sign-up ----------------------------------------------------------------------------------------


def test_signup_page_shows_the_form(db):
    response = Client().get("/accounts/signup/")
    assert response.status_code == 200
    assert set(response.context["form"].fields) == {"name", "email", "organization", "password1", "password2"}


def test_signup_creates_user_organization_and_admin_membership_then_asks_to_verify(db, mailoutbox):
    client = Client()

    response = client.post("/accounts/signup/", signup_data(email="Wile@Example.com"))

    assert response.status_code == 302
    assert response["Location"] == VERIFICATION_SENT
    user = User.objects.get(email="wile@example.com")
    assert user.name == "Wile E. Coyote"
    assert user.check_password(NEW_PASSWORD)
    organization = Organization.objects.get(name="Coyote Labs")
    assert organization.owner == user
    membership = Membership.objects.get(user=user)
    assert membership.organization == organization
    assert membership.role.builtin_key == "admin"
    assert organization.roles.count() == 5
    assert AuditEntry.objects.filter(action="org.created", organization=organization, actor=user).count() == 1
    # Signed in only once the address is verified: the mail with the link is the next step.
    assert not signed_in_user(client).is_authenticated
    assert client.get("/overview/")["Location"].startswith(LOGIN)
    assert [message.to for message in mailoutbox] == [["wile@example.com"]]
    assert "Verify Your Email Address" in client.get(VERIFICATION_SENT).content.decode()


def test_signup_with_an_existing_email_answers_like_a_new_one_and_mails_the_owner(acme, mailoutbox):
    """Nobody learns from the sign-up page whether an address has an account; its owner hears by mail."""
    new = Client().post("/accounts/signup/", signup_data(email="New.Person@example.com"), follow=True)
    client = Client()

    existing = client.post("/accounts/signup/", signup_data(email="Admin@Acme.test", organization="Other"), follow=True)

    assert existing.status_code == new.status_code == 200
    assert existing.redirect_chain == new.redirect_chain == [(VERIFICATION_SENT, 302)]
    assert without("admin@acme.test", existing.content) == without("new.person@example.com", new.content)
    assert "already" not in existing.content.decode().lower()
    # Nothing was made or changed for the existing address, and nobody is signed in.
    owner = User.objects.get(email__iexact="admin@acme.test")
    assert owner.check_password(PASSWORD)
    assert owner.name == "Acme Admin"
    assert not Organization.objects.filter(name="Other").exists()
    assert list(Organization.objects.filter(owner=owner)) == [acme.organization]
    assert not signed_in_user(client).is_authenticated
    # The owner is told someone tried, and how to get back in; the new address gets its verification link.
    assert len(mailoutbox) == 2
    [to_owner] = mails_to(mailoutbox, "admin@acme.test")
    assert "already exists" in to_owner.subject.lower()
    assert "an account using that email address already exists" in to_owner.body
    assert f"http://testserver{RESET}" in to_owner.body
    [to_new] = mails_to(mailoutbox, "new.person@example.com")
    assert "http://testserver/accounts/confirm-email/" in to_new.body
    assert "already exists" not in to_new.body


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


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "Wile\nE. Coyote"),
        ("name", "Wile\x00Coyote"),
        ("name", "W" * 2 * 1024 * 1024),
        ("organization", "Coyote\tLabs"),
        ("organization", "C" * 2 * 1024 * 1024),
    ],
    ids=["name-line-break", "name-nul", "name-2MB", "organization-tab", "organization-2MB"],
)
def test_signup_text_follows_the_consoles_rules(db, mailoutbox, field, value):
    response = Client().post("/accounts/signup/", signup_data(**{field: value}))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not User.objects.exists()
    assert not Organization.objects.exists()
    assert mailoutbox == []


def test_signup_when_signed_in_goes_to_the_overview(acme, client_for):
    response = client_for(acme.users["admin"]).get("/accounts/signup/")
    assert response.status_code == 302
    assert response["Location"] == "/overview/"


# Sign-in and sign-out ---------------------------------------------------------------------------------


def test_login_page_asks_for_email_and_password(db):
    response = Client().get(LOGIN)
    content = response.content.decode()
    assert 'name="login"' in content
    assert 'name="password"' in content
    form = response.context["form"]
    assert (form.fields["login"].label, form.fields["password"].label) == ("Email", "Password")


def test_sign_in_with_email_and_password(acme):
    client = Client()
    response = sign_in(client, "Finance@ACME.test", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    assert signed_in_user(client) == acme.users["finance"]
    assert AuditEntry.objects.filter(action="auth.login", target="finance@acme.test").count() == 1


def test_sign_in_with_a_wrong_password_is_refused(acme):
    client = Client()
    response = sign_in(client, "finance@acme.test", "not-my-password")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not signed_in_user(client).is_authenticated
    assert AuditEntry.objects.filter(action="auth.login_failed", target="finance@acme.test").count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(db):
    response = Client().get("/overview/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_logout_by_post(acme):
    client = Client()
    client.force_login(acme.users["engineer"])

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert not signed_in_user(client).is_authenticated
    assert client.get("/overview/").status_code == 302
    entry = AuditEntry.objects.get(action="auth.logout")
    assert entry.actor == acme.users["engineer"]
    assert entry.target == "engineer@acme.test"


def test_logout_by_get_only_asks_to_confirm(acme):
    """A link (or an image on another site) cannot sign anyone out: GET shows a button that POSTs."""
    client = Client()
    client.force_login(acme.users["engineer"])

    response = client.get("/accounts/logout/")

    assert response.status_code == 200
    assert '<form method="post" action="/accounts/logout/"' in response.content.decode()
    assert signed_in_user(client).is_authenticated
    assert not AuditEntry.objects.filter(action="auth.logout").exists()


# Passwords --------------------------------------------------------------------------------------


def test_password_change_works_is_audited_and_mailed(acme, mailoutbox):
    client = Client()
    client.force_login(acme.users["engineer"])
    assert client.get("/accounts/password/change/").status_code == 200

    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    user = User.objects.get(pk=acme.users["engineer"].pk)
    assert user.check_password(NEW_PASSWORD)
    assert signed_in_user(client) == user  # still signed in
    entry = AuditEntry.objects.get(action="auth.password_changed")
    assert entry.actor == user
    assert entry.target == "engineer@acme.test"
    # The member hears of it by mail, in case it was not them.
    [notice] = mailoutbox
    assert notice.to == ["engineer@acme.test"]
    assert "password changed" in notice.subject.lower()
    assert "Your password has been changed." in notice.body
    assert sign_in(Client(), user.email, NEW_PASSWORD)["Location"] == "/overview/"
    assert sign_in(Client(), user.email, PASSWORD).status_code == 200  # the old one is refused


def test_password_change_with_a_wrong_old_password_is_refused(acme, mailoutbox):
    client = Client()
    client.force_login(acme.users["engineer"])
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": "not-my-password", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["oldpassword"]
    assert User.objects.get(pk=acme.users["engineer"].pk).check_password(PASSWORD)
    assert not AuditEntry.objects.filter(action="auth.password_changed").exists()
    assert mailoutbox == []


def test_password_reset_mail_link_sets_a_new_password(acme, mailoutbox):
    client = Client()
    assert client.get(RESET).status_code == 200

    response = client.post(RESET, {"email": "finance@acme.test"})

    assert response.status_code == 302
    [message] = mailoutbox
    assert message.to == ["finance@acme.test"]
    match = RESET_LINK.search(message.body)
    assert match, message.body
    link = match.group(1)

    # The link trades its key for a session and moves on to a page without it (the key leaks no further).
    opened = client.get(link)
    assert opened.status_code == 302
    set_password_url = opened["Location"]
    form_page = client.get(set_password_url)
    assert form_page.status_code == 200
    assert not form_page.context.get("token_fail")
    assert set(form_page.context["form"].fields) == {"password1", "password2"}
    done = client.post(set_password_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302

    user = User.objects.get(email="finance@acme.test")
    assert user.check_password(NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="auth.password_reset")
    assert entry.actor == user
    assert entry.target == "finance@acme.test"
    assert sign_in(Client(), user.email, NEW_PASSWORD)["Location"] == "/overview/"
    old = Client()
    assert sign_in(old, user.email, PASSWORD).status_code == 200
    assert not signed_in_user(old).is_authenticated
    # The link works once.
    again = Client().get(link, follow=True)
    assert again.context["token_fail"]
    content = again.content.decode()
    assert "The password reset link was invalid" in content
    assert 'name="password1"' not in content


def test_password_reset_for_an_unknown_email_sends_nothing_and_reveals_nothing(acme, mailoutbox):
    unknown = Client().post(RESET, {"email": "nobody@example.com"}, follow=True)
    assert mailoutbox == []

    known = Client().post(RESET, {"email": "finance@acme.test"}, follow=True)

    assert len(mailoutbox) == 1
    assert unknown.status_code == known.status_code == 200
    assert unknown.redirect_chain == known.redirect_chain == [("/accounts/password/reset/done/", 302)]
    assert without("nobody@example.com", unknown.content) == without("finance@acme.test", known.content)


def test_an_old_reset_link_leads_to_a_new_reset(db):
    """Links mailed before the pages moved to allauth no longer work; the page says so and asks again."""
    response = Client().get("/accounts/reset/abc/def-123/", follow=True)
    assert response.redirect_chain == [(RESET, 302)]
    assert "That password reset link has expired. Ask for a new one below." in response.content.decode()
    assert set(response.context["form"].fields) == {"email"}


def test_there_is_no_address_book(acme, client_for):
    """The address is the sign-in: allauth's page for managing addresses is not offered."""
    assert Client().get("/accounts/email/").status_code == 404
    assert client_for(acme.users["engineer"]).get("/accounts/email/").status_code == 404


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

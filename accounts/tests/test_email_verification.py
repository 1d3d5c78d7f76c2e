"""Email verification: a public sign-up proves its address through the mailed link before the console opens;
accounts made any other way (an invitation, create_user for the demo and the operator) need no such step."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user
from django.test import Client

from accounts import services
from accounts.models import AuditEntry, Membership, Organization, User
from conftest import PASSWORD

NEW_EMAIL = "wile@example.com"
NEW_PASSWORD = "a-Brand-new-pass-987"
LOGIN = "/accounts/login/"
VERIFICATION_SENT = "/accounts/confirm-email/"
VERIFY_LINK = re.compile(r"http://testserver(/accounts/confirm-email/[^/\s]+/)")
INVITE_LINK = re.compile(r"http://testserver(/invitations/[^/\s]+/)")


def sign_up(client, email=NEW_EMAIL):
    data = {
        "name": "Wile E. Coyote",
        "email": email,
        "organization": "Coyote Labs",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    return client.post("/accounts/signup/", data)


def sign_in(client, email, password=NEW_PASSWORD):
    return client.post(LOGIN, {"login": email, "password": password})


def verification_link(mailoutbox, email=NEW_EMAIL) -> str:
    """The path of the verification link in the one mail sent to `email`."""
    [message] = [message for message in mailoutbox if message.to == [email]]
    match = VERIFY_LINK.search(message.body)
    assert match, f"no verification link in the mail:\n{message.body}"
    return match.group(1)


def opens_the_console(client) -> bool:
    return client.get("/overview/").status_code == 200


def address_of(email) -> EmailAddress:
    return EmailAddress.objects.get(email=email)


# Public sign-up ---------------------------------------------------------------------------------


def test_sign_up_makes_the_account_and_organization_with_an_unverified_address(db, mailoutbox):
    client = Client()

    response = sign_up(client)

    assert response.status_code == 302
    assert response["Location"] == VERIFICATION_SENT
    user = User.objects.get(email=NEW_EMAIL)
    organization = Organization.objects.get(name="Coyote Labs")
    assert organization.owner == user
    assert Membership.objects.get(user=user, organization=organization).role.builtin_key == "admin"
    address = address_of(NEW_EMAIL)
    assert address.user == user
    assert not address.verified
    assert not get_user(client).is_authenticated
    assert not opens_the_console(client)
    [message] = mailoutbox
    assert message.to == [NEW_EMAIL]
    assert "confirm your email" in message.subject.lower()
    verification_link(mailoutbox)


def test_following_the_link_verifies_signs_in_and_opens_the_console(db, mailoutbox):
    client = Client()
    sign_up(client)
    link = verification_link(mailoutbox)

    page = client.get(link)
    assert page.status_code == 200  # a confirm button: mail scanners that follow links verify nothing
    # The form posts to a confirmation link of its own: allauth signs the key again, with the current
    # second in it, so it equals the mailed one only when both were made in the same second.
    assert re.search(r'<form method="post" action="/accounts/confirm-email/[^"/]+/"', page.content.decode())
    assert not address_of(NEW_EMAIL).verified

    response = client.post(link)

    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    user = User.objects.get(email=NEW_EMAIL)
    assert address_of(NEW_EMAIL).verified
    assert get_user(client) == user
    overview = client.get("/overview/")
    assert overview.status_code == 200
    assert overview.context["organization"] == Organization.objects.get(owner=user)
    entry = AuditEntry.objects.get(action="auth.email_verified")
    assert entry.actor == user
    assert entry.target == NEW_EMAIL


def test_signing_in_before_verifying_is_sent_to_verify_then_the_link_signs_in(db, mailoutbox):
    sign_up(Client())
    link = verification_link(mailoutbox)
    client = Client()  # later, in another browser session

    response = sign_in(client, NEW_EMAIL)

    assert response.status_code == 302
    assert response["Location"] == VERIFICATION_SENT
    assert not get_user(client).is_authenticated
    assert not opens_the_console(client)
    assert not address_of(NEW_EMAIL).verified

    assert client.post(link)["Location"] == "/overview/"
    assert address_of(NEW_EMAIL).verified
    assert get_user(client) == User.objects.get(email=NEW_EMAIL)
    assert opens_the_console(client)


def test_the_link_alone_verifies_but_does_not_sign_in(db, mailoutbox):
    """A link found later (a forwarded mail, a log) gives no session: only the browser that signed up or
    signed in is let in. The owner then signs in with their password as usual."""
    sign_up(Client())
    link = verification_link(mailoutbox)
    stranger = Client()

    stranger.post(link)

    assert address_of(NEW_EMAIL).verified
    assert not get_user(stranger).is_authenticated
    assert not opens_the_console(stranger)
    owner = Client()
    assert sign_in(owner, NEW_EMAIL)["Location"] == "/overview/"
    assert opens_the_console(owner)


def test_the_link_works_once(db, mailoutbox):
    client = Client()
    sign_up(client)
    link = verification_link(mailoutbox)
    client.post(link)

    again = Client().post(link)

    assert again.status_code == 404
    assert AuditEntry.objects.filter(action="auth.email_verified").count() == 1


def test_sign_up_is_all_or_nothing(db, mailoutbox, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("the organization could not be created")

    monkeypatch.setattr(services, "create_organization", fail)
    client = Client(raise_request_exception=False)

    response = sign_up(client)

    assert response.status_code == 500
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    assert not EmailAddress.objects.filter(email=NEW_EMAIL).exists()
    assert not Organization.objects.exists()
    assert mailoutbox == []


# Accounts made another way need no verification ---------------------------------------------------


@pytest.mark.parametrize("signup_open", [True, False])
def test_an_invited_newcomer_is_in_at_once(acme, client_for, mailoutbox, settings, signup_open):
    settings.PUBLIC_SIGNUP = signup_open
    admin = client_for(acme.users["admin"])
    admin.post("/members/invite/", {"email": "new.person@example.com", "role": acme.roles["engineer"].pk})
    path = INVITE_LINK.search(mailoutbox[-1].body).group(1)
    newcomer = Client()

    response = newcomer.post(path, {"name": "New Person", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response["Location"] == "/overview/"
    user = User.objects.get(email="new.person@example.com")
    assert get_user(newcomer) == user
    assert opens_the_console(newcomer)
    address = address_of("new.person@example.com")
    assert (address.user, address.verified, address.primary) == (user, True, True)
    # The invitation mail proved the address: no verification mail follows, and later sign-ins go straight in.
    assert len(mailoutbox) == 1
    assert sign_in(Client(), "new.person@example.com")["Location"] == "/overview/"


def test_an_account_made_with_create_user_signs_in_without_verifying(db, mailoutbox):
    """The demo's and the operator's accounts (seed_demo, createsuperuser) are made this way."""
    user = User.objects.create_user("operator@example.com", PASSWORD, name="Operator")
    services.create_organization(user, "Operations")
    client = Client()

    response = sign_in(client, "Operator@Example.com", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    assert get_user(client) == user
    assert opens_the_console(client)
    assert address_of("operator@example.com").verified
    assert mailoutbox == []

"""PUBLIC_SIGNUP: with it off (production's default), /accounts/signup/ says accounts come by invitation and
creates nothing, the sign-in page offers no sign-up link, and invitations still make new accounts."""

import re

import pytest
from django.contrib.auth import get_user
from django.test import Client

from accounts.models import Membership, Organization, User

NEW_PASSWORD = "a-Strong-pass-1234"
SIGNUP_LINK = 'href="/accounts/signup/"'
CLOSED_PAGE = "account/signup_closed.html"  # allauth's page for a closed sign-up, in the console's layout


def signup_data():
    return {
        "name": "Wile E. Coyote",
        "email": "wile@example.com",
        "organization": "Coyote Labs",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }


def template_names(response) -> list[str]:
    return [template.name for template in response.templates]


@pytest.fixture
def closed(settings):
    settings.PUBLIC_SIGNUP = False


def test_closed_signup_page_says_accounts_come_by_invitation(db, closed):
    response = Client().get("/accounts/signup/")

    assert response.status_code == 200
    assert CLOSED_PAGE in template_names(response)
    content = response.content.decode()
    assert "Sign-up is by invitation" in content
    assert "invite you" in content
    assert "<form" not in content
    assert 'href="/accounts/login/"' in content


def test_closed_signup_creates_nothing_on_post(db, closed, mailoutbox):
    client = Client()

    response = client.post("/accounts/signup/", signup_data())

    assert response.status_code == 200
    assert CLOSED_PAGE in template_names(response)
    assert "<form" not in response.content.decode()
    assert not User.objects.filter(email="wile@example.com").exists()
    assert not Organization.objects.filter(name="Coyote Labs").exists()
    assert not get_user(client).is_authenticated
    assert mailoutbox == []


def test_closed_signup_sends_a_signed_in_person_to_the_overview(acme, client_for, closed):
    response = client_for(acme.users["admin"]).get("/accounts/signup/")
    assert response.status_code == 302
    assert response["Location"] == "/overview/"


def test_sign_in_page_hides_the_sign_up_link_when_closed(db, closed):
    content = Client().get("/accounts/login/").content.decode()
    assert SIGNUP_LINK not in content
    assert "Create an account" not in content


def test_sign_in_page_offers_sign_up_when_open(db, settings):
    settings.PUBLIC_SIGNUP = True
    assert SIGNUP_LINK in Client().get("/accounts/login/").content.decode()


def test_open_signup_still_creates_the_account(db, settings):
    settings.PUBLIC_SIGNUP = True
    response = Client().post("/accounts/signup/", signup_data())
    assert response.status_code == 302
    assert Membership.objects.filter(user__email="wile@example.com", organization__name="Coyote Labs").exists()


def test_invitations_still_make_accounts_when_signup_is_closed(acme, client_for, mailoutbox, closed):
    admin = client_for(acme.users["admin"])
    assert (
        admin.post("/members/invite/", {"email": "new@example.com", "role": acme.roles["engineer"].pk}).status_code
        == 302
    )
    path = re.search(r"http://testserver(/invitations/[^/\s]+/)", mailoutbox[-1].body).group(1)
    newcomer = Client()

    response = newcomer.post(path, {"name": "New Person", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert Membership.objects.get(user=user).organization == acme.organization
    assert get_user(newcomer).pk == user.pk

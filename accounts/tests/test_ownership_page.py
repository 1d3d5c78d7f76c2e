"""The Make owner page: the owner hands the organization over to another Admin, after re-entering the password."""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.models import AuditEntry, Membership, Organization, User
from conftest import PASSWORD, reauthenticated


def html(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def asks_password(response) -> bool:
    return bool(re.search(r'<input type="password" name="password"', html(response)))


def make_owner_url(membership) -> str:
    return f"/members/{membership.pk}/make-owner/"


def owner_of(acme) -> User:
    return Organization.objects.get(pk=acme.organization.pk).owner


def handovers() -> int:
    return AuditEntry.objects.filter(action="org.ownership_transferred").count()


@pytest.fixture
def second_admin(acme):
    """A second Admin in Acme who is not the owner."""
    user = User.objects.create_user("admin2@acme.test", PASSWORD)
    return Membership.objects.create(user=user, organization=acme.organization, role=acme.roles["admin"])


@pytest.fixture
def owner_client(acme, client_for):
    return client_for(acme.users["admin"])


def test_the_owner_hands_over_ownership_with_the_password(acme, second_admin, owner_client):
    page = owner_client.get(make_owner_url(second_admin))
    assert page.status_code == 200
    assert asks_password(page)
    assert "admin2@acme.test" in html(page) and "You stay an Admin" in html(page)
    assert "can then change your role" in html(page)

    response = owner_client.post(make_owner_url(second_admin), {"password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/members/"
    assert owner_of(acme) == second_admin.user
    assert Membership.objects.get(pk=acme.membership("admin").pk).role == acme.roles["admin"]
    entry = AuditEntry.objects.get(action="org.ownership_transferred")
    assert entry.target == "admin2@acme.test" and entry.actor == acme.users["admin"]
    assert any("admin2@acme.test now owns Acme" in message for message in messages_of(response))


def test_a_session_that_confirmed_lately_is_not_asked_again(acme, second_admin, owner_client, settings):
    reauthenticated(owner_client, acme.users["admin"], timezone.now() - settings.SUDO_WINDOW + timedelta(minutes=1))

    page = owner_client.get(make_owner_url(second_admin))
    assert page.status_code == 200 and not asks_password(page)

    response = owner_client.post(make_owner_url(second_admin))
    assert response.status_code == 302
    assert owner_of(acme) == second_admin.user


@pytest.mark.parametrize("password", [None, "", "not-my-password"])
def test_a_stale_session_is_asked_for_the_password_and_nothing_changes(
    acme, second_admin, owner_client, password, settings
):
    # Confirmed once, but the window has closed since.
    reauthenticated(owner_client, acme.users["admin"], timezone.now() - settings.SUDO_WINDOW - timedelta(seconds=1))

    response = owner_client.post(make_owner_url(second_admin), {} if password is None else {"password": password})

    assert response.status_code == 200
    assert asks_password(response)
    assert response.context["password_form"].errors["password"]
    assert owner_of(acme) == acme.users["admin"]
    assert handovers() == 0


def test_a_second_admin_who_is_not_the_owner_cannot(acme, second_admin, client_for):
    client = client_for(second_admin.user)
    owner = acme.membership("admin")

    page = client.get(make_owner_url(second_admin))
    assert page.status_code == 302 and page["Location"] == "/members/"
    assert "Only the owner of Acme can hand over ownership." in messages_of(page)

    for target in (second_admin, owner):
        response = client.post(make_owner_url(target), {"password": PASSWORD})
        assert response.status_code == 302 and response["Location"] == "/members/"
    assert owner_of(acme) == acme.users["admin"]
    assert handovers() == 0


def test_another_organizations_member_is_not_found(acme, globex, owner_client):
    outsider = globex.membership("admin")
    assert owner_client.get(make_owner_url(outsider)).status_code == 404
    assert owner_client.post(make_owner_url(outsider), {"password": PASSWORD}).status_code == 404
    assert Organization.objects.get(pk=globex.organization.pk).owner == globex.users["admin"]
    assert owner_of(acme) == acme.users["admin"]


def test_a_member_who_is_not_an_admin_is_refused_with_a_message(acme, owner_client):
    engineer = acme.membership("engineer")

    response = owner_client.post(make_owner_url(engineer), {"password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/members/"
    assert "Make engineer@acme.test an Admin first: the owner is always an Admin." in messages_of(response)
    assert owner_of(acme) == acme.users["admin"]
    assert handovers() == 0


def test_the_owner_cannot_make_themselves_owner_again(acme, owner_client):
    response = owner_client.post(make_owner_url(acme.membership("admin")), {"password": PASSWORD})
    assert response.status_code == 302
    assert "You own this organization already." in messages_of(response)
    assert handovers() == 0


def test_a_double_submit_hands_over_once(acme, second_admin, owner_client):
    first = owner_client.post(make_owner_url(second_admin), {"password": PASSWORD})
    second = owner_client.post(make_owner_url(second_admin), {"password": PASSWORD})

    assert first.status_code == 302 and second.status_code == 302 and second["Location"] == "/members/"
    assert "Only the owner of Acme can hand over ownership." in messages_of(second)
    assert owner_of(acme) == second_admin.user
    assert handovers() == 1


def test_the_make_owner_link_shows_only_to_the_owner_on_other_admins(acme, second_admin, owner_client, client_for):
    page = html(owner_client.get("/members/"))
    assert f'href="{make_owner_url(second_admin)}"' in page
    assert f'href="{make_owner_url(acme.membership("admin"))}"' not in page  # not on the owner's own row
    assert f'href="{make_owner_url(acme.membership("engineer"))}"' not in page  # not on a non-Admin
    assert page.count("/make-owner/") == 1

    other_admin_page = html(client_for(second_admin.user).get("/members/"))
    assert "/make-owner/" not in other_admin_page


def test_the_owner_demotion_refusal_points_to_make_owner(acme, second_admin, client_for):
    owner = acme.membership("admin")
    response = client_for(second_admin.user).post(f"/members/{owner.pk}/role/", {"role": acme.roles["engineer"].pk})
    assert response.status_code == 200
    assert "Make owner on the Members page" in html(response)


def test_after_the_handover_the_new_owner_can_demote_the_former_owner(acme, second_admin, owner_client, client_for):
    owner_client.post(make_owner_url(second_admin), {"password": PASSWORD})
    former_owner = acme.membership("admin")

    response = client_for(second_admin.user).post(
        f"/members/{former_owner.pk}/role/", {"role": acme.roles["engineer"].pk}
    )

    assert response.status_code == 302
    assert Membership.objects.get(pk=former_owner.pk).role == acme.roles["engineer"]

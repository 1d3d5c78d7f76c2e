"""Invitations: invite by email with a role, accept once before expiry as the invited person, resend, revoke."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import AuditEntry, Invitation, Membership, Role, User
from conftest import PASSWORD
from console.refusals import RuleViolation

NEW_EMAIL = "new.person@example.com"
NEW_PASSWORD = "a-Strong-pass-1234"
LINK = re.compile(r"http://testserver(/invitations/([^/\s]+)/)")


def invite_via_page(client, email, role):
    return client.post("/members/invite/", {"email": email, "role": role.pk})


def link_in(message) -> str:
    """The accept link's path from an invitation mail."""
    match = LINK.search(message.body)
    assert match, f"no accept link in the mail:\n{message.body}"
    return match.group(1)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def accept_as_new_user(client, path, name="New Person"):
    return client.post(path, {"name": name, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})


@pytest.fixture
def admin_client(acme, client_for):
    return client_for(acme.users["admin"])


@pytest.fixture
def invited(acme, admin_client, mailoutbox):
    """An invitation of NEW_EMAIL as Engineer, sent through the page; returns (invitation, link path)."""
    response = invite_via_page(admin_client, NEW_EMAIL, acme.roles["engineer"])
    assert response.status_code == 302
    invitation = Invitation.objects.get(organization=acme.organization, email=NEW_EMAIL)
    return invitation, link_in(mailoutbox[-1])


# Sending ----------------------------------------------------------------------------------------


def test_invite_via_page_sends_one_mail_with_the_accept_link(acme, admin_client, mailoutbox):
    response = invite_via_page(admin_client, NEW_EMAIL, acme.roles["finance"])

    assert response.status_code == 302
    assert response["Location"] != "/members/invite/"
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [NEW_EMAIL]
    assert "Acme" in message.subject
    path = link_in(message)
    invitation = Invitation.objects.get(email=NEW_EMAIL)
    assert invitation.organization == acme.organization
    assert invitation.role == acme.roles["finance"]
    assert invitation.invited_by == acme.users["admin"]
    assert invitation.status == Invitation.Status.PENDING
    # Valid for 7 days; only a hash of the token is stored.
    assert abs(invitation.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    token = path.strip("/").split("/")[-1]
    assert token not in invitation.token_hash
    assert f"Invitation sent to {NEW_EMAIL}." in messages_of(response)


def test_invite_normalizes_the_email(acme, admin_client, mailoutbox):
    invite_via_page(admin_client, "  New.Person@Example.COM ", acme.roles["finance"])
    assert Invitation.objects.filter(email=NEW_EMAIL).count() == 1
    assert mailoutbox[0].to == [NEW_EMAIL]


def test_invite_page_shows_the_form(acme, admin_client):
    response = admin_client.get("/members/invite/")
    assert response.status_code == 200
    assert set(response.context["form"].fields) == {"email", "role"}


def test_sending_is_audited(acme, admin_client, invited):
    entry = AuditEntry.objects.get(action="invitation.sent")
    assert entry.organization == acme.organization
    assert entry.actor == acme.users["admin"]
    assert entry.target == NEW_EMAIL
    assert entry.details == {"role": "Engineer"}


# Accepting as a new user ------------------------------------------------------------------------


def test_accept_link_shows_the_sign_up_form_to_a_new_person(acme, invited):
    invitation, path = invited
    response = Client().get(path)
    assert response.status_code == 200
    assert set(response.context["form"].fields) == {"name", "password1", "password2"}
    content = response.content.decode()
    assert "Join Acme" in content
    assert NEW_EMAIL in content
    assert "Engineer" in content


def test_accept_as_new_user_creates_account_membership_and_signs_in(acme, invited):
    invitation, path = invited
    client = Client()

    response = accept_as_new_user(client, path)

    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    user = User.objects.get(email=NEW_EMAIL)
    assert user.name == "New Person"
    assert user.check_password(NEW_PASSWORD)
    membership = Membership.objects.get(user=user)
    assert membership.organization == acme.organization
    assert membership.role == acme.roles["engineer"]
    assert get_user(client).pk == user.pk
    assert "You joined Acme as Engineer." in messages_of(response)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_by == user
    assert invitation.accepted_at is not None
    # The overview now opens for the new member.
    assert client.get("/overview/").status_code == 200


def test_accept_with_a_weak_password_shows_a_field_error(acme, invited):
    invitation, path = invited
    response = Client().post(path, {"name": "New Person", "password1": "12345", "password2": "12345"})
    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_acceptance_is_audited(acme, invited):
    invitation, path = invited
    accept_as_new_user(Client(), path)
    entry = AuditEntry.objects.get(action="invitation.accepted")
    assert entry.organization == acme.organization
    assert entry.actor == User.objects.get(email=NEW_EMAIL)
    assert entry.target == NEW_EMAIL
    assert entry.details == {"role": "Engineer"}


# Refusals ---------------------------------------------------------------------------------------


def test_link_works_only_once(acme, invited):
    invitation, path = invited
    assert accept_as_new_user(Client(), path).status_code == 302

    for client in (Client(), Client()):
        page = client.get(path)
        assert page.status_code == 410
        assert "already been used" in page.content.decode()
        again = accept_as_new_user(client, path, name="Someone Else")
        assert again.status_code == 410
    assert User.objects.filter(email=NEW_EMAIL).count() == 1
    assert Membership.objects.filter(user__email=NEW_EMAIL).count() == 1
    assert AuditEntry.objects.filter(action="invitation.accepted").count() == 1


def test_second_use_by_the_signed_in_new_member_is_refused(acme, invited):
    invitation, path = invited
    client = Client()
    accept_as_new_user(client, path)
    response = client.post(path)
    assert response.status_code == 410
    assert "already been used" in response.content.decode()


def test_expired_link_is_refused(acme, invited):
    invitation, path = invited
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    page = Client().get(path)
    assert page.status_code == 410
    assert "expired" in page.content.decode()
    post = accept_as_new_user(Client(), path)
    assert post.status_code == 410
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    assert not Membership.objects.filter(user__email=NEW_EMAIL).exists()


def test_link_expires_after_seven_days(acme, invited, monkeypatch):
    invitation, path = invited
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(days=6, hours=23))
    assert Client().get(path).status_code == 200
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(days=7, minutes=1))
    assert Client().get(path).status_code == 410


def test_revoked_link_is_refused(acme, admin_client, invited):
    invitation, path = invited
    assert admin_client.post(f"/members/invitations/{invitation.pk}/revoke/").status_code == 302

    page = Client().get(path)
    assert page.status_code == 410
    assert "revoked" in page.content.decode()
    assert accept_as_new_user(Client(), path).status_code == 410
    assert not User.objects.filter(email=NEW_EMAIL).exists()


def test_unknown_link_is_refused(acme, invited):
    response = Client().get("/invitations/not-a-real-token/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_wrong_signed_in_user_is_refused_with_the_invited_email_named(acme, invited):
    invitation, path = invited
    client = Client()
    client.force_login(acme.users["finance"])

    page = client.get(path)
    assert page.status_code == 403
    content = page.content.decode()
    assert NEW_EMAIL in content
    assert "finance@acme.test" in content

    post = client.post(path)
    assert post.status_code == 403
    assert NEW_EMAIL in post.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
    assert Membership.objects.get(user=acme.users["finance"]).role == acme.roles["finance"]


def test_wrong_signed_in_user_from_another_org_cannot_join(acme, globex, invited):
    invitation, path = invited
    client = Client()
    client.force_login(globex.users["admin"])
    assert client.post(path).status_code == 403
    assert not Membership.objects.filter(user=globex.users["admin"], organization=acme.organization).exists()


# Existing accounts --------------------------------------------------------------------------------


def test_existing_account_is_asked_to_sign_in_then_joins(acme, globex, admin_client, mailoutbox):
    person = globex.users["engineer"]
    invite_via_page(admin_client, person.email, acme.roles["cs_maintenance"])
    path = link_in(mailoutbox[-1])
    client = Client()

    page = client.get(path)
    assert page.status_code == 200
    assert "sign in to accept" in page.content.decode().lower()
    assert "form" not in page.context or page.context.get("form") is None
    # Posting without signing in creates nothing.
    client.post(path, {"name": "X", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert not Membership.objects.filter(user=person, organization=acme.organization).exists()

    signed_in = client.post(f"/accounts/login/?next={path}", {"login": person.email, "password": PASSWORD})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == path
    join_page = client.get(path)
    assert join_page.status_code == 200
    assert "Join Acme" in join_page.content.decode()
    assert not Membership.objects.filter(user=person, organization=acme.organization).exists()

    joined = client.post(path)
    assert joined.status_code == 302
    assert joined["Location"] == "/overview/"
    membership = Membership.objects.get(user=person, organization=acme.organization)
    assert membership.role == acme.roles["cs_maintenance"]
    # Still a member of the first organization; the session now works in the new one.
    assert Membership.objects.filter(user=person, organization=globex.organization).exists()
    overview = client.get("/overview/")
    assert overview.context["organization"] == acme.organization


# Resend and revoke ------------------------------------------------------------------------------


def test_resend_issues_a_new_link_and_the_old_one_stops_working(acme, admin_client, invited, mailoutbox):
    invitation, old_path = invited
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() + timedelta(days=1))

    confirm = admin_client.get(f"/members/invitations/{invitation.pk}/resend/")
    assert confirm.status_code == 200
    assert len(mailoutbox) == 1
    response = admin_client.post(f"/members/invitations/{invitation.pk}/resend/")
    assert response.status_code == 302

    assert len(mailoutbox) == 2
    new_path = link_in(mailoutbox[-1])
    assert new_path != old_path
    invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    assert Client().get(old_path).status_code == 404
    assert accept_as_new_user(Client(), old_path).status_code == 404
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    assert accept_as_new_user(Client(), new_path).status_code == 302
    assert Membership.objects.filter(user__email=NEW_EMAIL, organization=acme.organization).exists()
    assert AuditEntry.objects.filter(action="invitation.resent", target=NEW_EMAIL).count() == 1


def test_resend_revives_an_expired_invitation(acme, admin_client, invited, mailoutbox):
    invitation, old_path = invited
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    admin_client.post(f"/members/invitations/{invitation.pk}/resend/")
    assert Client().get(link_in(mailoutbox[-1])).status_code == 200


def test_accepted_invitation_cannot_be_resent(acme, admin_client, invited, mailoutbox):
    invitation, path = invited
    accept_as_new_user(Client(), path)
    response = admin_client.post(f"/members/invitations/{invitation.pk}/resend/")
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert any("cannot be resent" in text for text in messages_of(response))


def test_revoke_shows_a_confirmation_then_revokes_and_audits(acme, admin_client, invited):
    invitation, path = invited
    revoke_url = f"/members/invitations/{invitation.pk}/revoke/"
    assert revoke_url in admin_client.get(reverse("invitations")).content.decode()

    confirm = admin_client.get(f"/members/invitations/{invitation.pk}/revoke/")
    assert confirm.status_code == 200
    assert "Revoke invitation" in confirm.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING

    response = admin_client.post(f"/members/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    entry = AuditEntry.objects.get(action="invitation.revoked")
    assert entry.organization == acme.organization
    assert entry.actor == acme.users["admin"]
    assert entry.target == NEW_EMAIL
    # A revoked invitation can no longer be revoked from the invitations page.
    assert revoke_url not in admin_client.get(reverse("invitations")).content.decode()


def test_invitations_of_another_organization_answer_404(acme, globex, client_for, invited):
    invitation, path = invited
    outsider = client_for(globex.users["admin"])
    assert outsider.get(f"/members/invitations/{invitation.pk}/revoke/").status_code == 404
    assert outsider.post(f"/members/invitations/{invitation.pk}/revoke/").status_code == 404
    assert outsider.post(f"/members/invitations/{invitation.pk}/resend/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_members_without_members_edit_cannot_invite(acme, client_for, mailoutbox):
    client = client_for(acme.users["engineer"])
    assert invite_via_page(client, NEW_EMAIL, acme.roles["engineer"]).status_code == 403
    assert not Invitation.objects.exists()
    assert mailoutbox == []


# Invalid invitations are form errors --------------------------------------------------------------


def test_inviting_an_existing_member_is_a_form_error(acme, admin_client, mailoutbox):
    response = invite_via_page(admin_client, "Finance@Acme.test", acme.roles["engineer"])
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert any("already a member" in error for error in errors)
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_duplicate_pending_invitation_is_a_form_error(acme, admin_client, invited, mailoutbox):
    response = invite_via_page(admin_client, NEW_EMAIL, acme.roles["finance"])
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert any("pending invitation" in error for error in errors)
    assert Invitation.objects.filter(email=NEW_EMAIL).count() == 1
    assert len(mailoutbox) == 1


def test_invalid_email_is_a_field_error(acme, admin_client):
    response = invite_via_page(admin_client, "not-an-email", acme.roles["finance"])
    assert response.status_code == 200
    assert response.context["form"].errors["email"]


def test_role_you_cannot_grant_is_not_offered_and_refused(acme, client_for, mailoutbox):
    lead_role = Role.objects.create(
        organization=acme.organization,
        name="Team lead",
        levels={"members": "edit", "projects": "view", "usage": "view", "channels": "view"},
    )
    lead = User.objects.create_user("lead@acme.test", PASSWORD)
    Membership.objects.create(user=lead, organization=acme.organization, role=lead_role)
    client = client_for(lead)

    offered = set(client.get("/members/invite/").context["form"].fields["role"].queryset.values_list("name", flat=True))
    assert offered == {"Product/Operation", "Team lead"}

    for key in ("finance", "admin", "engineer", "cs_maintenance"):
        response = invite_via_page(client, NEW_EMAIL, acme.roles[key])
        assert response.status_code == 200, key
        assert response.context["form"].errors["role"], key
    assert not Invitation.objects.exists()
    assert mailoutbox == []

    assert invite_via_page(client, NEW_EMAIL, acme.roles["product_operation"]).status_code == 302
    assert Invitation.objects.get().role == acme.roles["product_operation"]


def test_role_of_another_organization_is_refused(acme, globex, admin_client):
    response = invite_via_page(admin_client, NEW_EMAIL, globex.roles["engineer"])
    assert response.status_code == 200
    assert response.context["form"].errors["role"]
    assert not Invitation.objects.exists()


# The service refuses on its own too (the API and commands call it without the page's checks) --------


def token_of(path: str) -> str:
    return path.strip("/").split("/")[-1]


def test_service_refuses_a_second_use(acme, invited):
    invitation, path = invited
    accept_as_new_user(Client(), path)
    with pytest.raises(RuleViolation, match="already been used"):
        services.accept_invitation(token_of(path), User.objects.get(email=NEW_EMAIL))


def test_service_refuses_expired_revoked_and_wrong_user(acme, invited):
    invitation, path = invited
    token = token_of(path)
    with pytest.raises(RuleViolation, match=NEW_EMAIL):
        services.accept_invitation(token, acme.users["finance"])
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(RuleViolation, match="expired"):
        services.accept_invitation_as_new_user(token, name="X", password=NEW_PASSWORD)
    Invitation.objects.filter(pk=invitation.pk).update(status=Invitation.Status.REVOKED)
    with pytest.raises(RuleViolation, match="not valid"):
        services.accept_invitation_as_new_user(token, name="X", password=NEW_PASSWORD)
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    assert not Membership.objects.filter(user__email=NEW_EMAIL).exists()

"""The one confirm-then-act view (console.views.confirm_then_act), through the pages that use it: GET shows
the confirmation, POST acts once, a refusal becomes a message, the password is asked where the service asks
for it, and nothing but GET and POST is answered."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.urls import reverse

from accounts.api_credentials import create_credential
from accounts.models import AuditEntry, Membership, Organization, Role, User
from accounts.services import create_role, invite
from billing.models import PRICE_FIELDS, PriceBook, UsageAlert
from conftest import PASSWORD
from console.views import confirm_then_act

# Every confirmation page of the console (URL name); `sites` below gives each one an object of Acme.
CONFIRMATIONS = (
    "leave_organization",
    "remove_member",
    "make_owner",
    "resend_invitation",
    "revoke_invitation",
    "delete_role",
    "delete_api_credential",
    "projects:action",
    "projects:certificate_operation",
    "billing:delete_alert",
    "billing:delete_price_book",
)


def html(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in get_messages(response.wsgi_request)]


def asks_password(response) -> bool:
    return bool(re.search(r'<input type="password" name="password"', html(response)))


@pytest.fixture
def auditors(acme) -> Role:
    return create_role(acme.membership("admin"), name="Auditors", levels={"audit": "view"})


@pytest.fixture
def sites(acme, auditors) -> dict[str, str]:
    """Each confirmation's URL, on an object of Acme that its Admin (the owner) may act on."""
    admin = acme.membership("admin")
    organization = acme.organization
    invitation = invite(admin, "newcomer@example.test", acme.roles["finance"])
    book = PriceBook.objects.create(
        organization=organization, effective_from=date(2030, 1, 1), **{f: Decimal(1) for f in PRICE_FIELDS.values()}
    )
    alert = UsageAlert.objects.create(organization=organization, metric="minutes", threshold=Decimal(1000))
    project_id = acme.projects[0].project_id
    urls = {
        "leave_organization": reverse("leave_organization"),
        "remove_member": reverse("remove_member", args=[acme.membership("engineer").pk]),
        "make_owner": reverse("make_owner", args=[acme.membership("finance").pk]),
        "resend_invitation": reverse("resend_invitation", args=[invitation.pk]),
        "revoke_invitation": reverse("revoke_invitation", args=[invitation.pk]),
        "delete_role": reverse("delete_role", args=[auditors.pk]),
        "delete_api_credential": reverse("delete_api_credential", args=[create_credential(admin).credential.pk]),
        "projects:action": reverse("projects:action", args=[project_id, "disable"]),
        "projects:certificate_operation": reverse(
            "projects:certificate_operation", args=[project_id, "enable_secondary"]
        ),
        "billing:delete_alert": reverse("billing:delete_alert", args=[alert.pk]),
        "billing:delete_price_book": reverse("billing:delete_price_book", args=[book.pk]),
    }
    assert set(urls) == set(CONFIRMATIONS)
    return urls


@pytest.fixture
def web(acme, client_for):
    return client_for(acme.users["admin"])


def test_every_confirmation_shows_the_one_page_on_get_and_does_nothing(web, sites):
    entries = AuditEntry.objects.count()
    for name, url in sites.items():
        response = web.get(url)
        assert response.status_code == 200, name
        assert "console/confirm.html" in [template.name for template in response.templates], name
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_every_confirmation_answers_405_to_other_methods(web, sites, method):
    entries = AuditEntry.objects.count()
    for name, url in sites.items():
        response = getattr(web, method)(url)
        assert response.status_code == 405, name
        assert response["Allow"] == "GET, POST", name
    assert AuditEntry.objects.count() == entries


def test_the_page_names_the_action_its_consequences_and_the_way_back(web, sites):
    page = html(web.get(sites["delete_role"]))

    assert "<h1>Delete the role Auditors?</h1>" in page
    assert "<p>The role is deleted for good.</p>" in page
    consequences = "<li>Roles that members or pending invitations use cannot be deleted.</li>"
    assert f'<ul class="consequences">{consequences}</ul>' in page
    assert '<button type="submit" class="button danger">Delete role</button>' in page
    assert f'<a class="button" href="{reverse("roles")}">Cancel</a>' in page
    assert f'<a href="{reverse("members")}">Members &amp; Roles</a>' in page  # the section in the breadcrumbs


def test_post_acts_once_and_says_so(web, sites, auditors):
    response = web.post(sites["delete_role"])

    assert response.status_code == 302 and response["Location"] == reverse("roles")
    assert messages_of(response) == [(messages.SUCCESS, "Role Auditors deleted.")]
    assert not Role.objects.filter(pk=auditors.pk).exists()
    assert AuditEntry.objects.filter(action="role.deleted", target="Auditors").count() == 1
    # Posted again: the role is gone, nothing is acted on a second time.
    assert web.post(sites["delete_role"]).status_code == 404
    assert AuditEntry.objects.filter(action="role.deleted").count() == 1


def test_a_refusal_becomes_an_error_message_and_nothing_is_done(acme, web, sites, auditors):
    Membership.objects.filter(pk=acme.membership("engineer").pk).update(role=auditors)  # the role is in use

    response = web.post(sites["delete_role"])

    assert response.status_code == 302 and response["Location"] == reverse("roles")  # back where it started
    [(level, text)] = messages_of(response)
    assert level == messages.ERROR and "is in use by members or pending invitations" in text
    assert Role.objects.filter(pk=auditors.pk).exists()
    assert not AuditEntry.objects.filter(action="role.deleted").exists()


def test_a_service_that_asks_for_the_password_gets_it_first(acme, web):
    second_admin = User.objects.create_user("admin2@acme.test", PASSWORD)
    member = Membership.objects.create(user=second_admin, organization=acme.organization, role=acme.roles["admin"])
    url = reverse("make_owner", args=[member.pk])  # accounts.services.transfer_ownership is @asks_password
    owner = acme.users["admin"]

    assert asks_password(web.get(url))
    for wrong in ({}, {"password": "not-my-password"}):
        response = web.post(url, wrong)
        assert response.status_code == 200 and asks_password(response)
        assert response.context["password_form"].errors["password"]
        assert Organization.objects.get(pk=acme.organization.pk).owner == owner

    response = web.post(url, {"password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == reverse("members")
    assert Organization.objects.get(pk=acme.organization.pk).owner == second_admin


def test_a_service_that_does_not_ask_gets_no_password_field(web, sites, auditors):
    page = web.get(sites["delete_role"])  # not in sudo mode: the field would show if it were asked
    assert page.status_code == 200 and not asks_password(page)
    assert web.post(sites["delete_role"]).status_code == 302
    assert not Role.objects.filter(pk=auditors.pk).exists()


@pytest.mark.parametrize("method", ["put", "delete", "head"])
def test_the_helper_itself_refuses_other_methods_without_acting(method):
    acted = []
    request = getattr(RequestFactory(), method)("/anywhere/")

    response = confirm_then_act(
        request,
        act=lambda: acted.append(True),
        done="Done.",
        title="Do it?",
        message="It is done.",
        action_label="Do it",
        cancel_url="/",
    )

    assert response.status_code == 405 and response["Allow"] == "GET, POST"
    assert acted == []

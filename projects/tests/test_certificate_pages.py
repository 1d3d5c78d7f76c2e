"""Certificate operations through the pages: password confirmation (sudo mode), stale pages, the guided rotation."""

import html as html_lib
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from accounts.models import AuditEntry
from conftest import PASSWORD
from projects import services
from projects.models import Certificate, Project

DESTRUCTIVE = ("swap", "disable_secondary", "delete_secondary", "reset_primary", "require_tokens")
NON_DESTRUCTIVE = ("enable_primary", "enable_secondary")
STALE = "Someone changed this project's certificates"


def html(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def operation_url(project, operation) -> str:
    return reverse("projects:certificate_operation", args=[project.project_id, operation])


def rotation_url(project) -> str:
    return reverse("projects:rotation", args=[project.project_id])


def detail_url(project) -> str:
    return reverse("projects:detail", args=[project.project_id])


def asks_password(response) -> bool:
    return bool(re.search(r'<input type="password" name="password"', html(response)))


def state(project) -> tuple:
    """Everything an operation may change: version, mechanism and every certificate."""
    stored = Project.objects.get(pk=project.pk)
    certificates = sorted(
        (c.slot, c.value, c.enabled, c.retired_at) for c in Certificate.objects.filter(project=project)
    )
    return stored.certificates_version, stored.mechanism, certificates


def version(project) -> int:
    return Project.objects.get(pk=project.pk).certificates_version


@pytest.fixture
def engineer(acme):
    return acme.membership("engineer")


@pytest.fixture
def web(acme, client_for):
    return client_for(acme.users["engineer"])


def prepared(operation, acme, engineer) -> Project:
    """A project where `operation` can be applied."""
    if operation in ("enable_primary", "require_tokens"):
        project = services.create_project(acme.membership("admin"), name="Open", mechanism=Project.Mechanism.APP_ID)
        if operation == "require_tokens":
            services.enable_primary(engineer, project)
        return project
    project = acme.projects[0]
    if operation in ("swap", "disable_secondary", "delete_secondary"):
        services.enable_secondary(engineer, project)
    if operation == "delete_secondary":
        services.disable_secondary(engineer, project)
    return project


def post(web, project, operation, *, password=None, seen=None, **extra):
    data = {"version": version(project) if seen is None else seen, **extra}
    if password is not None:
        data["password"] = password
    return web.post(operation_url(project, operation), data)


# Password confirmation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", DESTRUCTIVE)
def test_a_destructive_operation_asks_for_the_password_and_says_what_breaks(acme, engineer, web, operation):
    project = prepared(operation, acme, engineer)

    response = web.get(operation_url(project, operation) + f"?version={version(project)}")

    assert response.status_code == 200
    assert asks_password(response)
    assert '<ul class="consequences">' in html(response)
    assert f'name="version" value="{version(project)}"' in html(response)


@pytest.mark.parametrize("operation", ["disable_secondary", "delete_secondary", "reset_primary"])
def test_operations_that_cut_tokens_off_say_so(acme, engineer, web, operation):
    project = prepared(operation, acme, engineer)
    page = html(web.get(operation_url(project, operation)))
    assert re.search(r"stop working|can never work again", page)


@pytest.mark.parametrize("operation", DESTRUCTIVE)
def test_without_the_password_nothing_happens(acme, engineer, web, operation):
    project = prepared(operation, acme, engineer)
    before = state(project)

    response = post(web, project, operation)

    assert response.status_code == 200
    assert '<p class="error" id="id_password_error">This field is required.</p>' in html(response)
    assert state(project) == before


@pytest.mark.parametrize("operation", DESTRUCTIVE)
def test_a_wrong_password_changes_nothing_and_is_audited(acme, engineer, web, operation):
    project = prepared(operation, acme, engineer)
    before = state(project)

    response = post(web, project, operation, password="not-my-password")

    assert response.status_code == 200
    assert '<p class="error" id="id_password_error">That is not your password.</p>' in html(response)
    assert state(project) == before
    failure = AuditEntry.objects.get(action="auth.reauth_failed")
    assert failure.target == "engineer@acme.test"
    # Still not in sudo mode: the next attempt asks again.
    assert asks_password(web.get(operation_url(project, operation)))


@pytest.mark.parametrize("operation", DESTRUCTIVE)
def test_the_right_password_acts(acme, engineer, web, operation):
    project = prepared(operation, acme, engineer)
    before = version(project)

    response = post(web, project, operation, password=PASSWORD)

    assert response.status_code == 302 and response["Location"] == detail_url(project)
    assert version(project) == before + 1
    assert not any(STALE in m for m in messages_of(response))
    assert not AuditEntry.objects.filter(action="auth.reauth_failed").exists()


def test_the_password_opens_sudo_mode_for_the_next_destructive_operation(acme, engineer, web):
    project = prepared("swap", acme, engineer)

    post(web, project, "swap", password=PASSWORD)
    response = web.get(operation_url(project, "disable_secondary"))

    assert response.status_code == 200 and not asks_password(response)
    before = state(project)
    response = post(web, project, "disable_secondary")  # no password field, none sent
    assert response.status_code == 302
    assert state(project) != before
    assert not Certificate.objects.get(project=project, slot="secondary").enabled


def test_sudo_mode_belongs_to_the_session(acme, engineer, web):
    project = prepared("swap", acme, engineer)
    post(web, project, "swap", password=PASSWORD)

    other_session = Client()
    other_session.force_login(acme.users["engineer"])
    assert asks_password(other_session.get(operation_url(project, "disable_secondary")))


def test_after_the_sudo_window_the_password_is_asked_again(acme, engineer, web, settings, monkeypatch):
    settings.SUDO_WINDOW = timedelta(minutes=10)
    project = prepared("swap", acme, engineer)
    post(web, project, "swap", password=PASSWORD)
    url = operation_url(project, "disable_secondary")

    start = timezone.now()
    monkeypatch.setattr(sudo, "timezone", SimpleNamespace(now=lambda: start + timedelta(minutes=9)))
    assert not asks_password(web.get(url))

    monkeypatch.setattr(sudo, "timezone", SimpleNamespace(now=lambda: start + timedelta(minutes=11)))
    assert asks_password(web.get(url))
    before = state(project)
    response = post(web, project, "disable_secondary")
    assert response.status_code == 200 and "This field is required." in html(response)
    assert state(project) == before


def test_a_zero_sudo_window_asks_every_time(acme, engineer, web, settings):
    settings.SUDO_WINDOW = timedelta(0)
    project = prepared("swap", acme, engineer)

    post(web, project, "swap", password=PASSWORD)

    assert asks_password(web.get(operation_url(project, "disable_secondary")))


@pytest.mark.parametrize("operation", NON_DESTRUCTIVE)
def test_non_destructive_operations_ask_no_password(acme, engineer, web, operation):
    project = prepared(operation, acme, engineer)
    before = version(project)

    page = web.get(operation_url(project, operation))
    response = post(web, project, operation)

    assert page.status_code == 200 and not asks_password(page)
    assert response.status_code == 302
    assert version(project) == before + 1
    # And they open no sudo mode either.
    assert asks_password(web.get(operation_url(project, "reset_primary")))


def test_a_page_driven_operation_is_audited_and_mailed_with_the_actor(
    acme, engineer, web, django_capture_on_commit_callbacks, mailoutbox
):
    project = prepared("reset_primary", acme, engineer)

    with django_capture_on_commit_callbacks(execute=True):
        post(web, project, "reset_primary", password=PASSWORD)

    entry = AuditEntry.objects.get(action="certificate.primary_reset")
    assert entry.actor == acme.users["engineer"] and entry.ip_address == "127.0.0.1"
    assert [m.to for m in mailoutbox] == [["admin@acme.test"]]
    assert "engineer@acme.test" in mailoutbox[0].body


# Stale pages ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", DESTRUCTIVE + NON_DESTRUCTIVE)
def test_a_stale_page_is_refused_and_changes_nothing(acme, engineer, web, operation):
    project = prepared(operation, acme, engineer)
    seen = version(project)
    page = web.get(operation_url(project, operation) + f"?version={seen}")
    # Someone else changes the certificates while the confirmation page is open.
    if operation == "enable_primary":
        Project.objects.filter(pk=project.pk).update(certificates_version=seen + 1)
    else:
        services.reset_primary(acme.membership("admin"), project)
    before = state(project)

    password = PASSWORD if asks_password(page) else None
    response = post(web, project, operation, password=password, seen=seen)

    assert response.status_code == 302
    assert any(STALE in m for m in messages_of(response))
    assert state(project) == before


def test_the_version_the_person_saw_is_carried_from_the_project_page(acme, engineer, web):
    project = prepared("swap", acme, engineer)
    seen = version(project)
    services.swap_certificates(acme.membership("admin"), project)  # after the page was loaded

    page = web.get(operation_url(project, "disable_secondary") + f"?version={seen}")

    assert f'name="version" value="{seen}"' in html(page)


def test_the_stale_message_is_shown_on_the_project_page(acme, engineer, web):
    project = prepared("swap", acme, engineer)
    seen = version(project)
    services.swap_certificates(acme.membership("admin"), project)

    response = web.post(operation_url(project, "swap"), {"version": seen, "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == detail_url(project)
    assert "Someone changed this project&#x27;s certificates" in html(response)


def test_a_refused_operation_shows_the_rule(acme, engineer, web):
    project = acme.projects[0]  # no secondary: a swap is impossible
    before = state(project)

    response = post(web, project, "swap", password=PASSWORD)

    assert response.status_code == 302
    assert any("secondary certificate before swapping" in m for m in messages_of(response))
    assert state(project) == before


# URLs -------------------------------------------------------------------------------------------------------


def test_an_unknown_operation_is_not_found(acme, web):
    project = acme.projects[0]
    assert web.get(operation_url(project, "explode")).status_code == 404
    assert web.post(operation_url(project, "explode"), {"version": 0, "password": PASSWORD}).status_code == 404


def test_another_organizations_project_is_not_found(acme, globex, web):
    project = globex.projects[0]
    before = state(project)
    assert web.get(operation_url(project, "reset_primary")).status_code == 404
    assert web.post(operation_url(project, "reset_primary"), {"version": 0, "password": PASSWORD}).status_code == 404
    assert state(project) == before


@pytest.mark.parametrize("role", ["product_operation", "cs_maintenance", "finance"])
def test_roles_without_certificate_manage_cannot_operate(acme, client_for, role):
    project = acme.projects[0]
    before = state(project)
    other = client_for(acme.users[role])
    response = other.post(operation_url(project, "reset_primary"), {"version": 0, "password": PASSWORD})
    assert response.status_code == 403
    assert other.get(rotation_url(project)).status_code == 403
    assert state(project) == before


# The guided rotation ----------------------------------------------------------------------------------------


def step_statuses(response) -> list[str]:
    return re.findall(r'<li class="step step-(done|current|todo)"', html(response))


def where_you_are(response) -> str:
    match = re.search(r"<strong>Where you are:</strong>\s*(.*?)</p>", html(response), re.S)
    assert match, html(response)
    return html_lib.unescape(match.group(1)).strip()


def offered_link(response) -> tuple[str, str]:
    """The one operation the rotation page offers: (operation, link)."""
    links = re.findall(
        r'href="(/projects/[A-Za-z0-9]+/certificates/(\w+)/\?version=\d+&amp;next=rotation)"', html(response)
    )
    assert len(links) == 1, links
    url, operation = links[0]
    return operation, html_lib.unescape(url)


def follow(web, link) -> tuple[object, object]:
    """Open an operation link from the rotation page, confirm it (with the password if asked)."""
    page = web.get(link)
    assert page.status_code == 200
    form = html(page)
    data = {
        "version": re.search(r'name="version" value="(\d+)"', form).group(1),
        "next": re.search(r'name="next" value="(\w+)"', form).group(1),
    }
    if asks_password(page):
        data["password"] = PASSWORD
    return page, web.post(link.split("?")[0], data)


def test_a_full_rotation_driven_through_the_guided_page(acme, web):
    project = acme.projects[0]
    original = Certificate.objects.get(project=project, slot="primary").value

    page = web.get(rotation_url(project))
    assert page.status_code == 200
    assert step_statuses(page) == ["current", "todo", "todo", "todo"]
    assert where_you_are(page) == "No rotation in progress. Start with step 1."

    # Step 1: enable a secondary. Asks no password.
    operation, link = offered_link(page)
    assert operation == "enable_secondary"
    confirm, done = follow(web, link)
    assert not asks_password(confirm)
    assert done.status_code == 302 and done["Location"] == rotation_url(project)
    new = Certificate.objects.get(project=project, slot="secondary").value

    page = web.get(rotation_url(project))
    assert step_statuses(page) == ["done", "current", "current", "todo"]
    assert where_you_are(page).startswith("The secondary certificate is enabled. Deploy it")

    # Step 3: swap. Asks the password, which opens sudo mode.
    operation, link = offered_link(page)
    assert operation == "swap"
    confirm, done = follow(web, link)
    assert asks_password(confirm)
    assert done["Location"] == rotation_url(project)
    assert Certificate.objects.get(project=project, slot="primary").value == new
    assert Certificate.objects.get(project=project, slot="secondary").value == original

    page = web.get(rotation_url(project))
    assert step_statuses(page) == ["done", "done", "done", "current"]
    assert where_you_are(page).startswith("Swapped. The old certificate is now the secondary and still accepted.")

    # Step 4a: disable the old one. Sudo mode is on: no password.
    operation, link = offered_link(page)
    assert operation == "disable_secondary"
    confirm, done = follow(web, link)
    assert not asks_password(confirm)
    assert done["Location"] == rotation_url(project)

    page = web.get(rotation_url(project))
    assert step_statuses(page) == ["done", "done", "done", "current"]
    assert where_you_are(page) == (
        "The old certificate is disabled: tokens signed with it are refused. Delete it to finish."
    )

    # Step 4b: delete it.
    operation, link = offered_link(page)
    assert operation == "delete_secondary"
    follow(web, link)

    page = web.get(rotation_url(project))
    assert step_statuses(page) == ["current", "todo", "todo", "todo"]
    summary = where_you_are(page)
    assert summary.startswith("No rotation in progress. The last swap was on ")
    assert offered_link(page)[0] == "enable_secondary"
    certificates = list(Certificate.objects.filter(project=project))
    assert [(c.slot, c.value, c.enabled) for c in certificates] == [("primary", new, True)]
    actions = list(
        AuditEntry.objects.filter(organization=acme.organization, action__startswith="certificate.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "certificate.secondary_enabled",
        "certificate.swapped",
        "certificate.secondary_disabled",
        "certificate.secondary_deleted",
    ]


def test_the_rotation_page_without_a_primary_offers_nothing(acme, web):
    project = services.create_project(acme.membership("admin"), name="Open", mechanism=Project.Mechanism.APP_ID)
    page = web.get(rotation_url(project))
    assert step_statuses(page) == ["todo"] * 4
    assert "/certificates/" not in re.sub(r'<div class="cert-grid">.*', "", html(page), flags=re.S)
    assert where_you_are(page).startswith("Rotation needs an enabled primary certificate")


def test_a_stale_rotation_link_is_refused(acme, engineer, web):
    project = acme.projects[0]
    page = web.get(rotation_url(project))
    _, link = offered_link(page)
    services.enable_secondary(acme.membership("admin"), project)  # someone else started already

    _, done = follow(web, link)

    assert done["Location"] == rotation_url(project)
    assert any(STALE in m for m in messages_of(done))
    assert Certificate.objects.filter(project=project).count() == 2

"""The project pages: list, create, detail (Basic settings | Security), reveal, edit and status actions."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import AuditEntry, Membership, Role, User
from accounts.services import create_organization
from conftest import PASSWORD
from projects import services
from projects.models import Certificate, Project

OPERATIONS = (
    "enable_primary",
    "enable_secondary",
    "swap",
    "disable_secondary",
    "delete_secondary",
    "reset_primary",
    "require_tokens",
)


def html(response) -> str:
    return response.content.decode()


def listed(response) -> list[str]:
    """Project names in the list's rows, in page order."""
    return re.findall(r'<a href="/projects/[A-Za-z0-9]+/"><strong>([^<]+)</strong></a>', html(response))


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def detail_url(project) -> str:
    return reverse("projects:detail", args=[project.project_id])


def reveal_url(project, slot="primary") -> str:
    return reverse("projects:reveal_certificate", args=[project.project_id, slot])


def operation_url(project, operation) -> str:
    return reverse("projects:certificate_operation", args=[project.project_id, operation])


def fresh(project) -> Project:
    return Project.objects.prefetch_related("certificates").get(pk=project.pk)


@pytest.fixture
def engineer_client(acme, client_for):
    return client_for(acme.users["engineer"])


@pytest.fixture
def many_projects(acme):
    """30 more active projects, made directly (the limit is a service rule, not a page one)."""
    return [Project.objects.create(organization=acme.organization, name=f"Bulk {n:02}") for n in range(30)]


# The list -----------------------------------------------------------------------------------------------


def test_the_list_shows_active_projects_with_tab_counts(acme, engineer_client):
    response = engineer_client.get(reverse("projects:list"))

    assert response.status_code == 200
    assert sorted(listed(response)) == ["Acme project 1", "Acme project 2"]
    assert ">2 Active</a>" in html(response)
    assert ">0 Archived</a>" in html(response)


def test_archived_projects_move_to_their_own_tab(acme, engineer_client):
    services.set_archived(acme.membership("admin"), acme.projects[0], True)

    active = engineer_client.get(reverse("projects:list"))
    archived = engineer_client.get(reverse("projects:list") + "?tab=archived")

    assert listed(active) == ["Acme project 2"]
    assert listed(archived) == ["Acme project 1"]
    for response in (active, archived):
        assert ">1 Active</a>" in html(response) and ">1 Archived</a>" in html(response)


def test_the_list_never_shows_another_organizations_projects(acme, globex, engineer_client):
    response = engineer_client.get(reverse("projects:list"))
    assert not any(name.startswith("Globex") for name in listed(response))
    assert globex.projects[0].app_id not in html(response)


def test_the_app_id_is_masked_with_a_copy_button(acme, engineer_client):
    project = acme.projects[0]
    page = html(engineer_client.get(reverse("projects:list")))

    assert f"<code>{project.app_id_masked}</code>" in page
    assert f"<code>{project.app_id}</code>" not in page
    assert re.search(rf'<button[^>]*class="copy"[^>]*data-copy="{project.app_id}"[^>]*aria-label="Copy App ID"', page)


@pytest.mark.parametrize("query", ["project 2", "PROJECT 2", "app_id", "app_id_prefix", "project_id"])
def test_search_by_name_app_id_or_project_id(acme, engineer_client, query):
    wanted = acme.projects[1]
    term = {
        "app_id": wanted.app_id,
        "app_id_prefix": wanted.app_id[:12],
        "project_id": wanted.project_id,
    }.get(query, query)

    response = engineer_client.get(reverse("projects:list"), {"q": term})

    assert listed(response) == ["Acme project 2"]


def test_a_search_that_finds_nothing_says_so(acme, engineer_client):
    response = engineer_client.get(reverse("projects:list"), {"q": "no such project"})
    assert listed(response) == []
    assert "Nothing matches these filters" in html(response)


def test_filters_by_status_stage_and_security(acme, engineer_client):
    admin = acme.membership("admin")
    first, second = acme.projects
    services.set_enabled(admin, first, False)
    services.update_project(admin, second, name=second.name, use_case="other", region="global", stage="live")
    services.create_project(admin, name="Open one", mechanism=Project.Mechanism.APP_ID, stage="testing")
    url = reverse("projects:list")

    assert listed(engineer_client.get(url, {"status": "0"})) == ["Acme project 1"]
    assert sorted(listed(engineer_client.get(url, {"status": "1"}))) == ["Acme project 2", "Open one"]
    assert listed(engineer_client.get(url, {"stage": "live"})) == ["Acme project 2"]
    assert listed(engineer_client.get(url, {"stage": "testing"})) == ["Open one"]
    assert listed(engineer_client.get(url, {"security": "app_id"})) == ["Open one"]
    assert sorted(listed(engineer_client.get(url, {"security": "secured"}))) == ["Acme project 1", "Acme project 2"]
    assert listed(engineer_client.get(url, {"security": "secured", "status": "1"})) == ["Acme project 2"]


def test_sorting_by_a_column_both_ways(acme, engineer_client):
    admin = acme.membership("admin")
    for name in ("Bravo", "Alpha", "Charlie"):
        services.create_project(admin, name=name)
    url = reverse("projects:list")

    ascending = listed(engineer_client.get(url, {"o": "name"}))
    descending = listed(engineer_client.get(url, {"o": "-name"}))

    assert ascending == ["Acme project 1", "Acme project 2", "Alpha", "Bravo", "Charlie"]
    assert descending == list(reversed(ascending))
    # By default the newest project comes first.
    assert listed(engineer_client.get(url))[0] == "Charlie"


def test_the_list_is_paginated(acme, engineer_client, many_projects):
    url = reverse("projects:list")

    first = engineer_client.get(url, {"o": "name"})
    second = engineer_client.get(url, {"o": "name", "page": 2})

    assert len(listed(first)) == 25
    assert len(listed(second)) == 7
    assert set(listed(first)).isdisjoint(listed(second))
    assert len(set(listed(first)) | set(listed(second))) == 32
    assert "Page 1 of 2" in html(first) and 'rel="next"' in html(first)
    assert "Page 2 of 2" in html(second) and 'rel="prev"' in html(second)
    assert ">32 Active</a>" in html(first)


def test_an_organization_without_projects_sees_the_empty_state(db, client_for):
    owner = User.objects.create_user("solo@initech.test", PASSWORD)
    create_organization(owner, "Initech")

    response = client_for(owner).get(reverse("projects:list"))

    assert response.status_code == 200
    assert listed(response) == []
    assert "No projects yet" in html(response)
    assert "Create a project" in html(response)


def test_the_archived_tab_has_its_own_empty_state(acme, engineer_client):
    response = engineer_client.get(reverse("projects:list"), {"tab": "archived"})
    assert listed(response) == []
    assert "No archived projects" in html(response)


def test_finance_cannot_open_projects(acme, client_for):
    client = client_for(acme.users["finance"])
    assert client.get(reverse("projects:list")).status_code == 403
    assert client.get(detail_url(acme.projects[0])).status_code == 403


# Creating -----------------------------------------------------------------------------------------------


def test_the_create_form_preselects_secured_and_recommends_it(acme, engineer_client):
    page = html(engineer_client.get(reverse("projects:create")))

    assert re.search(r'<input type="radio" name="mechanism" value="secured"[^>]*checked', page)
    assert not re.search(r'<input type="radio" name="mechanism" value="app_id"[^>]*checked', page)
    assert "recommended" in page.lower()
    for field in ("name", "use_case", "region", "mechanism"):
        assert f'name="{field}"' in page


def test_creating_a_secured_project_from_the_page(acme, engineer_client):
    response = engineer_client.post(
        reverse("projects:create"),
        {"name": "  Video chat  ", "use_case": "social", "region": "europe", "mechanism": "secured"},
    )

    project = Project.objects.get(organization=acme.organization, name="Video chat")
    assert response.status_code == 302 and response["Location"] == detail_url(project)
    assert (project.use_case, project.region, project.mechanism) == ("social", "europe", "secured")
    assert fresh(project).primary.enabled
    entry = AuditEntry.objects.filter(action="project.created").latest("id")
    assert entry.actor == acme.users["engineer"] and entry.target == "Video chat"


def test_creating_an_app_id_only_project_from_the_page(acme, engineer_client):
    engineer_client.post(
        reverse("projects:create"),
        {"name": "Quick test", "use_case": "other", "region": "global", "mechanism": "app_id"},
    )
    project = Project.objects.get(name="Quick test")
    assert project.mechanism == "app_id" and not project.certificates.exists()


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "This field is required."),
        ("    ", "This field is required."),
        ("x" * 256, "Ensure this value has at most 255 characters (it has 256)."),
    ],
)
def test_a_bad_name_is_a_field_error(acme, engineer_client, name, error):
    before = Project.objects.count()

    response = engineer_client.post(
        reverse("projects:create"), {"name": name, "use_case": "other", "region": "global", "mechanism": "secured"}
    )

    assert response.status_code == 200
    assert re.search(rf'<p class="error" id="id_name_error">{re.escape(error)}</p>', html(response)), html(response)
    assert Project.objects.count() == before


def test_a_255_character_name_is_fine(acme, engineer_client):
    name = "x" * 255
    response = engineer_client.post(
        reverse("projects:create"), {"name": name, "use_case": "other", "region": "global", "mechanism": "secured"}
    )
    assert response.status_code == 302
    assert Project.objects.filter(name=name).exists()


def test_a_duplicate_name_is_a_form_error(acme, engineer_client):
    before = Project.objects.count()

    response = engineer_client.post(
        reverse("projects:create"),
        {"name": "acme PROJECT 1", "use_case": "other", "region": "global", "mechanism": "secured"},
    )

    assert response.status_code == 200
    errors = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', html(response), re.S)
    assert errors and "exists already in this organization" in errors.group(1)
    assert Project.objects.count() == before


def test_reaching_the_project_limit_is_a_clear_error(acme, engineer_client, settings):
    settings.PROJECT_LIMIT = 2

    response = engineer_client.post(
        reverse("projects:create"), {"name": "Third", "use_case": "other", "region": "global", "mechanism": "secured"}
    )

    assert response.status_code == 200
    assert "reached its limit of 2 active projects" in html(response)
    assert "Archive a project" in html(response)
    assert not Project.objects.filter(name="Third").exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "Odd", "use_case": "nonsense", "region": "global", "mechanism": "secured"},
        {"name": "Odd", "use_case": "other", "region": "mars", "mechanism": "secured"},
        {"name": "Odd", "use_case": "other", "region": "global", "mechanism": "open_to_all"},
        {"name": "Odd", "use_case": "other", "region": "global", "mechanism": "secured", "stage": "bogus"},
        {"name": "Odd\x00", "use_case": "other", "region": "global", "mechanism": "secured"},
    ],
)
def test_bad_create_input_is_never_a_500(acme, engineer_client, data):
    response = engineer_client.post(reverse("projects:create"), data)
    assert response.status_code in (200, 302)
    if response.status_code == 200 and data:  # an empty POST shows the blank form again
        assert 'class="error"' in html(response)


def test_roles_without_project_edit_cannot_create(acme, client_for):
    for key in ("product_operation", "cs_maintenance", "finance"):
        client = client_for(acme.users[key])
        assert client.get(reverse("projects:create")).status_code == 403
        response = client.post(reverse("projects:create"), {"name": "Sneaky", "mechanism": "secured"})
        assert response.status_code == 403
    assert not Project.objects.filter(name="Sneaky").exists()


# The detail page --------------------------------------------------------------------------------------------


def test_the_detail_page_has_basic_settings_and_security(acme, engineer_client):
    project = acme.projects[0]
    page = html(engineer_client.get(detail_url(project)))

    assert "<h2>Basic settings</h2>" in page
    assert "<h2>Security</h2>" in page
    assert page.index("Basic settings") < page.index("Security")
    assert project.app_id in page and project.project_id in page
    assert re.search(rf'<button[^>]*data-copy="{project.app_id}"[^>]*aria-label="Copy App ID"', page)
    assert re.search(rf'<button[^>]*data-copy="{project.project_id}"[^>]*aria-label="Copy project ID"', page)
    assert "Primary certificate" in page and "Secondary certificate" in page
    assert project.primary.fingerprint in page


def test_the_detail_page_of_another_organization_is_not_found(acme, globex, engineer_client):
    assert engineer_client.get(detail_url(globex.projects[0])).status_code == 404
    assert engineer_client.post(reveal_url(globex.projects[0])).status_code == 404


def test_an_empty_secondary_slot_is_explained(acme, engineer_client):
    page = html(engineer_client.get(detail_url(acme.projects[0])))
    assert "No secondary certificate" in page
    assert "slot.certificate" not in page


@pytest.mark.parametrize("role", ["product_operation", "cs_maintenance"])
def test_viewers_without_certificate_rights_see_no_value_and_no_button(acme, client_for, role):
    engineer = acme.membership("engineer")
    project = acme.projects[0]
    services.enable_secondary(engineer, project)
    client = client_for(acme.users[role])

    response = client.get(detail_url(project))

    page = html(response)
    assert response.status_code == 200
    assert "<h2>Security</h2>" in page
    assert ">Reveal</button>" not in page
    for certificate in Certificate.objects.filter(project=project):
        assert certificate.value not in page
    assert "/reveal/" not in page
    assert "/certificates/" not in page  # neither reveal forms nor operation links
    assert "/rotation/" not in page
    assert "Edit</a>" not in page and "/disable/" not in page and "/archive/" not in page
    # And the URLs refuse them too.
    assert client.post(reveal_url(project)).status_code == 403
    assert client.get(operation_url(project, "swap")).status_code == 403
    assert not AuditEntry.objects.filter(action="certificate.revealed").exists()


def test_an_engineer_sees_reveal_and_the_operations(acme, engineer_client):
    project = acme.projects[0]
    page = html(engineer_client.get(detail_url(project)))

    assert ">Reveal</button>" in page
    assert f'action="{reveal_url(project)}"' in page
    assert f'href="{operation_url(project, "reset_primary")}?version=0"' in page
    assert f'href="{operation_url(project, "enable_secondary")}?version=0"' in page
    assert project.primary.value not in page  # masked until revealed
    assert f'href="{reverse("projects:rotation", args=[project.project_id])}"' in page


def test_operations_offered_follow_the_certificate_state(acme, engineer_client):
    engineer = acme.membership("engineer")
    project = acme.projects[0]

    def offered():
        page = html(engineer_client.get(detail_url(project)))
        return {op for op in OPERATIONS if f"/certificates/{op}/" in page}

    assert offered() == {"reset_primary", "enable_secondary"}
    services.enable_secondary(engineer, project)
    assert offered() == {"reset_primary", "swap", "disable_secondary"}
    services.disable_secondary(engineer, project)
    assert offered() == {"reset_primary", "enable_secondary", "delete_secondary"}
    open_project = services.create_project(acme.membership("admin"), name="Open", mechanism="app_id")
    project = open_project
    assert offered() == {"enable_primary"}
    services.enable_primary(engineer, project)
    assert offered() == {"reset_primary", "require_tokens", "enable_secondary"}


def test_revealing_shows_the_value_once_and_is_audited(acme, engineer_client):
    project = acme.projects[0]
    value = project.primary.value

    response = engineer_client.post(reveal_url(project))

    assert response.status_code == 200
    assert value in html(response)
    assert re.search(rf'<button[^>]*data-copy="{value}"[^>]*aria-label="Copy certificate"', html(response))
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.get(action="certificate.revealed")
    assert entry.actor == acme.users["engineer"]
    assert entry.target == project.name and entry.details["slot"] == "primary"
    assert entry.organization == acme.organization
    # Not remembered: the next visit shows it masked again.
    assert value not in html(engineer_client.get(detail_url(project)))


def test_revealing_the_secondary_shows_only_the_secondary(acme, engineer_client):
    engineer = acme.membership("engineer")
    project = acme.projects[0]
    services.enable_secondary(engineer, project)
    project = fresh(project)

    page = html(engineer_client.post(reveal_url(project, "secondary")))

    assert project.secondary.value in page
    assert project.primary.value not in page
    assert AuditEntry.objects.get(action="certificate.revealed").details["slot"] == "secondary"


def test_revealing_a_missing_certificate_is_a_message_not_an_error(acme, engineer_client):
    project = acme.projects[0]
    response = engineer_client.post(reveal_url(project, "secondary"))
    assert response.status_code == 302 and response["Location"] == detail_url(project)
    assert any("no secondary certificate" in m for m in messages_of(response))
    assert not AuditEntry.objects.filter(action="certificate.revealed").exists()


def test_revealing_needs_post(acme, engineer_client):
    project = acme.projects[0]
    response = engineer_client.get(reveal_url(project))
    assert response.status_code == 405
    assert not AuditEntry.objects.filter(action="certificate.revealed").exists()


# A member limited to selected projects -----------------------------------------------------------------------


@pytest.fixture
def scoped(acme, client_for):
    role = Role.objects.create(
        organization=acme.organization,
        name="Project 1 team",
        levels={"projects": "view", "certificates": "view"},
        all_projects=False,
    )
    role.projects.set([acme.projects[0]])
    user = User.objects.create_user("scoped@acme.test", PASSWORD, name="Scoped")
    Membership.objects.create(user=user, organization=acme.organization, role=role)
    return client_for(user)


def test_a_scoped_member_sees_only_their_project_in_the_list(acme, scoped):
    response = scoped.get(reverse("projects:list"))
    assert listed(response) == ["Acme project 1"]
    assert ">1 Active</a>" in html(response)
    assert acme.projects[1].app_id not in html(response)


def test_a_scoped_member_gets_404_for_other_projects(acme, scoped):
    other = acme.projects[1]
    assert scoped.get(detail_url(other)).status_code == 404
    assert scoped.post(reveal_url(other)).status_code == 404
    assert not AuditEntry.objects.filter(action="certificate.revealed").exists()


def test_a_scoped_member_can_reveal_in_their_project_but_not_operate(acme, scoped):
    project = acme.projects[0]
    page = html(scoped.get(detail_url(project)))
    assert ">Reveal</button>" in page
    assert "/certificates/reset_primary/" not in page

    response = scoped.post(reveal_url(project))

    assert project.primary.value in html(response)
    assert AuditEntry.objects.get(action="certificate.revealed").actor.email == "scoped@acme.test"
    assert scoped.get(operation_url(project, "reset_primary")).status_code == 403


# Editing ---------------------------------------------------------------------------------------------------


def test_the_edit_page_shows_the_current_settings(acme, engineer_client):
    project = acme.projects[0]
    response = engineer_client.get(reverse("projects:edit", args=[project.project_id]))
    assert response.status_code == 200
    assert f'value="{project.name}"' in html(response)
    assert 'name="stage"' in html(response)
    assert 'name="mechanism"' not in html(response)  # certificates change the mechanism, not this form


def test_editing_saves_and_audits(acme, engineer_client):
    project = acme.projects[0]

    response = engineer_client.post(
        reverse("projects:edit", args=[project.project_id]),
        {"name": "Renamed", "use_case": "gaming", "region": "japan", "stage": "live"},
    )

    assert response.status_code == 302 and response["Location"] == detail_url(project)
    stored = Project.objects.get(pk=project.pk)
    assert (stored.name, stored.use_case, stored.region, stored.stage) == ("Renamed", "gaming", "japan", "live")
    entry = AuditEntry.objects.filter(action="project.updated").latest("id")
    assert entry.actor == acme.users["engineer"]
    assert entry.details["name"] == {"old": "Acme project 1", "new": "Renamed"}


def test_editing_onto_a_taken_name_is_a_form_error(acme, engineer_client):
    project = acme.projects[0]

    response = engineer_client.post(
        reverse("projects:edit", args=[project.project_id]),
        {"name": "ACME project 2", "use_case": "other", "region": "global", "stage": "live"},
    )

    assert response.status_code == 200
    assert "exists already in this organization" in html(response)
    stored = Project.objects.get(pk=project.pk)
    assert (stored.name, stored.stage) == ("Acme project 1", "not_specified")


def test_an_invalid_edit_is_a_field_error(acme, engineer_client):
    project = acme.projects[0]
    response = engineer_client.post(
        reverse("projects:edit", args=[project.project_id]),
        {"name": "", "use_case": "other", "region": "global", "stage": "later"},
    )
    assert response.status_code == 200
    assert '<p class="error" id="id_name_error">This field is required.</p>' in html(response)
    assert 'id="id_stage_error"' in html(response)
    assert Project.objects.get(pk=project.pk).name == "Acme project 1"


def test_viewers_cannot_edit(acme, client_for):
    project = acme.projects[0]
    client = client_for(acme.users["product_operation"])
    url = reverse("projects:edit", args=[project.project_id])
    assert client.get(url).status_code == 403
    data = {"name": "Hijacked", "use_case": "other", "region": "global", "stage": "live"}
    assert client.post(url, data).status_code == 403
    assert Project.objects.get(pk=project.pk).name == "Acme project 1"


# Enable, disable, archive --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "title", "button"),
    [
        ("disable", "Disable Acme project 1?", "Disable project"),
        ("archive", "Archive Acme project 1?", "Archive project"),
    ],
)
def test_a_status_change_asks_first(acme, engineer_client, action, title, button):
    project = acme.projects[0]

    response = engineer_client.get(reverse("projects:action", args=[project.project_id, action]))

    assert response.status_code == 200
    assert f"<h1>{title}</h1>" in html(response)
    assert button in html(response)
    stored = Project.objects.get(pk=project.pk)
    assert stored.enabled and not stored.is_archived  # a GET changes nothing


def test_disable_then_enable_through_the_pages(acme, engineer_client):
    project = acme.projects[0]

    response = engineer_client.post(reverse("projects:action", args=[project.project_id, "disable"]))
    assert response.status_code == 302 and response["Location"] == detail_url(project)
    assert not Project.objects.get(pk=project.pk).enabled
    assert "Acme project 1 is disabled." in messages_of(response)
    page = html(engineer_client.get(detail_url(project)))
    assert "This project is disabled" in page

    assert "Enable project" in html(
        engineer_client.get(reverse("projects:action", args=[project.project_id, "enable"]))
    )
    engineer_client.post(reverse("projects:action", args=[project.project_id, "enable"]))
    assert Project.objects.get(pk=project.pk).enabled
    actions = AuditEntry.objects.filter(action__in=("project.disabled", "project.enabled")).order_by("id")
    assert [e.action for e in actions] == ["project.disabled", "project.enabled"]
    assert all(e.actor == acme.users["engineer"] for e in actions)


def test_archive_then_restore_through_the_pages(acme, engineer_client):
    project = acme.projects[0]

    engineer_client.post(reverse("projects:action", args=[project.project_id, "archive"]))
    assert Project.objects.get(pk=project.pk).is_archived
    assert listed(engineer_client.get(reverse("projects:list"), {"tab": "archived"})) == ["Acme project 1"]
    assert "This project is archived" in html(engineer_client.get(detail_url(project)))

    engineer_client.post(reverse("projects:action", args=[project.project_id, "unarchive"]))
    assert not Project.objects.get(pk=project.pk).is_archived


def test_restoring_over_the_limit_shows_the_reason(acme, engineer_client, settings):
    settings.PROJECT_LIMIT = 2
    project = acme.projects[0]
    engineer_client.post(reverse("projects:action", args=[project.project_id, "archive"]))
    services.create_project(acme.membership("admin"), name="Replacement")

    response = engineer_client.post(reverse("projects:action", args=[project.project_id, "unarchive"]))

    assert response.status_code == 302
    assert any("limit of 2 active projects" in m for m in messages_of(response))
    assert Project.objects.get(pk=project.pk).is_archived


def test_an_unknown_status_action_is_not_found(acme, engineer_client):
    project = acme.projects[0]
    assert engineer_client.post(f"/projects/{project.project_id}/explode/").status_code == 404


def test_viewers_cannot_change_the_status(acme, client_for):
    project = acme.projects[0]
    client = client_for(acme.users["cs_maintenance"])
    for action in ("disable", "archive"):
        assert client.post(reverse("projects:action", args=[project.project_id, action])).status_code == 403
    stored = Project.objects.get(pk=project.pk)
    assert stored.enabled and not stored.is_archived

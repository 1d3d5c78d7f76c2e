"""Projects as use cases: creation, names, the per-organization limit, settings, status and the token check."""

import re

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEntry, Role
from console.refusals import RuleViolation
from projects import services
from projects.models import Certificate, Project

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def actions_of(organization) -> list[str]:
    return list(AuditEntry.objects.filter(organization=organization).order_by("id").values_list("action", flat=True))


def last_entry(organization, action: str) -> AuditEntry:
    return AuditEntry.objects.filter(organization=organization, action=action).latest("id")


@pytest.fixture
def admin(acme):
    return acme.membership("admin")


# Creating ----------------------------------------------------------------------------------------


def test_a_secured_project_gets_one_enabled_primary_certificate_of_32_lowercase_hex(acme, admin):
    project = services.create_project(admin, name="Video app")

    project = Project.objects.get(pk=project.pk)
    assert project.mechanism == Project.Mechanism.SECURED
    certificates = list(project.certificates.all())
    assert [c.slot for c in certificates] == [Certificate.Slot.PRIMARY]
    primary = certificates[0]
    assert primary.enabled
    assert HEX32.match(primary.value), primary.value
    assert primary.retired_at is None
    assert project.certificates_version == 0


def test_an_app_id_only_project_gets_no_certificate(acme, admin):
    project = services.create_project(admin, name="Quick test", mechanism=Project.Mechanism.APP_ID)

    assert Project.objects.get(pk=project.pk).mechanism == Project.Mechanism.APP_ID
    assert not Certificate.objects.filter(project=project).exists()
    assert project.primary is None and project.secondary is None


def test_create_stores_every_given_setting_and_writes_an_audit_entry(acme, admin):
    project = services.create_project(
        admin,
        name="Classroom",
        use_case=Project.UseCase.EDUCATION,
        region=Project.Region.EUROPE,
        stage=Project.Stage.TESTING,
    )

    project = Project.objects.get(pk=project.pk)
    assert (project.name, project.use_case, project.region, project.stage) == (
        "Classroom",
        "education",
        "europe",
        "testing",
    )
    assert project.organization == acme.organization
    assert project.enabled and not project.is_archived
    entry = last_entry(acme.organization, "project.created")
    assert entry.target == "Classroom"
    assert entry.details["project_id"] == project.project_id
    assert entry.details["mechanism"] == "secured"


def test_app_ids_are_32_lowercase_hex_and_unique(acme, admin, settings):
    settings.PROJECT_LIMIT = 50
    created = [services.create_project(admin, name=f"App {n}") for n in range(12)]
    app_ids = [p.app_id for p in created] + [p.app_id for p in acme.projects]

    assert all(HEX32.match(app_id) for app_id in app_ids), app_ids
    assert len(set(app_ids)) == len(app_ids)


def test_the_database_refuses_a_duplicate_app_id(acme):
    taken = acme.projects[0].app_id
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(organization=acme.organization, name="Copycat", app_id=taken)


def test_project_ids_are_short_opaque_and_unique(acme, admin, settings):
    settings.PROJECT_LIMIT = 50
    created = [services.create_project(admin, name=f"App {n}") for n in range(12)]
    project_ids = [p.project_id for p in created] + [p.project_id for p in acme.projects]

    for project_id in project_ids:
        assert re.fullmatch(r"[A-Za-z0-9]{6,16}", project_id), project_id
    assert len(set(project_ids)) == len(project_ids)
    # Opaque: it is neither the App ID nor derived from the database id or the name.
    for project in created:
        assert project.project_id != project.app_id
        assert project.project_id != str(project.pk)
        assert project.app_id[:9] != project.project_id


def test_the_database_refuses_a_duplicate_project_id(acme):
    taken = acme.projects[0].project_id
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(organization=acme.organization, name="Copycat", project_id=taken)


def test_a_scope_limited_creator_keeps_seeing_the_new_project(acme):
    scoped = Role.objects.create(
        organization=acme.organization,
        name="Squad",
        levels={"projects": "edit"},
        all_projects=False,
    )
    member = acme.membership("engineer")
    member.role = scoped
    member.save()

    project = services.create_project(member, name="Squad project")

    assert list(scoped.projects.all()) == [project]


# Names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Acme project 1", "ACME PROJECT 1", "acme Project 1"])
def test_a_name_is_unique_in_the_organization_ignoring_case(acme, admin, name):
    before = Project.objects.count()
    audited = actions_of(acme.organization).count("project.created")

    with pytest.raises(RuleViolation, match="exists already"):
        services.create_project(admin, name=name)

    assert Project.objects.count() == before
    assert actions_of(acme.organization).count("project.created") == audited


def test_the_same_name_is_fine_in_another_organization(acme, globex):
    project = services.create_project(globex.membership("admin"), name="Acme project 1")

    assert project.organization == globex.organization
    assert Project.objects.filter(name="Acme project 1").count() == 2


def test_renaming_onto_another_project_name_is_refused_ignoring_case(acme, admin):
    first, second = acme.projects

    with pytest.raises(RuleViolation, match="exists already"):
        services.update_project(
            admin, second, name=first.name.upper(), use_case="other", region="global", stage="not_specified"
        )

    assert Project.objects.get(pk=second.pk).name == second.name


def test_a_project_may_change_the_case_of_its_own_name(acme, admin):
    project = acme.projects[0]
    services.update_project(
        admin, project, name=project.name.upper(), use_case="other", region="global", stage="not_specified"
    )
    assert Project.objects.get(pk=project.pk).name == project.name.upper()


# The project limit ---------------------------------------------------------------------------------


def test_the_project_limit_counts_active_projects(acme, admin, settings):
    settings.PROJECT_LIMIT = 3
    services.create_project(admin, name="Third")

    with pytest.raises(RuleViolation, match="limit of 3 active projects"):
        services.create_project(admin, name="Fourth")

    assert Project.objects.filter(organization=acme.organization).count() == 3
    assert not Project.objects.filter(name="Fourth").exists()


def test_the_limit_is_per_organization(acme, globex, settings):
    settings.PROJECT_LIMIT = 2
    with pytest.raises(RuleViolation):
        services.create_project(acme.membership("admin"), name="One too many")
    # Globex has two projects too, but Acme's projects do not count against it, nor the reverse.
    services.set_archived(globex.membership("admin"), globex.projects[0], True)
    assert services.create_project(globex.membership("admin"), name="Fits").organization == globex.organization


def test_archiving_frees_a_slot(acme, admin, settings):
    settings.PROJECT_LIMIT = 2
    with pytest.raises(RuleViolation):
        services.create_project(admin, name="Third")

    services.set_archived(admin, acme.projects[0], True)
    project = services.create_project(admin, name="Third")

    assert project.pk is not None
    assert Project.objects.filter(organization=acme.organization).active().count() == 2


def test_unarchiving_over_the_limit_is_refused(acme, admin, settings):
    settings.PROJECT_LIMIT = 2
    archived = services.set_archived(admin, acme.projects[0], True)
    services.create_project(admin, name="Replacement")

    with pytest.raises(RuleViolation, match="limit"):
        services.set_archived(admin, archived, False)

    assert Project.objects.get(pk=archived.pk).is_archived
    assert actions_of(acme.organization).count("project.unarchived") == 0


def test_unarchiving_within_the_limit_works(acme, admin, settings):
    settings.PROJECT_LIMIT = 2
    archived = services.set_archived(admin, acme.projects[0], True)

    services.set_archived(admin, archived, False)

    assert not Project.objects.get(pk=archived.pk).is_archived
    assert last_entry(acme.organization, "project.unarchived").target == archived.name


# Settings, status and archive ---------------------------------------------------------------------


def test_update_changes_the_settings_and_audits_old_and_new_values(acme, admin):
    project = acme.projects[0]
    before = Project.objects.get(pk=project.pk).updated_at

    services.update_project(
        admin,
        project,
        name="Renamed",
        use_case=Project.UseCase.GAMING,
        region=project.region,
        stage=Project.Stage.LIVE,
    )

    project = Project.objects.get(pk=project.pk)
    assert (project.name, project.use_case, project.stage) == ("Renamed", "gaming", "live")
    assert project.updated_at > before
    entry = last_entry(acme.organization, "project.updated")
    assert entry.target == "Renamed"
    assert entry.details["name"] == {"old": "Acme project 1", "new": "Renamed"}
    assert entry.details["use_case"] == {"old": "other", "new": "gaming"}
    assert entry.details["stage"] == {"old": "not_specified", "new": "live"}
    assert "region" not in entry.details


def test_an_update_that_changes_nothing_writes_no_audit_entry(acme, admin):
    project = acme.projects[0]
    services.update_project(
        admin, project, name=project.name, use_case=project.use_case, region=project.region, stage=project.stage
    )
    assert "project.updated" not in actions_of(acme.organization)


def test_disable_and_enable_with_audit_entries(acme, admin):
    project = acme.projects[0]

    services.set_enabled(admin, project, False)
    assert not Project.objects.get(pk=project.pk).enabled
    services.set_enabled(admin, project, False)  # already disabled: nothing to record
    services.set_enabled(admin, project, True)
    assert Project.objects.get(pk=project.pk).enabled

    relevant = [a for a in actions_of(acme.organization) if a in ("project.enabled", "project.disabled")]
    assert relevant == ["project.disabled", "project.enabled"]
    assert last_entry(acme.organization, "project.disabled").target == project.name


def test_archive_and_unarchive_with_audit_entries(acme, admin):
    project = acme.projects[0]

    services.set_archived(admin, project, True)
    stored = Project.objects.get(pk=project.pk)
    assert stored.is_archived and stored.archived_at <= timezone.now()
    assert stored not in Project.objects.active() and stored in Project.objects.archived()
    services.set_archived(admin, project, True)  # already archived: nothing to record
    services.set_archived(admin, project, False)
    assert not Project.objects.get(pk=project.pk).is_archived

    relevant = [a for a in actions_of(acme.organization) if a in ("project.archived", "project.unarchived")]
    assert relevant == ["project.archived", "project.unarchived"]


def test_project_changes_leave_the_certificates_alone(acme, admin):
    project = acme.projects[0]
    value = project.primary.value
    services.set_enabled(admin, project, False)
    services.set_archived(admin, project, True)
    stored = Project.objects.get(pk=project.pk)
    assert stored.certificates_version == 0
    assert stored.primary.value == value and stored.primary.enabled


# The token check -----------------------------------------------------------------------------------


def fresh(project) -> Project:
    return Project.objects.select_related("organization").get(pk=project.pk)


def test_a_normal_secured_project_can_issue_tokens(acme):
    services.check_can_issue_tokens(fresh(acme.projects[0]))


def test_a_disabled_project_cannot_issue_tokens(acme, admin):
    services.set_enabled(admin, acme.projects[0], False)
    with pytest.raises(RuleViolation, match="disabled"):
        services.check_can_issue_tokens(fresh(acme.projects[0]))


def test_an_archived_project_cannot_issue_tokens(acme, admin):
    services.set_archived(admin, acme.projects[0], True)
    with pytest.raises(RuleViolation, match="archived"):
        services.check_can_issue_tokens(fresh(acme.projects[0]))


def test_a_suspended_organization_cannot_issue_tokens(acme):
    acme.organization.suspended_at = timezone.now()
    acme.organization.save()
    with pytest.raises(RuleViolation, match="suspended"):
        services.check_can_issue_tokens(fresh(acme.projects[0]))


def test_a_project_without_a_primary_certificate_cannot_issue_tokens(acme, admin):
    project = services.create_project(admin, name="Open", mechanism=Project.Mechanism.APP_ID)
    with pytest.raises(RuleViolation, match="primary certificate"):
        services.check_can_issue_tokens(fresh(project))


def test_a_disabled_primary_certificate_cannot_sign_tokens(acme):
    project = acme.projects[0]
    Certificate.objects.filter(project=project, slot="primary").update(enabled=False)
    with pytest.raises(RuleViolation, match="primary certificate"):
        services.check_can_issue_tokens(fresh(project))


def test_an_app_id_only_project_with_an_enabled_primary_can_issue_tokens(acme, admin):
    project = services.create_project(admin, name="Moving to tokens", mechanism=Project.Mechanism.APP_ID)
    services.enable_primary(admin, project)
    services.check_can_issue_tokens(fresh(project))

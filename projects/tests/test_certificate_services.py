"""App Certificate operations in projects.services: each operation, each invariant, audit and admin mails."""

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEntry, Membership
from console.refusals import RuleViolation
from projects import services
from projects.models import Certificate, Project, fingerprint

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def fresh(project) -> Project:
    return Project.objects.prefetch_related("certificates").get(pk=project.pk)


def slots(project) -> dict[str, dict]:
    """What the database holds now: slot -> value, enabled, retired_at, fingerprint."""
    return {
        c.slot: {"value": c.value, "enabled": c.enabled, "retired": c.retired_at, "fingerprint": c.fingerprint}
        for c in Certificate.objects.filter(project=project)
    }


def audit_actions(organization) -> list[str]:
    return list(AuditEntry.objects.filter(organization=organization).order_by("id").values_list("action", flat=True))


@pytest.fixture
def engineer(acme):
    return acme.membership("engineer")


@pytest.fixture
def project(acme):
    """A Secured project with an enabled primary and no secondary."""
    return acme.projects[0]


@pytest.fixture
def open_project(acme):
    """An App-ID-only project: no certificate at all."""
    return services.create_project(acme.membership("admin"), name="Open project", mechanism=Project.Mechanism.APP_ID)


def with_secondary(engineer, project, *, enabled=True) -> Project:
    services.enable_secondary(engineer, project)
    if not enabled:
        services.disable_secondary(engineer, project)
    return fresh(project)


# enable_primary -------------------------------------------------------------------------------------


def test_enable_primary_gives_an_app_id_only_project_a_certificate(acme, engineer, open_project):
    certificate = services.enable_primary(engineer, open_project)

    state = slots(open_project)
    assert list(state) == ["primary"]
    assert state["primary"]["enabled"]
    assert HEX32.match(state["primary"]["value"])
    assert certificate.value == state["primary"]["value"]
    assert state["primary"]["fingerprint"] == fingerprint(state["primary"]["value"])
    stored = fresh(open_project)
    # Secured-capable, but clients without a token may still join until tokens are required.
    assert stored.mechanism == Project.Mechanism.APP_ID
    assert stored.certificates_version == 1


def test_enable_primary_is_refused_when_it_is_enabled_already(engineer, project):
    value = slots(project)["primary"]["value"]
    with pytest.raises(RuleViolation, match="enabled already"):
        services.enable_primary(engineer, project)
    assert slots(project)["primary"]["value"] == value
    assert fresh(project).certificates_version == 0


def test_enable_primary_turns_a_disabled_primary_back_on_with_its_value(engineer, project):
    value = slots(project)["primary"]["value"]
    Certificate.objects.filter(project=project, slot="primary").update(enabled=False)

    services.enable_primary(engineer, project)

    state = slots(project)["primary"]
    assert state["enabled"] and state["value"] == value


# enable_secondary ------------------------------------------------------------------------------------


def test_enable_secondary_adds_a_new_enabled_certificate_next_to_the_primary(engineer, project):
    primary_before = slots(project)["primary"]

    secondary = services.enable_secondary(engineer, project)

    state = slots(project)
    assert state["primary"] == primary_before
    assert state["secondary"]["enabled"]
    assert HEX32.match(state["secondary"]["value"])
    assert state["secondary"]["value"] != state["primary"]["value"]
    assert state["secondary"]["retired"] is None
    assert secondary.slot == Certificate.Slot.SECONDARY


def test_enable_secondary_requires_a_primary(engineer, open_project):
    with pytest.raises(RuleViolation, match="primary"):
        services.enable_secondary(engineer, open_project)
    assert slots(open_project) == {}


def test_enable_secondary_requires_an_enabled_primary(engineer, project):
    Certificate.objects.filter(project=project, slot="primary").update(enabled=False)
    with pytest.raises(RuleViolation, match="primary"):
        services.enable_secondary(engineer, project)
    assert "secondary" not in slots(project)


def test_enable_secondary_is_refused_when_it_is_enabled_already(engineer, project):
    with_secondary(engineer, project)
    before = slots(project)

    with pytest.raises(RuleViolation, match="enabled already"):
        services.enable_secondary(engineer, project)

    assert slots(project) == before
    assert fresh(project).certificates_version == 1


def test_enable_secondary_re_enables_a_disabled_one_keeping_its_value(engineer, project):
    with_secondary(engineer, project, enabled=False)
    value = slots(project)["secondary"]["value"]
    assert not slots(project)["secondary"]["enabled"]

    services.enable_secondary(engineer, project)

    assert slots(project)["secondary"]["enabled"]
    assert slots(project)["secondary"]["value"] == value
    assert Certificate.objects.filter(project=project).count() == 2


# swap ---------------------------------------------------------------------------------------------------


def test_swap_exchanges_the_values_exactly(engineer, project):
    with_secondary(engineer, project)
    before = slots(project)

    services.swap_certificates(engineer, project)

    after = slots(project)
    assert after["primary"]["value"] == before["secondary"]["value"]
    assert after["secondary"]["value"] == before["primary"]["value"]
    assert after["primary"]["fingerprint"] == before["secondary"]["fingerprint"]
    assert after["secondary"]["fingerprint"] == before["primary"]["fingerprint"]
    assert after["primary"]["enabled"] and after["secondary"]["enabled"]
    assert after["primary"]["retired"] is None
    assert after["secondary"]["retired"] is not None
    assert abs(after["secondary"]["retired"] - timezone.now()) < timedelta(minutes=1)
    stored = fresh(project)
    assert stored.last_rotation_at == after["secondary"]["retired"]
    assert Certificate.objects.filter(project=project).count() == 2


def test_swapping_twice_puts_every_value_back(engineer, project):
    with_secondary(engineer, project)
    before = slots(project)
    services.swap_certificates(engineer, project)
    services.swap_certificates(engineer, project)
    after = slots(project)
    assert {slot: s["value"] for slot, s in after.items()} == {slot: s["value"] for slot, s in before.items()}


def test_swap_needs_a_secondary(engineer, project):
    with pytest.raises(RuleViolation, match="secondary"):
        services.swap_certificates(engineer, project)
    assert list(slots(project)) == ["primary"]
    assert fresh(project).certificates_version == 0


def test_swap_needs_an_enabled_secondary(engineer, project):
    with_secondary(engineer, project, enabled=False)
    before = slots(project)

    with pytest.raises(RuleViolation, match="disabled"):
        services.swap_certificates(engineer, project)

    assert slots(project) == before
    assert fresh(project).last_rotation_at is None


# disable, delete ----------------------------------------------------------------------------------------


def test_disable_secondary_keeps_it_but_disabled(engineer, project):
    with_secondary(engineer, project)
    value = slots(project)["secondary"]["value"]

    services.disable_secondary(engineer, project)

    state = slots(project)
    assert state["secondary"]["value"] == value and not state["secondary"]["enabled"]
    assert state["primary"]["enabled"]


def test_disable_secondary_needs_an_enabled_secondary(engineer, project):
    with pytest.raises(RuleViolation, match="no secondary"):
        services.disable_secondary(engineer, project)
    with_secondary(engineer, project, enabled=False)
    with pytest.raises(RuleViolation, match="disabled already"):
        services.disable_secondary(engineer, project)


def test_only_a_disabled_secondary_can_be_deleted(engineer, project):
    with_secondary(engineer, project)
    with pytest.raises(RuleViolation, match="disable it first"):
        services.delete_secondary(engineer, project)
    assert slots(project)["secondary"]["enabled"]

    services.disable_secondary(engineer, project)
    services.delete_secondary(engineer, project)

    assert list(slots(project)) == ["primary"]


def test_delete_needs_a_secondary(engineer, project):
    with pytest.raises(RuleViolation, match="no secondary"):
        services.delete_secondary(engineer, project)


def test_the_old_primary_can_be_retired_after_a_swap(engineer, project):
    with_secondary(engineer, project)
    new_value = slots(project)["secondary"]["value"]
    services.swap_certificates(engineer, project)
    services.disable_secondary(engineer, project)
    services.delete_secondary(engineer, project)

    state = slots(project)
    assert list(state) == ["primary"]
    assert state["primary"]["value"] == new_value and state["primary"]["enabled"]


# reset_primary ------------------------------------------------------------------------------------------


def test_reset_primary_gives_a_new_value_and_the_old_one_is_gone(engineer, project):
    old = slots(project)["primary"]["value"]

    certificate = services.reset_primary(engineer, project)

    state = slots(project)
    assert HEX32.match(state["primary"]["value"])
    assert state["primary"]["value"] != old
    assert certificate.value == state["primary"]["value"]
    assert state["primary"]["enabled"]
    assert old not in [s["value"] for s in state.values()]
    entry = AuditEntry.objects.filter(action="certificate.primary_reset").latest("id")
    assert entry.details == {"old_fingerprint": fingerprint(old), "new_fingerprint": fingerprint(certificate.value)}


def test_reset_primary_enables_a_disabled_primary(engineer, project):
    Certificate.objects.filter(project=project, slot="primary").update(enabled=False)
    services.reset_primary(engineer, project)
    assert slots(project)["primary"]["enabled"]


def test_reset_primary_creates_one_when_there_is_none(engineer, open_project):
    services.reset_primary(engineer, open_project)
    state = slots(open_project)
    assert list(state) == ["primary"] and state["primary"]["enabled"]


def test_reset_primary_leaves_the_secondary_alone(engineer, project):
    with_secondary(engineer, project)
    secondary = slots(project)["secondary"]
    services.reset_primary(engineer, project)
    assert slots(project)["secondary"] == secondary


# require_tokens -----------------------------------------------------------------------------------------


def test_require_tokens_makes_the_project_secured(engineer, open_project):
    services.enable_primary(engineer, open_project)

    services.require_tokens(engineer, open_project)

    assert fresh(open_project).mechanism == Project.Mechanism.SECURED
    assert not fresh(open_project).accepts_app_id_only


def test_require_tokens_needs_an_enabled_primary(engineer, open_project):
    with pytest.raises(RuleViolation, match="primary"):
        services.require_tokens(engineer, open_project)
    assert fresh(open_project).mechanism == Project.Mechanism.APP_ID


def test_require_tokens_is_refused_when_tokens_are_required_already(engineer, project):
    with pytest.raises(RuleViolation, match="already requires tokens"):
        services.require_tokens(engineer, project)


# Stale pages and the version ------------------------------------------------------------------------------

OPERATIONS = {
    "enable_secondary": services.enable_secondary,
    "swap": services.swap_certificates,
    "disable_secondary": services.disable_secondary,
    "delete_secondary": services.delete_secondary,
    "reset_primary": services.reset_primary,
}


def ready_for(operation, engineer, project):
    """Bring the project into a state where `operation` would succeed."""
    if operation in ("swap", "disable_secondary"):
        with_secondary(engineer, project)
    elif operation == "delete_secondary":
        with_secondary(engineer, project, enabled=False)


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_an_operation_from_a_stale_page_is_refused_and_changes_nothing(acme, engineer, project, operation):
    ready_for(operation, engineer, project)
    seen = fresh(project).certificates_version
    # Someone else acts meanwhile (a reset keeps the operation possible, but moves the version on).
    services.reset_primary(acme.membership("admin"), project)
    before, version = slots(project), fresh(project).certificates_version
    audited = len(audit_actions(acme.organization))

    with pytest.raises(RuleViolation, match="Someone changed this project's certificates"):
        OPERATIONS[operation](engineer, project, expected_version=seen)

    assert slots(project) == before
    assert fresh(project).certificates_version == version
    assert len(audit_actions(acme.organization)) == audited


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_an_operation_with_the_current_version_goes_through(engineer, project, operation):
    ready_for(operation, engineer, project)
    version = fresh(project).certificates_version
    OPERATIONS[operation](engineer, project, expected_version=version)
    assert fresh(project).certificates_version == version + 1


def test_the_version_counts_every_operation(engineer, open_project):
    steps = [
        services.enable_primary,
        services.enable_secondary,
        services.swap_certificates,
        services.disable_secondary,
        services.enable_secondary,
        services.disable_secondary,
        services.delete_secondary,
        services.reset_primary,
        services.require_tokens,
    ]
    for number, step in enumerate(steps, start=1):
        step(engineer, open_project, expected_version=number - 1)
        assert fresh(open_project).certificates_version == number, step.__name__


def test_a_refused_operation_does_not_move_the_version(engineer, project):
    with pytest.raises(RuleViolation):
        services.swap_certificates(engineer, project)
    with pytest.raises(RuleViolation):
        services.delete_secondary(engineer, project)
    assert fresh(project).certificates_version == 0


def test_revealing_does_not_move_the_version(engineer, project):
    services.reveal_certificate(engineer, fresh(project), "primary")
    assert fresh(project).certificates_version == 0


# Slots ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slot", ["primary", "secondary"])
def test_the_database_holds_at_most_one_certificate_per_slot(engineer, project, slot):
    if slot == "secondary":
        with_secondary(engineer, project)
    with pytest.raises(IntegrityError), transaction.atomic():
        Certificate.objects.create(project=project, slot=slot, value="0" * 32, fingerprint="x")
    assert Certificate.objects.filter(project=project, slot=slot).count() == 1


def test_a_full_rotation_never_holds_more_than_two_certificates(engineer, project):
    for step in (
        services.enable_secondary,
        services.swap_certificates,
        services.disable_secondary,
        services.delete_secondary,
        services.enable_secondary,
        services.swap_certificates,
    ):
        step(engineer, project)
        state = slots(project)
        assert set(state) <= {"primary", "secondary"}
        assert state["primary"]["enabled"]
        assert Certificate.objects.filter(project=project).count() == len(state)


# Audit and mail ------------------------------------------------------------------------------------------

# operation -> (setup, call, audit action, mails the admins)
CASES = {
    "enable_primary": ("open", services.enable_primary, "certificate.primary_enabled", False),
    "enable_secondary": ("secured", services.enable_secondary, "certificate.secondary_enabled", False),
    "swap": ("secondary", services.swap_certificates, "certificate.swapped", True),
    "disable_secondary": ("secondary", services.disable_secondary, "certificate.secondary_disabled", True),
    "delete_secondary": ("disabled_secondary", services.delete_secondary, "certificate.secondary_deleted", True),
    "reset_primary": ("secured", services.reset_primary, "certificate.primary_reset", True),
    "require_tokens": ("open_with_primary", services.require_tokens, "project.token_only", True),
}


def prepared(setup, acme, engineer) -> Project:
    if setup.startswith("open"):
        project = services.create_project(acme.membership("admin"), name="Open", mechanism=Project.Mechanism.APP_ID)
        if setup == "open_with_primary":
            services.enable_primary(engineer, project)
        return fresh(project)
    project = acme.projects[0]
    if setup == "secondary":
        with_secondary(engineer, project)
    elif setup == "disabled_secondary":
        with_secondary(engineer, project, enabled=False)
    return fresh(project)


@pytest.mark.parametrize("operation", list(CASES))
def test_each_operation_writes_its_audit_action(acme, engineer, operation):
    setup, call, action, _ = CASES[operation]
    project = prepared(setup, acme, engineer)
    before = AuditEntry.objects.filter(organization=acme.organization, action=action).count()

    call(engineer, project)

    entries = AuditEntry.objects.filter(organization=acme.organization, action=action)
    assert entries.count() == before + 1
    assert entries.latest("id").target == project.name


@pytest.mark.parametrize("operation", list(CASES))
def test_destructive_operations_mail_the_admins_and_others_do_not(
    acme, engineer, operation, django_capture_on_commit_callbacks, mailoutbox
):
    setup, call, action, mails = CASES[operation]
    project = prepared(setup, acme, engineer)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        call(engineer, project)

    if not mails:
        assert mailoutbox == []
        return
    assert [m.to for m in mailoutbox] == [["admin@acme.test"]]
    message = mailoutbox[0]
    assert project.name in message.subject and "[Acme]" in message.subject
    assert project.app_id in message.body
    for certificate in Certificate.objects.filter(project=project):
        assert certificate.value not in message.body  # a mail never carries a secret


def test_every_admin_gets_the_mail_and_nobody_else(
    acme, globex, engineer, django_capture_on_commit_callbacks, mailoutbox
):
    second_admin = acme.membership("finance")
    second_admin.role = acme.roles["admin"]
    second_admin.save()
    project = acme.projects[0]

    with django_capture_on_commit_callbacks(execute=True):
        services.reset_primary(engineer, project)

    assert sorted(to for m in mailoutbox for to in m.to) == ["admin@acme.test", "finance@acme.test"]
    assert Membership.objects.filter(organization=acme.organization).count() == 5


def test_a_refused_destructive_operation_mails_nobody(
    engineer, project, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuleViolation):
        services.swap_certificates(engineer, project)
    assert mailoutbox == []


def test_reveal_writes_certificate_revealed_and_returns_the_value(acme, engineer, project):
    value = slots(project)["primary"]["value"]

    revealed = services.reveal_certificate(engineer, fresh(project), "primary")

    assert revealed == value
    entry = AuditEntry.objects.filter(organization=acme.organization, action="certificate.revealed").latest("id")
    assert entry.target == project.name
    assert entry.details == {"slot": "primary", "fingerprint": fingerprint(value)}
    assert value not in str(entry.details)


def test_revealing_a_missing_slot_is_refused_without_an_audit_entry(acme, engineer, project):
    with pytest.raises(RuleViolation, match="no secondary"):
        services.reveal_certificate(engineer, fresh(project), "secondary")
    assert not AuditEntry.objects.filter(action="certificate.revealed").exists()


def test_audit_entries_name_fingerprints_never_values(acme, engineer, project):
    values = set()
    for step in (
        services.enable_secondary,
        services.swap_certificates,
        services.disable_secondary,
        services.delete_secondary,
        services.reset_primary,
    ):
        values |= {c.value for c in Certificate.objects.all()}
        step(engineer, project)
    values |= {c.value for c in Certificate.objects.all()}
    assert len(values) >= 4
    for entry in AuditEntry.objects.filter(organization=acme.organization):
        dumped = f"{entry.target} {entry.details}"
        assert not any(value in dumped for value in values), entry.action


OPERATIONS = {
    "enable_primary": services.enable_primary,
    "reset_primary": services.reset_primary,
    "require_tokens": services.require_tokens,
    "enable_secondary": services.enable_secondary,
    "swap": services.swap_certificates,
    "disable_secondary": services.disable_secondary,
    "delete_secondary": services.delete_secondary,
}


def _states(acme):
    """A project in each certificate state the pages show, named."""
    engineer = acme.membership("engineer")
    yield "secured", acme.projects[0]
    services.enable_secondary(engineer, acme.projects[1])
    yield "with an enabled secondary", acme.projects[1]
    open_project = services.create_project(acme.membership("admin"), name="Open", mechanism=Project.Mechanism.APP_ID)
    yield "App ID only", open_project
    services.disable_secondary(engineer, acme.projects[1])
    yield "with a disabled secondary", acme.projects[1]


def test_every_operation_the_pages_offer_is_one_its_service_accepts(acme):
    engineer = acme.membership("engineer")
    for state, project in _states(acme):
        project = Project.objects.prefetch_related("certificates").get(pk=project.pk)
        offered = services.offered_certificate_operations(project)
        for operation in offered["primary"] + offered["secondary"]:
            with transaction.atomic():
                fresh = Project.objects.get(pk=project.pk)
                try:
                    OPERATIONS[operation](engineer, fresh)
                except RuleViolation as refusal:
                    raise AssertionError(f"{state}: {operation} is offered but refused: {refusal}") from None
                transaction.set_rollback(True)

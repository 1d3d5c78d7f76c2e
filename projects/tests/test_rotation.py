"""Where a project stands in a rotation (projects.rotation.rotation_steps), state by state."""

from datetime import timedelta

import pytest
from django.utils import timezone

from projects import services
from projects.models import Certificate, Project
from projects.rotation import rotation_steps

STEP_TITLES = [
    "Enable a secondary certificate",
    "Deploy it to your token servers",
    "Swap",
    "Disable, then delete the old certificate",
]


def fresh(project) -> Project:
    return Project.objects.prefetch_related("certificates").get(pk=project.pk)


def statuses(steps) -> list[str]:
    return [step.status for step in steps]


def current(steps) -> list[int]:
    return [step.number for step in steps if step.status == "current"]


def offered(steps) -> dict[int, tuple[str, str]]:
    """The operation a page offers: only current steps show their button."""
    return {step.number: (step.action, step.action_label) for step in steps if step.status == "current" and step.action}


@pytest.fixture
def engineer(acme):
    return acme.membership("engineer")


@pytest.fixture
def project(acme):
    return acme.projects[0]


def test_there_are_always_four_steps_in_order(project):
    steps, _ = rotation_steps(fresh(project))
    assert [step.number for step in steps] == [1, 2, 3, 4]
    assert [step.title for step in steps] == STEP_TITLES
    assert steps[1].action is None  # deploying is the customer's job, not a console button


def test_no_primary_certificate(acme, engineer):
    project = services.create_project(acme.membership("admin"), name="Open", mechanism=Project.Mechanism.APP_ID)

    steps, summary = rotation_steps(fresh(project))

    assert statuses(steps) == ["todo"] * 4
    assert offered(steps) == {}
    assert summary.startswith("Rotation needs an enabled primary certificate")


def test_a_disabled_primary_counts_as_no_primary(project):
    Certificate.objects.filter(project=project, slot="primary").update(enabled=False)
    steps, summary = rotation_steps(fresh(project))
    assert statuses(steps) == ["todo"] * 4
    assert "needs an enabled primary" in summary


def test_no_secondary_and_never_rotated(project):
    steps, summary = rotation_steps(fresh(project))

    assert statuses(steps) == ["current", "todo", "todo", "todo"]
    assert offered(steps) == {1: ("enable_secondary", "Enable secondary")}
    assert summary == "No rotation in progress. Start with step 1."


def test_secondary_enabled_means_deploy_then_swap(engineer, project):
    services.enable_secondary(engineer, project)

    steps, summary = rotation_steps(fresh(project))

    assert statuses(steps) == ["done", "current", "current", "todo"]
    assert current(steps) == [2, 3]
    assert offered(steps) == {3: ("swap", "Swap certificates")}
    assert summary == (
        "The secondary certificate is enabled. Deploy it to every server that generates tokens, then swap."
    )


def test_secondary_disabled_before_the_swap_offers_to_re_enable_it(engineer, project):
    services.enable_secondary(engineer, project)
    services.disable_secondary(engineer, project)

    steps, summary = rotation_steps(fresh(project))

    assert statuses(steps) == ["current", "todo", "todo", "todo"]
    assert offered(steps) == {1: ("enable_secondary", "Re-enable secondary")}
    assert summary == "A new secondary certificate exists but is disabled: re-enable it to go on, or delete it."


def test_right_after_the_swap_the_old_certificate_is_still_accepted(engineer, project):
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, project)

    steps, summary = rotation_steps(fresh(project))

    assert statuses(steps) == ["done", "done", "done", "current"]
    assert offered(steps) == {4: ("disable_secondary", "Disable old certificate")}
    assert summary.startswith("Swapped. The old certificate is now the secondary and still accepted.")
    assert "No token the console signed with the old certificate is still valid" in summary
    assert "may have tokens valid for up to 23 h 59 min more (tokens live up to 24 hours)" in summary


def test_after_the_swap_the_remaining_token_lifetime_counts_down(engineer, project):
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, project)
    Certificate.objects.filter(project=project, slot="secondary").update(
        retired_at=timezone.now() - timedelta(hours=20)
    )

    _, summary = rotation_steps(fresh(project))

    assert "may have tokens valid for up to 3 h 59 min more" in summary


def test_a_day_after_the_swap_old_tokens_have_expired(engineer, project):
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, project)
    Certificate.objects.filter(project=project, slot="secondary").update(
        retired_at=timezone.now() - timedelta(hours=25)
    )

    steps, summary = rotation_steps(fresh(project))

    assert current(steps) == [4]
    assert "24 hours have passed since the swap, so a server that switched then has no valid ones left." in summary
    assert "valid for up to" not in summary


def test_old_certificate_disabled_means_delete_it(engineer, project):
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, project)
    services.disable_secondary(engineer, project)

    steps, summary = rotation_steps(fresh(project))

    assert statuses(steps) == ["done", "done", "done", "current"]
    assert offered(steps) == {4: ("delete_secondary", "Delete old certificate")}
    assert summary == "The old certificate is disabled: tokens signed with it are refused. Delete it to finish."


def test_after_the_delete_no_rotation_is_in_progress_and_the_last_swap_is_named(engineer, project):
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, project)
    services.disable_secondary(engineer, project)
    services.delete_secondary(engineer, project)
    swapped_at = fresh(project).last_rotation_at
    assert swapped_at is not None

    steps, summary = rotation_steps(fresh(project))

    assert statuses(steps) == ["current", "todo", "todo", "todo"]
    assert offered(steps) == {1: ("enable_secondary", "Enable secondary")}
    assert summary == (
        f"No rotation in progress. The last swap was on {swapped_at:%Y-%m-%d %H:%M} UTC. "
        "To rotate again, start with step 1."
    )


def test_re_enabling_the_old_certificate_after_the_swap_goes_back_to_step_4(engineer, project):
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, project)
    services.disable_secondary(engineer, project)
    services.enable_secondary(engineer, project)

    steps, summary = rotation_steps(fresh(project))

    assert offered(steps) == {4: ("disable_secondary", "Disable old certificate")}
    assert summary.startswith("Swapped.")


def test_only_one_step_offers_an_operation_in_every_state(engineer, project):
    operations = [
        None,
        services.enable_secondary,
        services.swap_certificates,
        services.disable_secondary,
        services.delete_secondary,
    ]
    for operation in operations:
        if operation:
            operation(engineer, project)
        steps, _ = rotation_steps(fresh(project))
        assert len(offered(steps)) == 1, operation

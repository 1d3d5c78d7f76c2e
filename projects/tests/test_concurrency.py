"""Certificate and project invariants when two people act at the same moment (PostgreSQL row locks)."""

import threading

import pytest

from accounts.models import Membership
from conftest import run_together
from console.refusals import RuleViolation
from projects import services
from projects.models import Certificate, Project


def certificates(project) -> dict[str, tuple[str, bool]]:
    rows = list(Certificate.objects.filter(project=project))
    slots = [c.slot for c in rows]
    assert len(slots) == len(set(slots)), f"two certificates in one slot: {slots}"
    return {c.slot: (c.value, c.enabled) for c in rows}


def assert_invariants(project, known_values: set[str]) -> dict[str, tuple[str, bool]]:
    """At most one primary and one secondary, the primary enabled, no value from nowhere."""
    state = certificates(project)
    assert set(state) <= {"primary", "secondary"}
    assert "primary" in state and state["primary"][1], state
    assert {value for value, _ in state.values()} <= known_values
    return state


def version(project) -> int:
    return Project.objects.get(pk=project.pk).certificates_version


def refused(outcomes) -> list:
    assert all(o is None or isinstance(o, RuleViolation) for o in outcomes), outcomes
    return [o for o in outcomes if o is not None]


@pytest.fixture
def engineers(acme):
    """Two people who manage certificates: the Engineer and the Admin, loaded with their roles."""
    members = Membership.objects.select_related("role", "organization", "user")
    return members.get(pk=acme.membership("engineer").pk), members.get(pk=acme.membership("admin").pk)


@pytest.fixture
def rotating(acme, engineers):
    """A project with an enabled primary and an enabled secondary."""
    project = acme.projects[0]
    services.enable_secondary(engineers[0], project)
    return project


# Swaps ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_swaps_from_the_same_page_apply_once(postgres, engineers, rotating):
    before = certificates(rotating)
    seen = version(rotating)
    first, second = engineers

    outcomes = run_together(
        lambda: services.swap_certificates(first, rotating, expected_version=seen),
        lambda: services.swap_certificates(second, rotating, expected_version=seen),
    )

    failures = refused(outcomes)
    assert len(failures) == 1, outcomes
    assert "Someone changed this project's certificates" in str(failures[0])
    after = assert_invariants(rotating, {value for value, _ in before.values()})
    assert after["primary"][0] == before["secondary"][0]
    assert after["secondary"][0] == before["primary"][0]
    assert after["primary"][1] and after["secondary"][1]
    assert version(rotating) == seen + 1


@pytest.mark.django_db(transaction=True)
def test_two_swaps_on_current_state_apply_one_after_the_other(postgres, engineers, rotating):
    before = certificates(rotating)
    seen = version(rotating)
    first, second = engineers

    outcomes = run_together(
        lambda: services.swap_certificates(first, rotating),
        lambda: services.swap_certificates(second, rotating),
    )

    assert outcomes == [None, None]
    after = assert_invariants(rotating, {value for value, _ in before.values()})
    assert after == before  # swapped twice: every value back in its slot, none lost or copied
    assert version(rotating) == seen + 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("from_page", [False, True])
def test_a_swap_racing_a_delete_of_an_enabled_secondary(postgres, engineers, rotating, from_page):
    before = certificates(rotating)
    seen = version(rotating) if from_page else None
    first, second = engineers

    outcomes = run_together(
        lambda: services.swap_certificates(first, rotating, expected_version=seen),
        lambda: services.delete_secondary(second, rotating, expected_version=seen),
    )

    # The secondary is enabled (before and after the swap), so the delete must never happen.
    swap_outcome, delete_outcome = outcomes
    assert isinstance(delete_outcome, RuleViolation), outcomes
    refused(outcomes)
    after = assert_invariants(rotating, {value for value, _ in before.values()})
    assert set(after) == {"primary", "secondary"}
    if swap_outcome is None:
        assert after["primary"][0] == before["secondary"][0]
        assert after["secondary"] == (before["primary"][0], True)
    else:
        assert after == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("from_page", [False, True])
def test_a_swap_racing_a_delete_of_a_disabled_secondary(postgres, engineers, rotating, from_page):
    services.disable_secondary(engineers[0], rotating)
    before = certificates(rotating)
    seen = version(rotating) if from_page else None
    first, second = engineers

    outcomes = run_together(
        lambda: services.swap_certificates(first, rotating, expected_version=seen),
        lambda: services.delete_secondary(second, rotating, expected_version=seen),
    )

    # A disabled secondary can never become the primary.
    swap_outcome, delete_outcome = outcomes
    assert isinstance(swap_outcome, RuleViolation), outcomes
    refused(outcomes)
    # A refused swap does not move the version, so the delete goes through in either order.
    assert delete_outcome is None, outcomes
    after = assert_invariants(rotating, {value for value, _ in before.values()})
    assert after == {"primary": before["primary"]}


@pytest.mark.django_db(transaction=True)
def test_a_swap_racing_a_disable_leaves_a_consistent_pair(postgres, engineers, rotating):
    before = certificates(rotating)
    first, second = engineers

    outcomes = run_together(
        lambda: services.swap_certificates(first, rotating),
        lambda: services.disable_secondary(second, rotating),
    )

    refused(outcomes)
    after = assert_invariants(rotating, {value for value, _ in before.values()})
    assert set(after) == {"primary", "secondary"}
    swapped, disabled = outcomes[0] is None, outcomes[1] is None
    assert disabled  # disabling an enabled secondary is allowed in either order
    assert not after["secondary"][1]
    if swapped:
        assert {after["primary"][0], after["secondary"][0]} == {before["primary"][0], before["secondary"][0]}


# Enabling the secondary ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("from_page", [False, True])
def test_enabling_the_secondary_twice_at_once_makes_one(postgres, acme, engineers, from_page):
    project = acme.projects[0]
    primary = certificates(project)["primary"]
    seen = version(project) if from_page else None
    first, second = engineers

    outcomes = run_together(
        lambda: services.enable_secondary(first, project, expected_version=seen),
        lambda: services.enable_secondary(second, project, expected_version=seen),
    )

    assert len(refused(outcomes)) == 1, outcomes
    state = certificates(project)
    assert set(state) == {"primary", "secondary"}
    assert state["primary"] == primary
    assert state["secondary"][1]
    assert Certificate.objects.filter(project=project).count() == 2
    assert version(project) == (seen or 0) + 1


@pytest.mark.django_db(transaction=True)
def test_many_operations_at_once_keep_the_invariants(postgres, acme, engineers, rotating):
    known = {value for value, _ in certificates(rotating).values()}
    first, second = engineers
    operations = [
        lambda: services.swap_certificates(first, rotating),
        lambda: services.disable_secondary(second, rotating),
        lambda: services.delete_secondary(first, rotating),
        lambda: services.enable_secondary(second, rotating),
        lambda: services.swap_certificates(second, rotating),
        lambda: services.disable_secondary(first, rotating),
    ]

    for _ in range(3):
        outcomes = run_together(*operations)
        refused(outcomes)
        state = certificates(rotating)
        known |= {value for value, _ in state.values()}  # enable_secondary may have made a new one
        assert_invariants(rotating, known)


# Project limit and names (the organization row serializes these) ------------------------------------------------


def held_at(barrier, function):
    """`function`, then a wait at `barrier`: two callers that both get past `function` meet there.

    When the service serializes the two callers with a lock, the second cannot reach `function` until the
    first commits, the wait times out and the first goes on alone: a correct service passes, slowly.
    """

    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        try:
            barrier.wait(timeout=3)
        except threading.BrokenBarrierError:
            pass
        return result

    return wrapper


@pytest.mark.django_db(transaction=True)
def test_two_creations_at_once_cannot_pass_the_limit(postgres, acme, engineers, settings, monkeypatch):
    settings.PROJECT_LIMIT = 3
    monkeypatch.setattr(services, "_check_project_limit", held_at(threading.Barrier(2), services._check_project_limit))
    first, second = engineers

    outcomes = run_together(
        lambda: services.create_project(first, name="Third A"),
        lambda: services.create_project(second, name="Third B"),
    )

    assert len(refused(outcomes)) == 1, outcomes
    assert Project.objects.filter(organization=acme.organization).active().count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_restore_racing_a_creation_cannot_pass_the_limit(postgres, acme, engineers, settings, monkeypatch):
    settings.PROJECT_LIMIT = 2
    first, second = engineers
    archived = services.set_archived(first, acme.projects[0], True)
    monkeypatch.setattr(services, "_check_project_limit", held_at(threading.Barrier(2), services._check_project_limit))

    outcomes = run_together(
        lambda: services.create_project(first, name="New one"),
        lambda: services.set_archived(second, archived, False),
    )

    refused(outcomes)
    active = Project.objects.filter(organization=acme.organization).active().count()
    assert active <= 2, f"{active} active projects with a limit of 2; outcomes: {outcomes}"


@pytest.mark.django_db(transaction=True)
def test_two_renames_at_once_cannot_make_names_clash(postgres, acme, engineers, monkeypatch):
    monkeypatch.setattr(services, "_check_name_free", held_at(threading.Barrier(2), services._check_name_free))
    first, second = engineers
    one, two = acme.projects

    def rename(actor, project, name):
        return lambda: services.update_project(
            actor, project, name=name, use_case="other", region="global", stage="not_specified"
        )

    outcomes = run_together(rename(first, one, "Flagship"), rename(second, two, "FLAGSHIP"))

    refused(outcomes)
    names = [p.name.lower() for p in Project.objects.filter(organization=acme.organization)]
    assert names.count("flagship") == 1, (names, outcomes)

"""The audit log: append-only everywhere, and a page to filter, search, page through and export it."""

import ast
import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEntry, User
from conftest import PASSWORD
from console.refusals import Immutable


def make_entry(organization, action="role.created", *, when=None, actor_email="", target="", **fields):
    return AuditEntry.objects.create(
        organization=organization,
        action=action,
        created_at=when or timezone.now(),
        actor_email=actor_email,
        target=target,
        **fields,
    )


def at(day: str, clock: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=UTC)


def shown(response) -> list[AuditEntry]:
    """The entries on the current page."""
    return list(response.context["changelist"].page.object_list)


def targets(response) -> set[str]:
    return {entry.target for entry in shown(response)}


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def admin_client(acme, client_for):
    return client_for(acme.users["admin"])


# Append-only ------------------------------------------------------------------------------------


def test_an_entry_can_be_written(acme):
    entry = audit.record("role.created", actor=acme.users["admin"], organization=acme.organization, target="X", a=1)
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor_email == "admin@acme.test"
    assert entry.details == {"a": 1}


def test_unknown_actions_are_refused(acme):
    with pytest.raises(ValueError):
        audit.record("role.teleported", actor=None, organization=acme.organization)


def test_saving_an_existing_entry_raises(acme):
    entry = make_entry(acme.organization, target="original")
    entry.target = "forged"
    with pytest.raises(Immutable):
        entry.save()
    with pytest.raises(Immutable):
        entry.save(update_fields=["target"])
    assert AuditEntry.objects.get(pk=entry.pk).target == "original"


def test_deleting_an_entry_raises(acme):
    entry = make_entry(acme.organization)
    with pytest.raises(Immutable):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_queryset_update_and_delete_raise(acme):
    entry = make_entry(acme.organization, target="original")
    with pytest.raises(Immutable):
        AuditEntry.objects.filter(pk=entry.pk).update(target="forged")
    with pytest.raises(Immutable):
        AuditEntry.objects.all().update(created_at=timezone.now() - timedelta(days=30))
    with pytest.raises(Immutable):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(Immutable):
        AuditEntry.objects.all().delete()
    entry.target = "forged"
    with pytest.raises(Immutable), transaction.atomic():
        AuditEntry.objects.bulk_update([entry], ["target"])
    assert AuditEntry.objects.get(pk=entry.pk).target == "original"


# The Django admin -------------------------------------------------------------------------------


@pytest.fixture
def superuser_client(db, client):
    client.force_login(User.objects.create_superuser("root@example.com", PASSWORD))
    return client


def test_admin_offers_no_add(acme, superuser_client):
    assert superuser_client.get("/admin/accounts/auditentry/add/").status_code == 403
    count = AuditEntry.objects.count()
    response = superuser_client.post("/admin/accounts/auditentry/add/", {"action": "auth.login", "target": "x"})
    assert response.status_code == 403
    assert AuditEntry.objects.count() == count


def test_admin_offers_no_delete(acme, superuser_client):
    entry = make_entry(acme.organization)
    assert superuser_client.get(f"/admin/accounts/auditentry/{entry.pk}/delete/").status_code == 403
    assert superuser_client.post(f"/admin/accounts/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    # Nor the bulk "delete selected" action on the list.
    listing = superuser_client.get("/admin/accounts/auditentry/")
    assert listing.status_code == 200
    assert "delete_selected" not in listing.content.decode()
    superuser_client.post(
        "/admin/accounts/auditentry/", {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_admin_offers_no_change(acme, superuser_client):
    entry = make_entry(acme.organization, target="original")
    page = superuser_client.get(f"/admin/accounts/auditentry/{entry.pk}/change/")
    assert page.status_code == 200  # view only
    assert 'name="_save"' not in page.content.decode()
    response = superuser_client.post(
        f"/admin/accounts/auditentry/{entry.pk}/change/",
        {"action": entry.action, "target": "forged", "created_at_0": "2020-01-01", "created_at_1": "00:00:00"},
    )
    assert response.status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).target == "original"


def test_admin_is_for_superusers_only(acme, client_for):
    response = client_for(acme.users["admin"]).get("/admin/accounts/auditentry/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# The audit page ---------------------------------------------------------------------------------


def test_audit_page_needs_audit_view(acme, client_for):
    assert client_for(acme.users["finance"]).get("/audit/").status_code == 403
    assert client_for(acme.users["engineer"]).get("/audit/export.csv").status_code == 403
    assert client_for(acme.users["cs_maintenance"]).get("/audit/").status_code == 200


def test_audit_page_lists_entries_newest_first(acme, admin_client):
    make_entry(acme.organization, target="older", when=at("2024-03-01"))
    make_entry(acme.organization, target="newer", when=at("2024-03-02"))
    response = admin_client.get("/audit/?action=role.created")
    assert response.status_code == 200
    assert [entry.target for entry in shown(response)] == ["newer", "older"]
    content = response.content.decode()
    assert "newer" in content and "older" in content


def test_filter_by_action(acme, admin_client):
    make_entry(acme.organization, "role.created", target="a role")
    make_entry(acme.organization, "member.removed", target="gone@acme.test")
    response = admin_client.get("/audit/?action=member.removed")
    assert targets(response) == {"gone@acme.test"}


def test_filter_by_actor(acme, admin_client):
    make_entry(acme.organization, actor_email="finance@acme.test", target="by finance")
    make_entry(acme.organization, actor_email="engineer@acme.test", target="by engineer")
    response = admin_client.get("/audit/?actor=finance@acme.test")
    assert targets(response) == {"by finance"}
    assert ("finance@acme.test", "finance@acme.test") in response.context["changelist"].filters[1].choices


def test_filter_by_date_range_includes_both_days(acme, admin_client):
    for day, clock in [
        ("2024-03-01", "23:59"),
        ("2024-03-02", "00:00"),
        ("2024-03-05", "23:59"),
        ("2024-03-06", "00:00"),
    ]:
        make_entry(acme.organization, target=f"{day} {clock}", when=at(day, clock))

    response = admin_client.get("/audit/?from=2024-03-02&to=2024-03-05")
    assert targets(response) == {"2024-03-02 00:00", "2024-03-05 23:59"}
    assert targets(admin_client.get("/audit/?from=2024-03-05&action=role.created")) == {
        "2024-03-05 23:59",
        "2024-03-06 00:00",
    }
    assert targets(admin_client.get("/audit/?to=2024-03-01&action=role.created")) == {"2024-03-01 23:59"}


def test_search_matches_target_actor_and_action(acme, admin_client):
    make_entry(acme.organization, target="Needle project", actor_email="a@acme.test")
    make_entry(acme.organization, target="haystack", actor_email="needle.person@acme.test")
    make_entry(acme.organization, target="nothing here", actor_email="b@acme.test")
    assert targets(admin_client.get("/audit/?q=needle")) == {"Needle project", "haystack"}
    assert targets(admin_client.get("/audit/?q=member.removed")) == set()


def test_filters_combine(acme, admin_client):
    make_entry(acme.organization, "role.created", actor_email="finance@acme.test", target="hit", when=at("2024-03-02"))
    make_entry(acme.organization, "role.created", actor_email="finance@acme.test", target="x", when=at("2024-04-02"))
    make_entry(acme.organization, "role.deleted", actor_email="finance@acme.test", target="y", when=at("2024-03-02"))
    make_entry(acme.organization, "role.created", actor_email="other@acme.test", target="z", when=at("2024-03-02"))
    response = admin_client.get("/audit/?action=role.created&actor=finance@acme.test&from=2024-03-01&to=2024-03-31")
    assert targets(response) == {"hit"}


def test_paginates_fifty_per_page(acme, admin_client):
    start = at("2024-01-01")
    for n in range(120):
        make_entry(acme.organization, target=f"entry {n:03}", when=start + timedelta(minutes=n))

    first = admin_client.get("/audit/?action=role.created")
    assert len(shown(first)) == 50
    assert shown(first)[0].target == "entry 119"
    assert first.context["changelist"].page.paginator.count == 120
    second = admin_client.get("/audit/?action=role.created&page=2")
    assert len(shown(second)) == 50
    third = admin_client.get("/audit/?action=role.created&page=3")
    assert len(shown(third)) == 20
    assert shown(third)[-1].target == "entry 000"
    seen = targets(first) | targets(second) | targets(third)
    assert len(seen) == 120
    # The unfiltered log pages the same way.
    assert len(shown(admin_client.get("/audit/"))) == 50


@pytest.mark.parametrize("query", ["from=notadate", "to=2024-02-30", "from=2024-13-45&to=yesterday", "page=abc"])
def test_bad_input_shows_a_message_not_a_500(acme, admin_client, query):
    make_entry(acme.organization, target="still listed")
    response = admin_client.get(f"/audit/?{query}")
    assert response.status_code == 200
    assert "still listed" in targets(response)
    if "page" not in query:
        assert "use the form YYYY-MM-DD" in response.content.decode()


@pytest.mark.parametrize("query", ["to=9999-12-31", "from=0001-01-01&to=9999-12-31"])
def test_extreme_dates_are_not_a_500(acme, admin_client, query):
    make_entry(acme.organization, target="still listed")
    admin_client.raise_request_exception = False
    response = admin_client.get(f"/audit/?{query}")
    assert response.status_code == 200
    assert "still listed" in targets(response)
    assert admin_client.get(f"/audit/export.csv?{query}").status_code == 200


# CSV export ---------------------------------------------------------------------------------------


def test_csv_export_has_a_header_and_exactly_the_filtered_rows(acme, admin_client):
    make_entry(
        acme.organization,
        "member.removed",
        actor_email="admin@acme.test",
        target="gone@acme.test",
        when=at("2024-03-02", "08:30"),
        ip_address="10.1.2.3",
        user_agent="pytest",
        details={"why": "left"},
    )
    make_entry(acme.organization, "member.removed", target="outside range", when=at("2024-04-02"))
    make_entry(acme.organization, "role.created", target="other action", when=at("2024-03-02"))

    response = admin_client.get("/audit/export.csv?action=member.removed&from=2024-03-01&to=2024-03-31")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["time_utc", "actor", "action", "target", "ip_address", "user_agent", "details"]
    assert rows[1:] == [
        [
            "2024-03-02T08:30:00+00:00",
            "admin@acme.test",
            "member.removed",
            "gone@acme.test",
            "10.1.2.3",
            "pytest",
            '{"why": "left"}',
        ]
    ]


def test_csv_export_is_not_paginated(acme, admin_client):
    for n in range(60):
        make_entry(acme.organization, target=f"entry {n}")
    rows = csv_rows(admin_client.get("/audit/export.csv?action=role.created&page=2"))
    assert len(rows) == 61
    assert {row[3] for row in rows[1:]} == {f"entry {n}" for n in range(60)}


def test_csv_export_matches_the_page(acme, admin_client):
    for n in range(5):
        make_entry(acme.organization, target=f"match {n}")
        make_entry(acme.organization, target=f"other {n}")
    page = admin_client.get("/audit/?q=match")
    rows = csv_rows(admin_client.get("/audit/export.csv?q=match"))
    assert {row[3] for row in rows[1:]} == targets(page)
    assert len(rows) - 1 == page.context["changelist"].page.paginator.count


# Other organizations ------------------------------------------------------------------------------


def test_entries_of_another_organization_never_appear(acme, globex, admin_client):
    make_entry(globex.organization, "role.created", target="Globex secret role", actor_email="admin@globex.test")
    make_entry(globex.organization, "member.removed", target="finance@acme.test")  # even naming an Acme member
    make_entry(acme.organization, "role.created", target="Acme role")
    # A Globex member signs in: that is Globex's business, not Acme's.
    Client().force_login(globex.users["engineer"])

    for query in ("", "?action=role.created", "?action=member.removed", "?q=globex", "?actor=admin@globex.test"):
        response = admin_client.get(f"/audit/{query}")
        assert response.status_code == 200
        content = response.content.decode()
        assert "Globex secret role" not in content, query
        assert "engineer@globex.test" not in content, query
        assert all(entry.organization_id != globex.organization.pk for entry in shown(response)), query
        csv_text = "\n".join(",".join(row) for row in csv_rows(admin_client.get(f"/audit/export.csv{query}")))
        assert "Globex secret role" not in csv_text, query
        assert "engineer@globex.test" not in csv_text, query

    assert "Acme role" in targets(admin_client.get("/audit/"))
    actors = [value for value, _ in admin_client.get("/audit/").context["changelist"].filters[1].choices]
    assert "admin@globex.test" not in actors


def test_sign_in_events_of_members_appear_but_not_of_outsiders(acme, globex, admin_client):
    Client().force_login(acme.users["finance"])  # force_login records auth.login
    Client().force_login(globex.users["finance"])
    response = admin_client.get("/audit/?action=auth.login")
    logins = targets(response)
    assert "finance@acme.test" in logins
    assert "finance@globex.test" not in logins


def test_every_action_the_code_records_is_known_once_django_has_started():
    """Registration happens in AppConfig.ready(): a fresh process that imports no service module still
    knows every action code any module records, whatever is imported first."""
    written = set()
    for path in Path(settings.BASE_DIR).glob("*/**/*.py"):
        if "tests" in path.parts or ".venv" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "record",
                "record_about_project",
            ):
                if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    written.add(node.args[0].value)
    assert len(written) > 30
    script = "import django, json; django.setup(); from accounts import audit; print(json.dumps(sorted(audit.ACTIONS)))"
    known = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    ).stdout
    assert written - set(json.loads(known)) == set()

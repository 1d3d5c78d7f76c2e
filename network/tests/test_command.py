"""`manage.py agora_notifications`: enable, show, rotate, disable."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditEntry
from network.models import NotificationSettings


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("agora_notifications", *args, stdout=out)
    return out.getvalue()


def test_enable_prints_the_path_and_a_secret_that_rotate_replaces(acme):
    project = acme.projects[0]
    enabled = run("enable", project.project_id)
    receiving = NotificationSettings.objects.get(project=project)
    assert f"receiving path: /webhooks/agora/{project.project_id}/" in enabled
    assert f"secret: {receiving.secret}" in enabled and "103 Host joined" in enabled
    assert "secret" not in run("show", project.project_id)  # shown when made, not on every look
    rotated = run("rotate", project.project_id)
    receiving.refresh_from_db()
    assert f"secret: {receiving.secret}" in rotated and receiving.secret not in enabled
    assert "enabled: no" in run("disable", project.project_id)
    assert not NotificationSettings.objects.get(project=project).enabled


def test_unknown_projects_and_projects_not_receiving_are_refused(acme):
    with pytest.raises(CommandError, match="No project"):
        run("enable", "nope")
    with pytest.raises(CommandError, match="run enable"):
        run("show", acme.projects[0].project_id)


def test_changes_are_audited_as_the_member_given_or_the_system(acme):
    project = acme.projects[0]
    run("enable", project.project_id, "--as", "ENGINEER@acme.test")
    run("rotate", project.project_id)
    entries = AuditEntry.objects.filter(project=project, action__startswith="notifications.").order_by("pk")
    assert [(e.action, e.actor_email) for e in entries] == [
        ("notifications.enabled", "engineer@acme.test"),
        ("notifications.secret_rotated", "system"),
    ]
    secret = NotificationSettings.objects.get(project=project).secret
    assert all(secret not in str(entry.details) for entry in entries)


def test_someone_outside_the_organization_cannot_be_named(acme, globex):
    with pytest.raises(CommandError, match="not a member"):
        run("enable", acme.projects[0].project_id, "--as", "admin@globex.test")
    assert not NotificationSettings.objects.exists()

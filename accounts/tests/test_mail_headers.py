"""Stored text with line breaks cannot break a mail header: subjects are built on one line."""

from django.core import mail

from accounts.models import Organization
from accounts.services import invite
from console.text import one_line
from projects.services import reset_primary


def test_one_line_replaces_every_control_character():
    assert one_line("Org\r\nBcc: x@evil.test\u2028\x00end") == "Org Bcc: x@evil.test end"
    assert len(one_line("x" * 500, limit=50)) == 50


def test_an_organization_name_with_a_line_break_does_not_break_invitations(acme):
    Organization.objects.filter(pk=acme.organization.pk).update(name="Org\r\nBcc: x@evil.test")
    admin = acme.membership("admin")
    invite(admin, "new@acme.test", acme.roles["engineer"])
    assert mail.outbox[-1].subject == "You are invited to Org Bcc: x@evil.test on Console"
    assert "\n" not in mail.outbox[-1].message()["Subject"]


def test_a_project_name_with_a_line_break_still_mails_the_admins(acme, django_capture_on_commit_callbacks):
    project = acme.projects[0]
    type(project).objects.filter(pk=project.pk).update(name="Line\nbreak")
    project.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        reset_primary(acme.membership("admin"), project)
    assert any("Line break" in message.subject for message in mail.outbox)

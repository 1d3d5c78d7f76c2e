"""What the console counts of the tokens each certificate signed, and what the rotation says with it."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from conftest import run_together
from projects import certificate_use, services
from projects.models import CertificateUse, Project
from projects.rotation import rotation_steps
from projects.tasks import forget_old_certificate_use
from tokens import accesstoken2 as at2
from tokens.services import issue_temp_token

RTC = {"channel": "standup", "uid": 7, "role": "publisher"}


def fresh(project) -> Project:
    return Project.objects.prefetch_related("certificates").get(pk=project.pk)


def uses(project) -> dict[str, int]:
    """Tokens counted per certificate fingerprint."""
    counted: dict[str, int] = {}
    for row in CertificateUse.objects.filter(project=project):
        counted[row.fingerprint] = counted.get(row.fingerprint, 0) + row.tokens
    return counted


def cli_build(project, *args: str) -> None:
    options = ("--project", project.project_id, "--channel", "c", "--role", "publisher", "--uid", "0", *args)
    call_command("agora_token", "build", "rtc", *options, stdout=io.StringIO())


@pytest.fixture
def engineer(acme):
    return acme.membership("engineer")


@pytest.fixture
def project(acme):
    return fresh(acme.projects[0])


def swapped(engineer, project) -> Project:
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, fresh(project))
    return fresh(project)


def test_the_page_the_api_and_the_cli_all_count_against_the_signing_certificate(acme, client, engineer, project):
    fingerprint = project.primary.fingerprint
    issue_temp_token(engineer, project, "rtc", {**RTC, "expire": 600})

    client.force_login(acme.users["engineer"])
    response = client.post(
        f"/api/v1/projects/{project.project_id}/tokens",
        json.dumps({"type": "rtm", "user_id": "ann", "expire": 1200}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    cli_build(project, "--expire", "900")

    assert uses(project) == {fingerprint: 3}
    use = certificate_use.use_of(project, fingerprint)
    assert use.issued_recently == 3 and use.may_be_valid == 3
    assert timedelta(seconds=1195) < use.last_expires_at - timezone.now() <= timedelta(seconds=1200)
    assert use.per_day == [(timezone.now().date(), 3)]


def test_a_refused_or_invalid_request_counts_nothing(acme, client, project):
    client.force_login(acme.users["engineer"])
    response = client.post(
        f"/api/v1/projects/{project.project_id}/tokens",
        json.dumps({"type": "rtc", "channel": "bad channel name \u0001"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert uses(project) == {}


def test_after_a_swap_the_old_certificate_keeps_its_tokens_and_the_new_one_starts_at_zero(engineer, project):
    old = project.primary.fingerprint
    issue_temp_token(engineer, project, "rtc", {**RTC, "expire": 3600})
    project = swapped(engineer, project)
    assert project.secondary.fingerprint == old
    issue_temp_token(engineer, project, "rtc", {**RTC, "expire": 60})

    assert uses(project) == {old: 1, project.primary.fingerprint: 1}
    assert certificate_use.use_of(project, project.primary.fingerprint).issued_recently == 1


def test_the_disable_step_says_when_the_last_console_token_of_the_old_certificate_expires(engineer, project):
    for _ in range(3):
        issue_temp_token(engineer, project, "rtc", {**RTC, "expire": 3 * 3600 + 12 * 60 + 30})
    project = swapped(engineer, project)
    last = certificate_use.use_of(project, project.secondary.fingerprint).last_expires_at

    _, summary = rotation_steps(project)

    assert (
        f"The last token the console signed with the old certificate expires at {last:%H:%M} UTC (in 3 h 12 min); "
        "disabling it now would cut off up to 3 tokens issued in the last 24 h." in summary
    ) or f"expires at {last:%Y-%m-%d %H:%M} UTC (in 3 h 12 min)" in summary  # near midnight the date is named
    assert "Tokens made by your own token servers are invisible to the console" in summary
    assert "token inspector" in summary


def test_once_every_console_token_has_expired_the_page_says_so(engineer, project):
    fingerprint = project.primary.fingerprint
    past = timezone.now() - timedelta(hours=2)
    certificate_use.record(project.pk, fingerprint, past, at=past - timedelta(hours=1))
    project = swapped(engineer, project)

    _, summary = rotation_steps(project)

    assert "No token the console signed with the old certificate is still valid: the last one expired at" in summary
    assert "disabling it now would cut off" not in summary


def test_an_old_certificate_the_console_never_used_is_said_to_have_no_valid_token(engineer, project):
    project = swapped(engineer, project)
    _, summary = rotation_steps(project)
    assert "No token the console signed with the old certificate is still valid (it signed none in 30 days)." in summary


def test_the_disable_confirmation_names_the_tokens_it_would_cut_off(acme, client_for, engineer, project):
    issue_temp_token(engineer, project, "rtc", {**RTC, "expire": 7200})
    project = swapped(engineer, project)

    page = (
        client_for(acme.users["engineer"])
        .get(f"/projects/{project.project_id}/certificates/disable_secondary/")
        .content.decode()
    )

    assert re.search(r"expires at [0-9: -]+ UTC \(in 1 h 59 min\); disabling it now would cut off up to 1 token ", page)
    assert "invisible to the console" in page


def test_a_token_stamped_with_an_old_issue_time_counts_in_the_hour_it_was_made(project):
    cli_build(project, "--issue-ts", "1000", "--expire", "600")
    row = CertificateUse.objects.get(project=project)
    assert timezone.now() - row.hour < timedelta(hours=1)
    assert row.last_expires_at.timestamp() == 1600  # the token's own expiry: long gone


def test_forget_old_keeps_recent_rows_and_rows_with_valid_tokens(project):
    now = timezone.now()
    fingerprint = project.primary.fingerprint
    certificate_use.record(project.pk, fingerprint, now - timedelta(days=40), at=now - timedelta(days=41))
    certificate_use.record(project.pk, fingerprint, now + timedelta(days=5), at=now - timedelta(days=35))
    certificate_use.record(project.pk, fingerprint, now - timedelta(days=1), at=now - timedelta(days=2))

    assert certificate_use.forget_old() == 1
    assert CertificateUse.objects.filter(project=project).count() == 2


def test_the_latest_expiry_of_an_hour_only_moves_forward(project):
    fingerprint = project.primary.fingerprint
    now = timezone.now()
    certificate_use.record(project.pk, fingerprint, now + timedelta(hours=5))
    certificate_use.record(project.pk, fingerprint, now + timedelta(hours=1))
    row = CertificateUse.objects.get(project=project)
    assert row.tokens == 2
    assert abs(row.last_expires_at - (now + timedelta(hours=5))) < timedelta(seconds=1)


@pytest.mark.django_db(transaction=True)
def test_the_first_tokens_of_an_hour_racing_to_insert_are_all_counted(postgres, acme):
    project = acme.projects[0]
    fingerprint = fresh(project).primary.fingerprint
    expires = timezone.now() + timedelta(hours=1)

    def issue_ten():
        for _ in range(10):
            certificate_use.record(project.pk, fingerprint, expires)

    assert run_together(*[issue_ten] * 6) == [None] * 6
    assert CertificateUse.objects.get(project=project).tokens == 60


def test_tokens_are_never_stored(engineer, project):
    issued = issue_temp_token(engineer, project, "rtc", RTC)
    row = CertificateUse.objects.get(project=project)
    assert issued.token not in str(row.__dict__)
    assert at2.parse(issued.token).verify(project.primary.value)


def test_beat_forgets_old_counts_daily(settings, project):
    now = timezone.now()
    long_ago = now - timedelta(days=40)
    certificate_use.record(project.pk, project.primary.fingerprint, long_ago, at=long_ago)
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "projects.tasks.forget_old_certificate_use" in tasks
    assert forget_old_certificate_use() == 1

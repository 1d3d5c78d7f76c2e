from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from usage.models import DailyUsage, PullRun


@pytest.mark.django_db(transaction=True)  # the local sandbox answers from another thread
def test_pull_usage_from_the_local_sandbox_shows_progress_and_writes_rows(acme):
    out = StringIO()
    call_command(
        "pull_usage",
        "--org",
        acme.organization.slug,
        "--from",
        "2026-01-01",
        "--to",
        "2026-02-28",
        "--local-sandbox",
        stdout=out,
    )
    assert "[" in out.getvalue() and "Succeeded: 118 rows" in out.getvalue()
    assert DailyUsage.objects.count() == 2 * 59
    assert PullRun.objects.get().trigger == PullRun.Trigger.COMMAND


@pytest.mark.django_db(transaction=True)
def test_pull_usage_for_one_project(acme):
    project = acme.projects[1]
    call_command(
        "pull_usage",
        "--project",
        project.project_id,
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-10",
        "--local-sandbox",
        stdout=StringIO(),
    )
    assert set(DailyUsage.objects.values_list("project", flat=True)) == {project.pk}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--from", "2026-13-01", "--to", "2026-12-31"], "not a date"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "after"),
        (["--org", "nope", "--from", "2026-01-01", "--to", "2026-01-02"], "No organization"),
        (["--project", "nope", "--from", "2026-01-01", "--to", "2026-01-02"], "No project"),
    ],
)
def test_pull_usage_refuses_bad_arguments(acme, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("pull_usage", *arguments, stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_pull_usage_fails_loudly_when_the_upstream_is_unreachable(acme, settings):
    settings.USAGE_UPSTREAM_URL = "http://127.0.0.1:9/sandbox"  # nothing listens on the discard port
    settings.USAGE_HTTP_RETRIES = 0
    with pytest.raises(CommandError, match="did not fully succeed"):
        call_command("pull_usage", "--from", "2026-01-01", "--to", "2026-01-02", stdout=StringIO(), stderr=StringIO())
    assert PullRun.objects.get().status == PullRun.Status.FAILED

from datetime import date

import pytest

from usage.models import DailyUsage, PullRun
from usage.pulling import create_run, execute_run


@pytest.mark.django_db(transaction=True)
def test_a_backfill_over_http_from_the_sandbox_writes_one_row_per_day(acme, live_server, settings):
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    run = create_run(acme.organization, date(2026, 1, 1), date(2026, 3, 31), trigger=PullRun.Trigger.COMMAND)
    run = execute_run(run)
    assert run.status == PullRun.Status.SUCCEEDED, run.error
    assert run.windows_total == 2 * 3 and run.windows_done == 6
    assert DailyUsage.objects.count() == 2 * 90
    totals = sorted(DailyUsage.objects.values_list("audio", flat=True))
    again = execute_run(create_run(acme.organization, date(2026, 1, 1), date(2026, 3, 31), trigger="command"))
    assert again.status == PullRun.Status.SUCCEEDED
    assert DailyUsage.objects.count() == 2 * 90
    assert sorted(DailyUsage.objects.values_list("audio", flat=True)) == totals

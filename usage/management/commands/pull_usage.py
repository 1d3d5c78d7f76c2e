from contextlib import nullcontext
from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.refusals import RuleViolation
from usage.client import UpstreamClient
from usage.local_sandbox import local_sandbox as local_sandbox_url
from usage.models import PullRun
from usage.pulling import chosen_upstreams, create_run, execute_run


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date in the form YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Pull daily usage from each organization's upstream for a date range, in the foreground, with the same "
        "code as the Celery jobs. Safe to run again: rows of the same days are replaced, never added.\n"
        "Example: manage.py pull_usage --org acme --from 2026-01-01 --to 2026-03-31"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--org", metavar="SLUG", help="Only this organization (default: every one with an upstream)."
        )
        parser.add_argument("--project", metavar="ID", help="Only this project (its short project ID).")
        parser.add_argument("--from", dest="day_from", required=True, metavar="YYYY-MM-DD", help="First day (UTC).")
        parser.add_argument("--to", dest="day_to", required=True, metavar="YYYY-MM-DD", help="Last day (UTC).")
        parser.add_argument(
            "--local-sandbox",
            action="store_true",
            help="Serve the built-in sandbox from this process for sandbox upstreams (when no web server runs).",
        )

    def handle(self, *args, org, project, day_from, day_to, local_sandbox: bool, **options):
        day_from, day_to = _day(day_from), _day(day_to)
        if day_from > day_to:
            raise CommandError("--from is after --to.")
        try:
            upstreams, target = chosen_upstreams(org, project)
        except RuleViolation as refusal:
            raise CommandError(str(refusal)) from None
        if local_sandbox and not settings.USAGE_SANDBOX:
            raise CommandError("--local-sandbox needs USAGE_SANDBOX=true.")
        failed = 0
        with local_sandbox_url() if local_sandbox else nullcontext(None) as sandbox_url:
            for upstream in upstreams:
                failed += self.pull(upstream, target, day_from, day_to, sandbox_url)
        if failed:
            raise CommandError(f"{failed} run(s) did not fully succeed; see the errors above. Run again to retry.")

    def pull(self, upstream, project, day_from, day_to, sandbox_url) -> int:
        run = create_run(upstream.organization, day_from, day_to, trigger=PullRun.Trigger.COMMAND, project=project)
        client = None
        if sandbox_url and upstream.is_sandbox:
            client = UpstreamClient(sandbox_url, upstream.customer_id, upstream.customer_secret)
        self.stdout.write(f"{upstream.organization.name}: {day_from} .. {day_to}")
        run = execute_run(run, client=client, progress=self.progress)
        self.stdout.write("")
        line = f"  {run.get_status_display()}: {run.rows_written} rows, {run.windows_done}/{run.windows_total} windows"
        self.stdout.write(
            self.style.SUCCESS(line) if run.status == PullRun.Status.SUCCEEDED else self.style.WARNING(line)
        )
        if run.error:
            self.stderr.write(run.error)
        return 0 if run.status == PullRun.Status.SUCCEEDED else 1

    def progress(self, run: PullRun) -> None:
        done = run.windows_done + run.windows_failed
        width = 30
        filled = int(width * done / run.windows_total) if run.windows_total else width
        self.stdout.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{run.windows_total}", ending="")
        self.stdout.flush()

"""`manage.py pull_network`: the channel and call pulls (network.pulling) in the foreground, as the Celery jobs
run them, with a progress bar."""

from contextlib import nullcontext

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.refusals import RuleViolation
from network import pulling
from projects.models import Project
from usage.client import UpstreamClient
from usage.local_sandbox import local_sandbox as local_sandbox_url
from usage.models import PullRun, Upstream
from usage.pulling import chosen_upstreams


class Command(BaseCommand):
    help = (
        "Pull what Agora's RESTful APIs know of channels and calls, in the foreground, with the same code as the "
        "Celery jobs: --channels reconciles who is online with the online channel lists (after lost webhooks); "
        "--calls brings Agora Analytics' recent calls and the sessions and metrics of ended ones. Neither: both. "
        "Safe to run again: rows are replaced, never added.\n"
        "Example: manage.py pull_network --channels --org acme"
    )

    def add_arguments(self, parser):
        parser.add_argument("--channels", action="store_true", help="Reconcile online users (every minute in beat).")
        parser.add_argument("--calls", action="store_true", help="Pull calls and their details (every 5 minutes).")
        parser.add_argument(
            "--org", metavar="SLUG", help="Only this organization (default: every one with an upstream)."
        )
        parser.add_argument("--project", metavar="ID", help="Only this project (its short project ID).")
        parser.add_argument(
            "--local-sandbox",
            action="store_true",
            help="Serve the built-in sandbox from this process for sandbox upstreams (when no web server runs).",
        )

    def handle(self, *args, channels: bool, calls: bool, org, project, local_sandbox: bool, **options):
        kinds = [kind for kind, wanted in ((PullRun.Kind.CHANNELS, channels), (PullRun.Kind.CALLS, calls)) if wanted]
        try:
            upstreams, target = chosen_upstreams(org, project)
        except RuleViolation as refusal:
            raise CommandError(str(refusal)) from None
        if local_sandbox and not settings.USAGE_SANDBOX:
            raise CommandError("--local-sandbox needs USAGE_SANDBOX=true.")
        failed = 0
        with local_sandbox_url() if local_sandbox else nullcontext(None) as sandbox_url:
            for upstream in upstreams:
                for kind in kinds or pulling.KINDS:
                    failed += self.pull(upstream, kind, target, sandbox_url)
        if failed:
            raise CommandError(f"{failed} run(s) did not fully succeed; see the errors above. Run again to retry.")

    def pull(self, upstream: Upstream, kind: str, project: Project | None, sandbox_url: str | None) -> int:
        run = pulling.create_run(upstream.organization, kind, trigger=PullRun.Trigger.COMMAND, project=project)
        client = None
        if sandbox_url and upstream.is_sandbox:
            client = UpstreamClient(sandbox_url, upstream.customer_id, upstream.customer_secret)
        self.stdout.write(f"{upstream.organization.name}: {run.get_kind_display().lower()}")
        run = pulling.execute(run, client=client, progress=self.progress)
        self.stdout.write("")
        left = run.windows_total - run.windows_done - run.windows_failed
        line = (
            f"  {run.get_status_display()}: {run.rows_written} rows written, "
            f"{run.windows_done} of {run.windows_total} queries done, {run.windows_failed} failed"
        )
        if left:
            limit = "NETWORK_PULL_MAX_CHANNELS" if kind == PullRun.Kind.CHANNELS else "NETWORK_PULL_MAX_CALL_DETAILS"
            line += f", {left} left for the next runs ({limit})"
        self.stdout.write(
            self.style.SUCCESS(line) if run.status == PullRun.Status.SUCCEEDED else self.style.WARNING(line)
        )
        if run.error:
            self.stderr.write(run.error)
        return 0 if run.status == PullRun.Status.SUCCEEDED else 1

    def progress(self, run: PullRun) -> None:
        done = run.windows_done + run.windows_failed
        width = 30
        filled = min(width, int(width * done / run.windows_total)) if run.windows_total else width
        self.stdout.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{run.windows_total}", ending="")
        self.stdout.flush()

"""`manage.py simulate_traffic --project ID --minutes N --users N`: traffic on a project's channels, played by
the sandbox network (network/sandbox_traffic.py) over the last N minutes, ending now.

Users join with tokens signed with the project's certificate (a few with bad ones, which the network
refuses), leave, change roles, rejoin; some channels are still going at the end. Calls, sessions and their
quality are then what the sandbox's channel and analytics APIs answer. If the project's notifications are
enabled (`manage.py agora_notifications enable ID`), every event is sent to the console as Agora's signed
notification: by default to this project served on a loopback port for the run (no server needed), or to
--deliver-to, a running console's address. NETWORK_SANDBOX_FAULTS (or the --*-rate options) make the
deliveries duplicated, reordered or lost, as Agora's may be.
"""

import random
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.refusals import RuleViolation
from network import sandbox_network, sandbox_traffic
from projects.models import Project
from usage.local_sandbox import local_sandbox

RATES = {
    "duplicate_rate": "sent twice",
    "reorder_rate": "held back behind later ones",
    "loss_rate": "never sent",
}


class Command(BaseCommand):
    help = "Simulate N minutes of channel traffic (ending now) on a project's sandbox network, with webhooks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, metavar="ID", help="the project's short ID")
        parser.add_argument("--minutes", type=int, default=60, help="how long the traffic lasted (1-1440; 60)")
        parser.add_argument("--users", type=int, default=40, help="how many users took part (1-5000; 40)")
        parser.add_argument(
            "--deliver-to",
            metavar="URL",
            help="a running console's address (e.g. http://127.0.0.1:8000); by default this project, served "
            "on a loopback port for the run",
        )
        parser.add_argument("--seed", type=int, help="the same seed plays the same plan")
        for rate, effect in RATES.items():
            parser.add_argument(
                f"--{rate.replace('_', '-')}",
                type=float,
                metavar="SHARE",
                help=f"share of notifications {effect} (0-1; NETWORK_SANDBOX_FAULTS by default)",
            )

    def handle(self, *args: object, **options) -> None:
        project = Project.objects.filter(project_id=str(options["project"]).strip()).first()
        try:
            project = sandbox_traffic.check_run(project, options["minutes"], options["users"])
            fault_rates = self._fault_rates(options)
            target = self._target(options.get("deliver_to"))
        except RuleViolation as refusal:
            raise CommandError(str(refusal)) from None
        draw = random.Random(options.get("seed"))
        run = dict(minutes=options["minutes"], users=options["users"], draw=draw, fault_rates=fault_rates)
        if target:
            report, delivery = sandbox_traffic.run(project, console_url=target, **run)
        else:
            with local_sandbox() as sandbox_url:
                report, delivery = sandbox_traffic.run(project, console_url=sandbox_url.removesuffix("/sandbox"), **run)
        self._print(project, options, report, delivery)

    @staticmethod
    def _fault_rates(options: dict) -> dict:
        rates = sandbox_network.faults()
        for rate in RATES:
            if options.get(rate) is not None:
                rates[rate] = options[rate]
        for rate, value in rates.items():
            if (
                rate not in RATES
                or isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value <= 1
            ):
                raise RuleViolation(f"{rate} must be a share from 0 to 1 (one of {', '.join(RATES)}).")
        return rates

    @staticmethod
    def _target(url: str | None) -> str:
        if not url:
            return ""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RuleViolation("--deliver-to must be an http:// or https:// address, e.g. http://127.0.0.1:8000.")
        return url.strip().rstrip("/")

    def _print(self, project, options, report, delivery) -> None:
        write = self.stdout.write
        write(
            f"Simulated {options['minutes']} minutes of traffic on {project.name} ({project.project_id}), "
            f"{options['users']} users, ending now:"
        )
        in_progress = report.calls - report.calls_ended
        write(f"  calls: {report.calls} ({report.calls_ended} ended, {in_progress} still going)")
        write(
            f"  sessions: {report.sessions}; refused joins: {report.refused}; same-UID conflicts: {report.conflicts}; "
            f"rejoins: {report.rejoins}; role changes: {report.role_changes}"
        )
        if report.earlier_left:
            write(f"  users still online from an earlier run who left: {report.earlier_left}")
        write(f"  online now: {report.online_users} users in {report.online_channels} channels")
        if delivery is None:
            write(
                f"  notifications: {report.notifications} events, none sent: the project's notifications are off "
                f"(manage.py agora_notifications enable {project.project_id})"
            )
            return
        write(
            f"  notifications: {delivery.sent} delivered to {delivery.url} ({delivery.notifications} events; "
            f"{delivery.duplicated} duplicated, {delivery.reordered} reordered, {delivery.dropped} dropped, "
            f"{delivery.unsubscribed} not subscribed, {delivery.failed} failed)"
        )
        if delivery.failed:
            self.stderr.write(f"{delivery.failed} notifications were not accepted by the console after 3 retries.")

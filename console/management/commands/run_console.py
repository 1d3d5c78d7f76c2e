"""Run the web server, a Celery worker and Celery beat together: what `make run` starts.

Each child runs in a session (and so a process group) of its own. A stop request — Ctrl-C, SIGTERM from
systemd, `docker stop`, `timeout` or `kill`, SIGHUP when the terminal closes — reaches this supervisor only,
which then stops every child's whole process group, grandchildren included (runserver serves from its
autoreloader's child), kills what is left after a bound, and exits 0. A child that ends on its own takes the
others down and the supervisor exits non-zero, naming it.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
DEFAULT_STOP_TIMEOUT = 10.0  # seconds: a Celery warm shutdown lets running tasks finish
POLL_SECONDS = 0.2


def child_commands(port: str) -> dict[str, list[str]]:
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "console"]
    return {
        "web": [python, str(settings.BASE_DIR / "manage.py"), "runserver", f"127.0.0.1:{port}"],
        "worker": [*celery, "worker", "--pool=threads", "--concurrency=2", "--loglevel=INFO"],
        "beat": [*celery, "beat", "--loglevel=INFO"],
    }


def start_child(command: list[str]) -> subprocess.Popen:
    """Start `command` leading a new session, so its process group id is its pid and a terminal's Ctrl-C
    does not reach it behind the supervisor's back."""
    return subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True)


def group_alive(process: subprocess.Popen) -> bool:
    """Whether any process of the child's group still exists (the child itself is reaped first, or its
    zombie would count)."""
    process.poll()
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass  # the whole group has already ended


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"exit code {returncode} ({signal.Signals(-returncode).name})"
        except ValueError:
            pass
    return f"exit code {returncode}"


class Command(BaseCommand):
    help = (
        "Run the web server, a Celery worker and Celery beat together (what `make run` starts). Ctrl-C, SIGTERM "
        "or SIGHUP stops all three (exit code 0); if one of them stops on its own, the others are stopped too "
        "and the command exits with code 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"), help="Web port (default: $PORT or 8000).")
        parser.add_argument(
            "--stop-timeout",
            type=float,
            default=DEFAULT_STOP_TIMEOUT,
            help=f"Seconds the processes get to exit once asked to stop, before they are killed "
            f"(default: {DEFAULT_STOP_TIMEOUT:g}).",
        )

    def handle(self, *args, port, stop_timeout, **options):
        self.stop_signals: list[int] = []
        previous_handlers = {signum: signal.signal(signum, self.note_stop_signal) for signum in STOP_SIGNALS}
        children: dict[str, subprocess.Popen] = {}
        try:
            for name, command in child_commands(port).items():
                children[name] = start_child(command)
            self.print_banner(port)
            exited = self.wait_for_stop_or_exit(children)
        finally:
            self.stop(children, stop_timeout)
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
        if exited:
            raise CommandError(f"{', '.join(exited)} stopped unexpectedly.")
        self.stdout.write("Stopped.")

    def note_stop_signal(self, signum, frame):
        # Only note it: the main loop stops the children, whatever it was doing when the signal came.
        self.stop_signals.append(signum)

    def wait_for_stop_or_exit(self, children: dict[str, subprocess.Popen]) -> dict[str, int]:
        """Wait for a stop signal (returns {}) or for children to end on their own (returns their exit codes)."""
        while not self.stop_signals:
            exited = {name: process.returncode for name, process in children.items() if process.poll() is not None}
            if exited:
                others = [name for name in children if name not in exited]
                stopped = "; ".join(f"{name} stopped with {describe_exit(code)}" for name, code in exited.items())
                self.stderr.write(f"{stopped}; stopping {' and '.join(others) or 'nothing else'}.")
                return exited
            time.sleep(POLL_SECONDS)
        received = signal.Signals(self.stop_signals[0]).name
        self.stdout.write(f"\n{received} received: stopping web, worker and beat...")
        return {}

    def stop(self, children: dict[str, subprocess.Popen], timeout: float) -> None:
        """SIGTERM to every child's process group; SIGKILL to the groups left after `timeout` seconds or
        at a second stop signal."""
        for process in children.values():
            signal_group(process, signal.SIGTERM)
        signals_before = len(self.stop_signals)
        deadline = time.monotonic() + timeout
        while True:
            running = {name: process for name, process in children.items() if group_alive(process)}
            if not running or time.monotonic() >= deadline or len(self.stop_signals) > signals_before:
                break
            time.sleep(POLL_SECONDS)
        if running:
            self.stderr.write(f"{', '.join(running)} still running: killing.")
        for process in running.values():
            signal_group(process, signal.SIGKILL)
        for process in children.values():
            process.wait()

    def print_banner(self, port):
        self.stdout.write(self.style.SUCCESS(f"\nConsole is starting on http://127.0.0.1:{port}/"))
        self.stdout.write(f"Demo sign-ins (password: {DEMO_PASSWORD}):")
        for email, _, role in DEMO_USERS:
            self.stdout.write(f"  {email:<22} {role}")
        self.stdout.write("Press Ctrl-C to stop web, worker and beat.\n")

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

from console.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = (
        "Run the web server, a Celery worker and Celery beat together (what `make run` starts). Ctrl-C stops all three."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"), help="Web port (default: $PORT or 8000).")

    def handle(self, *args, port, **options):
        python = sys.executable
        commands = {
            "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}"],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "console",
                "worker",
                "--pool=threads",
                "--concurrency=2",
                "--loglevel=INFO",
            ],
            "beat": [python, "-m", "celery", "-A", "console", "beat", "--loglevel=INFO"],
        }
        processes = {name: subprocess.Popen(command) for name, command in commands.items()}
        self.print_banner(port)
        try:
            while all(process.poll() is None for process in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, process in processes.items() if process.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping web, worker and beat...")
        finally:
            self.stop(processes.values())

    def print_banner(self, port):
        self.stdout.write(self.style.SUCCESS(f"\nConsole is starting on http://127.0.0.1:{port}/"))
        self.stdout.write(f"Demo sign-ins (password: {DEMO_PASSWORD}):")
        for email, _, role in DEMO_USERS:
            self.stdout.write(f"  {email:<22} {role}")
        self.stdout.write("Press Ctrl-C to stop web, worker and beat.\n")

    @staticmethod
    def stop(processes):
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

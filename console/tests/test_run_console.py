"""`run_console` stops cleanly: process tests on a real supervisor with its real web, worker and beat.

Each test starts `manage.py run_console` on a free port (SQLite and the embedded broker in a temporary
directory), waits until the web port answers, records every descendant process from /proc, then stops it
by a signal or by killing one child, and checks that nothing it started is left and the port is free.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROC = Path("/proc")
STARTUP_TIMEOUT = 60  # seconds; a cold start of runserver and Celery takes a few
EXIT_TIMEOUT = 25  # seconds; run_console gives its children 10 before it kills them

pytestmark = pytest.mark.skipif(not (PROC / "self" / "stat").exists(), reason="reads the process table in /proc")


# ---- The process table ----------------------------------------------------------------------------------


def process_table() -> dict[int, dict]:
    """Every process: pid -> its state, parent and start time (which tells a reused pid)."""
    table = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
        table[int(entry.name)] = {"state": fields[0], "ppid": int(fields[1]), "start": fields[19]}
    return table


def descendants(root: int) -> dict[int, str]:
    """pid -> start time of every process below `root`."""
    table = process_table()
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, row in table.items():
            if row["ppid"] == parent and pid not in found:
                found[pid] = row["start"]
                frontier.append(pid)
    return found


def still_running(processes: dict[int, str]) -> dict[int, str]:
    """Those of `processes` that still run: same pid and start time, and not a zombie."""
    table = process_table()
    return {
        pid: command_line(pid)
        for pid, start in processes.items()
        if pid in table and table[pid]["start"] == start and table[pid]["state"] != "Z"
    }


def command_line(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


# ---- Ports ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    """Nothing listens on it: a new listener can bind it (SO_REUSEADDR only overlooks closed connections)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# ---- run_console as a real process ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict[str, str]:
    """DEBUG on, a migrated SQLite database and the embedded broker, all in a directory of this module's."""
    var_dir = tmp_path_factory.mktemp("run_console")
    variables = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DEBUG": "true",
        "CONSOLE_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'console.sqlite3'}",
        "REDIS_URL": "",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        check=True,
        timeout=180,
    )
    return variables


class Console:
    """A running `manage.py run_console`, its output in a file and its descendants as first seen."""

    def __init__(self, environment: dict[str, str], log: Path):
        self.port = free_port()
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_console", "--port", str(self.port)],
                cwd=ROOT,
                env={**environment, "PORT": str(self.port)},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signals reach only the process the test sends them to
            )
        self.children: dict[int, str] = {}

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_serving(self) -> None:
        """Until the web port answers and the web server's reloader child, the worker and beat are all up."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"run_console ended while starting:\n{self.output()}"
            self.children = descendants(self.process.pid)
            if port_answers(self.port) and len(self.children) >= 4:
                return
            time.sleep(0.2)
        pytest.fail(f"run_console did not serve within {STARTUP_TIMEOUT} s:\n{self.output()}")

    def child(self, word: str) -> int:
        """The direct child whose command line holds `word` (web's runserver, Celery's worker or beat)."""
        table = process_table()
        matches = [pid for pid in self.children if table.get(pid, {}).get("ppid") == self.process.pid]
        matches = [pid for pid in matches if word in command_line(pid).split()]
        assert len(matches) == 1, f"no single {word} child among {[command_line(pid) for pid in self.children]}"
        return matches[0]

    def wait_for_exit(self) -> int:
        try:
            return self.process.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run_console still runs {EXIT_TIMEOUT} s later:\n{self.output()}")

    def kill_everything(self) -> None:
        """Leave no process behind whatever the test found."""
        for pid in [self.process.pid, *still_running(self.children)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=EXIT_TIMEOUT)


@pytest.fixture
def console(environment, tmp_path):
    running = Console(environment, tmp_path / "run_console.log")
    yield running
    running.kill_everything()


def assert_all_stopped(console: Console) -> None:
    """No process run_console started is left (runserver's reloader child included) and the port is free."""
    deadline = time.monotonic() + 5  # orphans are reaped by init, not by us: give it a moment
    while still_running(console.children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not still_running(console.children), f"left running: {still_running(console.children)}"
    assert port_is_free(console.port), f"port {console.port} is still taken"


# ---- Tests ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_stops_every_child_and_frees_the_port(console, stop_signal):
    console.wait_until_serving()

    console.process.send_signal(stop_signal)

    assert console.wait_for_exit() == 0, console.output()
    assert_all_stopped(console)
    assert f"{stop_signal.name} received" in console.output()


def test_a_child_that_dies_takes_the_others_down(console):
    console.wait_until_serving()

    os.kill(console.child("worker"), signal.SIGKILL)

    assert console.wait_for_exit() != 0, console.output()
    assert_all_stopped(console)
    assert "worker stopped with exit code -9 (SIGKILL)" in console.output()

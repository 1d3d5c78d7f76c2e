"""What the HTTP benches share: a temporary bench directory and environment, Django steps in a child process,
gunicorn on a free port, the load generators (wrk, or a Python asyncio one) and the p50/p99 report.

Used by bench/token_api.py and bench/api_load.py, run as scripts from the repository root (this directory is
then the first entry of sys.path, so `import _http` finds this module).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SETUP_SECONDS = 120  # migrate, setup or an in-process profile, each at most
START_SECONDS = 30  # gunicorn must answer within this


@dataclass(frozen=True)
class Target:
    rps: int
    p99_ms: float

    def verdict(self, rps: float, p99_ms: float | None) -> str:
        met = rps >= self.rps and p99_ms is not None and p99_ms < self.p99_ms
        return f"{'meets' if met else 'misses'} the target ({self.rps:,}/s, p99 < {self.p99_ms:g} ms)"


@dataclass
class Endpoint:
    """One load run: a label, the request, and the target it is held to (None: figures only)."""

    label: str
    path: str
    headers: list[str] = field(default_factory=list)  # "Name: value"
    method: str = "GET"
    body: bytes = b""
    target: Target | None = None


@dataclass
class Figures:
    label: str
    rps: float | None
    p50_ms: float | None
    p99_ms: float | None


# Command line ----------------------------------------------------------------------------------------------


def add_load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each (default 1)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync, as in production)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker for --worker-class gthread")
    parser.add_argument("--app", default="console.wsgi:application", help="WSGI app for gunicorn (to try changes)")
    parser.add_argument("--python", action="store_true", help="use the Python load generator even if wrk exists")


def check_load_options(parser: argparse.ArgumentParser, options: argparse.Namespace) -> None:
    if not 0 < options.seconds <= 120 or not 0 <= options.warmup <= 10 or not 1 <= options.clients <= 256:
        parser.error("--seconds 0..120, --warmup 0..10, --clients 1..256")


# The run: temp dir, environment, Django steps, gunicorn, cleanup ---------------------------------------------


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Run:
    """A bench run in a temporary directory. On leaving (normally, on Ctrl-C or on SIGTERM) it stops the
    gunicorn it started and removes the directory; an interruption then exits with status 130."""

    def __init__(self) -> None:
        self.workdir: Path | None = None
        self.env: dict = {}
        self.server: subprocess.Popen | None = None
        self.port: int | None = None
        self._log = None
        self._previous: dict = {}

    def __enter__(self) -> Run:
        self.workdir = Path(tempfile.mkdtemp(prefix="console-bench-"))
        self._previous = {number: signal.signal(number, _interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is KeyboardInterrupt:
            print("\nInterrupted: stopping gunicorn and removing the temp dir.")
        stop(self.server)
        if self._log is not None:
            self._log.close()
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        shutil.rmtree(self.workdir, ignore_errors=True)
        if kind is KeyboardInterrupt:
            raise SystemExit(130)

    def prepare(self) -> dict:
        """The bench environment, then `migrate`: a throw-away SQLite database in the temp dir unless
        DATABASE_URL is set, DEBUG off, a random SECRET_KEY, 127.0.0.1 only, the API rate limit off unless
        API_RATE_LIMIT_PER_SECOND is set (a high value then measures the limit's own cost)."""
        workdir = self.workdir
        env = dict(os.environ)
        env.update(
            CONSOLE_VAR_DIR=str(workdir),
            DEBUG="false",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1",
            DJANGO_SETTINGS_MODULE="console.settings",
            STATIC_ROOT=str(workdir / "static"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        )
        env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'console.sqlite3'}")
        env.setdefault("API_RATE_LIMIT_PER_SECOND", "0")
        env.pop("CONSOLE_ENCRYPTION_KEYS", None)  # a throw-away key in the temp dir
        self.env = env
        print(f"Setting up in {workdir} ...", flush=True)
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=SETUP_SECONDS,
        )
        (workdir / "static").mkdir()  # the API serves no static files; this only keeps WhiteNoise quiet
        return env

    def django(self, code: str, *args: str, timeout: float = SETUP_SECONDS) -> dict:
        """Run Django code in a child process with the bench environment; its last line of output is JSON."""
        return json.loads(run_django(code, self.env, *args, timeout=timeout))

    def start_server(self, options: argparse.Namespace) -> int:
        self.port = free_port()
        command = [
            str(Path(PYTHON).with_name("gunicorn")),
            options.app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(options.workers),
            "--worker-class",
            options.worker_class,
            "--threads",
            str(options.threads),
            "--worker-tmp-dir",
            "/dev/shm" if Path("/dev/shm").is_dir() else str(self.workdir),
            "--log-level",
            "warning",
        ]
        self._log = open(self.workdir / "gunicorn.log", "wb")
        self.server = subprocess.Popen(
            command, cwd=ROOT, env=self.env, start_new_session=True, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_until_up(self.port, self.server, time.monotonic() + START_SECONDS)
        return self.port

    def print_server_log(self, lines: int = 15) -> None:
        log = (self.workdir / "gunicorn.log").read_text(errors="replace").strip()
        if log:
            print("\ngunicorn said (last lines):\n" + "\n".join(log.splitlines()[-lines:]))


def run_django(code: str, env: dict, *args: str, timeout: float = SETUP_SECONDS) -> str:
    result = subprocess.run(
        [PYTHON, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"A Django step failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(port: int, server: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"GET /api/schema/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if connection.recv(12)[8:12] == b" 200":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {START_SECONDS} s")


def stop(server: subprocess.Popen | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)  # the arbiter stops its workers
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # its own session: the arbiter and its workers only
        server.wait(timeout=5)


# Requests --------------------------------------------------------------------------------------------------


def http_request(method: str, path: str, port: int, headers: list[str] = (), body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        *headers,
        "Accept: application/json",
        "Connection: keep-alive",
    ]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def fetch(port: int, request: bytes) -> tuple[int, dict]:
    """One request on its own connection: the status and the JSON body ({"body": text} when not JSON)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.replace(b"Connection: keep-alive", b"Connection: close"))
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        answer = {"body": body[:200].decode(errors="replace")}
    return int(head[9:12]), answer if isinstance(answer, dict) else {"body": answer}


# Load generators -------------------------------------------------------------------------------------------


async def _one_client(port: int, request: bytes, stop_at: float, record_from: float, results: dict) -> None:
    reader = writer = None
    while True:
        started = time.perf_counter()
        if started >= stop_at:
            break
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                results["connections"] += 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            results["errors"][type(error).__name__] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        finished = time.perf_counter()
        if started >= record_from:
            results["latencies"].append(finished - started)
            results["statuses"][status] += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def python_load(port: int, request: bytes, clients: int, seconds: float, warmup: float) -> dict:
    results = {"latencies": [], "statuses": Counter(), "errors": Counter(), "connections": 0}

    async def main():
        now = time.perf_counter()
        record_from, stop_at = now + warmup, now + warmup + seconds
        runs = [_one_client(port, request, stop_at, record_from, results) for _ in range(clients)]
        clients_done = asyncio.gather(*runs)
        clients_done.add_done_callback(lambda done: done.cancelled() or done.exception())  # quiet on Ctrl-C
        try:  # a hung server cannot hold the bench: every client stops 15 s after the end at the latest
            await asyncio.wait_for(clients_done, timeout=warmup + seconds + 15)
        except TimeoutError:
            results["errors"]["TimeoutError (clients stopped)"] += 1

    asyncio.run(main())
    results["seconds"] = seconds
    return results


def wrk_load(wrk: str, url: str, clients: int, seconds: float, headers: list[str], script: Path | None) -> str:
    command = [wrk, "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    result = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 30, check=False)
    return result.stdout + result.stderr


# Reports ---------------------------------------------------------------------------------------------------


def wrk_summary(label: str, output: str, target: Target | None) -> tuple[str, Figures]:
    """One line like the Python generator's, from wrk's --latency output, and its figures."""
    found = {
        "rps": re.search(r"Requests/sec:\s*([\d.]+)", output),
        "p50": re.search(r"^\s*50%\s+([\d.]+\w+)", output, re.MULTILINE),
        "p99": re.search(r"^\s*99%\s+([\d.]+\w+)", output, re.MULTILINE),
        "bad": re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output),
        "errors": re.search(r"Socket errors:.*", output),
    }
    if not found["rps"]:
        return f"{label}: wrk gave no figures:\n{output}", Figures(label, None, None, None)
    p50 = found["p50"].group(1) if found["p50"] else "?"
    p99 = found["p99"].group(1) if found["p99"] else "?"
    figures = Figures(label, float(found["rps"].group(1)), _milliseconds(p50), _milliseconds(p99))
    line = (
        f"{label}: {figures.rps:,.0f} requests/s, p50 {p50}, p99 {p99}; "
        f"non-2xx {found['bad'].group(1) if found['bad'] else 0}"
        f"{'; ' + found['errors'].group(0) if found['errors'] else ''}"
    )
    if target is not None:
        line += f"; {target.verdict(figures.rps, figures.p99_ms)}"
    return line, figures


def _milliseconds(text: str) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        return None
    return float(match.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[match.group(2)]


def report(label: str, results: dict, target: Target | None) -> Figures:
    """Print the Python generator's figures for one endpoint and return them."""
    latencies = sorted(results["latencies"])
    count = len(latencies)
    if not count:
        print(f"{label}: no completed requests; errors {dict(results['errors'])}")
        return Figures(label, None, None, None)

    def percentile(p: float) -> float:
        return latencies[min(count - 1, int(p / 100 * count))] * 1000

    rps = count / results["seconds"]
    print(
        f"{label}: {rps:,.0f} requests/s, p50 {percentile(50):.1f} ms, p90 {percentile(90):.1f} ms, "
        f"p99 {percentile(99):.1f} ms, max {latencies[-1] * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )
    print(
        f"    {count:,} requests in {results['seconds']:.0f} s, statuses {dict(results['statuses'])}, "
        f"TCP connections {results['connections']:,}, errors {dict(results['errors']) or 'none'}"
        f"{'; ' + target.verdict(rps, percentile(99)) if target is not None else ''}"
    )
    return Figures(label, rps, percentile(50), percentile(99))


def describe_load(options: argparse.Namespace, wrk: str | None) -> str:
    return (
        f"gunicorn {options.app}, {options.workers} workers ({options.worker_class}"
        f"{f', {options.threads} threads' if options.worker_class == 'gthread' else ''}), "
        f"{options.clients} concurrent clients, {options.seconds:g} s each after {options.warmup:g} s warm-up; "
        f"load generator: {'wrk (' + wrk + ')' if wrk else 'Python asyncio, raw sockets, same machine'}"
    )


def load(run: Run, options: argparse.Namespace, endpoints: list[Endpoint]) -> list[Figures]:
    """Load each endpoint in turn for --seconds after --warmup, print the figures, and return them."""
    wrk = None if options.python else shutil.which("wrk")
    print(f"\n{describe_load(options, wrk)}")
    figures = []
    if wrk:
        summaries = []
        for number, endpoint in enumerate(endpoints):
            script = None
            if endpoint.method != "GET" or endpoint.body:
                script = run.workdir / f"request{number}.lua"
                script.write_text(
                    f"wrk.method = {json.dumps(endpoint.method)}\nwrk.body = {json.dumps(endpoint.body.decode())}\n"
                )
            headers = list(endpoint.headers)
            if endpoint.body:
                headers.append("Content-Type: application/json")
            url = f"http://127.0.0.1:{run.port}{endpoint.path}"
            if options.warmup:
                wrk_load(wrk, url, options.clients, options.warmup, headers, script)
            output = wrk_load(wrk, url, options.clients, options.seconds, headers, script)
            print(f"{endpoint.label}\n{output.rstrip()}\n")
            line, result = wrk_summary(endpoint.label, output, endpoint.target)
            summaries.append(line)
            figures.append(result)
        print("\n".join(summaries))
    else:
        for endpoint in endpoints:
            request = http_request(endpoint.method, endpoint.path, run.port, endpoint.headers, endpoint.body)
            results = python_load(run.port, request, options.clients, options.seconds, options.warmup)
            figures.append(report(endpoint.label, results, endpoint.target))
    return figures

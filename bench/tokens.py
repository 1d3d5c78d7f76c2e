"""AccessToken2 builder benchmark: tokens per second on one core, parse + verify rate, cost of each step.

Run from the repository root:  .venv/bin/python bench/tokens.py [--runs 3] [--count 20000]
Pure Python: it imports tokens.accesstoken2 only (no Django settings needed). One process, one thread.
"""

import argparse
import base64
import hmac
import importlib
import platform
import statistics
import sys
import time
import timeit
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
at2 = importlib.import_module("tokens.accesstoken2")

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
EXPIRE = 3600
TARGET = 22_000


def build_run(count: int) -> float:
    """Seconds to build `count` RTC publisher tokens with distinct uids, issue time now, random salt."""
    build_rtc, publisher = at2.build_rtc, at2.ROLE_PUBLISHER
    started = time.perf_counter()
    for uid in range(1, count + 1):
        build_rtc(APP_ID, CERTIFICATE, CHANNEL, uid, publisher, EXPIRE)
    return time.perf_counter() - started


def parse_verify_run(tokens: list[str]) -> float:
    parse = at2.parse
    started = time.perf_counter()
    for token in tokens:
        if not parse(token).verify(CERTIFICATE):
            raise SystemExit("a token did not verify")
    return time.perf_counter() - started


def rates(run, runs: int, count: int, *args) -> tuple[int, list[int]]:
    measured = [round(count / run(*args)) for _ in range(runs)]
    return round(statistics.median(measured)), measured


def step_costs(runs: int, count: int) -> list[tuple[str, float]]:
    """Microseconds per call of each step of one build, timed in isolation on the library's own helpers."""
    issue_ts, salt, uid = int(time.time()), 12_345_678, 2_882_341_273
    service = at2.rtc_service(CHANNEL, uid, at2.rtc_privileges(at2.ROLE_PUBLISHER, EXPIRE))
    info = at2._str(APP_ID) + at2._header(issue_ts, EXPIRE, salt, 1) + at2._pack_service(service)
    signature = at2._signature(CERTIFICATE, issue_ts, salt, info)
    payload = at2._str(signature) + info
    compressed = zlib.compress(payload)
    namespace = {
        "at2": at2,
        "hmac": hmac,
        "zlib": zlib,
        "base64": base64,
        "time": time,
        "APP_ID": APP_ID,
        "CERT": CERTIFICATE,
        "CHANNEL": CHANNEL,
        "EXPIRE": EXPIRE,
        "ts": issue_ts,
        "salt": salt,
        "uid": uid,
        "info": info,
        "signature": signature,
        "payload": payload,
        "compressed": compressed,
        "key_1": at2._first_key(CERTIFICATE, issue_ts),
    }
    steps = [
        ("checks (App ID, certificate)", "at2.check_hex32(APP_ID, 'a'); at2.check_hex32(CERT, 'c')"),
        ("issue time and random salt", "int(time.time()); at2.secrets.randbelow(at2.MAX_SALT) + 1"),
        (
            "packing (service, signing info, payload)",
            "services = [at2.rtc_service(CHANNEL, uid, at2.rtc_privileges(1, EXPIRE))]; "
            "body = b''.join(at2._pack_service(s) for s in sorted(services, key=lambda s: s.type)); "
            "info = at2._str(APP_ID) + at2._header(ts, EXPIRE, salt, 1) + body; "
            "at2._str(signature) + info",
        ),
        ("HMACs (signing key + signature)", "at2._signature(CERT, ts, salt, info)"),
        (f"compression (zlib, {len(payload)} bytes)", "zlib.compress(payload)"),
        ("base64", "'007' + base64.b64encode(compressed).decode()"),
    ]
    costs = []
    for name, statement in steps:
        timer = timeit.Timer(statement, globals=namespace)
        costs.append((name, statistics.median(timer.repeat(runs, count)) / count * 1e6))
    once = timeit.Timer("hmac.digest(at2._u32(ts), CERT.encode(), 'sha256')", globals=namespace)
    once_cost = statistics.median(once.repeat(runs, count)) / count * 1e6
    costs.append(("(once per certificate and second: key_1 HMAC)", once_cost))
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=20_000)
    options = parser.parse_args()
    runs, count = options.runs, options.count

    print(f"AccessToken2 benchmark: Python {platform.python_version()}, one process, one thread")
    build_rtc_rate, measured = rates(build_run, runs, count, count)
    print(
        f"build, RTC publisher token with a uid: {build_rtc_rate} tokens/s "
        f"(median of {runs} runs of {count}: {', '.join(map(str, measured))}; "
        f"target {TARGET}: {'met' if build_rtc_rate >= TARGET else 'NOT MET'})"
    )

    tokens = [at2.build_rtc(APP_ID, CERTIFICATE, CHANNEL, uid, at2.ROLE_PUBLISHER, EXPIRE) for uid in range(count)]
    parse_rate, measured = rates(parse_verify_run, runs, count, tokens)
    print(f"parse + verify: {parse_rate} tokens/s (median of {runs} runs of {count}: {', '.join(map(str, measured))})")

    print(f"one token step by step, microseconds (median of {runs} runs of {count} calls each):")
    costs = step_costs(runs, count)
    per_token = costs[:-1]
    for name, cost in costs:
        print(f"  {name:<48} {cost:6.2f}")
    print(f"  {'sum of the per-token steps':<48} {sum(cost for _, cost in per_token):6.2f}")
    print(f"  {'whole build_rtc call (1 / rate)':<48} {1e6 / build_rtc_rate:6.2f}")


if __name__ == "__main__":
    main()

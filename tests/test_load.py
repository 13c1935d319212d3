"""A bounded load test against gunicorn started as the Procfile does (loopback only).

2,000 JSON sign requests (POST /oauth2/v2.1/jwt, the busiest call a script makes) at
concurrency 32 after a warm-up of 300: zero errors, zero 5xx, and the workers' memory flat
(RSS from /proc after the warm-up and after the run, growth under 15 MB per worker). The load
generator stops by itself at a deadline, so a hung server fails the test instead of hanging CI.
"""
from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from line_token.core import signing

pytestmark = [pytest.mark.server, pytest.mark.slow]

REQUESTS = 2000
CONCURRENCY = 32
WARM_UP = 300
DEADLINE = 90  # seconds for the whole run; it takes about 10 on two cores
RSS_GROWTH_LIMIT_KB = 15 * 1024


def children(pid: int) -> list[int]:
    """The gunicorn master's worker processes."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # fields after "(comm)": state, ppid, ...
            found.append(int(entry))
    return sorted(found)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def run_load(url: str, body: dict, total: int, concurrency: int, deadline: float) -> tuple[Counter, list[str], float]:
    """``total`` POSTs from ``concurrency`` keep-alive clients; stops at ``deadline`` (monotonic)."""
    statuses: Counter = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    remaining = iter(range(total))
    started = time.monotonic()

    def client() -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                with lock:
                    if next(remaining, None) is None:
                        return
                try:
                    response = session.post(url, json=body, timeout=10)
                    ok = response.status_code == 200 and response.json()["response_body"].count(".") == 2
                except Exception as e:  # noqa: BLE001 - every failure counts
                    with lock:
                        errors.append(type(e).__name__)
                    continue
                with lock:
                    statuses[response.status_code] += 1
                    if not ok:
                        errors.append(f"{response.status_code}: {response.text[:100]}")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    return statuses, errors, time.monotonic() - started


def test_2000_sign_requests_at_concurrency_32_without_errors_or_growth(start_server, console_key):
    server = start_server()  # the Procfile's defaults: 2 workers x 4 threads
    workers = children(server.proc.pid)
    assert len(workers) == 2, workers
    key = signing.load_private_key(console_key)
    body = {"channel_id": "1234567890", "kid": "load-test-kid", "private_key": signing.private_jwk(key),
            "token_exp": 86400}
    url = server.url + "/oauth2/v2.1/jwt"
    deadline = time.monotonic() + DEADLINE

    statuses, errors, _ = run_load(url, body, WARM_UP, CONCURRENCY, deadline)
    assert errors == [] and statuses == {200: WARM_UP}
    before = {pid: rss_kb(pid) for pid in workers}

    statuses, errors, elapsed = run_load(url, body, REQUESTS, CONCURRENCY, deadline)
    after = {pid: rss_kb(pid) for pid in workers}
    assert children(server.proc.pid) == workers  # no worker died or was replaced
    growth = {pid: after[pid] - before[pid] for pid in workers}
    print(f"\nload: {sum(statuses.values())} sign requests at concurrency {CONCURRENCY} in {elapsed:.1f} s "
          f"({sum(statuses.values()) / elapsed:.0f}/s), statuses {dict(statuses)}, errors {len(errors)}; worker RSS "
          f"before {sorted(v // 1024 for v in before.values())} MB, after {sorted(v // 1024 for v in after.values())} MB")
    assert errors == [], errors[:10]
    assert statuses == {200: REQUESTS}, statuses  # all of them, before the deadline; no 5xx
    assert all(g < RSS_GROWTH_LIMIT_KB for g in growth.values()), growth
    assert "Traceback" not in server.log() and "[ERROR]" not in server.log()

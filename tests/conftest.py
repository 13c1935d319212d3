"""Shared fixtures: a fresh app per test, the 2020 console key, and real servers
started the way the Procfile starts them."""
from __future__ import annotations

import collections
import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

# The package's pytest plugin (the `line_sandbox` fixture): registered here because the suite runs from the
# checkout, where the plugin's pytest11 entry point is not installed.
pytest_plugins = ["line_token.sandbox.pytest_plugin", "pytester"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

CONSOLE_KID = "1dab2f4f-b73f-47a3-b99d-1730e22b9544"

# Wall-clock bounds are generous on purpose: CI shares a 2-core machine, where a few seconds of
# scheduling noise are ordinary. A bound only has to tell "ended by our own timeout" from "waited
# for the other side to give up", and the misbehaving servers in the tests wait 30 s or more.
BUSY_MACHINE_SLACK = 5.0

# What the suite exercised, printed once at its end (pytest_terminal_summary) whatever order the
# tests ran in: a test that reports must not depend on running last.
RUN_REPORT: collections.Counter = collections.Counter()


def pytest_terminal_summary(terminalreporter):
    if RUN_REPORT:
        terminalreporter.write_sep("-", "exercised")
        for what, count in sorted(RUN_REPORT.items()):
            terminalreporter.write_line(f"{what}: {count}")


@pytest.fixture(scope="session")
def console_key_text() -> str:
    """The sample private JWK the LINE Developers Console issued in 2020 (a public example key)."""
    return (FIXTURES / "line-console-key-2020.json").read_text()


@pytest.fixture(scope="session")
def console_key(console_key_text) -> dict:
    return json.loads(console_key_text)


@pytest.fixture
def app(tmp_path):
    from line_token import create_app

    app = create_app({
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SANDBOX_DATABASE": str(tmp_path / "sandbox.sqlite3"),
        "SECRET_KEY": "test-secret-key",
    })
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def key(console_key):
    """The 2020 console key, loaded (a key object is never changed: one serves every test)."""
    from line_token.core import signing

    return signing.load_private_key(console_key)


def make_sandbox_channel(client, key) -> dict:
    """A new channel in the test app's sandbox with ``key``'s public half registered: channel_id,
    channel_secret, name, kid."""
    from line_token.core import signing

    created = client.post("/sandbox/api/channels", json={})
    assert created.status_code == 201, created.get_data(as_text=True)
    ch = created.get_json()
    registered = client.post(f"/sandbox/api/channels/{ch['channel_id']}/keys", json=signing.public_jwk(key),
                             auth=(ch["channel_id"], ch["channel_secret"]))
    assert registered.status_code == 201, registered.get_data(as_text=True)
    return {**ch, "kid": registered.get_json()["kid"]}


@pytest.fixture
def channel(client, key) -> dict:
    """A sandbox channel of the test app with the console key registered (make_sandbox_channel)."""
    return make_sandbox_channel(client, key)


# --------------------------------------------------------------------------- real servers


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_channel(base: str, key, name: str | None = None) -> dict:
    """A channel in the sandbox of the server at ``base`` (over HTTP) with ``key``'s public half registered:
    channel_id, channel_secret, name, kid."""
    from line_token.core import signing

    s = requests.Session()
    created = s.post(base + "/sandbox/api/channels", json={"name": name} if name else {}, timeout=30)
    assert created.status_code == 201, created.text
    ch = created.json()
    registered = s.post(f"{base}/sandbox/api/channels/{ch['channel_id']}/keys", json=signing.public_jwk(key),
                        auth=(ch["channel_id"], ch["channel_secret"]), timeout=30)
    assert registered.status_code == 201, registered.text
    return {**ch, "kid": registered.json()["kid"]}


class _Sleeper(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(30)  # far past LINE_API_TIMEOUT: only our deadline ends the call in time

    do_POST = do_GET

    def log_message(self, *args):
        return None


@pytest.fixture
def slow_upstream():
    """The base URL of a LINE that never answers in time (each request waits 30 s before giving up)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sleeper)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def one_line_error(result: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """Exit ``code``, nothing on stdout, one stderr line with every needle, no traceback."""
    assert result.returncode == code, (result.args, result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def wait_for_http(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer within {timeout} s")


class LiveServer:
    """gunicorn started as the Procfile does (gunicorn.conf.py, app:app) on a free loopback port."""

    def __init__(self, tmp_dir: Path, env: dict | None = None, workers: int | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_dir / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "SANDBOX_DATABASE": str(tmp_dir / "sandbox.sqlite3"),
            "SECRET_KEY": "live-test-secret",
            **(env or {}),
        }
        if workers is not None:
            self.env["WEB_CONCURRENCY"] = str(workers)
        self.proc: subprocess.Popen | None = None

    def start(self) -> "LiveServer":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "app:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for_http(self.url + "/", self.proc)
        return self

    def stop(self) -> None:
        from bench.run import stop_process  # one way to stop a server, the benchmark's too

        stop_process(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def start_server(tmp_path):
    """Factory: ``start_server(env={...}, workers=N)`` returns a running LiveServer, stopped at teardown."""
    servers: list[LiveServer] = []

    def _start(env: dict | None = None, workers: int | None = None, tmp_dir: Path | None = None) -> LiveServer:
        server = LiveServer(tmp_dir or tmp_path, env, workers).start()
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """One Procfile server shared by a test module."""
    server = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield server
    server.stop()


def start_sandbox_origin(tmp_dir: Path, env: dict | None = None) -> LiveServer:
    """A Procfile server whose SANDBOX_PORT serves the sandbox at the root of its own origin (``.sandbox_url``),
    where LINE's SDKs, which keep only a base URL's origin, find LINE's paths."""
    port = free_port()
    server = LiveServer(tmp_dir, {"SANDBOX_PORT": str(port), **(env or {})}).start()
    server.sandbox_url = f"http://127.0.0.1:{port}"
    return server


@pytest.fixture(scope="session")
def browser():
    """One chromium for the whole session, shared by every browser test module (Playwright's sync API
    allows one running instance per thread, so each module cannot start its own)."""
    from browsing import LAUNCH_ARGS, chromium_or_skip

    path = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        yield browser
        browser.close()


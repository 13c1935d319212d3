"""Benchmark: the Procfile's server, measured against a fixed yardstick.

    python -m bench.run            # the full run recorded in docs/BENCHMARKS.md (a few minutes)
    python -m bench.run --smoke    # a few requests per row: CI keeps it from rotting

Run from the project folder (``-m`` puts it on the path, so ``line_token`` imports
without any path edits). Starts gunicorn exactly as the Procfile does
(gunicorn.conf.py, app:app) on a free loopback port with a throwaway sandbox
database, and beside it, under the same config, the reference app
(bench/reference.py: a minimal Flask "hello" and JSON echo). It warms each endpoint
up, then sends a fixed number of requests at each concurrency from a separate
load-generator process (bench/loadgen.py, which says why it is ours and not wrk or
hey), every row in turn, several rounds. Every figure is compared with the
reference hello measured in the same run (and, as before, with our page view), so
the ratios hold on any machine. Exit status 1 if any request failed.

Issue 21: the sandbox's own origin (a second Procfile server with SANDBOX_PORT, as
deployed) beside Stoplight Prism mocking the sandbox's OpenAPI document
(line_token/sandbox/openapi.json; Prism installed by ``npm ci --prefix bench/prism``, started
here on a free loopback port): the same verify and issue requests to both, in the
same rounds, and what each answers to garbage. Without Prism those rows are
skipped with a line saying how to install it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlencode

import requests

from line_token.core import signing
from line_token.sandbox.routes import OPENAPI_DOCUMENT  # the sandbox's OpenAPI document, which Prism mocks

ROOT = Path(__file__).resolve().parent.parent

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CHANNEL = "1234567890"
TOKENS_PER_CHANNEL = 25  # the sandbox allows 30 valid v2.1 tokens per channel; keep clear of it
TICKS = os.sysconf("SC_CLK_TCK")

# Issue 16's targets at concurrency 8, as ratios to the reference hello's req/s in the same run
# (and absolute for memory and start-up).
TARGETS = {"page": 0.5, "home": 0.6, "sign": 0.35, "issue": 0.2, "verify": 0.5, "static": 0.9}
TARGET_SIGN_OF_LIMIT = 0.85  # sign >= 85 % of (reference JSON request + one raw RSA-2048 signature)
TARGET_SIGN_P99 = 3.0  # issue 7: sign p99 <= 3 x page p99
TARGET_RSS_MB = 80
# Start-up targets (`import app` <= `import flask` + 0.1 s, and issue 20's CLI ones): STARTUP below.
# Issue 21: the sandbox's origin against Prism mocking its OpenAPI document, req/s ratios in the same rounds.
TARGETS_PRISM = {"verify": 2.0, "issue": 1.0}
PRISM_DIR = ROOT / "bench" / "prism"
PRISM_SCRIPT = PRISM_DIR / "node_modules" / "@stoplight" / "prism-cli" / "dist" / "index.js"
# Prism at its quickest by default: log only errors (its own default, "info", writes several lines per request).
PRISM_LOG_LEVEL = "error"


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(server, path: str, seconds: float, what: str) -> None:
    """Return once ``server`` (a just-started Server or Prism) answers ``path``; exit the bench if it dies or
    stays silent (stopping it first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise SystemExit(f"bench: {what} exited with {server.proc.returncode}; see {server.log_path}")
        with contextlib.suppress(requests.RequestException):
            requests.get(server.url + path, timeout=1)
            return
        time.sleep(0.1)
    server.stop()
    raise SystemExit(f"bench: {what} did not answer within {seconds:.0f} s")


class Server:
    """gunicorn started as the Procfile does, on a free loopback port (as tests/conftest.py's LiveServer)."""

    def __init__(self, tmp: Path, app: str = "app:app", name: str = "server", extra_env: dict | None = None):
        self.app, self.name = app, name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"{name}.log"
        env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{self.port}",
               "SANDBOX_DATABASE": str(tmp / "sandbox.sqlite3"), "SECRET_KEY": "bench-secret",
               # The bench makes a channel per 30 issues from one address: lift the per-client creation limit.
               "SANDBOX_CHANNELS_PER_HOUR": "100000"}
        for name in ("RATE_LIMIT", "DATABASE_URL", "SANDBOX_ENABLED", "SANDBOX_PORT", "SANDBOX_HOST",
                     "SANDBOX_SHORT_LIVED_PER_SECOND"):  # measure the default set-up
            env.pop(name, None)
        self.env = {**env, **(extra_env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Server":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", self.app],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until_answering(self, "/", 30, "the server")
        return self

    def worker_class(self) -> str:
        """The worker class gunicorn.conf.py chose, as gunicorn logged it at start."""
        found = re.search(r"Using worker: (\S+)", self.log_path.read_text(errors="replace"))
        return found.group(1) if found else "?"

    def workers(self) -> list[int]:
        """PIDs of the gunicorn workers: the master's children."""
        master = self.proc.pid
        path = Path(f"/proc/{master}/task/{master}/children")
        if path.exists():
            return [int(p) for p in path.read_text().split()]
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                    found.append(int(stat.parent.name))
        return found

    def worker_cpu(self) -> float:
        """CPU seconds (user + system, all threads) the workers have used so far."""
        total = 0
        for pid in self.workers():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / TICKS

    def worker_rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.workers():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
        return sizes

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen | None) -> None:
    """Stop a server we started: SIGTERM (a graceful shutdown), then SIGKILL if it has not exited in 15 s.
    The tests' servers stop the same way (tests/conftest.py)."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def prism_missing() -> str | None:
    """None if node and bench/prism's Prism are installed, else why not and the command that installs them."""
    if not shutil.which("node"):
        return "node is not installed (Node 18.20 or later; scripts/test installs Debian's nodejs)"
    if not PRISM_SCRIPT.exists():
        return (f"Prism is not installed in {PRISM_DIR.relative_to(ROOT)}: run "
                f"`npm ci --prefix {PRISM_DIR.relative_to(ROOT)}` (about 90 MB, once)")
    return None


def prism_version() -> str:
    return json.loads((PRISM_SCRIPT.parent.parent / "package.json").read_text())["version"]


class Prism:
    """Stoplight Prism mocking the sandbox's OpenAPI document, on a free loopback port.

    The same interface as Server for load(): ``port``, ``worker_cpu()`` (the node process and any
    children), ``worker_rss_mb()``, ``stop()``. One node process: that is how Prism runs.
    """

    def __init__(self, tmp: Path, log_level: str = PRISM_LOG_LEVEL):
        self.name, self.log_level = "prism", log_level
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "prism.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Prism":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [shutil.which("node"), str(PRISM_SCRIPT), "mock", "--host", "127.0.0.1", "--port", str(self.port),
                 "--verboseLevel", self.log_level, str(OPENAPI_DOCUMENT)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        wait_until_answering(self, "/v2/bot/message/quota/consumption", 60, "Prism")
        return self

    def workers(self) -> list[int]:
        pid = self.proc.pid
        path = Path(f"/proc/{pid}/task/{pid}/children")
        return [pid, *(int(p) for p in path.read_text().split())] if path.exists() else [pid]

    worker_cpu = Server.worker_cpu
    worker_rss_mb = Server.worker_rss_mb
    stop = Server.stop


# --------------------------------------------------------------------------- requests and rows


def raw_request(port: int, method: str, path: str, body: dict | None = None, headers: tuple = (),
                form: dict | None = None) -> str:
    """One keep-alive HTTP/1.1 request, serialised once so the load generator only sends bytes.
    ``body`` is sent as JSON, ``form`` as LINE's endpoints take it (application/x-www-form-urlencoded)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "User-Agent: bench",
             "Accept: */*", "Connection: keep-alive", *headers]
    data = ""
    if body is not None:
        data = json.dumps(body)  # ASCII (ensure_ascii), so latin-1 carries it unchanged
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    elif form is not None:
        data = urlencode(form)  # ASCII
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(data)}"]
    return "\r\n".join(lines) + "\r\n\r\n" + data


@dataclass
class Row:
    """One endpoint to measure: how to build its requests and how to tell a right answer."""

    key: str  # short name for --rows and the JSON output
    name: str
    build: object  # callable(count) -> list of request dicts for loadgen
    server: "Server"  # which server answers it: ours, the reference app, or Prism
    unique: bool = False  # every request body is used once (tokens are a limited resource)
    results: dict = field(default_factory=dict)
    port: int | None = None  # another port of that server (the sandbox's own origin); default server.port


def load(server: "Server", requests_: list[dict], count: int, concurrency: int, unique: bool,
         port: int | None = None) -> dict:
    """Run the load generator in its own process and add the server's CPU time."""
    spec = {"host": "127.0.0.1", "port": port or server.port, "count": count, "concurrency": concurrency,
            "requests": requests_, "unique": unique}
    cpu0 = server.worker_cpu()
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "loadgen.py")], input=json.dumps(spec),
                         capture_output=True, text=True, check=False)
    cpu1 = server.worker_cpu()
    if out.returncode != 0:
        raise SystemExit(f"bench: the load generator failed: {out.stderr.strip()}")
    result = json.loads(out.stdout)
    result["server_cpu"] = cpu1 - cpu0
    return result


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise(result: dict, count: int) -> dict:
    lat = result["latencies"]
    return {
        "n": count,
        "rps": len(lat) / result["wall"] if result["wall"] else 0.0,
        "p50_ms": percentile(lat, 0.50) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000,
        "errors": result["errors"],
        "error_samples": result["error_samples"],
        "server_cpu_ms": result["server_cpu"] / count * 1000,
        "client_cpu_ms": result["cpu"] / count * 1000,
        "round_rps": result["round_rps"],
    }


# --------------------------------------------------------------------------- the sandbox (issue 3) and one-step issue (issue 4)


class Sandbox:
    """Channels and keys made through the sandbox's admin API, so issue requests never hit the 30-token limit."""

    def __init__(self, server: Server, private: dict, public: dict):
        self.server, self.private, self.public = server, private, public
        self.http = requests.Session()

    def available(self) -> str | None:
        """None if the sandbox's admin API answers, else why not."""
        try:
            r = self.http.post(self.server.url + "/sandbox/api/channels", json={"name": "bench probe"}, timeout=10)
        except requests.RequestException as e:
            return f"sandbox unreachable ({e})"
        if r.status_code != 201:
            return f"POST /sandbox/api/channels answered {r.status_code}: the sandbox (issue 3) is not in this build"
        return None

    def channel(self) -> tuple[str, str]:
        """A new channel with our public key registered: (channel_id, kid)."""
        r = self.http.post(self.server.url + "/sandbox/api/channels", json={"name": "bench"}, timeout=10)
        r.raise_for_status()
        channel_id = r.json()["channel_id"]
        r = self.http.post(f"{self.server.url}/sandbox/api/channels/{channel_id}/keys", json=self.public, timeout=10,
                           auth=(channel_id, r.json()["channel_secret"]))
        r.raise_for_status()
        return channel_id, r.json()["kid"]

    def issue_direct(self, channel_id: str, kid: str) -> str:
        """A token straight from the sandbox's LINE endpoint (for the verify row)."""
        assertion = signing.build_assertion(channel_id, kid, signing.load_private_key(self.private), 86400)
        r = self.http.post(self.server.url + "/sandbox/oauth2/v2.1/token", timeout=10, data={
            "grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion})
        r.raise_for_status()
        return r.json()["access_token"]

    def proxy_available(self, channel_id: str, kid: str) -> str | None:
        """None if the one-step issue page (issue 4) answers with a sandbox token, else why not."""
        try:
            r = self.http.post(self.server.url + "/oauth2/v2.1/token", timeout=10, json={
                "target": "sandbox", "channel_id": channel_id, "kid": kid, "private_key": self.private,
                "token_exp": 86400})
        except requests.RequestException as e:
            return f"one-step issue unreachable ({e})"
        if r.status_code != 200 or "access_token" not in r.text:
            return (f"POST /oauth2/v2.1/token answered {r.status_code} {r.text[:120]!r}: "
                    "the proxy's one-step issue (issue 4) is not in this build")
        return None


# --------------------------------------------------------------------------- in-process costs


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def in_process(private: dict, repeats: int) -> dict:
    """One sign: the 2020 path (jwcrypto import with full RSA validation) vs ours, and the raw RSA signature."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from jwcrypto import jwk, jwt

    text = json.dumps(private)

    def naive():
        key = jwk.JWK.from_json(text)  # OpenSSL re-checks the primes on every load
        now = int(time.time())
        token = jwt.JWT(header={"alg": "RS256", "typ": "JWT", "kid": "k"},
                        claims={"iss": CHANNEL, "sub": CHANNEL, "aud": signing.LINE_AUDIENCE,
                                "exp": now + 1800, "token_exp": 86400})
        token.make_signed_token(key)
        return token.serialize()

    def ours():
        return signing.build_assertion(CHANNEL, "k", signing.load_private_key(text), 86400)

    loaded = signing.load_private_key(text).key
    message = b"x" * 400  # about the size of a LINE assertion's signing input

    def raw():
        return loaded.sign(message, padding.PKCS1v15(), hashes.SHA256())

    numbers = loaded.private_numbers()

    def raw_fresh():
        """A key object made afresh from its numbers (no validation), then its first signature:
        what every sign request pays, as each brings its own key and none is kept."""
        key = numbers.private_key(unsafe_skip_rsa_key_validation=True)
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    ours(), naive(), raw()  # first calls import and warm caches
    return {
        "naive_sign_ms": median_ms(naive, max(3, repeats // 10)),
        "ours_sign_ms": median_ms(ours, repeats),
        "ours_load_ms": median_ms(lambda: signing.load_private_key(text), repeats),
        "raw_sign_ms": median_ms(raw, repeats),
        "raw_fresh_sign_ms": median_ms(raw_fresh, repeats),
    }


# Start-up (issue 20, item 8): each command in a fresh interpreter, as a user starts it. Name -> (argv after
# the interpreter, the yardstick it is held to, the allowance over it in seconds).
STARTUP = {
    "flask": (["-c", "import flask"], None, None),
    "click": (["-c", "import click"], None, None),
    "app": (["-c", "import app"], "flask", 0.1),  # the Procfile's module: `import app` <= `import flask` + 0.1 s
    # `line-token --help` <= `import click` + 0.15 s: the help needs no key, no HTTP client, no sandbox.
    "cli_help": (["-m", "line_token.cli", "--help"], "click", 0.15),
    # `line-token sandbox channels create` on the local sandbox (a fresh file in a throwaway XDG_DATA_HOME)
    # <= `import flask` + 0.15 s: it reaches the sandbox's service layer and needs no Flask app.
    "cli_sandbox_create": (["-m", "line_token.cli", "sandbox", "channels", "create", "--name", "bench"], "flask", 0.15),
}
STARTUP_LABELS = {"flask": '`python -c "import flask"`', "click": '`python -c "import click"`',
                  "app": '`python -c "import app"`', "cli_help": "`line-token --help`",
                  "cli_sandbox_create": "`line-token sandbox channels create` (local sandbox, fresh file)"}


def startup_times(repeats: int, tmp: Path) -> dict:
    """Median wall and CPU seconds of each STARTUP command in a fresh interpreter, the commands interleaved
    round by round, after one warm-up round that writes bytecode. CPU time says what a start costs even when
    other work slows the wall clock. ``{name}_s`` and ``{name}_cpu_s`` (``app_s``, ``flask_s`` as before)."""
    import resource

    env = {**os.environ, "SANDBOX_DATABASE": str(tmp / "import.sqlite3"), "SECRET_KEY": "bench-secret",
           # The first run of each writes bytecode, as a first start would: to a throwaway folder, for
           # flask's modules and ours alike (a cache prefix is read instead of the __pycache__ folders).
           # With PYTHONDONTWRITEBYTECODE set (as in some shells and images) nothing would be written,
           # and every run would compile our modules from source while flask's came precompiled by pip.
           "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in ("DATABASE_URL", "SANDBOX_ENABLED", "LANG", "LC_ALL", "LANGUAGE"):  # the default set-up, English
        env.pop(name, None)
    figures = {name: ([], []) for name in STARTUP}
    for i in range(repeats + 1):
        for name, (argv, *_) in STARTUP.items():
            run_env = env
            if name == "cli_sandbox_create":
                # The CLI's local sandbox lives in $XDG_DATA_HOME/line-token: a new empty folder per run, so every
                # run creates the file and its tables as a first use does.
                data = Path(tempfile.mkdtemp(prefix="xdg-", dir=tmp))
                run_env = {**env, "XDG_DATA_HOME": str(data)}
                run_env.pop("SANDBOX_DATABASE")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, *argv], cwd=ROOT, env=run_env, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if i:
                figures[name][0].append(wall)
                figures[name][1].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    times = {f"{name}_{kind}": statistics.median(values)
             for name, (walls, cpus) in figures.items() for kind, values in (("s", walls), ("cpu_s", cpus))}
    times["serve_ready_s"] = serve_ready_time(repeats, env)
    return times


SERVE_READY_ALLOWANCE = 1.0  # issue 21 item 1: `line-token sandbox serve` is "ready within a second"


def serve_ready_time(repeats: int, env: dict) -> float:
    """Median wall seconds from starting `line-token sandbox serve --database :memory:` to its first answer
    (GET /openapi.json, polled every 5 ms), after one warm-up start; each server is stopped (SIGTERM) after."""
    walls = []
    for i in range(repeats + 1):
        port = free_port()
        t0 = time.perf_counter()
        serve = subprocess.Popen([sys.executable, "-m", "line_token.cli", "sandbox", "serve", "--port", str(port),
                                  "--database", ":memory:"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            while True:
                if serve.poll() is not None:
                    raise SystemExit(f"bench: `line-token sandbox serve` exited with {serve.returncode}")
                if time.perf_counter() - t0 > 30:
                    raise SystemExit("bench: `line-token sandbox serve` did not answer within 30 s")
                try:
                    if requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.005)
            wall = time.perf_counter() - t0
        finally:
            serve.terminate()
            serve.wait(10)
        if i:
            walls.append(wall)
    return statistics.median(walls)


def startup_checks(imp: dict) -> list[tuple[str, bool, str]]:
    """Issue 20's start-up targets (and issue 16's import target) from startup_times' figures: by wall clock,
    as the issue states them, with the CPU difference beside (steadier on a busy machine)."""
    checks = []
    for name, (_, unit, allowance) in STARTUP.items():
        if unit is None or f"{name}_s" not in imp:
            continue
        over, over_cpu = imp[f"{name}_s"] - imp[f"{unit}_s"], imp[f"{name}_cpu_s"] - imp[f"{unit}_cpu_s"]
        checks.append((f"{STARTUP_LABELS[name]} <= {STARTUP_LABELS[unit]} + {allowance} s", over <= allowance,
                       f"{over:+.3f} s wall ({over_cpu:+.3f} s CPU)"))
    if "serve_ready_s" in imp:
        checks.append((f"`line-token sandbox serve` answers within {SERVE_READY_ALLOWANCE:.0f} s of its start",
                       imp["serve_ready_s"] <= SERVE_READY_ALLOWANCE, f"{imp['serve_ready_s']:.3f} s"))
    return checks


def print_startup(imp: dict, repeats: int) -> None:
    print(f"Start-up, fresh interpreter, bytecode cached, median of {repeats} after one warm-up:")
    print("| command | wall s | CPU s |")
    print("|---|--:|--:|")
    for name in STARTUP:
        print(f"| {STARTUP_LABELS[name]} | {imp[name + '_s']:.3f} | {imp[name + '_cpu_s']:.3f} |")
    if "serve_ready_s" in imp:
        print(f"| `line-token sandbox serve --database :memory:`, start to first answer | {imp['serve_ready_s']:.3f} | |")


# --------------------------------------------------------------------------- the run


def static_path(server: Server, name: str) -> str:
    """The URL our pages give for a static file (the hashed name, static_files.py), else the plain one."""
    html = requests.get(server.url + "/", timeout=10).text
    stem, _, ext = name.rpartition(".")
    found = re.search(rf'"(/static/{re.escape(stem)}(?:\.[0-9a-f]{{12}})?\.{re.escape(ext)})"', html)
    return found.group(1) if found else f"/static/{name}"


def build_rows(server: Server, reference: Server, private: dict, public: dict, notes: list[str]) -> list[Row]:
    port = server.port
    kid = "bench-kid"

    def hello(count):
        return [{"raw": raw_request(reference.port, "GET", "/"), "status": 200, "expect": "Hello, world."}]

    def echo(count):
        body = {"channel_id": CHANNEL, "kid": kid, "private_key": private, "token_exp": 86400}  # the sign body
        return [{"raw": raw_request(reference.port, "POST", "/echo", body), "status": 200, "expect": '"length"'}]

    def home(count):
        return [{"raw": raw_request(port, "GET", "/"), "status": 200, "expect": "</html>"}]

    css = static_path(server, "app.css")

    def static(count):
        # As a browser asks: it gets the Brotli variant (binary, so the check is the status only).
        return [{"raw": raw_request(port, "GET", css, headers=("Accept-Encoding: gzip, deflate, br",)),
                 "status": 200, "expect": ""}]

    def page(count):
        return [{"raw": raw_request(port, "GET", "/oauth2/v2.1/jwt"), "status": 200, "expect": "csrf_token"}]

    def sign(count):
        body = {"channel_id": CHANNEL, "kid": kid, "private_key": private, "token_exp": 86400}
        return [{"raw": raw_request(port, "POST", "/oauth2/v2.1/jwt", body), "status": 200,
                 "expect": '"response_body"'}]

    def refsign(count):
        body = {"channel_id": CHANNEL, "kid": kid, "private_key": private, "token_exp": 86400}  # the sign body
        return [{"raw": raw_request(reference.port, "POST", "/sign", body), "status": 200,
                 "expect": '"response_body"'}]

    def sign_2020(count):
        now = int(time.time())
        body = {"header": json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}),
                "payload": json.dumps({"iss": CHANNEL, "sub": CHANNEL, "aud": signing.LINE_AUDIENCE,
                                       "exp": now + 1800, "token_exp": 86400}),
                "privatekey": json.dumps(private)}
        return [{"raw": raw_request(port, "POST", "/oauth2/v2.1/jwt", body), "status": 200,
                 "expect": '"response_body"'}]

    rows = [Row("hello", "reference hello: GET / (bench/reference.py)", hello, reference),
            Row("echo", "reference JSON: POST /echo (the sign body)", echo, reference),
            Row("page", "page view: GET /oauth2/v2.1/jwt", page, server),
            Row("home", "home: GET /", home, server),
            Row("static", f"static file: GET {re.sub(r'[.][0-9a-f]{12}[.]', '.<hash>.', css)}", static, server),
            Row("refsign", "reference sign: POST /sign (bench/reference.py, the sign body)", refsign, reference),
            Row("sign", "sign: POST /oauth2/v2.1/jwt (guided JSON)", sign, server),
            Row("sign2020", "sign: POST /oauth2/v2.1/jwt (2020 contract)", sign_2020, server)]

    sandbox = Sandbox(server, private, public)
    why_not = sandbox.available()
    if why_not:
        notes.append(f"SKIPPED one-step issue, sandbox verify and sandbox kids: {why_not}.")
        return rows

    home_channel, home_kid = sandbox.channel()
    token = sandbox.issue_direct(home_channel, home_kid)

    def verify(count):
        return [{"raw": raw_request(port, "GET", f"/sandbox/oauth2/v2.1/verify?access_token={quote(token)}"),
                 "status": 200, "expect": '"client_id"'}]

    def kids(count):
        assertion = signing.build_assertion(home_channel, home_kid, signing.load_private_key(private), 86400)
        path = f"/sandbox/oauth2/v2.1/tokens/kid?client_assertion_type={quote(JWT_BEARER)}&client_assertion={assertion}"
        return [{"raw": raw_request(port, "GET", path), "status": 200, "expect": '"kids"'}]

    def issue(count):
        # A fresh channel for every TOKENS_PER_CHANNEL requests: a "maximum number of access
        # tokens" answer (400 inside the 200 envelope) would measure the refusal, not the issue.
        reqs = []
        while len(reqs) < count:
            channel_id, channel_kid = sandbox.channel()
            body = {"target": "sandbox", "channel_id": channel_id, "kid": channel_kid,
                    "private_key": private, "token_exp": 86400}
            reqs += [{"raw": raw_request(port, "POST", "/oauth2/v2.1/token", body), "status": 200,
                      "expect": '"access_token"'}] * TOKENS_PER_CHANNEL
        return reqs[:count]

    proxy_channel, proxy_kid = sandbox.channel()
    why_not = sandbox.proxy_available(proxy_channel, proxy_kid)
    if why_not:
        notes.append(f"SKIPPED one-step issue: {why_not}.")
    else:
        rows.append(Row("issue", "one-step issue: POST /oauth2/v2.1/token (sandbox)", issue, server, unique=True))
    rows += [Row("verify", "sandbox verify: GET /sandbox/oauth2/v2.1/verify", verify, server),
             Row("kids", "sandbox kids: GET /sandbox/oauth2/v2.1/tokens/kid", kids, server)]
    return rows


# Garbage each verify (and the issue) is asked about in the correctness rows, and LINE's answer to it
# (docs/line-api.md §5.3, §5.7, §9): the sandbox must refuse each exactly so; a static mock answers its example.
GARBAGE = [
    ("GET /oauth2/v2.1/verify, access_token=abc", "GET", "/oauth2/v2.1/verify?access_token=abc", None,
     {"error": "invalid_request", "error_description": "The access token not JWS"}),
    ("POST /v2/oauth/verify, access_token=abc", "POST", "/v2/oauth/verify", {"access_token": "abc"},
     {"error": "invalid_request", "error_description": "access_token in invalid format"}),
    ("POST /oauth2/v2.1/token, client_assertion=abc", "POST", "/oauth2/v2.1/token",
     {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": "abc"},
     {"error": "invalid_client", "error_description": "Invalid assertion"}),
]


def garbage_answers(base: str) -> list[dict]:
    """What ``base`` answers to each GARBAGE request: status and body."""
    out = []
    for label, method, path, form, _ in GARBAGE:
        r = requests.request(method, base + path, data=form, timeout=30)
        try:
            body = r.json()
        except ValueError:
            body = r.text[:200]
        out.append({"request": label, "status": r.status_code, "body": body})
    return out


def build_origin_rows(origin: Server, prism: Prism | None, private: dict, public: dict,
                      notes: list[str]) -> list[Row]:
    """Issue 21: verify and issue on the sandbox's own origin (SANDBOX_PORT) and, with the same requests
    in the same rounds, on Prism mocking the sandbox's OpenAPI document."""
    sandbox = Sandbox(origin, private, public)  # the admin API on the same server's /sandbox: the same store
    why_not = sandbox.available()
    if why_not:
        notes.append(f"SKIPPED the sandbox origin and Prism rows: {why_not}.")
        return []
    port = origin.sandbox_port
    home_channel, home_kid = sandbox.channel()
    verify_path = f"/oauth2/v2.1/verify?access_token={quote(sandbox.issue_direct(home_channel, home_kid))}"

    def issue_form(channel_id: str, kid: str) -> dict:
        assertion = signing.build_assertion(channel_id, kid, signing.load_private_key(private), 86400)
        return {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion}

    def verify_at(at: int):
        def build(count):
            return [{"raw": raw_request(at, "GET", verify_path), "status": 200, "expect": '"client_id"'}]
        return build

    def origin_issue(count):
        # A fresh channel every TOKENS_PER_CHANNEL requests, as the one-step issue row: under the 30-token limit.
        reqs = []
        while len(reqs) < count:
            form = issue_form(*sandbox.channel())
            reqs += [{"raw": raw_request(port, "POST", "/oauth2/v2.1/token", form=form), "status": 200,
                      "expect": '"access_token"'}] * TOKENS_PER_CHANNEL
        return reqs[:count]

    def prism_issue(count):
        # The same request, byte for byte in shape and size (Prism checks no signature and keeps no state).
        return [{"raw": raw_request(prism.port, "POST", "/oauth2/v2.1/token", form=issue_form(home_channel, home_kid)),
                 "status": 200, "expect": '"access_token"'}]

    rows = [Row("origin_verify", "sandbox origin verify: GET /oauth2/v2.1/verify (SANDBOX_PORT)", verify_at(port),
                origin, port=port)]
    if prism:
        rows.append(Row("prism_verify", f"Prism {prism_version()} verify: GET /oauth2/v2.1/verify (mocking "
                        "line_token/sandbox/openapi.json)", verify_at(prism.port), prism))
    rows.append(Row("origin_issue", "sandbox origin issue: POST /oauth2/v2.1/token (form; RS256 check, state written)",
                    origin_issue, origin, unique=True, port=port))
    if prism:
        rows.append(Row("prism_issue", f"Prism {prism_version()} issue: POST /oauth2/v2.1/token (the same form)",
                        prism_issue, prism))
    return rows


def measure(rows: list[Row], concurrencies: list[int], count: int, warmup: int,
            rounds: int) -> None:
    """At each concurrency, ``rounds`` interleaved rounds of every row, count/rounds requests each.

    Interleaving keeps the ratios fair on a shared machine: a burst of someone
    else's load slows every row a little instead of one row a lot.
    """
    for row in rows:
        load(row.server, row.build(warmup), warmup, 8, row.unique, row.port)  # warm-up: imports, caches, connections
    per_round = [count // rounds + (1 if i < count % rounds else 0) for i in range(rounds)]
    for c in concurrencies:
        totals = {row.key: {"latencies": [], "errors": 0, "error_samples": [], "wall": 0.0, "cpu": 0.0,
                            "server_cpu": 0.0, "round_rps": []} for row in rows}
        for n in per_round:
            for row in rows:
                result = load(row.server, row.build(n), n, c, row.unique, row.port)
                total = totals[row.key]
                total["latencies"] += result["latencies"]
                total["round_rps"].append(len(result["latencies"]) / result["wall"] if result["wall"] else 0.0)
                total["error_samples"] = (total["error_samples"] + result["error_samples"])[:3]
                for name in ("errors", "wall", "cpu", "server_cpu"):
                    total[name] += result[name]
        for row in rows:
            row.results[c] = r = summarise(totals[row.key], count)
            print(f"  {row.key:<8} c={c:<3} {r['rps']:8.1f} req/s  p99 {r['p99_ms']:7.2f} ms"
                  f"  errors {r['errors']}", file=sys.stderr, flush=True)
            for sample in r["error_samples"]:
                print(f"      {sample}", file=sys.stderr)


def report(rows: list[Row], concurrencies: list[int], extra: dict, notes: list[str]) -> list[str]:
    """Print the table and the targets; return the missed targets."""
    by_key = {row.key: row for row in rows}
    hello, page = by_key["hello"].results, by_key["page"].results
    nan = float("nan")

    def ratio(a: float, b: float) -> float:
        return a / b if b else nan

    def rps_ratio(r: dict, unit: dict) -> float:
        """Median over the rounds of req/s ÷ the unit's req/s in the same round: a burst of outside
        load during one row's turn moves one round's ratio, not the result."""
        pairs = [ratio(a, b) for a, b in zip(r["round_rps"], unit["round_rps"])]
        return statistics.median(pairs) if pairs else ratio(r["rps"], unit["rps"])

    out = ["| endpoint | conc | req/s | p50 ms | p99 ms | errors | × hello req/s | × hello by CPU | × page req/s "
           "| server CPU ms/req | client CPU ms/req |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for row in rows:
        for c in concurrencies:
            r = row.results[c]
            out.append(f"| {row.name} | {c} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} "
                       f"| {rps_ratio(r, hello[c]):.2f} | {ratio(hello[c]['server_cpu_ms'], r['server_cpu_ms']):.2f} "
                       f"| {rps_ratio(r, page[c]):.2f} | {r['server_cpu_ms']:.2f} | {r['client_cpu_ms']:.2f} |")
    print("\n".join(out))

    ip = extra["in_process"]
    c8 = 8 if 8 in concurrencies else concurrencies[len(concurrencies) // 2]
    at = {key: row.results[c8] for key, row in by_key.items()}
    to_hello = {key: rps_ratio(r, at["hello"]) for key, r in at.items()}
    # The physical limit for a JSON sign: the reference JSON request plus one raw RSA-2048 signature,
    # as a req/s ratio to the hello: echo's ratio scaled by echo_cost / (echo_cost + raw signature).
    echo_cpu = at["echo"]["server_cpu_ms"]
    limit = to_hello["echo"] * echo_cpu / (echo_cpu + ip["raw_sign_ms"])
    limit_cpu = ratio(at["hello"]["server_cpu_ms"], echo_cpu + ip["raw_sign_ms"])
    sign = at.get("sign")
    sign_ratio = to_hello.get("sign", nan)
    sign_cpu_ratio = ratio(at["hello"]["server_cpu_ms"], sign["server_cpu_ms"]) if sign else nan
    p99_ratio = ratio(sign["p99_ms"], at["page"]["p99_ms"]) if sign else nan
    print("(× hello and × page req/s: the median over the rounds of each round's ratio; CPU: over the whole run)")
    print()
    print("In process, one sign (median):")
    print(f"  naive, jwcrypto JWK import with full RSA validation: {ip['naive_sign_ms']:8.2f} ms")
    print(f"  ours, signing.load_private_key + build_assertion:    {ip['ours_sign_ms']:8.2f} ms"
          f"  ({ip['naive_sign_ms'] / ip['ours_sign_ms']:.0f}x faster; key load {ip['ours_load_ms']:.2f} ms)")
    print(f"  raw RSA-2048 PKCS#1 v1.5 signature:                  {ip['raw_sign_ms']:8.2f} ms")
    print(f"  raw, fresh key object + its first signature:         {ip['raw_fresh_sign_ms']:8.2f} ms")
    print(f"Signing limit at c={c8}: reference JSON request + one raw signature = {to_hello['echo']:.2f} x hello"
          f" x {echo_cpu:.2f} / ({echo_cpu:.2f} + {ip['raw_sign_ms']:.2f}) = {limit:.2f} x hello"
          f" (by server CPU: {limit_cpu:.2f})")
    print(f"  ours: sign = {sign_ratio:.2f} x hello req/s ({ratio(sign_ratio, limit):.0%} of the limit);"
          f" by server CPU {sign_cpu_ratio:.2f} ({ratio(sign_cpu_ratio, limit_cpu):.0%})")
    fresh = ip["raw_fresh_sign_ms"]
    limit_fresh = to_hello["echo"] * echo_cpu / (echo_cpu + fresh)
    limit_fresh_cpu = ratio(at["hello"]["server_cpu_ms"], echo_cpu + fresh)
    print(f"  with a fresh key's signature ({fresh:.2f} ms) the limit is {limit_fresh:.2f} x hello (by CPU"
          f" {limit_fresh_cpu:.2f}): ours is {ratio(sign_ratio, limit_fresh):.0%} ({ratio(sign_cpu_ratio, limit_fresh_cpu):.0%})")
    if sign and "refsign" in at:
        ref = at["refsign"]
        print(f"  the reference sign (bench/reference.py POST /sign: Flask + our signing, nothing else) is"
              f" {to_hello['refsign']:.2f} x hello (by CPU {ratio(at['hello']['server_cpu_ms'], ref['server_cpu_ms']):.2f},"
              f" {ref['server_cpu_ms']:.2f} ms/req): ours is {ratio(sign_ratio, to_hello['refsign']):.0%} of it"
              f" ({ratio(ref['server_cpu_ms'], sign['server_cpu_ms']):.0%} by CPU, {sign['server_cpu_ms']:.2f} ms/req)")
    rss = extra["rss_mb"]
    print(f"Worker RSS after the run: {', '.join(f'{m:.1f}' for m in rss)} MB")
    imp = extra["import"]
    print_startup(imp, extra["import_repeats"])
    names = {"page": "JWT page view", "home": "home", "sign": "JSON sign", "issue": "one-step sandbox issue",
             "verify": "sandbox verify", "static": "static file"}
    checks = [(f"{names[key]} >= {target} x hello at c={c8}", to_hello[key] >= target, f"{to_hello[key]:.2f}")
              for key, target in TARGETS.items() if key in to_hello]
    if sign:
        checks.insert(3, (f"JSON sign >= {TARGET_SIGN_OF_LIMIT:.0%} of the limit {limit:.2f}",
                          sign_ratio >= TARGET_SIGN_OF_LIMIT * limit, f"{ratio(sign_ratio, limit):.0%}"))
        checks.append((f"sign p99 <= {TARGET_SIGN_P99} x page p99 at c={c8}", p99_ratio <= TARGET_SIGN_P99,
                       f"{p99_ratio:.2f}x"))
    total_errors = sum(r["errors"] for row in rows for r in row.results.values())
    checks += [
        (f"zero errors up to c={max(concurrencies)}", total_errors == 0, str(total_errors)),
        (f"worker RSS <= {TARGET_RSS_MB} MB", bool(rss) and max(rss) <= TARGET_RSS_MB, f"{max(rss or [0]):.1f} MB"),
        *startup_checks(imp),
    ]
    print("Targets (issue 16):")
    for text, ok, value in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}: {value}")
    prism_checks, prism_ratios = report_prism(by_key, concurrencies, c8, extra.get("prism"), rps_ratio)
    for note in notes:
        print(f"NOTE: {note}")
    extra["summary"] = {"limit": limit, "limit_cpu": limit_cpu, "limit_fresh": limit_fresh,
                        "limit_fresh_cpu": limit_fresh_cpu, "sign_ratio": sign_ratio,
                        "sign_cpu_ratio": sign_cpu_ratio, "sign_p99_ratio": p99_ratio, "to_hello": to_hello,
                        "checks": [[t, ok, v] for t, ok, v in checks],
                        "prism_ratios": prism_ratios, "prism_checks": [[t, ok, v] for t, ok, v in prism_checks]}
    return [text for text, ok, _ in checks + prism_checks if not ok]


def report_prism(by_key: dict, concurrencies: list[int], c8: int, prism: dict | None, rps_ratio) -> tuple[list, dict]:
    """Issue 21's rows: the sandbox origin against Prism, req/s ratios per concurrency, what each answers to
    garbage, and the targets. Returns the checks and the ratios ("verify@8": ours ÷ Prism; "hello@8": the
    reference hello ÷ Prism's verify, the ceiling)."""
    if not prism or "origin_verify" not in by_key:
        return [], {}
    version = prism.get("version")
    print()
    if version:
        print(f"Ahead of Prism (issue 21): the sandbox's own origin (gunicorn with the Procfile's config, SANDBOX_PORT) "
              f"and Prism {version} (`prism mock --verboseLevel {prism['log_level']}`, one node process) mocking "
              "line_token/sandbox/openapi.json: the same requests in the same rounds. ours ÷ Prism = the median over the "
              "rounds of each round's req/s ratio.")
    else:
        print(f"Ahead of Prism (issue 21): SKIPPED the Prism rows: {prism['skipped']}.")
    ratios = {}
    out = ["| request | conc | ours req/s | Prism req/s | ours ÷ Prism | ours CPU ms/req | Prism CPU ms/req "
           "| ours ÷ Prism by CPU |", "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for kind in ("verify", "issue"):
        ours, other = by_key.get(f"origin_{kind}"), by_key.get(f"prism_{kind}")
        if not ours or not other:
            continue
        for c in concurrencies:
            o, p = ours.results[c], other.results[c]
            ratios[f"{kind}@{c}"] = r = rps_ratio(o, p)
            by_cpu = p["server_cpu_ms"] / o["server_cpu_ms"] if o["server_cpu_ms"] else float("nan")
            out.append(f"| {kind} | {c} | {o['rps']:.0f} | {p['rps']:.0f} | {r:.2f} | {o['server_cpu_ms']:.2f} "
                       f"| {p['server_cpu_ms']:.2f} | {by_cpu:.2f} |")
    if ratios:
        print("\n".join(out))
    hello, prism_verify = by_key.get("hello"), by_key.get("prism_verify")
    if hello and prism_verify:
        # What no request of ours can beat: the reference app (Flask answering a constant, the same gunicorn
        # config and worker count) against Prism's verify, in the same rounds.
        for c in concurrencies:
            ratios[f"hello@{c}"] = rps_ratio(hello.results[c], prism_verify.results[c])
        print("Ceiling: the reference hello (Flask answering a constant, same config) ÷ Prism's verify: "
              + ", ".join(f"{ratios[f'hello@{c}']:.2f} at c={c}" for c in concurrencies))
    print("What each answers to garbage:")
    rows = ["| request | ours | Prism |", "|---|---|---|"]
    prism_answers = prism["garbage"].get("prism") or [None] * len(GARBAGE)
    for ours_answer, prism_answer in zip(prism["garbage"]["ours"], prism_answers):
        def shown(answer):
            if answer is None:
                return "not run"
            body = json.dumps(answer["body"], ensure_ascii=False)
            return f"{answer['status']} `{body if len(body) <= 110 else body[:100] + '…'}`"
        rows.append(f"| {ours_answer['request']} | {shown(ours_answer)} | {shown(prism_answer)} |")
    print("\n".join(rows))
    checks = [(f"{kind} on the sandbox origin >= {target} x Prism's req/s at c={c8}", ratios[f"{kind}@{c8}"] >= target,
               f"{ratios[f'{kind}@{c8}']:.2f}") for kind, target in TARGETS_PRISM.items() if f"{kind}@{c8}" in ratios]
    refused = sum(a["status"] == 400 and a["body"] == expected
                  for a, (*_, expected) in zip(prism["garbage"]["ours"], GARBAGE))
    prism_refused = sum(a is not None and a["status"] >= 400 for a in prism_answers)
    checks.append(("ours refuses every garbage request with LINE's error", refused == len(GARBAGE),
                   f"{refused} of {len(GARBAGE)}; Prism refused "
                   + (f"{prism_refused} of {len(GARBAGE)}" if version else "(not run)")))
    print("Targets (issue 21, against Prism):")
    for text, ok, value in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}: {value}")
    return checks, ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few requests per row (CI)")
    parser.add_argument("--requests", type=int, help="requests per row and concurrency (default 2000; smoke 40)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds per concurrency, each row in turn (default 5)")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated (default 1,8,32)")
    parser.add_argument("--rows", help="only rows whose name starts with one of these, comma-separated "
                        "(e.g. sign,issue; the reference rows and the page view are always measured: they are the units)")
    parser.add_argument("--prism-log", default="error", choices=("error", "warn", "info"),
                        help="Prism's --verboseLevel (default error: Prism at its quickest; info is Prism's own default)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--only", choices=("startup",),
                        help="startup: only the start-up rows (import app, line-token --help, line-token sandbox "
                             "channels create, beside import flask and import click); no servers")
    args = parser.parse_args(argv)
    if args.only == "startup":
        return main_startup(args)
    count = args.requests or (40 if args.smoke else 2000)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    warmup = 16 if args.smoke else 200
    rounds = 1 if args.smoke else args.rounds

    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
               "cpu": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                            if line.startswith("model name")), "?") if Path("/proc/cpuinfo").exists() else "?",
               "load_before": os.getloadavg()}
    print(f"bench: {machine['cpu']}, {machine['cpus']} CPUs, Python {machine['python']}, "
          f"load {machine['load_before'][0]:.2f}; {count} requests per row and concurrency "
          f"{concurrencies} in {rounds} interleaved rounds, after {warmup} warm-up", file=sys.stderr)
    private, public = signing.generate_key_pair()
    notes: list[str] = []
    extra: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        tmp = Path(tmp_name)
        server = Server(tmp).start()
        reference = origin = prism = None
        try:
            reference = Server(tmp, "bench.reference:app", "reference").start()
            # The sandbox's own origin as deployed: the Procfile server with SANDBOX_PORT (its own database).
            sandbox_port = free_port()
            origin = Server(tmp, name="origin", extra_env={"SANDBOX_PORT": str(sandbox_port),
                                                           "SANDBOX_DATABASE": str(tmp / "origin.sqlite3")})
            origin.sandbox_port = sandbox_port
            origin.start()
            why_not = prism_missing()
            if why_not:
                notes.append(f"SKIPPED the Prism rows: {why_not}.")
                print(f"bench: SKIPPED the Prism rows: {why_not}", file=sys.stderr)
            else:
                prism = Prism(tmp, args.prism_log).start()
            rows = build_rows(server, reference, private, public, notes)
            rows += build_origin_rows(origin, prism, private, public, notes)
            extra["prism"] = {"version": prism_version() if prism else None, "skipped": why_not,
                              "log_level": args.prism_log, "garbage": {
                "ours": garbage_answers(f"http://127.0.0.1:{sandbox_port}"),
                "prism": garbage_answers(prism.url) if prism else None}}
            if args.rows:
                wanted = {"hello", "echo", "page", *args.rows.split(",")}
                rows = [row for row in rows if row.key in wanted]
            measure(rows, concurrencies, count, warmup, rounds)
            extra["rss_mb"] = server.worker_rss_mb()
            machine["worker_class"] = server.worker_class()
            machine["workers"] = len(server.workers())
            extra["reference_rss_mb"] = reference.worker_rss_mb()
        finally:
            for running in (server, reference, origin, prism):
                if running:
                    running.stop()
        extra["in_process"] = in_process(private, 30 if args.smoke else 300)
        extra["import_repeats"] = 1 if args.smoke else 5
        extra["import"] = startup_times(extra["import_repeats"], tmp)
    machine["load_after"] = os.getloadavg()
    print(f"Load average (1 min) before/after: {machine['load_before'][0]:.2f} / {machine['load_after'][0]:.2f}"
          f" on {machine['cpus']} CPUs")
    print(f"Server: gunicorn.conf.py as the Procfile uses it, {machine.get('workers', '?')} "
          f"{machine.get('worker_class', '?')} workers (the reference app under the same config)")
    missed = report(rows, concurrencies, extra, notes)
    if args.json:
        args.json.write_text(json.dumps({
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine,
            "command": " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])]),
            "rows": {row.key: {str(c): {k: v for k, v in r.items() if k != "error_samples"}
                                for c, r in row.results.items()} for row in rows},
            "errors": sum(r["errors"] for row in rows for r in row.results.values()),
            "missed": missed, "notes": notes, **extra}, indent=2))
    errors = sum(r["errors"] for row in rows for r in row.results.values())
    return 1 if errors else 0


def main_startup(args) -> int:
    """``--only startup``: the start-up rows alone, a few seconds, no servers started."""
    repeats = 1 if args.smoke else 5
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        imp = startup_times(repeats, Path(tmp_name))
    load_after = os.getloadavg()
    print(f"Load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} CPUs")
    print_startup(imp, repeats)
    checks = startup_checks(imp)
    print("Targets (start-up: issues 16 and 20):")
    for text, ok, value in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}: {value}")
    if args.json:
        args.json.write_text(json.dumps({
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load_before,
                        "load_after": load_after},
            "import": imp, "import_repeats": repeats, "checks": [[t, ok, v] for t, ok, v in checks],
            "missed": [t for t, ok, _ in checks if not ok]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

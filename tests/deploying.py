"""The pieces of a public deploy, run for real on loopback by the tests that need them:

* ``TLSProxy``: Debian's nginx as a TLS-terminating reverse proxy in front of a Procfile server,
  the way Heroku's router fronts a dyno: HTTPS outside, plain HTTP to gunicorn, with
  ``X-Forwarded-Proto``/``X-Forwarded-For``/``Host`` set and request bodies passed through as they
  arrive (no buffering, as the router does). A throw-away self-signed certificate, made here.
* ``RedisServer``: Debian's redis-server, throw-away (no persistence, its own directory).

Each runs in the foreground as a child of the test process, on a free 127.0.0.1 port, and is
stopped by the fixture that started it. A missing binary is a skip that says how to install it
(or a failure under CI=true, where scripts/test installs them).
"""
from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import LiveServer, free_port


def binary_or_skip(name: str, package: str) -> str:
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None)
    if not path:
        problem = f"{name} is not installed: apt-get install {package} (scripts/test does this)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"deploy tests cannot run under CI: {problem}")
        pytest.skip(problem)
    return path


def wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


def stop(proc: subprocess.Popen | None) -> None:
    from bench.run import stop_process  # one way to stop a server (SIGTERM, then SIGKILL)

    stop_process(proc)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 and localhost, valid for a day (the tests ignore its issuer)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


NGINX_CONF = """
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    # Bigger than the app's 1 MiB limit, so the app (not nginx) answers oversized bodies, as behind the router.
    client_max_body_size 4m;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Port $server_port;
            # Heroku's router passes the body on as it arrives rather than buffering it whole.
            proxy_request_buffering off;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


class TLSProxy:
    """nginx terminating TLS on a free port in front of ``upstream_port`` (a Procfile server)."""

    def __init__(self, directory: Path, upstream_port: int):
        self.nginx = binary_or_skip("nginx", "nginx-light")
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.cert, key = self_signed_certificate(self.dir)  # clients pass verify=proxy.cert
        cert = self.cert
        (self.dir / "nginx.conf").write_text(NGINX_CONF.format(dir=self.dir, port=self.port, upstream=upstream_port,
                                                               cert=cert, key=key))
        self.proc: subprocess.Popen | None = None

    def start(self) -> "TLSProxy":
        log = self.dir / "stderr.log"
        with open(log, "ab") as out:
            # -e: the startup error log too, so nothing is written under /var/log.
            self.proc = subprocess.Popen([self.nginx, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                                          "-e", str(self.dir / "error.log")], stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc, "nginx", log)
        return self

    def stop(self) -> None:
        stop(self.proc)

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.dir / "error.log", self.dir / "access.log")
                       if p.exists())


@contextlib.contextmanager
def behind_tls_proxy(tmp: Path):
    """nginx (TLS) in front of the Procfile server with TRUST_PROXY=1, as Heroku's router: yields (proxy, server)."""
    server = LiveServer(tmp, {"TRUST_PROXY": "1"}, workers=1).start()
    proxy = None
    try:
        proxy = TLSProxy(tmp / "nginx", server.port).start()
        yield proxy, server
    finally:
        if proxy:
            proxy.stop()
        server.stop()


class RedisServer:
    """redis-server on a free port: no RDB snapshots, no append-only file, its own working directory."""

    def __init__(self, directory: Path):
        self.redis = binary_or_skip("redis-server", "redis-server")
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        log = self.dir / "redis.log"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [self.redis, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.dir), "--daemonize", "no", "--protected-mode", "yes"],
                stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc, "redis-server", log)
        return self

    def stop(self) -> None:
        stop(self.proc)

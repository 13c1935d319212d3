"""A throw-away PostgreSQL cluster for the store and sandbox tests, and the ``backend`` fixture
that runs a test once on SQLite and once on PostgreSQL.

Test modules import the fixtures they use (``from pg import backend, postgres``). The cluster
is started once per test process however many modules import it, and stopped when the last
module using it is done. PostgreSQL refuses to run as root, so when we are root the cluster
runs as the ``postgres`` user (Debian's package creates it) in a directory chowned to it.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from line_token.sandbox import store
from conftest import free_port

INSTALL_HINT = ("PostgreSQL is not installed, so the PostgreSQL half of the sandbox tests cannot run. "
                "Install it with: sudo apt-get install postgresql (or run ./scripts/test, which does).")


def find_pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's versioned folders."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(folder, "initdb")) and os.path.exists(os.path.join(folder, "pg_ctl")):
            return Path(folder)
    return None


class PostgresCluster:
    """initdb + pg_ctl start on a free loopback port, trust auth, fsync off (it is thrown away)."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sandbox-pg-"))
        self.data = self.root / "data"
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres" if _user_exists("postgres") else "nobody"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._shared: str | None = None

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> "PostgresCluster":
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self) -> str:
        """A new empty database; returns its URL in the form a deploy's DATABASE_URL has."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def empty_database(self) -> str:
        """The shared test database with the sandbox's tables dropped: as fresh as a new
        database, at a fraction of CREATE DATABASE's cost."""
        import psycopg

        if self._shared is None:
            self._shared = self.create_database()
        tables = ", ".join(table.name for table in reversed(store.metadata.sorted_tables))
        with psycopg.connect(self._shared, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {tables} CASCADE")
        return self._shared


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


_lock = threading.Lock()
_cluster: PostgresCluster | None = None
_users = 0


def _acquire() -> PostgresCluster:
    global _cluster, _users
    with _lock:
        if _cluster is None:
            bin_dir = find_pg_bin()
            if bin_dir is None:
                if os.environ.get("CI") == "true":
                    pytest.fail(INSTALL_HINT)
                pytest.skip(INSTALL_HINT)
            _cluster = PostgresCluster(bin_dir).start()
        _users += 1
        return _cluster


def _release() -> None:
    global _cluster, _users
    with _lock:
        _users -= 1
        if _users == 0 and _cluster is not None:
            _cluster.stop()
            _cluster = None


@pytest.fixture(scope="session")
def postgres():
    """The running cluster (started on first use, stopped at the end of the session)."""
    cluster = _acquire()
    yield cluster
    _release()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> dict:
    """Config overrides selecting a fresh, empty sandbox database on each backend."""
    if request.param == "sqlite":
        return {"SANDBOX_DATABASE": str(tmp_path / "sandbox.sqlite3"), "DATABASE_URL": ""}
    cluster = request.getfixturevalue("postgres")
    return {"SANDBOX_DATABASE": str(tmp_path / "unused.sqlite3"), "DATABASE_URL": cluster.empty_database()}

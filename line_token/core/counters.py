"""Per-client counters shared by processes and instances, and what counts as one client.

The rate limits (``RATE_LIMIT``, ``KEYGEN_RATE_LIMIT``) and the sandbox's failed-authentication limit
(``SANDBOX_AUTH_FAILURE_LIMIT``) keep their counts in one ``limits`` storage: Redis with ``REDIS_URL``
(one budget for all instances), else a small SQLite file beside the sandbox's database, shared by the
workers of one machine (``limits``' own memory storage would count per worker process).

No Flask here: the tester (web/security.py) and the sandbox both use it.
"""
from __future__ import annotations

import ipaddress
import math
import logging
import os
import re
import tempfile
import threading
import time
from typing import Any, Mapping

log = logging.getLogger(__name__)

# One limit in the syntax of ``limits`` (what Flask-Limiter takes): "10/minute", "100 per hour", "5/2 minutes".
RATE_LIMIT_SYNTAX = re.compile(r"\s*\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day|month|year)s?\s*", re.I)

# An IPv6 client is counted by its /64: one subscriber gets a whole /64 (RFC 6177), so counting single
# addresses would give each client 2**64 budgets.
IPV6_CLIENT_PREFIX = 64


def client_bucket(address: str | None) -> str:
    """The key a per-client limit counts under: an IPv4 address as is, an IPv6 one as its /64 network.

    An IPv4-mapped IPv6 address counts as its IPv4 address; anything unreadable as itself (bounded).
    """
    text = (address or "").strip()
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text[:64] or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


def sqlite_storage_class():
    """A ``limits`` storage (fixed windows) in one SQLite file, shared by processes.

    Built on first use so that ``limits`` and ``sqlite3`` are imported only when a limit is counted in SQLite.
    """
    global _SQLITE_STORAGE
    if _SQLITE_STORAGE is not None:
        return _SQLITE_STORAGE
    import sqlite3

    from limits.storage import Storage

    class SQLiteStorage(Storage):
        STORAGE_SCHEME = ["tester+sqlite"]
        PURGE_EVERY = 500  # increments between sweeps of expired windows

        def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, path: str = "", **options):
            super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
            self.path = path
            self._local = threading.local()
            self._count = 0
            try:
                self._connect().execute("CREATE TABLE IF NOT EXISTS windows (key TEXT PRIMARY KEY, "
                                        "hits INTEGER NOT NULL, expires REAL NOT NULL)")
            except sqlite3.Error as e:  # e.g. a read-only disk: serve unlimited (swallow_errors) rather than not at all
                log.warning("rate limit store %s unusable: %s", path, type(e).__name__)

        @property
        def base_exceptions(self):
            return sqlite3.Error

        def _connect(self) -> sqlite3.Connection:
            conn = getattr(self._local, "conn", None)
            if conn is None or getattr(self._local, "pid", None) != os.getpid():
                conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=OFF")  # counters, not records: losing a second of them is fine
                self._local.conn, self._local.pid = conn, os.getpid()
            return conn

        def incr(self, key: str, expiry: float, amount: int = 1) -> int:
            now = time.time()
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT hits, expires FROM windows WHERE key = ?", (key,)).fetchone()
                if row is None or row[1] <= now:
                    hits = amount
                    conn.execute("INSERT OR REPLACE INTO windows (key, hits, expires) VALUES (?, ?, ?)",
                                 (key, hits, now + expiry))
                else:
                    hits = row[0] + amount
                    conn.execute("UPDATE windows SET hits = ? WHERE key = ?", (hits, key))
                self._count += 1
                if self._count % self.PURGE_EVERY == 0:
                    conn.execute("DELETE FROM windows WHERE expires <= ?", (now,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return hits

        def get(self, key: str) -> int:
            row = self._connect().execute("SELECT hits FROM windows WHERE key = ? AND expires > ?",
                                          (key, time.time())).fetchone()
            return row[0] if row else 0

        def get_expiry(self, key: str) -> float:
            row = self._connect().execute("SELECT expires FROM windows WHERE key = ?", (key,)).fetchone()
            return row[0] if row and row[0] > time.time() else time.time()

        def check(self) -> bool:
            try:
                self._connect().execute("SELECT 1")
                return True
            except sqlite3.Error:
                return False

        def reset(self) -> int | None:
            return self._connect().execute("DELETE FROM windows").rowcount

        def clear(self, key: str) -> None:
            self._connect().execute("DELETE FROM windows WHERE key = ?", (key,))

    _SQLITE_STORAGE = SQLiteStorage
    return SQLiteStorage


_SQLITE_STORAGE = None


def counter_database(config: Mapping[str, Any]) -> str:
    """Where the SQLite counters live: RATE_LIMIT_DATABASE, else beside the sandbox's SQLite file
    (with only DATABASE_URL set: the system's temporary folder)."""
    path = config.get("RATE_LIMIT_DATABASE")
    if not path:
        folder = (os.path.dirname(os.path.abspath(config["SANDBOX_DATABASE"])) if config.get("SANDBOX_DATABASE")
                  else tempfile.gettempdir())
        path = os.path.join(folder, "ratelimit.sqlite3")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError:
        pass  # the store says so when it opens
    return path


def counter_storage(config: Mapping[str, Any]) -> tuple[str, dict]:
    """The ``limits`` storage URI and options for an app's counters: Redis with REDIS_URL, else the SQLite file."""
    redis_url = config.get("REDIS_URL")
    if redis_url:
        # Several instances (dynos): one budget for all, in Redis (limits' own storage).
        options: dict = {}
        if redis_url.startswith("rediss://"):
            # Heroku Redis's TLS endpoint has a self-signed certificate; Heroku's docs say to skip verification.
            options["ssl_cert_reqs"] = None
        return redis_url, options
    sqlite_storage_class()  # registers the tester+sqlite:// scheme
    return "tester+sqlite://", {"path": counter_database(config)}


class ClientLimit:
    """One per-client budget ("30/minute") in the shared counters; ``peek`` reads, ``hit`` counts.

    A store that cannot be reached serves unlimited (logged), as the rate limit does.
    """

    def __init__(self, config: Mapping[str, Any], limit: str, namespace: str):
        from limits import parse
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        uri, options = counter_storage(config)
        self.item = parse(limit)
        self.strategy = FixedWindowRateLimiter(storage_from_string(uri, **options))
        self.namespace = namespace

    def __str__(self) -> str:
        return str(self.item)

    def wait(self, client: str) -> int | None:
        """Seconds until ``client`` may try again if it is over the limit, else None (counts nothing)."""
        return self._ask(self.strategy.test, client)

    def hit(self, client: str) -> int | None:
        """Count one event for ``client``; the seconds to wait if that went over the limit, else None."""
        return self._ask(self.strategy.hit, client)

    def _ask(self, within, client: str) -> int | None:
        try:
            if within(self.item, "tester", self.namespace, client):
                return None
            reset_at, _ = self.strategy.get_window_stats(self.item, "tester", self.namespace, client)
        except Exception:  # noqa: BLE001 - the counter store is unreachable: serve, as the rate limit does
            log.warning("%s limit store unusable", self.namespace)
            return None
        return max(1, math.ceil(reset_at - time.time()))

"""The sandbox's state: channels, their public keys and issued tokens.

A narrow interface over SQLAlchemy Core so the sandbox never writes SQL:
SQLite by default (one file, safe with several gunicorn worker processes),
PostgreSQL when ``DATABASE_URL`` is set (several app instances).

Concurrency: every check-then-write (the per-channel token limits, the
channel and key caps) runs in one short transaction that first takes a write
lock: ``BEGIN IMMEDIATE`` on SQLite (one writer at a time across processes),
``SELECT ... FOR UPDATE`` on the channel row on PostgreSQL.

Tokens are stored as SHA-256 hashes, never as values; verify and revoke look
them up by hash. Nothing here logs a token or a secret.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from contextlib import contextmanager
from typing import Any, Iterator

from typing import TYPE_CHECKING

from ..core import rules

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

# SQLAlchemy is imported on first use (_load_sqlalchemy): it is about a third of the app's
# start-up, which CLI commands such as ``jwt`` and pages that never touch the sandbox don't need.

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- limits

# LINE's own per-channel limits (docs/line-api.md §1).
V21_TOKENS_PER_CHANNEL = rules.TOKENS_PER_CHANNEL  # the 31st issue is refused
SHORT_LIVED_TOKENS_PER_CHANNEL = rules.TOKENS_PER_CHANNEL  # the 31st issue revokes the oldest
SHORT_LIVED_LIFETIME = 30 * 24 * 60 * 60  # 2,592,000 s

# Caps for a public deploy, so strangers cannot grow the database without bound.
MAX_CHANNELS = 1000
KEYS_PER_CHANNEL = 10  # docs/line-api.md §9: "up to 10 in the sandbox"
MAX_NAME_LENGTH = 100
# Channels whose owner has not used them (created, opened on the console, called the admin API with the
# secret) for longer than the longest token lifetime are removed, so the channel cap frees itself. Token calls
# do not count: one short-lived token a month would otherwise keep a channel for ever (issue 23 item 2).
CHANNEL_IDLE_LIFETIME = 35 * 24 * 60 * 60
# Sandbox channels are anonymous: whatever their use, none is kept longer than this (SANDBOX_CHANNEL_MAX_DAYS;
# 0 keeps them until idle).
CHANNEL_MAX_AGE = 90 * 24 * 60 * 60
# Housekeeping (purging expired tokens, old events, idle and too old channels) runs in a transaction of its
# own at most this often across every worker and instance (SANDBOX_HOUSEKEEPING_SECONDS), triggered by requests.
HOUSEKEEPING_EVERY = 60
# Expired v2.1 tokens are kept for a while so verify can say "expired" rather than
# "revoked"; per channel only the most recent few, so storage stays bounded.
EXPIRED_KEPT_PER_CHANNEL = 30
EXPIRED_KEPT_FOR = 7 * 24 * 60 * 60

# Long-lived tokens (docs/line-api.md §5.7, §9): no expiry; stored with an expiry this far
# ahead so verify answers a large expires_in, as LINE's example does. Reissuing keeps the old
# one for 0-24 h, as LINE's console does; at most LONG_LIVED_KEPT old ones wait out their grace.
LONG_LIVED_LIFETIME = 100 * 365 * 24 * 60 * 60
LONG_LIVED_MAX_GRACE = 24 * 60 * 60
LONG_LIVED_KEPT = 5

# Per-client channel creation (issue 11): counted in the events table so every worker and instance
# sees the same count. Events older than a day are purged.
EVENTS_KEPT_FOR = 24 * 60 * 60

SQLITE_BUSY_TIMEOUT_MS = 10_000  # under gunicorn's 30 s request timeout
HOT_CONNECTIONS_KEPT = 8  # idle SQLite connections a process keeps for LINE's calls (Store._hot_checkout)

# Token kinds as stored; stateless tokens are never stored (unlimited, never revocable).
V21 = "v2.1"
SHORT_LIVED = "short-lived"
LONG_LIVED = "long-lived"
KINDS = (V21, SHORT_LIVED, LONG_LIVED)

# --------------------------------------------------------------------------- schema

_SQL_NAMES = ("sa", "event", "OperationalError", "metadata", "channels", "keys", "tokens", "bots", "events", "meta",
              "faults", "clocks", "request_log")
_load_lock = threading.Lock()


def _load_sqlalchemy() -> None:
    """Import SQLAlchemy and define the tables, once; sets this module's SQL globals."""
    global sa, event, OperationalError, metadata, channels, keys, bots, events, meta, _STATEMENTS, tokens  # plain names linters can follow
    global faults, clocks, request_log
    if "tokens" in globals():
        return
    with _load_lock:
        if "tokens" in globals():
            return
        import sqlalchemy as sa
        from sqlalchemy import event
        from sqlalchemy.exc import OperationalError

        metadata = sa.MetaData()

        channels = sa.Table(
            "sandbox_channels", metadata,
            sa.Column("channel_id", sa.String(10), primary_key=True),
            sa.Column("secret_hash", sa.String(64), nullable=False),
            sa.Column("name", sa.String(MAX_NAME_LENGTH), nullable=False, default=""),
            sa.Column("created_at", sa.BigInteger, nullable=False),
            sa.Column("used_at", sa.BigInteger, nullable=False),
        )

        keys = sa.Table(
            "sandbox_keys", metadata,
            sa.Column("kid", sa.String(36), primary_key=True),
            sa.Column("channel_id", sa.String(10),
                      sa.ForeignKey("sandbox_channels.channel_id", ondelete="CASCADE"), nullable=False, index=True),
            sa.Column("jwk", sa.Text, nullable=False),
            sa.Column("created_at", sa.BigInteger, nullable=False),
        )

        # Rate-limited events (channel creations per client, short-lived issues per channel):
        # one row per event, counted over a sliding window; bucket is a hash, never an address.
        events = sa.Table(
            "sandbox_events", metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("bucket", sa.String(64), nullable=False),
            sa.Column("at", sa.BigInteger, nullable=False),
            sa.Index("ix_sandbox_events_bucket", "bucket", "at"),
        )

        # Small named values: when housekeeping last ran (so several processes run it once a minute in all).
        meta = sa.Table(
            "sandbox_meta", metadata,
            sa.Column("name", sa.String(32), primary_key=True),
            sa.Column("value", sa.BigInteger, nullable=False),
        )

        tokens_table = sa.Table(
            "sandbox_tokens", metadata,
            # The serial id gives issue order (docs/line-api.md §9: kids oldest first).
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
            sa.Column("channel_id", sa.String(10),
                      sa.ForeignKey("sandbox_channels.channel_id", ondelete="CASCADE"), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("key_id", sa.String(32), nullable=True),
            sa.Column("issued_at", sa.BigInteger, nullable=False),
            sa.Column("expires_at", sa.BigInteger, nullable=False),
            sa.Index("ix_sandbox_tokens_channel", "channel_id", "kind", "expires_at"),
        )
        # Step 6 ("Try the token"): the bot profile the sandbox's /v2/bot/info answers with.
        # A row exists only once someone changed the defaults in the console.
        bots = sa.Table(
            "sandbox_bots", metadata,
            sa.Column("channel_id", sa.String(10),
                      sa.ForeignKey("sandbox_channels.channel_id", ondelete="CASCADE"), primary_key=True),
            sa.Column("display_name", sa.String(MAX_NAME_LENGTH), nullable=True),
            sa.Column("chat_mode", sa.String(8), nullable=False),
            sa.Column("mark_as_read_mode", sa.String(8), nullable=False),
        )
        # Issue 21: faults and time travel per channel (faults.py, clock.py) and the request log (reqlog.py).
        # New tables, never new columns on the ones above: create_all(checkfirst) adds them to an existing
        # database as it is, SQLite or PostgreSQL, with no migration step.
        faults = sa.Table(
            "sandbox_faults", metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # first added, first used
            sa.Column("channel_id", sa.String(10),
                      sa.ForeignKey("sandbox_channels.channel_id", ondelete="CASCADE"), nullable=False),
            sa.Column("path", sa.String(64), nullable=False),
            sa.Column("status", sa.Integer, nullable=True),  # None: only a delay, then the real answer
            sa.Column("remaining", sa.Integer, nullable=False),
            sa.Column("delay_ms", sa.Integer, nullable=False),
            sa.Column("retry_after", sa.Integer, nullable=True),
            sa.Column("created_at", sa.BigInteger, nullable=False),
            sa.Index("ix_sandbox_faults_channel", "channel_id", "path", "id"),
        )
        clocks = sa.Table(
            "sandbox_clocks", metadata,
            sa.Column("channel_id", sa.String(10),
                      sa.ForeignKey("sandbox_channels.channel_id", ondelete="CASCADE"), primary_key=True),
            sa.Column("offset_seconds", sa.BigInteger, nullable=False),
        )
        request_log = sa.Table(
            "sandbox_request_log", metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("channel_id", sa.String(10),
                      sa.ForeignKey("sandbox_channels.channel_id", ondelete="CASCADE"), nullable=False),
            sa.Column("at", sa.BigInteger, nullable=False),  # real time, epoch seconds
            sa.Column("method", sa.String(8), nullable=False),
            sa.Column("path", sa.String(64), nullable=False),
            sa.Column("status", sa.Integer, nullable=False),
            sa.Column("error", sa.String(200), nullable=True),
            sa.Column("request_id", sa.String(36), nullable=False),
            sa.Column("user_agent", sa.String(200), nullable=True),
            sa.Column("fields", sa.Text, nullable=False),  # JSON, every secret value already masked
            sa.Index("ix_sandbox_request_log_channel", "channel_id", "id"),
        )
        # The hot statements (issue, verify), built once with bound parameters: SQLAlchemy then
        # reuses their cache key and compiled SQL. Building the expression on every call cost
        # more than SQLite's own work (docs/BENCHMARKS.md).
        p = sa.bindparam
        keep = (sa.select(tokens_table.c.id)
                .where((tokens_table.c.channel_id == p("p_channel")) & (tokens_table.c.expires_at <= p("p_now")))
                .order_by(tokens_table.c.expires_at.desc()).limit(EXPIRED_KEPT_PER_CHANNEL))
        statements = {
            "lock_channel": sa.select(channels.c.channel_id).where(channels.c.channel_id == p("p_channel"))
                              .with_for_update(),
            "touch_channel": channels.update().where(channels.c.channel_id == p("p_channel"))
                               .values(used_at=p("p_now")),
            "trim_expired": tokens_table.delete().where(
                (tokens_table.c.channel_id == p("p_channel")) & (tokens_table.c.expires_at <= p("p_now"))
                & tokens_table.c.id.not_in(sa.select(keep.subquery().c.id))),
            "valid_ids": sa.select(tokens_table.c.id).where(
                (tokens_table.c.channel_id == p("p_channel")) & (tokens_table.c.kind == p("p_kind"))
                & (tokens_table.c.expires_at > p("p_now"))).order_by(tokens_table.c.id),
            "insert_token": tokens_table.insert(),
            "delete_token": tokens_table.delete().where(tokens_table.c.id == p("p_id")),
            "find_key": sa.select(keys).where(keys.c.kid == p("p_kid")),
            "find_token": sa.select(tokens_table).where(tokens_table.c.token_hash == p("p_hash")),
        }
        _STATEMENTS = statements
        # "tokens" last: its presence tells other threads the rest is there.
        tokens = tokens_table


def __getattr__(name: str):
    """``store.metadata``, ``store.tokens`` … from outside load SQLAlchemy on demand (PEP 562)."""
    if name in _SQL_NAMES:
        _load_sqlalchemy()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- records and errors


@dataclass(frozen=True)
class Channel:
    """A sandbox channel (the secret itself is only returned once, by create_channel)."""

    channel_id: str
    name: str
    created_at: int


@dataclass(frozen=True)
class Key:
    """A registered public key: the kid the sandbox assigned and the public JWK."""

    kid: str
    channel_id: str
    jwk: dict
    created_at: int


@dataclass(frozen=True)
class Token:
    """An issued token as stored: its hash and metadata, never its value."""

    token_hash: str
    channel_id: str
    kind: str
    key_id: str | None
    issued_at: int
    expires_at: int

    def expires_in(self, now: int | None = None) -> int:
        """Seconds left (0 or negative once expired)."""
        return self.expires_at - (int(time.time()) if now is None else now)


class StoreError(Exception):
    """Base of the store's refusals; the message is safe to show."""


class ChannelNotFound(StoreError):
    """No channel with that ID."""


class CapReached(StoreError):
    """A public-deploy cap (channels, keys per channel) is full."""


class TokenLimitReached(StoreError):
    """LINE's limit of valid v2.1 tokens per channel is reached."""


class ChannelExists(StoreError):
    """An imported channel's ID is already in use (``args[0]`` is the ID)."""


class KidTaken(StoreError):
    """An imported key's kid is registered on another channel (``args[0]`` is the kid)."""


class StoreUnavailable(StoreError):
    """The database is busy or unreachable; the caller may retry."""


class RateLimited(StoreError):
    """Too many events in the window; ``retry_after`` is the whole seconds until one frees."""

    def __init__(self, retry_after: int):
        super().__init__(f"Too many requests; retry after {retry_after} s.")
        self.retry_after = max(1, int(retry_after))


# --------------------------------------------------------------------------- helpers


def hash_token(token: str) -> str:
    """SHA-256 hex of a token or secret: what the store keeps instead of the value."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def database_url(config: dict) -> str:
    """The SQLAlchemy URL for an app config: ``DATABASE_URL`` (PostgreSQL) or the SQLite file.

    ``postgres://`` and ``postgresql://`` (as Heroku and others give them) are
    turned into ``postgresql+psycopg://`` for the psycopg 3 driver. Raises
    ValueError for any other scheme.
    """
    url = (config.get("DATABASE_URL") or "").strip()
    if not url:
        path = config.get("SANDBOX_DATABASE") or "sandbox.sqlite3"
        return f"sqlite:///{path}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("postgresql+psycopg://", "sqlite:")):
        return url
    raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgres://, postgresql:// or postgresql+psycopg://).")


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else int(now)


def new_channel_id() -> str:
    """10 digits not starting with 0, like LINE's channel IDs."""
    return str(1_000_000_000 + secrets.randbelow(9_000_000_000))


_new_channel_id = new_channel_id


def _ensure_wal(cur: Any) -> None:
    """Put the SQLite file in WAL mode unless it already is; retry while another process holds it.

    WAL is a property of the file, so only the first connection to a fresh file changes it; every
    later one just reads the mode (no lock). Switching needs an exclusive lock, and SQLite answers
    "database is locked" at once, without its busy handler, when another connection is mid-switch,
    which is what six workers opening a fresh file together hit (issue 15). So: bounded retries
    with a growing sleep, within the busy timeout.
    """
    import sqlite3

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    for _ in range(200):  # bounded even if the clock misbehaves
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            if str(cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() == "wal":
                return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e):
                raise
        if time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise sqlite3.OperationalError("database is locked: could not switch the sandbox database to WAL mode")


# --------------------------------------------------------------------------- the store


class Store:
    """Channels, keys and tokens in one database. Thread- and process-safe."""

    def __init__(self, url: str, max_channels: int | None = None, max_age: int | None = None,
                 housekeeping_every: int | None = None):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # None: the module's constants, read when used (so a test may lower them).
        self.max_channels, self.max_age, self.housekeeping_every = max_channels, max_age, housekeeping_every
        self._next_housekeeping = 0  # the epoch second before which this process does not even ask the database
        self._engine: Engine | None = None
        self._ready = False
        self._ready_lock = threading.Lock()
        self._engine_lock = threading.Lock()  # not _ready_lock: _ensure_schema holds that while it asks for the engine
        # A SQLite file (a memory database is one per connection: those go through SQLAlchemy's pool).
        self._hot = self.is_sqlite and ":memory:" not in url and url.rstrip("/") != "sqlite:"
        self._hot_idle: list = []  # idle driver connections of _hot_transaction (SQLite), this process's
        self._hot_pid = os.getpid()

    @property
    def channel_cap(self) -> int:
        """How many channels the sandbox holds at most (SANDBOX_MAX_CHANNELS, else MAX_CHANNELS)."""
        return self.max_channels or MAX_CHANNELS

    @property
    def channel_max_age(self) -> int:
        """Seconds a channel is kept at most whatever its use (0: no maximum)."""
        return CHANNEL_MAX_AGE if self.max_age is None else self.max_age

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, made on first use (SQLAlchemy is imported then)."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    _load_sqlalchemy()
                    self._engine = self._make_engine(self.url)
        return self._engine

    # ---- engine and schema

    def _make_engine(self, url: str) -> Engine:
        if not self.is_sqlite:
            # pre_ping: a deploy's database may drop idle connections.
            return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            # We issue BEGIN ourselves (below), so the driver must not.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _ensure_wal(cur)  # readers never wait for the writer
            cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a sandbox needs no fsync per commit
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # Writers take the lock up front so a count and its insert can't interleave
            # with another process's; readers use a plain deferred transaction.
            # An empty mode (``_read``: one SELECT) needs no BEGIN: the statement is its own
            # transaction and sees one snapshot, and that saves two round trips per read.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            if mode:
                conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    def _ensure_schema(self) -> None:
        """Create the tables on first use; idempotent, and safe when workers start together."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            with self._write() as conn:
                if not self.is_sqlite:
                    # Concurrent CREATE TABLE IF NOT EXISTS can still collide on PostgreSQL.
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242031)"))
                metadata.create_all(conn, checkfirst=True)
            self._ready = True

    @contextmanager
    def _transaction(self, sqlite_begin: str) -> Iterator[Connection]:
        """A transaction (on SQLite begun with ``BEGIN <sqlite_begin>``, without one when empty); a database that
        cannot be used raises StoreUnavailable."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(sqlite_begin=sqlite_begin)
                with conn.begin():
                    yield conn
        except OperationalError as e:
            raise _unavailable(e) from None

    def _write(self):
        """A short write transaction holding the database's write lock (SQLite) from the start."""
        return self._transaction("IMMEDIATE")

    def _read(self):
        """One read-only statement (never blocks on writers in WAL mode; on SQLite without a BEGIN)."""
        self._ensure_schema()
        return self._transaction("")

    def _hot_read(self):
        """_read for the statements every LINE call runs (built once, module-level): on SQLite without
        SQLAlchemy's execution layer (_HotConnection), elsewhere _read itself."""
        if not self._hot:
            return self._read()
        self._ensure_schema()
        return self._hot_transaction(write=False)

    def _hot_write(self):
        """_write for the statements every LINE call runs (see _hot_read)."""
        if not self._hot:
            return self._write()
        self._ensure_schema()
        return self._hot_transaction(write=True)

    @contextmanager
    def _hot_transaction(self, write: bool) -> Iterator["_HotConnection"]:
        """SQLite: a driver connection of the engine's pool (set up by its connect hook), in the transaction
        _write (BEGIN IMMEDIATE … COMMIT) or _read (none: one statement) opens. SQLAlchemy's execution path
        around a microsecond SQLite statement cost more than the statement (docs/BENCHMARKS.md)."""
        import sqlite3

        try:
            raw = self._hot_checkout()
        except (sqlite3.OperationalError, OperationalError) as e:  # on connecting
            raise _unavailable(e) from None
        try:
            cursor = raw.cursor()
            try:
                if write:
                    cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield _HotConnection(cursor, self.engine.dialect)
                except BaseException:
                    if write and raw.in_transaction:  # SQLite may have rolled back itself
                        cursor.execute("ROLLBACK")
                    raise
                if write:
                    cursor.execute("COMMIT")
            finally:
                cursor.close()
        except sqlite3.OperationalError as e:
            raise _unavailable(e) from None
        finally:
            # A transaction still open (a failed ROLLBACK or COMMIT) would hold the write lock: never reused.
            self._hot_checkin(raw, raw.in_transaction)

    def _hot_checkout(self) -> Any:
        """A driver connection for _hot_transaction: an idle one of this process's, else a new one from the
        engine's pool, detached from it (set up by the engine's connect hook: WAL, busy timeout, foreign keys).
        A plain list instead of the pool's checkout and checkin, which cost as much as the statements."""
        if self._hot_pid != os.getpid():  # a forked child never uses its parent's connections
            self._hot_idle, self._hot_pid = [], os.getpid()
        try:
            return self._hot_idle.pop()
        except IndexError:
            raw = self.engine.raw_connection()
            connection = raw.driver_connection
            raw.detach()  # the pool forgets it (and never resets it on a checkin)
            return connection

    def _hot_checkin(self, connection: Any, broken: bool) -> None:
        if broken or len(self._hot_idle) >= HOT_CONNECTIONS_KEPT or self._hot_pid != os.getpid():
            connection.close()
        else:
            self._hot_idle.append(connection)

    @contextmanager
    def _locked_channel(self, channel_id: str, now: int, touch: bool = True,
                        hot: bool = False) -> Iterator[Connection]:
        """A write transaction with the channel row locked; raises ChannelNotFound.

        ``touch``: the owner's action (keys, long-lived token, bot, revoke all) resets the channel's idle clock;
        token calls pass False. ``hot``: the body runs only statements built once (see _hot_write).
        """
        self._ensure_schema()
        with (self._hot_write() if hot else self._write()) as conn:
            row = conn.execute(_STATEMENTS["lock_channel"], {"p_channel": channel_id}).first()
            if row is None:
                raise ChannelNotFound(channel_id)
            if touch:
                conn.execute(_STATEMENTS["touch_channel"], {"p_channel": channel_id, "p_now": now})
            yield conn

    def dispose(self) -> None:
        """Close pooled connections (tests and shutdown)."""
        idle, self._hot_idle = self._hot_idle, []
        while idle:  # popped first: a thread holding the old list cannot take a closed one
            idle.pop().close()
        if self._engine is not None:
            self._engine.dispose()

    # ---- channels

    def create_channel(self, name: str = "", now: int | None = None, client: str | None = None,
                       per_hour: int = 0) -> tuple[Channel, str]:
        """Create a channel; return it and its secret (32 hex), which is stored only as a hash.

        At the cap (MAX_CHANNELS, or SANDBOX_MAX_CHANNELS) the channel its owner left unused longest is
        removed to make room. Raises RateLimited when ``client`` (an address; only its hash is stored) already
        created ``per_hour`` channels in the last hour (``per_hour`` 0: no limit, as for the CLI).
        Housekeeping is not done here (``housekeep``): a refused creation rolls back, and it must not.
        """
        now = _now(now)
        name = (name or "")[:MAX_NAME_LENGTH]
        secret = secrets.token_hex(16)
        self._ensure_schema()
        with self._write() as conn:
            if not self.is_sqlite:
                # Serialise channel creation so the cap holds across instances.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242032)"))
            if client is not None and per_hour > 0:
                self._take(conn, "create:" + client, per_hour, 3600, now)
            count = conn.execute(sa.select(sa.func.count()).select_from(channels)).scalar_one()
            cap = self.channel_cap
            if count >= cap:
                # The cap is full: the channel its owner left unused longest makes room (issue 23 item 2).
                oldest = conn.execute(sa.select(channels.c.channel_id).order_by(channels.c.used_at, channels.c.created_at)
                                      .limit(count - cap + 1)).scalars().all()
                if not oldest:
                    raise CapReached(f"The sandbox already holds its maximum of {cap} channels.")
                self._delete_channels(conn, oldest)
                log.info("sandbox: %d channels, the cap; removed the %d unused longest", count, len(oldest))
            for _ in range(20):
                channel_id = _new_channel_id()
                exists = conn.execute(
                    sa.select(channels.c.channel_id).where(channels.c.channel_id == channel_id)).first()
                if exists is None:
                    break
            else:  # 20 collisions among at most 1000 of 9e9 IDs: something else is wrong
                raise StoreUnavailable("Could not pick a free channel ID; try again.")
            conn.execute(channels.insert().values(
                channel_id=channel_id, secret_hash=hash_token(secret), name=name, created_at=now, used_at=now))
        return Channel(channel_id, name, now), secret

    def get_channel(self, channel_id: str) -> Channel | None:
        """The channel, or None."""
        with self._read() as conn:
            row = conn.execute(sa.select(channels).where(channels.c.channel_id == channel_id)).first()
        return Channel(row.channel_id, row.name, row.created_at) if row else None

    def check_secret(self, channel_id: str, secret: str) -> bool:
        """True if ``secret`` is the channel's secret (constant-time compare of hashes)."""
        with self._read() as conn:
            stored = conn.execute(
                sa.select(channels.c.secret_hash).where(channels.c.channel_id == channel_id)).scalar()
        return stored is not None and hmac.compare_digest(stored, hash_token(secret))

    def take(self, bucket: str, limit: int, window: int, now: int | None = None) -> None:
        """Record one event in ``bucket`` unless ``limit`` happened in the last ``window`` seconds.

        Raises RateLimited with the seconds until the oldest counted event leaves the window.
        Atomic across workers and instances (write lock / advisory lock).
        """
        now = _now(now)
        self._ensure_schema()
        with self._write() as conn:
            if not self.is_sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242033)"))
            self._take(conn, bucket, limit, window, now)

    def _take(self, conn: Connection, bucket: str, limit: int, window: int, now: int) -> None:
        key = hash_token(bucket)
        conn.execute(events.delete().where((events.c.bucket == key) & (events.c.at <= now - window)))
        # Older events were just deleted, so what is left is the window: one aggregate row, whatever the limit.
        count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(events.c.at))
                                     .where(events.c.bucket == key)).one()
        if count >= limit:
            raise RateLimited(oldest + window - now)
        conn.execute(events.insert().values(bucket=key, at=now))

    def delete_channel(self, channel_id: str) -> bool:
        """Delete a channel with its keys and tokens; False if there was none."""
        self._ensure_schema()
        with self._write() as conn:
            return self._delete_channels(conn, [channel_id]) > 0

    @staticmethod
    def _delete_channels(conn: Connection, channel_ids: list[str]) -> int:
        """Delete channels with their keys, tokens, bots, faults, clock and request log; return how many channels there were."""
        # Explicit child deletes: SQLite enforces ON DELETE CASCADE only with the pragma on.
        conn.execute(tokens.delete().where(tokens.c.channel_id.in_(channel_ids)))
        conn.execute(keys.delete().where(keys.c.channel_id.in_(channel_ids)))
        conn.execute(bots.delete().where(bots.c.channel_id.in_(channel_ids)))
        for table in (faults, clocks, request_log):
            conn.execute(table.delete().where(table.c.channel_id.in_(channel_ids)))
        return conn.execute(channels.delete().where(channels.c.channel_id.in_(channel_ids))).rowcount

    def touch_channel(self, channel_id: str, now: int | None = None) -> None:
        """The owner used the channel (opened it, called the admin API with its secret): reset its idle clock."""
        self._ensure_schema()
        with self._write() as conn:
            conn.execute(_STATEMENTS["touch_channel"], {"p_channel": channel_id, "p_now": _now(now)})

    def reset(self) -> None:
        """Delete every row of every sandbox table: channels, keys, tokens, bots, events (and any table added
        to ``metadata`` later). Only ``line-token sandbox serve --allow-reset`` and the pytest fixture call it."""
        self._ensure_schema()
        with self._write() as conn:
            for table in reversed(metadata.sorted_tables):  # children before the channels they point to
                conn.execute(table.delete())

    def import_channels(self, seeds: list[dict], now: int | None = None, client: str | None = None,
                        per_hour: int = 0, replace: bool = False) -> None:
        """Create channels as given (already checked by the caller, seed.py): each ``seeds`` item has
        ``channel_id``, ``secret``, ``name``, ``keys`` (kid, jwk) pairs and ``bot`` (None or the three
        settings). One transaction: all are created or none.

        Raises ChannelExists for a channel ID in use (unless ``replace``: that channel is deleted first,
        as ``serve --seed`` does on every start), KidTaken for a kid of another channel, CapReached past
        MAX_CHANNELS, RateLimited as create_channel does (one event per channel).
        """
        now = _now(now)
        ids = [seed["channel_id"] for seed in seeds]
        kids = [kid for seed in seeds for kid, _jwk in seed["keys"]]
        self._ensure_schema()
        with self._write() as conn:
            if not self.is_sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242032)"))  # as create_channel: the cap holds
            self._purge(conn, now)
            existing = conn.execute(sa.select(channels.c.channel_id).where(channels.c.channel_id.in_(ids))
                                    .order_by(channels.c.channel_id)).scalars().all()
            if existing and not replace:
                raise ChannelExists(existing[0])
            if kids:
                taken = conn.execute(sa.select(keys.c.kid).where(keys.c.kid.in_(kids) & keys.c.channel_id.not_in(ids))
                                     .order_by(keys.c.kid)).scalars().first()
                if taken is not None:
                    raise KidTaken(taken)
            for table in reversed(metadata.sorted_tables):  # a replaced channel's rows, in every table that has them
                if existing and "channel_id" in table.c:
                    conn.execute(table.delete().where(table.c.channel_id.in_(existing)))
            if client is not None and per_hour > 0:
                for _seed in seeds:
                    self._take(conn, "create:" + client, per_hour, 3600, now)
            count = conn.execute(sa.select(sa.func.count()).select_from(channels)).scalar_one()
            if count + len(seeds) > MAX_CHANNELS:
                raise CapReached(f"The sandbox already holds {count} of its maximum of {MAX_CHANNELS} channels.")
            for seed in seeds:
                conn.execute(channels.insert().values(
                    channel_id=seed["channel_id"], secret_hash=hash_token(seed["secret"]), name=seed["name"],
                    created_at=now, used_at=now))
                for kid, jwk in seed["keys"]:
                    conn.execute(keys.insert().values(kid=kid, channel_id=seed["channel_id"],
                                                      jwk=json.dumps(jwk, sort_keys=True), created_at=now))
                bot = seed.get("bot")
                if bot is not None:
                    conn.execute(bots.insert().values(channel_id=seed["channel_id"], **bot))

    def bot_settings(self, channel_id: str) -> dict | None:
        """The bot settings as stored (display_name None when never set), or None when the console never
        changed the defaults: what an export carries, so an import restores exactly that."""
        with self._read() as conn:
            row = conn.execute(sa.select(bots.c.display_name, bots.c.chat_mode, bots.c.mark_as_read_mode)
                               .where(bots.c.channel_id == channel_id)).first()
        return dict(row._mapping) if row is not None else None

    # ---- keys

    def add_key(self, channel_id: str, jwk: dict, now: int | None = None) -> Key:
        """Register a public JWK (already checked by the caller) and assign it a UUID kid.

        Raises ChannelNotFound, or CapReached at KEYS_PER_CHANNEL keys.
        """
        now = _now(now)
        kid = str(uuid.uuid4())
        with self._locked_channel(channel_id, now) as conn:
            count = conn.execute(
                sa.select(sa.func.count()).select_from(keys).where(keys.c.channel_id == channel_id)).scalar_one()
            if count >= KEYS_PER_CHANNEL:
                raise CapReached(f"This channel already has {KEYS_PER_CHANNEL} public keys, the sandbox's maximum.")
            conn.execute(keys.insert().values(
                kid=kid, channel_id=channel_id, jwk=json.dumps(jwk, sort_keys=True), created_at=now))
        return Key(kid, channel_id, jwk, now)

    def delete_key(self, channel_id: str, kid: str) -> bool:
        """Remove the channel's key ``kid``; False if the channel has no such key."""
        self._ensure_schema()
        with self._write() as conn:
            return conn.execute(keys.delete().where(
                (keys.c.channel_id == channel_id) & (keys.c.kid == kid))).rowcount > 0

    def find_key(self, kid: str) -> Key | None:
        """The key with this kid on any channel, or None."""
        with self._hot_read() as conn:
            row = conn.execute(_STATEMENTS["find_key"], {"p_kid": kid}).first()
        return _key(row) if row else None

    def list_keys(self, channel_id: str) -> list[Key]:
        """The channel's keys, oldest first."""
        with self._read() as conn:
            rows = conn.execute(sa.select(keys).where(keys.c.channel_id == channel_id)
                                .order_by(keys.c.created_at, keys.c.kid)).all()
        return [_key(row) for row in rows]

    # ---- tokens

    def issue_token(self, channel_id: str, kind: str, token: str, lifetime: int,
                    key_id: str | None = None, now: int | None = None) -> Token:
        """Store a newly minted token under LINE's per-channel limit for its kind.

        v2.1: raises TokenLimitReached when V21_TOKENS_PER_CHANNEL valid ones exist.
        short-lived: at the limit the oldest valid ones are revoked to make room.
        Raises ChannelNotFound. Only the token's hash is written.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown token kind {kind!r}")
        now = _now(now)
        record = Token(hash_token(token), channel_id, kind, key_id, now, now + int(lifetime))
        # A token call is not the owner's use (touch=False); every statement below is built once (hot).
        with self._locked_channel(channel_id, now, touch=False, hot=True) as conn:
            self._trim_expired(conn, channel_id, now)
            valid = conn.execute(_STATEMENTS["valid_ids"],
                                 {"p_channel": channel_id, "p_kind": kind, "p_now": now}).scalars().all()
            if kind == V21 and len(valid) >= V21_TOKENS_PER_CHANNEL:
                raise TokenLimitReached(rules.TOKEN_LIMIT)
            if kind == SHORT_LIVED and len(valid) >= SHORT_LIVED_TOKENS_PER_CHANNEL:
                for oldest in valid[:len(valid) - SHORT_LIVED_TOKENS_PER_CHANNEL + 1]:  # one at the limit
                    conn.execute(_STATEMENTS["delete_token"], {"p_id": oldest})
            conn.execute(_STATEMENTS["insert_token"], {
                "token_hash": record.token_hash, "channel_id": channel_id, "kind": kind, "key_id": key_id,
                "issued_at": record.issued_at, "expires_at": record.expires_at})
        return record

    def issue_long_lived(self, channel_id: str, token: str, keep_old_for: int = 0,
                         now: int | None = None) -> tuple[Token, int | None]:
        """Store a new long-lived token; the channel's current one stays valid ``keep_old_for`` s (0-24 h).

        Returns the new record and when the previous one stops working (None if there was none).
        At most LONG_LIVED_KEPT old tokens wait out a grace period; older ones are revoked.
        Raises ChannelNotFound, ValueError for a grace outside 0-24 h.
        """
        if not 0 <= int(keep_old_for) <= LONG_LIVED_MAX_GRACE:
            raise ValueError("keep_old_for must be 0 to 86400 seconds")
        now = _now(now)
        record = Token(hash_token(token), channel_id, LONG_LIVED, None, now, now + LONG_LIVED_LIFETIME)
        previous_until = None
        with self._locked_channel(channel_id, now) as conn:
            self._trim_expired(conn, channel_id, now)
            valid = conn.execute(sa.select(tokens.c.id, tokens.c.expires_at)
                                 .where(_valid(channel_id, LONG_LIVED, now)).order_by(tokens.c.id)).all()
            if valid:
                previous_until = now + int(keep_old_for)
                if keep_old_for == 0:
                    conn.execute(tokens.delete().where(tokens.c.id.in_([row.id for row in valid])))
                else:
                    for row in valid:
                        conn.execute(tokens.update().where(tokens.c.id == row.id)
                                     .values(expires_at=min(row.expires_at, previous_until)))
                    surplus = [row.id for row in valid][:max(0, len(valid) - LONG_LIVED_KEPT + 1)]
                    if surplus:
                        conn.execute(tokens.delete().where(tokens.c.id.in_(surplus)))
            conn.execute(tokens.insert().values(
                token_hash=record.token_hash, channel_id=channel_id, kind=LONG_LIVED, key_id=None,
                issued_at=record.issued_at, expires_at=record.expires_at))
        return record, previous_until

    def find_token(self, token: str) -> Token | None:
        """The stored token with this value (expired ones included, until purged), or None."""
        with self._hot_read() as conn:  # every verify asks this: the sandbox's hottest read
            row = conn.execute(_STATEMENTS["find_token"], {"p_hash": hash_token(token)}).first()
        return _token(row) if row else None

    def revoke_token(self, token: str, channel_id: str | None = None,
                     kind: str | tuple[str, ...] | None = None) -> bool:
        """Revoke (delete) a token, optionally only if it belongs to ``channel_id`` and is of ``kind``
        (one kind or a tuple of kinds).

        Returns whether anything was revoked; revoking twice is harmless.
        """
        self._ensure_schema()
        condition = tokens.c.token_hash == hash_token(token)
        if channel_id is not None:
            condition &= tokens.c.channel_id == channel_id
        if isinstance(kind, tuple):
            condition &= tokens.c.kind.in_(kind)
        elif kind is not None:
            condition &= tokens.c.kind == kind
        with self._write() as conn:
            return conn.execute(tokens.delete().where(condition)).rowcount > 0

    def valid_tokens(self, channel_id: str, kind: str | None = None, now: int | None = None) -> list[Token]:
        """The channel's unexpired, unrevoked tokens in issue order (all kinds unless ``kind``)."""
        now = _now(now)
        condition = (tokens.c.channel_id == channel_id) & (tokens.c.expires_at > now)
        if kind is not None:
            condition &= tokens.c.kind == kind
        with self._read() as conn:
            rows = conn.execute(sa.select(tokens).where(condition).order_by(tokens.c.id)).all()
        return [_token(row) for row in rows]

    def revoke_all(self, channel_id: str, now: int | None = None) -> int:
        """Revoke every token of the channel; return how many were valid. Raises ChannelNotFound."""
        now = _now(now)
        with self._locked_channel(channel_id, now) as conn:
            valid = conn.execute(sa.select(sa.func.count()).select_from(tokens).where(
                (tokens.c.channel_id == channel_id) & (tokens.c.expires_at > now))).scalar_one()
            conn.execute(tokens.delete().where(tokens.c.channel_id == channel_id))
        return valid

    # ---- housekeeping

    def _trim_expired(self, conn: Connection, channel_id: str, now: int) -> None:
        """Drop the channel's expired tokens beyond the most recent few (opportunistic purge)."""
        conn.execute(_STATEMENTS["trim_expired"], {"p_channel": channel_id, "p_now": now})

    def _purge(self, conn: Connection, now: int) -> None:
        """Remove what the documented bounds no longer keep: tokens expired more than EXPIRED_KEPT_FOR ago and,
        per channel, all but the newest EXPIRED_KEPT_PER_CHANNEL expired ones; events older than a day; channels
        idle for CHANNEL_IDLE_LIFETIME, and channels older than the maximum age."""
        conn.execute(tokens.delete().where(tokens.c.expires_at <= now - EXPIRED_KEPT_FOR))
        ranked = (sa.select(tokens.c.id, sa.func.row_number().over(
            partition_by=tokens.c.channel_id, order_by=(tokens.c.expires_at.desc(), tokens.c.id.desc())).label("n"))
            .where(tokens.c.expires_at <= now).subquery())
        conn.execute(tokens.delete().where(tokens.c.id.in_(
            sa.select(ranked.c.id).where(ranked.c.n > EXPIRED_KEPT_PER_CHANNEL))))
        conn.execute(events.delete().where(events.c.at <= now - EVENTS_KEPT_FOR))
        gone = channels.c.used_at <= now - CHANNEL_IDLE_LIFETIME  # the owner's use only (issue 23 item 2)
        max_age = self.channel_max_age
        if max_age > 0:
            gone = gone | (channels.c.created_at <= now - max_age)
        old = conn.execute(sa.select(channels.c.channel_id).where(gone)).scalars().all()
        if old:
            self._delete_channels(conn, old)

    def purge(self, now: int | None = None) -> None:
        """Run the housekeeping now, whenever it last ran."""
        self.housekeep(now, force=True)

    def housekeep(self, now: int | None = None, force: bool = False) -> bool:
        """Run the housekeeping if it is due: at most once per HOUSEKEEPING_EVERY seconds across all workers
        and instances (the last run is recorded in the database), in a transaction of its own. Returns whether
        it ran. Cheap when not due: this process asks the database at most once per period."""
        every = HOUSEKEEPING_EVERY if self.housekeeping_every is None else self.housekeeping_every
        now = _now(now)
        if not force and now < self._next_housekeeping <= now + every:
            return False
        self._next_housekeeping = now + every
        self._ensure_schema()
        with self._write() as conn:
            if not self.is_sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242034)"))
            last = conn.execute(sa.select(meta.c.value).where(meta.c.name == "housekeeping")).scalar()
            if not force and last is not None and now - every < last <= now:
                self._next_housekeeping = last + every  # another process ran it: due again a period after that
                return False
            if conn.execute(meta.update().where(meta.c.name == "housekeeping").values(value=now)).rowcount == 0:
                conn.execute(meta.insert().values(name="housekeeping", value=now))
            self._purge(conn, now)
        return True

    # ---- the bot behind a channel (step 6: the Messaging API's GET /v2/bot/info)

    def get_bot(self, channel_id: str) -> BotProfile | None:
        """The channel's bot profile (defaults until set_bot changed them), or None for no channel."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(channels.c.name, bots.c.display_name, bots.c.chat_mode, bots.c.mark_as_read_mode)
                .select_from(channels.outerjoin(bots, bots.c.channel_id == channels.c.channel_id))
                .where(channels.c.channel_id == channel_id)).first()
        if row is None:
            return None
        return BotProfile(channel_id, row.display_name or row.name or "", row.chat_mode or BOT_CHAT_MODES[0],
                          row.mark_as_read_mode or BOT_READ_MODES[0])

    def set_bot(self, channel_id: str, display_name: str, chat_mode: str, mark_as_read_mode: str,
                now: int | None = None) -> BotProfile:
        """Change the bot's name and modes (checked by the caller). Raises ChannelNotFound."""
        if chat_mode not in BOT_CHAT_MODES or mark_as_read_mode not in BOT_READ_MODES:
            raise ValueError("unknown chat mode or read mode")
        values = {"display_name": display_name[:MAX_NAME_LENGTH] or None, "chat_mode": chat_mode,
                  "mark_as_read_mode": mark_as_read_mode}
        with self._locked_channel(channel_id, _now(now)) as conn:
            if conn.execute(bots.update().where(bots.c.channel_id == channel_id).values(**values)).rowcount == 0:
                conn.execute(bots.insert().values(channel_id=channel_id, **values))
        return self.get_bot(channel_id) or BotProfile(channel_id, display_name, chat_mode, mark_as_read_mode)

    def stateless_key(self, channel_id: str) -> bytes | None:
        """A per-channel key to sign and check the sandbox's stateless tokens (never stored), or None.

        Derived from the stored secret hash, so every worker and instance agrees and a
        deleted channel's stateless tokens stop working.
        """
        with self._read() as conn:
            stored = conn.execute(
                sa.select(channels.c.secret_hash).where(channels.c.channel_id == channel_id)).scalar()
        if stored is None:
            return None
        return hmac.new(stored.encode("ascii"), b"sandbox stateless token v1", hashlib.sha256).digest()


# The bot profile's modes (docs/line-api.md §10); the first of each is the default.
BOT_CHAT_MODES = ("bot", "chat")
BOT_READ_MODES = ("auto", "manual")


@dataclass(frozen=True)
class BotProfile:
    """What the sandbox's GET /v2/bot/info says about a channel's bot (IDs are derived, not stored)."""

    channel_id: str
    display_name: str
    chat_mode: str
    mark_as_read_mode: str


def _valid(channel_id: str, kind: str, now: int):
    return (tokens.c.channel_id == channel_id) & (tokens.c.kind == kind) & (tokens.c.expires_at > now)


def _key(row: Any) -> Key:
    return Key(row.kid, row.channel_id, json.loads(row.jwk), row.created_at)


class _HotConnection:
    """Enough of SQLAlchemy's Connection for the statements every LINE call runs, on SQLite's own cursor:
    ``execute(statement, params)`` of a statement built once (module-level), its SQL compiled once for this
    dialect; results with ``first()``, ``one()``, ``scalars().all()`` and ``rowcount`` (what those statements'
    callers use), rows with attribute access. The same SQL SQLAlchemy would send, without its per-call execution path."""

    # (id(statement), the parameter names) -> (statement, compiled, positional names): an INSERT compiles for the
    # columns it is given.
    _compiled: dict[tuple, tuple[Any, Any, tuple[str, ...]]] = {}
    _row_types: dict[tuple[str, ...], Any] = {}

    def __init__(self, cursor: Any, dialect: Any):
        self._cursor, self._dialect = cursor, dialect

    def execute(self, statement: Any, params: dict | None = None) -> "_HotResult":
        params = params or {}
        key = (id(statement), tuple(sorted(params)))
        found = self._compiled.get(key)
        # The cache holds the statement itself, so its id cannot be reused while cached; statements are a
        # fixed few (checked: a per-call statement here would grow the cache past its bound).
        if found is None or found[0] is not statement:
            if len(self._compiled) >= 64:
                raise RuntimeError("_HotConnection runs only statements built once")
            compiled = statement.compile(dialect=self._dialect, column_keys=sorted(params) or None)
            found = (statement, compiled, tuple(compiled.positiontup or ()))
            self._compiled[key] = found
        _statement, compiled, names = found
        values = compiled.construct_params(params)  # the statement's own literals (LIMIT, OFFSET) as well
        self._cursor.execute(compiled.string, tuple(values[name] for name in names))
        return _HotResult(self._cursor, self._row_types)


class _HotResult:
    def __init__(self, cursor: Any, row_types: dict):
        self._cursor, self._row_types = cursor, row_types
        self.rowcount = cursor.rowcount

    def _row(self, values: tuple) -> Any:
        names = tuple(column[0] for column in self._cursor.description)
        row_type = self._row_types.get(names)
        if row_type is None:
            from collections import namedtuple

            row_type = self._row_types[names] = namedtuple("Row", names, rename=True)
        return row_type(*values)

    def first(self) -> Any:
        values = self._cursor.fetchone()
        return None if values is None else self._row(values)

    def one(self) -> Any:
        row = self.first()
        if row is None:
            raise LookupError("no row")
        return row

    def scalars(self) -> "_HotScalars":
        return _HotScalars(self._cursor)


class _HotScalars:
    def __init__(self, cursor: Any):
        self._cursor = cursor

    def all(self) -> list:
        return [values[0] for values in self._cursor.fetchall()]


def _token(row: Any) -> Token:
    return Token(row.token_hash, row.channel_id, row.kind, row.key_id, row.issued_at, row.expires_at)


def _unavailable(error: OperationalError) -> StoreUnavailable:
    """Log the driver's first line (never the SQL parameters) and return the caller's error."""
    log.warning("sandbox database error: %s", str(getattr(error, "orig", error)).splitlines()[0][:200])
    return StoreUnavailable("The sandbox database is busy or unreachable; try again.")


def open_store(config: dict) -> Store:
    """A Store for an app config (see database_url); raises ValueError for a bad DATABASE_URL.

    SANDBOX_MAX_CHANNELS, SANDBOX_CHANNEL_MAX_DAYS and SANDBOX_HOUSEKEEPING_SECONDS, when the config has them,
    replace the module's constants."""
    def setting(name: str, scale: int = 1) -> int | None:
        value = config.get(name)
        return None if value is None or value == "" else int(value) * scale

    return Store(database_url(config), max_channels=setting("SANDBOX_MAX_CHANNELS"),
                 max_age=setting("SANDBOX_CHANNEL_MAX_DAYS", 86400),
                 housekeeping_every=setting("SANDBOX_HOUSEKEEPING_SECONDS"))

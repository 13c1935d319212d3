"""The store on its own, on SQLite and PostgreSQL: limits, caps, hashing, purging, concurrency."""
from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3

import pytest
import sqlalchemy as sa

from line_token.sandbox import store as store_module
from pg import backend, postgres  # noqa: F401  (fixtures)
from line_token.sandbox.store import SHORT_LIVED, V21, CapReached, ChannelNotFound, Store, TokenLimitReached

NOW = 1_800_000_000
JWK = {"kty": "RSA", "alg": "RS256", "use": "sig", "e": "AQAB", "n": "x" * 342}


@pytest.fixture
def db(backend) -> Store:
    s = store_module.open_store(backend)
    yield s
    s.dispose()


@pytest.fixture
def channel_id(db) -> str:
    channel, _ = db.create_channel("test", now=NOW)
    return channel.channel_id


def issue(db, channel_id, kind=V21, n=1, lifetime=3600, now=NOW, prefix="tok"):
    return [db.issue_token(channel_id, kind, f"{prefix}-{kind}-{now}-{i}", lifetime,
                           key_id=f"key{i}" if kind == V21 else None, now=now) for i in range(n)]


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
    ("postgresql://u:p@h/d?sslmode=require", "postgresql+psycopg://u:p@h/d?sslmode=require"),
    ("postgresql+psycopg://h/d", "postgresql+psycopg://h/d"),
])
def test_database_url_converts_postgres_urls_for_psycopg3(given, expected):
    assert store_module.database_url({"DATABASE_URL": given, "SANDBOX_DATABASE": "x"}) == expected


def test_database_url_defaults_to_the_sqlite_file():
    assert store_module.database_url({"DATABASE_URL": "", "SANDBOX_DATABASE": "/tmp/s.db"}) == "sqlite:////tmp/s.db"


def test_database_url_refuses_other_schemes():
    with pytest.raises(ValueError, match="PostgreSQL"):
        store_module.database_url({"DATABASE_URL": "mysql://h/d"})


# --------------------------------------------------------------------------- channels and keys


def test_channel_ids_and_secrets_look_like_lines(db):
    channel, secret = db.create_channel("bot", now=NOW)
    assert len(channel.channel_id) == 10 and channel.channel_id.isdigit() and channel.channel_id[0] != "0"
    assert len(secret) == 32 and int(secret, 16) >= 0
    assert db.check_secret(channel.channel_id, secret)
    assert not db.check_secret(channel.channel_id, secret[::-1])
    assert not db.check_secret("1234567890", secret)
    assert db.get_channel(channel.channel_id).name == "bot"


def test_secret_is_stored_only_as_a_hash(db, channel_id):
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(store_module.channels)).first()
    assert len(row.secret_hash) == 64


def test_keys_are_capped_per_channel(db, channel_id):
    kids = {db.add_key(channel_id, JWK, now=NOW).kid for _ in range(store_module.KEYS_PER_CHANNEL)}
    assert len(kids) == store_module.KEYS_PER_CHANNEL
    with pytest.raises(CapReached):
        db.add_key(channel_id, JWK, now=NOW)
    assert [k.kid for k in db.list_keys(channel_id)] and db.find_key(kids.pop()).jwk == JWK


def test_unknown_channel_is_refused(db):
    with pytest.raises(ChannelNotFound):
        db.add_key("1234567890", JWK)
    with pytest.raises(ChannelNotFound):
        db.issue_token("1234567890", V21, "t", 60)
    assert db.delete_channel("1234567890") is False


def test_at_the_cap_the_channel_unused_longest_makes_room(db, monkeypatch):
    """Issue 23 item 2: a full cap is not a 409 for everyone; the channel its owner left unused longest goes."""
    monkeypatch.setattr(store_module, "MAX_CHANNELS", 3)
    a, b, c = (db.create_channel(now=NOW + i)[0] for i in range(3))
    db.touch_channel(a.channel_id, now=NOW + 10)  # its owner opened it
    issue(db, b.channel_id, kind=SHORT_LIVED, now=NOW + 20)  # a token call is not the owner's use
    d, _ = db.create_channel(now=NOW + 30)
    assert db.get_channel(b.channel_id) is None and db.find_token(f"tok-{SHORT_LIVED}-{NOW + 20}-0") is None
    assert all(db.get_channel(ch.channel_id) for ch in (a, c, d))
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store_module.channels)).scalar_one() == 3


def test_only_the_owner_s_use_keeps_a_channel_from_idling_out(db):
    """Issue 23 item 2: one short-lived token a month used to keep a channel (and its slot of the cap) for ever."""
    kept_by_tokens, _ = db.create_channel(now=NOW)
    kept_by_owner, _ = db.create_channel(now=NOW)
    month = 30 * 86400
    for i in range(3):
        issue(db, kept_by_tokens.channel_id, kind=SHORT_LIVED, now=NOW + i * month, prefix=f"m{i}")
    db.touch_channel(kept_by_owner.channel_id, now=NOW + month)
    db.add_key(kept_by_owner.channel_id, JWK, now=NOW + 2 * month)  # registering a key is the owner's use too
    db.purge(now=NOW + 2 * month + 1)
    assert db.get_channel(kept_by_tokens.channel_id) is None
    assert db.get_channel(kept_by_owner.channel_id) is not None


def test_channels_have_a_maximum_age_whatever_their_use(backend):
    db = store_module.open_store({**backend, "SANDBOX_CHANNEL_MAX_DAYS": 40})
    try:
        channel, _ = db.create_channel(now=NOW)
        for day in range(0, 40, 5):
            db.touch_channel(channel.channel_id, now=NOW + day * 86400)
        db.purge(now=NOW + 40 * 86400 - 1)
        assert db.get_channel(channel.channel_id) is not None
        db.purge(now=NOW + 40 * 86400)
        assert db.get_channel(channel.channel_id) is None
    finally:
        db.dispose()
    assert store_module.open_store(backend).channel_max_age == store_module.CHANNEL_MAX_AGE == 90 * 86400


def test_delete_channel_removes_keys_and_tokens(db, channel_id):
    key = db.add_key(channel_id, JWK, now=NOW)
    issue(db, channel_id, n=2)
    assert db.delete_channel(channel_id) is True
    assert db.find_key(key.kid) is None and db.find_token(f"tok-{V21}-{NOW}-0") is None


# --------------------------------------------------------------------------- tokens and limits


def test_tokens_are_stored_as_hashes_only(db, channel_id):
    issue(db, channel_id, n=1)
    with db.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(store_module.tokens))]
    assert f"tok-{V21}-{NOW}-0" not in repr(rows)
    assert rows[0][1] == store_module.hash_token(f"tok-{V21}-{NOW}-0")
    assert db.find_token(f"tok-{V21}-{NOW}-0").key_id == "key0"


def test_v21_limit_refuses_the_31st(db, channel_id):
    issue(db, channel_id, n=30)
    with pytest.raises(TokenLimitReached):
        db.issue_token(channel_id, V21, "one-more", 3600, key_id="k", now=NOW)
    assert len(db.valid_tokens(channel_id, V21, now=NOW)) == 30
    # Each kind has its own count.
    issue(db, channel_id, kind=SHORT_LIVED, n=1)


def test_expired_and_revoked_tokens_stop_counting(db, channel_id):
    issue(db, channel_id, n=29, lifetime=10)
    issue(db, channel_id, n=1, lifetime=3600, prefix="long")
    later = NOW + 11
    assert len(db.valid_tokens(channel_id, V21, now=later)) == 1
    issue(db, channel_id, n=29, now=later, prefix="new")
    assert db.revoke_token(f"long-{V21}-{NOW}-0") is True
    issue(db, channel_id, n=1, now=later, prefix="again")
    # Expired tokens stay findable (verify says "expired"), within the kept window.
    assert db.find_token(f"tok-{V21}-{NOW}-28").expires_in(later) < 0


def test_short_lived_limit_revokes_the_oldest(db, channel_id):
    issue(db, channel_id, kind=SHORT_LIVED, n=30, lifetime=store_module.SHORT_LIVED_LIFETIME)
    db.issue_token(channel_id, SHORT_LIVED, "thirty-first", 100, now=NOW + 1)
    valid = db.valid_tokens(channel_id, SHORT_LIVED, now=NOW + 1)
    assert len(valid) == 30
    assert db.find_token(f"tok-{SHORT_LIVED}-{NOW}-0") is None
    assert db.find_token(f"tok-{SHORT_LIVED}-{NOW}-1") is not None
    assert valid[-1].token_hash == store_module.hash_token("thirty-first")


def test_valid_tokens_come_in_issue_order(db, channel_id):
    issue(db, channel_id, n=5)
    assert [t.key_id for t in db.valid_tokens(channel_id, V21, now=NOW)] == [f"key{i}" for i in range(5)]


def test_revoke_respects_channel_and_kind(db, channel_id):
    other, _ = db.create_channel(now=NOW)
    issue(db, channel_id, n=1)
    token = f"tok-{V21}-{NOW}-0"
    assert db.revoke_token(token, channel_id=other.channel_id) is False
    assert db.revoke_token(token, kind=SHORT_LIVED) is False
    assert db.revoke_token(token, channel_id=channel_id, kind=V21) is True
    assert db.revoke_token(token, channel_id=channel_id, kind=V21) is False


def test_revoke_all_counts_valid_tokens(db, channel_id):
    issue(db, channel_id, n=3)
    issue(db, channel_id, n=2, lifetime=1, prefix="short")
    assert db.revoke_all(channel_id, now=NOW + 5) == 3
    assert db.valid_tokens(channel_id, now=NOW) == []


def test_expired_tokens_are_trimmed_per_channel(db, channel_id):
    for round_ in range(3):
        issue(db, channel_id, n=30, lifetime=1, now=NOW + round_ * 10, prefix=f"r{round_}")
    issue(db, channel_id, n=1, now=NOW + 100, prefix="last")
    with db.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(store_module.tokens)).scalar_one()
    assert count == store_module.EXPIRED_KEPT_PER_CHANNEL + 1


def test_long_expired_tokens_are_purged(db, channel_id):
    issue(db, channel_id, n=2, lifetime=1)
    db.purge(now=NOW + store_module.EXPIRED_KEPT_FOR + 10)
    assert db.find_token(f"tok-{V21}-{NOW}-0") is None


# --------------------------------------------------------------------------- several processes


def _worker(url: str, channel_id: str, start, results, n: int) -> None:
    s = Store(url)
    start.wait()
    for i in range(n):
        try:
            s.issue_token(channel_id, V21, f"p{multiprocessing.current_process().pid}-{i}", 3600, key_id="k")
            results.put("ok")
        except TokenLimitReached:
            results.put("limit")
    s.dispose()


def at_once(work, processes: int, answers: int) -> list[str]:
    """Fork ``processes`` processes that each run ``work(start, results)`` from the same moment (``start``
    is set once all have started); the ``answers`` outcomes they put in ``results``."""
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=work, args=(start, results)) for _ in range(processes)]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in range(answers)]
    for p in procs:
        p.join(timeout=30)
    return outcomes


def test_v21_limit_holds_across_processes(db, channel_id):
    """40 issues from 4 processes at once: exactly 30 succeed, on either backend."""
    outcomes = at_once(lambda start, results: _worker(db.url, channel_id, start, results, 10), 4, 40)
    assert outcomes.count("ok") == 30 and outcomes.count("limit") == 10
    assert len(db.valid_tokens(channel_id, V21)) == 30


def _create_schema(url: str, start, results) -> None:
    s = Store(url)
    start.wait()
    try:
        s.get_channel("1234567890")
        results.put("ok")
    except Exception as e:  # noqa: BLE001 - report any failure to the parent
        results.put(f"{type(e).__name__}: {e}")
    s.dispose()


def test_tables_are_created_once_when_workers_start_together(backend):
    url = store_module.database_url(backend)
    assert at_once(lambda start, results: _create_schema(url, start, results), 6, 6) == ["ok"] * 6


def test_fresh_sqlite_file_opened_by_six_workers_at_once_never_locks(tmp_path):
    """Issue 15: six processes opening one fresh SQLite file together sometimes got "database is
    locked" (each connection switched the file to WAL). Twelve fresh files in a row, six processes
    each: every first request answers."""
    for round_ in range(12):
        url = f"sqlite:///{tmp_path / f'fresh-{round_}.sqlite3'}"
        outcomes = at_once(lambda start, results: _create_schema(url, start, results), 6, 6)
        assert outcomes == ["ok"] * 6, f"round {round_}: {outcomes}"


def test_sqlite_uses_wal(tmp_path):
    config = {"SANDBOX_DATABASE": str(tmp_path / "s.sqlite3")}
    s = store_module.open_store(config)
    s.get_channel("1234567890")
    s.dispose()
    with sqlite3.connect(config["SANDBOX_DATABASE"]) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unreachable_database_raises_store_unavailable():
    from conftest import free_port

    s = store_module.open_store({"DATABASE_URL": f"postgres://nobody@127.0.0.1:{free_port()}/none"})
    with pytest.raises(store_module.StoreUnavailable):
        s.create_channel()


# --------------------------------------------------------------------------- events, long-lived tokens, keys


def test_take_counts_events_in_a_sliding_window(db):
    for _ in range(3):
        db.take("create:192.0.2.1", 3, 3600, now=NOW)
    with pytest.raises(store_module.RateLimited) as refused:
        db.take("create:192.0.2.1", 3, 3600, now=NOW + 600)
    assert refused.value.retry_after == 3000
    db.take("create:192.0.2.2", 3, 3600, now=NOW + 600)  # another bucket
    db.take("create:192.0.2.1", 3, 3600, now=NOW + 3600)  # the oldest left the window


def test_channel_creation_limit_is_atomic_across_processes(db):
    """Four processes create at once for one client with a limit of 5: exactly 5 channels."""
    outcomes = at_once(lambda start, results: _create_limited(db.url, start, results, 3), 4, 12)
    assert outcomes.count("ok") == 5 and outcomes.count("limited") == 7


def _create_limited(url: str, start, results, n: int) -> None:
    s = Store(url)
    start.wait()
    for _ in range(n):
        try:
            s.create_channel("x", client="198.51.100.1", per_hour=5)
            results.put("ok")
        except store_module.RateLimited:
            results.put("limited")
    s.dispose()


def test_long_lived_reissue_keeps_the_old_one_for_the_grace(db, channel_id):
    first, until = db.issue_long_lived(channel_id, "long-1", 0, now=NOW)
    assert until is None and first.expires_at - NOW == store_module.LONG_LIVED_LIFETIME
    _, until = db.issue_long_lived(channel_id, "long-2", 3600, now=NOW)
    assert until == NOW + 3600 and db.find_token("long-1").expires_at == NOW + 3600
    _, until = db.issue_long_lived(channel_id, "long-3", 0, now=NOW + 10)
    assert db.find_token("long-1") is None and db.find_token("long-2") is None  # 0 h: revoked at once
    with pytest.raises(ValueError):
        db.issue_long_lived(channel_id, "long-4", 86401, now=NOW)


def test_long_lived_tokens_waiting_out_a_grace_are_bounded(db, channel_id):
    for i in range(20):
        db.issue_long_lived(channel_id, f"long-{i}", 86400, now=NOW + i)
    valid = db.valid_tokens(channel_id, store_module.LONG_LIVED, now=NOW + 20)
    assert len(valid) == store_module.LONG_LIVED_KEPT and db.find_token("long-19") is not None


def test_a_long_lived_token_alone_does_not_keep_an_idle_channel(db, channel_id):
    db.issue_long_lived(channel_id, "long-idle", 0, now=NOW)
    db.purge(now=NOW + store_module.CHANNEL_IDLE_LIFETIME + 1)
    assert db.get_channel(channel_id) is None


def test_delete_key_only_on_its_channel(db, channel_id):
    other, _ = db.create_channel("other", now=NOW)
    key = db.add_key(channel_id, JWK, now=NOW)
    assert db.delete_key(other.channel_id, key.kid) is False
    assert db.delete_key(channel_id, key.kid) is True and db.list_keys(channel_id) == []


class _LockedCursor:
    """A cursor whose WAL switch meets another process's switch ``busy`` times, as SQLite answers it:
    "database is locked" at once, without its busy handler (two connections escalating together)."""

    def __init__(self, busy: int):
        self.busy, self.mode, self.calls = busy, "delete", []

    def execute(self, sql: str):
        self.calls.append(sql)
        if sql == "PRAGMA journal_mode=WAL":
            if self.busy > 0:
                self.busy -= 1
                raise sqlite3.OperationalError("database is locked")
            self.mode = "wal"
        self._row = (self.mode,)
        return self

    def fetchone(self):
        return self._row


def test_wal_switch_retries_while_another_process_holds_the_file():
    cursor = _LockedCursor(busy=3)
    store_module._ensure_wal(cursor)
    assert cursor.mode == "wal" and cursor.calls.count("PRAGMA journal_mode=WAL") == 4


def test_wal_switch_gives_up_after_the_busy_timeout(monkeypatch):
    monkeypatch.setattr(store_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store_module._ensure_wal(_LockedCursor(busy=10_000))


def test_a_file_already_in_wal_mode_is_not_switched_again():
    cursor = _LockedCursor(busy=10_000)
    cursor.mode = "wal"
    store_module._ensure_wal(cursor)
    assert cursor.calls == ["PRAGMA journal_mode"]


def test_housekeeping_runs_at_most_once_a_period_across_processes(backend):
    """Issue 23 item 5: two workers (or instances) on one database purge once a minute in all, whichever asks."""
    first, second = store_module.open_store(backend), store_module.open_store(backend)
    try:
        assert first.housekeep(now=NOW) is True
        assert second.housekeep(now=NOW + 30) is False and first.housekeep(now=NOW + 59) is False
        assert second.housekeep(now=NOW + store_module.HOUSEKEEPING_EVERY) is True
        assert first.housekeep(now=NOW + store_module.HOUSEKEEPING_EVERY + 1) is False
    finally:
        first.dispose()
        second.dispose()


def test_past_the_kept_connections_the_extra_ones_are_closed(tmp_path, monkeypatch):
    """LINE's calls on a SQLite file keep at most HOT_CONNECTIONS_KEPT idle connections per process: 20 calls in
    progress at once (as many threads of `sandbox serve` would hold) use 20; when they end that many are kept for
    the next calls and every other one is closed. (Open file descriptors cannot show it: SQLite keeps a closed
    connection's descriptor for reuse while others hold locks on the file.)"""
    db = Store(f"sqlite:///{tmp_path / 'hot.sqlite3'}")
    channel, _ = db.create_channel("hot")
    used = []
    checkout = db._hot_checkout
    monkeypatch.setattr(db, "_hot_checkout", lambda: used.append(checkout()) or used[-1])
    with contextlib.ExitStack() as calls:
        for _ in range(20):
            calls.enter_context(db._hot_read()).execute(store_module._STATEMENTS["find_token"], {"p_hash": "x" * 64})
    assert len({id(c) for c in used}) == 20

    def is_open(connection) -> bool:
        try:
            connection.execute("SELECT 1")
            return True
        except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
            return False

    assert sum(map(is_open, used)) == store_module.HOT_CONNECTIONS_KEPT
    assert db.find_token("nothing") is None and db.get_channel(channel.channel_id) is not None  # still answers
    db.dispose()
    assert not any(map(is_open, used))

"""Fault injection per channel (issue 21 item 3): the next calls of one of LINE's paths answer 429, 500 or 503 as
LINE does, or only after a delay.

Knows no request: the routes ask :func:`take_fault` before answering a call whose channel they know, and send
:func:`fault_answer`. State is in the sandbox's database (``sandbox_faults``), so every worker and every instance
sharing it takes the same faults, each exactly once: the decrement runs in one locked transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import signing
from ..core.signing import SigningError
from . import store as store_module
from .store import CapReached, Store

# The paths a fault can be put on: LINE's token endpoints and the three bot calls the sandbox answers
# (docs/line-api.md §5, §10). A fault on any other path could never fire.
FAULT_PATHS = (
    "/oauth2/v2.1/token", "/oauth2/v2.1/tokens/kid", "/oauth2/v2.1/verify", "/oauth2/v2.1/revoke",
    "/oauth2/v3/token", "/v2/oauth/accessToken", "/v2/oauth/verify", "/v2/oauth/revoke",
    "/v2/bot/info", "/v2/bot/message/quota", "/v2/bot/message/quota/consumption",
)
FAULT_STATUSES = (429, 500, 503)
MAX_PENDING_FAULTS = 20  # fault rules per channel; each fires up to MAX_FAULT_COUNT times
MAX_FAULT_COUNT = 100
MAX_DELAY_SECONDS = 30  # under gunicorn's 30 s request timeout plus the router's; see routes.apply_fault
MAX_RETRY_AFTER = 3600

# LINE's bodies for each status (docs/line-api.md §4, §9). 429 is LINE's documented rate-limit answer
# (§5.6, §6); the 5xx texts are unconfirmed: LINE's Messaging API answers errors as {"message"}, and so
# does its gateway in front of the token endpoints for 429, so the sandbox does the same for 500 and 503.
FAULT_BODIES = {
    429: {"message": "The API rate limit has been exceeded. Try again later."},
    500: {"message": "Internal server error"},
    503: {"message": "Service unavailable"},
}


@dataclass(frozen=True)
class Fault:
    """One pending fault rule: the next ``remaining`` calls of ``path`` answer ``status`` after ``delay_ms``."""

    id: int
    path: str
    status: int | None
    remaining: int
    delay_ms: int
    retry_after: int | None
    created_at: int

    def as_json(self) -> dict:
        return {"id": self.id, "path": self.path, "status": self.status, "count": self.remaining,
                "delay_seconds": self.delay_ms / 1000, "retry_after": self.retry_after,
                "created_at": self.created_at}


def _whole(value: Any, field: str, low: int, high: int, message: str, **params: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SigningError(field, message, **params)
    return value


def check_fault(data: Any) -> dict:
    """A fault rule from the admin API's JSON or the console's form; SigningError names the field and the fix.

    ``path`` (one of FAULT_PATHS), ``status`` (429, 500 or 503; may be left out when ``delay_seconds`` is given),
    ``count`` (1-100, default 1), ``delay_seconds`` (0-30, default 0, fractions allowed), ``retry_after``
    (1-3600, default 1; only with 429 and 503).
    """
    if not isinstance(data, dict):
        raise SigningError("body", signing.N_("The request body must be a JSON object."))
    path = data.get("path")
    if not isinstance(path, str) or path not in FAULT_PATHS:
        raise SigningError("path", signing.N_(
            "path must be one of LINE's paths the sandbox answers, e.g. /oauth2/v2.1/token: %(paths)s."),
            paths=", ".join(FAULT_PATHS))
    status = data.get("status")
    delay = data.get("delay_seconds", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= MAX_DELAY_SECONDS:
        raise SigningError("delay_seconds", signing.N_(
            "delay_seconds must be a number of seconds from 0 to %(max)d."), max=MAX_DELAY_SECONDS)
    if status is None and not delay:
        raise SigningError("status", signing.N_(
            "Give status (429, 500 or 503), delay_seconds, or both: a fault with neither changes nothing."))
    if status is not None and (isinstance(status, bool) or status not in FAULT_STATUSES):
        raise SigningError("status", signing.N_("status must be 429, 500 or 503 (LINE's answers the sandbox can send)."))
    count = _whole(data.get("count", 1), "count", 1, MAX_FAULT_COUNT,
                   signing.N_("count must be a whole number from 1 to %(max)d: how many calls the fault answers."),
                   max=MAX_FAULT_COUNT)
    retry_after = data.get("retry_after")
    if retry_after is not None:
        retry_after = _whole(retry_after, "retry_after", 1, MAX_RETRY_AFTER, signing.N_(
            "retry_after must be a whole number of seconds from 1 to %(max)d."), max=MAX_RETRY_AFTER)
        if status not in (429, 503):
            raise SigningError("retry_after", signing.N_("retry_after goes with status 429 or 503 only."))
    elif status in (429, 503):
        retry_after = 1
    return {"path": path, "status": status, "remaining": count, "delay_ms": int(round(delay * 1000)),
            "retry_after": retry_after}


def add_fault(store: Store, channel_id: str, data: Any, now: int | None = None) -> Fault:
    """Check and store a fault rule. Raises SigningError, ChannelNotFound, or CapReached at MAX_PENDING_FAULTS."""
    fault = check_fault(data)
    now = store_module._now(now)
    table = store_module.faults
    with store._locked_channel(channel_id, now) as conn:
        pending = conn.execute(store_module.sa.select(store_module.sa.func.count()).select_from(table)
                               .where(table.c.channel_id == channel_id)).scalar_one()
        if pending >= MAX_PENDING_FAULTS:
            raise CapReached(f"This channel already has {MAX_PENDING_FAULTS} pending faults, the sandbox's maximum.")
        fault_id = conn.execute(table.insert().values(channel_id=channel_id, created_at=now, **fault)) \
            .inserted_primary_key[0]
    return Fault(fault_id, fault["path"], fault["status"], fault["remaining"], fault["delay_ms"],
                 fault["retry_after"], now)


def list_faults(store: Store, channel_id: str) -> list[Fault]:
    """The channel's pending fault rules, in the order they fire."""
    table = store_module.faults
    with store._read() as conn:
        rows = conn.execute(store_module.sa.select(table).where(table.c.channel_id == channel_id)
                            .order_by(table.c.id)).all()
    return [_fault(row) for row in rows]


def clear_faults(store: Store, channel_id: str) -> int:
    """Remove the channel's pending faults; how many rules there were."""
    store._ensure_schema()
    table = store_module.faults
    with store._write() as conn:
        return conn.execute(table.delete().where(table.c.channel_id == channel_id)).rowcount


def take_fault(store: Store, channel_id: str, path: str) -> Fault | None:
    """Use up one call of the oldest fault rule on ``path`` (atomically, across workers); None if there is none."""
    table = store_module.faults
    sa = store_module.sa
    store._ensure_schema()
    with store._write() as conn:
        query = sa.select(table).where((table.c.channel_id == channel_id) & (table.c.path == path)) \
            .order_by(table.c.id).limit(1)
        if not store.is_sqlite:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            return None
        if row.remaining <= 1:
            conn.execute(table.delete().where(table.c.id == row.id))
        else:
            conn.execute(table.update().where(table.c.id == row.id).values(remaining=row.remaining - 1))
    return _fault(row)


_STATE: list = []


def channel_state(store: Store, channel_id: str) -> tuple[int, bool]:
    """The channel's clock offset and whether it has pending faults, in one read (run before every LINE call;
    the statement is built once, as store.py's hot statements are)."""
    if not _STATE:
        sa = store_module.sa
        clocks, table = store_module.clocks, store_module.faults
        p = sa.bindparam("p_channel")
        _STATE.append(sa.select(
            sa.select(clocks.c.offset_seconds).where(clocks.c.channel_id == p).scalar_subquery(),
            sa.exists().where(table.c.channel_id == p)))
    with store._hot_read() as conn:
        row = conn.execute(_STATE[0], {"p_channel": channel_id}).one()
    return int(row[0] or 0), bool(row[1])


def fault_answer(fault: Fault) -> tuple[int, dict, dict]:
    """The status, JSON body and headers LINE sends for the fault's status (Retry-After on 429 and 503)."""
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
    return fault.status, dict(FAULT_BODIES[fault.status]), headers


def reset_faults_and_clocks(store: Store) -> None:
    """Every channel's pending faults, clock offset and request log, gone (``serve`` and the pytest fixture only:
    the tester app never resets globally). Channels, keys and tokens stay."""
    store._ensure_schema()
    with store._write() as conn:
        for table in (store_module.faults, store_module.clocks, store_module.request_log):
            conn.execute(table.delete())


def _fault(row: Any) -> Fault:
    return Fault(row.id, row.path, row.status, row.remaining, row.delay_ms, row.retry_after, row.created_at)

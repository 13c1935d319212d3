"""Time travel per channel (issue 21 item 3): a channel's clock runs ahead of real time by an offset.

Every time the sandbox reads for a channel (token expiry, ``expires_in``, the long-lived reissue window, an
assertion's ``exp``, a stateless token's lifetime) is real time plus the channel's offset. The offset lives in
the sandbox's database (``sandbox_clocks``), so every worker and instance agrees. It only moves forward;
``reset`` returns the channel to real time. Knows no request.
"""
from __future__ import annotations

import time
from typing import Any

from ..core import signing
from ..core.signing import SigningError
from . import store as store_module
from .store import Store

MAX_OFFSET_SECONDS = 10 * 365 * 24 * 60 * 60  # ten years ahead at most, in all


def check_advance(value: Any) -> int:
    """``advance_seconds`` as a whole number from 1 to ten years; SigningError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_OFFSET_SECONDS:
        raise SigningError("advance_seconds", signing.N_(
            "advance_seconds must be a whole number of seconds from 1 to %(max)d (ten years): how far the "
            "channel's clock moves forward."), max=MAX_OFFSET_SECONDS)
    return value


def offset(store: Store, channel_id: str) -> int:
    """How many seconds the channel's clock is ahead of real time (0 when it was never moved)."""
    table = store_module.clocks
    with store._read() as conn:
        value = conn.execute(store_module.sa.select(table.c.offset_seconds)
                             .where(table.c.channel_id == channel_id)).scalar()
    return int(value or 0)


def channel_now(store: Store, channel_id: str | None, real: int | None = None) -> int:
    """The channel's time: real time plus its offset (real time for None)."""
    real = int(time.time()) if real is None else int(real)
    return real + offset(store, channel_id) if channel_id else real


def advance(store: Store, channel_id: str, seconds: Any) -> int:
    """Move the channel's clock forward; return the new offset. Raises SigningError (``advance_seconds``, also
    when the total would pass ten years) or ChannelNotFound."""
    seconds = check_advance(seconds)
    table = store_module.clocks
    with store._locked_channel(channel_id, int(time.time())) as conn:
        current = conn.execute(store_module.sa.select(table.c.offset_seconds)
                               .where(table.c.channel_id == channel_id)).scalar()
        total = int(current or 0) + seconds
        if total > MAX_OFFSET_SECONDS:
            raise SigningError("advance_seconds", signing.N_(
                "The channel's clock would be more than ten years ahead: reset it first (DELETE the clock)."))
        if current is None:
            conn.execute(table.insert().values(channel_id=channel_id, offset_seconds=total))
        else:
            conn.execute(table.update().where(table.c.channel_id == channel_id).values(offset_seconds=total))
    return total


def reset(store: Store, channel_id: str) -> None:
    """Return the channel to real time."""
    store._ensure_schema()
    table = store_module.clocks
    with store._write() as conn:
        conn.execute(table.delete().where(table.c.channel_id == channel_id))


def clock_json(store: Store, channel_id: str) -> dict:
    """What GET .../clock answers: the channel's time, its offset and real time (epoch seconds)."""
    real = int(time.time())
    ahead = offset(store, channel_id)
    return {"channel_id": channel_id, "now": real + ahead, "offset_seconds": ahead, "real_now": real}

"""The request log per channel (issue 21 item 4): every call of LINE's paths the sandbox answered for a channel.

Each entry: when (real time), method, path, status, LINE's error, the answer's X-Line-Request-Id, the client's
User-Agent and the request's fields with every secret value masked. Newest first, LOG_KEPT per channel (the
table is trimmed back to them on a channel's every TRIM_EVERY-th write in a process). No value that could be a secret is ever written: a field's value is kept only when
it is one of the few public values LINE's requests carry (``grant_type=client_credentials``, the JWT bearer
assertion type, a 10-digit channel ID); every other value (client_secret, client_assertion, access_token,
anything unknown) is replaced by its length. Knows no request: the routes hand it plain values.
"""
from __future__ import annotations

import json
import re
from typing import Iterable

from ..core.line_client import ASSERTION_TYPE, GRANT_TYPE
from ..core.rules import CHANNEL_ID_PATTERN
from . import store as store_module
from .store import Store

LOG_KEPT = 200
# The table is trimmed back to LOG_KEPT on a channel's every TRIM_EVERY-th logged call in a process (and on its
# first), not on each: the trim's scan cost half of a logged call. So a channel holds at most LOG_KEPT +
# TRIM_EVERY rows per serving process; entries() answers the newest LOG_KEPT.
TRIM_EVERY = 16
_since_trim: dict[str, int] = {}  # channel ID -> logged calls since this process last trimmed it
MAX_FIELDS = 12  # LINE's requests carry at most five fields; the rest of a stuffed request is counted, not kept
MAX_NAME = 40
MAX_USER_AGENT = 200
# The only values shown as sent: public constants and a channel ID. Everything else is masked.
PUBLIC_VALUES = {
    "grant_type": re.compile(re.escape(GRANT_TYPE) + r"\Z"),
    "client_assertion_type": re.compile(re.escape(ASSERTION_TYPE) + r"\Z"),
    "client_id": re.compile(CHANNEL_ID_PATTERN),  # the rules table's one channel-ID rule
}
_NAME = re.compile(r"[^A-Za-z0-9_.\-\[\]]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def masked(length: int) -> str:
    return f"[masked: {length} characters]"


def mask_fields(fields: Iterable[tuple[str, str]], authorization: str | None = None) -> dict:
    """The request's fields as the log keeps them: names (cleaned, truncated), public values, masked the rest.

    ``authorization``: the Authorization header, kept as its scheme and the credential's length.
    """
    kept: dict[str, str] = {}
    dropped = 0
    for index, (name, value) in enumerate(fields):
        if index >= MAX_FIELDS:
            dropped += 1
            continue
        clean = _NAME.sub("?", str(name)[:MAX_NAME]) or "?"
        value = str(value)
        pattern = PUBLIC_VALUES.get(name)
        kept[clean] = value if pattern is not None and pattern.fullmatch(value) else masked(len(value))
    if dropped:
        kept["…"] = f"{dropped} more fields"
    if authorization:
        scheme, _, credential = authorization.strip().partition(" ")
        scheme = scheme if scheme.lower() in ("bearer", "basic") else "?"
        kept["Authorization"] = f"{scheme} {masked(len(credential.strip()))}"
    return kept


def error_of(status: int, body: bytes, mimetype: str) -> str | None:
    """LINE's error in a non-2xx answer, as one line: ``error: description`` or the ``message``."""
    if status < 400 or mimetype != "application/json" or len(body) > 4096:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("error"), str):
        text = data["error"]
        if isinstance(data.get("error_description"), str):
            text += ": " + data["error_description"]
    elif isinstance(data.get("message"), str):
        text = data["message"]
    else:
        return None
    return _CONTROL.sub(" ", text)[:200]


_STATEMENTS: dict = {}


def _statements() -> dict:
    """The two statements every logged call runs, built once with bound parameters (building SQLAlchemy
    expressions per call cost more than SQLite's own work; see store.py's hot statements)."""
    if not _STATEMENTS:
        sa = store_module.sa
        table, channels = store_module.request_log, store_module.channels
        p = sa.bindparam
        columns = ("channel_id", "at", "method", "path", "status", "error", "request_id", "user_agent", "fields")
        # One INSERT ... SELECT: written only if the channel exists, so unknown IDs never grow the table.
        values = sa.select(*[p("p_" + name, type_=table.c[name].type).label(name) for name in columns]).where(
            sa.exists().where(channels.c.channel_id == p("p_channel_id")))
        cutoff = (sa.select(table.c.id).where(table.c.channel_id == p("p_channel_id"))
                  .order_by(table.c.id.desc()).offset(LOG_KEPT).limit(1).scalar_subquery())
        _STATEMENTS.update({
            "insert": table.insert().from_select(list(columns), values),
            "trim": table.delete().where((table.c.channel_id == p("p_channel_id")) & (table.c.id <= cutoff)),
        })
    return _STATEMENTS


def record(store: Store, channel_id: str, *, at: int, method: str, path: str, status: int, error: str | None,
           request_id: str, user_agent: str | None, fields: dict) -> bool:
    """Append an entry to the channel's log and trim it to LOG_KEPT; False (nothing written) if no such channel."""
    store._ensure_schema()
    statements = _statements()
    params = {"p_channel_id": channel_id, "p_at": int(at), "p_method": method[:8], "p_path": path[:64],
              "p_status": int(status), "p_error": error, "p_request_id": request_id[:36],
              "p_user_agent": _CONTROL.sub(" ", user_agent)[:MAX_USER_AGENT] if user_agent else None,
              "p_fields": json.dumps(fields, ensure_ascii=False, separators=(",", ":"))}
    since = _since_trim.get(channel_id, TRIM_EVERY)
    with store._hot_write() as conn:
        if conn.execute(statements["insert"], params).rowcount == 0:
            return False
        if since >= TRIM_EVERY - 1:
            conn.execute(statements["trim"], {"p_channel_id": channel_id})
            since = -1
    if len(_since_trim) >= 4096:  # bounded: a forgotten channel is trimmed on its next call
        _since_trim.clear()
    _since_trim[channel_id] = since + 1
    return True


def entries(store: Store, channel_id: str, limit: int = LOG_KEPT) -> list[dict]:
    """The channel's log, newest first."""
    sa = store_module.sa
    table = store_module.request_log
    with store._read() as conn:
        rows = conn.execute(sa.select(table).where(table.c.channel_id == channel_id)
                            .order_by(table.c.id.desc()).limit(max(1, min(limit, LOG_KEPT)))).all()
    return [{"at": row.at, "method": row.method, "path": row.path, "status": row.status, "error": row.error,
             "request_id": row.request_id, "user_agent": row.user_agent, "fields": json.loads(row.fields)}
            for row in rows]

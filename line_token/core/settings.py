"""The settings the tester, the sandbox and the CLI all read from the environment (README "Configuration")."""
from __future__ import annotations

import os

from .rules import whole_number


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def line_settings() -> dict:
    """Where LINE is, how long to wait for it, and where the sandbox keeps its state."""
    return {
        "LINE_API_BASE_URL": os.environ.get("LINE_API_BASE_URL", "https://api.line.me").rstrip("/"),
        "LINE_API_TIMEOUT": env_float("LINE_API_TIMEOUT", 10.0),
        "SANDBOX_ENABLED": env_flag("SANDBOX_ENABLED", True),
        "SANDBOX_DATABASE": os.environ.get("SANDBOX_DATABASE") or "",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or "",
    }


def trust_proxy_hops(value) -> int:
    """TRUST_PROXY as the number of proxies in front of the app, whose X-Forwarded-* values are trusted.

    Empty, ``0``, ``false``, ``no``, ``off``: none. ``true``, ``yes``, ``on``: one. A whole number: that many
    (at most 10). Anything else is a ValueError naming the setting.
    """
    if isinstance(value, bool) or value is None:
        return int(bool(value))
    if isinstance(value, int):
        hops = value
    else:
        text = str(value).strip().lower()
        if text in ("", "0", "false", "no", "off"):
            return 0
        if text in ("true", "yes", "on"):
            return 1
        if whole_number(text) is None:  # the rules table's one number parser
            raise ValueError(f"TRUST_PROXY={value!r}: give the number of proxies in front of the app (1 behind "
                             "Heroku's router or one nginx), or 0 / empty for none")
        hops = int(text)
    if not 0 <= hops <= 10:
        raise ValueError(f"TRUST_PROXY={value!r}: give the number of proxies in front of the app, 0 to 10")
    return hops

"""The settings the tester, the sandbox and the CLI all read from the environment (README "Configuration")."""
from __future__ import annotations

import os


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

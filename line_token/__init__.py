"""LINE channel access token v2.1 tester: the application factory.

The top-level ``app.py`` (the Procfile's ``gunicorn app:app``) calls ``create_app()``;
tests build their own with ``create_app({...})``. ``templates/``, ``static/`` and
``translations/`` live at the project's top level, beside this package; an installed
wheel carries them inside the package instead (see pyproject.toml), and
:data:`RESOURCE_ROOT` is wherever they are.
"""
from __future__ import annotations

import os
import secrets

from flask import Flask

from . import (budget, commands, errors, i18n, inspect_web, line_client, page_cache, proxy, sandbox, security,
               static_files, trying, views)

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# The project folder: templates/, static/ and translations/ sit beside this package in a checkout.
PROJECT_ROOT = os.path.dirname(PACKAGE_DIR)
# Installed from a wheel (pip/pipx install .), they are inside the package.
INSTALLED = os.path.isdir(os.path.join(PACKAGE_DIR, "templates"))
RESOURCE_ROOT = PACKAGE_DIR if INSTALLED else PROJECT_ROOT


def user_dir(xdg_variable: str, fallback: str) -> str:
    """``$XDG_..._HOME/line-token`` or ``~/<fallback>/line-token`` (the XDG base directory spec)."""
    base = os.environ.get(xdg_variable, "").strip()
    if not os.path.isabs(base):  # the spec says to ignore a relative path
        base = os.path.join(os.path.expanduser("~"), fallback)
    return os.path.join(base, "line-token")


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app. Settings come from the environment, then ``overrides`` (tests)."""
    # A checkout keeps instance/ (the sandbox's SQLite file) in the project folder; an installed
    # package has no project folder, so it uses the user's data folder as the CLI does.
    instance = os.path.join(PROJECT_ROOT, "instance") if not INSTALLED else user_dir("XDG_DATA_HOME", ".local/share")
    app = Flask(__name__, root_path=RESOURCE_ROOT, instance_path=instance, instance_relative_config=True)
    app.config.from_mapping(
        # A random per-boot fallback: sessions are only used for the CSRF token,
        # so a restart merely asks the user to resubmit a form.
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_hex(32),
        LINE_API_BASE_URL=os.environ.get("LINE_API_BASE_URL", "https://api.line.me").rstrip("/"),
        LINE_API_TIMEOUT=_env_float("LINE_API_TIMEOUT", 10.0),
        SANDBOX_ENABLED=_env_flag("SANDBOX_ENABLED", True),
        SANDBOX_DATABASE=os.environ.get("SANDBOX_DATABASE") or "",
        DATABASE_URL=os.environ.get("DATABASE_URL") or "",
        STATIC_BUILD_DIR=os.environ.get("STATIC_BUILD_DIR") or "",  # hashed + compressed static files (static_files.py)
        RATE_LIMIT=os.environ.get("RATE_LIMIT") or "",
        # Server-side key generations (60-180 ms of CPU each) per client, a budget of its own; empty: no limit.
        KEYGEN_RATE_LIMIT=os.environ.get("KEYGEN_RATE_LIMIT", "10/minute").strip(),
        REDIS_URL=os.environ.get("REDIS_URL") or "",  # rate-limit counters shared by all instances
        TRUST_PROXY=_env_flag("TRUST_PROXY", False),
        MAX_CONTENT_LENGTH=security.MAX_BODY_BYTES,  # 1 MiB: a key and a JWT fit many times over
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        MAX_FORM_PARTS=budget.MAX_FORM_PARTS,  # multipart parts; urlencoded fields are counted in budget.py
        WTF_CSRF_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        BABEL_DEFAULT_LOCALE="en",
    )
    app.config.update(overrides or {})
    if not app.config["SANDBOX_DATABASE"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SANDBOX_DATABASE"] = os.path.join(app.instance_path, "sandbox.sqlite3")

    budget.init_app(app)
    i18n.init_app(app)
    static_files.init_app(app)  # before security: its ProxyFix and body guard wrap WhiteNoise too
    security.init_app(app)
    errors.init_app(app)
    line_client.init_app(app)
    views.init_app(app)
    proxy.init_app(app)
    trying.init_app(app)
    inspect_web.init_app(app)
    sandbox.init_app(app)
    commands.init_app(app)
    page_cache.init_app(app)  # after security: it wraps Flask-WTF's csrf_token template global
    sandbox.mount_origin(app)  # last: SANDBOX_PORT / SANDBOX_HOST serve the sandbox at the root of its origin
    return app


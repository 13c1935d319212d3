"""The tester's application factory: ``create_app()`` builds the web app (pages, JSON API, the sandbox at /sandbox)."""
from __future__ import annotations

import os
import secrets

from flask import Flask

from .. import INSTALLED, PROJECT_ROOT, RESOURCE_ROOT, user_dir
from ..sandbox import routes as sandbox
from ..cli import flask_commands
from ..core import line_client
from ..core.settings import env_flag, line_settings, trust_proxy_hops
from . import sandbox_origin
from ..sandbox import budget  # the body bounds, shared with the sandbox's own origin
from . import errors, i18n, inspect_web, page_cache, proxy, security, static_files, trying, views
from .routing import LazyBuilderRule


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app. Settings come from the environment, then ``overrides`` (tests)."""
    # A checkout keeps instance/ (the sandbox's SQLite file) in the project folder; an installed
    # package has no project folder, so it uses the user's data folder as the CLI does.
    instance = os.path.join(PROJECT_ROOT, "instance") if not INSTALLED else user_dir("XDG_DATA_HOME", ".local/share")
    app = Flask(__name__, root_path=RESOURCE_ROOT, instance_path=instance, instance_relative_config=True)
    app.url_rule_class = LazyBuilderRule  # URL builders compiled at their first url_for (routing.py)
    app.config.from_mapping(
        # A random per-boot fallback: sessions are only used for the CSRF token,
        # so a restart merely asks the user to resubmit a form.
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_hex(32),
        **line_settings(),  # LINE_API_BASE_URL, LINE_API_TIMEOUT, SANDBOX_ENABLED, SANDBOX_DATABASE, DATABASE_URL
        STATIC_BUILD_DIR=os.environ.get("STATIC_BUILD_DIR") or "",  # hashed + compressed static files (static_files.py)
        RATE_LIMIT=os.environ.get("RATE_LIMIT") or "",
        # Server-side key generations (60-180 ms of CPU each) per client, a budget of its own; empty: no limit.
        KEYGEN_RATE_LIMIT=os.environ.get("KEYGEN_RATE_LIMIT", "10/minute").strip(),
        REDIS_URL=os.environ.get("REDIS_URL") or "",  # rate-limit counters shared by all instances
        # The number of proxies in front (Heroku's router: 1); their X-Forwarded-* values, from peers TRUST_PROXY_FROM
        # lists (private addresses by default), give the client's address and scheme. security.ForwardedHeaders.
        TRUST_PROXY=os.environ.get("TRUST_PROXY", ""),
        TRUST_PROXY_FROM=os.environ.get("TRUST_PROXY_FROM", "private"),
        TRUST_PROXY_HOST=env_flag("TRUST_PROXY_HOST", False),  # X-Forwarded-Host too (the proxy sets it)
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
    try:
        app.config["TRUST_PROXY"] = trust_proxy_hops(app.config["TRUST_PROXY"])
    except ValueError as e:
        raise RuntimeError(str(e)) from None
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
    for view in sandbox.SCRIPT_ENDPOINTS:  # LINE's endpoints and the admin API are for scripts: no CSRF token
        security.csrf.exempt(view)
    flask_commands.init_app(app)  # keygen, jwt, token, bot on `flask --app app`
    page_cache.init_app(app)  # after security: it wraps Flask-WTF's csrf_token template global
    sandbox_origin.mount_origin(app)  # last: SANDBOX_PORT / SANDBOX_HOST serve the sandbox at the root of its origin
    return app


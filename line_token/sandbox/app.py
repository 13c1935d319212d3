"""The sandbox on its own: a Flask app serving only the emulator at the root of its origin, built without the
tester (``line_token.web``). For scripts and SDKs (LINE's paths and the admin API); the tester serves the same
Blueprint at /sandbox and on SANDBOX_PORT / SANDBOX_HOST with its own pages around it (web/sandbox_origin.py).
"""
from __future__ import annotations

import secrets
from typing import Any

from datetime import datetime, timezone

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from .. import RESOURCE_ROOT
from . import budget, errors, routes
from . import store as store_module


class SessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session (the console's CSRF token), its signing serializer built once per secret key
    instead of on every request: LINE's endpoints and the admin API carry no cookie, and building it was
    about a tenth of a sandbox verify's CPU."""

    def get_signing_serializer(self, app: Flask):
        marker = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("session_serializer")
        if cached is None or cached[0] != marker:
            cached = app.extensions["session_serializer"] = (marker, super().get_signing_serializer(app))
        return cached[1]


def create_app(config: dict[str, Any]) -> Flask:
    """The sandbox alone. ``config`` must name its database (SANDBOX_DATABASE or DATABASE_URL)."""
    # The project's shared resources: static/ (the console's CSS and scripts), templates/ (its macros and error
    # page) and translations/ — files, not the tester's code.
    app = Flask(__name__, root_path=RESOURCE_ROOT)
    app.config.from_mapping(SECRET_KEY=secrets.token_hex(32), SANDBOX_ENABLED=True, SANDBOX_DATABASE="",
                            DATABASE_URL="", BABEL_DEFAULT_LOCALE="en", WTF_CSRF_TIME_LIMIT=None)
    app.config.update(config)
    app.config["SANDBOX_ONLY"] = True
    app.session_interface = SessionInterface()
    budget.init_app(app)
    errors.init_app(app)  # JSON errors for scripts (a 404, a 405, a 500 with no traceback), as the tester's
    Babel(app)
    csrf = CSRFProtect(app)
    for view in routes.SCRIPT_ENDPOINTS:  # LINE's endpoints and the admin API are for scripts: no CSRF token
        csrf.exempt(view)
    routes.configure(app)
    app.extensions["sandbox_store"] = store_module.open_store(app.config)
    app.register_blueprint(routes.bp)
    app.add_template_filter(isoformat)

    @app.context_processor
    def helpers():
        return {"has_endpoint": lambda name: name in app.view_functions}

    return app


def isoformat(epoch) -> str:
    """An epoch second as ISO 8601 UTC (the console's times), "" when it is not one."""
    try:
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc).isoformat().replace("+00:00", "Z")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""

"""The sandbox on its own: a Flask app serving only the emulator at the root of its origin, built without the
tester (``line_token.web``). For scripts and SDKs (LINE's paths and the admin API); the tester serves the same
Blueprint at /sandbox and on SANDBOX_PORT / SANDBOX_HOST with its own pages around it (web/sandbox_origin.py).
"""
from __future__ import annotations

import secrets
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from . import budget, routes
from . import store as store_module


def create_app(config: dict[str, Any]) -> Flask:
    """The sandbox alone. ``config`` must name its database (SANDBOX_DATABASE or DATABASE_URL)."""
    app = Flask(__name__)
    app.config.from_mapping(SECRET_KEY=secrets.token_hex(32), SANDBOX_ENABLED=True, SANDBOX_DATABASE="",
                            DATABASE_URL="", BABEL_DEFAULT_LOCALE="en", WTF_CSRF_TIME_LIMIT=None)
    app.config.update(config)
    app.config["SANDBOX_ONLY"] = True
    budget.init_app(app)
    Babel(app)
    csrf = CSRFProtect(app)
    for view in routes.SCRIPT_ENDPOINTS:  # LINE's endpoints and the admin API are for scripts: no CSRF token
        csrf.exempt(view)
    routes.configure(app)
    app.extensions["sandbox_store"] = store_module.open_store(app.config)
    app.register_blueprint(routes.bp)
    return app

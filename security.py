"""Protections for a public deploy: security headers, CSRF for form posts,
optional rate limiting, proxy headers, and keeping secrets out of logs.

Headers are a few lines of our own rather than Flask-Talisman: we need one
fixed policy (no nonces, no per-view variation), and Talisman's defaults
(forced HTTPS redirect, session cookie rewrites) would fight local use.
"""
from __future__ import annotations

import logging
import re

from flask import Flask, request
from flask_wtf.csrf import CSRFError, CSRFProtect

csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

_QUERY = re.compile(r"\?[^\s\"]*")


def csrf_exempt(view):
    """Mark a view that takes form posts from scripts (the sandbox's LINE endpoints)."""
    view.csrf_exempt = True
    return view


def strip_query(text: str) -> str:
    """Remove query strings: LINE's GET endpoints carry JWTs and tokens in them."""
    return _QUERY.sub("", text)


def redact_log_filter(record: logging.LogRecord) -> bool:
    """Logging filter for the development server's access log: drop query strings."""
    if record.args:
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        record.args = tuple(strip_query(a) if isinstance(a, str) else a for a in args)
    if isinstance(record.msg, str):
        record.msg = strip_query(record.msg)
    return True


def init_app(app: Flask) -> None:
    if app.config.get("TRUST_PROXY"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    @app.before_request
    def check_csrf():
        if request.method not in ("POST", "PUT", "PATCH", "DELETE") or not app.config.get("WTF_CSRF_ENABLED", True):
            return None
        # A cross-site form cannot send Content-Type: application/json, so JSON API calls
        # need no token; form posts do.
        if request.is_json:
            return None
        view = app.view_functions.get(request.endpoint or "")
        if view is None or getattr(view, "csrf_exempt", False):
            return None
        csrf.protect()
        return None

    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError):
        from flask_babel import gettext

        from errors import json_error, wants_json

        message = gettext("This form has expired or was sent from another site. Reload the page and send it again.")
        if wants_json():
            return json_error("invalid_csrf_token", message, 400)
        from flask import render_template

        return render_template("errors/http.html", code=400, title=gettext("Form expired"), message=message), 400

    @app.after_request
    def set_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if request.endpoint != "static":
            # Pages and answers may hold keys, JWTs and tokens: keep them out of caches.
            headers["Cache-Control"] = "no-store"
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    limit = app.config.get("RATE_LIMIT")
    if limit:
        from flask_limiter import Limiter
        from flask_limiter.util import get_remote_address

        limiter = Limiter(get_remote_address, app=app, default_limits=[limit],
                          storage_uri="memory://", headers_enabled=True)
        app.extensions["rate_limiter"] = limiter

        @limiter.request_filter
        def _static_is_free():
            return request.endpoint == "static"

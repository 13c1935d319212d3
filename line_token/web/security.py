"""Protections for a public deploy: security headers, CSRF for form posts,
optional rate limiting, proxy headers, and keeping secrets out of logs.

Headers are a few lines of our own rather than Flask-Talisman. We need one
fixed policy for every page (no nonces: no page has inline script, so
``script-src 'self'`` is enough; no per-view variation), plus
``Cache-Control: no-store`` on everything that is not a static file, which
Talisman does not do. Talisman's defaults would also fight local use: it
redirects every request to HTTPS and marks the session cookie ``Secure``, so
``./scripts/start`` on http://127.0.0.1 would lose its CSRF cookie. HSTS is
sent only when the request really came over HTTPS, which behind Heroku's router
we learn from ``X-Forwarded-Proto`` via werkzeug's ProxyFix, and only when
``TRUST_PROXY`` says a proxy is there to set it (a client could send the header
itself otherwise).

CSRF is Flask-WTF's own check on every POST/PUT/PATCH/DELETE, with two ways
past it: views exempted with ``csrf.exempt`` (the sandbox's LINE endpoints and
admin API, listed once in sandbox.py: scripts post there and no cookie carries
authority), and a body sent as ``Content-Type: application/json``, which no
cross-site form or ``no-cors`` fetch can send (the ``Accept`` header, which they
can set, does not count). Over HTTPS Flask-WTF also wants a same-origin
``Referer``, so the Referrer-Policy is ``same-origin`` (not ``no-referrer``),
and the session cookie (which holds the CSRF token) is marked ``Secure``.

Rate limiting is Flask-Limiter, per client IP (ProxyFix puts the real one in
``remote_addr`` behind a proxy), one budget across all routes but static files.
With ``REDIS_URL`` (Heroku Redis sets it) the counters live in Redis through
Flask-Limiter's own storage, one budget for all instances. Otherwise they live
in a small SQLite file shared by the gunicorn workers of one machine: the
default in-memory storage would count per worker process, so ``5/minute`` with
2 workers would let 10 through.
"""
from __future__ import annotations

import io
import logging
import os
import re
import sqlite3
import threading
import time

from flask import Flask, has_request_context, render_template, request
from flask_babel import gettext
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from ..core.line_client import IN_PROCESS_MARK
from ..core.redact import redact_log_filter
from .errors import json_error, wants_json


class JsonAwareCSRFProtect(CSRFProtect):
    """Flask-WTF's check, except for a body sent as ``Content-Type: application/json``.

    Browsers let a cross-site form or ``no-cors`` fetch send only urlencoded,
    multipart or text/plain bodies; ``application/json`` needs a CORS preflight
    we never answer. So a JSON API call needs no token, and everything else
    (whatever its ``Accept`` header says) does.
    """

    def protect(self, *args, **kwargs):
        if request.is_json:
            return None
        return super().protect(*args, **kwargs)


csrf = JsonAwareCSRFProtect()


class SessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session, marked ``Secure`` whenever the request came over HTTPS.

    Not always: ``./scripts/start`` serves plain http://127.0.0.1, where a Secure
    cookie would never come back and every form would expire.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    # LINE's CDN: the bot's picture on the "Try the token" result (GET /v2/bot/info's pictureUrl).
    "img-src 'self' data: https://profile.line-scdn.net",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HSTS = "max-age=31536000; includeSubDomains"
# The request body limit (the app's MAX_CONTENT_LENGTH; gunicorn.conf.py closes the connection after a bigger one).
MAX_BODY_BYTES = 1024 * 1024

# Requests the rate limit never counts: static files, and the proxy's in-process call
# into the sandbox (line_client marks its environ), which is part of a request already counted.
RATE_LIMIT_FREE_ENDPOINTS = ("static", "views.favicon")
# Loggers that write request lines: the development server's access log, and gunicorn's
# error log, which names the request's URI (query included) when a request fails outside the app.
REQUEST_LINE_LOGGERS = ("werkzeug", "gunicorn.error", "gunicorn.access")


# --------------------------------------------------------------------------- rate limit storage


def sqlite_storage_class():
    """A ``limits`` storage (fixed windows) in one SQLite file, shared by processes.

    Built on first use so that ``limits`` is imported only when RATE_LIMIT is set.
    """
    from limits.storage import Storage

    class SQLiteStorage(Storage):
        STORAGE_SCHEME = ["tester+sqlite"]
        PURGE_EVERY = 500  # increments between sweeps of expired windows

        def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, path: str = "", **options):
            super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
            self.path = path
            self._local = threading.local()
            self._count = 0
            try:
                self._connect().execute("CREATE TABLE IF NOT EXISTS windows (key TEXT PRIMARY KEY, "
                                        "hits INTEGER NOT NULL, expires REAL NOT NULL)")
            except sqlite3.Error as e:  # e.g. a read-only disk: serve unlimited (swallow_errors) rather than not at all
                logging.getLogger(__name__).warning("rate limit store %s unusable: %s", path, type(e).__name__)

        @property
        def base_exceptions(self):
            return sqlite3.Error

        def _connect(self) -> sqlite3.Connection:
            conn = getattr(self._local, "conn", None)
            if conn is None or getattr(self._local, "pid", None) != os.getpid():
                conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=OFF")  # counters, not records: losing a second of them is fine
                self._local.conn, self._local.pid = conn, os.getpid()
            return conn

        def incr(self, key: str, expiry: float, amount: int = 1) -> int:
            now = time.time()
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT hits, expires FROM windows WHERE key = ?", (key,)).fetchone()
                if row is None or row[1] <= now:
                    hits = amount
                    conn.execute("INSERT OR REPLACE INTO windows (key, hits, expires) VALUES (?, ?, ?)",
                                 (key, hits, now + expiry))
                else:
                    hits = row[0] + amount
                    conn.execute("UPDATE windows SET hits = ? WHERE key = ?", (hits, key))
                self._count += 1
                if self._count % self.PURGE_EVERY == 0:
                    conn.execute("DELETE FROM windows WHERE expires <= ?", (now,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return hits

        def get(self, key: str) -> int:
            row = self._connect().execute("SELECT hits FROM windows WHERE key = ? AND expires > ?",
                                          (key, time.time())).fetchone()
            return row[0] if row else 0

        def get_expiry(self, key: str) -> float:
            row = self._connect().execute("SELECT expires FROM windows WHERE key = ?", (key,)).fetchone()
            return row[0] if row and row[0] > time.time() else time.time()

        def check(self) -> bool:
            try:
                self._connect().execute("SELECT 1")
                return True
            except sqlite3.Error:
                return False

        def reset(self) -> int | None:
            return self._connect().execute("DELETE FROM windows").rowcount

        def clear(self, key: str) -> None:
            self._connect().execute("DELETE FROM windows WHERE key = ?", (key,))

    return SQLiteStorage


def rate_limit_database(app: Flask) -> str:
    """Where the rate limit counters live: RATE_LIMIT_DATABASE, else beside the sandbox's SQLite file."""
    path = app.config.get("RATE_LIMIT_DATABASE") or os.path.join(
        os.path.dirname(os.path.abspath(app.config["SANDBOX_DATABASE"])), "ratelimit.sqlite3")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError:
        pass  # the store says so when it opens
    return path


def client_address() -> str:
    """The client's IP: ProxyFix has put the real one in remote_addr when TRUST_PROXY is set."""
    return request.remote_addr or "127.0.0.1"


def rate_limit_storage(app: Flask) -> tuple[str, dict]:
    """The ``limits`` storage URI and options for this app's counters: Redis with REDIS_URL, else the SQLite file."""
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        # Several instances (dynos): one budget for all, in Redis (Flask-Limiter's own storage).
        storage_uri, options = redis_url, {}
        if redis_url.startswith("rediss://"):
            # Heroku Redis's TLS endpoint has a self-signed certificate; Heroku's docs say to skip verification.
            options["ssl_cert_reqs"] = None
        return storage_uri, options
    sqlite_storage_class()  # registers the tester+sqlite:// scheme
    return "tester+sqlite://", {"path": rate_limit_database(app)}


# One limit in the syntax of ``limits`` (what Flask-Limiter takes): "10/minute", "100 per hour", "5/2 minutes".
RATE_LIMIT_SYNTAX = re.compile(r"\s*\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day|month|year)s?\s*", re.I)


def keygen_wait() -> tuple[int, str] | None:
    """Count one server-side key generation against this client's KEYGEN_RATE_LIMIT (its own budget, kept beside
    RATE_LIMIT's counters whether or not RATE_LIMIT is set). Over it: (seconds to wait, the limit as
    "10 per 1 minute"); else None."""
    from flask import current_app

    app = current_app
    limit = app.config.get("KEYGEN_RATE_LIMIT")
    if not limit:
        return None
    counter = app.extensions.get("keygen_rate_limit")
    if counter is None:
        from limits import parse
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        storage_uri, options = rate_limit_storage(app)
        counter = app.extensions["keygen_rate_limit"] = (
            FixedWindowRateLimiter(storage_from_string(storage_uri, **options)), parse(limit))
    strategy, item = counter
    try:
        if strategy.hit(item, "tester", "keygen", client_address()):
            return None
        reset_at, _ = strategy.get_window_stats(item, "tester", "keygen", client_address())
    except Exception:  # the counter store is unreachable: serve, as RATE_LIMIT does (swallow_errors)
        logging.getLogger(__name__).warning("key generation rate limit store unusable")
        return None
    return max(1, int(reset_at - time.time()) + 1), str(item)


def init_rate_limit(app: Flask, limit: str) -> None:
    from flask_limiter import Limiter

    storage_uri, options = rate_limit_storage(app)
    # swallow_errors: a storage outage serves requests unlimited rather than not at all. It would also hide
    # a change in limits' Storage API (requirements.txt pins its major version);
    # tests/test_security.py::test_the_sixth_request_gets_429_with_retry_after proves the counting is live.
    limiter = Limiter(client_address, app=app, application_limits=[limit],
                      storage_uri=storage_uri, storage_options=options,
                      headers_enabled=True, swallow_errors=True, key_prefix="tester")
    app.extensions["rate_limiter"] = limiter

    @limiter.request_filter
    def _free():
        return request.endpoint in RATE_LIMIT_FREE_ENDPOINTS or bool(request.environ.get(IN_PROCESS_MARK))


# --------------------------------------------------------------------------- chunked bodies


BODY_TOO_LARGE = "security.body_too_large"


class BoundedChunkedBody:
    """WSGI middleware: hold a chunked request body (no Content-Length) to MAX_CONTENT_LENGTH too.

    werkzeug reads such a body only up to the limit and silently drops the rest,
    so a 2 MiB chunked post would be handled as its first 1 MiB. Here the body is
    read up to the limit plus one byte: over it, the request is marked for a 413;
    within it, the app gets the body with its Content-Length like any other.
    """

    def __init__(self, wsgi_app, limit: int):
        self.wsgi_app = wsgi_app
        self.limit = limit

    def __call__(self, environ, start_response):
        if not environ.get("CONTENT_LENGTH") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            stream = environ["wsgi.input"]
            chunks, size = [], 0
            while size <= self.limit:
                chunk = stream.read(min(64 * 1024, self.limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > self.limit:
                environ[BODY_TOO_LARGE] = True
                chunks = []
            body = b"".join(chunks)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.wsgi_app(environ, start_response)


# --------------------------------------------------------------------------- wiring


def init_app(app: Flask) -> None:
    for name in REQUEST_LINE_LOGGERS:
        logging.getLogger(name).addFilter(redact_log_filter)

    if app.config.get("TRUST_PROXY"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # One proxy in front (Heroku's router): trust only the last X-Forwarded-* value, the one it added.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    if app.config.get("MAX_CONTENT_LENGTH"):
        app.wsgi_app = BoundedChunkedBody(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])

    @app.before_request
    def refuse_oversized_chunked_body():
        if request.environ.get(BODY_TOO_LARGE):
            from werkzeug.exceptions import RequestEntityTooLarge

            raise RequestEntityTooLarge()

    app.session_interface = SessionInterface()
    csrf.init_app(app)  # Flask-WTF's before_request check; exemptions: csrf.exempt in sandbox.py

    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError):
        message = gettext("This form has expired or was sent from another site. Reload the page and send it again.")
        if wants_json():
            return json_error("invalid_csrf_token", message, 400)
        return render_template("errors/http.html", code=400, title=gettext("Form expired"), message=message), 400

    # Registered before the limiter's own after_request, so it runs after it (Flask runs them in reverse).
    @app.after_request
    def set_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # Same-origin posts carry their Referer, which Flask-WTF's HTTPS check needs; no other site sees our URLs.
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if request.endpoint != "static":
            # Pages and answers may hold keys, JWTs and tokens: keep them out of caches.
            headers["Cache-Control"] = "no-store"
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if response.status_code not in (429, 503):
            # Flask-Limiter sends Retry-After on every answer; it means something only on a 429 (or 503).
            headers.pop("Retry-After", None)
        return response

    limit = app.config.get("RATE_LIMIT")
    if limit:
        init_rate_limit(app, limit)
    keygen_limit = app.config.get("KEYGEN_RATE_LIMIT") or ""
    if keygen_limit and not RATE_LIMIT_SYNTAX.fullmatch(keygen_limit):
        raise RuntimeError(f"KEYGEN_RATE_LIMIT={keygen_limit!r}: give one limit such as 10/minute, 100/hour or "
                           "5 per minute; empty turns it off")

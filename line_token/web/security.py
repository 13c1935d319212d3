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

from flask import Flask, has_request_context, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, CSRFProtect

from ..core.counters import (RATE_LIMIT_SYNTAX, ClientLimit, client_bucket, counter_database,  # noqa: F401
                             counter_storage, sqlite_storage_class)
from ..core.line_client import IN_PROCESS_MARK
from ..core.redact import redact_log_filter
from ..core.settings import trust_proxy_hops
from ..sandbox import app as sandbox_app
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


class SessionInterface(sandbox_app.SessionInterface):
    """Flask's cookie session (its serializer built once), marked ``Secure`` whenever the request came over HTTPS.

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
# The counters live in core/counters.py (the sandbox's failed-authentication limit shares them).


def rate_limit_database(app: Flask) -> str:
    """Where the rate limit counters live: RATE_LIMIT_DATABASE, else beside the sandbox's SQLite file."""
    return counter_database(app.config)


def client_address() -> str:
    """The client a per-client limit counts: its IP (ProxyFix has put the real one in remote_addr when
    TRUST_PROXY is set), an IPv6 one by its /64."""
    return client_bucket(request.remote_addr or "127.0.0.1")


def rate_limit_storage(app: Flask) -> tuple[str, dict]:
    """The ``limits`` storage URI and options for this app's counters: Redis with REDIS_URL, else the SQLite file."""
    return counter_storage(app.config)


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
        counter = app.extensions["keygen_rate_limit"] = ClientLimit(app.config, limit, "keygen")
    wait = counter.hit(client_address())
    return None if wait is None else (wait, str(counter))


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


# --------------------------------------------------------------------------- proxy headers


# Peers whose X-Forwarded-* headers TRUST_PROXY honours by default ("private"): loopback, private, shared
# (carrier-grade NAT) and link-local addresses, where a proxy in front of the app connects from (Heroku's
# router from 10.x, nginx on the same host from 127.0.0.1). A client on the internet reaching the app
# directly comes from none of them, so its own X-Forwarded-For is not taken for its address.
PRIVATE_NETWORKS = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                    "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10")
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                     "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX")
log = logging.getLogger(__name__)


def trusted_networks(setting: str) -> list | None:
    """TRUST_PROXY_FROM as networks: "private" (the default), "*" (any peer: None), or addresses and CIDRs,
    comma-separated ("private" may be one of them). A ValueError names the setting and the bad entry."""
    import ipaddress

    entries = [entry.strip() for entry in (setting or "private").split(",") if entry.strip()]
    if "*" in entries:
        return None
    networks = []
    for entry in entries:
        for text in (PRIVATE_NETWORKS if entry.lower() == "private" else (entry,)):
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError(f"TRUST_PROXY_FROM: {entry!r} is not an address or network; give addresses or "
                                 "CIDRs separated by commas, \"private\" (the default) or \"*\"") from None
    return networks


class ForwardedHeaders:
    """WSGI middleware: X-Forwarded-* taken only as far as TRUST_PROXY says, and only from a proxy.

    TRUST_PROXY=N (N proxies in front) hands the request to werkzeug's ProxyFix with x_for=N and x_proto=N
    (the N rightmost values, the ones the proxies added), x_host=N only with TRUST_PROXY_HOST (otherwise a
    client would choose the host in the bot's pictureUrl and the shown snippets) -- and only when the
    connection comes from a peer TRUST_PROXY_FROM lists. A direct connection's own X-Forwarded-For names no
    one. What does not fit is logged once per process: forwarded headers that are ignored, and, with
    TRUST_PROXY set, a request from the proxy's side that carries no X-Forwarded-For.
    """

    def __init__(self, wsgi_app, hops: int, trust_from: str = "private", trust_host: bool = False):
        from werkzeug.middleware.proxy_fix import ProxyFix

        self.app = wsgi_app
        self.hops = hops
        self.networks = trusted_networks(trust_from)
        self.proxied = ProxyFix(wsgi_app, x_for=hops, x_proto=hops, x_host=hops if trust_host else 0) if hops else None
        self._said: set[str] = set()
        if hops:
            log.info("TRUST_PROXY=%d: the client address and scheme come from the last %d X-Forwarded-For / "
                     "-Proto value(s) of requests from %s; X-Forwarded-Host is %s", hops, hops,
                     "any peer" if self.networks is None else (trust_from or "private"),
                     "trusted (TRUST_PROXY_HOST)" if trust_host else "ignored")

    def say_once(self, what: str, message: str, *args) -> None:
        if what not in self._said:
            self._said.add(what)
            log.warning(message, *args)

    def from_proxy(self, peer: str) -> bool:
        if self.networks is None:
            return True
        import ipaddress

        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def __call__(self, environ, start_response):
        if environ.get(IN_PROCESS_MARK):  # the proxy's own call into the sandbox: already resolved
            return self.app(environ, start_response)
        forwarded = [name for name in FORWARDED_HEADERS if name in environ]
        peer = environ.get("REMOTE_ADDR") or ""
        if not self.hops:
            if forwarded:
                self.say_once("untrusted", "X-Forwarded-* headers arrived (from %s) but TRUST_PROXY is not set: "
                              "ignored. Behind a reverse proxy, set TRUST_PROXY to the number of proxies.", peer)
            return self.app(environ, start_response)
        if not self.from_proxy(peer):
            if forwarded:
                self.say_once("stranger", "X-Forwarded-* headers arrived from %s, which TRUST_PROXY_FROM does not "
                              "list as a proxy: ignored (is the app reachable directly, not only through the "
                              "proxy?). List the proxy's address in TRUST_PROXY_FROM if it is one.", peer)
                for name in forwarded:
                    del environ[name]
            return self.app(environ, start_response)
        if "HTTP_X_FORWARDED_FOR" not in environ:
            self.say_once("missing", "TRUST_PROXY=%d but a request from %s came without X-Forwarded-For: its "
                          "address is the peer's. Is the app reachable directly, or is TRUST_PROXY set without "
                          "a proxy?", self.hops, peer)
        return self.proxied(environ, start_response)


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

    try:
        app.wsgi_app = ForwardedHeaders(app.wsgi_app, trust_proxy_hops(app.config.get("TRUST_PROXY")),
                                        app.config.get("TRUST_PROXY_FROM") or "private",
                                        bool(app.config.get("TRUST_PROXY_HOST")))
    except ValueError as e:  # a bad TRUST_PROXY or TRUST_PROXY_FROM: refuse to start, saying which
        raise RuntimeError(str(e)) from None
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

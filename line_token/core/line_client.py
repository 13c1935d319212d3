"""Calls to LINE's channel access token API, for the proxy pages and the CLI.

One module sends requests to LINE's endpoints (as the registry, core/endpoints.py,
describes them), with one pooled ``requests.Session`` per process,
the timeout, and the mapping of network failures to :class:`LineAPIError`
(502 unreachable, 504 timeout). LINE's own answers, 4xx and 5xx included, are
returned as they are in a :class:`LineResponse`.

Two targets share this one code path. ``line`` goes to ``LINE_API_BASE_URL``.
``sandbox`` goes to the fixed base ``http://sandbox.internal``, where a requests
transport adapter (:class:`SandboxAdapter`) hands the prepared request to this
app's own WSGI callable at ``/sandbox`` + LINE's path, in process. It never
makes an HTTP call back to our own server: with a few sync workers, a request
waiting on another request to itself deadlocks under load.

Secrets (assertions, tokens, channel secrets) are never logged: log lines name
the method, target and path only, never fields or query strings.
"""
from __future__ import annotations

import contextvars
import io
import json
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import endpoints
from .catalogs import Phrase
from .redact import redact_log_filter
from .signing import N_, InputError

# requests (and urllib3) are imported where they are used, on the first call to LINE or the
# sandbox: about 0.1 s of CPU that every worker's start-up and every CLI command would pay.
# So is http.cookiejar (it imports urllib.request), which only the sessions below need.
if TYPE_CHECKING:  # the annotations only
    import requests
    from requests.structures import CaseInsensitiveDict

log = logging.getLogger(__name__)

# Set in the environ of every in-process sandbox request (SandboxAdapter): the sandbox's origin
# router and the rate limiter tell an in-process call from a client's by it, never by host or port.
IN_PROCESS_MARK = "line_client.in_process"

# LINE's endpoints, as the registry (core/endpoints.py) describes them: name -> (method, path).
ENDPOINTS: dict[str, tuple[str, str]] = {e.name: (e.method, e.path) for e in endpoints.REGISTRY}
BEARER_ENDPOINTS = endpoints.BEARER_ENDPOINTS  # the Messaging API's calls: no fields, ``call(..., bearer=)``
TARGETS = ("line", "sandbox")

# The form fields each token endpoint takes, in LINE's order. issue_stateless takes either the
# assertion fields (these) or the client_id/client_secret ones (see request_fields).
REQUEST_FIELDS: dict[str, tuple[str, ...]] = {name: endpoints.get(name).sends() for name in endpoints.TOKEN_ENDPOINTS}
STATELESS_SECRET_FIELDS = endpoints.get("issue_stateless").sends(endpoints.CLIENT_SECRET)

GRANT_TYPE = endpoints.GRANT_TYPE
ASSERTION_TYPE = endpoints.ASSERTION_TYPE

FIELD_DEFAULTS = endpoints.FIELD_DEFAULTS

SANDBOX_BASE = "http://sandbox.internal"  # never resolved: SandboxAdapter answers it
SANDBOX_PREFIX = "/sandbox"  # where the sandbox Blueprint is mounted in this app
MAX_BODY = 1024 * 1024  # LINE's answers are a few hundred bytes; anything this big is not LINE
MAX_SHOWN_BODY = 4096  # characters of an answer too complex to read as JSON that a page shows
PROJECT_NAME = "line-token-tester"  # pyproject's [project] name: the distribution whose version and address we send


def user_agent() -> str:
    """The User-Agent sent to LINE: this project, its version and its own address (RFC 9110 product token and a
    comment), as pyproject.toml's [project] states them: ``line-token-tester/0.2.0 (+https://…)``.

    Read on first use, not at import: from the checkout's pyproject.toml when running from one, else from the
    installed distribution's metadata (the wheel carries no pyproject.toml). Never raises: without either, the
    name alone.
    """
    global _user_agent
    if _user_agent is None:
        version, address = _project_identity()
        _user_agent = PROJECT_NAME + (f"/{version}" if version else "") + (f" (+{address})" if address else "")
    return _user_agent


_user_agent: str | None = None


def _project_identity() -> tuple[str | None, str | None]:
    """(version, address) from pyproject.toml beside the package, else from the installed metadata."""
    import os

    pyproject = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             "pyproject.toml")
    try:
        import tomllib

        with open(pyproject, "rb") as f:
            project = tomllib.load(f).get("project", {})
        if project.get("name") == PROJECT_NAME:
            urls = project.get("urls", {})
            return project.get("version"), urls.get("Homepage") or urls.get("Repository")
    except (OSError, ValueError):
        pass
    try:
        from importlib import metadata

        meta = metadata.metadata(PROJECT_NAME)
        urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL") or [] if ", " in entry)
        return meta.get("Version"), urls.get("Homepage") or urls.get("Repository")
    except (ImportError, ValueError):  # metadata.PackageNotFoundError is an ImportError
        return None, None


class LineAPIError(Exception):
    """LINE (or the sandbox) could not be asked: ``status`` is the HTTP status to answer with.

    ``code`` is ``upstream_unreachable`` (502), ``upstream_timeout`` (504),
    ``upstream_too_large`` (502) or
    ``unknown_endpoint`` (400). ``field`` names the input at fault, if any.
    """

    def __init__(self, code: str, description: str, status: int, field: str | None = None, **params: Any):
        # ``description`` is a %-template when ``params`` are given, so the web layer can translate it.
        self.template = description
        self.params = params
        self.description = description % params if params else description
        super().__init__(self.description)
        self.code = code
        self.status = status
        self.field = field


@dataclass
class LineResponse:
    """LINE's answer and the request as it was sent.

    ``url`` has no query string: for GET endpoints the ``fields`` went in it.
    ``fields`` are the real values; mask them with :func:`masked` before showing.
    ``bearer`` is the token sent as ``Authorization: Bearer`` (Messaging API calls), else "".
    """

    status_code: int
    body: Any
    method: str
    url: str
    fields: dict[str, str]
    target: str = "line"
    elapsed_ms: float = 0.0
    bearer: str = ""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def body_note(self) -> tuple[str, dict[str, str]] | None:
        """(N_ template, params) when the body was too complex to read as JSON and is shown cut."""
        body = self.body
        return (body.note, body.note_params) if isinstance(body, UnparsedBody) else None


# --------------------------------------------------------------------------- the session


@dataclass
class _Dispatch:
    """What the sandbox adapter needs to know about the call it serves."""

    app: Any  # a WSGI app with .config and .wsgi_app (a Flask app)
    remote_addr: str
    public_base: str = ""  # the caller's own address (``http://host/``), for URLs the sandbox hands out


# Set in the worker thread that sends a sandbox request, read by SandboxAdapter.send
# in that same thread: requests offers no way to pass our own arguments to an adapter.
_dispatch: contextvars.ContextVar[_Dispatch | None] = contextvars.ContextVar("line_client_dispatch", default=None)

_session: requests.Session | None = None
_sandbox_session: requests.Session | None = None
_session_lock = threading.Lock()


class SandboxAdapter:
    """A requests transport that hands a request to this app's WSGI callable in process.

    It has requests' transport interface (``send`` and ``close``, all ``Session.mount``
    needs) without subclassing ``requests.adapters.BaseAdapter``, so that defining it
    does not import requests.

    ``http://sandbox.internal/oauth2/v2.1/token`` becomes a WSGI call to
    ``/sandbox/oauth2/v2.1/token`` on the app of the current :func:`call`.
    """

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout=None,
             verify=True, cert=None, proxies=None) -> requests.Response:
        import requests
        from requests.structures import CaseInsensitiveDict
        from requests.utils import get_encoding_from_headers
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        dispatch = _dispatch.get()
        if dispatch is None:
            raise requests.ConnectionError("the sandbox is reachable only through line_client.call()", request=request)
        parts = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        builder = EnvironBuilder(
            # The tester mounts the sandbox at /sandbox; the sandbox's own app (SANDBOX_ONLY) at its root.
            path=("" if dispatch.app.config.get("SANDBOX_ONLY") else SANDBOX_PREFIX) + parts.path, base_url=SANDBOX_BASE, query_string=parts.query,
            method=request.method, headers=dict(request.headers), data=body,
            environ_overrides={
                "REMOTE_ADDR": dispatch.remote_addr,
                # Lets the sandbox (or a rate limiter) tell an in-process call from a client's.
                IN_PROCESS_MARK: True,
                # Where the person's browser reaches this app (the sandbox's picture URLs).
                "line_client.public_base": dispatch.public_base,
            })
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, headers = run_wsgi_app(dispatch.app.wsgi_app, environ, buffered=True)
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(headers.items())
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = io.BytesIO(b"".join(app_iter))
        response.url = request.url
        response.request = request
        response.connection = self
        return response

    def close(self) -> None:
        return None


def session() -> requests.Session:
    """The process's pooled session, made on first use (after gunicorn forks its workers)."""
    global _session
    if _session is None:
        import http.cookiejar

        import requests
        from requests.adapters import HTTPAdapter

        with _session_lock:
            if _session is None:
                s = requests.Session()
                # Nobody's cookies may reach another user through the shared jar.
                s.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
                s.headers.update({"User-Agent": user_agent(), "Accept": "application/json"})
                # No retries: a retried POST /oauth2/v2.1/token could issue two tokens.
                pooled = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
                s.mount("https://", pooled)
                s.mount("http://", pooled)
                s.mount(SANDBOX_BASE + "/", SandboxAdapter())
                _session = s
    return _session


def sandbox_session() -> requests.Session:
    """The session for the in-process sandbox: no proxy, no ~/.netrc (``trust_env = False``).

    With the default ``trust_env``, requests re-reads the whole environment for proxy
    settings and looks for ~/.netrc on every call, about a fifth of an in-process
    sandbox call's cost; the sandbox never goes through a proxy.
    """
    global _sandbox_session
    if _sandbox_session is None:
        import http.cookiejar

        import requests

        with _session_lock:
            if _sandbox_session is None:
                s = requests.Session()
                s.trust_env = False
                s.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
                s.headers.update({"User-Agent": user_agent(), "Accept": "application/json"})
                s.mount(SANDBOX_BASE + "/", SandboxAdapter())
                _sandbox_session = s
    return _sandbox_session


# --------------------------------------------------------------------------- calling


def _current_app() -> Any:
    """Flask's current app, for callers that pass none. This module imports no Flask: if Flask is not
    loaded, there is no app to find, and the caller must pass ``app``."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_app_context():
        raise RuntimeError("line_client needs an app: pass app= outside a Flask app context")
    return flask.current_app._get_current_object()


def _caller() -> tuple[str, str]:
    """The current request's client address and public base URL (``http://host/``), or defaults outside one."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return "127.0.0.1", ""
    return flask.request.remote_addr or "127.0.0.1", flask.request.host_url


def request_fields(endpoint: str, **values: str | None) -> dict[str, str]:
    """LINE's request fields for ``endpoint`` (a name in the registry), in LINE's order.

    The proxy pages, the JSON API and the CLI all build their requests here, from
    the fields the registry (core/endpoints.py) lists. ``grant_type`` and
    ``client_assertion_type`` default to LINE's constants when not given (the
    pages let a user send others, to see LINE's answer). For ``issue_stateless``,
    the client_id/client_secret pair is sent when no client_assertion is given.
    """
    described = endpoints.get(endpoint)
    names = described.sends()
    if len(described.auth) > 1 and not values.get("client_assertion"):
        names = described.sends(endpoints.CLIENT_SECRET)  # issue_stateless's other way: client ID and secret
    unknown = set(values) - set(described.field_names)
    if unknown:
        raise TypeError(f"{endpoint} takes no {', '.join(sorted(unknown))}")
    return {name: values.get(name) or FIELD_DEFAULTS.get(name, "") for name in names}


def sandbox_enabled(app: Any = None) -> bool:
    """The one SANDBOX_ENABLED check: off means every /sandbox URL is a 404 and no call goes there."""
    app = app or _current_app()
    return bool(app.config.get("SANDBOX_ENABLED", True))


def check_target(target: str, app: Any = None) -> str:
    """``target`` if it is one we can call; else InputError naming ``target``."""
    if target not in TARGETS:
        raise InputError("target", N_("target must be \"line\" or \"sandbox\"."))
    if target == "sandbox" and not sandbox_enabled(app):
        raise InputError("target", N_("The sandbox is turned off on this server (SANDBOX_ENABLED=0): choose the "
                                      "LINE Platform as the target."))
    return target


def base_url(target: str, app: Any = None) -> str:
    """The base URL requests are sent to for ``target`` (raises InputError for a bad target)."""
    app = app or _current_app()
    check_target(target, app)
    if target == "line":
        return app.config["LINE_API_BASE_URL"].rstrip("/")
    return SANDBOX_BASE


def call(endpoint: str, fields: dict[str, str], target: str = "line", app: Any = None,
         bearer: str | None = None) -> LineResponse:
    """Send ``fields`` to LINE's ``endpoint`` (a name in the registry) on ``target`` and return the answer.

    POST endpoints get the fields as a form body, GET endpoints as query
    parameters. ``bearer`` goes in an ``Authorization: Bearer`` header (the
    Messaging API's calls, BEARER_ENDPOINTS). Waits at most ``LINE_API_TIMEOUT`` seconds in all.
    Raises InputError for a bad target, LineAPIError for a bad endpoint (400), an unreachable
    upstream (502), a timeout (504) or an oversized answer (502).
    """
    app = app or _current_app()
    if endpoint not in ENDPOINTS:
        raise LineAPIError("unknown_endpoint", N_("Unknown LINE endpoint."), 400, field="endpoint")
    method, path = ENDPOINTS[endpoint]
    url = base_url(target, app) + path
    try:
        timeout = float(app.config.get("LINE_API_TIMEOUT") or 10.0)
    except (TypeError, ValueError):
        timeout = 10.0
    if not 0 < timeout < 3600:  # a zero, negative or absurd setting would mean "wait forever" or "never wait"
        timeout = 10.0
    fields = {str(k): "" if v is None else str(v) for k, v in fields.items()}
    remote_addr, public_base = _caller()
    dispatch = _Dispatch(app, remote_addr, public_base) if target == "sandbox" else None
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}

    started = time.monotonic()
    deadline = started + timeout
    outcome: dict[str, Any] = {}

    def exchange() -> None:
        # Runs in its own thread so the caller can stop waiting at the deadline even
        # if the upstream trickles its answer a byte at a time.
        _dispatch.set(dispatch)
        try:
            outcome["value"] = _exchange(method, url, fields, timeout, deadline, headers)
        except BaseException as e:  # handed to the caller's thread below
            outcome["error"] = e

    worker = threading.Thread(target=exchange, name=f"line-client {method} {path}", daemon=True)
    worker.start()
    worker.join(timeout)
    elapsed_ms = (time.monotonic() - started) * 1000
    where = "sandbox" if target == "sandbox" else url.split("/", 3)[2]
    if worker.is_alive() or isinstance(outcome.get("error"), _Timeout):
        log.warning("%s %s %s: no answer within %.0f s", method, where, path, timeout)
        raise _timeout_error(target, timeout)
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, LineAPIError):
            raise error
        import requests

        if isinstance(error, requests.RequestException):
            log.warning("%s %s %s failed: %s", method, where, path, type(error).__name__)
            raise _map_request_error(error, target, timeout, url) from None
        log.error("%s %s %s failed unexpectedly: %s", method, where, path, type(error).__name__)
        raise LineAPIError("upstream_unreachable", N_(
            "The request could not be sent (an unexpected error on our side). Please try again."), 502) from None
    status, headers, raw = outcome["value"]
    log.info("%s %s %s -> %s in %.0f ms", method, where, path, status, elapsed_ms)
    return LineResponse(status_code=status, body=parse_body(raw, headers), method=method, url=url,
                        fields=fields, target=target, elapsed_ms=elapsed_ms, bearer=bearer or "")


class _Timeout(Exception):
    """The deadline passed while the answer was still arriving."""


def _exchange(method: str, url: str, fields: dict[str, str], timeout: float,
              deadline: float, headers: dict[str, str] | None = None) -> tuple[int, CaseInsensitiveDict, bytes]:
    """Send one request and read its answer, capped at MAX_BODY bytes and the deadline."""
    params = fields if method == "GET" else None
    data = fields if method != "GET" else None
    http_session = sandbox_session() if url.startswith(SANDBOX_BASE + "/") else session()
    response = http_session.request(method, url, params=params, data=data, headers=headers or None,
                                    timeout=(timeout, timeout), allow_redirects=False, stream=True)
    try:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_BODY:
                raise LineAPIError("upstream_too_large", N_(
                    "The answer is larger than 1 MiB, which no LINE endpoint sends: check LINE_API_BASE_URL."), 502)
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _Timeout()
        return response.status_code, response.headers, b"".join(chunks)
    finally:
        response.close()


def parse_body(raw: bytes, headers: Any = None) -> Any:
    """LINE's body as JSON if it parses, else as text; ``""`` when empty."""
    from requests.utils import get_encoding_from_headers

    encoding = get_encoding_from_headers(headers or {}) if headers else None
    try:
        text = raw.decode(encoding or "utf-8", "replace") if raw else ""
    except LookupError:  # a charset Python doesn't know: read it as UTF-8
        text = raw.decode("utf-8", "replace")
    if not text.strip():
        return ""
    from .signing import MAX_JSON_DEPTH, check_json_shape, json_depth

    try:  # LINE's answers nest 1 to 3 levels and hold a few values: count before parsing (issue 23.3)
        check_json_shape(text, "response_body")
        too_complex = json_depth(text) > MAX_JSON_DEPTH
    except InputError:
        too_complex = True
    if too_complex:
        return UnparsedBody.cut(text)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


class UnparsedBody(str):
    """An answer with more structure than any of LINE's, kept as text (cut to MAX_SHOWN_BODY) with a note."""

    note = N_("This answer holds more brackets, values or nesting than any LINE answer, so it was not read as "
              "JSON: it is shown as text, cut to its first %(shown)s of %(size)s characters. Check "
              "LINE_API_BASE_URL: this is not LINE.")
    size = 0

    @classmethod
    def cut(cls, text: str) -> "UnparsedBody":
        body = cls(text[:MAX_SHOWN_BODY])
        body.size = len(text)
        return body

    @property
    def note_params(self) -> dict[str, str]:
        return {"shown": f"{min(self.size, MAX_SHOWN_BODY):,}", "size": f"{self.size:,}"}


def _chain(error: BaseException):
    """The exception, its causes and the exceptions it wraps (requests nests urllib3's)."""
    seen: set[int] = set()
    stack: list[Any] = [error]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__, *current.args, getattr(current, "reason", None)])


def _is_timeout(error: BaseException) -> bool:
    """True for a connect or read timeout, however requests wrapped it."""
    import requests
    import urllib3

    for current in _chain(error):
        if isinstance(current, (requests.Timeout, urllib3.exceptions.ReadTimeoutError, socket.timeout)):
            return True
        # urllib3 makes NewConnectionError (refused, DNS) a ConnectTimeoutError subclass.
        if (isinstance(current, urllib3.exceptions.ConnectTimeoutError)
                and not isinstance(current, urllib3.exceptions.NewConnectionError)):
            return True
    return False


def _has(error: BaseException, kind: type) -> bool:
    return any(isinstance(current, kind) for current in _chain(error))


def _timeout_error(target: str, timeout: float) -> LineAPIError:
    if target == "sandbox":
        template = N_("The sandbox did not answer within %(seconds)s seconds (LINE_API_TIMEOUT). Please try again.")
    else:
        template = N_("LINE did not answer within %(seconds)s seconds (LINE_API_TIMEOUT). LINE may be slow or "
                      "unreachable from this server; try again later.")
    return LineAPIError("upstream_timeout", template, 504, seconds=f"{timeout:g}")


def _map_request_error(error: requests.RequestException, target: str, timeout: float, url: str) -> LineAPIError:
    """A requests failure as the 502 or 504 we answer with; never quotes the URL's query."""
    import requests

    if _is_timeout(error):
        return _timeout_error(target, timeout)
    host = urlsplit(url).netloc
    if _has(error, socket.gaierror):
        reason = N_("the host name could not be resolved")
    elif _has(error, ConnectionRefusedError):
        reason = N_("the connection was refused")
    elif isinstance(error, requests.exceptions.SSLError):
        reason = N_("the TLS handshake failed")
    elif isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema)):
        reason = N_("LINE_API_BASE_URL is not a valid http(s) URL")
    elif isinstance(error, requests.exceptions.ChunkedEncodingError):
        reason = N_("the connection broke off during the answer")
    else:
        reason = N_("the connection failed")
    return LineAPIError("upstream_unreachable", N_(
        "Could not reach %(host)s: %(reason)s. Check LINE_API_BASE_URL and this server's network."), 502,
        host=host, reason=Phrase(reason))


def init_app(app: Any) -> None:
    """Keep secrets out of urllib3's debug log; the session itself is per process, made on first use."""
    # urllib3 logs each request line at DEBUG, query string included: LINE's GET
    # endpoints carry the assertion or token there.
    logging.getLogger("urllib3.connectionpool").addFilter(redact_log_filter)

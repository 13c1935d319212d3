"""Gunicorn settings for a small dyno (and the tests and benchmark, which start
the server exactly as the Procfile does). https://docs.gunicorn.org/en/stable/settings.html"""
import contextlib
import os
import secrets

# One SECRET_KEY for all workers: each worker builds its own app, and with a random key
# per worker a form's CSRF token from one worker fails on another. Set here, in the
# master, before the workers fork; a deploy sets SECRET_KEY itself (app.json generates one).
if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = secrets.token_hex(32)

# Heroku-style platforms give the port in $PORT.
bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '5000')}"]
# SANDBOX_PORT: the same server also listens there, and the app serves the sandbox at the root of that
# origin (LINE's SDKs keep only a base URL's origin; see line_token/sandbox/ SandboxOrigin).
if (os.environ.get("SANDBOX_PORT") or "").strip():
    bind.append(f"{bind[0].rsplit(':', 1)[0]}:{os.environ['SANDBOX_PORT'].strip()}")

# gevent workers: each request is a greenlet, so a client that trickles its headers or
# body (a byte every few seconds) holds a few KiB of memory, not a thread. gunicorn's docs
# recommend an async worker whenever the server is not behind a proxy that buffers whole
# requests, and Heroku's router passes bodies through as they arrive. With gthread, ten such
# clients took every thread (2 workers x 4 threads) and GET / timed out. Signing is CPU-bound
# but short (a millisecond per RSA signature), so one process per CPU serves it; waiting on
# LINE, PostgreSQL (psycopg 3 waits gevent-friendly) and the slow clients costs nothing.
# WEB_CONCURRENCY is the platform's hint for the process count.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# worker_class: gunicorn's "gevent" worker, through the subclass below (deadlines per connection, a quick stop).
# Connections one worker holds at once (slow ones included); beyond that the kernel queues them (listen backlog).
# An idle or trickling connection costs a worker about 10 KiB (docs/deploy.md has the measured figure), so 2,500
# per worker is ~25 MiB: 2 workers hold 5,000 on a 512 MB dyno.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "2500"))


def _seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment; a typo fails the start with the variable's name."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise SystemExit(f"{name}={raw!r}: give a number of seconds above 0, e.g. {name}={default:g}")
    return value


# Deadlines every connection has, so that nobody holds one by sending slowly or not at all (slowloris):
# the request line and headers within HEAD_TIMEOUT of the connection's start (or, on a kept-alive connection,
# of the next request's first byte), the body within BODY_TIMEOUT of the headers' end. Past a deadline the
# connection is closed: silently if the client had sent nothing, with a 408 otherwise.
HEAD_TIMEOUT = _seconds("GUNICORN_HEAD_TIMEOUT", 10)
BODY_TIMEOUT = _seconds("GUNICORN_BODY_TIMEOUT", 20)


def _raise_open_files_limit(wanted: int) -> tuple[int | None, int | None]:
    """Raise this process's soft RLIMIT_NOFILE (inherited by the workers) towards ``wanted``, up to the hard
    limit: each connection is a file descriptor, and a soft limit of 1,024 (a common default) would cap a worker
    below worker_connections. Returns (soft, hard) after the change; (None, None) where there is no such limit."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None, None
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        infinity = resource.RLIM_INFINITY
        if soft != infinity and soft < wanted:
            target = wanted if hard == infinity else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        return soft, hard
    except (ValueError, OSError):
        return None, None


# Room for every connection plus the worker's own files (listeners, log, databases, the static files it serves).
OPEN_FILES = _raise_open_files_limit(worker_connections + 256)


def _gevent_worker():
    """gunicorn's gevent worker, with deadlines for a request's head and body, and a quick graceful stop.

    Deadlines: the stock worker waits up to ``keepalive`` (95 s) for a request's head and for ever for its body,
    so 2 x 200 connections sending nothing, or a byte every few seconds, took every slot and GET / timed out for
    everyone. Here the client socket the request parser reads from is a ``DeadlineSocket``: its reads end at the
    current deadline (HEAD_TIMEOUT from the connection's start or a kept-alive request's first byte; BODY_TIMEOUT
    from the head's end), so the connection's slot is freed within the deadline however the bytes are spread out.
    A kept-alive connection between requests waits up to ``keepalive`` for the next one's first byte, as before
    (above the router's idle timeout, so it never reuses a connection we closed).

    Graceful stop: the stock worker stops accepting, then waits for every open connection to end, up to
    graceful_timeout: a client (or router) holding an idle keep-alive connection made each
    restart take the full 20 s. Here, on SIGTERM, connections waiting for their next request
    are shut down at once (as gthread and nginx do): the waiting read sees the end of the
    stream and the connection closes cleanly. Requests in progress still finish, and their
    connection closes after the answer.
    """
    import _socket
    import socket

    import gevent
    from gunicorn import util
    from gunicorn.workers.ggevent import GeventWorker

    class TooSlow(BaseException):
        """A request's head or body missed its deadline. A BaseException, like gevent.Timeout: when a body read
        raises it inside the app, Flask's error handlers (which would answer 500) let it through to the worker."""

    class DeadlineSocket:
        """The client socket, its reads bounded by the current deadline (see _gevent_worker).

        One timer per deadline (not one per read: a byte-a-second client costs no more than under the stock
        worker). When it fires while the connection waits for bytes, TooSlow is thrown into the waiting read,
        as gevent.Timeout does; while the app is busy (a request waiting on LINE), it only marks the deadline
        passed, so an answer being made is never cut off and only a later read is refused.
        """

        __slots__ = ("sock", "greenlet", "timer", "waiting", "late", "idle", "received")

        def __init__(self, sock):
            self.sock = sock
            self.greenlet = gevent.getcurrent()
            self.timer = None
            self.waiting = False  # inside recv()
            self.idle = False  # kept alive between requests: the head deadline starts at the next first byte
            self.received = False  # whether any byte of the current request has arrived
            self.arm(HEAD_TIMEOUT)

        def __getattr__(self, name):  # sendall, close, fileno, _sock, ... are the socket's own
            return getattr(self.sock, name)

        def arm(self, seconds):
            self.disarm()
            self.late = False
            self.timer = gevent.get_hub().loop.timer(seconds)
            self.timer.start(self.expire)

        def disarm(self):
            if self.timer is not None:
                self.timer.close()
                self.timer = None

        def expire(self):
            self.late = True
            if self.waiting:
                self.greenlet.throw(TooSlow())

        def expect_body(self):
            self.received, self.idle = True, False
            self.arm(BODY_TIMEOUT)

        def expect_next_request(self, idle):
            self.received, self.idle = False, True
            self.arm(idle)

        def recv(self, size, *flags):
            if self.late:
                raise TooSlow()
            self.waiting = True
            try:
                data = self.sock.recv(size, *flags)
            finally:
                self.waiting = False
            if data:
                self.received = True
                if self.idle:  # the next request has begun: its head has HEAD_TIMEOUT from here
                    self.idle = False
                    self.arm(HEAD_TIMEOUT)
            return data

    class Worker(GeventWorker):
        def init_process(self):
            self.connections = {}  # client socket -> True while it serves a request
            super().init_process()

        def timeout_ctx(self):
            # The stock worker's gevent.Timeout(keepalive) around each head: the DeadlineSocket bounds it now.
            return contextlib.nullcontext()

        def handle(self, listener, client, addr):
            client = DeadlineSocket(client)
            self.connections[client] = False
            try:
                super().handle(listener, client, addr)
            finally:
                client.disarm()
                self.connections.pop(client, None)

        def handle_request(self, listener_name, req, sock, addr):
            self.connections[sock] = True
            sock.expect_body()
            try:
                super().handle_request(listener_name, req, sock, addr)
            finally:
                if sock in self.connections:
                    self.connections[sock] = False
            if not self.alive:  # stopping: answered, so close rather than wait for a next request
                raise StopIteration()
            sock.expect_next_request(self.cfg.keepalive)

        def handle_error(self, req, client, addr, exc):
            if not isinstance(exc, TooSlow):
                return super().handle_error(req, client, addr, exc)
            if not client.received:
                return  # it never asked for anything (or idled past keepalive): close without a word
            what = "body" if req is not None else "headers"
            limit = BODY_TIMEOUT if req is not None else HEAD_TIMEOUT
            self.log.info("408: %s sent its request %s too slowly (over %g s)", (addr or ("",))[0], what, limit)
            try:
                util.write_error(client, 408, "Request Timeout",
                                 f"The request's {what} did not arrive within {limit:g} seconds.")
            except Exception:
                pass

        def handle_exit(self, sig, frame):
            super().handle_exit(sig, frame)
            gevent.spawn(self.end_idle_connections)

        def end_idle_connections(self):
            for client, busy in list(self.connections.items()):
                if not busy:
                    # The kernel socket's own shutdown: the waiting read then sees the end of the stream.
                    # (gevent's socket.shutdown would instead cancel the wait with an EBADF error, logged.)
                    try:
                        _socket.socket.shutdown(getattr(client, "_sock", client), socket.SHUT_RD)
                    except (OSError, TypeError):
                        pass

    return Worker


worker_class = _gevent_worker()

# Don't load the app in the master: each worker builds its own (own DB connections).
preload_app = False

# Under the router's 30 s request timeout and dyno shutdown grace period.
timeout = 30
graceful_timeout = 20
# Above the router's idle timeout so it never reuses a connection we closed.
keepalive = 95

# Logs to stdout/stderr, where the platform collects them. The access log names
# the path only (%(U)s), never the query string: LINE's GET endpoints (and so
# the sandbox's) carry JWTs and tokens in it. Request bodies are never logged.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'

# X-Forwarded-* headers are the app's business, and only with TRUST_PROXY=1 (werkzeug's
# ProxyFix, see security.py). gunicorn would otherwise take X-Forwarded-Proto from any peer in
# FORWARDED_ALLOW_IPS (loopback by default; some platforms set "*") and mark plain-HTTP requests
# as HTTPS.
forwarded_allow_ips = ""
secure_scheme_headers = {}


def pre_request(worker, req):
    """Close the connection after a request whose body the app will not read whole.

    A body over MAX_CONTENT_LENGTH gets a 413 without being read, and a chunked one is read only up
    to the limit (security.BoundedChunkedBody). On a kept-alive connection the unread rest would
    sit in front of the client's next request; ``Connection: close`` (gunicorn drops the header
    when the app sets it, so it is set here) makes the client open a fresh connection instead.
    """
    from line_token.web.security import MAX_BODY_BYTES  # already imported by the worker's app

    for name, value in req.headers:  # gunicorn has checked them: one Content-Length, digits only
        if name == "TRANSFER-ENCODING" or (name == "CONTENT-LENGTH" and int(value) > MAX_BODY_BYTES):
            req.force_close()


def post_worker_init(worker):
    """Move the objects the app's start-up made (modules, routes, templates, catalogs: ~45,000) out of
    the garbage collector's reach, as they live as long as the worker anyway.

    Otherwise every full collection walks them all: 13-20 ms on this app, a pause that lands on
    whichever requests the worker holds at that moment (the sign and issue rows' p99). Objects
    made later are collected as before. https://docs.python.org/3/library/gc.html#gc.freeze
    """
    import gc

    gc.freeze()


def worker_exit(server, worker):
    """Hand the frozen objects back to the collector before the worker's interpreter shuts down, so they are
    finalised in the usual order (left frozen, logging's handler weakrefs fired after the logging module was torn
    down, and a "Traceback" reached the log on every graceful restart)."""
    import gc
    import logging

    gc.unfreeze()
    # With the layered package (issue 20) two handlers were still freed during the worker's interpreter teardown,
    # inside a finalising greenlet, where logging's weakref callback cannot take its (gevent-patched) lock: a
    # "Traceback" in the log on every graceful restart (test_deploy_server). Which handlers, and why the layout
    # changed it, is not found yet; flushing and closing them here and dropping logging's list of weakrefs to them
    # (no callback left to fire) keeps the log clean. logging.shutdown() is what atexit would call anyway.
    # Traced (4th session, a spy on logging's weakref callbacks): the two handlers freed at teardown are module
    # globals, logging.lastResort and a NOTSET StreamHandler on stderr (Flask's default_handler, made when
    # flask.logging is imported). Each one's weakref callback takes logging's module lock, which gevent's
    # patch_all replaced with a gevent lock (it patches existing locks); that lock asks gevent for the current
    # greenlet, and during interpreter teardown the main greenlet is being finalised: "RuntimeError: greenlet is
    # being finalized", printed as "Exception ignored". No public API drops those callbacks, hence the list.
    logging.shutdown()
    del logging._handlerList[:]


def on_starting(server):
    """Say how many connections fit, and warn where the file-descriptor limit or the kernel's listen queue is
    smaller than the settings assume (both are silent otherwise: accept() fails with EMFILE, or the kernel
    caps the backlog at net.core.somaxconn)."""
    cfg = server.cfg
    soft, hard = OPEN_FILES
    server.log.info("Connections: %d workers x %d; request head within %g s, body within %g s; "
                    "open files allowed per process: %s", cfg.workers, cfg.worker_connections, HEAD_TIMEOUT,
                    BODY_TIMEOUT, soft if soft is not None else "no limit")
    if soft is not None and soft != -1 and soft < cfg.worker_connections + 64:
        server.log.warning("The open-file limit (%d, hard limit %d) is below GUNICORN_WORKER_CONNECTIONS (%d): "
                           "a worker cannot accept that many connections. Raise the limit (ulimit -n) or lower "
                           "GUNICORN_WORKER_CONNECTIONS.", soft, hard, cfg.worker_connections)
    try:
        with open("/proc/sys/net/core/somaxconn") as f:  # Linux only
            somaxconn = int(f.read())
    except (OSError, ValueError):
        return
    if somaxconn < cfg.backlog:
        server.log.info("Listen backlog: %d asked, the kernel allows %d (net.core.somaxconn)", cfg.backlog, somaxconn)

"""Gunicorn settings for a small dyno (and the tests and benchmark, which start
the server exactly as the Procfile does). https://docs.gunicorn.org/en/stable/settings.html"""
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
# worker_class: gunicorn's "gevent" worker, through the subclass below (which changes only how it stops).
# Connections one worker holds at once (slow ones included); beyond that the kernel queues them.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "200"))


def _gevent_worker():
    """gunicorn's gevent worker, except that a graceful stop ends idle kept-alive connections.

    The stock worker stops accepting, then waits for every open connection to end, up to
    graceful_timeout: a client (or router) holding an idle keep-alive connection made each
    restart take the full 20 s. Here, on SIGTERM, connections waiting for their next request
    are shut down at once (as gthread and nginx do): the waiting read sees the end of the
    stream and the connection closes cleanly. Requests in progress still finish, and their
    connection closes after the answer.
    """
    import _socket
    import socket

    import gevent
    from gunicorn.workers.ggevent import GeventWorker

    class Worker(GeventWorker):
        def init_process(self):
            self.connections = {}  # client socket -> True while it serves a request
            super().init_process()

        def handle(self, listener, client, addr):
            self.connections[client] = False
            try:
                super().handle(listener, client, addr)
            finally:
                self.connections.pop(client, None)

        def handle_request(self, listener_name, req, sock, addr):
            self.connections[sock] = True
            try:
                super().handle_request(listener_name, req, sock, addr)
            finally:
                if sock in self.connections:
                    self.connections[sock] = False
            if not self.alive:  # stopping: answered, so close rather than wait for a next request
                raise StopIteration()

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
    logging.shutdown()
    del logging._handlerList[:]

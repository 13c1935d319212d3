"""The sandbox served alone on a loopback port: ``line-token sandbox serve`` and the pytest fixture
(issue 21 items 1 and 2).

One server everywhere: waitress, pure Python (Linux, macOS and Windows), threaded, no access log (so no
query string, where LINE's GET endpoints carry secrets, is ever written). :class:`SandboxServer` runs it
in the foreground (``serve``: Ctrl+C stops it) or in a thread of this process (the fixture, as moto's
ThreadedMotoServer does).

Only these local servers have the global reset (``POST /api/reset``, :data:`reset_bp`): the tester app
never registers it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from typing import Any

from flask import Blueprint, Flask, Response

from . import app as app_module
from . import budget, routes

MEMORY = ":memory:"
WILDCARD_SHOWN = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
MAX_BODY_BYTES = 1024 * 1024  # as the tester: no request of LINE's API or the admin API comes near it

reset_bp = Blueprint("sandbox_reset", __name__)


@reset_bp.post("/api/reset")
def api_reset():
    """Forget every channel, key and token: 204. JSON only, as the admin API's other writes (a web page can't
    post it cross-site)."""
    routes.require_json()
    routes.get_store().reset()
    return Response(status=204)


def build_app(database: str, *, allow_reset: bool = False, config: dict | None = None) -> Flask:
    """The sandbox alone on the SQLite file ``database`` (a path), with no per-client channel-creation limit
    (one person's machine) unless SANDBOX_CHANNELS_PER_HOUR says otherwise; ``allow_reset`` adds /api/reset."""
    settings = {"SANDBOX_DATABASE": database, "DATABASE_URL": "", "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
                "MAX_FORM_PARTS": budget.MAX_FORM_PARTS,
                "SANDBOX_CHANNELS_PER_HOUR": routes._env_int("SANDBOX_CHANNELS_PER_HOUR", 0)}
    settings.update(config or {})
    app = app_module.create_app(settings)
    app.register_error_handler(routes.AdminRefused, routes.admin_refused)  # for /api/reset, outside the Blueprint
    if allow_reset:
        app.extensions["csrf"].exempt(api_reset)
        app.register_blueprint(reset_bp)
    return app


class SandboxServer:
    """The sandbox app on ``host:port`` (port 0: a free one) with waitress.

    ``database`` is a SQLite path or ``:memory:``: a file in a temporary folder removed by :meth:`close`
    (a true SQLite memory database is one per connection, and the server's threads each hold one).
    """

    def __init__(self, database: str = MEMORY, host: str = "127.0.0.1", port: int = 0, *,
                 allow_reset: bool = False, threads: int = 4, config: dict | None = None):
        from waitress.server import create_server  # deferred: importing this module costs nothing until used

        if host == "localhost":  # one address: with port 0, "localhost"'s IPv4 and IPv6 sockets would differ
            host = "127.0.0.1"

        self._folder = None
        if database == MEMORY:
            self._folder = tempfile.mkdtemp(prefix="line-token-sandbox-")
            database = os.path.join(self._folder, "sandbox.sqlite3")
        self.database = database
        try:
            self.app = build_app(database, allow_reset=allow_reset, config=config)
            self.store = self.app.extensions["sandbox_store"]
            self.store.purge()  # creates the tables now (the first request would), and checks the file opens
            # clear_untrusted_proxy_headers: waitress's default; ident: no "waitress" version in the Server header.
            self._map: dict = {}  # every socket of the server (one per address a host name resolves to)
            self._server: Any = create_server(self.app, map=self._map, host=host, port=port, threads=threads,
                                              ident="line-token", clear_untrusted_proxy_headers=True,
                                              max_request_body_size=MAX_BODY_BYTES)
        except BaseException:
            self._remove_folder()
            raise
        listening = getattr(self._server, "effective_listen", None) or [(host, self._server.effective_port)]
        self.host, self.port = host, int(listening[0][1])
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What an SDK takes as its base URL: the root of this origin."""
        host = WILDCARD_SHOWN.get(self.host, self.host)  # listening everywhere: this machine's own address works
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        """Answer requests until :meth:`stop` (another thread) or Ctrl+C; then close."""
        from waitress import wasyncore

        try:
            while not self._stopping.is_set():
                # One poll at a time (not waitress's endless loop) so stop() takes effect within 0.5 s, and
                # the sockets are closed here, by the thread that polls them.
                wasyncore.loop(timeout=0.5, map=self._map, count=1)
        finally:
            self._close_sockets()

    def start(self) -> "SandboxServer":
        """Serve in a daemon thread of this process (the pytest fixture); returns at once, ready."""
        self._thread = threading.Thread(target=self.serve_forever, name="line-token-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (from another thread), wait for the serving thread, and close."""
        self._stopping.set()
        wake = getattr(self._server, "pull_trigger", None)  # a lone socket's server has a trigger to wake the poll
        try:
            if wake is not None:
                wake()
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.close()

    def reset(self) -> None:
        """Forget every channel, key and token (the fixture, before each test)."""
        self.store.reset()

    def _close_sockets(self) -> None:
        for channel in list(self._map.values()):  # the listening socket, its trigger, open connections
            try:
                channel.close()
            except OSError:
                pass
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)

    def close(self) -> None:
        """Release the database (and remove a ``:memory:`` one)."""
        self.store.dispose()
        self._remove_folder()

    def _remove_folder(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

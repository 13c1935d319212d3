"""The sandbox's own origin (SANDBOX_PORT / SANDBOX_HOST): a WSGI router in front of the tester.

LINE's SDKs keep only the origin of a base URL (docs/line-api.md §0), so the sandbox must answer at the root
of an origin of its own, beside the tester's pages.
"""
from __future__ import annotations

from ..core.line_client import IN_PROCESS_MARK


class SandboxOrigin:
    """WSGI middleware: requests for the sandbox's own origin go to the sandbox-only app.

    A request is the sandbox's when it arrived on SANDBOX_PORT (the listening socket's port, which
    gunicorn puts in SERVER_PORT whatever the Host header says) or its Host names SANDBOX_HOST.
    Everything else goes to the tester app unchanged, where /sandbox/... keeps working.
    """

    def __init__(self, main, sandbox, port: str | None = None, host: str | None = None):
        self.main, self.sandbox = main, sandbox
        self.port = str(port) if port else None
        self.host = host.lower() if host else None

    def is_sandbox(self, environ: dict) -> bool:
        # An in-process call (SandboxAdapter) names the transport's own host and port (sandbox.internal:80),
        # which must not be taken for SANDBOX_PORT=80 or 443: it goes to /sandbox/... of the app it was sent to.
        if environ.get(IN_PROCESS_MARK):
            return False
        if self.port and environ.get("SERVER_PORT") == self.port:
            return True
        if self.host:
            host = (environ.get("HTTP_HOST") or "").lower()
            name = host.rsplit(":", 1)[0] if ":" in host and not host.endswith("]") else host
            return name == self.host
        return False

    def __call__(self, environ, start_response):
        if self.is_sandbox(environ):
            return self.sandbox(environ, start_response)
        return self.main(environ, start_response)

"""The ``line_sandbox`` pytest fixture: LINE's token API, offline, for a bot's own test suite (issue 21 item 2).

Installed with the package (pyproject.toml's ``pytest11`` entry point), so a project that has
``line-token-tester`` installed just asks for the fixture::

    def test_my_bot_gets_a_token(line_sandbox):
        channel = line_sandbox.create_channel()
        token = channel.issue_token()             # or: LINE's SDK with channel.assertion() at line_sandbox.base_url
        ...

One sandbox per test session (a threaded server of this process on a free loopback port, its database in a
temporary folder); its state is reset before each test. Loading this plugin imports nothing heavy: Flask,
the sandbox and the server load only when a test first asks for the fixture.
"""
from __future__ import annotations

from typing import Any

import pytest


class SandboxKey:
    """A key pair registered on a sandbox channel: ``kid``, ``private_jwk`` (sign with it), ``public_jwk``."""

    def __init__(self, kid: str, private_jwk: dict, public_jwk: dict):
        self.kid, self.private_jwk, self.public_jwk = kid, private_jwk, public_jwk

    def __repr__(self) -> str:  # never the private key
        return f"SandboxKey(kid={self.kid!r})"


class SandboxChannel:
    """A channel of the sandbox: ``channel_id``, ``channel_secret``, ``name`` and its ``keys``."""

    def __init__(self, sandbox: "LineSandbox", channel_id: str, channel_secret: str, name: str = ""):
        self._sandbox = sandbox
        self.channel_id, self.channel_secret, self.name = channel_id, channel_secret, name
        self.keys: list[SandboxKey] = []

    def __repr__(self) -> str:  # never the secret
        return f"SandboxChannel(channel_id={self.channel_id!r}, name={self.name!r})"

    @property
    def auth(self) -> tuple[str, str]:
        """HTTP Basic credentials for the admin API (``requests``' ``auth=``)."""
        return self.channel_id, self.channel_secret

    def add_key(self) -> SandboxKey:
        """Make an RSA key pair, register its public half (as the LINE Developers Console does) and return it."""
        from ..core import signing

        private, public = signing.generate_key_pair()
        kid = self._sandbox.admin("POST", f"/api/channels/{self.channel_id}/keys", self.auth, public)["kid"]
        key = SandboxKey(kid, {**private, "kid": kid}, public)
        self.keys.append(key)
        return key

    def assertion(self, key: SandboxKey | None = None, token_exp: int = 30 * 24 * 3600, **claims: Any) -> str:
        """A signed JWT assertion for this channel, as LINE takes it (by ``key``, else the channel's first key,
        made now if it has none). ``token_exp`` is the token's lifetime in seconds; ``claims`` override any
        payload claim (``exp=...``, ``aud=...``) to test LINE's refusals."""
        from ..core import signing

        key = key or (self.keys[0] if self.keys else self.add_key())
        header, payload = signing.build_claims(self.channel_id, key.kid, token_exp=token_exp)
        payload.update(claims)
        return signing.sign(header, payload, signing.load_private_key(key.private_jwk), validate=not claims)

    def issue_token(self, key: SandboxKey | None = None, token_exp: int = 30 * 24 * 3600) -> dict:
        """A channel access token v2.1 by JWT, through LINE's own endpoint: ``{access_token, expires_in,
        token_type, key_id}``."""
        from ..core.line_client import ASSERTION_TYPE, GRANT_TYPE

        answer = self._sandbox.session.post(
            self._sandbox.base_url + "/oauth2/v2.1/token", timeout=30,
            data={"grant_type": GRANT_TYPE, "client_assertion_type": ASSERTION_TYPE,
                  "client_assertion": self.assertion(key, token_exp)})
        answer.raise_for_status()
        return answer.json()

    def export(self) -> dict:
        """The channel as seed JSON (GET /api/channels/{id}/export): no secret, token or private key."""
        return self._sandbox.admin("GET", f"/api/channels/{self.channel_id}/export", self.auth)


class LineSandbox:
    """What the ``line_sandbox`` fixture gives a test: ``base_url`` (give it to LINE's SDK), ``create_channel()``,
    ``import_channels()``, ``reset()``."""

    def __init__(self, server: Any):
        import requests

        self._server = server
        self.base_url: str = server.base_url
        self.session = requests.Session()

    def __repr__(self) -> str:
        return f"LineSandbox(base_url={self.base_url!r})"

    def admin(self, method: str, path: str, auth: tuple[str, str] | None = None, body: Any = None) -> Any:
        """Call the sandbox's admin API; its JSON answer (None when empty). Raises requests' HTTPError
        with the sandbox's message on a refusal."""
        import requests

        answer = self.session.request(method, self.base_url + path, json=body, auth=auth, timeout=30)
        if not answer.ok:
            raise requests.HTTPError(f"{method} {path}: HTTP {answer.status_code}: {answer.text[:500]}",
                                     response=answer)
        return answer.json() if answer.content else None

    def create_channel(self, name: str = "", keys: int = 0) -> SandboxChannel:
        """A new channel (and ``keys`` registered key pairs)."""
        created = self.admin("POST", "/api/channels", body={"name": name})
        channel = SandboxChannel(self, created["channel_id"], created["channel_secret"], created["name"])
        for _ in range(keys):
            channel.add_key()
        return channel

    def import_channels(self, data: dict) -> dict:
        """Create channels from seed JSON (POST /api/channels/import); answers their IDs, kids and any
        generated secret."""
        return self.admin("POST", "/api/channels/import", body=data)

    def reset(self) -> None:
        """Forget every channel, key and token (done before each test)."""
        self._server.reset()


@pytest.fixture(scope="session")
def line_sandbox_server():
    """The session's sandbox server (started on first use, stopped at the session's end)."""
    from .server import SandboxServer  # deferred: Flask and the sandbox load only for tests that use it

    server = SandboxServer(allow_reset=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def line_sandbox(line_sandbox_server) -> LineSandbox:
    """LINE's token API at ``line_sandbox.base_url``, empty at the start of each test."""
    line_sandbox_server.reset()
    sandbox = LineSandbox(line_sandbox_server)
    yield sandbox
    sandbox.session.close()

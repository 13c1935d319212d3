"""The sandbox's service layer: what the emulator does, knowing no request.

:class:`Sandbox` wraps a :class:`store.Store`: create channels, register keys, issue, mint and check tokens.
LINE's routes, the admin API and the console (routes.py) call it inside a request; the CLI calls it with no
Flask app at all (``Sandbox.open(config)``); the tester reads the sandbox only through it.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import time
from typing import Any

from ..core import rules, signing
from ..core.rules import STATELESS_LIFETIME  # noqa: F401  (LINE docs: 900 s; routes import it from here)
from ..core.signing import SigningError
from . import clock
from . import faults as faults_module
from . import store as store_module
from .store import Store

PUBLIC_JWK_MEMBERS = ("kty", "n", "e", "alg", "use", "key_ops")
MAX_KEY_JSON = 8 * 1024  # a 2048-bit public JWK is about 450 bytes
LONG_LIVED_GRACE_HOURS = tuple(range(0, 25))  # reissue: the old token stays valid 0-24 h
STATELESS_PROTECTED = '{"alg":"HS256","typ":"JWT"}'  # a stateless token's JWS header, byte for byte
STATELESS_TOKEN_HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # the same, base64url
# The header every v2.1 token carries, as in LINE's samples: {"alg":"HS256"}.
V21_TOKEN_HEADER = "eyJhbGciOiJIUzI1NiJ9"
CHANNEL_ID = re.compile(rules.CHANNEL_ID_PATTERN)  # the rules table's one channel-ID rule
# The sandbox assigns uuid4 kids; anything else cannot be registered, so it is not looked up
# (a lone surrogate or NUL in a kid would otherwise reach the database driver).
KID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Control characters and lone surrogates can't be stored (NUL on PostgreSQL, surrogates in UTF-8).
UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _hmac_jwk(key: bytes):
    """A channel's stateless-token key as the jwcrypto JWK that signs and checks HS256."""
    from jwcrypto.jwk import JWK

    return JWK(kty="oct", k=_b64url(key))


class Sandbox:
    """The emulator's operations on one store."""

    def __init__(self, store: Store):
        self.store = store

    @classmethod
    def open(cls, config: dict) -> "Sandbox":
        """The sandbox of an app config (SANDBOX_DATABASE / DATABASE_URL); ValueError for a bad DATABASE_URL."""
        return cls(store_module.open_store(config))

    def key_owner(self, kid: Any) -> str | None:
        """The channel a registered kid belongs to, else None."""
        key = self.store.find_key(kid) if isinstance(kid, str) and 0 < len(kid) <= 200 else None
        return key.channel_id if key is not None else None

    def get_channel(self, channel_id: str) -> store_module.Channel | None:
        return self.store.get_channel(channel_id) if CHANNEL_ID.match(channel_id or "") else None

    def check_secret(self, channel_id: str, secret: str) -> bool:
        return self.store.check_secret(channel_id, secret)

    def delete_channel(self, channel_id: str) -> bool:
        return self.store.delete_channel(channel_id)

    def channel_json(self, channel: store_module.Channel) -> dict:
        """A channel with its keys and valid tokens (never token values or the secret)."""
        store = self.store
        now = clock.channel_now(store, channel.channel_id)  # expires_in counts down on the channel's clock
        return {
            "channel_id": channel.channel_id,
            "name": channel.name,
            "created_at": channel.created_at,
            "keys": [{"kid": k.kid, "created_at": k.created_at, "public_key": k.jwk}
                     for k in store.list_keys(channel.channel_id)],
            "tokens": [{"type": t.kind, "key_id": t.key_id, "issued_at": t.issued_at, "expires_at": t.expires_at,
                        "expires_in": t.expires_in(now)} for t in store.valid_tokens(channel.channel_id, now=now)],
        }

    def create_channel(self, name: Any, client: str | None = None, per_hour: int = 0) -> tuple[store_module.Channel, str]:
        """Check the name and create a channel. Raises SigningError naming ``name``, CapReached or RateLimited.

        ``client``/``per_hour``: the per-client creation limit (the CLI passes neither: no limit).
        """
        if name is None:
            name = ""
        if not isinstance(name, str) or len(name) > store_module.MAX_NAME_LENGTH or UNSTORABLE.search(name):
            raise SigningError("name", signing.N_("name must be text of at most %(max)d characters, without control characters."),
                               max=store_module.MAX_NAME_LENGTH)
        try:
            self.store.housekeep()  # its own transaction, at most once a minute (the CLI has no other trigger)
        except store_module.StoreUnavailable:
            pass  # busy: creating matters more; the next one purges
        return self.store.create_channel(name.strip(), client=client, per_hour=per_hour)

    def register_key(self, channel_id: str, data: Any) -> store_module.Key:
        """Check a public JWK with the console's rules and register it. Raises SigningError or CapReached.

        ``data`` is the JWK (dict) or its JSON text; text over 8 KiB is refused before parsing, and only
        the members LINE uses are stored (issue 11).
        """
        if isinstance(data, str) and len(data.encode("utf-8", "surrogatepass")) > MAX_KEY_JSON:
            raise SigningError("public_key", signing.N_(
                "The public key is larger than %(max)d KiB: paste only the public JWK (kty, n, e, alg, use)."), max=8)
        try:
            jwk = signing.check_public_jwk(data, "public_key")
        except RecursionError:  # absurdly nested JSON text
            raise SigningError("public_key", signing.N_("The public key must be a JSON object (a JWK).")) from None
        jwk = {name: jwk[name] for name in PUBLIC_JWK_MEMBERS if name in jwk}
        return self.store.add_key(channel_id, jwk)

    def delete_key(self, channel_id: str, kid: str) -> bool:
        """Remove a registered key from the channel; False if the channel has no such key."""
        return bool(KID.match(kid)) and self.store.delete_key(channel_id, kid)

    def issue_long_lived(self, channel_id: str, keep_old_hours: int = 0) -> tuple[str, int | None]:
        """Issue the channel's long-lived token; the current one stays valid ``keep_old_hours`` (0-24).

        Returns the new token and when the previous one stops working (None if there was none).
        Raises SigningError naming ``keep_old_hours``, or ChannelNotFound.
        """
        if isinstance(keep_old_hours, bool) or not isinstance(keep_old_hours, int) \
                or keep_old_hours not in LONG_LIVED_GRACE_HOURS:
            raise SigningError("keep_old_hours", signing.N_(
                "keep_old_hours must be a whole number of hours from 0 to 24: how long the current long-lived "
                "token stays valid after the new one is issued."))
        token = self.mint_opaque_token()
        _, previous_until = self.store.issue_long_lived(channel_id, token, keep_old_hours * 3600,
                                                        now=clock.channel_now(self.store, channel_id))
        return token, previous_until

    def revoke_all(self, channel_id: str) -> int:
        """Revoke every token of the channel; how many were valid on its clock. Raises ChannelNotFound."""
        return self.store.revoke_all(channel_id, now=clock.channel_now(self.store, channel_id))

    def reset_faults_and_clocks(self) -> None:
        """Every channel's pending faults, clock offset and request log, gone; channels, keys, tokens stay.

        For ``line-token sandbox serve`` and the pytest fixture between tests, never the tester app."""
        faults_module.reset_faults_and_clocks(self.store)

    @staticmethod
    def mint_v21_token() -> tuple[str, str]:
        """A new v2.1 access token (JWS-shaped, header {"alg":"HS256"}) and its 22-character key_id (§9)."""
        token = f"{V21_TOKEN_HEADER}.{_b64url(secrets.token_bytes(96))}.{_b64url(secrets.token_bytes(32))}"
        return token, _b64url(secrets.token_bytes(16))

    @staticmethod
    def mint_opaque_token() -> str:
        """A short-lived or stateless token: opaque base64 of 172 characters, like LINE's samples."""
        return base64.b64encode(secrets.token_bytes(128)).decode("ascii")

    def mint_stateless_token(self, channel_id: str, now: int | None = None) -> str | None:
        """A stateless token for ``channel_id``: a JWT (HS256 with a per-channel key), never stored.

        Claims: iss (the channel ID), iat, exp (15 minutes on) and a random jti. None if
        the channel is gone.
        """
        key = self.store.stateless_key(channel_id)
        if key is None:
            return None
        now = int(time.time()) if now is None else now
        claims = {"iss": channel_id, "iat": now, "exp": now + STATELESS_LIFETIME, "jti": secrets.token_hex(16)}
        from jwcrypto.jws import JWS

        token = JWS(json.dumps(claims, separators=(",", ":")).encode())
        token.add_signature(_hmac_jwk(key), alg="HS256", protected=STATELESS_PROTECTED)
        return token.serialize(compact=True)

    def stateless_channel(self, token: str, now: int) -> str | None:
        """The channel of a valid, unexpired stateless token issued here, else None."""
        parts = token.split(".")
        # Ours carry four short claims (~110 characters): anything much longer is not one, and is not parsed.
        if len(parts) != 3 or parts[0] != STATELESS_TOKEN_HEADER or len(parts[1]) > 512:
            return None
        from jwcrypto.common import JWException
        from jwcrypto.jws import JWS

        parsed = JWS()
        try:  # read first (the claims name the channel whose key checks it), then verify
            parsed.deserialize(token)
            claims = json.loads(parsed.objects["payload"])
        except (JWException, ValueError, TypeError, KeyError, RecursionError):  # JSONDecodeError is a ValueError
            return None
        channel_id = claims.get("iss") if isinstance(claims, dict) else None
        exp = rules.whole_number(claims.get("exp")) if isinstance(claims, dict) else None
        if not isinstance(channel_id, str) or not CHANNEL_ID.match(channel_id) or exp is None or exp <= now:
            return None
        key = self.store.stateless_key(channel_id)
        if key is None:
            return None
        try:  # HS256 only; jwcrypto compares in constant time (cryptography's HMAC verify)
            parsed.verify(_hmac_jwk(key), alg="HS256")
        except (JWException, ValueError, TypeError):
            return None
        return channel_id

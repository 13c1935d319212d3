"""Reading and checking the app's RS256 JWTs with cryptography alone, independent of the app's own JOSE library
(jwcrypto): what PyJWT did for these tests before the app dropped it, with the same call shapes.

``decode`` checks what PyJWT's did for an RS256 token: the algorithm, the signature, ``exp`` (not passed)
and ``aud`` when asked for; with ``options={"verify_signature": False}`` it only reads the claims.
"""
from __future__ import annotations

import base64
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


class InvalidTokenError(ValueError):
    """The token's signature, algorithm or claims are not what was asked for."""


def _b64u(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _parts(token: str) -> tuple[dict, dict, bytes, bytes]:
    head, body, signature = token.split(".")
    return json.loads(_b64u(head)), json.loads(_b64u(body)), f"{head}.{body}".encode("ascii"), _b64u(signature)


def get_unverified_header(token: str) -> dict:
    return _parts(token)[0]


def decode(token: str, key=None, algorithms: list[str] | None = None, audience: str | None = None,
           options: dict | None = None) -> dict:
    header, claims, signing_input, signature = _parts(token)
    if (options or {}).get("verify_signature", True) is False:
        return claims
    if header.get("alg") not in (algorithms or []):
        raise InvalidTokenError(f"alg {header.get('alg')!r} not allowed")
    public = serialization.load_pem_public_key(key) if isinstance(key, (bytes, str)) else key
    if isinstance(key, str):
        public = serialization.load_pem_public_key(key.encode())
    try:
        public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise InvalidTokenError("signature") from None
    if "exp" in claims and int(claims["exp"]) <= time.time():
        raise InvalidTokenError("expired")
    if audience is not None and claims.get("aud") != audience and audience not in (claims.get("aud") or []):
        raise InvalidTokenError("aud")
    if audience is None and "aud" in claims:
        raise InvalidTokenError("aud given but none expected")
    return claims


def sign_rs256(signing_input: bytes, private_key) -> bytes:
    """The raw RS256 signature (RSASSA-PKCS1-v1_5 with SHA-256) of ``signing_input``."""
    return private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())

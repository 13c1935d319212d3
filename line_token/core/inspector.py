"""Look inside a JWT assertion or an access token without sending it anywhere.

:func:`inspect` decodes a JWT's header and claims (no signature check: that
needs the public key LINE holds), works out when it expires, and lists every
LINE rule it breaks, each with the claim, the rule and by how much, rather
than stopping at the first as :func:`signing.validate_claims` does (signing
refuses; inspecting explains). Access tokens are recognised by shape: a v2.1
token is JWS-shaped with the header ``{"alg":"HS256"}`` and an opaque payload;
short-lived, long-lived and stateless tokens are opaque base64.

Used by ``line-token inspect``; the messages are N_-marked templates with
params, so a web page can translate them as it translates a SigningError.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .rules import breaches, whole_number
from .text import N_

MAX_INPUT = 8 * 1024  # an assertion is under 1 KiB and a token under 2 KiB; more is not one of them
MAX_SEGMENT = 4 * 1024  # a JWT header or payload LINE would read is far smaller
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=._~-]+$")

ASSERTION = "assertion"  # a JWT assertion to send to LINE (RS256, signed with your key)
V21_TOKEN = "v2.1 token"  # a channel access token v2.1 (JWS-shaped, {"alg":"HS256"})
OPAQUE_TOKEN = "opaque token"  # a short-lived, long-lived or stateless token
OTHER_JWT = "jwt"  # a JWT, but not an assertion for LINE
STATELESS_TOKEN = "stateless token"  # a stateless token as the sandbox issues it: an HS256 JWT, 15 minutes


@dataclass
class Finding:
    """One broken rule: ``field`` (e.g. ``payload.exp``), an N_ template and its params."""

    field: str
    template: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.template % self.params if self.params else self.template


@dataclass
class Inspection:
    """What a string turned out to be, and what is wrong with it."""

    kind: str
    header: dict | None = None
    payload: dict | None = None
    expires_at: int | None = None  # payload.exp when it is a number
    expires_in: int | None = None  # seconds from now; negative once expired
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {"kind": self.kind, "header": self.header, "payload": self.payload, "expires_at": self.expires_at,
                "expires_in": self.expires_in,
                "problems": [{"field": f.field, "message": f.message} for f in self.findings]}


class InspectError(ValueError):
    """The text is neither a JWT nor a token: ``template``/``params`` say why (N_-marked)."""

    def __init__(self, template: str, **params: Any):
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


def _b64u_json(segment: str) -> Any:
    if len(segment) > MAX_SEGMENT or not _B64URL.match(segment):
        raise ValueError("not base64url")
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def inspect(text: str, now: int | None = None) -> Inspection:
    """Decode ``text`` (a JWT assertion or an access token) and list the LINE rules it breaks.

    Raises InspectError when ``text`` is empty, too long, or neither a JWT nor a token.
    """
    now = int(time.time()) if now is None else now
    if not isinstance(text, str) or not text.strip():
        raise InspectError(N_("It is empty: give a JWT assertion or an access token."))
    if len(text) > MAX_INPUT:
        raise InspectError(N_("It is %(size)s characters long; a JWT assertion or access token is under 8,192."),
                           size=f"{len(text):,}")
    text = text.strip()
    parts = text.split(".")
    if len(parts) != 3:
        if _BASE64.match(text) and len(parts) == 1:
            return Inspection(kind=OPAQUE_TOKEN)
        raise InspectError(N_("This is neither a JWT (three parts separated by dots) nor an access token: "
                              "copy the whole value again."))
    try:
        header = _b64u_json(parts[0])
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InspectError(N_("The first part (the header) is not base64url-encoded JSON: copy the whole JWT "
                              "again.")) from None
    if not isinstance(header, dict):
        raise InspectError(N_("The header is not a JSON object: copy the whole JWT again."))
    try:
        payload = _b64u_json(parts[1])
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        if header.get("alg") == "HS256" and _B64URL.match(parts[1]):
            # LINE's v2.1 tokens: a JWS whose payload only LINE can read.
            return Inspection(kind=V21_TOKEN, header=header)
        raise InspectError(N_("The second part (the payload) is not base64url-encoded JSON: copy the whole JWT "
                              "again."))
    if _is_stateless_token(header, payload):
        # An access token, not an assertion: LINE's assertion rules don't apply; its expiry does.
        exp = whole_number(payload.get("exp"))
        return Inspection(kind=STATELESS_TOKEN, header=header, payload=payload, expires_at=exp,
                          expires_in=None if exp is None else exp - now)
    result = Inspection(kind=ASSERTION if header.get("alg") == "RS256" or "token_exp" in payload else OTHER_JWT,
                        header=header, payload=payload)
    exp = whole_number(payload.get("exp"))
    if exp is not None:
        result.expires_at, result.expires_in = exp, exp - now
    # Every rule of the table (rules.ASSERTION_RULES) that it breaks, each with the inspector's explanation.
    result.findings.extend(Finding(b.rule.claim, b.finding, b.params) for b in breaches(header, payload, now))
    return result


def _is_stateless_token(header: dict, payload: dict) -> bool:
    """The sandbox's stateless tokens (docs/line-api.md §5.5): HS256, iss = channel ID, exp, jti; no assertion claims."""
    return (header.get("alg") == "HS256" and "kid" not in header and isinstance(payload.get("iss"), str)
            and "jti" in payload and "exp" in payload
            and not any(claim in payload for claim in ("token_exp", "aud", "sub")))

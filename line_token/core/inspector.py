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
from .signing import MAX_JSON_DEPTH, json_depth
from .text import N_

MAX_INPUT = 8 * 1024  # an assertion is under 1 KiB and a token under 2 KiB; more is not one of them
MAX_SEGMENT = 4 * 1024  # a JWT header or payload LINE would read is far smaller
MIN_OPAQUE_TOKEN = 32  # LINE's opaque tokens are 172 characters; the sandbox's "token-shaped" starts at 32 (line-api.md §5.7)
_LINE_BREAK = re.compile(r"[ \t]*[\r\n]+[ \t]*")
_BEARER = re.compile(r"^bearer\s+(?=\S)", re.IGNORECASE)
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


class TooComplex(InspectError):
    """A header or payload nested deeper than any JWT: refused before it is parsed or shown."""


def _b64u_json(segment: str, part: str) -> Any:
    """A JWT segment's JSON; TooComplex if it nests deeper than MAX_JSON_DEPTH (checked before parsing)."""
    if len(segment) > MAX_SEGMENT or not _B64URL.match(segment):
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    depth = json_depth(raw)  # at most MAX_SEGMENT bytes: a short loop
    if depth > MAX_JSON_DEPTH:
        template = (N_("The header nests JSON %(depth)s levels deep; a JWT LINE issues or takes nests 1 or 2, and "
                       "this inspector reads at most %(limit)s. This is not a JWT for LINE.") if part == "header" else
                    N_("The payload nests JSON %(depth)s levels deep; a JWT LINE issues or takes nests 1 or 2, and "
                       "this inspector reads at most %(limit)s. This is not a JWT for LINE."))
        raise TooComplex(template, depth=f"{depth:,}", limit=MAX_JSON_DEPTH)
    return json.loads(raw)


def normalise(text: str) -> str:
    """What a person pasted, as the inspector reads it (the page, its JSON and the CLI alike).

    Surrounding whitespace and a leading "Bearer " go; so do line breaks (a wrapped paste) with the
    indentation around them. Spaces inside a line stay: no JWT or token holds one.
    """
    text = text.strip() if isinstance(text, str) else text
    if isinstance(text, str):
        text = _LINE_BREAK.sub("", _BEARER.sub("", text))
    return text


NOT_A_TOKEN_CHARS = N_("This is not a JWT (three base64url parts separated by dots: eyJ….eyJ….…) and not a token "
                       "shape LINE issues: it holds spaces or characters no token has (tokens are letters, digits "
                       "and + / = _ - . ~ only). Copy the whole JWT or token again.")
NOT_A_TOKEN_SHORT = N_("This is not a JWT (three base64url parts separated by dots: eyJ….eyJ….…) and not a token "
                       "shape LINE issues: it is %(length)s characters long, and a token LINE issues has at "
                       "least %(min)s (a short-lived token has 172). Copy the whole JWT or token again.")
NOT_A_TOKEN_PARTS = N_("This is not a JWT: it has %(parts)s parts separated by dots, and a JWT has 3 "
                       "(header.payload.signature). Nor is it a token shape LINE issues. Copy the whole JWT or "
                       "token again.")


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
    text = normalise(text)
    parts = text.split(".")
    if len(parts) != 3:
        if not _BASE64.match(text):
            raise InspectError(NOT_A_TOKEN_CHARS)
        if len(text) < MIN_OPAQUE_TOKEN:
            raise InspectError(NOT_A_TOKEN_SHORT, length=f"{len(text):,}", min=MIN_OPAQUE_TOKEN)
        if len(parts) != 1:
            raise InspectError(NOT_A_TOKEN_PARTS, parts=len(parts))
        return Inspection(kind=OPAQUE_TOKEN)
    try:
        header = _b64u_json(parts[0], "header")
    except TooComplex:
        raise
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InspectError(N_("The first part (the header) is not base64url-encoded JSON: copy the whole JWT "
                              "again.")) from None
    if not isinstance(header, dict):
        raise InspectError(N_("The header is not a JSON object: copy the whole JWT again."))
    try:
        payload = _b64u_json(parts[1], "payload")
    except TooComplex:
        raise
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

"""Showing LINE's requests and answers to people: pretty JSON, masked secrets,
the request as a curl command, and plain-language hints for LINE's errors.

The proxy pages and the CLI use these; :mod:`line_client` itself only sends.
"""
from __future__ import annotations

import json
import shlex
from typing import Any

from . import rules as line
from .endpoints import SECRET_FIELDS as LINE_SECRET_FIELDS
from .text import N_

# The registry's secret fields (client_assertion, client_secret, access_token) and the pages' private key.
SECRET_FIELDS = (*LINE_SECRET_FIELDS, "private_key")


def pretty(obj) -> str:
    """JSON indented for reading, non-ASCII kept."""
    return json.dumps(obj, indent=2, ensure_ascii=False)


def mask(value: str) -> str:
    """A secret shown safely: its first 4 and last 4 characters (all hidden if short)."""
    value = "" if value is None else str(value)
    if len(value) < 12:
        return "*" * len(value)
    return f"{value[:4]}…{value[-4:]}"


def masked(fields: dict[str, str]) -> dict[str, str]:
    """``fields`` with every secret (SECRET_FIELDS) masked."""
    return {k: mask(v) if k in SECRET_FIELDS and v else v for k, v in fields.items()}


# Japanese sentence ends: the ideographic full stop, full-width ! ? ) and the closing corner bracket.
FULL_WIDTH_ENDS = ("\u3002", "\uff01", "\uff1f", "\uff09", "\u300d")


def join_sentences(*sentences: str | None) -> str:
    """Sentences in one paragraph: a space after Latin punctuation, none after Japanese full-width marks."""
    text = ""
    for sentence in sentences:
        if not sentence:
            continue
        text += sentence if not text or text.endswith(FULL_WIDTH_ENDS) else " " + sentence
    return text


def curl_command(method: str, url: str, fields: dict[str, str], include_secrets: bool = False,
                 bearer: str | None = None) -> str:
    """The request as a curl command line; secrets (and the ``bearer`` token) masked unless ``include_secrets``."""
    lines = [f"curl -sS {'-G' if method == 'GET' else '-X ' + method} {shlex.quote(url)}"]
    if bearer is not None:
        shown = bearer if include_secrets or not bearer else mask(bearer).replace("…", "...")
        lines.append(f"-H {shlex.quote(f'Authorization: Bearer {shown}')}")
    for name, value in fields.items():
        if name in SECRET_FIELDS and value and not include_secrets:
            value = mask(value).replace("…", "...")
        lines.append(f"--data-urlencode {shlex.quote(f'{name}={value}')}")
    return " \\\n  ".join(lines)


# --------------------------------------------------------------------------- explaining LINE's errors

# LINE's known error texts (defined once in rules.py; docs/line-api.md §3-§5, §9) and what to do about them.
# Matched as substrings, case-insensitively, first match wins: LINE may add details around its message.
_EXPLANATIONS: list[tuple[str, str]] = [
    (line.INVALID_EXP, N_("The JWT's exp is in the past or more than 30 minutes ahead. Sign a new JWT (it lives at most "
                       "30 minutes) and check that this computer's clock is right.")),
    (line.ISS_MISMATCH, N_(
        "The channel ID in the JWT (iss and sub) is not the channel the kid belongs to. Use the channel ID of the "
        "channel where you registered the public key.")),
    (line.KEY_NOT_FOUND, N_(
        "LINE knows no key with this kid on this channel. Check the kid (Basic settings > Assertion Signing Key) "
        "and that the JWT's channel ID is the channel where you registered the public key.")),
    (line.TOKEN_LIMIT, N_(
        "The channel already holds 30 valid v2.1 tokens, LINE's limit. Revoking needs the token itself (a key ID "
        "is not enough): revoke the tokens you still have, e.g. those this tab issued (\"Tokens issued in this "
        "tab\", each with a Revoke button), or wait until some expire. Next time, issue with a short token_exp "
        "(1 day).")),
    (line.INVALID_SIGNATURE, N_("The JWT's signature does not match the public key registered for this kid: sign with "
                             "the private key that belongs to the registered public key.")),
    (line.INVALID_AUD, N_("The JWT's aud must be exactly https://api.line.me/ (with the trailing slash).")),
    (line.INVALID_SUB, N_("The JWT's sub must equal its iss: both are the channel ID.")),
    (line.INVALID_ALG, N_("The JWT must be signed with RS256.")),
    (line.INVALID_TYP, N_("The JWT header's typ must be \"JWT\".")),
    (line.INVALID_ASSERTION, N_("The assertion is not a readable JWT: paste the whole JWT (three parts separated by "
                             "dots) or sign a new one.")),
    (line.INVALID_TOKEN_EXP, N_("The JWT's token_exp (the token lifetime) must be a whole number from 1 to 2,592,000 "
                             "seconds (30 days).")),
    (line.PARAMS_INVALID, N_(
        "A required field is missing or has a wrong value: check grant_type (client_credentials), "
        "client_assertion_type (the jwt-bearer URN) and the other required fields.")),
    (line.PARAMS_WRONG_FORMAT, N_(
        "A field has the wrong format: the channel ID must be the numeric ID from Basic settings.")),
    (line.TOKEN_EXPIRED, N_("This token's lifetime is over. Issue a new one.")),
    (line.TOKEN_NOT_JWS, N_(
        "This is not a channel access token v2.1 (those are JWTs: three parts separated by dots). A short-lived "
        "or long-lived token is verified and revoked on the \"Other token types\" page.")),
    (line.TOKEN_REVOKED, N_("This token was revoked, or LINE does not know it. Issue a new one.")),
    (line.TOKEN_MALFORMED, N_("The token is damaged: copy the whole token again.")),
    (line.INVALID_CLIENT_SECRET, N_(
        "The channel secret does not match the channel ID. Copy both from Basic settings in the LINE Developers "
        "Console.")),
    (line.INVALID_CLIENT_ID, N_("LINE knows no channel with this ID: use the numeric channel ID from Basic settings.")),
    (line.INVALID_CLIENT_CREDENTIALS, N_(
        "The channel ID or channel secret is wrong. Copy both from Basic settings in the LINE Developers Console.")),
    (line.ACCESS_TOKEN_INVALID, N_(
        "This token is invalid, expired or revoked. (v2.1 tokens are verified on the v2.1 Verify page.)")),
    (line.ACCESS_TOKEN_INVALID_FORMAT, N_("The token is not in the right format: copy the whole token again.")),
    # The Messaging API's 401s (§10). AUTH_MALFORMED is matched above by TOKEN_MALFORMED, which it contains.
    (line.AUTH_HEADER_REQUIRED, N_(
        "No token reached LINE: the request had no Authorization header, or not one of the form "
        "\"Authorization: Bearer <token>\". Paste the whole token.")),
    (line.AUTH_FAILED, N_(
        "LINE does not accept this token: it is unknown to LINE, expired or revoked. Issue a new token (a sandbox "
        "token works only against the sandbox, a LINE token only at LINE).")),
]


# The reason a Messaging API call answered 401 (docs/line-api.md §10), for the JSON API and the CLI.
BEARER_REASONS = ((line.AUTH_HEADER_REQUIRED, "no_header"),
                  (line.TOKEN_MALFORMED, "malformed"),  # inside AUTH_MALFORMED
                  (line.AUTH_FAILED, "invalid"))


def bearer_reason(status: int, body: Any) -> str | None:
    """``no_header``, ``malformed`` or ``invalid`` for the Messaging API's 401s; None otherwise."""
    if status != 401:
        return None
    text = str(body.get("message", "")) if isinstance(body, dict) else str(body or "")
    for needle, reason in BEARER_REASONS:
        if needle in text:
            return reason
    return "invalid"


def explain(status: int, body: Any) -> str | None:
    """A plain-language explanation of LINE's answer, untranslated (mark: N_), or None."""
    text = ""
    if isinstance(body, dict):
        text = " ".join(str(body.get(k, "")) for k in ("error_description", "message", "error"))
    elif isinstance(body, str):
        text = body
    for needle, message in _EXPLANATIONS:
        if needle.lower() in text.lower():
            return message
    if status == 429:
        return N_("Too many requests: LINE allows 370 token requests per second per channel. Wait a moment and retry.")
    if status == 400 and isinstance(body, dict) and body.get("error") == "invalid_request":
        return N_("LINE could not read the request: check that the token was copied whole.")
    if status == 404:
        return N_("LINE has no such endpoint or key. If the kid is right, check LINE_API_BASE_URL.")
    if status >= 500:
        return N_("LINE had a problem on its side. Try again in a few minutes.")
    return None

"""LINE's rules for a JWT assertion and the token it asks for, each written once.

One row per rule (:data:`ASSERTION_RULES`): the claim it reads, its bound, the message our signer
refuses with, the one the inspector explains with, and what LINE answers when it is broken. Every
side reads this table and nothing else:

* the signer (``signing.validate_claims``) raises the first broken rule's refusal as an InputError;
* the inspector (``inspector.inspect``) lists every broken rule's explanation;
* the sandbox (``sandbox.routes.verify_assertion``) answers the first broken rule as LINE does;
* the JWT page's in-browser signer (``static/jwt.js``) gets the bounds from :func:`browser_rules`,
  embedded in the page as JSON (``<script type="application/json" id="line-rules">``).

LINE's own error texts (the sandbox sends them; ``display.py`` explains them) are defined here too,
never translated: clients match on them. To add a rule, add a :class:`Rule` to ASSERTION_RULES in
LINE's order (docs/ARCHITECTURE.md, "Rules table"); the three sides and the boundary test
(tests/test_rules.py) pick it up.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .text import N_, Duration

# --------------------------------------------------------------------------- bounds

LINE_AUDIENCE = "https://api.line.me/"
ASSERTION_ALG = "RS256"
ASSERTION_TYP = "JWT"
MAX_ASSERTION_LIFETIME = 30 * 60  # LINE: exp at most 30 minutes after generation (inclusive: its sample uses now+1800)
MIN_TOKEN_EXP = 1
MAX_TOKEN_EXP = 30 * 24 * 60 * 60  # LINE: token_exp at most 30 days (2,592,000 s; inclusive, as its sample)
# The one clock tolerance, on "exp at most 30 minutes ahead" only (docs/line-api.md §3): a client whose clock
# runs up to a minute fast still gets through. 60 s is the default of the JWT libraries a Java OAuth server
# most plausibly runs (Nimbus JOSE+JWT's DefaultJWTClaimsVerifier, Spring Security's JwtTimestampValidator);
# LINE does not publish its own. An exp at or before now is expired whatever the tolerance.
CLOCK_TOLERANCE = 60
# Issuing defaults to a one-day token: each v2.1 token holds one of the channel's 30 slots for its
# whole lifetime, and a test token needs no more. Up to 30 days is one choice away.
DEFAULT_TOKEN_EXP = 24 * 60 * 60
STATELESS_LIFETIME = 15 * 60  # LINE docs: a stateless token lives 900 s
TOKENS_PER_CHANNEL = 30  # valid v2.1 tokens (and short-lived ones) per channel

# --------------------------------------------------------------------------- one number, one channel ID

_DIGITS = "[0-9]{1,18}"  # ASCII only: str.isdigit() also takes "²" and "١", which int() refuses
_DIGITS_RE = re.compile(_DIGITS)
CHANNEL_ID_PATTERN = f"^{_DIGITS}$"  # the same text is a JavaScript RegExp (static/jwt.js)
WHOLE_NUMBER_PATTERN = CHANNEL_ID_PATTERN  # a number typed into a form: the same ASCII digits


def whole_number(value: Any) -> int | None:
    """A whole number from JSON or a form, else None: an int, an integral finite float, or 1-18 ASCII digits
    (surrounding spaces ignored; one of LINE's samples writes exp and token_exp as text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value.strip()):
        return int(value.strip())
    return None


_DECIMAL_RE = re.compile(r"[0-9]{1,6}\.[0-9]{1,3}")


def form_number(text: str | None) -> int | float | str | None:
    """A form field's text as the JSON number it spells, so a form and a JSON body meet the same checks: a whole
    number (whole_number), a decimal fraction (up to 3 places) as a float, None when empty, else the text itself
    (which the check then refuses, naming the field)."""
    text = (text or "").strip()
    whole = whole_number(text)
    if whole is not None:
        return whole
    if _DECIMAL_RE.fullmatch(text):
        return float(text)
    return text or None


def is_channel_id(value: Any) -> bool:
    """True for a channel ID as LINE writes it: 1 to 18 ASCII digits as text (LINE's are 10)."""
    return isinstance(value, str) and _DIGITS_RE.fullmatch(value) is not None


# --------------------------------------------------------------------------- LINE's own error texts

# docs/line-api.md §3-§5, §9, §10. Never translated: clients match on them.
INVALID_ASSERTION = "Invalid assertion"
INVALID_ALG = "Invalid alg"
INVALID_TYP = "Invalid typ"
ISS_MISMATCH = "iss and clientId of key do not match"
INVALID_SIGNATURE = "Invalid signature"
INVALID_SUB = "Invalid sub"
INVALID_AUD = "Invalid aud"
INVALID_EXP = "Invalid exp"
INVALID_TOKEN_EXP = "Invalid token_exp"
KEY_NOT_FOUND = "Cannot find channel key that satisfies the conditions"
TOKEN_LIMIT = "The maximum number of access tokens has already been issued"
PARAMS_INVALID = "some parameters missed or invalid"
PARAMS_WRONG_FORMAT = "some parameters in the wrong format"  # §5.6 live record
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."  # LINE's 429 body (§5.6, §6)
TOKEN_EXPIRED = "The access token expired"
TOKEN_NOT_JWS = "The access token not JWS"
TOKEN_REVOKED = "The access token revoked"
TOKEN_MALFORMED = "The access token malformed"
INVALID_CLIENT_SECRET = "invalid client_secret"
INVALID_CLIENT_ID = "invalid client_id"
INVALID_CLIENT_CREDENTIALS = "Invalid 'client_credentials'."
ACCESS_TOKEN_INVALID = "access_token invalid"
ACCESS_TOKEN_INVALID_FORMAT = "access_token in invalid format"
AUTH_HEADER_REQUIRED = ("Authorization header required. Must follow the scheme, "
                        "'Authorization: Bearer <ACCESS TOKEN>'")
AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
AUTH_MALFORMED = ("Authentication failed due to the following reason: The access token malformed. "
                  "Confirm that the access token in the authorization header is valid.")


@dataclass(frozen=True)
class LineAnswer:
    """What LINE answers: a status and a body in its OAuth shape or its Messaging shape."""

    status: int
    body: dict

    @classmethod
    def oauth(cls, code: str, description: str | None = None, status: int = 400) -> "LineAnswer":
        """``{"error", "error_description"}``; ``description`` None leaves the member out, as LINE sometimes does."""
        return cls(status, {"error": code} if description is None else {"error": code, "error_description": description})

    @classmethod
    def message(cls, text: str, status: int) -> "LineAnswer":
        """``{"message": ...}``, LINE's Messaging API shape."""
        return cls(status, {"message": text})


UNREADABLE_ASSERTION = LineAnswer.oauth("invalid_client", INVALID_ASSERTION)
BAD_SIGNATURE = LineAnswer.oauth("invalid_client", INVALID_SIGNATURE)


# --------------------------------------------------------------------------- the rules

Problem = tuple[str, dict]  # (which way the rule is broken: a key of Rule.refusals/findings, its params)


@dataclass(frozen=True)
class Rule:
    """One of LINE's rules for an assertion.

    ``claim``: what the inspector names (``payload.exp``); ``field``: what the signer names, the form
    field a person fixes (``channel_id`` for ``payload.iss``). ``check(header, payload, now)`` returns
    None or a :data:`Problem`; ``refusals`` and ``findings`` hold the signer's and the inspector's
    N_-marked messages for each way of breaking it (the same params fill both). ``line`` is LINE's
    answer. ``bounds`` are the numbers the rule reads, for the page's script and the docs.
    ``token_request_only``: LINE reads it only where a token lifetime is asked for (the v2.1 issue).
    """

    name: str
    claim: str
    field: str
    check: Callable[[dict, dict, int], Problem | None]
    refusals: dict[str, str]
    findings: dict[str, str]
    line: LineAnswer
    bounds: dict[str, Any] = field(default_factory=dict)
    token_request_only: bool = False


@dataclass(frozen=True)
class Breach:
    """A rule broken by one assertion, with the numbers that say by how much."""

    rule: Rule
    kind: str
    params: dict

    @property
    def refusal(self) -> str:
        return self.rule.refusals[self.kind]

    @property
    def finding(self) -> str:
        return self.rule.findings[self.kind]


def _shown(value: Any) -> str:
    """A claim's value as JSON, cut to 60 characters for a message."""
    return json.dumps(value, ensure_ascii=False)[:60]


def _check_alg(header: dict, payload: dict, now: int) -> Problem | None:
    return None if header.get("alg") == ASSERTION_ALG else ("wrong", {"value": _shown(header.get("alg"))})


def _check_typ(header: dict, payload: dict, now: int) -> Problem | None:
    return None if header.get("typ") == ASSERTION_TYP else ("wrong", {"value": _shown(header.get("typ"))})


def _check_kid(header: dict, payload: dict, now: int) -> Problem | None:
    kid = header.get("kid")
    return None if isinstance(kid, str) and kid.strip() else ("missing", {})


def _check_iss(header: dict, payload: dict, now: int) -> Problem | None:
    iss = payload.get("iss")
    return None if is_channel_id(iss) else ("wrong", {"value": _shown(iss)})


def _check_sub(header: dict, payload: dict, now: int) -> Problem | None:
    sub = payload.get("sub")
    return None if sub == payload.get("iss") else ("wrong", {"value": _shown(sub)})


def _check_aud(header: dict, payload: dict, now: int) -> Problem | None:
    aud = payload.get("aud")
    return None if aud == LINE_AUDIENCE else ("wrong", {"value": _shown(aud)})


def _check_exp(header: dict, payload: dict, now: int) -> Problem | None:
    if "exp" not in payload:
        return "missing", {}
    exp = whole_number(payload["exp"])
    if exp is None:
        return "not_number", {"field": "payload.exp"}
    if exp <= now:
        return "past", {"ago": Duration(now - exp)}
    if exp > now + MAX_ASSERTION_LIFETIME + CLOCK_TOLERANCE:
        return "ahead", {"ahead": Duration(exp - now), "over": Duration(exp - now - MAX_ASSERTION_LIFETIME)}
    return None


def _check_token_exp(header: dict, payload: dict, now: int) -> Problem | None:
    if "token_exp" not in payload:
        return "missing", {}
    token_exp = whole_number(payload["token_exp"])
    if token_exp is None:
        return "not_number", {"field": "token_exp"}
    if token_exp < MIN_TOKEN_EXP:
        return "below", {"value": f"{token_exp:,}"}
    if token_exp > MAX_TOKEN_EXP:
        return "above", {"value": f"{token_exp:,}", "over": Duration(token_exp - MAX_TOKEN_EXP)}
    return None


_INVALID_CLIENT = "invalid_client"
_NOT_WHOLE = N_("%(field)s must be a whole number of seconds.")

# In LINE's order (docs/line-api.md §3): the sandbox answers the first one broken, the signer refuses it.
ASSERTION_RULES: tuple[Rule, ...] = (
    Rule("alg", "header.alg", "header.alg", _check_alg,
         refusals={"wrong": N_("header.alg is %(value)s; LINE needs \"RS256\".")},
         findings={"wrong": N_("header.alg is %(value)s; LINE needs \"RS256\".")},
         line=LineAnswer.oauth(_INVALID_CLIENT, INVALID_ALG), bounds={"equals": ASSERTION_ALG}),
    Rule("typ", "header.typ", "header.typ", _check_typ,
         refusals={"wrong": N_("header.typ is %(value)s; LINE needs \"JWT\".")},
         findings={"wrong": N_("header.typ is %(value)s; LINE needs \"JWT\".")},
         line=LineAnswer.oauth(_INVALID_CLIENT, INVALID_TYP), bounds={"equals": ASSERTION_TYP}),
    Rule("kid", "header.kid", "kid", _check_kid,
         refusals={"missing": N_("The kid is missing: enter the kid the LINE Developers Console showed when you "
                                 "registered the public key (Basic settings > Assertion Signing Key).")},
         findings={"missing": N_("header.kid is missing: LINE needs the kid it gave when you registered the public "
                                 "key.")},
         # LINE looks the kid up: a missing one is as unknown as a wrong one.
         line=LineAnswer.message(KEY_NOT_FOUND, 404)),
    Rule("iss", "payload.iss", "channel_id", _check_iss,
         refusals={"wrong": N_("The channel ID (payload.iss) must be the channel's numeric ID as text, e.g. "
                               "\"1234567890\" (see Basic settings in the LINE Developers Console).")},
         findings={"wrong": N_("payload.iss is %(value)s; LINE needs the channel ID as text of digits, e.g. "
                               "\"1234567890\".")},
         # LINE compares iss with the channel of the kid's key: not a channel ID is not that channel.
         line=LineAnswer.oauth(_INVALID_CLIENT, ISS_MISMATCH), bounds={"pattern": CHANNEL_ID_PATTERN}),
    Rule("sub", "payload.sub", "payload.sub", _check_sub,
         refusals={"wrong": N_("payload.sub must equal payload.iss (both are the channel ID).")},
         findings={"wrong": N_("payload.sub is %(value)s; LINE needs it equal to payload.iss (both are the channel "
                               "ID).")},
         line=LineAnswer.oauth(_INVALID_CLIENT, INVALID_SUB), bounds={"equals_claim": "iss"}),
    Rule("aud", "payload.aud", "payload.aud", _check_aud,
         refusals={"wrong": N_("payload.aud must be exactly \"https://api.line.me/\" (with the trailing slash).")},
         findings={"wrong": N_("payload.aud is %(value)s; LINE needs exactly \"https://api.line.me/\" (with the "
                               "trailing slash).")},
         line=LineAnswer.oauth(_INVALID_CLIENT, INVALID_AUD), bounds={"equals": LINE_AUDIENCE}),
    Rule("exp", "payload.exp", "payload.exp", _check_exp,
         refusals={
             "missing": N_("payload.exp is missing: set it to a UNIX time at most 30 minutes from now."),
             "not_number": _NOT_WHOLE,
             "past": N_("payload.exp is in the past (%(ago)s ago): set it to a UNIX time at most 30 minutes from "
                        "now."),
             "ahead": N_("payload.exp is %(ahead)s ahead; LINE allows at most 30 minutes."),
         },
         findings={
             "missing": N_("payload.exp is missing; LINE needs a UNIX time at most 30 minutes ahead."),
             "not_number": N_("payload.exp is not a whole number of seconds (a UNIX time)."),
             "past": N_("payload.exp passed %(ago)s ago: LINE refuses an expired assertion. Sign a new one."),
             "ahead": N_("payload.exp is %(ahead)s ahead, %(over)s more than the 30 minutes LINE allows."),
         },
         line=LineAnswer.oauth(_INVALID_CLIENT, INVALID_EXP),
         bounds={"after_now": True, "max_ahead": MAX_ASSERTION_LIFETIME, "tolerance": CLOCK_TOLERANCE}),
    Rule("token_exp", "payload.token_exp", "token_exp", _check_token_exp,
         refusals={
             "missing": N_("token_exp is missing: set the token lifetime in seconds (1 to 2,592,000 = 30 days)."),
             "not_number": _NOT_WHOLE,
             "below": N_("token_exp is %(value)s seconds; LINE allows 1 to 2,592,000 seconds (30 days)."),
             "above": N_("token_exp is %(value)s seconds; LINE allows 1 to 2,592,000 seconds (30 days)."),
         },
         findings={
             "missing": N_("payload.token_exp is missing; LINE needs the token lifetime in seconds, 1 to 2,592,000 "
                           "(30 days)."),
             "not_number": N_("payload.token_exp is not a whole number of seconds."),
             "below": N_("payload.token_exp is %(value)s; LINE needs at least 1 second."),
             "above": N_("payload.token_exp is %(value)s seconds, %(over)s more than the 30 days (2,592,000 seconds) "
                         "LINE allows."),
         },
         line=LineAnswer.oauth("invalid_request", INVALID_TOKEN_EXP),
         bounds={"min": MIN_TOKEN_EXP, "max": MAX_TOKEN_EXP}, token_request_only=True),
)
RULES = {rule.name: rule for rule in ASSERTION_RULES}


def breaches(header: dict, payload: dict, now: int, *, token_request: bool = True,
             names: tuple[str, ...] | None = None) -> list[Breach]:
    """Every rule ``header`` and ``payload`` break at ``now``, in LINE's order.

    ``token_request`` False skips the rules LINE reads only when a token lifetime is asked for;
    ``names`` limits the walk to those rules.
    """
    found = []
    for rule in ASSERTION_RULES:
        if (names is not None and rule.name not in names) or (rule.token_request_only and not token_request):
            continue
        problem = rule.check(header, payload, now)
        if problem is not None:
            found.append(Breach(rule, *problem))
    return found


def first_breach(header: dict, payload: dict, now: int, **options: Any) -> Breach | None:
    """The first rule broken, in LINE's order, or None."""
    found = breaches(header, payload, now, **options)
    return found[0] if found else None


# --------------------------------------------------------------------------- the guided form's bounds

TOKEN_EXP_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
MAX_EXP_MINUTES = MAX_ASSERTION_LIFETIME // 60


def browser_rules() -> dict:
    """The bounds the JWT page's in-browser signer applies (static/jwt.js), from this table.

    The page embeds this as JSON; the script holds no copy of a bound.
    """
    return {
        "alg": ASSERTION_ALG, "typ": ASSERTION_TYP, "aud": LINE_AUDIENCE,
        "channel_id_pattern": CHANNEL_ID_PATTERN, "whole_number_pattern": WHOLE_NUMBER_PATTERN,
        "min_token_exp": MIN_TOKEN_EXP, "max_token_exp": MAX_TOKEN_EXP, "default_token_exp": DEFAULT_TOKEN_EXP,
        "token_exp_units": TOKEN_EXP_UNITS,
        "min_exp_minutes": 1, "max_exp_minutes": MAX_EXP_MINUTES,
        "clock_tolerance": CLOCK_TOLERANCE,
    }

"""Reading posted fields (a form or a JSON object) with field-naming errors: the web pages and the CLI
read the same fields through these, so the same bad input gets the same message everywhere."""
from __future__ import annotations

import re
from typing import Any

from .signing import N_, InputError, SigningError

MAX_FIELD = 16 * 1024  # a JWT or token is under 2 KiB; more is a paste gone wrong
_WHITESPACE = re.compile(r"\s+")
MAX_TOKEN = 4096  # LINE's tokens are under 2 KiB (v2.1 about 200 characters, stateless about 500)
# What an HTTP header can carry: printable ASCII without spaces (a wrapped paste loses its breaks first).
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")
_BEARER_PREFIX = re.compile(r"^\s*bearer\s+\S", re.IGNORECASE)


class Source:
    """The posted fields, from a form or a JSON object, read with field-naming errors."""

    def __init__(self, data: Any, is_json: bool):
        self.data = data
        self.is_json = is_json

    def has(self, name: str) -> bool:
        value = self.data.get(name)
        return value is not None and value != ""

    def text(self, name: str, default: str = "", *, missing: str | None = None, compact: bool = False) -> str:
        """The field as stripped text; ``missing``, when given, makes it required: the message if it is absent.

        ``compact`` drops all whitespace: tokens and JWTs never hold any, and a
        pasted one is often wrapped over lines.
        """
        value = self.data.get(name)
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise InputError(name, N_("%(field)s must be text."), field=name)
        value = str(value)
        if len(value) > MAX_FIELD:
            raise InputError(name, N_("%(field)s is too long: paste only the value asked for."), field=name)
        value = _WHITESPACE.sub("", value) if compact else value.strip()
        if not value:
            if missing:
                raise InputError(name, missing)
            return default
        return value


def read_token(src: Source) -> str:
    """The pasted token (whitespace removed), or a SigningError naming ``access_token``."""
    token = src.text("access_token", missing=N_("Paste the channel access token to try (any type: v2.1, "
                                                 "stateless, short-lived or long-lived)."), compact=True)
    raw = src.data.get("access_token")
    if isinstance(raw, str) and _BEARER_PREFIX.match(raw) and len(token) > 6:
        token = token[6:]  # "Bearer eyJ…" pasted whole: the word is ours to add
    if len(token) > MAX_TOKEN:
        raise SigningError("access_token", N_("This is longer than any channel access token (at most %(max)d "
                                              "characters here): paste only the token."), max=MAX_TOKEN)
    if not _HEADER_SAFE.match(token):
        raise SigningError("access_token", N_("A channel access token holds only letters, digits and a few "
                                              "symbols: copy it again from where it was issued."))
    if token.count(".") == 2:
        from . import inspector  # deferred: fields is imported by every form, the inspector only for JWT-shaped tokens

        try:  # a JWT-shaped token is decoded for the page: one nested too deeply is no token (issue 23.3)
            inspector.inspect(token)
        except inspector.TooComplex as e:
            raise SigningError("access_token", e.template, **e.params) from None
        except inspector.InspectError:
            pass
    return token

"""Keeping secrets out of logs: LINE's GET endpoints carry JWTs and tokens in their query strings."""
from __future__ import annotations

import logging
import re

_QUERY = re.compile(r"\?[^\s\"]*")


def strip_query(text: str) -> str:
    """Remove query strings: LINE's GET endpoints carry JWTs and tokens in them."""
    return _QUERY.sub("", text)


def redact_log_filter(record: logging.LogRecord) -> bool:
    """Logging filter for request-line logs (gunicorn's, the development server's): drop query strings.

    The message is formatted first and then stripped, so a query that held a %s
    placeholder cannot leave the arguments unmatched.
    """
    try:
        message = record.getMessage()
    except Exception:  # a broken log call: keep only its template
        message = str(record.msg)
    if "?" in message:
        record.msg, record.args = strip_query(message), ()
    return True



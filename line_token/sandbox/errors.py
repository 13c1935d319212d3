"""One error shape everywhere: LINE's own ``{"error", "error_description"}`` for
JSON callers, an HTML page for people. Never a traceback in a response.

The tester (``line_token.web.errors``) and the sandbox alone (sandbox/app.py: ``line-token sandbox serve``,
the pytest fixture, the CLI's in-process calls) install the same handlers."""
from __future__ import annotations

import logging
import time
import traceback

from flask import Flask, current_app, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException, InternalServerError

from ..core.signing import InputError
from .answers import json_error, localise, translate, translate_error, wants_json  # one definition each
from .budget import BodyTooComplex

__all__ = ["json_error", "localise", "translate", "translate_error", "wants_json", "init_app", "rate_limit_message"]

log = logging.getLogger(__name__)


def rate_limit_message(e: HTTPException) -> str:
    """Why a request was refused with 429, and when to try again."""
    limit = getattr(e, "limit", None)
    allowed = str(getattr(limit, "limit", "") or "")
    seconds = 60
    limiter = current_app.extensions.get("rate_limiter")
    current = limiter.current_limit if limiter is not None else None
    if current is not None:
        try:
            seconds = max(1, int(current.reset_at - time.time()))
        except Exception:  # the counter store is unreachable: keep the default
            pass
    return gettext("Too many requests from your address: this server allows %(allowed)s. Try again in %(seconds)d "
                   "seconds.", allowed=allowed or gettext("only a few per minute"), seconds=seconds)


def init_app(app: Flask) -> None:
    @app.errorhandler(BodyTooComplex)
    def body_too_complex(e: BodyTooComplex):
        return signing_error(e.error)

    @app.errorhandler(InputError)
    def signing_error(e: InputError):
        message = translate_error(e)
        if wants_json():
            return json_error(e.code, message, 400, field=e.field)
        return render_template("errors/http.html", code=400, title=gettext("Bad input"), message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        if isinstance(e, InternalServerError):
            return internal_error(e)
        description = e.description or ""
        extra = {}
        if e.code == 413 and (request.content_length or 0) <= (current_app.config.get("MAX_CONTENT_LENGTH") or 0) \
                and request.mimetype == "multipart/form-data":
            # Within the size limit, so werkzeug refused the number of parts (MAX_FORM_PARTS, budget.py).
            description = gettext("The form has more than %(limit)s fields or files. Send only the form's own fields.",
                                  limit=current_app.config.get("MAX_FORM_PARTS"))
            extra = {"field": "body"}
        elif e.code == 413:
            description = gettext("The request is larger than %(limit)s. Paste only the key, JWT or token asked for.",
                                  limit="1 MiB")
        elif e.code == 404:
            description = gettext("There is no page at this address.")
        elif e.code == 429:
            description = rate_limit_message(e)
        elif e.code == 405:
            description = gettext("This address does not take a %(method)s request.", method=request.method)
        code = (e.name or "error").lower().replace(" ", "_")
        if wants_json():
            response, status = json_error(code, description, e.code or 400, **extra)
        else:
            response = app.make_response(
                (render_template("errors/http.html", code=e.code, title=e.name, message=description), e.code))
            status = e.code
        if hasattr(e, "get_headers"):
            for name, value in e.get_headers():
                if name.lower() in ("retry-after", "allow"):
                    response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def internal_error(e: Exception):
        original = getattr(e, "original_exception", None) or e
        # The traceback's frames, never the exception message: messages can quote input.
        log.error("unhandled %s at %s %s\n%s", type(original).__name__, request.method, request.path,
                  "".join(traceback.format_tb(original.__traceback__)))
        message = gettext("Something went wrong on our side. Your input was not stored; please try again.")
        if wants_json():
            return json_error("server_error", message, 500)
        try:
            return render_template("errors/http.html", code=500, title=gettext("Server error"), message=message), 500
        except Exception:  # the layout itself failed: answer plainly rather than not at all
            return message, 500, {"Content-Type": "text/plain; charset=utf-8"}

"""One error shape everywhere: LINE's own ``{"error", "error_description"}`` for
JSON callers, an HTML page for people. Never a traceback in a response."""
from __future__ import annotations

import logging
import time
import traceback

from flask import Flask, current_app, has_request_context, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException, InternalServerError

from .budget import BodyTooComplex
from .line_client import SANDBOX_PREFIX
from .signing import N_, Duration, InputError

log = logging.getLogger(__name__)


def wants_json() -> bool:
    """JSON for scripts (JSON bodies, the sandbox's LINE endpoints and admin API), HTML for people."""
    if request.is_json:
        return True
    path = request.path
    sandbox = SANDBOX_PREFIX + "/"
    if path.startswith(sandbox) and path != sandbox and not path.startswith(sandbox + "console"):
        return True
    best = request.accept_mimetypes.best
    return best == "application/json"


# Fields whose messages name them (``%(field)s``) and whose page shows a label: a person reads the label,
# a script (JSON) the field's name.
FIELD_LABELS = {
    "private_key": N_("The private key"),
    "public_key": N_("The public key"),
    "header": N_("The header JSON"),
    "payload": N_("The payload JSON"),
    "text": N_("The JWT or token"),
}


def translate_error(err: InputError) -> str:
    """The InputError's message in the user's language (on a page, the field's label for its name)."""
    template = gettext(err.template)
    params = {name: _localise(value) for name, value in err.params.items()}
    label = FIELD_LABELS.get(params.get("field")) if isinstance(params.get("field"), str) else None
    if label and has_request_context() and not wants_json():
        params["field"] = gettext(label)
    try:
        return template % params if params else template
    except (KeyError, ValueError, TypeError):
        return str(err)


def _localise(value):
    """A message parameter in the user's language (durations carry their unit)."""
    if isinstance(value, Duration):
        return value.localised(gettext)
    return value


def json_error(code: str, description: str, status: int, **extra):
    body = {"error": code, "error_description": description}
    body.update(extra)
    return jsonify(body), status


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

"""The sandbox's answers in Flask: LINE's error shape, translated messages, JSON or HTML by the request.

The tester (line_token.web.errors) uses these same functions for its own pages.
"""
from __future__ import annotations

from flask import current_app, has_request_context, jsonify, request
from flask_babel import gettext

from ..core import catalogs
from ..core.line_client import SANDBOX_PREFIX
from ..core.signing import N_, InputError


def wants_json() -> bool:
    """JSON for scripts (JSON bodies, the sandbox's LINE endpoints and admin API), HTML for people."""
    if request.is_json:
        return True
    path = request.path
    if current_app.config.get("SANDBOX_ONLY") and not (path == "/" or path.startswith(("/console", "/static", "/lang"))):
        return True  # the sandbox's own origin: LINE's paths and the admin API answer scripts and SDKs
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


def translate(template: str, params: dict | None = None) -> str:
    """``template`` (N_-marked) in the request's language with ``params`` filled in (core.catalogs.translate)."""
    return catalogs.translate(gettext, template, params)


def translate_error(err: InputError) -> str:
    """The InputError's message in the user's language (on a page, the field's label for its name)."""
    params = dict(err.params)
    label = FIELD_LABELS.get(params.get("field")) if isinstance(params.get("field"), str) else None
    if label and has_request_context() and not wants_json():
        params["field"] = catalogs.Phrase(label)
    return translate(err.template, params)


def localise(value):
    """A message parameter in the user's language (durations carry their unit)."""
    return catalogs.localise(gettext, value)


def json_error(code: str, description: str, status: int, **extra):
    body = {"error": code, "error_description": description}
    body.update(extra)
    return jsonify(body), status

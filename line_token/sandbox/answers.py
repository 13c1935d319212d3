"""The sandbox's answers in Flask: LINE's error shape, translated messages, JSON or HTML by the request.

The tester (line_token.web.errors) uses these same functions for its own pages.
"""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask_babel import gettext

from ..core.line_client import SANDBOX_PREFIX
from ..core.signing import Duration, InputError


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


def translate_error(err: InputError) -> str:
    """The InputError's message in the user's language."""
    template = gettext(err.template)
    params = {name: localise(value) for name, value in err.params.items()}
    try:
        return template % params if params else template
    except (KeyError, ValueError, TypeError):
        return str(err)


def localise(value):
    """A message parameter in the user's language (durations carry their unit)."""
    if isinstance(value, Duration):
        template, number = value.parts()
        return gettext(template, n=number)
    return value


def json_error(code: str, description: str, status: int, **extra):
    body = {"error": code, "error_description": description}
    body.update(extra)
    return jsonify(body), status

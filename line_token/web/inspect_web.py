"""The inspector on the web: its own page (/inspect), its JSON answer, and the
explanations result pages take from it.

:mod:`inspector` (shared with ``line-token inspect``) decodes a JWT assertion or
token and lists the LINE rules it breaks; this module translates its findings,
adds what only this server knows (on the sandbox target: is the kid registered,
and to which channel) and renders it. Nothing pasted here is stored or logged,
and nothing is sent anywhere: inspecting is local.
"""
from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask_babel import gettext

from ..core import display, inspector, rules
from ..sandbox import routes
from .errors import json_error, localise, translate
from ..core.signing import Duration

bp = Blueprint("inspect", __name__)

MAX_TEXT = 16 * 1024  # the proxy's field limit; the inspector itself refuses over 8 KiB with a message

KIND_LABELS = {
    inspector.ASSERTION: inspector.N_("a JWT assertion (client_assertion) for LINE"),
    inspector.V21_TOKEN: inspector.N_("a channel access token v2.1 (its payload only LINE can read)"),
    inspector.OPAQUE_TOKEN: inspector.N_("a short-lived, long-lived or stateless token (opaque: nothing to decode)"),
    inspector.OTHER_JWT: inspector.N_("a JWT, but not an assertion LINE would accept"),
    inspector.STATELESS_TOKEN: inspector.N_("a stateless channel access token as the sandbox issues it (15 minutes; verify it by trying it, step 6)"),
}


def duration_text(seconds: int) -> str:
    """A length of time in the user's language, e.g. "12 min" (in the units the catalog gives)."""
    return str(localise(Duration(abs(int(seconds)))))


def duration_units() -> list[str]:
    """The templates a page's countdown (static/app.js) builds durations from: d, h, min, s, the joiner."""
    return [gettext(template) for _, template in Duration.UNITS] + [gettext(Duration.JOIN)]


def sandbox_kid(header: dict | None, payload: dict | None) -> dict | None:
    """On the sandbox: is the JWT's kid registered, and to which channel.

    Whether the iss channel exists is not said: a caller who has not proven the channel's secret cannot
    learn which channel IDs exist (issue 23 item 9). A registered kid's channel may be named: a kid cannot
    be guessed, and it shows the holder a JWT made for the wrong channel.
    """
    if not current_app.config.get("SANDBOX_ENABLED", True) or not isinstance(header, dict):
        return None
    kid = header.get("kid")
    iss = payload.get("iss") if isinstance(payload, dict) else None
    info: dict[str, Any] = {"kid": kid if isinstance(kid, str) else None, "registered": False, "channel_id": None,
                            "iss": iss if isinstance(iss, str) else None}
    try:
        owner = routes.service().key_owner(kid)  # the store opens lazily, on this first use
    except Exception:  # the store down: say nothing rather than fail the page
        current_app.logger.warning("inspector: sandbox store unavailable")
        return None
    if owner is not None:
        info.update(registered=True, channel_id=owner)
    if not info["kid"]:
        info["message"] = gettext("The JWT has no kid, so the sandbox cannot tell which key signed it.")
    elif info["registered"] and info["iss"] and info["channel_id"] != info["iss"]:
        info["message"] = gettext("The kid %(kid)s is registered to sandbox channel %(channel)s, but the JWT's iss "
                                  "is %(iss)s: use channel %(channel)s as the channel ID.",
                                  kid=info["kid"], channel=info["channel_id"], iss=info["iss"])
    elif info["registered"]:
        info["message"] = gettext("The kid %(kid)s is registered to sandbox channel %(channel)s.",
                                  kid=info["kid"], channel=info["channel_id"])
    else:
        info["message"] = gettext("The sandbox knows no key with kid %(kid)s. If this JWT was made for a channel on "
                                  "the LINE Platform, send it to LINE; otherwise register your public key on the "
                                  "sandbox console and use the kid it shows.", kid=info["kid"])
    return info


def inspect_text(text: str, target: str | None = None, now: int | None = None) -> dict:
    """The inspection as a plain dict with messages in the user's language.

    Raises inspector.InspectError (translated by :func:`error_message`) for text that is no JWT or token.
    """
    now = int(time.time()) if now is None else now
    found = inspector.inspect(text, now)
    result = found.as_dict()
    result["kind_label"] = gettext(KIND_LABELS.get(found.kind, found.kind))
    result["problems"] = [{"field": f.field, "message": translate(f.template, f.params)} for f in found.findings]
    result["ok"] = found.ok
    # A token is only checked for its shape: the page says so rather than "No LINE rule broken".
    result["is_token"] = found.kind in (inspector.V21_TOKEN, inspector.OPAQUE_TOKEN, inspector.STATELESS_TOKEN)
    if found.expires_in is not None:
        result["expires_text"] = (gettext("expires in %(time)s", time=duration_text(found.expires_in))
                                  if found.expires_in > 0 else
                                  gettext("expired %(time)s ago", time=duration_text(found.expires_in)))
    payload = found.payload if isinstance(found.payload, dict) else {}
    token_exp = rules.whole_number(payload.get("token_exp")) if "token_exp" in payload else None
    if token_exp is not None and token_exp > 0:
        result["token_exp"] = token_exp
        result["token_exp_text"] = duration_text(token_exp)
    if target == "sandbox" and found.kind in (inspector.ASSERTION, inspector.OTHER_JWT):
        result["sandbox"] = sandbox_kid(found.header, found.payload)
    return result


def error_message(e: inspector.InspectError) -> str:
    return translate(e.template, e.params)


def try_inspect(text: str, target: str | None = None) -> dict | None:
    """The inspection of a JWT a result page sent, or None if it is no JWT (never raises)."""
    if not text:
        return None
    try:
        return inspect_text(text, target)
    except inspector.InspectError:
        return None


def summary(inspection: dict | None) -> str | None:
    """The first broken rule in one sentence, for a refused result's explanation; None if none."""
    if not inspection or not inspection.get("problems"):
        return None
    return display.join_sentences(*(p["message"] for p in inspection["problems"]))


@bp.route("/inspect", methods=["GET", "POST"])
def inspect_page():
    """Decode a JWT assertion or token here, nothing sent: claims, countdown, the rules it breaks."""
    if request.method == "GET":
        return render_template("inspect.html", values={}, errors={})
    data = request.get_json(silent=True) if request.is_json else request.form
    if request.is_json and not isinstance(data, dict):
        return json_error("invalid_request", gettext("Send a JSON object, e.g. {\"text\": \"eyJ...\"}."), 400)
    raw = data.get("text")
    target = data.get("target") if data.get("target") in ("line", "sandbox") else "line"
    values = {"target": target}
    if not isinstance(raw, str) or not raw.strip():
        message = gettext("Paste a JWT assertion or an access token to inspect.")
        return (json_error("invalid_request", message, 400, field="text") if request.is_json else
                (render_template("inspect.html", values=values, errors={"text": message}), 400))
    if len(raw) > MAX_TEXT:
        message = gettext("This is too long for a JWT or token: paste only the JWT or token.")
        return (json_error("invalid_request", message, 400, field="text") if request.is_json else
                (render_template("inspect.html", values=values, errors={"text": message}), 400))
    try:  # read as the CLI reads it (inspector.normalise): line breaks and "Bearer " go, spaces stay
        found = inspect_text(raw, target)
    except inspector.InspectError as e:
        message = error_message(e)
        return (json_error("invalid_request", message, 400, field="text") if request.is_json else
                (render_template("inspect.html", values=values, errors={"text": message}), 400))
    if request.is_json:
        return jsonify(found)
    return render_template("inspect.html", values=values, errors={}, found=found, now=int(time.time()))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(try_inspect, "inspect_jwt")
    app.add_template_global(duration_units, "duration_units")

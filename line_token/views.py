"""The home page and the two signing pages: key pair and JWT assertion.

Both pages answer people (form posts render HTML with the user's input kept
and the message beside the field) and scripts (JSON in, JSON out).
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask_babel import gettext

from . import signing
from .errors import json_error, translate_error
from .page_cache import render_page
from .signing import SigningError

bp = Blueprint("views", __name__)

TOKEN_EXP_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
MAX_UPLOAD = 64 * 1024

# Also shown by the browser-side signer (static/jwt.js).
FORM_MESSAGES = {
    "channel_id": signing.N_("The channel ID must be the channel's numeric ID, e.g. 1234567890 (see Basic settings in the LINE Developers Console)."),
    "token_exp_range": signing.N_("The token lifetime is %(value)s seconds; LINE allows 1 second to 30 days (2,592,000 seconds)."),
    "exp_minutes": signing.N_("The JWT lifetime is %(value)s minutes; LINE allows 1 to 30 minutes."),
}


def form_value(name: str, default: str = "") -> str:
    return (request.form.get(name) or default).strip()


def key_text(field: str = "private_key", file_field: str = "private_key_file") -> str:
    """The private key pasted in ``field``, or read from an uploaded file."""
    upload = request.files.get(file_field)
    if upload and upload.filename:
        data = upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise SigningError(field, signing.N_("The key file is too large: choose the JSON or PEM key file itself."))
        return data.decode("utf-8", "replace")
    return request.form.get(field, "")


def pretty(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)


# --------------------------------------------------------------------------- home


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says; answer with our icon."""
    return current_app.send_static_file("favicon.svg"), 200, {"Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"}


@bp.get("/")
def home():
    return render_page("home.html")


# --------------------------------------------------------------------------- keys


@bp.route("/oauth2/v2.1/keys", methods=["GET", "POST"])
def keys():
    """Make a key pair (in the browser by default; this POST is the no-JS path),
    convert a PEM key to JWK, or derive the public JWK from a private one."""
    if request.method == "GET":
        return render_page("keys.html", values={}, errors={})
    data = request.get_json(silent=True) if request.is_json else None
    if request.is_json and not isinstance(data, dict):
        return json_error("invalid_request", gettext("Send a JSON object, e.g. {\"action\": \"generate\"}."), 400)
    source = data if data is not None else request.form
    action = (source.get("action") or "generate")
    if not isinstance(action, str):
        action = ""
    values = {"pem": source.get("pem", "") if isinstance(source.get("pem", ""), str) else ""}
    try:
        if action == "generate":
            private, public = signing.generate_key_pair()
        elif action == "convert":
            pem = source.get("pem", "")
            if not isinstance(pem, str) or "-----BEGIN" not in pem:
                raise SigningError("pem", signing.N_("Paste a PEM private key, from -----BEGIN to -----END."))
            private, public = signing.pem_to_jwk(pem, "pem")
        elif action == "public":
            key = signing.load_private_key(source.get("private_key", ""), "private_key")
            private, public = signing.private_jwk(key, key.kid), signing.public_jwk(key)
            values["private_key"] = source.get("private_key", "") if not request.is_json else ""
        else:
            raise SigningError("action", signing.N_("action must be one of generate, convert or public."))
    except SigningError as e:
        if request.is_json:
            return json_error(e.code, translate_error(e), 400, field=e.field)
        return render_template("keys.html", values=values, errors={e.field: translate_error(e)}), 400
    if request.is_json:
        return jsonify({"private": private, "public": public})
    return render_template("keys.html", values=values, errors={}, private=pretty(private), public=pretty(public),
                           action=action)


# --------------------------------------------------------------------------- JWT


def _json_contract():
    """The 2020 tester's contract: {"header", "payload", "privatekey"} -> {"response_body": JWT}.

    Also takes the guided fields (channel_id, kid, private_key, token_exp, exp_minutes).
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error("invalid_request", gettext(
            "Send a JSON object: {\"header\": ..., \"payload\": ..., \"privatekey\": ...} or {\"channel_id\": ..., \"kid\": ..., \"private_key\": ...}."), 400)
    if "privatekey" in body or "header" in body or "payload" in body:
        key = signing.load_private_key(_required(body, "privatekey"), "privatekey")
        header = signing.parse_json_value(_required(body, "header"), "header")
        payload = signing.parse_json_value(_required(body, "payload"), "payload")
        if not isinstance(header, dict):
            raise SigningError("header", signing.N_("The header must be a JSON object like {\"alg\": \"RS256\", \"typ\": \"JWT\", \"kid\": \"...\"}."))
        token = signing.sign(header, payload, key)
    else:
        key = signing.load_private_key(_required(body, "private_key"), "private_key")
        token_exp = body.get("token_exp", signing.DEFAULT_TOKEN_EXP)
        exp_minutes = body.get("exp_minutes", 30)
        token = signing.build_assertion(
            _str(body.get("channel_id"), "channel_id"), _str(body.get("kid"), "kid"), key,
            _int_field(token_exp, "token_exp"), _int_field(exp_minutes, "exp_minutes") * 60)
    return jsonify({"response_body": token})


def _required(body: dict, name: str):
    value = body.get(name)
    if value is None or value == "":
        raise SigningError(name, signing.N_("%(field)s is missing: add it to the JSON body."), field=name)
    return value


def _str(value, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise SigningError(name, signing.N_("%(field)s must be text."), field=name)
    return value


def _int_field(value, name: str) -> int:
    return signing.whole_number(value, name)


def sign_from_form(values: dict) -> str:
    """Sign from the JWT form's fields (also used by the one-step proxy pages)."""
    key = signing.load_private_key(key_text(), "private_key")
    if values.get("mode") == "advanced":
        header = signing.parse_json_value(values.get("header", ""), "header")
        payload = signing.parse_json_value(values.get("payload", ""), "payload")
        if not isinstance(header, dict):
            raise SigningError("header", signing.N_("The header must be a JSON object like {\"alg\": \"RS256\", \"typ\": \"JWT\", \"kid\": \"...\"}."))
        return signing.sign(header, payload, key)
    unit = values.get("token_exp_unit") or "days"
    if unit not in TOKEN_EXP_UNITS:
        raise SigningError("token_exp_unit", signing.N_("Choose seconds, minutes, hours or days."))
    amount = _int_field(values.get("token_exp") or "30", "token_exp")
    token_exp = amount * TOKEN_EXP_UNITS[unit]
    if not 1 <= token_exp <= signing.MAX_TOKEN_EXP:
        raise SigningError("token_exp", FORM_MESSAGES["token_exp_range"], value=f"{token_exp:,}")
    exp_minutes = _int_field(values.get("exp_minutes") or "30", "exp_minutes")
    if not 1 <= exp_minutes <= 30:
        raise SigningError("exp_minutes", FORM_MESSAGES["exp_minutes"], value=exp_minutes)
    channel_id = values.get("channel_id", "")
    if not signing.is_channel_id(channel_id):
        raise SigningError("channel_id", FORM_MESSAGES["channel_id"])
    return signing.build_assertion(channel_id, values.get("kid", ""), key, token_exp, exp_minutes * 60)


def render_jwt_page(values: dict, errors: dict, status: int = 200, cached: bool = False, **result):
    """The JWT page, with the validation messages the in-browser signer shares.
    ``cached``: the blank form (GET), the same for everyone reading a language (page_cache.py)."""
    def messages() -> dict:
        return {"browser_messages": {name: gettext(text) for name, text in {**signing.MESSAGES, **FORM_MESSAGES}.items()}}

    if cached:
        return render_page("jwt.html", lazy=messages, values=values, errors=errors, **result), status
    return render_template("jwt.html", values=values, errors=errors, **messages(), **result), status


JWT_FIELDS = ("channel_id", "kid", "token_exp", "token_exp_unit", "exp_minutes", "mode", "header", "payload")


@bp.route("/oauth2/v2.1/jwt", methods=["GET", "POST"])
def jwt():
    if request.method == "POST" and request.is_json:
        return _json_contract()
    values = {"token_exp": "30", "token_exp_unit": "days", "exp_minutes": "30", "mode": "simple"}
    if request.method == "GET":
        return render_jwt_page(values, {}, cached=True)
    values.update({name: form_value(name) for name in JWT_FIELDS if name in request.form})
    values["private_key"] = request.form.get("private_key", "")
    try:
        token = sign_from_form(values)
    except SigningError as e:
        return render_jwt_page(values, {e.field: translate_error(e)}, 400)
    header, payload = signing.decode_unverified(token)
    return render_jwt_page(values, {}, token=token, header=pretty(header), payload=pretty(payload), claims=payload)


# --------------------------------------------------------------------------- helpers for templates


def isoformat(epoch) -> str:
    try:
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc).isoformat().replace("+00:00", "Z")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_filter(isoformat, "isoformat")

    @app.context_processor
    def helpers():
        def has_endpoint(name: str) -> bool:
            """True if the page exists and is on (the sandbox's pages are off with SANDBOX_ENABLED=0)."""
            if name.startswith("sandbox.") and not current_app.config.get("SANDBOX_ENABLED", True):
                return False
            return name in current_app.view_functions

        return {"has_endpoint": has_endpoint, "now": int(time.time())}

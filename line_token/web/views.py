"""The home page and the two signing pages: key pair and JWT assertion.

Both pages answer people (form posts render HTML with the user's input kept
and the message beside the field) and scripts (JSON in, JSON out).
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask_babel import gettext

from . import forms, security

from ..core import line_client, rules, signing
from ..core.display import pretty
from .errors import json_error, translate_error
from .forms import form_assertion, form_value
from .page_cache import render_page
from ..core.signing import InputError

bp = Blueprint("views", __name__)

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
        return json_error("invalid_request", gettext("Send a JSON object, e.g. {\"action\": \"generate\"}."), 400, field="body")
    source = data if data is not None else request.form
    action = (source.get("action") or "generate")
    if not isinstance(action, str):
        action = ""
    values = {"pem": source.get("pem", "") if isinstance(source.get("pem", ""), str) else ""}
    try:
        if action == "generate":
            refusal = security.keygen_wait()
            if refusal is not None:
                return _keygen_refused(refusal, values)
            private, public = off_the_event_loop(signing.generate_key_pair)
        elif action == "convert":
            pem = source.get("pem", "")
            if not isinstance(pem, str) or "-----BEGIN" not in pem:
                raise InputError("pem", signing.N_("Paste a PEM private key, from -----BEGIN to -----END."))
            private, public = signing.pem_to_jwk(pem, "pem")
        elif action == "public":
            key = signing.load_private_key(source.get("private_key", ""), "private_key")
            private, public = signing.private_jwk(key, key.kid), signing.public_jwk(key)
            values["private_key"] = source.get("private_key", "") if not request.is_json else ""
        else:
            raise InputError("action", signing.N_("action must be one of generate, convert or public."))
    except InputError as e:
        if request.is_json:
            return json_error(e.code, translate_error(e), 400, field=e.field)
        return render_template("keys.html", values=values, errors={e.field: translate_error(e)}), 400
    if request.is_json:
        return jsonify({"private": private, "public": public})
    return render_template("keys.html", values=values, errors={}, private=pretty(private), public=pretty(public),
                           action=action)


def _keygen_refused(refusal: tuple[int, str], values: dict):
    """429 for a client over KEYGEN_RATE_LIMIT, with when to retry and the ways that need no server."""
    wait, limit = refusal
    message = gettext("Too many key pairs generated from your address: this server makes %(limit)s. Try again in "
                      "%(seconds)d seconds, or generate the pair in your browser (with JavaScript on) or with the "
                      "command \"line-token keygen\".", limit=limit, seconds=wait)
    if request.is_json:
        response, status = json_error("too_many_requests", message, 429, field="action")
    else:
        response, status = render_template("keys.html", values=values, errors={"action": message}), 429
    return response, status, {"Retry-After": str(wait)}


_keygen_pool = None


def off_the_event_loop(function):
    """``function()``, run in a thread of its own when this process serves with gevent (gunicorn's gevent worker).

    RSA key generation takes 60-180 ms of CPU. On the event loop it held every other request of the worker that
    long (8 clients generating raised GET / from 2 ms to 402 ms); OpenSSL releases the GIL while it searches
    for primes, so in a thread the loop keeps serving. One thread per worker: a worker per CPU, so generations
    never take more than their CPU, and they do not queue in front of gevent's own pool (its DNS lookups).
    Without gevent (the development server, the tests' in-process client): a plain call.
    """
    import sys

    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return function()
    global _keygen_pool
    if _keygen_pool is None:
        from gevent.threadpool import ThreadPool

        _keygen_pool = ThreadPool(1)
    return _keygen_pool.apply(function)


# --------------------------------------------------------------------------- JWT


def _json_contract():
    """The 2020 tester's contract: {"header", "payload", "privatekey"} -> {"response_body": JWT}.

    Also takes the guided fields (channel_id, kid, private_key, token_exp, exp_minutes).
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error("invalid_request", gettext(
            "Send a JSON object: {\"header\": ..., \"payload\": ..., \"privatekey\": ...} or {\"channel_id\": ..., \"kid\": ..., \"private_key\": ...}."), 400,
            field="body")
    if "privatekey" in body or "header" in body or "payload" in body:
        key = signing.load_private_key(_required(body, "privatekey"), "privatekey")
        token = signing.assertion_from_json(_required(body, "header"), _required(body, "payload"), key)
    else:
        token = signing.assertion_from_fields(body)
    return jsonify({"response_body": token})


def _required(body: dict, name: str):
    value = body.get(name)
    if value is None or value == "":
        raise InputError(name, signing.N_("%(field)s is missing: add it to the JSON body."), field=name)
    return value


def sign_from_form(values: dict) -> str:
    """Sign from the JWT form's fields: guided, or a header and payload in advanced mode."""
    if values.get("mode") == "advanced":
        key = signing.load_private_key(forms.key_text(), "private_key")
        return signing.assertion_from_json(values.get("header", ""), values.get("payload", ""), key)
    return form_assertion(values)


def render_jwt_page(values: dict, errors: dict, status: int = 200, cached: bool = False, **result):
    """The JWT page, with the validation messages the in-browser signer shares.
    ``cached``: the blank form (GET), the same for everyone reading a language (page_cache.py)."""
    def messages() -> dict:
        # jwt.js takes its messages and LINE's bounds from the page: the rules table's, never a copy.
        browser = {name: gettext(text) for name, text in signing.MESSAGES.items()}
        browser["kid_channel"] = gettext(KID_CHANNEL)
        return {"browser_messages": browser, "line_rules": rules.browser_rules()}

    if cached:
        return render_page("jwt.html", lazy=messages, values=values, errors=errors, **result), status
    return render_template("jwt.html", values=values, errors=errors, **messages(), **result), status


JWT_FIELDS = ("channel_id", "kid", "token_exp", "token_exp_unit", "exp_minutes", "mode", "header", "payload", "target")
# The sandbox console of this tab registered the kid on another channel (static/jwt.js knows it; the server
# says the same when the token is issued: "iss and clientId of key do not match").
KID_CHANNEL = signing.N_("The kid %(kid)s was registered on channel %(channel)s (in this tab's sandbox console), "
                         "not on %(typed)s: use channel ID %(channel)s.")


@bp.route("/oauth2/v2.1/jwt", methods=["GET", "POST"])
def jwt():
    if request.method == "POST" and request.is_json:
        return _json_contract()
    values = {"token_exp": "1", "token_exp_unit": "days", "exp_minutes": "30", "mode": "simple"}  # 1 day: see signing.DEFAULT_TOKEN_EXP
    if request.method == "GET":
        return render_jwt_page(values, {}, cached=True)
    values.update({name: form_value(name) for name in JWT_FIELDS if name in request.form})
    values["private_key"] = request.form.get("private_key", "")
    if values.get("target") not in ("line", "sandbox"):
        values.pop("target", None)  # carried to the next step's form only when it is one of the two
    if request.form.get("prefill") == "1":
        # Arrived from the sandbox console's "Next" (no JavaScript): fill the form, sign nothing yet.
        return render_jwt_page(values, {})
    try:
        token = sign_from_form(values)
    except InputError as e:
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
            if name.startswith("sandbox.") and not line_client.sandbox_enabled():
                return False
            return name in current_app.view_functions

        return {"has_endpoint": has_endpoint, "now": int(time.time())}

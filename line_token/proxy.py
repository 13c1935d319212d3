"""The proxy pages: issue, list, verify and revoke tokens at LINE or the sandbox.

Each page mirrors LINE's path and answers three ways: ``GET`` shows the form,
a form post renders LINE's answer as HTML, and a JSON post answers with the
2020 tester's envelope ``{"response_status_code", "response_body"}`` (HTTP 200
whenever LINE answered, whatever LINE's status). Our own input errors are 4xx
naming the field; LINE unreachable or too slow is 502 or 504 (LineAPIError).

All requests go through :mod:`line_client`, for both targets.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask_babel import gettext

from . import line_client
from . import signing
from . import views
from .errors import json_error, translate_error, wants_json
from .line_client import ASSERTION_TYPE, GRANT_TYPE, LineAPIError, LineResponse
from .signing import N_, SigningError

bp = Blueprint("proxy", __name__)

MAX_FIELD = 16 * 1024  # a JWT or token is under 2 KiB; more is a paste gone wrong
ONE_STEP_FIELDS = ("channel_id", "kid", "token_exp", "token_exp_unit", "exp_minutes")
_WHITESPACE = re.compile(r"\s+")


# --------------------------------------------------------------------------- reading input


class Source:
    """The posted fields, from a form or a JSON object, read with field-naming errors."""

    def __init__(self, data: Any, is_json: bool):
        self.data = data
        self.is_json = is_json

    def has(self, name: str) -> bool:
        value = self.data.get(name)
        return value is not None and value != ""

    def text(self, name: str, default: str = "", *, required: str | None = None, compact: bool = False) -> str:
        """The field as stripped text; ``required`` is the message when it is missing.

        ``compact`` drops all whitespace: tokens and JWTs never hold any, and a
        pasted one is often wrapped over lines.
        """
        value = self.data.get(name)
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise SigningError(name, N_("%(field)s must be text."), field=name)
        value = str(value)
        if len(value) > MAX_FIELD:
            raise SigningError(name, N_("%(field)s is too long: paste only the value asked for."), field=name)
        value = _WHITESPACE.sub("", value) if compact else value.strip()
        if not value:
            if required:
                raise SigningError(name, required)
            return default
        return value


def _source() -> Source:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise SigningError("body", N_("Send a JSON object with the fields named in the README, e.g. "
                                          "{\"access_token\": \"...\", \"target\": \"sandbox\"}."))
        return Source(body, True)
    return Source(request.form, False)


def _target(src: Source) -> str:
    target = src.text("target", "line")
    if target not in line_client.TARGETS:
        raise SigningError("target", N_("target must be \"line\" or \"sandbox\"."))
    if target == "sandbox" and not current_app.config.get("SANDBOX_ENABLED", True):
        raise SigningError("target", N_("The sandbox is turned off on this server (SANDBOX_ENABLED=0): choose the "
                                        "LINE Platform as the target."))
    return target


ASSERTION_MISSING = N_("Paste a JWT assertion, or fill in the channel ID, kid and private key to sign one here.")


def _assertion(src: Source) -> tuple[str, bool]:
    """The client assertion given, or one signed here from the one-step fields: (JWT, signed_here)."""
    given = src.text("client_assertion", compact=True)
    if given:
        return given, False
    if src.is_json:
        if not any(src.has(n) for n in ("private_key", "channel_id", "kid")):
            raise SigningError("client_assertion", ASSERTION_MISSING)
        key = signing.load_private_key(src.data.get("private_key") or "", "private_key")
        channel_id = src.text("channel_id", required=N_("Enter the channel ID (Basic settings in the LINE "
                                                         "Developers Console), or send client_assertion."))
        if not signing.is_channel_id(channel_id):
            raise SigningError("channel_id", views.FORM_MESSAGES["channel_id"])
        token_exp = _whole_number(src, "token_exp", signing.DEFAULT_TOKEN_EXP)
        exp_minutes = _whole_number(src, "exp_minutes", 30)
        if not 1 <= exp_minutes <= 30:
            raise SigningError("exp_minutes", views.FORM_MESSAGES["exp_minutes"], value=exp_minutes)
        return signing.build_assertion(channel_id, src.text("kid"), key, token_exp, exp_minutes * 60), True
    upload = request.files.get("private_key_file")
    if not (src.has("private_key") or src.has("channel_id") or (upload and upload.filename)):
        raise SigningError("client_assertion", ASSERTION_MISSING)
    values = {name: src.text(name) for name in ONE_STEP_FIELDS}
    values["mode"] = "simple"
    return views.sign_from_form(values), True


def _whole_number(src: Source, name: str, default: int) -> int:
    return signing.whole_number(src.data.get(name), name, default)


# --------------------------------------------------------------------------- what each page sends


@dataclass
class Call:
    """One request to LINE, built from the input, plus what the result page needs to know."""

    endpoint: str
    fields: dict[str, str]
    signed_assertion: str = ""  # the JWT signed here in one-step mode


def build_issue(src: Source) -> Call:
    assertion, signed = _assertion(src)
    return Call("issue_v21", {
        "grant_type": src.text("grant_type", GRANT_TYPE),
        "client_assertion_type": src.text("client_assertion_type", ASSERTION_TYPE),
        "client_assertion": assertion,
    }, assertion if signed else "")


def build_kids(src: Source) -> Call:
    assertion, signed = _assertion(src)
    return Call("kids_v21", {
        "client_assertion_type": src.text("client_assertion_type", ASSERTION_TYPE),
        "client_assertion": assertion,
    }, assertion if signed else "")


TOKEN_MISSING = N_("Paste the access token.")
CHANNEL_ID_MISSING = N_("Enter the channel ID (the numeric ID under Basic settings in the LINE Developers Console).")
SECRET_MISSING = N_("Enter the channel secret (Basic settings in the LINE Developers Console).")


def build_verify(src: Source) -> Call:
    return Call("verify_v21", {"access_token": src.text("access_token", required=TOKEN_MISSING, compact=True)})


def build_revoke(src: Source) -> Call:
    return Call("revoke_v21", {
        "client_id": src.text("client_id", required=CHANNEL_ID_MISSING),
        "client_secret": src.text("client_secret", required=SECRET_MISSING),
        "access_token": src.text("access_token", required=TOKEN_MISSING, compact=True),
    })


def stateless_variant(src: Source) -> str:
    """``secret`` (client ID + secret) or ``assertion`` (JWT, or signed here)."""
    variant = src.text("variant")
    if variant:
        if variant not in ("assertion", "secret"):
            raise SigningError("variant", N_("variant must be \"assertion\" or \"secret\"."))
        return variant
    return "secret" if src.has("client_secret") else "assertion"


def build_stateless(src: Source) -> Call:
    grant_type = src.text("grant_type", GRANT_TYPE)
    if stateless_variant(src) == "secret":
        return Call("issue_stateless", {
            "grant_type": grant_type,
            "client_id": src.text("client_id", required=CHANNEL_ID_MISSING),
            "client_secret": src.text("client_secret", required=SECRET_MISSING),
        })
    assertion, signed = _assertion(src)
    return Call("issue_stateless", {
        "grant_type": grant_type,
        "client_assertion_type": src.text("client_assertion_type", ASSERTION_TYPE),
        "client_assertion": assertion,
    }, assertion if signed else "")


def build_issue_v2(src: Source) -> Call:
    return Call("issue_v2", {
        "grant_type": src.text("grant_type", GRANT_TYPE),
        "client_id": src.text("client_id", required=CHANNEL_ID_MISSING),
        "client_secret": src.text("client_secret", required=SECRET_MISSING),
    })


def build_verify_v2(src: Source) -> Call:
    return Call("verify_v2", {"access_token": src.text("access_token", required=TOKEN_MISSING, compact=True)})


def build_revoke_v2(src: Source) -> Call:
    return Call("revoke_v2", {"access_token": src.text("access_token", required=TOKEN_MISSING, compact=True)})


@dataclass
class Page:
    """A proxy page: its template, the form fields it keeps on re-render, and its request builder."""

    template: str
    build: Callable[[Source], Call]
    fields: tuple[str, ...]
    defaults: dict[str, str] = field(default_factory=dict)
    section: str = ""  # which form of the "other token types" page


ASSERTION_FIELDS = ("client_assertion", "grant_type", "client_assertion_type", "private_key", *ONE_STEP_FIELDS)
ONE_STEP_DEFAULTS = {"grant_type": GRANT_TYPE, "client_assertion_type": ASSERTION_TYPE,
                     "token_exp": "30", "token_exp_unit": "days", "exp_minutes": "30"}

PAGES: dict[str, Page] = {
    "token": Page("proxy/token.html", build_issue, ASSERTION_FIELDS, ONE_STEP_DEFAULTS),
    "tokens": Page("proxy/tokens.html", build_kids, ASSERTION_FIELDS, ONE_STEP_DEFAULTS),
    "verify": Page("proxy/verify.html", build_verify, ("access_token",)),
    "revoke": Page("proxy/revoke.html", build_revoke, ("client_id", "client_secret", "access_token")),
    "stateless": Page("proxy/other.html", build_stateless, (*ASSERTION_FIELDS, "variant", "client_id", "client_secret"),
                      {**ONE_STEP_DEFAULTS, "variant": "assertion"}, "stateless"),
    "issue_v2": Page("proxy/other.html", build_issue_v2, ("grant_type", "client_id", "client_secret"),
                     {"grant_type": GRANT_TYPE}, "issue_v2"),
    "verify_v2": Page("proxy/other.html", build_verify_v2, ("access_token",), {}, "verify_v2"),
    "revoke_v2": Page("proxy/other.html", build_revoke_v2, ("access_token",), {}, "revoke_v2"),
}


# --------------------------------------------------------------------------- handling a page


def handle(name: str):
    """GET → form; JSON POST → envelope; form POST → HTML result (or the form with errors)."""
    page = PAGES[name]
    if request.method == "GET":
        return _render(page, dict(page.defaults), {})
    if request.is_json:
        src = _source()  # SigningError → errors.py answers 400 JSON naming the field
        target = _target(src)
        built = page.build(src)
        response = line_client.call(built.endpoint, built.fields, target)  # LineAPIError → 502/504
        return jsonify({"response_status_code": response.status_code, "response_body": response.body})

    src = _source()
    values = dict(page.defaults)
    values.update({n: request.form.get(n, "").strip() for n in (*page.fields, "target") if n in request.form})
    if "private_key" in request.form:
        values["private_key"] = request.form.get("private_key", "")  # keep a PEM's line breaks
    if request.form.get("prefill") == "1":
        # Arrived from another page's "next step" button: fill the form, don't call LINE yet.
        return _render(page, values, {})
    try:
        target = _target(src)
        built = page.build(src)
    except SigningError as e:
        return _render(page, values, {e.field: translate_error(e)}), 400
    try:
        response = line_client.call(built.endpoint, built.fields, target)
    except LineAPIError as e:
        errors = {e.field: translate_line_error(e)} if e.field else {}
        return _render(page, values, errors, upstream_error=e, upstream_message=translate_line_error(e)), e.status
    return _render(page, values, {}, result=result_view(response, built))


def _render(page: Page, values: dict, errors: dict, **context):
    return render_template(page.template, values=values, errors=errors, section=page.section, **context)


def translate_line_error(e: LineAPIError) -> str:
    """The LineAPIError's message in the user's language."""
    template = gettext(e.template)
    params = {k: gettext(v) if isinstance(v, str) else v for k, v in e.params.items()}
    try:
        return template % params if params else template
    except (KeyError, ValueError, TypeError):
        return e.description


# --------------------------------------------------------------------------- the result page


@dataclass
class Result:
    """What a result page shows: the request as sent (masked), LINE's answer and next steps."""

    response: LineResponse
    display_url: str
    fields_masked: dict[str, str]
    body_text: str
    explanation: str | None
    curl_masked: str
    curl_full: str
    has_secrets: bool
    signed_assertion: str
    now: int

    @property
    def body(self) -> Any:
        return self.response.body

    @property
    def ok(self) -> bool:
        return self.response.ok

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default) if isinstance(self.body, dict) else default


def result_view(response: LineResponse, built: Call) -> Result:
    if response.target == "sandbox":
        # What a person can call with curl: the sandbox's public address on this server.
        from . import sandbox  # its own origin when SANDBOX_PORT/HOST is set

        display_url = sandbox.public_base_url() + response.path
    else:
        display_url = response.url
    body = response.body
    if body == "":
        body_text = ""
    elif isinstance(body, str):
        body_text = body
    else:
        body_text = views.pretty(body)
    hint = None if response.ok else line_client.explain(response.status_code, body)
    return Result(
        response=response, display_url=display_url, fields_masked=line_client.masked(response.fields),
        body_text=body_text, explanation=gettext(hint) if hint else None,
        curl_masked=line_client.curl_command(response.method, display_url, response.fields),
        curl_full=line_client.curl_command(response.method, display_url, response.fields, include_secrets=True),
        has_secrets=any(k in line_client.SECRET_FIELDS and v for k, v in response.fields.items()),
        signed_assertion=built.signed_assertion, now=int(time.time()))


def channel_of(assertion: str) -> str:
    """The channel ID (iss) in a JWT, for prefilling the revoke form; "" if unreadable."""
    try:
        _, payload = signing.decode_unverified(assertion)
    except SigningError:
        return ""
    iss = payload.get("iss")
    return iss if signing.is_channel_id(iss) else ""


# --------------------------------------------------------------------------- routes


@bp.route("/oauth2/v2.1/token", methods=["GET", "POST"])
def token():
    """Issue a channel access token v2.1 (POST /oauth2/v2.1/token at LINE)."""
    return handle("token")


@bp.route("/oauth2/v2.1/tokens", methods=["GET", "POST"])
def tokens():
    """List the key IDs of a channel's valid v2.1 tokens (GET /oauth2/v2.1/tokens/kid at LINE)."""
    return handle("tokens")


@bp.route("/oauth2/v2.1/verify", methods=["GET", "POST"])
def verify():
    """Verify a v2.1 token (GET /oauth2/v2.1/verify at LINE)."""
    return handle("verify")


@bp.route("/oauth2/v2.1/revoke", methods=["GET", "POST"])
def revoke():
    """Revoke a v2.1 token (POST /oauth2/v2.1/revoke at LINE)."""
    return handle("revoke")


@bp.get("/other-tokens")
def other():
    """The other token types side by side: stateless and short-lived, with links to each form."""
    return render_template("proxy/other.html", values={}, errors={}, section="")


@bp.route("/oauth2/v3/token", methods=["GET", "POST"])
def stateless():
    """Issue a stateless token (POST /oauth2/v3/token at LINE), by JWT or by channel secret."""
    return handle("stateless")


@bp.route("/v2/oauth/accessToken", methods=["GET", "POST"])
def issue_v2():
    """Issue a short-lived token (POST /v2/oauth/accessToken at LINE)."""
    return handle("issue_v2")


@bp.route("/v2/oauth/verify", methods=["GET", "POST"])
def verify_v2():
    """Verify a short-lived or long-lived token (POST /v2/oauth/verify at LINE)."""
    return handle("verify_v2")


@bp.route("/v2/oauth/revoke", methods=["GET", "POST"])
def revoke_v2():
    """Revoke a short-lived or long-lived token (POST /v2/oauth/revoke at LINE)."""
    return handle("revoke_v2")


def init_app(app: Flask) -> None:
    """Register the pages and the answer for LINE being unreachable or slow."""
    app.register_blueprint(bp)
    app.add_template_global(channel_of, "channel_of")

    @app.errorhandler(LineAPIError)
    def line_api_error(e: LineAPIError):
        message = translate_line_error(e)
        if wants_json():
            extra = {"field": e.field} if e.field else {}
            return json_error(e.code, message, e.status, **extra)
        titles = {502: gettext("LINE could not be reached"), 504: gettext("LINE did not answer in time")}
        return render_template("errors/http.html", code=e.status, title=titles.get(e.status, gettext("Bad input")),
                               message=message), e.status

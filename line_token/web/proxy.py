"""The proxy pages: issue, list, verify and revoke tokens at LINE or the sandbox.

Each page mirrors LINE's path and answers three ways: ``GET`` shows the form,
a form post renders LINE's answer as HTML, and a JSON post answers with the
2020 tester's envelope ``{"response_status_code", "response_body"}`` (HTTP 200
whenever LINE answered, whatever LINE's status). Our own input errors are 4xx
naming the field; LINE unreachable or too slow is 502 or 504 (LineAPIError).

All requests go through :mod:`line_client`, for both targets.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Flask, jsonify, render_template, request
from flask_babel import gettext

from ..core import display, endpoints, line_client, signing, snippets

from . import inspect_web

from ..sandbox import routes as sandbox
from .errors import json_error, translate, translate_error, wants_json
from .forms import form_assertion, has_key_upload
from ..core.line_client import LineAPIError, LineResponse, request_fields
from ..core.fields import Source
from ..core.signing import N_, InputError

bp = Blueprint("proxy", __name__)

ONE_STEP_FIELDS = ("channel_id", "kid", "token_exp", "token_exp_unit", "exp_minutes")
MAX_V21_TOKENS = 30  # LINE: a channel holds at most 30 valid v2.1 tokens


# --------------------------------------------------------------------------- reading input


def _source() -> Source:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InputError("body", N_("Send a JSON object with the fields named in the README, e.g. "
                                          "{\"access_token\": \"...\", \"target\": \"sandbox\"}."))
        return Source(body, True)
    return Source(request.form, False)


def _target(src: Source) -> str:
    return line_client.check_target(src.text("target", "line"))


ASSERTION_MISSING = N_("Paste a JWT assertion, or fill in the channel ID, kid and private key to sign one here.")


def _assertion(src: Source) -> tuple[str, bool]:
    """The client assertion given, or one signed here from the guided fields: (JWT, signed_here)."""
    given = src.text("client_assertion", compact=True)
    if given:
        return given, False
    if not (any(src.has(n) for n in ("private_key", "channel_id", "kid")) or (not src.is_json and has_key_upload())):
        raise InputError("client_assertion", ASSERTION_MISSING)
    if src.is_json:
        return signing.assertion_from_fields(src.data), True
    return form_assertion(src.data), True


# --------------------------------------------------------------------------- what each page sends


@dataclass
class Call:
    """One request to LINE, built from the input, plus what the result page needs to know."""

    endpoint: str
    fields: dict[str, str]
    signed_assertion: str = ""  # the JWT signed here in one-step mode


TOKEN_MISSING = N_("Paste the access token.")
CHANNEL_ID_MISSING = N_("Enter the channel ID (the numeric ID under Basic settings in the LINE Developers Console).")
SECRET_MISSING = N_("Enter the channel secret (Basic settings in the LINE Developers Console).")


BEARER_PASTED = N_("Drop \"Bearer \" from the start: paste only the token that follows it (the Authorization "
                   "header's value without its first word).")


def _token(src: Source) -> str:
    """The pasted token; "Bearer eyJ…" copied from an Authorization header is refused with the fix."""
    token = src.text("access_token", missing=TOKEN_MISSING, compact=True)
    if token[:6].lower() == "bearer" and len(token) > 6:
        raise InputError("access_token", BEARER_PASTED)
    return token


# How the pages read each of LINE's fields (the registry lists which an endpoint takes); any other is plain text.
READERS: dict[str, Callable[[Source], str]] = {
    "access_token": _token,
    "client_id": lambda src: src.text("client_id", missing=CHANNEL_ID_MISSING),
    "client_secret": lambda src: src.text("client_secret", missing=SECRET_MISSING),
}


def stateless_variant(src: Source) -> str:
    """``secret`` (client ID + secret) or ``assertion`` (JWT, or signed here)."""
    variant = src.text("variant")
    if variant:
        if variant not in ("assertion", "secret"):
            raise InputError("variant", N_("variant must be \"assertion\" or \"secret\"."))
        return variant
    return "secret" if src.has("client_secret") else "assertion"


def build(endpoint: str, src: Source) -> Call:
    """The request to ``endpoint`` from the page's input: the fields the registry lists, in LINE's order (for
    the stateless page, those of the way the user chose to authenticate); a JWT signed here when asked."""
    described = endpoints.get(endpoint)
    auth = described.authenticated_by[0]
    if len(described.auth) > 1 and stateless_variant(src) == "secret":
        auth = endpoints.CLIENT_SECRET
    values: dict[str, str] = {}
    signed_assertion = ""
    for name in described.sends(auth):
        if name == "client_assertion":
            values[name], signed = _assertion(src)
            signed_assertion = values[name] if signed else ""
        else:
            values[name] = READERS[name](src) if name in READERS else src.text(name)
    return Call(endpoint, request_fields(endpoint, **values), signed_assertion)


@dataclass
class Page:
    """A proxy page: its template, the registry's endpoint it calls, and where it is (LINE's path unless given)."""

    template: str
    endpoint: str
    section: str = ""  # which form of the "other token types" page
    path: str = ""

    @property
    def described(self) -> endpoints.Endpoint:
        return endpoints.get(self.endpoint)

    @property
    def signs(self) -> bool:
        """True when the page takes a JWT assertion, so it can also sign one here (one-step mode)."""
        return endpoints.ASSERTION in self.described.authenticated_by

    @property
    def fields(self) -> tuple[str, ...]:
        """The form fields the page keeps on re-render: LINE's, and the one-step and variant fields."""
        extra = ("private_key", *ONE_STEP_FIELDS) if self.signs else ()
        return (*self.described.field_names, *extra, *(("variant",) if len(self.described.auth) > 1 else ()))

    @property
    def defaults(self) -> dict[str, str]:
        values = {f.name: f.default for f in self.described.fields if f.default}
        if self.signs:
            values.update(ONE_STEP_DEFAULTS)
        if len(self.described.auth) > 1:
            values["variant"] = "assertion"
        return values

    def build(self, src: Source) -> Call:
        return build(self.endpoint, src)


ONE_STEP_DEFAULTS = {"token_exp": "1", "token_exp_unit": "days", "exp_minutes": "30"}

PAGES: dict[str, Page] = {
    "token": Page("proxy/token.html", "issue_v21"),
    # LINE's GET /oauth2/v2.1/tokens/kid lists the valid tokens' key IDs: the page is the list of tokens.
    "tokens": Page("proxy/tokens.html", "kids_v21", path="/oauth2/v2.1/tokens"),
    "verify": Page("proxy/verify.html", "verify_v21"),
    "revoke": Page("proxy/revoke.html", "revoke_v21"),
    "stateless": Page("proxy/other.html", "issue_stateless", "stateless"),
    "issue_v2": Page("proxy/other.html", "issue_v2", "issue_v2"),
    "verify_v2": Page("proxy/other.html", "verify_v2", "verify_v2"),
    "revoke_v2": Page("proxy/other.html", "revoke_v2", "revoke_v2"),
}


# --------------------------------------------------------------------------- handling a page


def handle(name: str):
    """GET → form; JSON POST → envelope; form POST → HTML result (or the form with errors)."""
    page = PAGES[name]
    if request.method == "GET":
        return _render(page, dict(page.defaults), {})
    if request.is_json:
        src = _source()  # InputError → errors.py answers 400 JSON naming the field
        target = _target(src)
        built = page.build(src)
        response = line_client.call(built.endpoint, built.fields, target)  # LineAPIError → 502/504
        envelope = {"response_status_code": response.status_code, "response_body": response.body}
        if response.body_note:  # an over-complex answer, kept as text and cut (line_client.parse_body)
            envelope["response_body_note"] = gettext(response.body_note[0], **response.body_note[1])
        return jsonify(envelope)

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
    except InputError as e:
        return _render(page, values, {e.field: translate_error(e)}), 400
    try:
        response = line_client.call(built.endpoint, built.fields, target)
    except LineAPIError as e:
        errors = {e.field: translate(e.template, e.params)} if e.field else {}
        return _render(page, values, errors, upstream_error=e, upstream_message=translate(e.template, e.params)), e.status
    return _render(page, values, {}, result=result_view(response, built))


def _render(page: Page, values: dict, errors: dict, **context):
    return render_template(page.template, values=values, errors=errors, section=page.section, **context)


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
    inspection: dict | None = None  # the client_assertion decoded (inspect_web), if one was sent
    slots: int | None = None  # after an issue: how many of the channel's 30 v2.1 slots are in use
    snippets: dict | None = None  # the same request as Python / Node code and a .env line (snippets.py)

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
        # What a person can call with curl: the sandbox's public address (its own origin when configured).
        display_url = sandbox.public_base_url() + response.path
    else:
        display_url = response.url
    body = response.body
    if body == "":
        body_text = ""
    elif isinstance(body, str):
        body_text = body
    else:
        body_text = display.pretty(body)
    hint = None if response.ok else display.explain(response.status_code, body)
    explanation = gettext(hint) if hint else None
    assertion = response.fields.get("client_assertion", "")
    inspection = inspect_web.try_inspect(assertion, response.target) if assertion else None
    if not response.ok and inspection:
        # We hold the JWT: say which rule it breaks and by how much, not LINE's "past or too far ahead".
        precise = inspect_web.summary(inspection)
        if response.status_code == 404:
            # No key for this kid: name the kid the JWT carries and, on the sandbox, what it knows of it.
            kid = (inspection.get("header") or {}).get("kid")
            named = gettext("The JWT's kid is %(kid)s.", kid=kid) if isinstance(kid, str) and kid else None
            sandbox_note = (inspection.get("sandbox") or {}).get("message")
            # On the sandbox, what it knows of the kid replaces LINE's generic advice (which names LINE's
            # console): one explanation, not the same one twice.
            explanation = (display.join_sentences(named, sandbox_note) if sandbox_note else
                           display.join_sentences(explanation, named))
        elif precise:
            explanation = precise
            if (inspection.get("expires_in") or 0) > 0 and any(
                    p.get("field") == "payload.exp" for p in inspection.get("problems") or []):
                explanation = display.join_sentences(precise, gettext(EXP_TOO_FAR_FIX))
    code = snippets.for_request(built.endpoint, display_url, response.fields, response.body)
    slots = None
    if response.ok and built.endpoint == "issue_v21" and assertion:
        slots = slots_in_use(assertion, response.target)
    return Result(
        response=response, display_url=display_url, fields_masked=display.masked(response.fields),
        body_text=body_text, explanation=explanation,
        # By default secret-free: the secrets come from the environment (snippets.env_note says which).
        curl_masked=code["curl"][0] if code else display.curl_command(response.method, display_url, response.fields),
        curl_full=display.curl_command(response.method, display_url, response.fields, include_secrets=True),
        has_secrets=any(k in display.SECRET_FIELDS and v for k, v in response.fields.items()),
        signed_assertion=built.signed_assertion, now=int(time.time()), inspection=inspection, slots=slots,
        snippets=code)


# How to fix an exp too far ahead, after the inspector said by how much.
EXP_TOO_FAR_FIX = N_("Sign a new JWT that expires at most 30 minutes from now: on the JWT page (or in the one-step "
                     "fields) set \"JWT lifetime in minutes (exp)\" to 30 or less; if you set exp yourself, use the "
                     "current UNIX time plus at most 1800. If it already is, check that this computer's clock is right.")


def slots_in_use(assertion: str, target: str) -> int | None:
    """How many v2.1 tokens the channel holds now (LINE's /tokens/kid with the same JWT); None if unknown."""
    try:
        answer = line_client.call("kids_v21", request_fields("kids_v21", client_assertion=assertion), target)
    except LineAPIError:
        return None
    kids = answer.body.get("kids") if answer.ok and isinstance(answer.body, dict) else None
    return len(kids) if isinstance(kids, list) else None


def channel_of(assertion: str) -> str:
    """The channel ID (iss) in a JWT, for prefilling the revoke form; "" if unreadable."""
    try:
        _, payload = signing.decode_unverified(assertion)
    except InputError:
        return ""
    iss = payload.get("iss")
    return iss if signing.is_channel_id(iss) else ""


# --------------------------------------------------------------------------- routes


@bp.get("/other-tokens")
def other():
    """The other token types side by side: stateless and short-lived, with links to each form."""
    return render_template("proxy/other.html", values={}, errors={}, section="")


# Each page at its endpoint's path (registry), named for url_for as PAGES names it (proxy.token, proxy.tokens …).
for _name, _page in PAGES.items():
    bp.add_url_rule(_page.path or _page.described.path, _name, lambda _name=_name: handle(_name),
                    methods=["GET", "POST"])


def init_app(app: Flask) -> None:
    """Register the pages and the answer for LINE being unreachable or slow."""
    app.register_blueprint(bp)
    app.add_template_global(channel_of, "channel_of")

    @app.errorhandler(LineAPIError)
    def line_api_error(e: LineAPIError):
        message = translate(e.template, e.params)
        if wants_json():
            extra = {"field": e.field} if e.field else {}
            return json_error(e.code, message, e.status, **extra)
        titles = {502: gettext("LINE could not be reached"), 504: gettext("LINE did not answer in time")}
        return render_template("errors/http.html", code=e.status, title=titles.get(e.status, gettext("Bad input")),
                               message=message), e.status

"""Step 6, "Try the token": ask the Messaging API whether a channel access token works.

Three read-only calls (docs/line-api.md §10), each with only
``Authorization: Bearer <token>``: ``GET /v2/bot/info``, ``GET /v2/bot/message/quota``
and ``GET /v2/bot/message/quota/consumption``. Like the other proxy pages, each
path answers three ways: ``GET`` shows the form, a form post runs all three calls
and shows the bot, its quota and its consumption, and a JSON post answers that
path's call in the proxy envelope ``{"response_status_code", "response_body"}``
plus ``token_works`` and, for a 401, ``reason`` (``no_header``, ``malformed``,
``invalid``) and ``explanation``.

The token travels in a form or JSON body to us and in the Authorization header
to the chosen target; never in a URL, a log line or storage. The functions here
(:func:`read_token`, :func:`try_token`, :func:`inspect_token`, :func:`snippets`)
are what the CLI's ``bot`` commands use too.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template, request
from flask_babel import gettext

from ..core import display, endpoints, inspector, line_client

from . import proxy

from ..sandbox import routes as sandbox
from ..core import snippets as take_home
from .errors import translate, translate_error

from ..core.line_client import LineAPIError, LineResponse
from ..core.fields import read_token
from ..core.signing import SigningError

bp = Blueprint("trying", __name__)

# The Messaging API's three read calls, in the order they are tried (core/endpoints.py).
CALLS = endpoints.BEARER_ENDPOINTS


# --------------------------------------------------------------------------- reading the token


@dataclass
class TokenView:
    """What the token itself says, without asking anyone: its shape and, for a JWT, header and claims."""

    kind: str  # "jws" (three dot-separated parts: v2.1 or stateless) or "opaque" (short-lived, long-lived)
    header: dict | None = None
    claims: dict | None = None

    @property
    def header_text(self) -> str:
        return display.pretty(self.header) if self.header is not None else ""

    @property
    def claims_text(self) -> str:
        return display.pretty(self.claims) if self.claims is not None else ""


def inspect_token(token: str) -> TokenView:
    """Decode a JWT-shaped token's header and claims for display (the signature is not checked), with the
    inspector ``line-token inspect`` and the inspector page use."""
    try:
        found = inspector.inspect(token)
    except inspector.InspectError:
        return TokenView("jws" if token.count(".") == 2 else "opaque")
    return TokenView("opaque" if found.kind == inspector.OPAQUE_TOKEN else "jws", found.header, found.payload)


# --------------------------------------------------------------------------- calling


@dataclass
class Attempt:
    """The three answers (quota calls only when the token worked) and what they mean."""

    token: str
    target: str
    answers: dict[str, LineResponse] = field(default_factory=dict)

    @property
    def info(self) -> LineResponse:
        return self.answers["bot_info"]

    @property
    def works(self) -> bool:
        return all(r.ok for r in self.answers.values())

    @property
    def reason(self) -> str | None:
        """``no_header``, ``malformed`` or ``invalid`` when the token was refused with a 401."""
        for response in self.answers.values():
            reason = display.bearer_reason(response.status_code, response.body)
            if reason:
                return reason
        return None

    def body(self, endpoint: str, key: str, default: Any = None) -> Any:
        response = self.answers.get(endpoint)
        return response.body.get(key, default) if response and isinstance(response.body, dict) else default


def try_token(token: str, target: str, app: Flask | None = None) -> Attempt:
    """Call GET /v2/bot/info and, when it answers 2xx, the two quota calls. LineAPIError if no answer."""
    attempt = Attempt(token, target)
    for endpoint in CALLS:
        attempt.answers[endpoint] = line_client.call(endpoint, {}, target, app=app, bearer=token)
        if not attempt.answers[endpoint].ok:
            break  # the token was refused: asking again tells nothing new
    return attempt


# --------------------------------------------------------------------------- snippets


def public_base(target: str) -> str:
    """The base URL a person's own code calls: LINE's, or this server's /sandbox."""
    if target == "sandbox":
        return sandbox.public_base_url()  # its own origin when one is configured (LINE's Node SDK needs that)
    return line_client.base_url("line")


def snippets(token: str, target: str, base: str, include_secrets: bool) -> dict[str, str]:
    """The same three calls as curl, Python SDK and Node SDK (an ES module) code, each runnable as copied:
    the token as sent, or (default) read from LINE_CHANNEL_ACCESS_TOKEN (snippets.env_note says so)."""
    urls = [base + endpoints.get(e).path for e in CALLS]
    if include_secrets:
        curl = "\n".join(display.curl_command("GET", url, {}, True, bearer=token) for url in urls)
        py_token, js_token = json.dumps(token), json.dumps(token)
    else:
        curl = "\n".join(f"curl -sS -G {shlex.quote(url)} \\\n  -H \"Authorization: Bearer ${take_home.ENV_TOKEN}\""
                         for url in urls)
        py_token, js_token = f'os.environ["{take_home.ENV_TOKEN}"]', f"process.env.{take_home.ENV_TOKEN}"
    python = "\n".join([
        '# pip install "line-bot-sdk>=3,<4"',
        *([] if include_secrets else ["import os"]),
        "from linebot.v3.messaging import ApiClient, Configuration, MessagingApi",
        "",
        f"configuration = Configuration(host={json.dumps(base)}, access_token={py_token})",
        "with ApiClient(configuration) as api_client:",
        "    api = MessagingApi(api_client)",
        *[f"    print(api.{endpoints.get(e).python_method}())" for e in CALLS],
    ])
    node_lines = ["// npm install @line/bot-sdk; save as an ES module (e.g. try.mjs) and run: node try.mjs",
                  'import { messagingApi } from "@line/bot-sdk";', ""]
    if target == "sandbox":
        node_lines.append("// The Node SDK keeps only the origin of baseURL: it needs the sandbox at the root "
                          "of its own origin (SANDBOX_PORT).")
    node_lines += [
        "const client = new messagingApi.MessagingApiClient({",
        f"  channelAccessToken: {js_token},",
        f"  baseURL: {json.dumps(base)},",
        "});",
        *[f"console.log(await client.{endpoints.get(e).node_method}());" for e in CALLS],
    ]
    return {"curl": curl, "python": python, "node": "\n".join(node_lines)}


# --------------------------------------------------------------------------- the page and the JSON API


def _render(values: dict, errors: dict, status: int = 200, **context):
    return render_template("proxy/try.html", values=values, errors=errors, **context), status


def handle(endpoint: str):
    """GET → form; JSON POST → that endpoint's envelope; form POST → all three calls as HTML."""
    if request.method == "GET":
        return _render({}, {})
    src = proxy._source()  # SigningError → errors.py answers 400 naming the field
    if request.is_json:
        target = proxy._target(src)
        token = read_token(src)
        response = line_client.call(endpoint, {}, target, bearer=token)  # LineAPIError → 502/504
        envelope: dict[str, Any] = {"response_status_code": response.status_code, "response_body": response.body,
                                    "token_works": response.ok}
        if response.body_note:  # an over-complex answer, kept as text and cut (line_client.parse_body)
            envelope["response_body_note"] = gettext(response.body_note[0], **response.body_note[1])
        reason = display.bearer_reason(response.status_code, response.body)
        if reason:
            envelope["reason"] = reason
        hint = None if response.ok else display.explain(response.status_code, response.body)
        if hint:
            envelope["explanation"] = gettext(hint)
        return jsonify(envelope)

    values = {n: request.form.get(n, "").strip() for n in ("access_token", "target") if n in request.form}
    if request.form.get("prefill") == "1":
        return _render(values, {})
    try:
        target = proxy._target(src)
        token = read_token(src)
    except SigningError as e:
        return _render(values, {e.field: translate_error(e)}, 400)
    try:
        attempt = try_token(token, target)
    except LineAPIError as e:
        message = translate(e.template, e.params)
        return _render(values, {e.field: message} if e.field else {}, e.status, upstream_message=message)
    info = attempt.info
    refused = next((r for r in attempt.answers.values() if not r.ok), None)
    hint = display.explain(refused.status_code, refused.body) if refused else None
    base = public_base(target)
    return _render(values, {}, attempt=attempt, info=info, token_view=inspect_token(token),
                   explanation=gettext(hint) if hint else None,
                   display_urls={e: base + endpoints.get(e).path for e in attempt.answers},
                   authorization="Bearer " + display.mask(token),
                   bodies={e: display.pretty(r.body) if not isinstance(r.body, str) else r.body
                           for e, r in attempt.answers.items()},
                   snippets_masked=snippets(token, target, base, False),
                   snippets_full=snippets(token, target, base, True),
                   snippets_note=take_home.env_note([take_home.ENV_TOKEN]))


# Each call's page at LINE's path (the form posts to the first; the other two answer JSON posts with their own
# call, and forms with the whole page): the view's name for url_for, and the registry's endpoint.
PAGES = {"page": "bot_info", "quota": "quota", "consumption": "quota_consumption"}
for _view, _endpoint in PAGES.items():
    bp.add_url_rule(endpoints.get(_endpoint).path, _view, lambda _endpoint=_endpoint: handle(_endpoint),
                    methods=["GET", "POST"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

"""The sandbox: an offline emulator of LINE's channel access token API, under /sandbox.

Three parts in one Blueprint:

* LINE's eight endpoints, same paths, parameters, bodies and status codes as
  api.line.me (line-oauth-api.md §5; §9 fixes what LINE leaves unconfirmed);
* an admin JSON API (``/sandbox/api/...``) that plays the LINE Developers
  Console for scripts and tests: channels and their public keys;
* the console page (``GET /sandbox/``) that plays it for people.

State lives in :mod:`store`. ``SANDBOX_ENABLED=0`` makes every /sandbox URL 404.
"""
from __future__ import annotations

import base64
import math
import re
import secrets
import time
from typing import Any, NoReturn

from flask import (Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request)
from flask_babel import gettext, ngettext

from . import signing
from .line_client import ASSERTION_TYPE, GRANT_TYPE  # LINE's wire constants, defined once
from . import store as store_module
from .errors import json_error, translate_error, wants_json
from .security import csrf
from .signing import SigningError
from .store import (SHORT_LIVED, V21, CapReached, ChannelNotFound, Store, StoreUnavailable, TokenLimitReached)

bp = Blueprint("sandbox", __name__)

V21_SCOPE = "profile chat_message.write"  # line-oauth-api.md §9
V2_SCOPE = "P CM"  # line-oauth-api.md §9
STATELESS_LIFETIME = 15 * 60  # LINE docs: 900 s
ASSERTION_EXP_SKEW = 60  # line-oauth-api.md §9: 60 s of clock skew on "exp at most 30 min ahead"
MAX_TOKEN_LENGTH = 2048

# The header every v2.1 token carries, as in LINE's samples: {"alg":"HS256"}.
V21_TOKEN_HEADER = "eyJhbGciOiJIUzI1NiJ9"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
# Short-lived tokens are base64; anything else printable-ish is a well-formed but unknown token.
_V2_TOKEN = re.compile(r"^[A-Za-z0-9+/=._~-]+$")
_CHANNEL_ID = re.compile(r"^[0-9]{10}$")
# The sandbox assigns uuid4 kids; anything else cannot be registered, so it is not looked up
# (a lone surrogate or NUL in a kid would otherwise reach the database driver).
_KID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Control characters and lone surrogates can't be stored (NUL on PostgreSQL, surrogates in UTF-8).
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")

# LINE's error strings (line-oauth-api.md §3, §5, §9). Never translated: clients match on them.
PARAMS_INVALID = "some parameters missed or invalid"
TOKEN_LIMIT = "The maximum number of access tokens has already been issued"
KEY_NOT_FOUND = "Cannot find channel key that satisfies the conditions"


class LineError(Exception):
    """An answer in LINE's own error shape: ``{error, error_description}`` or ``{message}``."""

    def __init__(self, body: dict, status: int = 400):
        super().__init__(body)
        self.body = body
        self.status = status


def oauth_error(code: str, description: str | None = None, status: int = 400) -> NoReturn:
    """Raise LINE's OAuth-style error; ``description`` None omits the member, as LINE sometimes does."""
    body = {"error": code}
    if description is not None:
        body["error_description"] = description
    raise LineError(body, status)


def message_error(message: str, status: int) -> NoReturn:
    """Raise LINE's Messaging-API-style error ``{"message": ...}``."""
    raise LineError({"message": message}, status)


def get_store() -> Store:
    """This app's store (one per app, created in init_app)."""
    return current_app.extensions["sandbox_store"]


# --------------------------------------------------------------------------- parameters


def param(name: str) -> str | None:
    """A snake_case parameter from the form (POST) or the query (GET); empty counts as missing.

    Only the exact name is read, so camelCase keys are missing (line-oauth-api.md §9).
    """
    source = request.args if request.method == "GET" else request.form
    value = source.get(name)
    return value if value else None


def required(*names: str) -> list[str]:
    """The named parameters, or LINE's generic invalid_request if any is missing (§9)."""
    values = [param(name) for name in names]
    if any(v is None for v in values):
        oauth_error("invalid_request", PARAMS_INVALID)
    return values  # type: ignore[return-value]


def require_assertion_params(with_grant_type: bool) -> str:
    """Check grant_type / client_assertion_type and return the client assertion (§9)."""
    if with_grant_type and param("grant_type") != GRANT_TYPE:
        oauth_error("invalid_request", PARAMS_INVALID)
    if param("client_assertion_type") != ASSERTION_TYPE:
        oauth_error("invalid_request", PARAMS_INVALID)
    (assertion,) = required("client_assertion")
    return assertion


# --------------------------------------------------------------------------- assertions


def _number(value: Any) -> int | float | None:
    """A JSON number, or a numeric string as one LINE doc sample uses (§9); else None.

    Integers stay integers: a 400-digit token_exp must be refused, not overflow a float.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= 32 and re.fullmatch(r"\s*-?[0-9]+(\.[0-9]+)?\s*", value):
        return float(value) if "." in value else int(value)
    return None


def verify_assertion(assertion: str, now: int, check_token_exp: bool) -> tuple[store_module.Key, int | None]:
    """Verify a client assertion as LINE does; return the key it was signed with and token_exp.

    Raises LineError with LINE's status and body for each failure (§3, §9).
    """
    try:
        header, payload = signing.decode_unverified(assertion)
    except (SigningError, RecursionError):  # RecursionError: absurdly nested JSON
        oauth_error("invalid_client", "Invalid assertion")  # §9
    if header.get("alg") != "RS256":
        oauth_error("invalid_client", "Invalid alg")  # §9
    if header.get("typ") != "JWT":
        oauth_error("invalid_client", "Invalid typ")  # §9
    kid = header.get("kid")
    key = get_store().find_key(kid) if isinstance(kid, str) and _KID.match(kid) else None
    if key is None:
        message_error(KEY_NOT_FOUND, 404)
    if payload.get("iss") != key.channel_id:
        oauth_error("invalid_client", "iss and clientId of key do not match")
    if not signing.verify_signature(assertion, key.jwk):
        oauth_error("invalid_client", "Invalid signature")  # §9
    if payload.get("sub") != payload.get("iss"):
        oauth_error("invalid_client", "Invalid sub")  # §9
    if payload.get("aud") != signing.LINE_AUDIENCE:
        oauth_error("invalid_client", "Invalid aud")  # §9
    exp = _number(payload.get("exp"))
    if exp is None or exp <= now or exp > now + signing.MAX_ASSERTION_LIFETIME + ASSERTION_EXP_SKEW:
        oauth_error("invalid_client", "Invalid exp")
    return key, (_token_exp(payload) if check_token_exp else None)


def _token_exp(payload: dict) -> int:
    """token_exp as whole seconds, 1 to 30 days, else LINE's invalid_request (§9: no clamping)."""
    value = _number(payload.get("token_exp"))
    if value is None or (isinstance(value, float) and not value.is_integer()) \
            or not 1 <= value <= signing.MAX_TOKEN_EXP:
        oauth_error("invalid_request", "Invalid token_exp")
    return int(value)


# --------------------------------------------------------------------------- tokens


def _b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS segments are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_v21_token() -> tuple[str, str]:
    """A new v2.1 access token (JWS-shaped, header {"alg":"HS256"}) and its 22-character key_id (§9)."""
    token = f"{V21_TOKEN_HEADER}.{_b64url(secrets.token_bytes(96))}.{_b64url(secrets.token_bytes(32))}"
    return token, _b64url(secrets.token_bytes(16))


def mint_opaque_token() -> str:
    """A short-lived or stateless token: opaque base64 of 172 characters, like LINE's samples."""
    return base64.b64encode(secrets.token_bytes(128)).decode("ascii")


def jws_problem(token: str) -> str | None:
    """None for a JWS-shaped token; else "not JWS" (not 3 segments) or "malformed" (bad segments)."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > MAX_TOKEN_LENGTH:
        return "The access token not JWS"
    if not all(_B64URL.match(part) for part in parts):
        return "The access token malformed"
    return None


def v2_token_well_formed(token: str) -> bool:
    """True if ``token`` could be a short-lived or long-lived token (base64-ish, bounded)."""
    return len(token) <= MAX_TOKEN_LENGTH and bool(_V2_TOKEN.match(token))


def empty_ok() -> Response:
    """LINE's revoke answer: 200 with an empty body."""
    response = Response(b"", 200)
    del response.headers["Content-Type"]
    return response


# --------------------------------------------------------------------------- LINE's endpoints


@bp.post("/oauth2/v2.1/token")
def issue_v21():
    """POST /oauth2/v2.1/token: issue a channel access token v2.1 (§5.1)."""
    assertion = require_assertion_params(with_grant_type=True)
    now = int(time.time())
    key, token_exp = verify_assertion(assertion, now, check_token_exp=True)
    token, key_id = mint_v21_token()
    try:
        get_store().issue_token(key.channel_id, V21, token, token_exp, key_id=key_id, now=now)
    except TokenLimitReached:
        message_error(TOKEN_LIMIT, 400)
    return jsonify({"access_token": token, "expires_in": token_exp, "token_type": "Bearer", "key_id": key_id})


@bp.get("/oauth2/v2.1/tokens/kid")
def valid_key_ids():
    """GET /oauth2/v2.1/tokens/kid: key IDs of the channel's valid v2.1 tokens, oldest first (§5.2, §9)."""
    assertion = require_assertion_params(with_grant_type=False)
    now = int(time.time())
    key, _ = verify_assertion(assertion, now, check_token_exp=False)  # token_exp ignored here (§9)
    return jsonify({"kids": [t.key_id for t in get_store().valid_tokens(key.channel_id, V21, now)]})


@bp.get("/oauth2/v2.1/verify")
def verify_v21():
    """GET /oauth2/v2.1/verify: verify a v2.1 token (§5.3; unknown or revoked per §9)."""
    (token,) = required("access_token")
    if jws_problem(token):
        oauth_error("invalid_request", "The access token not JWS")
    now = int(time.time())
    record = get_store().find_token(token)
    if record is None or record.kind != V21:
        oauth_error("invalid_request", "The access token revoked")  # §9
    if record.expires_in(now) <= 0:
        oauth_error("invalid_request", "The access token expired")
    return jsonify({"client_id": record.channel_id, "expires_in": record.expires_in(now), "scope": V21_SCOPE})


@bp.post("/oauth2/v2.1/revoke")
def revoke_v21():
    """POST /oauth2/v2.1/revoke: revoke a v2.1 token with the channel secret (§5.4, §9)."""
    client_id, client_secret, token = required("client_id", "client_secret", "access_token")
    store = get_store()
    if not _CHANNEL_ID.match(client_id) or not store.check_secret(client_id, client_secret):
        oauth_error("invalid_client", "invalid client_secret")  # §9: wrong id or secret
    problem = jws_problem(token)
    if problem:
        oauth_error("invalid_request", problem)
    # Unknown, expired, revoked or another channel's token: 200 and nothing revoked (§9).
    store.revoke_token(token, channel_id=client_id, kind=V21)
    return empty_ok()


@bp.post("/oauth2/v3/token")
def issue_stateless():
    """POST /oauth2/v3/token: a stateless token, by client secret or by JWT assertion (§5.5).

    Empty fields count as absent: the SDK sends the other variant's fields empty.
    """
    if param("grant_type") != GRANT_TYPE:
        oauth_error("invalid_request", PARAMS_INVALID)
    assertion, client_id, client_secret = param("client_assertion"), param("client_id"), param("client_secret")
    if assertion and not (client_id or client_secret):
        if param("client_assertion_type") != ASSERTION_TYPE:
            oauth_error("invalid_request", PARAMS_INVALID)
        verify_assertion(assertion, int(time.time()), check_token_exp=False)  # token_exp ignored (§9)
    elif client_id and client_secret and not assertion:
        if not _CHANNEL_ID.match(client_id) or not get_store().check_secret(client_id, client_secret):
            oauth_error("invalid_request", "Invalid 'client_credentials'.")
    else:
        oauth_error("invalid_request", PARAMS_INVALID)
    # Stateless tokens are not stored: unlimited, never revocable, verifiable nowhere (§9).
    return jsonify({"token_type": "Bearer", "access_token": mint_opaque_token(), "expires_in": STATELESS_LIFETIME})


@bp.post("/v2/oauth/accessToken")
def issue_short_lived():
    """POST /v2/oauth/accessToken: a short-lived token; the 31st revokes the oldest (§5.6)."""
    grant_type, client_id, client_secret = required("grant_type", "client_id", "client_secret")
    if grant_type != GRANT_TYPE:
        oauth_error("invalid_request", PARAMS_INVALID)
    store = get_store()
    if not _CHANNEL_ID.match(client_id) or store.get_channel(client_id) is None:
        oauth_error("invalid_client", "invalid client_id")
    if not store.check_secret(client_id, client_secret):
        oauth_error("invalid_client", "invalid client_secret")
    token = mint_opaque_token()
    try:
        store.issue_token(client_id, SHORT_LIVED, token, store_module.SHORT_LIVED_LIFETIME)
    except ChannelNotFound:  # deleted between the two calls
        oauth_error("invalid_client", "invalid client_id")
    return jsonify({"access_token": token, "expires_in": store_module.SHORT_LIVED_LIFETIME, "token_type": "Bearer"})


@bp.post("/v2/oauth/verify")
def verify_short_lived():
    """POST /v2/oauth/verify: verify a short-lived token (§5.7); other kinds are invalid here."""
    (token,) = required("access_token")
    if not v2_token_well_formed(token):
        oauth_error("invalid_request", "access_token in invalid format")
    now = int(time.time())
    record = get_store().find_token(token)
    if record is None or record.kind != SHORT_LIVED or record.expires_in(now) <= 0:
        oauth_error("invalid_request", "access_token invalid")
    return jsonify({"client_id": record.channel_id, "expires_in": record.expires_in(now), "scope": V2_SCOPE})


@bp.post("/v2/oauth/revoke")
def revoke_short_lived():
    """POST /v2/oauth/revoke: revoke a short-lived token; 200 even when unknown (§5.8)."""
    (token,) = required("access_token")
    if not v2_token_well_formed(token):
        oauth_error("invalid_request")  # LINE sends no description here
    get_store().revoke_token(token, kind=SHORT_LIVED)
    return empty_ok()


# --------------------------------------------------------------------------- admin API (JSON)


def admin_error(code: str, description: str, status: int, **extra):
    """The app's JSON error shape for the admin API."""
    return json_error(code, description, status, **extra)


def json_body(optional: bool) -> dict:
    """The request's JSON object; ``{}`` for an empty body when ``optional``. Raises _BadBody."""
    if not request.get_data(cache=True):
        if optional:
            return {}
        raise _BadBody(gettext("Send a public JWK as a JSON object in the request body."))
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # absurdly nested JSON
        body = None
    if not isinstance(body, dict):
        raise _BadBody(gettext("The request body must be a JSON object."))
    return body


class _BadBody(Exception):
    """The admin API's request body is not what it takes."""


def channel_or_404(channel_id: str) -> store_module.Channel:
    """The channel, or a 404 for an unknown or malformed ID."""
    channel = get_store().get_channel(channel_id) if _CHANNEL_ID.match(channel_id) else None
    if channel is None:
        raise ChannelNotFound(channel_id)
    return channel


def channel_json(channel: store_module.Channel) -> dict:
    """A channel with its keys and valid tokens (never token values or the secret)."""
    store = get_store()
    now = int(time.time())
    return {
        "channel_id": channel.channel_id,
        "name": channel.name,
        "created_at": channel.created_at,
        "keys": [{"kid": k.kid, "created_at": k.created_at, "public_key": k.jwk}
                 for k in store.list_keys(channel.channel_id)],
        "tokens": [{"type": t.kind, "key_id": t.key_id, "issued_at": t.issued_at, "expires_at": t.expires_at,
                    "expires_in": t.expires_in(now)} for t in store.valid_tokens(channel.channel_id, now=now)],
    }


def create_channel(name: Any) -> tuple[store_module.Channel, str]:
    """Check the name and create a channel. Raises SigningError naming ``name``, or CapReached."""
    if name is None:
        name = ""
    if not isinstance(name, str) or len(name) > store_module.MAX_NAME_LENGTH or _UNSTORABLE.search(name):
        raise SigningError("name", signing.N_("name must be text of at most %(max)d characters, without control characters."),
                           max=store_module.MAX_NAME_LENGTH)
    return get_store().create_channel(name.strip())


def register_key(channel_id: str, data: Any) -> store_module.Key:
    """Check a public JWK with the console's rules and register it. Raises SigningError or CapReached."""
    try:
        jwk = signing.check_public_jwk(data, "public_key")
    except RecursionError:  # absurdly nested JSON text
        raise SigningError("public_key", signing.N_("The public key must be a JSON object (a JWK).")) from None
    return get_store().add_key(channel_id, jwk)


def key_error_json(e: SigningError):
    """A refused key: 400 naming the field and, when known, the JWK member."""
    extra = {"field": e.field}
    member = e.params.get("member") or e.params.get("members")
    if member:
        extra["member"] = member
    return admin_error("invalid_request", translate_error(e), 400, **extra)


@bp.post("/api/channels")
def api_create_channel():
    """Create a channel: 201 {"channel_id", "channel_secret"} (the secret is shown only here)."""
    try:
        body = json_body(optional=True)
        channel, secret = create_channel(body.get("name"))
    except _BadBody as e:
        return admin_error("invalid_request", str(e), 400)
    except SigningError as e:
        return admin_error("invalid_request", translate_error(e), 400, field=e.field)
    except CapReached:
        return admin_error("limit_reached", channel_cap_message(), 409)
    return jsonify({"channel_id": channel.channel_id, "channel_secret": secret, "name": channel.name}), 201


@bp.post("/api/channels/<channel_id>/keys")
def api_add_key(channel_id: str):
    """Register a public JWK on the channel: 201 {"kid"}."""
    channel = channel_or_404(channel_id)
    try:
        key = register_key(channel.channel_id, json_body(optional=False))
    except _BadBody as e:
        return admin_error("invalid_request", str(e), 400, field="public_key")
    except SigningError as e:
        return key_error_json(e)
    except CapReached:
        return admin_error("limit_reached", key_cap_message(), 400, field="public_key")
    return jsonify({"kid": key.kid}), 201


@bp.get("/api/channels/<channel_id>")
def api_get_channel(channel_id: str):
    """The channel, its keys and its valid tokens (key_id, type, expiry; never values)."""
    return jsonify(channel_json(channel_or_404(channel_id)))


@bp.delete("/api/channels/<channel_id>")
def api_delete_channel(channel_id: str):
    """Delete the channel with its keys and tokens: 204."""
    channel = channel_or_404(channel_id)
    get_store().delete_channel(channel.channel_id)
    return Response(status=204)


@bp.delete("/api/channels/<channel_id>/tokens")
def api_revoke_all(channel_id: str):
    """Revoke every token of the channel: 200 {"revoked": <how many were valid>}."""
    revoked = get_store().revoke_all(channel_or_404(channel_id).channel_id)
    return jsonify({"revoked": revoked})


def channel_cap_message() -> str:
    """Why a new channel was refused, in the user's language."""
    return gettext("The sandbox already holds its maximum of %(max)d channels. Delete channels you no longer "
                   "need; channels unused for %(days)d days are removed.",
                   max=store_module.MAX_CHANNELS, days=store_module.CHANNEL_IDLE_LIFETIME // 86400)


def key_cap_message() -> str:
    """Why another key was refused, in the user's language."""
    return gettext("This channel already has %(max)d public keys, the sandbox's maximum.",
                   max=store_module.KEYS_PER_CHANNEL)


# --------------------------------------------------------------------------- console page (HTML)


def render_console(channel_id: str | None = None, status: int = 200, values: dict | None = None,
                   errors: dict | None = None, **extra):
    """The console page, with ``channel_id``'s details when it names a channel."""
    values = dict(values or {})
    errors = dict(errors or {})
    channel = keys = tokens = None
    if channel_id:
        values.setdefault("channel_id", channel_id)
        channel = get_store().get_channel(channel_id) if _CHANNEL_ID.match(channel_id) else None
        if channel is None and "channel_id" not in errors:
            errors["channel_id"] = gettext("No sandbox channel has the ID %(id)s. Check the ID, or create a "
                                           "channel below.", id=channel_id[:20])
            status = 404 if status == 200 else status
    if channel is not None:
        keys = get_store().list_keys(channel.channel_id)
        tokens = get_store().valid_tokens(channel.channel_id)
    return render_template("sandbox/console.html", channel=channel, keys=keys, tokens=tokens, values=values,
                           errors=errors, now=int(time.time()), limits=_limits(), **extra), status


def _limits() -> dict:
    """The numbers the console page quotes, from the constants that enforce them."""
    return {"v21": store_module.V21_TOKENS_PER_CHANNEL, "short": store_module.SHORT_LIVED_TOKENS_PER_CHANNEL,
            "max_keys": store_module.KEYS_PER_CHANNEL, "channels": store_module.MAX_CHANNELS,
            "idle_days": store_module.CHANNEL_IDLE_LIFETIME // 86400, "skew": ASSERTION_EXP_SKEW}


def known_channel(channel_id: str) -> bool:
    """True if ``channel_id`` is well-formed and names a channel."""
    return bool(_CHANNEL_ID.match(channel_id)) and get_store().get_channel(channel_id) is not None


def form_channel_id() -> str:
    """The channel ID a console form posted."""
    return (request.form.get("channel_id") or "").strip()


@bp.get("/")
def console():
    """The console page; ``?channel_id=`` opens a channel (only one whose ID the user knows)."""
    channel_id = (request.args.get("channel_id") or "").strip()
    return render_console(channel_id or None)


@bp.post("/console/channels")
def console_create_channel():
    """Form: create a channel and show its ID and secret once."""
    values = {"name": request.form.get("name", "")}
    try:
        channel, secret = create_channel(values["name"])
    except SigningError as e:
        return render_console(None, 400, values, {"name": translate_error(e)})
    except CapReached:
        return render_console(None, 409, values, {"name": channel_cap_message()})
    return render_console(channel.channel_id, 201, created_secret=secret)


@bp.post("/console/keys")
def console_add_key():
    """Form: register a public key on the open channel and show its kid."""
    channel_id = form_channel_id()
    values = {"public_key": request.form.get("public_key", "")}
    if not known_channel(channel_id):
        return render_console(channel_id or None, 404, values)
    try:
        key = register_key(channel_id, values["public_key"])
    except SigningError as e:
        return render_console(channel_id, 400, values, {"public_key": translate_error(e)})
    except CapReached:
        return render_console(channel_id, 400, values, {"public_key": key_cap_message()})
    except ChannelNotFound:
        return render_console(channel_id, 404, values)
    return render_console(channel_id, 201, new_kid=key.kid)


@bp.post("/console/revoke")
def console_revoke_all():
    """Form: revoke every token of the open channel."""
    channel_id = form_channel_id()
    try:
        revoked = get_store().revoke_all(channel_id) if _CHANNEL_ID.match(channel_id) else None
    except ChannelNotFound:
        revoked = None
    if revoked is None:
        return render_console(channel_id or None, 404)
    return render_console(channel_id, notice=ngettext("Revoked %(num)d valid token.", "Revoked %(num)d valid tokens.", revoked))


@bp.post("/console/delete")
def console_delete_channel():
    """Form: delete the open channel with its keys and tokens."""
    channel_id = form_channel_id()
    deleted = _CHANNEL_ID.match(channel_id) and get_store().delete_channel(channel_id)
    if not deleted:
        return render_console(channel_id or None, 404)
    return render_console(None, deleted_id=channel_id,
                          notice=gettext("Channel %(id)s and its keys and tokens were deleted.", id=channel_id))


# --------------------------------------------------------------------------- wiring


@bp.before_request
def only_when_enabled():
    """Every /sandbox URL is a 404 when SANDBOX_ENABLED is off (the routes stay, so url_for works)."""
    if not current_app.config.get("SANDBOX_ENABLED", True):
        abort(404)


@bp.errorhandler(LineError)
def line_error(e: LineError):
    """LINE's error body and status, exactly."""
    return jsonify(e.body), e.status


@bp.errorhandler(ChannelNotFound)
def unknown_channel(e: ChannelNotFound):
    """A JSON 404 naming the channel (raised by the admin API, or a channel deleted mid-request)."""
    channel_id = str(e.args[0] if e.args else "")[:20]
    return admin_error("not_found", gettext("No sandbox channel has the ID %(id)s.", id=channel_id), 404)


@bp.errorhandler(StoreUnavailable)
def store_unavailable(e: StoreUnavailable):
    """503 with Retry-After when the database stays locked or unreachable; never a traceback."""
    message = gettext("The sandbox database is busy; try again in a moment.")
    if wants_json():
        response, status = json_error("temporarily_unavailable", message, 503)
    else:
        response, status = render_template("errors/http.html", code=503, title=gettext("Busy"),
                                           message=message), 503
    response = current_app.make_response((response, status))
    response.headers["Retry-After"] = "1"
    return response


# The views scripts post to (SDK clients, curl, the tests), not our pages' forms: LINE's endpoints take
# form-encoded bodies as api.line.me does, and the admin API is for scripts. No cookie carries authority
# there, so CSRF has nothing to protect. The one list of Flask-WTF exemptions; GET routes need none.
SCRIPT_ENDPOINTS = (issue_v21, revoke_v21, issue_stateless, issue_short_lived, verify_short_lived,
                    revoke_short_lived, api_create_channel, api_add_key, api_delete_channel, api_revoke_all)
for _view in SCRIPT_ENDPOINTS:
    csrf.exempt(_view)


def init_app(app: Flask) -> None:
    """Open the store (lazily: tables appear on first use) and mount the Blueprint at /sandbox."""
    app.extensions["sandbox_store"] = store_module.open_store(app.config)
    app.register_blueprint(bp, url_prefix="/sandbox")

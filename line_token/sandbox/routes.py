"""The sandbox: an offline emulator of LINE's channel access token API.

Three parts in one Blueprint:

* LINE's eight endpoints, same paths, parameters, bodies and status codes as
  api.line.me (docs/line-api.md §5; §9 fixes what LINE leaves unconfirmed);
* an admin JSON API (``/api/channels...``) that plays the LINE Developers
  Console for scripts and tests: channels, their public keys, long-lived tokens.
  Every call on a channel takes HTTP Basic credentials (user: channel ID,
  password: channel secret); only creating a channel is open, limited per client;
* the console page (``GET /``) that plays it for people.

The Blueprint is mounted twice: at ``/sandbox`` in the tester app, and at the root of
a sandbox-only app that answers on its own origin (``SANDBOX_PORT`` or ``SANDBOX_HOST``,
see :class:`SandboxOrigin`), because LINE's SDKs build URLs from the origin and drop
any path of the base URL (docs/line-api.md §0).

State lives in :mod:`store`. ``SANDBOX_ENABLED=0`` makes every sandbox URL 404.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import time
import uuid
from typing import Any, NoReturn

from flask import (Blueprint, Flask, Response, abort, current_app, g, jsonify, render_template, request, url_for)
from flask_babel import gettext, ngettext

from ..core import endpoints, rules, signing
from ..core.counters import RATE_LIMIT_SYNTAX, ClientLimit, client_bucket
from ..core.settings import trust_proxy_hops
# LINE's error strings and assertion rules: the rules table (core/rules.py), never translated here.
from ..core.rules import (ACCESS_TOKEN_INVALID, ACCESS_TOKEN_INVALID_FORMAT, AUTH_FAILED, AUTH_HEADER_REQUIRED,
                          AUTH_MALFORMED, INVALID_CLIENT_CREDENTIALS, INVALID_CLIENT_SECRET,
                          PARAMS_INVALID, PARAMS_WRONG_FORMAT, RATE_LIMITED, TOKEN_EXPIRED,
                          TOKEN_LIMIT, TOKEN_MALFORMED, TOKEN_NOT_JWS, TOKEN_REVOKED, LineAnswer)
from ..core.line_client import ASSERTION_TYPE, GRANT_TYPE, SANDBOX_PREFIX, sandbox_enabled  # each defined once
from . import clock as clock_module
from . import faults as faults_module
from . import reqlog
from . import seed
from . import store as store_module
from .service import (CHANNEL_ID, KID, LONG_LIVED_GRACE_HOURS, MAX_KEY_JSON, STATELESS_LIFETIME, UNSTORABLE,
                      Sandbox)
from .answers import json_error, translate_error, wants_json
from .budget import BodyTooComplex
from ..core.signing import SigningError
from .store import (LONG_LIVED, SHORT_LIVED, V21, CapReached, ChannelNotFound, RateLimited, Store, StoreUnavailable,
                    TokenLimitReached)

bp = Blueprint("sandbox", __name__, template_folder="templates")  # sandbox/templates/sandbox/...

V21_SCOPE = "profile chat_message.write"  # docs/line-api.md §9
V2_SCOPE = "P CM"  # docs/line-api.md §9
MAX_TOKEN_LENGTH = 2048

_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
# Short- and long-lived tokens are base64 (172 characters from the sandbox, about as long at LINE).
# A string of those characters at least MIN_V2_TOKEN_LENGTH long is token-shaped (unknown or
# revoked: "access_token invalid"); anything else, e.g. "abc", is "in invalid format" (§5.7).
_V2_TOKEN = re.compile(r"^[A-Za-z0-9+/=._~-]+$")
MIN_V2_TOKEN_LENGTH = 32



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


def service() -> Sandbox:
    """This app's sandbox: the service layer over its store."""
    return Sandbox(get_store())


# --------------------------------------------------------------------------- parameters


def param(name: str) -> str | None:
    """A snake_case parameter from the form (POST) or the query (GET); empty counts as missing.

    Only the exact name is read, so camelCase keys are missing (docs/line-api.md §9).
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


# --------------------------------------------------------------------------- failed authentications


class TooManyFailures(Exception):
    """This client is over SANDBOX_AUTH_FAILURE_LIMIT: 429 with Retry-After, in the shape of the route asked."""

    def __init__(self, retry_after: int, limit: str):
        super().__init__(retry_after)
        self.retry_after, self.limit = retry_after, limit


def auth_failure_limit() -> ClientLimit | None:
    """The per-client budget of failed authentications (wrong channel ID or secret), or None when off.

    Counted in the rate limit's store (SQLite beside the database, or Redis with REDIS_URL), so every worker
    and instance shares it (issue 23 item 10: guessing ran at 1,855 a second).
    """
    limit = current_app.config.get("SANDBOX_AUTH_FAILURE_LIMIT")
    if not limit:
        return None
    counter = current_app.extensions.get("sandbox_auth_failures")
    if counter is None:
        counter = current_app.extensions["sandbox_auth_failures"] = ClientLimit(current_app.config, limit,
                                                                                "sandbox-auth")
    return counter


def before_secret_check() -> None:
    """Refuse a client already over its failed-authentication budget, before its secret is checked."""
    counter = auth_failure_limit()
    wait = counter.wait(client_ip()) if counter else None
    if wait:
        raise TooManyFailures(wait, str(counter))


def secret_check_failed() -> None:
    """Count one failed authentication against this client."""
    counter = auth_failure_limit()
    if counter:
        counter.hit(client_ip())


def secret_opens(channel_id: str, secret: str) -> bool:
    """Whether ``secret`` opens channel ``channel_id``. An unknown channel and a wrong secret fail alike, and
    each failure counts toward the client's SANDBOX_AUTH_FAILURE_LIMIT; past it, TooManyFailures."""
    before_secret_check()
    if CHANNEL_ID.match(channel_id) and get_store().check_secret(channel_id, secret):
        return True
    secret_check_failed()
    return False


def too_many_failures_message(e: TooManyFailures) -> str:
    return gettext("Too many attempts with a wrong channel ID or channel secret from this address (at most "
                   "%(limit)s, SANDBOX_AUTH_FAILURE_LIMIT). Try again in %(seconds)d seconds, with the ID and "
                   "secret shown when the channel was created.", limit=e.limit, seconds=e.retry_after)


# --------------------------------------------------------------------------- assertions


def line_answer(answer: LineAnswer) -> NoReturn:
    """Raise LINE's answer from the rules table."""
    raise LineError(dict(answer.body), answer.status)


def verify_assertion(assertion: str, now: int, check_token_exp: bool) -> tuple[store_module.Key, int | None]:
    """Verify a client assertion as LINE does; return the key it was signed with and token_exp.

    Raises LineError with LINE's status and body for each failure (§3, §9): the rules table's answer for
    the first rule broken, in LINE's order, with the kid looked up, iss matched to the key's channel and
    the signature checked where LINE does (after iss).
    """
    try:
        header, payload = signing.decode_unverified(assertion)
    except (SigningError, RecursionError):  # RecursionError: absurdly nested JSON
        line_answer(rules.UNREADABLE_ASSERTION)  # §9

    def check(*names: str) -> None:
        breach = rules.first_breach(header, payload, now, names=names)
        if breach is not None:
            line_answer(breach.rule.line)

    check("alg", "typ", "kid")
    kid = header.get("kid")
    key = get_store().find_key(kid) if isinstance(kid, str) and KID.match(kid) else None
    if key is None:
        line_answer(rules.RULES["kid"].line)  # an unknown kid is answered as a missing one
    if payload.get("iss") != key.channel_id:  # a channel ID, and this key's channel
        line_answer(rules.RULES["iss"].line)
    if not signing.verify_signature(assertion, key.jwk):
        line_answer(rules.BAD_SIGNATURE)  # §9
    check("sub", "aud", "exp")
    if not check_token_exp:
        return key, None
    check("token_exp")
    return key, rules.whole_number(payload.get("token_exp"))


# --------------------------------------------------------------------------- tokens


def jws_problem(token: str) -> str | None:
    """None for a JWS-shaped token; else "not JWS" (not 3 segments) or "malformed" (bad segments)."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > MAX_TOKEN_LENGTH:
        return TOKEN_NOT_JWS
    if not all(_B64URL.match(part) for part in parts):
        return TOKEN_MALFORMED
    return None


def v2_token_well_formed(token: str) -> bool:
    """True if ``token`` has only characters a token has and is not too long (base64-ish, bounded)."""
    return len(token) <= MAX_TOKEN_LENGTH and bool(_V2_TOKEN.match(token))


def v2_token_shaped(token: str) -> bool:
    """True if ``token`` could be a short-lived or long-lived token: well formed and not too short (§5.7)."""
    return len(token) >= MIN_V2_TOKEN_LENGTH and v2_token_well_formed(token)


def empty_ok() -> Response:
    """LINE's revoke answer: 200 with an empty body."""
    response = Response(b"", 200)
    del response.headers["Content-Type"]
    return response


# --------------------------------------------------------------------------- LINE's endpoints


def line_endpoint(name: str):
    """Register the view as LINE's endpoint ``name`` at the registry's method and path (core/endpoints.py)."""
    described = endpoints.get(name)
    return bp.route(described.path, methods=[described.method])



@line_endpoint("issue_v21")
def issue_v21():
    """POST /oauth2/v2.1/token: issue a channel access token v2.1 (§5.1)."""
    assertion = require_assertion_params(with_grant_type=True)
    now = request_now()
    key, token_exp = verify_assertion(assertion, now, check_token_exp=True)
    token, key_id = service().mint_v21_token()
    try:
        get_store().issue_token(key.channel_id, V21, token, token_exp, key_id=key_id, now=now)
    except TokenLimitReached:
        message_error(TOKEN_LIMIT, 400)
    return jsonify({"access_token": token, "expires_in": token_exp, "token_type": "Bearer", "key_id": key_id})


@line_endpoint("kids_v21")
def valid_key_ids():
    """GET /oauth2/v2.1/tokens/kid: key IDs of the channel's valid v2.1 tokens, oldest first (§5.2, §9)."""
    assertion = require_assertion_params(with_grant_type=False)
    now = request_now()
    key, _ = verify_assertion(assertion, now, check_token_exp=False)  # token_exp ignored here (§9)
    return jsonify({"kids": [t.key_id for t in get_store().valid_tokens(key.channel_id, V21, now)]})


@line_endpoint("verify_v21")
def verify_v21():
    """GET /oauth2/v2.1/verify: verify a v2.1 token (§5.3; unknown or revoked per §9)."""
    (token,) = required("access_token")
    if jws_problem(token):
        oauth_error("invalid_request", TOKEN_NOT_JWS)
    now = request_now()
    record = find_token_once(token)
    if record is None or record.kind != V21:
        oauth_error("invalid_request", TOKEN_REVOKED)  # §9
    if record.expires_in(now) <= 0:
        oauth_error("invalid_request", TOKEN_EXPIRED)
    return jsonify({"client_id": record.channel_id, "expires_in": record.expires_in(now), "scope": V21_SCOPE})


@line_endpoint("revoke_v21")
def revoke_v21():
    """POST /oauth2/v2.1/revoke: revoke a v2.1 token with the channel secret (§5.4, §9)."""
    client_id, client_secret, token = required("client_id", "client_secret", "access_token")
    store = get_store()
    if not secret_opens(client_id, client_secret):
        oauth_error("invalid_client", INVALID_CLIENT_SECRET)  # §9: wrong id or secret
    problem = jws_problem(token)
    if problem:
        oauth_error("invalid_request", problem)
    # Unknown, expired, revoked or another channel's token: 200 and nothing revoked (§9).
    store.revoke_token(token, channel_id=client_id, kind=V21)
    return empty_ok()


@line_endpoint("issue_stateless")
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
        key, _ = verify_assertion(assertion, request_now(), check_token_exp=False)  # token_exp ignored (§9)
        channel_id = key.channel_id
    elif client_id and client_secret and not assertion:
        if not secret_opens(client_id, client_secret):
            oauth_error("invalid_request", INVALID_CLIENT_CREDENTIALS)
        channel_id = client_id
    else:
        oauth_error("invalid_request", PARAMS_INVALID)
    # Stateless tokens are not stored: unlimited, never revocable, verifiable nowhere (§9).
    # They are signed JWTs, so the Messaging API endpoints below can still tell whose they are.
    token = service().mint_stateless_token(channel_id, now=request_now())
    if token is None:  # the channel was deleted mid-request
        oauth_error("invalid_request", INVALID_CLIENT_CREDENTIALS)
    return jsonify({"token_type": "Bearer", "access_token": token, "expires_in": STATELESS_LIFETIME})


@line_endpoint("issue_v2")
def issue_short_lived():
    """POST /v2/oauth/accessToken: a short-lived token; the 31st revokes the oldest (§5.6)."""
    grant_type, client_id, client_secret = required("grant_type", "client_id", "client_secret")
    if grant_type != GRANT_TYPE:
        oauth_error("invalid_request", PARAMS_INVALID)
    store = get_store()
    if not CHANNEL_ID.match(client_id):
        oauth_error("invalid_request", PARAMS_WRONG_FORMAT)  # §5.6 live record: a non-numeric ID
    # An unknown channel answers as a known one with a wrong secret (LINE's documented invalid_client, §5.6):
    # a caller who has not proven the secret cannot tell which channel IDs exist (issue 23 item 9).
    if not secret_opens(client_id, client_secret):
        oauth_error("invalid_client", INVALID_CLIENT_SECRET)
    per_second = current_app.config.get("SANDBOX_SHORT_LIVED_PER_SECOND") or 0
    if per_second > 0:  # LINE: 370 requests per second per channel, then 429 (§5.6, §6); off by default
        try:
            store.take("short-lived:" + client_id, per_second, 1)
        except RateLimited as e:
            response = jsonify({"message": RATE_LIMITED})
            response.status_code = 429
            response.headers["Retry-After"] = str(e.retry_after)
            return response
    token = service().mint_opaque_token()
    try:
        store.issue_token(client_id, SHORT_LIVED, token, store_module.SHORT_LIVED_LIFETIME, now=request_now())
    except ChannelNotFound:  # deleted between the two calls
        oauth_error("invalid_client", INVALID_CLIENT_SECRET)
    return jsonify({"access_token": token, "expires_in": store_module.SHORT_LIVED_LIFETIME, "token_type": "Bearer"})


@line_endpoint("verify_v2")
def verify_short_lived():
    """POST /v2/oauth/verify: verify a short-lived or long-lived token (§5.7); other kinds are invalid here."""
    (token,) = required("access_token")
    if not v2_token_shaped(token):
        oauth_error("invalid_request", ACCESS_TOKEN_INVALID_FORMAT)  # §5.7: e.g. "abc"
    now = request_now()
    record = find_token_once(token)
    if record is None or record.kind not in (SHORT_LIVED, LONG_LIVED) or record.expires_in(now) <= 0:
        oauth_error("invalid_request", ACCESS_TOKEN_INVALID)
    return jsonify({"client_id": record.channel_id, "expires_in": record.expires_in(now), "scope": V2_SCOPE})


@line_endpoint("revoke_v2")
def revoke_short_lived():
    """POST /v2/oauth/revoke: revoke a short-lived or long-lived token; 200 even when unknown (§5.8)."""
    (token,) = required("access_token")
    if not v2_token_shaped(token):
        oauth_error("invalid_request")  # LINE sends no description here (§5.8)
    get_store().revoke_token(token, kind=(SHORT_LIVED, LONG_LIVED))
    return empty_ok()


# --------------------------------------------------------------------------- admin API (JSON)

# Public JWK members LINE uses; anything else is dropped before the key is stored (issue 11).
AUTH_REALM = 'Basic realm="LINE token tester sandbox: user = channel ID, password = channel secret", charset="UTF-8"'


def admin_error(code: str, description: str, status: int, **extra):
    """The app's JSON error shape for the admin API."""
    return json_error(code, description, status, **extra)


def json_body(optional: bool, what: str | None = None) -> dict:
    """The request's JSON object; ``{}`` for an empty body when ``optional``. Raises _BadBody.

    ``what``: the message for a missing body (by default, the key registration's)."""
    if not request.get_data(cache=True):
        if optional:
            return {}
        raise _BadBody(what or gettext("Send a public JWK as a JSON object in the request body."))
    try:
        body = request.get_json(force=True, silent=True)
    except BodyTooComplex as e:  # "[[[[..." or a million values: refused before parsing (budget.py)
        raise _BadBody(translate_error(e.error)) from None
    if not isinstance(body, dict):
        raise _BadBody(gettext("The request body must be a JSON object."))
    return body


class _BadBody(Exception):
    """The admin API's request body is not what it takes."""


class AdminRefused(Exception):
    """An admin call refused before it changed anything: a JSON error with status and headers."""

    def __init__(self, code: str, message: str, status: int, headers: dict | None = None, **extra):
        super().__init__(message)
        self.code, self.message, self.status, self.headers, self.extra = code, message, status, headers or {}, extra


def require_json() -> None:
    """The admin API's writes take application/json only: no cross-site form or text/plain post (issue 11)."""
    request.get_data(cache=True)  # a body over MAX_CONTENT_LENGTH is a 413 before anything else
    if request.mimetype != "application/json":
        raise AdminRefused("unsupported_media_type", gettext(
            "Send the request body as JSON with the header Content-Type: application/json."), 415)


def require_channel_secret(channel_id: str) -> store_module.Channel:
    """The channel, if the request carries its ID and secret as HTTP Basic credentials; else 401 (429 past
    SANDBOX_AUTH_FAILURE_LIMIT).

    As LINE's own short-lived endpoint takes client credentials: user = channel ID, password = channel secret.
    """
    try:
        auth = request.authorization
    except ValueError:  # a header werkzeug cannot read (e.g. non-ASCII after "Basic "): no credentials
        auth = None
    if auth is None or auth.type != "basic" or not auth.username or not auth.password:
        raise AdminRefused("unauthorized", gettext(
            "Send the channel ID and channel secret with HTTP Basic authentication (user: channel ID, "
            "password: channel secret), e.g. curl -u CHANNEL_ID:CHANNEL_SECRET."), 401, {"WWW-Authenticate": AUTH_REALM})
    if auth.username != channel_id or not secret_opens(channel_id, auth.password):
        # The same answer for an unknown channel and a wrong secret: who has not proven the secret cannot tell
        # which channel IDs exist (issue 23 item 9).
        raise AdminRefused("unauthorized", gettext(
            "The channel ID or channel secret is wrong. Use the ID and secret shown when the channel was created."),
            401, {"WWW-Authenticate": AUTH_REALM})
    channel = get_store().get_channel(channel_id)
    if channel is None:  # deleted since the secret was checked
        raise ChannelNotFound(channel_id)
    get_store().touch_channel(channel.channel_id)  # the owner's activity keeps the channel (issue 23 item 2)
    return channel


def client_ip() -> str:
    """The client a per-client limit counts: its address (ProxyFix has put the real one here when TRUST_PROXY
    is set), an IPv6 one by its /64."""
    return client_bucket(request.remote_addr or "127.0.0.1")


def key_error_json(e: SigningError):
    """A refused key: 400 naming the field and, when known, the JWK member."""
    extra = {"field": e.field}
    member = e.params.get("member") or e.params.get("members")
    if member:
        extra["member"] = member
    return admin_error("invalid_request", translate_error(e), 400, **extra)


def channels_per_hour() -> int:
    return int(current_app.config.get("SANDBOX_CHANNELS_PER_HOUR") or 0)


def creation_limited(e: RateLimited, json: bool = True):
    """429 with Retry-After for a client over SANDBOX_CHANNELS_PER_HOUR."""
    message = gettext("This address already created %(max)d sandbox channels in the last hour, the limit this "
                      "server sets (SANDBOX_CHANNELS_PER_HOUR). Try again in %(minutes)d minutes, or reuse a channel "
                      "you made. On your own machine, SANDBOX_CHANNELS_PER_HOUR=0 lifts the limit.",
                      max=channels_per_hour(), minutes=max(1, math.ceil(e.retry_after / 60)))
    return message, {"Retry-After": str(e.retry_after)}


def creation_refused(e: CapReached | RateLimited):
    """A new channel refused by the admin API: 409 at the channel cap, 429 with Retry-After past the per-client limit."""
    if isinstance(e, CapReached):
        return admin_error("limit_reached", channel_cap_message(), 409)
    message, headers = creation_limited(e)
    response, status = admin_error("rate_limited", message, 429)
    response.headers.update(headers)
    return response, status


@bp.post("/api/channels")
def api_create_channel():
    """Create a channel: 201 {"channel_id", "channel_secret"} (the secret is shown only here)."""
    require_json()
    try:
        body = json_body(optional=True)
        channel, secret = service().create_channel(body.get("name"), client_ip(), channels_per_hour())
    except _BadBody as e:
        return admin_error("invalid_request", str(e), 400, field="body")
    except SigningError as e:
        return admin_error("invalid_request", translate_error(e), 400, field=e.field)
    except (CapReached, RateLimited) as e:
        return creation_refused(e)
    return jsonify({"channel_id": channel.channel_id, "channel_secret": secret, "name": channel.name}), 201


@bp.post("/api/channels/<channel_id>/keys")
def api_add_key(channel_id: str):
    """Register a public JWK on the channel: 201 {"kid"}."""
    require_json()
    channel = require_channel_secret(channel_id)
    if len(request.get_data(cache=True)) > MAX_KEY_JSON:
        return admin_error("invalid_request", gettext(
            "The public key is larger than %(max)d KiB: send only the public JWK (kty, n, e, alg, use).", max=8),
            400, field="public_key")
    try:
        key = service().register_key(channel.channel_id, json_body(optional=False))
    except _BadBody as e:
        return admin_error("invalid_request", str(e), 400, field="public_key")
    except SigningError as e:
        return key_error_json(e)
    except CapReached:
        return admin_error("limit_reached", key_cap_message(), 400, field="public_key")
    return jsonify({"kid": key.kid}), 201


@bp.delete("/api/channels/<channel_id>/keys/<kid>")
def api_delete_key(channel_id: str, kid: str):
    """Remove a registered key: 204; 404 when the channel has no such key."""
    channel = require_channel_secret(channel_id)
    if not service().delete_key(channel.channel_id, kid):
        return admin_error("not_found", gettext("Channel %(id)s has no public key with the kid %(kid)s.",
                                                id=channel.channel_id, kid=kid[:40]), 404)
    return Response(status=204)


@bp.get("/api/channels/<channel_id>")
def api_get_channel(channel_id: str):
    """The channel, its keys and its valid tokens (key_id, type, expiry; never values)."""
    return jsonify(service().channel_json(require_channel_secret(channel_id)))


@bp.delete("/api/channels/<channel_id>")
def api_delete_channel(channel_id: str):
    """Delete the channel with its keys and tokens: 204."""
    channel = require_channel_secret(channel_id)
    get_store().delete_channel(channel.channel_id)
    return Response(status=204)


@bp.delete("/api/channels/<channel_id>/tokens")
def api_revoke_all(channel_id: str):
    """Revoke every token of the channel: 200 {"revoked": <how many were valid>}."""
    revoked = service().revoke_all(require_channel_secret(channel_id).channel_id)
    return jsonify({"revoked": revoked})


@bp.post("/api/channels/<channel_id>/long-lived")
def api_issue_long_lived(channel_id: str):
    """Issue (or reissue) the channel's long-lived token: 201 {"access_token", "token_type",
    "previous_valid_until"}; body {"keep_old_hours": 0-24} keeps the current one valid that long."""
    require_json()
    channel = require_channel_secret(channel_id)
    try:
        body = json_body(optional=True)
        token, previous_until = service().issue_long_lived(channel.channel_id, body.get("keep_old_hours", 0))
    except _BadBody as e:
        return admin_error("invalid_request", str(e), 400)
    except SigningError as e:
        return admin_error("invalid_request", translate_error(e), 400, field=e.field)
    return jsonify({"access_token": token, "token_type": "Bearer", "previous_valid_until": previous_until}), 201


@bp.get("/api/channels/<channel_id>/export")
def api_export_channel(channel_id: str):
    """The channel as seed JSON: ID, name, public keys with their kids, bot settings (seed.py); never its
    secret, a token or a private key."""
    return jsonify(seed.export_channel(service(), require_channel_secret(channel_id)))


@bp.post("/api/channels/import")
def api_import_channels():
    """Create channels from seed JSON (one channel, or {"channels": [...]}): 201 with their IDs and kids, and
    each generated secret once. Open like creating a channel, under the same cap and per-client limit."""
    require_json()
    try:
        answer = seed.import_channels(service(), json_body(optional=False, what=gettext(
            "Send the channels to import as a JSON object in the request body (as GET "
            "/api/channels/{id}/export answers).")), client_ip(), channels_per_hour())
    except _BadBody as e:
        return admin_error("invalid_request", str(e), 400, field="body")
    except SigningError as e:
        message = translate_error(e)  # a key's own message names the JWK member; say which key of the file
        message = message if e.field in message else f"{e.field}: {message}"
        return admin_error(e.code, message, 409 if e.code == "conflict" else 400, field=e.field)
    except (CapReached, RateLimited) as e:
        return creation_refused(e)
    return jsonify(answer), 201


def channel_cap_message() -> str:
    """Why a new channel was refused, in the user's language."""
    return gettext("The sandbox already holds its maximum of %(max)d channels. Delete channels you no longer "
                   "need; channels unused for %(days)d days are removed.",
                   max=get_store().channel_cap, days=store_module.CHANNEL_IDLE_LIFETIME // 86400)


def key_cap_message() -> str:
    """Why another key was refused, in the user's language."""
    return gettext("This channel already has %(max)d public keys, the sandbox's maximum.",
                   max=store_module.KEYS_PER_CHANNEL)


# --------------------------------------------------------------------------- console page (HTML)


def render_console(channel: store_module.Channel | None = None, status: int = 200, values: dict | None = None,
                   errors: dict | None = None, secret: str | None = None, **extra):
    """The console page; with ``channel`` (already authenticated by ``secret``) its details.

    The secret the user just sent (or was just given) is put back in this answer only: in the
    secret field and the hidden fields of the channel's forms, so the next step has it without
    JavaScript. It is never in a URL and never stored (issue 11, issue 13 item 1).
    """
    values = dict(values or {})
    errors = dict(errors or {})
    keys = tokens = bot = None
    now = int(time.time())
    if channel is not None:
        values.setdefault("channel_id", channel.channel_id)
        extra.update(_console_faults_clock_log(channel.channel_id))
        now = extra["channel_clock"]["now"]  # the tokens' expiry as the channel's clock sees it
        keys = get_store().list_keys(channel.channel_id)
        tokens = get_store().valid_tokens(channel.channel_id, now=now)
        bot = _console_bot(channel.channel_id)
    return render_template("sandbox/console.html", channel=channel, keys=keys, tokens=tokens, bot=bot, values=values,
                           errors=errors, secret=secret if channel is not None else None, now=now,
                           limits=_limits(), grace_hours=LONG_LIVED_GRACE_HOURS,
                           sandbox_base_url=public_base_url(), **extra), status


def _console_bot(channel_id: str) -> dict | None:
    """The bot profile the console shows (step 6), as GET /v2/bot/info would answer."""
    bot = get_store().get_bot(channel_id)
    return bot_info_json(bot) if bot else None


def _limits() -> dict:
    """The numbers the console page quotes, from the constants that enforce them."""
    return {"v21": store_module.V21_TOKENS_PER_CHANNEL, "short": store_module.SHORT_LIVED_TOKENS_PER_CHANNEL,
            "max_keys": store_module.KEYS_PER_CHANNEL, "channels": get_store().channel_cap,
            "idle_days": store_module.CHANNEL_IDLE_LIFETIME // 86400, "max_days": get_store().channel_max_age // 86400, "skew": rules.CLOCK_TOLERANCE}


def form_channel() -> tuple[store_module.Channel | None, str, Any]:
    """The channel a console form names, if its posted secret matches: (channel, secret, refusal).

    The refusal is a ready console answer (400 no ID, 401 a missing secret, or an ID and secret that open no
    channel: an unknown ID and a wrong secret alike) that changes nothing; None when the channel is open.
    Past SANDBOX_AUTH_FAILURE_LIMIT it raises TooManyFailures (a 429 console page).
    """
    channel_id = (request.form.get("channel_id") or "").strip()
    secret = (request.form.get("channel_secret") or "").strip()
    values = {"channel_id": channel_id}
    if not CHANNEL_ID.match(channel_id):  # its shape alone: telling it says nothing about which channels exist
        return None, secret, render_console(None, 400, values, {"channel_id": gettext(
            "Enter the channel ID: the 10 digits shown when the channel was created.")})
    if not secret:
        return None, secret, render_console(None, 401, values, {"channel_secret": gettext(
            "Enter the channel secret shown when the channel was created: it is needed to open the channel.")})
    if not secret_opens(channel_id, secret):  # an unknown channel and a wrong secret answer alike (issue 23 item 9)
        return None, secret, render_console(None, 401, values, {"channel_secret": gettext(
            "No sandbox channel has this ID and secret. Check both: use the ID and secret shown when the channel "
            "was created, or create a channel below.")})
    channel = get_store().get_channel(channel_id)
    if channel is None:  # deleted since the secret was checked
        raise ChannelNotFound(channel_id)
    get_store().touch_channel(channel.channel_id)  # the owner's activity keeps the channel (issue 23 item 2)
    return channel, secret, None


def console_form(path: str):
    """Register a console form acting on the channel it names: POST ``path``. The view is called with the channel
    and its secret once form_channel() opened it; form_channel's refusal is the answer otherwise."""
    def register(view):
        @functools.wraps(view)
        def opened():
            channel, secret, refusal = form_channel()
            return refusal if refusal is not None else view(channel, secret)
        return bp.post(path)(opened)
    return register


@bp.get("/")
def console():
    """The console page; ``?channel_id=`` fills in the ID (opening a channel takes its secret, by POST)."""
    channel_id = (request.args.get("channel_id") or "").strip()[:20]
    return render_console(None, values={"channel_id": channel_id} if channel_id else None)


@console_form("/console/open")
def console_open_channel(channel: store_module.Channel, secret: str):
    """Form: open a channel by its ID and secret."""
    return render_console(channel, secret=secret)


@bp.post("/console/channels")
def console_create_channel():
    """Form: create a channel and show its ID and secret."""
    values = {"name": request.form.get("name", "")}
    try:
        channel, secret = service().create_channel(values["name"], client_ip(), channels_per_hour())
    except SigningError as e:
        return render_console(None, 400, values, {"name": translate_error(e)})
    except CapReached:  # no field is wrong: the message says what to do (issue 22 item 8)
        return render_console(None, 409, values, refusal=channel_cap_message())
    except RateLimited as e:
        message, headers = creation_limited(e)
        body, status = render_console(None, 429, values, refusal=message)
        return body, status, headers
    return render_console(channel, 201, secret=secret, created=True)


@console_form("/console/keys")
def console_add_key(channel: store_module.Channel, secret: str):
    """Form: register a public key on the open channel and show its kid."""
    values = {"public_key": request.form.get("public_key", "")}
    try:
        key = service().register_key(channel.channel_id, values["public_key"])
    except SigningError as e:
        return render_console(channel, 400, values, {"public_key": translate_error(e)}, secret=secret)
    except CapReached:
        return render_console(channel, 400, values, {"public_key": key_cap_message()}, secret=secret)
    return render_console(channel, 201, secret=secret, new_kid=key.kid)


@console_form("/console/keys/delete")
def console_delete_key(channel: store_module.Channel, secret: str):
    """Form: remove a registered key from the open channel."""
    kid = (request.form.get("kid") or "").strip()
    if not service().delete_key(channel.channel_id, kid):
        return render_console(channel, 404, errors={"kid": gettext(
            "Channel %(id)s has no public key with the kid %(kid)s.", id=channel.channel_id, kid=kid[:40])},
            secret=secret)
    return render_console(channel, secret=secret, notice=gettext("The public key %(kid)s was removed.", kid=kid))


@console_form("/console/long-lived")
def console_issue_long_lived(channel: store_module.Channel, secret: str):
    """Form: issue or reissue the channel's long-lived token and show it."""
    raw = (request.form.get("keep_old_hours") or "0").strip()
    try:
        hours = rules.whole_number(raw)
        hours = -1 if hours is None else hours
        token, previous_until = service().issue_long_lived(channel.channel_id, hours)
    except SigningError as e:
        return render_console(channel, 400, {"keep_old_hours": raw}, {"keep_old_hours": translate_error(e)},
                              secret=secret)
    return render_console(channel, 201, secret=secret, long_lived_token=token, previous_until=previous_until)


@console_form("/console/revoke")
def console_revoke_all(channel: store_module.Channel, secret: str):
    """Form: revoke every token of the open channel."""
    revoked = service().revoke_all(channel.channel_id)
    return render_console(channel, secret=secret,
                          notice=ngettext("Revoked %(num)d valid token.", "Revoked %(num)d valid tokens.", revoked))


@console_form("/console/delete")
def console_delete_channel(channel: store_module.Channel, _secret: str):
    """Form: delete the open channel with its keys and tokens."""
    get_store().delete_channel(channel.channel_id)
    return render_console(None, deleted_id=channel.channel_id,
                          notice=gettext("Channel %(id)s and its keys and tokens were deleted.", id=channel.channel_id))

# --------------------------------------------------------------------------- step 6: the Messaging API's bot calls
#
# GET /v2/bot/info, /v2/bot/message/quota and /v2/bot/message/quota/consumption
# (docs/line-api.md §10): any token the sandbox issued for a channel, still valid,
# gets that channel's bot; anything else LINE's 401s. Plus the bot's generated
# picture and the console form that sets the bot's name and modes.

# A stateless token's JWS header: {"alg":"HS256","typ":"JWT"}.
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")


class BotAuthError(LineError):
    """A Messaging API 401: LINE's ``{"message": ...}``, sent with an X-Line-Request-Id."""


def auth_error(message: str) -> NoReturn:
    raise BotAuthError({"message": message}, 401)


@bp.errorhandler(BotAuthError)
def bot_auth_error(e: BotAuthError):
    return messaging_answer(e.body, e.status)


def bearer_channel() -> str:
    """The channel whose valid token is in ``Authorization: Bearer``; else LINE's 401 (§10)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        auth_error(AUTH_HEADER_REQUIRED)
    if not v2_token_well_formed(token):  # too long, or characters no token has
        auth_error(AUTH_MALFORMED)
    now = request_now()
    record = find_token_once(token)
    if record is not None:
        if record.expires_in(now) > 0:
            return record.channel_id
        auth_error(AUTH_FAILED)
    channel_id = service().stateless_channel(token, now)
    if channel_id is None:
        auth_error(AUTH_FAILED)
    return channel_id


def bot_user_id(channel_id: str) -> str:
    """The bot's userId: "U" + 32 hex, fixed per channel."""
    return "U" + hashlib.sha256(b"sandbox bot user:" + channel_id.encode()).hexdigest()[:32]


def bot_basic_id(channel_id: str) -> str:
    """The bot's basic ID: "@" + 3 digits + 5 letters (8 characters), fixed per channel."""
    digest = hashlib.sha256(b"sandbox bot basic id:" + channel_id.encode()).digest()
    digits = f"{int.from_bytes(digest[:4], 'big') % 1000:03d}"
    return "@" + digits + "".join(chr(ord("a") + b % 26) for b in digest[4:9])


def bot_display_name(bot: store_module.BotProfile) -> str:
    """The bot's name: as set in the console, else the channel's name, else one made from its ID."""
    return bot.display_name or f"Sandbox bot {bot.channel_id}"


def bot_info_json(bot: store_module.BotProfile) -> dict:
    """GET /v2/bot/info's body for a channel's bot (§10)."""
    user_id = bot_user_id(bot.channel_id)
    # In-process calls (the proxy pages) come from http://sandbox.internal; the picture must
    # load in the person's browser, so it names the address they reached this app at.
    base = request.environ.get("line_client.public_base") or request.host_url
    return {"userId": user_id, "basicId": bot_basic_id(bot.channel_id), "displayName": bot_display_name(bot),
            "pictureUrl": base.rstrip("/") + url_for("sandbox.bot_picture", user_id=user_id),
            "chatMode": bot.chat_mode, "markAsReadMode": bot.mark_as_read_mode}


def messaging_answer(body: dict, status: int = 200) -> Response:
    """A Messaging API answer: JSON with an X-Line-Request-Id, as LINE sends (§0, §10)."""
    response = jsonify(body)
    response.status_code = status
    response.headers["X-Line-Request-Id"] = str(uuid.uuid4())
    return response


def _bot_for_request() -> store_module.BotProfile:
    channel_id = bearer_channel()
    bot = get_store().get_bot(channel_id)
    if bot is None:  # the channel was deleted after the token was issued
        auth_error(AUTH_FAILED)
    return bot


@line_endpoint("bot_info")
def bot_info():
    """GET /v2/bot/info: the bot of the token's channel (§10)."""
    return messaging_answer(bot_info_json(_bot_for_request()))


@line_endpoint("quota")
def message_quota():
    """GET /v2/bot/message/quota: the sandbox sends nothing, so no limit (§10)."""
    _bot_for_request()
    return messaging_answer({"type": "none"})


@line_endpoint("quota_consumption")
def message_quota_consumption():
    """GET /v2/bot/message/quota/consumption: the sandbox sends nothing, so 0 (§10)."""
    _bot_for_request()
    return messaging_answer({"totalUsage": 0})


_PICTURE_COLOURS = ("#06c755", "#0a7d3b", "#1f6feb", "#8250df", "#bf3989", "#d1242f", "#bc4c00", "#4d2d00")


@bp.get("/bot-profile/<user_id>/picture")
def bot_picture(user_id: str):
    """The bot's picture: a 5x5 symmetric pattern drawn from its userId, as SVG (no lookup, no secrets)."""
    if not _USER_ID.match(user_id):
        abort(404)
    digest = hashlib.sha256(user_id.encode("ascii")).digest()
    colour = _PICTURE_COLOURS[digest[0] % len(_PICTURE_COLOURS)]
    cells = []
    for row in range(5):
        for col in range(3):
            if digest[1 + row * 3 + col] % 2:
                for x in {col, 4 - col}:
                    cells.append(f'<rect x="{40 + x * 32}" y="{40 + row * 32}" width="32" height="32"/>')
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="240" viewBox="0 0 240 240">'
           f'<rect width="240" height="240" fill="#f2f4f5"/><g fill="{colour}">{"".join(cells)}</g></svg>')
    response = Response(svg, 200, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


# --------------------------------------------------------------------------- the OpenAPI document (issue 21 item 7)

# Beside this module: package data, in the wheel too (pyproject.toml). tests/test_openapi.py and the bench read it here.
OPENAPI_DOCUMENT = os.path.join(os.path.dirname(__file__), "openapi.json")


@functools.cache
def _openapi_document() -> dict:
    """The OpenAPI 3.1 document of what the sandbox answers (written from docs/line-api.md), read once."""
    with open(OPENAPI_DOCUMENT, encoding="utf-8") as f:
        return json.load(f)


@bp.get("/openapi.json")
def openapi_document():
    """GET /openapi.json: the document, its first server this sandbox's base URL (then LINE's own)."""
    document = _openapi_document()
    servers = [{"url": public_base_url(), "description": "this sandbox"}, *document["servers"]]
    response = jsonify({**document, "servers": servers})
    response.headers["Access-Control-Allow-Origin"] = "*"  # viewers such as Swagger UI load it from elsewhere
    return response


def check_bot_form(form) -> tuple[str, str, str]:
    """The console's bot form as (display name, chat mode, read mode); SigningError names the field."""
    name = form.get("display_name", "")
    if len(name) > store_module.MAX_NAME_LENGTH or UNSTORABLE.search(name):
        raise SigningError("display_name", signing.N_(
            "The bot's name must be text of at most %(max)d characters, without control characters."),
            max=store_module.MAX_NAME_LENGTH)
    chat_mode = form.get("chat_mode", "")
    if chat_mode not in store_module.BOT_CHAT_MODES:
        raise SigningError("chat_mode", signing.N_("Choose the chat mode: bot or chat."))
    read_mode = form.get("mark_as_read_mode", "")
    if read_mode not in store_module.BOT_READ_MODES:
        raise SigningError("mark_as_read_mode", signing.N_("Choose the read mode: auto or manual."))
    return name.strip(), chat_mode, read_mode


@console_form("/console/bot")
def console_set_bot(channel: store_module.Channel, secret: str):
    """Form: set the open channel's bot name, chat mode and read mode (the channel secret required)."""
    values = {k: request.form.get(k, "") for k in ("display_name", "chat_mode", "mark_as_read_mode")}
    try:
        name, chat_mode, read_mode = check_bot_form(request.form)
        get_store().set_bot(channel.channel_id, name, chat_mode, read_mode)
    except SigningError as e:
        return render_console(channel, 400, values, {e.field: translate_error(e)}, secret=secret)
    return render_console(channel, secret=secret, notice=gettext("The bot profile was saved."))


# --------------------------------------------------------------------------- faults, clock and request log (issue 21)
#
# Per channel, behind the channel's secret like the rest of the admin API. The channel of a call of LINE's
# paths is the one it names: client_id, the assertion's iss, or the token's channel (access_token, Bearer).
# Before the view: its clock's offset gives the call's time (request_now) and a pending fault on its path
# answers instead (faults.py). After: one entry in its request log (reqlog.py), written with the answer's
# X-Line-Request-Id. State is in the store, so every worker and instance sees the same.

# LINE's endpoints (and the bot calls) by view, with LINE's path: what faults and the log name.
LINE_PATHS = {
    "sandbox.issue_v21": "/oauth2/v2.1/token", "sandbox.valid_key_ids": "/oauth2/v2.1/tokens/kid",
    "sandbox.verify_v21": "/oauth2/v2.1/verify", "sandbox.revoke_v21": "/oauth2/v2.1/revoke",
    "sandbox.issue_stateless": "/oauth2/v3/token", "sandbox.issue_short_lived": "/v2/oauth/accessToken",
    "sandbox.verify_short_lived": "/v2/oauth/verify", "sandbox.revoke_short_lived": "/v2/oauth/revoke",
    "sandbox.bot_info": "/v2/bot/info", "sandbox.message_quota": "/v2/bot/message/quota",
    "sandbox.message_quota_consumption": "/v2/bot/message/quota/consumption",
}
assert set(LINE_PATHS.values()) == set(faults_module.FAULT_PATHS)

# Requests held by a fault's delay at once, per process. Under gevent (the Procfile's workers) a sleep is
# cooperative and costs a greenlet; under a threaded server it holds a thread, so only two may sleep at once
# there and the server keeps answering. A delayed call over the bound is answered without its delay.
_COOPERATIVE_DELAYS = 64
_THREADED_DELAYS = 2
_delay_slots: Any = None


def request_now() -> int:
    """This call's time: real time plus its channel's clock offset (real time when no channel is known)."""
    now = g.get("sandbox_now")
    return int(time.time()) if now is None else now


def find_token_once(token: str) -> store_module.Token | None:
    """``store.find_token`` once per request: the channel lookup before the view already made it."""
    memo = g.get("sandbox_token")
    if memo is not None and memo[0] == token:
        return memo[1]
    record = get_store().find_token(token)
    g.sandbox_token = (token, record)
    return record


def _call_fields() -> list[tuple[str, str]]:
    source = request.args if request.method == "GET" else request.form
    return list(source.items(multi=True))


def channel_of_call() -> str | None:
    """The channel a call of LINE's paths is for, cheaply and without judging it (the view does that)."""
    if request.endpoint in ("sandbox.bot_info", "sandbox.message_quota", "sandbox.message_quota_consumption"):
        # The bot calls take their token only in the header (§10), whatever the query string says.
        scheme, _, bearer = request.headers.get("Authorization", "").strip().partition(" ")
        token = bearer.strip() if scheme.lower() == "bearer" else None
        if not token or not v2_token_well_formed(token):
            return None
        record = find_token_once(token)
        if record is not None:
            return record.channel_id
        return service().stateless_channel(token, 0)  # its signature only; the view checks its expiry
    # A body over the budget raises BodyTooComplex here, answered as the view would have (the parse is not retried:
    # werkzeug has consumed the stream by then).
    client_id = param("client_id")
    assertion = param("client_assertion")
    token = param("access_token")
    if client_id and CHANNEL_ID.match(client_id):
        return client_id
    if assertion and len(assertion) <= 8192:
        try:
            _header, payload = signing.decode_unverified(assertion)
        except (SigningError, RecursionError, ValueError):
            return None
        iss = payload.get("iss") if isinstance(payload, dict) else None
        return iss if isinstance(iss, str) and CHANNEL_ID.match(iss) else None
    if token and v2_token_well_formed(token):
        record = find_token_once(token)
        return record.channel_id if record is not None else None
    return None


def _delay_slots_for_process():
    global _delay_slots
    if _delay_slots is None:
        import sys
        import threading

        cooperative = False
        if "gevent.monkey" in sys.modules:
            cooperative = bool(sys.modules["gevent.monkey"].is_module_patched("time"))
        _delay_slots = threading.BoundedSemaphore(_COOPERATIVE_DELAYS if cooperative else _THREADED_DELAYS)
    return _delay_slots


def apply_fault(fault: faults_module.Fault) -> Response | None:
    """Wait the fault's delay (bounded, see _delay_slots), then LINE's answer for its status (None: the real one)."""
    if fault.delay_ms:
        slots = _delay_slots_for_process()
        if slots.acquire(blocking=False):
            try:
                time.sleep(min(fault.delay_ms / 1000, faults_module.MAX_DELAY_SECONDS))
            finally:
                slots.release()
    if fault.status is None:
        return None
    status, body, headers = faults_module.fault_answer(fault)
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def line_call_context() -> Response | None:
    """Before each of LINE's endpoints: the call's channel and time, and a pending fault's answer if one is due."""
    path = LINE_PATHS.get(request.endpoint or "")
    if path is None:
        return None
    g.sandbox_now = int(time.time())
    channel_id = g.sandbox_channel = channel_of_call()
    if channel_id is None:
        return None
    store = get_store()
    ahead, has_faults = faults_module.channel_state(store, channel_id)
    g.sandbox_now += ahead
    if has_faults:
        fault = faults_module.take_fault(store, channel_id, path)
        if fault is not None:
            return apply_fault(fault)
    return None


def log_call(response: Response, request_id: str) -> None:
    """After each of LINE's endpoints: an entry in its channel's request log (never a secret; reqlog.py)."""
    path = LINE_PATHS.get(request.endpoint or "")
    channel_id = g.get("sandbox_channel")
    if path is None or channel_id is None:
        return
    try:
        fields = reqlog.mask_fields(_call_fields(), request.headers.get("Authorization"))
    except BodyTooComplex:
        fields = {}
    body = response.get_data() if not response.direct_passthrough else b""
    try:
        reqlog.record(get_store(), channel_id, at=int(time.time()), method=request.method, path=path,
                      status=response.status_code, error=reqlog.error_of(response.status_code, body, response.mimetype),
                      request_id=request_id, user_agent=request.headers.get("User-Agent"), fields=fields)
    except StoreUnavailable:
        pass  # the answer goes out; one entry is missing from the log


@bp.post("/api/channels/<channel_id>/faults")
def api_add_fault(channel_id: str):
    """Add a fault: 201 with it. Body {"path", "status" (429, 500, 503), "count", "delay_seconds", "retry_after"}."""
    require_json()
    channel = require_channel_secret(channel_id)
    try:
        body = json_body(optional=False, what=gettext(
            'Send the fault as a JSON object, e.g. {"path": "/oauth2/v2.1/token", "status": 429, "count": 2}.'))
        fault = faults_module.add_fault(get_store(), channel.channel_id, body)
    except _BadBody as e:
        return admin_error("invalid_request", str(e), 400, field="body")
    except SigningError as e:
        return admin_error("invalid_request", translate_error(e), 400, field=e.field)
    except CapReached:
        return admin_error("limit_reached", fault_cap_message(), 409)
    return jsonify(fault.as_json()), 201


@bp.get("/api/channels/<channel_id>/faults")
def api_list_faults(channel_id: str):
    """The channel's pending faults, in the order they fire: {"faults": [...]}."""
    channel = require_channel_secret(channel_id)
    return jsonify({"faults": [f.as_json() for f in faults_module.list_faults(get_store(), channel.channel_id)]})


@bp.delete("/api/channels/<channel_id>/faults")
def api_clear_faults(channel_id: str):
    """Clear the channel's pending faults: {"cleared": <how many rules>}."""
    channel = require_channel_secret(channel_id)
    return jsonify({"cleared": faults_module.clear_faults(get_store(), channel.channel_id)})


@bp.post("/api/channels/<channel_id>/clock")
def api_advance_clock(channel_id: str):
    """Move the channel's clock forward: body {"advance_seconds": N}; answers as GET."""
    require_json()
    channel = require_channel_secret(channel_id)
    try:
        body = json_body(optional=False, what=gettext(
            'Send {"advance_seconds": N} as a JSON object: how many seconds the channel\'s clock moves forward.'))
        clock_module.advance(get_store(), channel.channel_id, body.get("advance_seconds"))
    except _BadBody as e:
        return admin_error("invalid_request", str(e), 400, field="body")
    except SigningError as e:
        return admin_error("invalid_request", translate_error(e), 400, field=e.field)
    return jsonify(clock_module.clock_json(get_store(), channel.channel_id))


@bp.get("/api/channels/<channel_id>/clock")
def api_get_clock(channel_id: str):
    """The channel's time: {"channel_id", "now", "offset_seconds", "real_now"} (epoch seconds)."""
    channel = require_channel_secret(channel_id)
    return jsonify(clock_module.clock_json(get_store(), channel.channel_id))


@bp.delete("/api/channels/<channel_id>/clock")
def api_reset_clock(channel_id: str):
    """Return the channel to real time; answers as GET."""
    channel = require_channel_secret(channel_id)
    clock_module.reset(get_store(), channel.channel_id)
    return jsonify(clock_module.clock_json(get_store(), channel.channel_id))


@bp.get("/api/channels/<channel_id>/log")
def api_request_log(channel_id: str):
    """The channel's request log, newest first: {"entries": [...]} (at most reqlog.LOG_KEPT; secrets masked)."""
    channel = require_channel_secret(channel_id)
    return jsonify({"entries": reqlog.entries(get_store(), channel.channel_id)})


def fault_cap_message() -> str:
    return gettext("This channel already has %(max)d pending faults, the sandbox's maximum: clear them first.",
                   max=faults_module.MAX_PENDING_FAULTS)


def _console_faults_clock_log(channel_id: str) -> dict:
    """What the console shows of a channel's faults, clock and request log."""
    store = get_store()
    return {"faults": faults_module.list_faults(store, channel_id),
            "channel_clock": clock_module.clock_json(store, channel_id),
            "request_log": reqlog.entries(store, channel_id, 50), "fault_paths": faults_module.FAULT_PATHS,
            "fault_statuses": faults_module.FAULT_STATUSES, "log_kept": reqlog.LOG_KEPT}


def _form_number(name: str, default: str = "") -> Any:
    """A console form's number as the admin API's JSON would give it (rules.form_number)."""
    return rules.form_number(request.form.get(name) or default)


@console_form("/console/faults")
def console_add_fault(channel: store_module.Channel, secret: str):
    """Form: add a fault on the open channel."""
    values = {k: request.form.get(k, "") for k in ("path", "status", "count", "delay_seconds")}
    data = {"path": values["path"], "status": _form_number("status"), "count": _form_number("count", "1"),
            "delay_seconds": _form_number("delay_seconds", "0")}
    if data["status"] is None:
        del data["status"]
    try:
        faults_module.add_fault(get_store(), channel.channel_id, data)
    except SigningError as e:
        return render_console(channel, 400, values, {e.field: translate_error(e)}, secret=secret)
    except CapReached:
        return render_console(channel, 409, values, {"path": fault_cap_message()}, secret=secret)
    return render_console(channel, 201, secret=secret, notice=gettext("The fault was added."))


@console_form("/console/faults/clear")
def console_clear_faults(channel: store_module.Channel, secret: str):
    """Form: clear the open channel's pending faults."""
    faults_module.clear_faults(get_store(), channel.channel_id)
    return render_console(channel, secret=secret, notice=gettext("The pending faults were cleared."))


@console_form("/console/clock")
def console_advance_clock(channel: store_module.Channel, secret: str):
    """Form: move the open channel's clock forward."""
    raw = request.form.get("advance_seconds", "")
    try:
        clock_module.advance(get_store(), channel.channel_id, _form_number("advance_seconds"))
    except SigningError as e:
        return render_console(channel, 400, {"advance_seconds": raw}, {e.field: translate_error(e)}, secret=secret)
    return render_console(channel, secret=secret, notice=gettext("The channel's clock moved forward."))


@console_form("/console/clock/reset")
def console_reset_clock(channel: store_module.Channel, secret: str):
    """Form: return the open channel to real time."""
    clock_module.reset(get_store(), channel.channel_id)
    return render_console(channel, secret=secret, notice=gettext("The channel is back on real time."))


# --------------------------------------------------------------------------- wiring


@bp.before_request
def only_when_enabled():
    """Every sandbox URL is a 404 when SANDBOX_ENABLED is off (the routes stay, so url_for works)."""
    if not sandbox_enabled():
        abort(404)


@bp.before_request
def housekeeping():
    """Purge what the documented bounds no longer keep, at most once a minute across processes (store.housekeep),
    in its own transaction: a request that is then refused rolls nothing of it back (issue 23 item 5)."""
    try:
        get_store().housekeep()
    except StoreUnavailable:  # busy: the next due request tries again; this one is served
        pass


bp.before_request(line_call_context)  # after only_when_enabled: a disabled sandbox takes no fault


@bp.after_request
def line_request_id(response: Response) -> Response:
    """LINE puts an X-Line-Request-Id on every answer (docs/line-api.md §0); one fresh ID per answer.

    Calls of LINE's paths are logged here, with that ID (issue 21)."""
    request_id = response.headers["X-Line-Request-Id"] = str(uuid.uuid4())
    log_call(response, request_id)
    return response


@bp.errorhandler(LineError)
def line_error(e: LineError):
    """LINE's error body and status, exactly."""
    return jsonify(e.body), e.status


@bp.errorhandler(TooManyFailures)
def too_many_failures(e: TooManyFailures):
    """429 with Retry-After past SANDBOX_AUTH_FAILURE_LIMIT: the console page, the admin API's JSON, or
    LINE's ``{"message"}`` shape on LINE's endpoints."""
    message, headers = too_many_failures_message(e), {"Retry-After": str(e.retry_after)}
    endpoint = request.endpoint or ""
    if endpoint.startswith("sandbox.console_"):
        body, status = render_console(None, 429, {"channel_id": (request.form.get("channel_id") or "")[:20]},
                                      refusal=message)
        return body, status, headers
    if endpoint.startswith("sandbox.api_"):
        response, status = admin_error("too_many_failures", message, 429)
    else:
        response, status = jsonify({"message": message}), 429
    response.headers.update(headers)
    return response, status


@bp.errorhandler(AdminRefused)
def admin_refused(e: AdminRefused):
    """An admin call refused before it changed anything (401 with WWW-Authenticate, 415)."""
    response, status = admin_error(e.code, e.message, e.status, **e.extra)
    response.headers.update(e.headers)
    return response, status


@bp.errorhandler(ChannelNotFound)
def unknown_channel(e: ChannelNotFound):
    """A JSON 404 naming the channel (raised by the admin API, or a channel deleted mid-request)."""
    channel_id = str(e.args[0] if e.args else "")[:20]
    if "/console/" in request.path:  # a console form: the console again, with the message
        return render_console(None, 404, {"channel_id": channel_id}, {"channel_id": gettext(
            "No sandbox channel has the ID %(id)s. Check the ID, or create a channel below.", id=channel_id)})
    return admin_error("not_found", gettext("No sandbox channel has the ID %(id)s.", id=channel_id), 404)


@bp.errorhandler(StoreUnavailable)
def store_unavailable(e: StoreUnavailable):
    """503 with Retry-After when the database stays locked or unreachable; never a traceback."""
    message = gettext("The sandbox database is busy; try again in a moment.")
    if wants_json() or current_app.config.get("SANDBOX_ONLY"):
        response, status = json_error("temporarily_unavailable", message, 503)
    else:
        response, status = render_template("errors/http.html", code=503, title=gettext("Busy"),
                                           message=message), 503
    response = current_app.make_response((response, status))
    response.headers["Retry-After"] = "1"
    return response


def public_base_url() -> str:
    """Where people and SDKs reach the sandbox: its own origin when one is configured, else /sandbox here.

    SANDBOX_HOST gives ``scheme://SANDBOX_HOST``; SANDBOX_PORT gives this request's host name on that
    port. Pages, curl lines and snippets show this, so LINE's SDKs (which keep only the origin of a
    base URL, docs/line-api.md §0) work as shown.
    """
    config = current_app.config
    if config.get("SANDBOX_ONLY"):
        return request.host_url.rstrip("/")
    if config.get("SANDBOX_HOST"):
        return f"{request.scheme}://{config['SANDBOX_HOST']}"
    if config.get("SANDBOX_PORT"):
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        return f"http://{host}:{config['SANDBOX_PORT']}"
    return request.host_url.rstrip("/") + "/sandbox"


def _env_int(name: str, default: int) -> int:
    value = (os.environ.get(name) or "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        return default


def public_deploy(config) -> bool:
    """Whether the app runs for the public: TRUST_PROXY is set (a proxy in front; app.json sets it)."""
    try:
        return trust_proxy_hops(config.get("TRUST_PROXY", os.environ.get("TRUST_PROXY", ""))) > 0
    except ValueError:  # unreadable: assume the public (web/app.py refuses to start on it anyway)
        return True


def configure(app: Flask) -> None:
    """The sandbox's settings from the environment, unless the app's config (tests) set them."""
    # Per client and hour: 20 on a public deploy (TRUST_PROXY set, or app.json's own SANDBOX_CHANNELS_PER_HOUR),
    # none for one person on their own machine (./scripts/start, line-token sandbox serve). Deciding by the
    # client's address would not do: behind a proxy on the same host every client is loopback (issue 22 item 8).
    app.config.setdefault("SANDBOX_CHANNELS_PER_HOUR",
                          _env_int("SANDBOX_CHANNELS_PER_HOUR", 20 if public_deploy(app.config) else 0))
    # Failed authentications (wrong channel ID or secret) per client, then 429 (issue 23 item 10); empty: off.
    limit = app.config.setdefault("SANDBOX_AUTH_FAILURE_LIMIT",
                                  os.environ.get("SANDBOX_AUTH_FAILURE_LIMIT", "30/minute").strip())
    if limit and not RATE_LIMIT_SYNTAX.fullmatch(limit):
        raise RuntimeError(f"SANDBOX_AUTH_FAILURE_LIMIT={limit!r}: give one limit such as 30/minute or 100/hour; "
                           "empty turns it off")
    # Unset: store.py's constants (1,000 channels, 90 days, 60 s).
    for name in ("SANDBOX_MAX_CHANNELS", "SANDBOX_CHANNEL_MAX_DAYS", "SANDBOX_HOUSEKEEPING_SECONDS"):
        value = (os.environ.get(name) or "").strip()
        if name not in app.config and value:
            number = rules.whole_number(value)  # the rules table's one number parser
            if number is None:
                raise RuntimeError(f"{name}={value!r}: give a whole number")
            app.config[name] = number
    # LINE's documented rate for /v2/oauth/accessToken is 370 per second per channel (§6); 0 = off.
    app.config.setdefault("SANDBOX_SHORT_LIVED_PER_SECOND", _env_int("SANDBOX_SHORT_LIVED_PER_SECOND", 0))
    app.config.setdefault("SANDBOX_PORT", (os.environ.get("SANDBOX_PORT") or "").strip())
    app.config.setdefault("SANDBOX_HOST", (os.environ.get("SANDBOX_HOST") or "").strip().lower())


# The views scripts post to (SDK clients, curl, the tests), not our pages' forms: LINE's endpoints take
# form-encoded bodies as api.line.me does, and the admin API is for scripts. No cookie carries authority
# there, so CSRF has nothing to protect. The one list of Flask-WTF exemptions (the app that mounts the sandbox exempts them); GET routes need none.
SCRIPT_ENDPOINTS = (issue_v21, revoke_v21, issue_stateless, issue_short_lived, verify_short_lived,
                    revoke_short_lived, api_create_channel, api_add_key, api_delete_key, api_delete_channel,
                    api_revoke_all, api_issue_long_lived, api_add_fault, api_clear_faults, api_advance_clock,
                    api_reset_clock,
                    api_import_channels)


def init_app(app: Flask) -> None:
    """Open the store (lazily: tables appear on first use), mount the Blueprint at /sandbox and,
    with SANDBOX_PORT or SANDBOX_HOST, serve the sandbox-only app on its own origin."""
    configure(app)
    app.extensions["sandbox_store"] = store_module.open_store(app.config)
    app.register_blueprint(bp, url_prefix=SANDBOX_PREFIX)

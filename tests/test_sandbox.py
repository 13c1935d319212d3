"""The sandbox's LINE endpoints, admin API and console page, through Flask's test client,
on SQLite and PostgreSQL. Every body compared here is LINE's (docs/line-api.md §3, §5, §9)."""
from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import pytest

from line_token.core import signing
from line_token.sandbox import store as store_module
from forge import forge
from pg import backend, postgres  # noqa: F401  (fixtures)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PARAMS_INVALID = {"error": "invalid_request", "error_description": "some parameters missed or invalid"}
TOKEN_LIMIT = {"message": "The maximum number of access tokens has already been issued"}
KEY_NOT_FOUND = {"message": "Cannot find channel key that satisfies the conditions"}


def invalid_client(description: str) -> dict:
    return {"error": "invalid_client", "error_description": description}


def invalid_request(description: str) -> dict:
    return {"error": "invalid_request", "error_description": description}


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def keypairs():
    """Two RSA-2048 pairs (the expensive part), shared by the module: (private key, public JWK)."""
    pairs = []
    for _ in range(2):
        private, public = signing.generate_key_pair()
        pairs.append((signing.load_private_key(private), public))
    return pairs


@pytest.fixture
def app(backend):
    """The app on a fresh sandbox database of each backend (overrides conftest's ``app``)."""
    from line_token import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test", **backend})
    yield app
    app.extensions["sandbox_store"].dispose()


def create(client) -> tuple[str, str]:
    """A new channel through the admin API: (channel ID, channel secret)."""
    r = client.post("/sandbox/api/channels", json={})
    assert r.status_code == 201, r.json
    return r.json["channel_id"], r.json["channel_secret"]


def make_channel(client, keypair) -> SimpleNamespace:
    """Create a channel and register ``keypair``'s public key through the admin API."""
    created = client.post("/sandbox/api/channels", json={"name": "test"})
    assert created.status_code == 201, created.json
    channel_id, secret = created.json["channel_id"], created.json["channel_secret"]
    registered = client.post(f"/sandbox/api/channels/{channel_id}/keys", json=keypair[1], auth=(channel_id, secret))
    assert registered.status_code == 201, registered.json
    return SimpleNamespace(id=channel_id, secret=secret, kid=registered.json["kid"], key=keypair[0])


@pytest.fixture
def channel(client, keypairs):
    return make_channel(client, keypairs[0])


def assertion(channel, header: dict | None = None, drop: tuple = (), key=None, **claims) -> str:
    """A signed assertion for ``channel``; ``header``/``claims`` override LINE's defaults, ``drop`` removes."""
    now = int(time.time())
    head = {"alg": "RS256", "typ": "JWT", "kid": channel.kid, **(header or {})}
    payload = {"iss": channel.id, "sub": channel.id, "aud": "https://api.line.me/", "exp": now + 1800,
               "token_exp": 86400, **claims}
    for name in drop:
        head.pop(name, None)
        payload.pop(name, None)
    return forge(head, payload, key or channel.key)  # any header: our own signer makes only good ones


def issue(client, jwt: str, **extra):
    return client.post("/sandbox/oauth2/v2.1/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": jwt, **extra})


def kids(client, jwt: str):
    return client.get("/sandbox/oauth2/v2.1/tokens/kid",
                      query_string={"client_assertion_type": ASSERTION_TYPE, "client_assertion": jwt})


def verify(client, token: str):
    return client.get("/sandbox/oauth2/v2.1/verify", query_string={"access_token": token})


def revoke(client, channel, token: str, **override):
    return client.post("/sandbox/oauth2/v2.1/revoke", data={
        "client_id": channel.id, "client_secret": channel.secret, "access_token": token, **override})


def short_lived(client, channel, **override):
    return client.post("/sandbox/v2/oauth/accessToken", data={
        "grant_type": "client_credentials", "client_id": channel.id, "client_secret": channel.secret, **override})


# --------------------------------------------------------------------------- v2.1 issue and verify


def test_v21_issue_answers_lines_shape(client, channel):
    r = issue(client, assertion(channel, token_exp=3600))
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.json
    assert set(body) == {"access_token", "expires_in", "token_type", "key_id"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", body["key_id"])
    parts = body["access_token"].split(".")
    assert len(parts) == 3 and json.loads(signing._b64u_decode(parts[0])) == {"alg": "HS256"}

    v = verify(client, body["access_token"])
    assert v.status_code == 200
    assert v.json["client_id"] == channel.id and isinstance(v.json["client_id"], str)
    assert isinstance(v.json["expires_in"], int) and 3590 <= v.json["expires_in"] <= 3600
    assert v.json["scope"] == "profile chat_message.write"


def test_numeric_strings_are_accepted_for_exp_and_token_exp(client, channel):
    r = issue(client, assertion(channel, exp=str(int(time.time()) + 600), token_exp="2592000"))
    assert r.status_code == 200 and r.json["expires_in"] == 2592000


def test_exp_exactly_at_the_limit_is_accepted_one_second_more_is_not(client, channel, monkeypatch):
    """§9: exp at most 30 min ahead plus 60 s of skew; the boundary itself is inside."""
    now = int(time.time())
    monkeypatch.setattr(time, "time", lambda: float(now))
    assert issue(client, assertion(channel, exp=now + 1800 + 60)).status_code == 200
    r = issue(client, assertion(channel, exp=now + 1800 + 61))
    assert (r.status_code, r.json) == (400, invalid_client("Invalid exp"))
    r = issue(client, assertion(channel, exp=now))  # exp must be in the future
    assert (r.status_code, r.json) == (400, invalid_client("Invalid exp"))


def test_exp_allows_sixty_seconds_of_skew(client, channel):
    assert issue(client, assertion(channel, exp=int(time.time()) + 1800 + 30)).status_code == 200
    r = issue(client, assertion(channel, exp=int(time.time()) + 1800 + 90))
    assert (r.status_code, r.json) == (400, invalid_client("Invalid exp"))


FAILURES = [
    # (case, assertion builder, status, LINE's body)
    ("not a JWT", lambda c, o: "not-a-jwt", 400, invalid_client("Invalid assertion")),
    ("undecodable", lambda c, o: "a.b.c", 400, invalid_client("Invalid assertion")),
    ("alg HS256", lambda c, o: assertion(c, header={"alg": "HS256"}), 400, invalid_client("Invalid alg")),
    ("alg none", lambda c, o: assertion(c, header={"alg": "none"}), 400, invalid_client("Invalid alg")),
    ("typ missing", lambda c, o: assertion(c, drop=("typ",)), 400, invalid_client("Invalid typ")),
    ("typ JWS", lambda c, o: assertion(c, header={"typ": "JWS"}), 400, invalid_client("Invalid typ")),
    ("kid unknown", lambda c, o: assertion(c, header={"kid": "00000000-0000-4000-8000-000000000000"}), 404, KEY_NOT_FOUND),
    ("kid missing", lambda c, o: assertion(c, drop=("kid",)), 404, KEY_NOT_FOUND),
    ("kid of another channel", lambda c, o: assertion(c, iss=o.id, sub=o.id), 400,
     invalid_client("iss and clientId of key do not match")),
    ("iss missing", lambda c, o: assertion(c, drop=("iss",)), 400, invalid_client("iss and clientId of key do not match")),
    ("signed by another key", lambda c, o: assertion(c, key=o.key), 400, invalid_client("Invalid signature")),
    ("sub differs", lambda c, o: assertion(c, sub="1234567890"), 400, invalid_client("Invalid sub")),
    ("aud without slash", lambda c, o: assertion(c, aud="https://api.line.me"), 400, invalid_client("Invalid aud")),
    ("aud as a list", lambda c, o: assertion(c, aud=["https://api.line.me/"]), 400, invalid_client("Invalid aud")),
    ("exp past", lambda c, o: assertion(c, exp=int(time.time()) - 5), 400, invalid_client("Invalid exp")),
    ("exp missing", lambda c, o: assertion(c, drop=("exp",)), 400, invalid_client("Invalid exp")),
    ("exp text", lambda c, o: assertion(c, exp="soon"), 400, invalid_client("Invalid exp")),
    ("exp an hour ahead", lambda c, o: assertion(c, exp=int(time.time()) + 3600), 400, invalid_client("Invalid exp")),
    ("token_exp missing", lambda c, o: assertion(c, drop=("token_exp",)), 400, invalid_request("Invalid token_exp")),
    ("token_exp zero", lambda c, o: assertion(c, token_exp=0), 400, invalid_request("Invalid token_exp")),
    ("token_exp negative", lambda c, o: assertion(c, token_exp=-60), 400, invalid_request("Invalid token_exp")),
    ("token_exp over 30 days", lambda c, o: assertion(c, token_exp=2592001), 400, invalid_request("Invalid token_exp")),
    ("token_exp fraction", lambda c, o: assertion(c, token_exp=1.5), 400, invalid_request("Invalid token_exp")),
    ("token_exp text", lambda c, o: assertion(c, token_exp="a day"), 400, invalid_request("Invalid token_exp")),
    ("token_exp true", lambda c, o: assertion(c, token_exp=True), 400, invalid_request("Invalid token_exp")),
    ("token_exp huge", lambda c, o: assertion(c, token_exp=10 ** 400), 400, invalid_request("Invalid token_exp")),
    ("token_exp long text", lambda c, o: assertion(c, token_exp="9" * 5000), 400, invalid_request("Invalid token_exp")),
    ("exp huge", lambda c, o: assertion(c, exp=10 ** 400), 400, invalid_client("Invalid exp")),
    ("exp infinite", lambda c, o: assertion(c, exp=float("inf")), 400, invalid_client("Invalid exp")),
    ("nested header", lambda c, o: signing._b64u_encode(b"[" * 200000) + ".e30.x", 400,
     invalid_client("Invalid assertion")),
    # What jwcrypto's JWS object refuses to read: an unknown critical member, a b64 that is not a boolean.
    ("crit unknown", lambda c, o: assertion(c, header={"crit": ["zz"], "zz": 1}), 400, invalid_client("Invalid assertion")),
    ("b64 not a boolean", lambda c, o: assertion(c, header={"b64": "x"}), 400, invalid_client("Invalid assertion")),
    # A good assertion with a newline or spaces around it is not the JWT it signed.
    ("newline after it", lambda c, o: assertion(c) + "\n", 400, invalid_client("Invalid signature")),
    ("space before it", lambda c, o: " " + assertion(c), 400, invalid_client("Invalid signature")),
]


@pytest.fixture
def other_channel(client, keypairs):
    return make_channel(client, keypairs[1])


@pytest.mark.parametrize("case, build, status, body", FAILURES, ids=[f[0] for f in FAILURES])
def test_v21_issue_refuses_bad_assertions_as_line_does(client, channel, other_channel, case, build, status, body):
    r = issue(client, build(channel, other_channel))
    assert (r.status_code, r.json) == (status, body)


@pytest.mark.parametrize("case, data", [
    ("grant_type missing", {"grant_type": None}),
    ("grant_type wrong", {"grant_type": "authorization_code"}),
    ("assertion type wrong", {"client_assertion_type": "jwt"}),
    ("assertion missing", {"client_assertion": None}),
    ("assertion empty", {"client_assertion": ""}),
    ("camelCase", "camel"),
])
def test_v21_issue_refuses_missing_or_wrong_parameters(client, channel, case, data):
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(channel)}
    if data == "camel":  # docs/line-api.md §9: camelCase names count as missing
        form = {"grantType": form["grant_type"], "clientAssertionType": ASSERTION_TYPE,
                "clientAssertion": form["client_assertion"]}
    else:
        form.update(data)
    r = client.post("/sandbox/oauth2/v2.1/token", data={k: v for k, v in form.items() if v is not None})
    assert (r.status_code, r.json) == (400, PARAMS_INVALID)


def test_v21_issue_takes_a_form_not_json(client, channel):
    r = client.post("/sandbox/oauth2/v2.1/token", json={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(channel)})
    assert (r.status_code, r.json) == (400, PARAMS_INVALID)


def test_v21_limit_refuses_the_31st_then_frees_on_revoke(client, channel):
    jwt = assertion(channel)
    tokens = [issue(client, jwt).json for _ in range(30)]
    r = issue(client, jwt)
    assert (r.status_code, r.json) == (400, TOKEN_LIMIT)
    assert kids(client, jwt).json == {"kids": [t["key_id"] for t in tokens]}  # issue order (§9)
    assert revoke(client, channel, tokens[0]["access_token"]).status_code == 200
    assert issue(client, jwt).status_code == 200


def test_expired_v21_tokens_stop_counting_and_verify_says_expired(client, channel, monkeypatch):
    first = issue(client, assertion(channel, token_exp=60)).json
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    r = verify(client, first["access_token"])
    assert (r.status_code, r.json) == (400, invalid_request("The access token expired"))
    assert kids(client, assertion(channel)).json == {"kids": []}


def test_kids_ignores_token_exp_and_reports_assertion_errors(client, channel):
    assert kids(client, assertion(channel, drop=("token_exp",))).json == {"kids": []}
    r = kids(client, assertion(channel, exp=int(time.time()) - 1))
    assert (r.status_code, r.json) == (400, invalid_client("Invalid exp"))
    r = kids(client, assertion(channel, header={"kid": "nope"}))
    assert (r.status_code, r.json) == (404, KEY_NOT_FOUND)
    r = client.get("/sandbox/oauth2/v2.1/tokens/kid", query_string={"clientAssertionType": ASSERTION_TYPE,
                                                                    "clientAssertion": assertion(channel)})
    assert (r.status_code, r.json) == (400, PARAMS_INVALID)


@pytest.mark.parametrize("token, description", [
    ("opaque-token", "The access token not JWS"),
    ("a.b", "The access token not JWS"),
    ("eyJhbGciOiJIUzI1NiJ9.AAAA.BBBB", "The access token revoked"),
])
def test_v21_verify_errors(client, token, description):
    r = verify(client, token)
    assert (r.status_code, r.json) == (400, invalid_request(description))


def test_v21_verify_without_token(client):
    r = client.get("/sandbox/oauth2/v2.1/verify")
    assert (r.status_code, r.json) == (400, PARAMS_INVALID)


def test_old_tokens_endpoint_is_gone(client):
    r = client.get("/sandbox/oauth2/v2.1/tokens", query_string={"client_assertion_type": ASSERTION_TYPE})
    assert r.status_code == 404 and r.json["error"] == "not_found"


def test_wrong_method_is_a_json_405(client):
    r = client.get("/sandbox/oauth2/v2.1/token")
    assert r.status_code == 405 and r.json["error"] == "method_not_allowed"


# --------------------------------------------------------------------------- v2.1 revoke


def test_v21_revoke_semantics(client, channel, other_channel):
    token = issue(client, assertion(channel)).json["access_token"]
    other_token = issue(client, assertion(other_channel)).json["access_token"]

    for override in ({"client_secret": "0" * 32}, {"client_id": other_channel.id}, {"client_id": "abc"}):
        r = revoke(client, channel, token, **override)
        assert (r.status_code, r.json) == (400, invalid_client("invalid client_secret"))

    r = revoke(client, channel, "not-a-jws")
    assert (r.status_code, r.json) == (400, invalid_request("The access token not JWS"))
    r = revoke(client, channel, "eyJhbGciOiJIUzI1NiJ9.a+b.c")
    assert (r.status_code, r.json) == (400, invalid_request("The access token malformed"))
    r = revoke(client, channel, "eyJhbGciOiJIUzI1NiJ9..c")
    assert (r.status_code, r.json) == (400, invalid_request("The access token malformed"))

    # Unknown or another channel's JWS-shaped token: 200, empty, nothing revoked (§9).
    for unknown in ("eyJhbGciOiJIUzI1NiJ9.AAAA.BBBB", other_token):
        r = revoke(client, channel, unknown)
        assert (r.status_code, r.data) == (200, b"")
    assert verify(client, other_token).status_code == 200

    r = revoke(client, channel, token)
    assert (r.status_code, r.data) == (200, b"")
    assert verify(client, token).json == invalid_request("The access token revoked")
    assert revoke(client, channel, token).status_code == 200  # idempotent

    r = client.post("/sandbox/oauth2/v2.1/revoke", data={"client_id": channel.id, "access_token": token})
    assert (r.status_code, r.json) == (400, PARAMS_INVALID)


# --------------------------------------------------------------------------- stateless (v3)


def test_stateless_by_secret_and_by_jwt(client, channel):
    r = client.post("/sandbox/oauth2/v3/token", data={
        "grant_type": "client_credentials", "client_id": channel.id, "client_secret": channel.secret,
        "client_assertion_type": "", "client_assertion": ""})  # extra empty fields, as the SDK sends
    assert r.status_code == 200 and r.json["token_type"] == "Bearer" and r.json["expires_in"] == 900
    token = r.json["access_token"]
    # Not verifiable anywhere (§9).
    assert client.post("/sandbox/v2/oauth/verify", data={"access_token": token}).json == invalid_request(
        "access_token invalid")
    # Stateless tokens are JWTs (so the Messaging API calls of step 6 know their channel): v2.1
    # verify answers as for any v2.1-shaped token it does not hold.
    assert verify(client, token).json == invalid_request("The access token revoked")

    r = client.post("/sandbox/oauth2/v3/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(channel, drop=("token_exp",)), "client_id": "", "client_secret": ""})
    assert r.status_code == 200 and r.json["expires_in"] == 900


@pytest.mark.parametrize("case, form, status, body", [
    ("bad secret", {"client_secret": "0" * 32}, 400, invalid_request("Invalid 'client_credentials'.")),
    ("unknown channel", {"client_id": "1999999999"}, 400, invalid_request("Invalid 'client_credentials'.")),
    ("no secret", {"client_secret": ""}, 400, PARAMS_INVALID),
    ("no grant_type", {"grant_type": ""}, 400, PARAMS_INVALID),
    ("both variants", {"client_assertion": "x.y.z", "client_assertion_type": ASSERTION_TYPE}, 400, PARAMS_INVALID),
    ("neither", {"client_id": "", "client_secret": ""}, 400, PARAMS_INVALID),
])
def test_stateless_errors(client, channel, case, form, status, body):
    data = {"grant_type": "client_credentials", "client_id": channel.id, "client_secret": channel.secret, **form}
    r = client.post("/sandbox/oauth2/v3/token", data=data)
    assert (r.status_code, r.json) == (status, body)


def test_stateless_by_jwt_reports_assertion_errors(client, channel):
    base = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE}
    r = client.post("/sandbox/oauth2/v3/token", data={**base, "client_assertion": assertion(channel, header={"kid": "x"})})
    assert (r.status_code, r.json) == (404, KEY_NOT_FOUND)
    r = client.post("/sandbox/oauth2/v3/token", data={**base, "client_assertion": assertion(channel, exp=1)})
    assert (r.status_code, r.json) == (400, invalid_client("Invalid exp"))
    r = client.post("/sandbox/oauth2/v3/token", data={**base, "client_assertion_type": "x",
                                                      "client_assertion": assertion(channel)})
    assert (r.status_code, r.json) == (400, PARAMS_INVALID)


# --------------------------------------------------------------------------- short-lived (v2)


def test_short_lived_issue_verify_revoke(client, channel):
    r = short_lived(client, channel)
    assert r.status_code == 200
    assert set(r.json) == {"access_token", "expires_in", "token_type"}
    assert r.json["expires_in"] == 2592000 and r.json["token_type"] == "Bearer"
    token = r.json["access_token"]
    v = client.post("/sandbox/v2/oauth/verify", data={"access_token": token})
    assert v.status_code == 200 and v.json["client_id"] == channel.id and v.json["scope"] == "P CM"
    assert 2591990 <= v.json["expires_in"] <= 2592000
    r = client.post("/sandbox/v2/oauth/revoke", data={"access_token": token})
    assert (r.status_code, r.data) == (200, b"")
    v = client.post("/sandbox/v2/oauth/verify", data={"access_token": token})
    assert (v.status_code, v.json) == (400, invalid_request("access_token invalid"))
    assert client.post("/sandbox/v2/oauth/revoke", data={"access_token": token}).status_code == 200


def test_short_lived_31st_revokes_the_oldest(client, channel):
    tokens = [short_lived(client, channel).json["access_token"] for _ in range(31)]
    first = client.post("/sandbox/v2/oauth/verify", data={"access_token": tokens[0]})
    assert first.json == invalid_request("access_token invalid")
    for token in (tokens[1], tokens[30]):
        assert client.post("/sandbox/v2/oauth/verify", data={"access_token": token}).status_code == 200


@pytest.mark.parametrize("case, override, body", [
    # §5.6 live record: a non-numeric ID answers "in the wrong format". An unknown numeric one answers as a known one
    # with a wrong secret (LINE's documented invalid_client), so no caller learns which IDs exist (issue 23 item 9).
    ("unknown channel", {"client_id": "1999999999"}, invalid_client("invalid client_secret")),
    ("malformed channel", {"client_id": "abc"}, invalid_request("some parameters in the wrong format")),
    ("wrong secret", {"client_secret": "0" * 32}, invalid_client("invalid client_secret")),
    ("wrong grant", {"grant_type": "password"}, PARAMS_INVALID),
    ("missing secret", {"client_secret": ""}, PARAMS_INVALID),
])
def test_short_lived_issue_errors(client, channel, case, override, body):
    r = short_lived(client, channel, **override)
    assert (r.status_code, r.json) == (400, body)


def test_short_lived_verify_and_revoke_malformed(client, channel):
    v21 = issue(client, assertion(channel)).json["access_token"]
    v = client.post("/sandbox/v2/oauth/verify", data={"access_token": v21})  # a v2.1 token is not valid here
    assert v.json == invalid_request("access_token invalid")
    v = client.post("/sandbox/v2/oauth/verify", data={"access_token": "has spaces in it"})
    assert (v.status_code, v.json) == (400, invalid_request("access_token in invalid format"))
    r = client.post("/sandbox/v2/oauth/revoke", data={"access_token": "has spaces in it"})
    assert (r.status_code, r.json) == (400, {"error": "invalid_request"})
    r = client.post("/sandbox/v2/oauth/revoke", data={"accessToken": "abc"})
    assert (r.status_code, r.json) == (400, PARAMS_INVALID)
    assert verify(client, v21).status_code == 200


# --------------------------------------------------------------------------- admin API


def test_admin_create_channel_without_body(client):
    r = client.post("/sandbox/api/channels", content_type="application/json")
    assert r.status_code == 201
    assert re.fullmatch(r"[1-9][0-9]{9}", r.json["channel_id"])
    assert re.fullmatch(r"[0-9a-f]{32}", r.json["channel_secret"])


@pytest.mark.parametrize("body, field", [
    ('{"name": 5}', "name"),
    ('{"name": "' + "x" * 101 + '"}', "name"),
    ("[1, 2]", "body"),
    ("{not json", "body"),
    ("[" * 100000, "body"),  # refused before parsing (issue 11): once a 500 with a traceback
])
def test_admin_create_channel_refuses_bad_bodies(client, body, field):
    r = client.post("/sandbox/api/channels", data=body, content_type="application/json")
    assert r.status_code == 400 and r.json["error"] == "invalid_request" and r.json["error_description"]
    assert r.json.get("field") == field


@pytest.mark.parametrize("change, member", [
    ({"kid": "mine"}, "kid"),
    ({"d": "AQAB"}, "d"),
    ({"kty": "EC"}, "kty"),
    ({"alg": "RS512"}, "alg"),
    ({"use": None}, "use"),
    ({"use": "enc"}, "use"),
    ({"use": None, "key_ops": ["sign"]}, "key_ops"),
    ({"use": "sig", "key_ops": ["verify"]}, "use"),
    ({"n": "AQAB"}, "n"),
])
def test_admin_refuses_keys_as_lines_console_does(client, keypairs, change, member):
    channel_id, secret = create(client)
    jwk = {**keypairs[0][1], **change}
    jwk = {k: v for k, v in jwk.items() if v is not None}
    r = client.post(f"/sandbox/api/channels/{channel_id}/keys", json=jwk, auth=(channel_id, secret))
    assert r.status_code == 400 and r.json["field"] == "public_key"
    assert member in r.json["member"] and r.json["error_description"]


def test_admin_accepts_key_ops_verify_and_webcrypto_ext(client, keypairs):
    channel_id, secret = create(client)
    jwk = {k: v for k, v in keypairs[0][1].items() if k != "use"}
    r = client.post(f"/sandbox/api/channels/{channel_id}/keys", json={**jwk, "key_ops": ["verify"], "ext": True},
                    auth=(channel_id, secret))
    assert r.status_code == 201 and re.fullmatch(r"[0-9a-f-]{36}", r.json["kid"])
    stored = client.get(f"/sandbox/api/channels/{channel_id}", auth=(channel_id, secret)).json["keys"][0]
    assert stored["public_key"] == {**jwk, "key_ops": ["verify"]}  # "ext" is not kept (issue 11)


@pytest.mark.parametrize("body", ["", "[]", "nope", "[" * 5000])
def test_admin_key_body_must_be_a_json_object(client, body):
    channel_id, secret = create(client)
    r = client.post(f"/sandbox/api/channels/{channel_id}/keys", data=body, content_type="application/json",
                    auth=(channel_id, secret))
    assert r.status_code == 400 and r.json["field"] == "public_key"


def test_admin_key_cap(client, keypairs, monkeypatch):
    monkeypatch.setattr(store_module, "KEYS_PER_CHANNEL", 2)
    channel_id, secret = create(client)
    auth = (channel_id, secret)
    for _ in range(2):
        assert client.post(f"/sandbox/api/channels/{channel_id}/keys", json=keypairs[0][1], auth=auth).status_code == 201
    r = client.post(f"/sandbox/api/channels/{channel_id}/keys", json=keypairs[0][1], auth=auth)
    assert r.status_code == 400 and "2 public keys" in r.json["error_description"]


def test_admin_channel_cap_makes_room_by_removing_the_channel_unused_longest(client, monkeypatch):
    """Issue 23 item 2: a full cap no longer answers 409 to everyone."""
    monkeypatch.setattr(store_module, "MAX_CHANNELS", 2)
    clock = [1_900_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    first = create(client)
    clock[0] += 60
    second = create(client)
    clock[0] += 60
    assert client.get(f"/sandbox/api/channels/{first[0]}", auth=first).status_code == 200  # its owner uses it
    clock[0] += 60
    r = client.post("/sandbox/api/channels", json={})
    assert r.status_code == 201
    assert client.get(f"/sandbox/api/channels/{first[0]}", auth=first).status_code == 200
    assert client.get(f"/sandbox/api/channels/{second[0]}", auth=second).status_code == 401  # made room


@pytest.mark.parametrize("method, path", [
    ("get", "/sandbox/api/channels/1999999999"),
    ("delete", "/sandbox/api/channels/1999999999"),
    ("get", "/sandbox/api/channels/not-an-id"),
    ("post", "/sandbox/api/channels/1999999999/keys"),
    ("delete", "/sandbox/api/channels/1999999999/tokens"),
])
def test_admin_unknown_channel_answers_as_a_wrong_secret(client, keypairs, method, path):
    """Issue 23 item 9: without the secret, an unknown channel and a known one answer alike (401)."""
    channel_id = path.split("/")[4]
    known, _ = create(client)
    body = keypairs[0][1] if method == "post" else None
    r = getattr(client, method)(path, json=body, auth=(channel_id, "0" * 32))
    wrong = getattr(client, method)(path.replace(channel_id, known), json=body, auth=(known, "0" * 32))
    assert r.status_code == wrong.status_code == 401 and r.json == wrong.json and r.json["error"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"]


def test_admin_channel_details_never_show_token_values(client, channel):
    v21 = issue(client, assertion(channel)).json
    short = short_lived(client, channel).json
    r = client.get(f"/sandbox/api/channels/{channel.id}", auth=(channel.id, channel.secret))
    assert r.status_code == 200
    body = r.json
    assert body["channel_id"] == channel.id and body["name"] == "test"
    assert [k["kid"] for k in body["keys"]] == [channel.kid] and "n" in body["keys"][0]["public_key"]
    assert [(t["type"], t["key_id"]) for t in body["tokens"]] == [("v2.1", v21["key_id"]), ("short-lived", None)]
    assert all(isinstance(t["expires_at"], int) for t in body["tokens"])
    for secret in (v21["access_token"], short["access_token"], channel.secret):
        assert secret not in r.get_data(as_text=True)


def test_admin_revoke_all_and_delete(client, channel):
    token = issue(client, assertion(channel)).json["access_token"]
    short_lived(client, channel)
    auth = (channel.id, channel.secret)
    r = client.delete(f"/sandbox/api/channels/{channel.id}/tokens", auth=auth)
    assert (r.status_code, r.json) == (200, {"revoked": 2})
    assert verify(client, token).json == invalid_request("The access token revoked")
    r = client.delete(f"/sandbox/api/channels/{channel.id}", auth=auth)
    assert r.status_code == 204
    assert client.get(f"/sandbox/api/channels/{channel.id}", auth=auth).status_code == 401  # gone: as a wrong secret
    assert issue(client, assertion(channel)).json == KEY_NOT_FOUND


# --------------------------------------------------------------------------- console page


def scripts_are_external(html: str) -> bool:
    """Every <script> has a src or is JSON data (CSP script-src 'self'), and no on* handlers."""
    for tag in re.findall(r"<script\b[^>]*>", html):
        if "src=" not in tag and 'type="application/json"' not in tag:
            return False
    return re.search(r"\son[a-z]+=", html) is None


def test_console_page(client):
    r = client.get("/sandbox/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "Content-Security-Policy" in r.headers and scripts_are_external(html)
    assert re.search(r"/static/sandbox\.[0-9a-f]{12}\.js", html) and "emulator" in html  # hashed name
    assert 'action="/sandbox/console/channels"' in html
    assert "Invalid token_exp" in html  # the §9 assumptions are listed


def test_console_flow(client, keypairs):
    r = client.post("/sandbox/console/channels", data={"name": "my bot"})
    html = r.get_data(as_text=True)
    assert r.status_code == 201
    channel_id = re.search(r'id="created-channel" data-channel-id="(\d{10})"', html).group(1)
    secret = re.search(r'id="channel_secret" type="password"[^>]*value="([0-9a-f]{32})"', html).group(1)
    assert "my bot" in html
    assert html.count(f'name="channel_secret" value="{secret}"') >= 3  # every form of the channel carries it

    form = {"channel_id": channel_id, "channel_secret": secret}
    r = client.post("/sandbox/console/keys", data={**form, "public_key": json.dumps(keypairs[0][1])})
    html = r.get_data(as_text=True)
    assert r.status_code == 201
    kid = re.search(r'id="registered-key" data-kid="([0-9a-f-]{36})" data-channel-id="' + channel_id, html).group(1)
    assert kid in html
    # Issue 13 item 1: the very next step still shows the secret and carries it in its forms.
    assert re.search(r'id="channel_secret" type="password"[^>]*value="' + secret, html)
    assert f'name="channel_secret" value="{secret}"' in html

    channel = SimpleNamespace(id=channel_id, secret=secret, kid=kid, key=keypairs[0][0])
    key_id = issue(client, assertion(channel)).json["key_id"]
    html = client.get(f"/sandbox/?channel_id={channel_id}").get_data(as_text=True)
    assert key_id not in html and kid not in html  # a GET with the ID alone opens nothing
    r = client.post("/sandbox/console/open", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and key_id in html and kid in html

    r = client.post("/sandbox/console/revoke", data=form)
    assert r.status_code == 200 and "Revoked 1 valid token." in r.get_data(as_text=True)
    r = client.post("/sandbox/console/delete", data=form)
    assert r.status_code == 200 and f'data-deleted-channel="{channel_id}"' in r.get_data(as_text=True)
    assert client.post("/sandbox/console/open", data=form).status_code == 401  # gone: as a wrong secret


def test_console_shows_key_errors_beside_the_field(client):
    channel_id, secret = create(client)
    form = {"channel_id": channel_id, "channel_secret": secret}
    r = client.post("/sandbox/console/keys", data={**form, "public_key": '{"kty": "RSA", "kid": "x"}'})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert 'aria-describedby="public_key-hint public_key-error"' in html and 'aria-invalid="true"' in html
    assert 'id="public_key-error"' in html and "kid" in html
    for text in ("", "not json", "[" * 100000):
        r = client.post("/sandbox/console/keys", data={**form, "public_key": text})
        assert r.status_code == 400 and 'id="public_key-error"' in r.get_data(as_text=True)
        assert secret in r.get_data(as_text=True)  # a refused key keeps the channel open


def test_console_unknown_channel(client):
    """Issue 23 item 9: an unknown channel answers as a known one with a wrong secret; a malformed ID is named."""
    known, _ = create(client)
    r = client.post("/sandbox/console/open", data={"channel_id": "1999999999", "channel_secret": "x"})
    wrong = client.post("/sandbox/console/open", data={"channel_id": known, "channel_secret": "x"})
    assert r.status_code == wrong.status_code == 401 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert 'id="channel_secret-error"' in html and "No sandbox channel has this ID and secret" in html
    summary = re.compile(r'<div class="error-summary".*?</div>', re.S)
    assert summary.search(html).group(0) == summary.search(wrong.get_data(as_text=True)).group(0)
    for path in ("/sandbox/console/keys", "/sandbox/console/revoke", "/sandbox/console/delete",
                 "/sandbox/console/long-lived", "/sandbox/console/keys/delete"):
        r = client.post(path, data={"channel_id": "nope", "channel_secret": "x"})
        assert r.status_code == 400 and 'id="channel_id-error"' in r.get_data(as_text=True)


def test_console_never_lists_other_peoples_channels(client):
    channel_id, _ = create(client)
    assert channel_id not in client.get("/sandbox/").get_data(as_text=True)


# --------------------------------------------------------------------------- CSRF and switch


@pytest.fixture
def csrf_app(backend):
    from line_token import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": True, "SECRET_KEY": "test", **backend})
    yield app
    app.extensions["sandbox_store"].dispose()


def test_console_forms_need_csrf_but_line_endpoints_do_not(csrf_app, keypairs):
    client = csrf_app.test_client()
    assert client.post("/sandbox/console/channels", data={"name": "x"}).status_code == 400
    page = client.get("/sandbox/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/sandbox/console/channels", data={"name": "x", "csrf_token": token}).status_code == 201

    channel = make_channel(client, keypairs[0])
    assert issue(client, assertion(channel)).status_code == 200
    assert short_lived(client, channel).status_code == 200
    assert client.post("/sandbox/api/channels", json={}).status_code == 201
    from line_token.sandbox.routes import SCRIPT_ENDPOINTS  # the one list of Flask-WTF exemptions

    for endpoint in ("issue_v21", "revoke_v21", "issue_stateless", "issue_short_lived", "verify_short_lived",
                     "revoke_short_lived", "api_create_channel", "api_add_key", "api_issue_long_lived"):
        assert csrf_app.view_functions[f"sandbox.{endpoint}"] in SCRIPT_ENDPOINTS
    assert csrf_app.view_functions["sandbox.console_create_channel"] not in SCRIPT_ENDPOINTS


@pytest.mark.parametrize("method, path", [
    ("get", "/sandbox/"), ("post", "/sandbox/oauth2/v2.1/token"), ("get", "/sandbox/oauth2/v2.1/verify"),
    ("post", "/sandbox/api/channels"), ("get", "/sandbox/api/channels/1234567890"),
    ("post", "/sandbox/console/channels"), ("post", "/sandbox/v2/oauth/accessToken"),
])
def test_disabled_sandbox_is_404_everywhere(tmp_path, method, path):
    from line_token import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t", "SANDBOX_ENABLED": False,
                      "SANDBOX_DATABASE": str(tmp_path / "s.sqlite3")})
    client = app.test_client()
    assert getattr(client, method)(path).status_code == 404
    assert client.get("/").status_code == 200  # the nav still renders
    assert not (tmp_path / "s.sqlite3").exists()


def test_unreachable_database_is_a_503_not_a_traceback():
    from line_token import create_app
    from conftest import free_port

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t",
                      "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none"})
    client = app.test_client()
    r = client.post("/sandbox/api/channels", json={})
    assert r.status_code == 503 and r.json["error"] == "temporarily_unavailable" and r.headers["Retry-After"] == "1"
    r = client.post("/sandbox/console/open", data={"channel_id": "1234567890", "channel_secret": "x"})
    assert r.status_code == 503 and r.mimetype == "text/html"


# --------------------------------------------------------------------------- garbage in


GARBAGE = ["", "\x00", "é" * 3000, "a" * 5000, "....", "eyJ.eyJ.x", "1234567890", "%%%", "null", "{}"]


@pytest.mark.parametrize("path", [
    "/sandbox/oauth2/v2.1/token", "/sandbox/oauth2/v2.1/revoke", "/sandbox/oauth2/v3/token",
    "/sandbox/v2/oauth/accessToken", "/sandbox/v2/oauth/verify", "/sandbox/v2/oauth/revoke",
])
def test_garbage_never_causes_a_server_error(client, path):
    for value in GARBAGE:
        form = {name: value for name in ("grant_type", "client_assertion_type", "client_assertion", "client_id",
                                         "client_secret", "access_token")}
        r = client.post(path, data=form)
        assert 200 <= r.status_code < 500 and r.is_json is (r.status_code != 200), (value, r.data)
        r = client.get("/sandbox/oauth2/v2.1/verify", query_string={"access_token": value})
        assert r.status_code == 400 and r.is_json

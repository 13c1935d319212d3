"""Inputs a review found could give a 500 or tie up a worker: each is now a clear 4xx."""
from __future__ import annotations

import json
import re
import time

import pytest
import requests

from line_token.core import signing
from line_token.core.signing import SigningError

CHANNEL = "1234567890"


@pytest.mark.parametrize("fields", [
    {"token_exp": "²"},  # str.isdigit() says yes, int() says no
    {"exp_minutes": "9" * 5000},  # over Python's int() digit limit
    {"channel_id": "١٢٣٤"},  # Arabic-Indic digits are not a channel ID
])
def test_non_ascii_and_huge_numbers_in_the_jwt_form(client, console_key_text, fields):
    data = {"channel_id": CHANNEL, "kid": "k", "private_key": console_key_text,
            "token_exp": "30", "token_exp_unit": "days", "exp_minutes": "30", **fields}
    response = client.post("/oauth2/v2.1/jwt", data=data)
    assert response.status_code == 400
    name = next(iter(fields))
    assert f'id="{name}-error"' in response.get_data(as_text=True)


def test_non_ascii_numbers_in_the_json_apis(client, console_key):
    response = client.post("/oauth2/v2.1/token", json={"target": "sandbox", "channel_id": CHANNEL, "kid": "k",
                                                       "private_key": console_key, "exp_minutes": "²"})
    assert response.status_code == 400 and response.get_json()["field"] == "exp_minutes"
    header = {"alg": "RS256", "typ": "JWT", "kid": "k"}
    payload = {"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/", "exp": "²", "token_exp": 60}
    response = client.post("/oauth2/v2.1/jwt", json={"header": header, "payload": payload, "privatekey": console_key})
    assert response.status_code == 400 and response.get_json()["field"] == "payload.exp"


def test_astronomical_exp_is_refused_not_overflowed(client, console_key):
    payload = {"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/", "exp": 10 ** 400, "token_exp": 60}
    body = json.dumps({"header": {"alg": "RS256", "typ": "JWT", "kid": "k"}, "payload": payload, "privatekey": console_key})
    response = client.post("/oauth2/v2.1/jwt", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "at most 30 minutes" in response.get_json()["error_description"]


@pytest.mark.parametrize("name, value", [("privatekey", "{'kty': b'x'}"), ("header", "{'alg': {1, 2}}")])
def test_python_literals_that_json_cannot_say_are_refused(client, console_key, name, value):
    body = {"header": {"alg": "RS256", "typ": "JWT", "kid": "k"},
            "payload": {"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/", "exp": int(time.time()) + 60, "token_exp": 60},
            "privatekey": console_key, name: value}
    response = client.post("/oauth2/v2.1/jwt", json=body)
    assert response.status_code == 400 and response.get_json()["field"] == name


def test_key_with_p_equal_q_is_damaged(console_key):
    p = signing._b64u_int(console_key["p"], "x", "p")
    bad = {"kty": "RSA", "n": signing._int_b64u(p * p), "e": "AQAB", "d": "AQAB",
           "p": console_key["p"], "q": console_key["p"]}
    with pytest.raises(SigningError) as info:
        signing.load_private_key(bad)
    assert info.value.field == "private_key"


def test_huge_exponent_is_refused_before_any_expensive_work(console_key):
    huge = signing._int_b64u((1 << 160000) + 1)  # 20 KB: recovering p, q from it used to take seconds
    key = {"kty": "RSA", "n": console_key["n"], "e": huge, "d": console_key["d"], "p": console_key["p"], "q": console_key["q"]}
    started = time.process_time()  # CPU time: what the bound is about, and steady on a busy machine
    with pytest.raises(SigningError, match="damaged"):
        signing.load_private_key(key)
    assert time.process_time() - started < 0.5
    public = {"kty": "RSA", "n": console_key["n"], "e": huge, "alg": "RS256", "use": "sig"}
    with pytest.raises(SigningError, match='"e"'):
        signing.check_public_jwk(public)


def test_sandbox_unstorable_kid_and_channel_name(client, console_key):
    key = signing.load_private_key(console_key)
    header, payload = signing.build_claims(CHANNEL, "x", now=int(time.time()))
    with pytest.raises(SigningError):  # our signer refuses to sign broken text...
        signing.sign({**header, "kid": "\ud800"}, payload, key, validate=False)
    lone = json.dumps({**header, "kid": "\ud800"}).encode()  # ...but a client may send it (valid JSON)
    forged = signing.sign(header, payload, key, validate=False).split(".")
    for head in (signing._b64u_encode(lone), signing._b64u_encode(json.dumps({**header, "kid": "a\u0000b"}).encode())):
        token = ".".join([head, forged[1], forged[2]])
        response = client.post("/sandbox/oauth2/v2.1/token", data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": token})
        assert response.status_code == 404
        assert response.get_json() == {"message": "Cannot find channel key that satisfies the conditions"}
    for name in ("\ud800", "bad\u0000name"):
        response = client.post("/sandbox/api/channels", data=json.dumps({"name": name}), content_type="application/json")
        assert response.status_code == 400 and response.get_json()["field"] == "name"


def test_unknown_charset_from_upstream_reads_as_utf8():
    from line_token.core import line_client

    assert line_client.parse_body(b'{"a": 1}', {"Content-Type": "application/json; charset=bogus"}) == {"a": 1}


@pytest.mark.server
def test_forms_work_across_workers_without_a_secret_key(tmp_path):
    """Each worker builds its own app: without one shared SECRET_KEY, a CSRF token from one fails on another."""
    from conftest import LiveServer

    server = LiveServer(tmp_path, workers=2)
    server.env.pop("SECRET_KEY")
    server.start()
    try:
        refused = 0
        for _ in range(8):
            session = requests.Session()
            page = session.get(server.url + "/oauth2/v2.1/keys", timeout=10).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            for _ in range(3):
                answer = session.post(server.url + "/oauth2/v2.1/keys",
                                      data={"action": "public", "private_key": "x", "csrf_token": token}, timeout=10)
                refused += "Form expired" in answer.text or "expired" in answer.text.split("<h1>")[-1][:80]
        assert refused == 0
    finally:
        server.stop()


# --------------------------------------------------------------------------- found reading the merged branches


def test_a_deeply_nested_stateless_shaped_bearer_is_lines_401_not_a_500(client):
    """A token shaped like the sandbox's stateless ones but holding [[[[…: refused as LINE refuses, not parsed."""
    import base64

    payload = base64.urlsafe_b64encode(b"[" * 1400).rstrip(b"=").decode()
    token = f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{payload}.a"
    response = client.get("/sandbox/v2/bot/info", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "message" in response.get_json()


def test_an_unreadable_basic_header_is_a_401_not_a_500(client):
    created = client.post("/sandbox/api/channels", json={}).get_json()
    response = client.get(f"/sandbox/api/channels/{created['channel_id']}", headers={"Authorization": "Basic é"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")


def test_the_sandboxs_own_origin_has_the_same_cost_checks(tmp_path):
    """SANDBOX_PORT serves a sandbox-only app: nested JSON and huge forms are refused there before parsing too."""
    from line_token import create_app

    app = create_app({"TESTING": True, "SANDBOX_PORT": "5999", "SANDBOX_DATABASE": str(tmp_path / "s.sqlite3"),
                      "SECRET_KEY": "x"})
    sandbox_client = app.extensions["sandbox_app"].test_client()
    nested = sandbox_client.post("/api/channels", data="[" * 3000 + "]" * 3000, content_type="application/json")
    assert nested.status_code == 400 and nested.get_json()["field"] == "body"
    wide = sandbox_client.post("/oauth2/v2.1/revoke", data="&".join(f"f{i}=1" for i in range(5000)),
                               content_type="application/x-www-form-urlencoded")
    assert 400 <= wide.status_code < 500


def test_decoding_refuses_an_oversized_jwt_before_parsing():
    huge = "eyJhbGciOiJSUzI1NiJ9." + "W3t9" * 4000 + ".sig"
    with pytest.raises(SigningError):
        signing.decode_unverified(huge)

"""The home, key and JWT pages as a user meets them (Flask test client), and the 2020 JSON contract."""
from __future__ import annotations

import html
import json
import re
import time

import rs256  # RS256 checked with cryptography alone, independent of the app's jwcrypto
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk

from line_token.core import signing

CHANNEL = "1234567890"


def _public_pem(private_jwk: dict) -> bytes:
    key = signing.load_private_key(private_jwk)
    return key.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pre(page: str, element_id: str) -> str:
    match = re.search(rf'<pre id="{element_id}"[^>]*>(.*?)</pre>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return html.unescape(match.group(1))


def test_home_links_every_step(client):
    page = client.get("/").get_data(as_text=True)
    assert "/oauth2/v2.1/keys" in page and "/oauth2/v2.1/jwt" in page
    for step in ("Make a key pair", "Register the public key", "Sign a JWT assertion", "Issue the token", "Verify, list and revoke"):
        assert step in page


def test_pages_carry_security_headers(client):
    response = client.get("/oauth2/v2.1/jwt")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.get_data(as_text=True)


# --------------------------------------------------------------------------- keys page


def test_server_generated_pair_is_shown_and_registrable(client):
    response = client.post("/oauth2/v2.1/keys", data={"action": "generate"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    private = json.loads(_pre(page, "server-private"))
    public = json.loads(_pre(page, "server-public"))
    assert "kid" not in public and public["alg"] == "RS256" and public["use"] == "sig"
    assert signing.check_public_jwk(public)
    assert signing.public_jwk(signing.load_private_key(private)) == public


def test_keys_json_convert_and_public(client, console_key):
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()).decode()
    body = client.post("/oauth2/v2.1/keys", json={"action": "convert", "pem": pem}).get_json()
    assert body["public"]["n"] == body["private"]["n"] and "kid" not in body["public"]
    body = client.post("/oauth2/v2.1/keys", json={"action": "public", "private_key": console_key}).get_json()
    assert body["public"] == {"kty": "RSA", "e": "AQAB", "n": console_key["n"], "alg": "RS256", "use": "sig"}


def test_keys_page_refuses_bad_pem_beside_the_field(client):
    response = client.post("/oauth2/v2.1/keys", data={"action": "convert", "pem": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="pem-error"' in page and "could not be read" in page
    assert 'aria-describedby="pem-error"' in page


# --------------------------------------------------------------------------- JWT page (form)


def test_jwt_form_signs_with_console_key(client, console_key_text, console_key):
    response = client.post("/oauth2/v2.1/jwt", data={
        "channel_id": CHANNEL, "kid": "", "private_key": console_key_text,
        "token_exp": "7", "token_exp_unit": "days", "exp_minutes": "30"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    token = _pre(page, "jwt-token")
    claims = rs256.decode(token, _public_pem(console_key), algorithms=["RS256"], audience="https://api.line.me/")
    assert claims["iss"] == claims["sub"] == CHANNEL and claims["token_exp"] == 7 * 86400
    assert abs(claims["exp"] - (time.time() + 1800)) < 10
    assert rs256.get_unverified_header(token)["kid"] == console_key["kid"]  # taken from the JWK
    assert json.loads(_pre(page, "jwt-payload")) == claims
    assert f'data-epoch="{claims["exp"]}"' in page  # expiry shown as a local date/time


def test_jwt_form_accepts_key_file_upload(client, console_key_text):
    import io

    response = client.post("/oauth2/v2.1/jwt", data={
        "channel_id": CHANNEL, "kid": "abc", "private_key": "",
        "private_key_file": (io.BytesIO(console_key_text.encode()), "private.json"),
        "token_exp": "1", "token_exp_unit": "hours", "exp_minutes": "5"}, content_type="multipart/form-data")
    assert response.status_code == 200
    token = _pre(response.get_data(as_text=True), "jwt-token")
    assert rs256.get_unverified_header(token)["kid"] == "abc"
    assert rs256.decode(token, options={"verify_signature": False})["token_exp"] == 3600


def test_jwt_form_advanced_raw_header_and_payload(client, console_key_text):
    exp = int(time.time()) + 600
    response = client.post("/oauth2/v2.1/jwt", data={
        "mode": "advanced", "private_key": console_key_text,
        "header": '{"alg": "RS256", "typ": "JWT", "kid": "raw-kid"}',
        "payload": json.dumps({"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/", "exp": exp, "token_exp": 60})})
    assert response.status_code == 200
    token = _pre(response.get_data(as_text=True), "jwt-token")
    assert rs256.decode(token, options={"verify_signature": False})["exp"] == exp


@pytest.mark.parametrize("fields, error_id, words", [
    ({"private_key": "not json"}, "private_key", "not valid JSON"),
    ({"channel_id": "abc"}, "channel_id", "numeric"),
    ({"exp_minutes": "60"}, "exp_minutes", "1 to 30 minutes"),
    ({"token_exp": "31", "token_exp_unit": "days"}, "token_exp", "30 days"),
    ({"kid": "", "private_key": "NOKID"}, "kid", "kid is missing"),
])
def test_jwt_form_refusals_keep_input_and_point_at_the_field(client, console_key, fields, error_id, words):
    key_without_kid = {k: v for k, v in console_key.items() if k != "kid"}
    data = {"channel_id": CHANNEL, "kid": "kid-1", "private_key": json.dumps(key_without_kid),
            "token_exp": "30", "token_exp_unit": "days", "exp_minutes": "30"}
    data.update(fields)
    if data["private_key"] == "NOKID":
        data["private_key"] = json.dumps(key_without_kid)
    response = client.post("/oauth2/v2.1/jwt", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="{error_id}-error"' in page, page[:2000]
    assert words in html.unescape(page)
    # The user's input is kept.
    assert f'value="{html.escape(data["channel_id"])}"' in page


# --------------------------------------------------------------------------- the 2020 JSON contract


def _contract(key_value, header=None, payload=None, **payload_changes):
    now = int(time.time())
    header = header if header is not None else {"alg": "RS256", "typ": "JWT", "kid": "kid-2020"}
    payload = payload if payload is not None else {"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/",
                                                   "exp": now + 60 * 30, "token_exp": 60 * 60 * 24 * 30}
    payload.update(payload_changes)
    return {"header": json.dumps(header), "payload": json.dumps(payload), "privatekey": key_value}


def test_2020_contract_json_text(client, console_key_text, console_key):
    response = client.post("/oauth2/v2.1/jwt", json=_contract(console_key_text))
    assert response.status_code == 200
    token = response.get_json()["response_body"]
    assert set(response.get_json()) == {"response_body"}
    claims = rs256.decode(token, _public_pem(console_key), algorithms=["RS256"], audience="https://api.line.me/")
    assert claims["token_exp"] == 2_592_000


def test_2020_contract_objects_and_python_literals(client, console_key):
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": "k"}
    payload = {"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/", "exp": now + 100, "token_exp": 100}
    as_objects = client.post("/oauth2/v2.1/jwt", json={"header": header, "payload": payload, "privatekey": console_key})
    assert as_objects.status_code == 200
    # What readers of the 2020 tutorial paste: Python dicts, single quotes and all.
    as_python = client.post("/oauth2/v2.1/jwt", json={"header": repr(header), "payload": repr(payload), "privatekey": repr(console_key)})
    assert as_python.status_code == 200
    assert rs256.decode(as_python.get_json()["response_body"], options={"verify_signature": False})["exp"] == now + 100


def test_2020_contract_never_evaluates_code(client, console_key):
    response = client.post("/oauth2/v2.1/jwt", json={"header": "__import__('os').system('false')",
                                                    "payload": "{}", "privatekey": console_key})
    assert response.status_code == 400
    assert response.get_json()["field"] == "header"


def test_guided_json_fields(client, console_key):
    response = client.post("/oauth2/v2.1/jwt", json={"channel_id": CHANNEL, "kid": "k", "private_key": console_key,
                                                    "token_exp": 86400, "exp_minutes": 10})
    token = response.get_json()["response_body"]
    claims = rs256.decode(token, _public_pem(console_key), algorithms=["RS256"], audience="https://api.line.me/")
    assert claims["token_exp"] == 86400 and claims["exp"] <= time.time() + 600 + 5


def _ec_key():
    return jwk.JWK.generate(kty="EC", crv="P-256").export_private()


def _rsa1024():
    return jwk.JWK.generate(kty="RSA", size=1024).export_private()


@pytest.mark.parametrize("case, field, words", [
    ("not_json_key", "privatekey", "not valid JSON"),
    ("ec_key", "privatekey", "RSA"),
    ("rsa_1024", "privatekey", "2048"),
    ("public_only", "privatekey", "public key"),
    ("exp_over_30_min", "payload.exp", "at most 30 minutes"),
    ("exp_in_past", "payload.exp", "in the past"),
    ("token_exp_over_30_days", "token_exp", "30 days"),
    ("missing_kid", "kid", "kid is missing"),
    ("aud_not_line", "payload.aud", "https://api.line.me/"),
    ("iss_not_sub", "payload.sub", "must equal"),
    ("non_numeric_channel", "channel_id", "numeric"),
])
def test_2020_contract_refusals_are_4xx_json_naming_the_field(client, console_key, case, field, words):
    now = int(time.time())
    key_value = json.dumps(console_key)
    header, changes = None, {}
    if case == "not_json_key":
        key_value = "my private key"
    elif case == "ec_key":
        key_value = _ec_key()
    elif case == "rsa_1024":
        key_value = _rsa1024()
    elif case == "public_only":
        key_value = json.dumps({k: console_key[k] for k in ("kty", "n", "e")})
    elif case == "exp_over_30_min":
        changes = {"exp": now + 7200}
    elif case == "exp_in_past":
        changes = {"exp": now - 10}
    elif case == "token_exp_over_30_days":
        changes = {"token_exp": 2_592_001}
    elif case == "missing_kid":
        key_value = json.dumps({k: v for k, v in console_key.items() if k != "kid"})
        header = {"alg": "RS256", "typ": "JWT"}
    elif case == "aud_not_line":
        changes = {"aud": "https://api.line.me"}
    elif case == "iss_not_sub":
        changes = {"sub": "1111111111"}
    elif case == "non_numeric_channel":
        changes = {"iss": "channel", "sub": "channel"}
    response = client.post("/oauth2/v2.1/jwt", json=_contract(key_value, header=header, **changes))
    assert 400 <= response.status_code < 500
    body = response.get_json()
    assert body["error"] == "invalid_request" and body["field"] == field
    assert words in body["error_description"]


def test_json_body_that_is_not_an_object(client):
    for body in ("[]", '"text"', "{", ""):
        response = client.post("/oauth2/v2.1/jwt", data=body, content_type="application/json")
        assert response.status_code == 400
        assert "error_description" in response.get_json()


def test_unknown_url_answers_404_page_and_json(client):
    assert client.get("/nope").status_code == 404
    response = client.get("/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_sandbox_off_hides_its_step_links(tmp_path):
    from line_token import create_app

    app = create_app({"TESTING": True, "SANDBOX_ENABLED": False, "SANDBOX_DATABASE": str(tmp_path / "s.sqlite3")})
    page = app.test_client().get("/").get_data(as_text=True)
    assert 'href="/sandbox/"' not in page
    assert app.test_client().get("/sandbox/").status_code == 404


def test_other_token_sub_pages_mark_the_nav_entry_current(client):
    page = client.get("/v2/oauth/accessToken").get_data(as_text=True)
    assert re.search(r'<a href="/other-tokens" aria-current="page">', page)

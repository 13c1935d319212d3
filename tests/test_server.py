"""End to end: the Procfile's server on a free loopback port, signing over HTTP as users and scripts do."""
from __future__ import annotations

import html
import json
import re
import time

import rs256  # RS256 checked with cryptography alone, independent of the app's jwcrypto
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from line_token.core import signing

pytestmark = pytest.mark.server
CHANNEL = "1234567890"


def _public_pem(private_jwk: dict) -> bytes:
    return signing.load_private_key(private_jwk).key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_json_contract_over_http(live_server, console_key_text, console_key):
    now = int(time.time())
    body = {
        "header": json.dumps({"alg": "RS256", "typ": "JWT", "kid": console_key["kid"]}),
        "payload": json.dumps({"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/", "exp": now + 1800, "token_exp": 2592000}),
        "privatekey": console_key_text,
    }
    response = requests.post(live_server.url + "/oauth2/v2.1/jwt", json=body, timeout=10)
    assert response.status_code == 200
    token = response.json()["response_body"]
    claims = rs256.decode(token, _public_pem(console_key), algorithms=["RS256"], audience="https://api.line.me/")
    assert claims["iss"] == CHANNEL
    # The JWT and the key never reach the server's log.
    time.sleep(0.2)
    log = live_server.log()
    assert "POST /oauth2/v2.1/jwt" in log
    assert token not in log and console_key["d"] not in log and token.split(".")[2] not in log


def test_form_post_needs_the_csrf_token_and_signs_with_it(live_server, console_key_text, console_key):
    session = requests.Session()
    form = {"channel_id": CHANNEL, "kid": "", "private_key": console_key_text, "token_exp": "30",
            "token_exp_unit": "days", "exp_minutes": "30"}
    # Without the page's token (as a cross-site form would post): refused, nothing signed.
    refused = session.post(live_server.url + "/oauth2/v2.1/jwt", data=form, timeout=10)
    assert refused.status_code == 400 and "eyJ" not in refused.text
    page = session.get(live_server.url + "/oauth2/v2.1/jwt", timeout=10).text
    token_value = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = session.post(live_server.url + "/oauth2/v2.1/jwt", data={**form, "csrf_token": token_value}, timeout=10)
    assert response.status_code == 200
    jwt_text = html.unescape(re.search(r'<pre id="jwt-token"[^>]*>(.*?)</pre>', response.text, re.S).group(1))
    assert rs256.decode(jwt_text, _public_pem(console_key), algorithms=["RS256"], audience="https://api.line.me/")["sub"] == CHANNEL


def test_bad_input_over_http_is_4xx_without_traceback(live_server):
    response = requests.post(live_server.url + "/oauth2/v2.1/jwt", json={"header": "{", "payload": "{}", "privatekey": "x"}, timeout=10)
    assert response.status_code == 400
    assert "Traceback" not in response.text and response.json()["field"] in ("privatekey", "header")

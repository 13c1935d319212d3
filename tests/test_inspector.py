"""line_token.inspector: what `line-token inspect` (and a web Inspector) says about a JWT or token."""
from __future__ import annotations

import base64
import json

import pytest

from line_token.core import inspector, signing

NOW = 1_800_000_000
CHANNEL = "1234567890"


def b64(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(header: dict, payload: dict) -> str:
    return f"{b64(header)}.{b64(payload)}.c2ln"


GOOD_HEADER = {"alg": "RS256", "typ": "JWT", "kid": "k-1"}
GOOD_PAYLOAD = {"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/", "exp": NOW + 600, "token_exp": 86400}


def test_a_signed_assertion_from_signing_has_no_problems_and_shows_its_expiry():
    key = signing.load_private_key(signing.generate_key_pair()[0])
    token = signing.build_assertion(CHANNEL, "k-1", key, 3600, 20 * 60, now=NOW)
    result = inspector.inspect(token, now=NOW + 60)
    assert result.kind == inspector.ASSERTION and result.ok
    assert result.header["kid"] == "k-1" and result.payload["token_exp"] == 3600
    assert result.expires_at == NOW + 20 * 60 and result.expires_in == 19 * 60


def test_every_broken_rule_is_listed_with_how_much():
    payload = {**GOOD_PAYLOAD, "sub": "999", "aud": "https://api.line.me", "exp": NOW + 3600,
               "token_exp": signing.MAX_TOKEN_EXP + 7200}
    result = inspector.inspect(jwt({"alg": "HS256", "typ": "JWT"}, payload), now=NOW)
    by_field = {f.field: f for f in result.findings}
    assert list(by_field) == ["header.alg", "header.kid", "payload.sub", "payload.aud", "payload.exp",
                              "payload.token_exp"]
    assert str(by_field["payload.exp"].params["over"]) == "30 min"  # 60 min ahead, 30 allowed
    assert str(by_field["payload.token_exp"].params["over"]) == "2 h"
    assert "2,599,200" in by_field["payload.token_exp"].message


def test_an_expired_assertion_says_how_long_ago():
    result = inspector.inspect(jwt(GOOD_HEADER, {**GOOD_PAYLOAD, "exp": NOW - 90}), now=NOW)
    assert [f.field for f in result.findings] == ["payload.exp"]
    assert str(result.findings[0].params["ago"]) == "1 min 30 s" and result.expires_in == -90


def test_numeric_text_claims_are_read_as_line_reads_them_and_missing_ones_are_named():
    ok = inspector.inspect(jwt(GOOD_HEADER, {**GOOD_PAYLOAD, "exp": str(NOW + 60), "token_exp": "60"}), now=NOW)
    assert ok.ok
    missing = inspector.inspect(jwt(GOOD_HEADER, {"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/"}),
                                now=NOW)
    assert [f.field for f in missing.findings] == ["payload.exp", "payload.token_exp"]


@pytest.mark.parametrize("text, kind", [
    ("eyJhbGciOiJIUzI1NiJ9." + b64(bytes(range(96))) + ".c2ln", inspector.V21_TOKEN),
    (base64.b64encode(bytes(128)).decode(), inspector.OPAQUE_TOKEN),
])
def test_tokens_are_recognised_by_shape(text, kind):
    result = inspector.inspect(text, now=NOW)
    assert result.kind == kind and result.ok and result.payload is None


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("x" * (inspector.MAX_INPUT + 1), "8,193 characters"),
    ("a b", "not a token shape LINE issues"),
    ("abc.def.ghi", "header"),
    (b64([1, 2]) + ".e30.c2ln", "not a JSON object"),
    (b64(GOOD_HEADER) + ".%%%.c2ln", "payload"),
])
def test_what_is_neither_a_jwt_nor_a_token_is_refused_with_the_reason(text, words):
    with pytest.raises(inspector.InspectError) as err:
        inspector.inspect(text, now=NOW)
    assert words in str(err.value)


def test_as_dict_is_json_for_a_page_or_a_script():
    data = inspector.inspect(jwt(GOOD_HEADER, {**GOOD_PAYLOAD, "aud": "x"}), now=NOW).as_dict()
    assert json.loads(json.dumps(data))["problems"][0]["field"] == "payload.aud"


def test_a_sandbox_stateless_token_is_recognised_not_judged_as_an_assertion(app):
    """The sandbox's stateless tokens are HS256 JWTs (docs/line-api.md §5.5): the inspector names them and
    their expiry, and lists none of the assertion's rules (no kid, aud, sub or token_exp is expected)."""
    from line_token.sandbox.service import Sandbox

    sandbox = Sandbox.open(app.config)
    channel, _ = sandbox.create_channel("stateless")
    token = sandbox.mint_stateless_token(channel.channel_id, now=1_700_000_000)
    found = inspector.inspect(token, now=1_700_000_000 + 60)
    assert found.kind == inspector.STATELESS_TOKEN
    assert found.payload["iss"] == channel.channel_id
    assert found.expires_in == 15 * 60 - 60
    assert found.findings == []


# --------------------------------------------------------------------------- a 2.6 KB JWT nested 955 deep (issue 23.3)


def nested_jwt(depth: int, part: str = "payload") -> str:
    deep = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    header, payload = (deep, json.dumps(GOOD_PAYLOAD).encode()) if part == "header" else \
        (json.dumps(GOOD_HEADER).encode(), deep)
    return f"{b64(header)}.{b64(payload)}.c2ln"


@pytest.mark.parametrize("part", ["header", "payload"])
def test_json_nested_deeper_than_any_jwt_is_refused_before_it_is_parsed(part):
    text = nested_jwt(955, part)
    assert len(text) < 2800
    with pytest.raises(inspector.InspectError) as err:
        inspector.inspect(text, now=NOW)
    assert f"The {part} nests JSON 956 levels deep" in str(err.value) and "at most 32" in str(err.value)
    assert inspector.inspect(nested_jwt(30), now=NOW).payload["a"]  # 31 levels: still shown


@pytest.mark.parametrize("depth", [955, 100])
def test_the_nested_jwt_is_a_400_naming_the_field_on_every_page_that_decodes_it(client, depth):
    text = nested_jwt(depth)
    for target in ("line", "sandbox"):
        page = client.post("/inspect", data={"text": text, "target": target})
        html = page.get_data(as_text=True)
        assert page.status_code == 400 and 'id="text-error"' in html and "nests JSON" in html
        answer = client.post("/inspect", json={"text": text, "target": target})
        assert answer.status_code == 400 and answer.get_json()["field"] == "text"
        assert "nests JSON" in answer.get_json()["error_description"]
    page = client.post("/v2/bot/info", data={"access_token": text, "target": "sandbox"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'id="access_token-error"' in html and "nests JSON" in html
    answer = client.post("/v2/bot/info", json={"access_token": text, "target": "sandbox"})
    assert answer.status_code == 400 and answer.get_json()["field"] == "access_token"
    # A result page that shows the JWT it sent stays a page (LINE's refusal), not a 500.
    issued = client.post("/oauth2/v2.1/token", data={"client_assertion": text, "target": "sandbox"})
    assert issued.status_code < 500 and "Traceback" not in issued.get_data(as_text=True)

"""One signing path (issue 15): every route that signs from the guided fields answers the same
bad input with the same field and the same message, because they all call
signing.assertion_from_fields, and LINE's request fields are built in one place.

Routes: the JWT page (form and JSON), the proxy pages' one-step mode (form and JSON) for the
v2.1 token, the v2.1 key IDs and the stateless token, and the CLI's ``jwt`` command. The
expected field and message are what the shared function itself says.
"""
from __future__ import annotations

import json

import pytest
from markupsafe import escape

from line_token.core import line_client, signing

CHANNEL = "1234567890"
JSON_ROUTES = ["/oauth2/v2.1/jwt", "/oauth2/v2.1/token", "/oauth2/v2.1/tokens", "/oauth2/v3/token"]

BAD_INPUTS = {
    "exp_minutes 31": {"exp_minutes": 31},
    "exp_minutes 0": {"exp_minutes": 0},
    "exp_minutes not a number": {"exp_minutes": "soon"},
    "channel_id abc": {"channel_id": "abc"},
    "channel_id missing": {"channel_id": ""},
    "token_exp 0": {"token_exp": 0},
    "token_exp over 30 days": {"token_exp": signing.MAX_TOKEN_EXP + 1},
    "token_exp not a number": {"token_exp": "1e3"},
    "private_key empty": {"private_key": ""},
    "private_key without p and q": "no_primes",
    "kid missing": {"kid": "", "private_key": "no_kid"},
}


def fields_for(name: str, console_key: dict) -> dict:
    base = {"channel_id": CHANNEL, "kid": "kid-1", "private_key": console_key, "token_exp": 86400, "exp_minutes": 30}
    change = BAD_INPUTS[name]
    if change == "no_primes":
        return {**base, "private_key": {k: v for k, v in console_key.items() if k not in ("p", "q", "dp", "dq", "qi")}}
    change = dict(change)
    if change.get("private_key") == "no_kid":
        change["private_key"] = {k: v for k, v in console_key.items() if k != "kid"}
    return {**base, **change}


def expected(fields: dict) -> tuple[str, str]:
    with pytest.raises(signing.InputError) as info:
        signing.assertion_from_fields(fields)
    return info.value.field, info.value.message


def form_data(fields: dict) -> dict:
    """The same input as a page's form posts it (token lifetime in seconds, key as text)."""
    data = {k: (json.dumps(v) if isinstance(v, dict) else str(v)) for k, v in fields.items()}
    data["token_exp_unit"] = "seconds"
    return data


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_every_route_names_the_same_field_with_the_same_message(client, console_key, name):
    fields = fields_for(name, console_key)
    field, message = expected(fields)
    answers = {}
    for path in JSON_ROUTES:
        body = {**fields, "target": "sandbox"} if path != "/oauth2/v2.1/jwt" else fields
        response = client.post(path, json=body)
        answers[f"JSON {path}"] = (response.status_code, response.get_json().get("field"),
                                   response.get_json().get("error_description"))
    for path in JSON_ROUTES:
        response = client.post(path, data={**form_data(fields), "target": "sandbox"}, content_type="multipart/form-data")
        page = response.get_data(as_text=True)
        # Beside the field, or (a page without that field, e.g. token_exp on the key-ID page) in the error summary.
        beside = (f'id="{field}-error" role="alert">{escape(message)}</p>' in page
                  or f'id="{field}"' not in page and str(escape(message)) in page)
        answers[f"form {path}"] = (response.status_code, field if beside else "(not shown beside the field)", message)
    assert set(answers.values()) == {(400, field, message)}, answers


@pytest.mark.parametrize("option, value, field", [
    ("--exp-minutes", "31", "exp_minutes"), ("--channel-id", "abc", "channel_id"),
    ("--token-exp", "0", "token_exp"), ("--token-exp", str(signing.MAX_TOKEN_EXP + 1), "token_exp"),
])
def test_the_cli_says_the_same(runner, console_key, tmp_path, option, value, field):
    key_file = tmp_path / "private.json"
    key_file.write_text(json.dumps(console_key))
    args = {"--channel-id": CHANNEL, "--kid": "kid-1", "--key": str(key_file), "--token-exp": "86400",
            "--exp-minutes": "30", option: value}
    result = runner.invoke(args=["jwt", *[part for pair in args.items() for part in pair]])
    fields = {"channel_id": args["--channel-id"], "kid": "kid-1", "private_key": console_key,
              "token_exp": int(args["--token-exp"]), "exp_minutes": int(args["--exp-minutes"])}
    expected_field, message = expected(fields)
    assert expected_field == field
    assert result.exit_code == 2 and f"Error: {option}: {message}" in result.output, result.output


def test_a_good_input_signs_the_same_assertion_everywhere(client, console_key):
    """The claims a route signs are the shared function's: same header, same payload (but exp's second)."""
    fields = {"channel_id": CHANNEL, "kid": "kid-1", "private_key": console_key, "token_exp": 86400, "exp_minutes": 5}
    reference = signing.decode_unverified(signing.assertion_from_fields(fields))
    token = client.post("/oauth2/v2.1/jwt", json=fields).get_json()["response_body"]
    page = client.post("/oauth2/v2.1/jwt", data=form_data(fields), content_type="multipart/form-data")
    assert page.status_code == 200
    for header, payload in (signing.decode_unverified(token),):
        assert header == reference[0]
        assert {k: v for k, v in payload.items() if k != "exp"} == {k: v for k, v in reference[1].items() if k != "exp"}
        assert abs(payload["exp"] - reference[1]["exp"]) <= 5


def test_lines_request_fields_are_built_in_one_place():
    assert line_client.request_fields("issue_v21", client_assertion="a.b.c") == {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "a.b.c"}
    assert line_client.request_fields("kids_v21", client_assertion="a.b.c") == {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": "a.b.c"}
    assert line_client.request_fields("issue_stateless", client_id="1", client_secret="s") == {
        "grant_type": "client_credentials", "client_id": "1", "client_secret": "s"}
    assert list(line_client.request_fields("revoke_v21", client_id="1", client_secret="s", access_token="t")) == [
        "client_id", "client_secret", "access_token"]
    with pytest.raises(TypeError):
        line_client.request_fields("verify_v21", client_secret="s")


def test_proxy_does_not_import_views_and_line_client_shows_nothing():
    import ast
    from pathlib import Path

    package = Path(signing.__file__).parent.parent / "web"
    imported = {node.module for node in ast.walk(ast.parse((package / "proxy.py").read_text()))
                if isinstance(node, ast.ImportFrom)}
    names = {alias.name for node in ast.walk(ast.parse((package / "proxy.py").read_text()))
             if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert "views" not in imported and "views" not in names
    for helper in ("mask", "masked", "curl_command", "explain", "N_"):
        assert helper not in vars(line_client) or helper == "N_" and line_client.N_ is signing.N_

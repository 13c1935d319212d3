"""The proxy pages through the test client: the JSON envelope and the HTML result pages
against the in-process sandbox, input errors naming the field, and LINE unreachable or slow."""
from __future__ import annotations

import html
import json
import re
import time

import pytest

from line_token.core import signing
from conftest import BUSY_MACHINE_SLACK, free_port

URN = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def assertion(channel, key):
    def _make(token_exp: int = 3600, **kw) -> str:
        return signing.build_assertion(kw.get("channel_id", channel["channel_id"]), kw.get("kid", channel["kid"]),
                                       key, token_exp)
    return _make


def post_json(client, path: str, body) -> tuple[int, dict]:
    response = client.post(path, json=body)
    return response.status_code, response.get_json()


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --------------------------------------------------------------------------- the JSON API


def test_json_issue_list_verify_revoke_flow(client, channel, assertion):
    jwt = assertion(3600)
    status, issued = post_json(client, "/oauth2/v2.1/token", {
        "grant_type": "client_credentials", "client_assertion_type": URN, "client_assertion": jwt, "target": "sandbox"})
    assert status == 200 and issued["response_status_code"] == 200, issued
    token = issued["response_body"]
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["key_id"]

    status, kids = post_json(client, "/oauth2/v2.1/tokens", {"client_assertion": jwt, "target": "sandbox"})
    assert (status, kids["response_status_code"]) == (200, 200)
    assert token["key_id"] in kids["response_body"]["kids"]

    status, verified = post_json(client, "/oauth2/v2.1/verify", {"access_token": token["access_token"], "target": "sandbox"})
    assert verified["response_status_code"] == 200
    assert verified["response_body"]["client_id"] == channel["channel_id"]
    assert 0 < verified["response_body"]["expires_in"] <= 3600

    status, revoked = post_json(client, "/oauth2/v2.1/revoke", {
        "client_id": channel["channel_id"], "client_secret": channel["channel_secret"],
        "access_token": token["access_token"], "target": "sandbox"})
    assert (status, revoked) == (200, {"response_status_code": 200, "response_body": ""})

    _, kids = post_json(client, "/oauth2/v2.1/tokens", {"client_assertion": jwt, "target": "sandbox"})
    assert token["key_id"] not in kids["response_body"]["kids"]
    _, again = post_json(client, "/oauth2/v2.1/verify", {"access_token": token["access_token"], "target": "sandbox"})
    assert again["response_status_code"] == 400
    assert again["response_body"]["error"] == "invalid_request"


def test_json_defaults_grant_and_assertion_type(client, channel, assertion):
    status, issued = post_json(client, "/oauth2/v2.1/token", {"client_assertion": assertion(), "target": "sandbox"})
    assert issued["response_status_code"] == 200


def test_json_one_step_issue_signs_with_the_shared_module(client, channel, console_key):
    status, issued = post_json(client, "/oauth2/v2.1/token", {
        "channel_id": channel["channel_id"], "kid": channel["kid"], "private_key": console_key,
        "token_exp": 600, "target": "sandbox"})
    assert status == 200 and issued["response_status_code"] == 200, issued
    assert issued["response_body"]["expires_in"] == 600
    # The private key may also be sent as JSON text, and kids lists take the same fields.
    status, kids = post_json(client, "/oauth2/v2.1/tokens", {
        "channel_id": int(channel["channel_id"]), "kid": channel["kid"],
        "private_key": json.dumps(console_key),
        "target": "sandbox"})
    assert kids["response_body"]["kids"] == [issued["response_body"]["key_id"]]


def test_json_line_errors_pass_through_in_the_envelope(client, channel, assertion, key):
    # A JWT for another channel's kid: LINE's 404 body, as it is, in a 200 envelope.
    unknown_kid = assertion(kid="no-such-kid")
    status, body = post_json(client, "/oauth2/v2.1/token", {"client_assertion": unknown_kid, "target": "sandbox"})
    assert status == 200
    assert body["response_status_code"] == 404
    assert body["response_body"] == {"message": "Cannot find channel key that satisfies the conditions"}

    expired = signing.sign(*signing.build_claims(channel["channel_id"], channel["kid"], 3600, 60, now=int(time.time()) - 600),
                           key, validate=False)
    status, body = post_json(client, "/oauth2/v2.1/token", {"client_assertion": expired, "target": "sandbox"})
    assert (status, body["response_status_code"]) == (200, 400)
    assert body["response_body"] == {"error": "invalid_client", "error_description": "Invalid exp"}

    status, body = post_json(client, "/oauth2/v2.1/token", {"client_assertion": "garbage", "target": "sandbox"})
    assert (status, body["response_status_code"]) == (200, 400)
    assert body["response_body"]["error"] == "invalid_client"

    status, body = post_json(client, "/oauth2/v2.1/revoke", {
        "client_id": channel["channel_id"], "client_secret": "wrong", "access_token": "a.b.c", "target": "sandbox"})
    assert body == {"response_status_code": 400,
                    "response_body": {"error": "invalid_client", "error_description": "invalid client_secret"}}


def test_json_other_token_types(client, channel, assertion, console_key):
    secret = {"client_id": channel["channel_id"], "client_secret": channel["channel_secret"], "target": "sandbox"}
    _, by_secret = post_json(client, "/oauth2/v3/token", secret)
    assert by_secret["response_status_code"] == 200 and by_secret["response_body"]["expires_in"] in (899, 900)
    _, by_jwt = post_json(client, "/oauth2/v3/token", {"client_assertion": assertion(), "target": "sandbox"})
    assert by_jwt["response_status_code"] == 200 and by_jwt["response_body"]["token_type"] == "Bearer"
    _, one_step = post_json(client, "/oauth2/v3/token", {
        "channel_id": channel["channel_id"], "kid": channel["kid"], "private_key": console_key, "target": "sandbox"})
    assert one_step["response_status_code"] == 200
    _, wrong = post_json(client, "/oauth2/v3/token", {**secret, "client_secret": "nope"})
    assert wrong["response_status_code"] == 400
    assert wrong["response_body"]["error_description"] == "Invalid 'client_credentials'."

    _, issued = post_json(client, "/v2/oauth/accessToken", secret)
    assert issued["response_status_code"] == 200 and issued["response_body"]["expires_in"] == 2592000
    token = issued["response_body"]["access_token"]
    _, verified = post_json(client, "/v2/oauth/verify", {"access_token": token, "target": "sandbox"})
    assert verified["response_body"]["client_id"] == channel["channel_id"]
    _, revoked = post_json(client, "/v2/oauth/revoke", {"access_token": token, "target": "sandbox"})
    assert revoked == {"response_status_code": 200, "response_body": ""}
    _, again = post_json(client, "/v2/oauth/verify", {"access_token": token, "target": "sandbox"})
    assert again["response_body"] == {"error": "invalid_request", "error_description": "access_token invalid"}


@pytest.mark.parametrize("path, body, field", [
    ("/oauth2/v2.1/token", {"target": "sandbox"}, "client_assertion"),
    ("/oauth2/v2.1/token", {"client_assertion": ["x"]}, "client_assertion"),
    ("/oauth2/v2.1/token", {"client_assertion": "a.b.c", "target": "http://evil.example/"}, "target"),
    ("/oauth2/v2.1/token", {"channel_id": "12", "kid": "k", "private_key": "", "target": "sandbox"}, "private_key"),
    ("/oauth2/v2.1/token", {"channel_id": "abc", "kid": "k", "private_key": {"kty": "RSA"}}, "private_key"),
    ("/oauth2/v2.1/token", {"client_assertion": "x" * 20000}, "client_assertion"),
    ("/oauth2/v2.1/tokens", {"kid": "k"}, "private_key"),
    ("/oauth2/v2.1/verify", {}, "access_token"),
    ("/oauth2/v2.1/verify", {"access_token": True}, "access_token"),
    ("/oauth2/v2.1/revoke", {"access_token": "a.b.c", "client_secret": "s"}, "client_id"),
    ("/oauth2/v2.1/revoke", {"access_token": "a.b.c", "client_id": "1"}, "client_secret"),
    ("/oauth2/v3/token", {"client_id": "1", "client_secret": ""}, "client_assertion"),
    ("/oauth2/v3/token", {"variant": "secret", "client_secret": "s"}, "client_id"),
    ("/oauth2/v3/token", {"variant": "both"}, "variant"),
    ("/v2/oauth/accessToken", {"client_id": "1"}, "client_secret"),
    ("/v2/oauth/verify", {"access_token": {"a": 1}}, "access_token"),
    ("/v2/oauth/revoke", {"access_token": "   "}, "access_token"),
    ("/v2/oauth/revoke", [1, 2], "body"),
])
def test_json_bad_input_is_400_naming_the_field(client, path, body, field):
    status, answer = post_json(client, path, body)
    assert status == 400, answer
    assert answer["field"] == field
    assert answer["error"] and answer["error_description"]


def test_json_one_step_with_a_bad_channel_id_names_it(client, console_key):
    status, answer = post_json(client, "/oauth2/v2.1/token", {"channel_id": "abc", "kid": "k", "private_key": console_key})
    assert (status, answer["field"]) == (400, "channel_id")
    status, answer = post_json(client, "/oauth2/v2.1/token", {"channel_id": "1", "kid": "k", "private_key": console_key,
                                                              "token_exp": 9999999})
    assert (status, answer["field"]) == (400, "token_exp")


def test_malformed_json_is_400_not_500(client):
    response = client.post("/oauth2/v2.1/verify", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_sandbox_disabled_is_400_naming_target(app, client):
    app.config["SANDBOX_ENABLED"] = False
    status, answer = post_json(client, "/v2/oauth/verify", {"access_token": "x", "target": "sandbox"})
    assert (status, answer["field"]) == (400, "target")
    page = client.get("/oauth2/v2.1/verify")
    assert 'value="sandbox"' not in page.get_data(as_text=True)


# --------------------------------------------------------------------------- the HTML pages


ALL_PAGES = ["/oauth2/v2.1/token", "/oauth2/v2.1/tokens", "/oauth2/v2.1/verify", "/oauth2/v2.1/revoke",
             "/other-tokens", "/oauth2/v3/token", "/v2/oauth/accessToken", "/v2/oauth/verify", "/v2/oauth/revoke"]


@pytest.mark.parametrize("path", ALL_PAGES)
def test_every_page_renders_with_csrf_target_and_no_inline_script(client, path):
    response = client.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Content-Security-Policy" in response.headers
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>(?!\s*\{)", page) is None  # only src= scripts (and JSON data)
    assert not re.search(r"\son[a-z]+=", page)
    if path != "/other-tokens":
        assert 'name="csrf_token"' in page
        assert 'name="target" value="line" checked' in page
        assert re.search(r"/static/proxy\.[0-9a-f]{12}\.js", page)  # the hashed name (static_files.py)


def test_nav_links_to_the_proxy_pages(client):
    page = client.get("/").get_data(as_text=True)
    for path in ["/oauth2/v2.1/token", "/oauth2/v2.1/tokens", "/oauth2/v2.1/verify", "/oauth2/v2.1/revoke", "/other-tokens"]:
        assert f'href="{path}"' in page


def test_other_page_compares_all_token_types(client):
    page = text_of(client.get("/other-tokens"))
    for needle in ["/oauth2/v3/token", "/v2/oauth/accessToken", "/v2/oauth/verify", "/v2/oauth/revoke",
                   "15 minutes", "Long-lived"]:
        assert needle in page


def test_form_flow_issue_list_verify_revoke(client, channel, assertion):
    jwt = assertion(7200)
    issued = client.post("/oauth2/v2.1/token", data={"client_assertion": jwt, "target": "sandbox"})
    assert issued.status_code == 200
    page = text_of(issued)
    token = re.search(r'<pre id="access-token"[^>]*>([^<]+)</pre>', page).group(1)
    key_id = re.search(r'<code id="key-id">([^<]+)</code>', page).group(1)
    assert "Token issued" in page and 'id="response-status">200<' in page
    assert "7200 seconds" in page and "<time datetime=" in page  # expires_in, also as a date/time
    # The request as sent: masked assertion; curl masked, with the full variant for "include secrets".
    assert f"<code>{jwt[:4]}…{jwt[-4:]}</code>" in page
    masked_curl = re.search(r'<pre id="curl-masked"[^>]*>(.*?)</pre>', page, re.S).group(1)
    assert jwt not in masked_curl and "/sandbox/oauth2/v2.1/token" in masked_curl
    assert jwt in re.search(r'<pre id="curl-full"[^>]*>(.*?)</pre>', page, re.S).group(1)
    assert 'id="curl-include-secrets"' in page
    # Next steps post the token in a form body, never in a link.
    for href in re.findall(r'href="([^"]*)"', page):
        assert token not in href and jwt not in href

    listed = text_of(client.post("/oauth2/v2.1/tokens", data={"client_assertion": jwt, "target": "sandbox"}))
    assert f"<code>{key_id}</code>" in listed and "1 of at most 30" in listed

    verified = text_of(client.post("/oauth2/v2.1/verify", data={"access_token": token, "target": "sandbox"}))
    assert "The token is valid" in verified and f'<code id="client-id">{channel["channel_id"]}</code>' in verified

    # The verify page's "revoke" button prefills the revoke form without calling LINE.
    prefilled = text_of(client.post("/oauth2/v2.1/revoke", data={
        "access_token": token, "client_id": channel["channel_id"], "target": "sandbox", "prefill": "1"}))
    assert 'id="result"' not in prefilled and f'value="{channel["channel_id"]}"' in prefilled
    assert 'name="target" value="sandbox" checked' in prefilled

    revoked = text_of(client.post("/oauth2/v2.1/revoke", data={
        "client_id": channel["channel_id"], "client_secret": channel["channel_secret"], "access_token": token,
        "target": "sandbox"}))
    assert "The sandbox accepted the request" in revoked
    # The 200-warning is said once: the result's own note, not the page's general one beside it.
    assert revoked.count("answers the same for a token it does not know") == 1
    assert "empty body even when the token is unknown" not in revoked
    assert "The body is empty." in revoked
    shown = revoked.split('id="curl-full-wrap"')[0]  # the result up to the opt-in curl with secrets
    assert channel["channel_secret"] not in shown.split('id="result"')[1]

    listed = text_of(client.post("/oauth2/v2.1/tokens", data={"client_assertion": jwt, "target": "sandbox"}))
    assert key_id not in listed and "0 of at most 30" in listed
    again = text_of(client.post("/oauth2/v2.1/verify", data={"access_token": token, "target": "sandbox"}))
    assert "The token is not valid" in again and "was revoked" in again  # the plain-language explanation


def test_form_one_step_issue_with_a_key_file(client, channel, console_key_text):
    from io import BytesIO

    response = client.post("/oauth2/v2.1/token", data={
        "channel_id": channel["channel_id"], "kid": channel["kid"], "token_exp": "2", "token_exp_unit": "hours",
        "exp_minutes": "5", "target": "sandbox",
        "private_key_file": (BytesIO(console_key_text.encode()), "key.json"),
    }, content_type="multipart/form-data")
    page = text_of(response)
    assert response.status_code == 200, page
    assert "Token issued" in page and "7200 seconds" in page
    assert 'id="signed-assertion"' in page  # the JWT signed here, to reuse for listing


def test_form_one_step_errors_rerender_the_form_with_the_field(client, channel, console_key_text):
    response = client.post("/oauth2/v2.1/token", data={
        "channel_id": "not-a-number", "kid": channel["kid"], "private_key": console_key_text, "target": "sandbox"})
    page = text_of(response)
    assert response.status_code == 400
    assert 'id="channel_id-error"' in page and 'aria-invalid="true"' in page
    assert 'value="not-a-number"' in page  # the input is kept

    response = client.post("/oauth2/v2.1/token", data={"target": "sandbox"})
    assert response.status_code == 400 and 'id="client_assertion-error"' in response.get_data(as_text=True)

    response = client.post("/oauth2/v2.1/verify", data={"access_token": "x", "target": "elsewhere"})
    assert response.status_code == 400 and 'id="target-error"' in response.get_data(as_text=True)


def test_jwt_page_hands_its_jwt_to_the_token_form(client, channel, assertion):
    jwt = assertion()
    page = client.post("/oauth2/v2.1/token", data={"client_assertion": jwt, "prefill": "1"})
    text = text_of(page)
    assert page.status_code == 200 and 'id="result"' not in text
    assert re.search(r'<textarea id="client_assertion"[^>]*>' + re.escape(jwt) + "</textarea>", text)


def test_form_line_error_shows_the_body_and_an_explanation(client, channel, assertion):
    page = text_of(client.post("/oauth2/v2.1/token", data={"client_assertion": assertion(kid="nope"), "target": "sandbox"}))
    assert "The sandbox refused the request" in page and 'id="response-status">404<' in page
    assert "Cannot find channel key that satisfies the conditions" in page
    # The sandbox's own explanation, once: not LINE's advice about LINE's console as well (issue 22.12).
    explain = re.search(r'<p class="explain" id="explanation">(.*?)</p>', page, re.S).group(1)
    assert "The JWT's kid is nope." in explain and "The sandbox knows no key with kid nope" in explain
    assert "LINE knows no key with this kid" not in explain


def test_form_other_token_types(client, channel):
    secret = {"client_id": channel["channel_id"], "client_secret": channel["channel_secret"], "target": "sandbox"}
    stateless = text_of(client.post("/oauth2/v3/token", data={**secret, "variant": "secret"}))
    assert "Token issued" in stateless and "cannot be verified or revoked" in stateless

    issued = text_of(client.post("/v2/oauth/accessToken", data=secret))
    token = re.search(r'<pre id="access-token"[^>]*>([^<]+)</pre>', issued).group(1)
    assert "2592000 seconds" in issued and 'action="/v2/oauth/verify"' in issued

    verified = text_of(client.post("/v2/oauth/verify", data={"access_token": token, "target": "sandbox"}))
    assert "The token is valid" in verified and "P CM" in verified
    revoked = text_of(client.post("/v2/oauth/revoke", data={"access_token": token, "target": "sandbox"}))
    assert "The sandbox accepted the request" in revoked and "empty body" in revoked
    again = text_of(client.post("/v2/oauth/verify", data={"access_token": token, "target": "sandbox"}))
    assert "access_token invalid" in again and "invalid, expired or revoked" in again


def test_stateless_form_by_jwt_one_step(client, channel, console_key_text):
    page = text_of(client.post("/oauth2/v3/token", data={
        "variant": "assertion", "channel_id": channel["channel_id"], "kid": channel["kid"],
        "private_key": console_key_text, "target": "sandbox"}))
    assert "Token issued" in page and "client_assertion_type" in page


def test_csrf_is_enforced_for_forms_but_not_json(tmp_path, channel):
    from line_token import create_app

    app = create_app({"TESTING": True, "SANDBOX_DATABASE": str(tmp_path / "sandbox.sqlite3"), "SECRET_KEY": "k"})
    client = app.test_client()
    form = client.post("/v2/oauth/verify", data={"access_token": "x", "target": "sandbox"})
    assert form.status_code == 400 and "Form expired" in form.get_data(as_text=True)
    as_json = client.post("/v2/oauth/verify", json={"access_token": "x", "target": "sandbox"})
    assert as_json.status_code == 200 and as_json.get_json()["response_status_code"] == 400


# --------------------------------------------------------------------------- LINE unreachable or slow


def test_dead_upstream_is_502_json_and_html(app, client):
    app.config.update(LINE_API_BASE_URL=f"http://127.0.0.1:{free_port()}", LINE_API_TIMEOUT=3)
    started = time.monotonic()
    response = client.post("/oauth2/v2.1/verify", json={"access_token": "a.b.c"})
    assert time.monotonic() - started < BUSY_MACHINE_SLACK  # refused at once, not after the timeout
    assert response.status_code == 502
    assert response.get_json()["error"] == "upstream_unreachable"
    assert "refused" in response.get_json()["error_description"]

    page = client.post("/oauth2/v2.1/verify", data={"access_token": "a.b.c.secret-token-value"})
    text = text_of(page)
    assert page.status_code == 502
    assert 'id="upstream-error"' in text and "refused" in text
    assert 'name="access_token"' in text  # the form comes back with the input kept


def test_slow_upstream_is_504_within_the_timeout(app, client, slow_upstream):
    app.config.update(LINE_API_BASE_URL=slow_upstream, LINE_API_TIMEOUT=3)
    started = time.monotonic()
    response = client.post("/v2/oauth/accessToken", json={"client_id": "1", "client_secret": "s"})
    assert 2.9 < time.monotonic() - started < 3 + BUSY_MACHINE_SLACK
    assert response.status_code == 504
    assert response.get_json() == {"error": "upstream_timeout", "error_description": response.get_json()["error_description"]}
    assert "3 seconds" in response.get_json()["error_description"]

    started = time.monotonic()
    page = client.post("/oauth2/v2.1/revoke", data={"client_id": "1", "client_secret": "s", "access_token": "a.b.c"})
    assert time.monotonic() - started < 3 + BUSY_MACHINE_SLACK
    assert page.status_code == 504 and 'id="upstream-error"' in page.get_data(as_text=True)


def test_line_api_error_outside_a_form_renders_an_error_page(app, client):
    """The app-wide handler: HTML for people, JSON for scripts, the same status."""
    from line_token.core import line_client

    @app.get("/_probe")
    def probe():
        raise line_client.LineAPIError("upstream_timeout", "LINE did not answer within %(seconds)s seconds.", 504,
                                       seconds="3")

    page = client.get("/_probe")
    assert page.status_code == 504 and "LINE did not answer within 3 seconds." in page.get_data(as_text=True)
    data = client.get("/_probe", headers={"Accept": "application/json"})
    assert data.status_code == 504 and data.get_json()["error"] == "upstream_timeout"


def test_japanese_result_page_renders(client, channel):
    client.set_cookie("lang", "ja")
    page = client.post("/v2/oauth/verify", data={"access_token": "x", "target": "sandbox"})
    assert page.status_code == 200
    assert '<html lang="ja">' in page.get_data(as_text=True)

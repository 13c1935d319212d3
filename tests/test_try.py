"""Step 6's page and JSON API ("Try the token") against the in-process sandbox and a fake LINE.

The page asks GET /v2/bot/info, /v2/bot/message/quota and /quota/consumption with
``Authorization: Bearer``; the token travels in the form or JSON body to us and in
that header to the target, never in a URL.
"""
from __future__ import annotations

import html
import json
import re

import pytest

from line_token.core import signing

FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
MALFORMED = ("Authentication failed due to the following reason: The access token malformed. "
             "Confirm that the access token in the authorization header is valid.")


@pytest.fixture
def key(console_key) -> signing.PrivateKey:
    return signing.load_private_key(console_key)


@pytest.fixture
def channel(client, key) -> dict:
    created = client.post("/sandbox/api/channels", json={"name": "Latte bot"}).get_json()
    registered = client.post(f"/sandbox/api/channels/{created['channel_id']}/keys", json=signing.public_jwk(key),
                             auth=(created['channel_id'], created['channel_secret']))
    return {**created, "kid": registered.get_json()["kid"]}


@pytest.fixture
def v21_token(client, channel, key) -> str:
    jwt = signing.build_assertion(channel["channel_id"], channel["kid"], key, 3600)
    return client.post("/oauth2/v2.1/token", json={"client_assertion": jwt, "target": "sandbox"}).get_json()[
        "response_body"]["access_token"]


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_json_api_answers_each_call_in_the_proxy_envelope(client, channel, v21_token):
    body = {"access_token": v21_token, "target": "sandbox"}
    info = client.post("/v2/bot/info", json=body)
    assert info.status_code == 200
    envelope = info.get_json()
    assert envelope["response_status_code"] == 200 and envelope["token_works"] is True
    assert envelope["response_body"]["displayName"] == "Latte bot"
    assert re.fullmatch(r"U[0-9a-f]{32}", envelope["response_body"]["userId"])
    assert client.post("/v2/bot/message/quota", json=body).get_json() == {
        "response_status_code": 200, "response_body": {"type": "none"}, "token_works": True}
    assert client.post("/v2/bot/message/quota/consumption", json=body).get_json() == {
        "response_status_code": 200, "response_body": {"totalUsage": 0}, "token_works": True}


def test_json_api_says_why_a_token_is_refused(client, channel, v21_token):
    client.post("/oauth2/v2.1/revoke", json={"client_id": channel["channel_id"], "target": "sandbox",
                                             "client_secret": channel["channel_secret"], "access_token": v21_token})
    revoked = client.post("/v2/bot/info", json={"access_token": v21_token, "target": "sandbox"}).get_json()
    assert revoked["response_status_code"] == 401 and revoked["response_body"] == {"message": FAILED}
    assert revoked["token_works"] is False and revoked["reason"] == "invalid"
    assert "expired or revoked" in revoked["explanation"]
    garbled = client.post("/v2/bot/message/quota", json={"access_token": "abc!def", "target": "sandbox"}).get_json()
    assert (garbled["response_body"], garbled["reason"]) == ({"message": MALFORMED}, "malformed")
    assert "copy the whole token again" in garbled["explanation"]


@pytest.mark.parametrize("body, field, message", [
    ({"target": "sandbox"}, "access_token", "Paste the channel access token"),
    ({"access_token": "   ", "target": "sandbox"}, "access_token", "Paste the channel access token"),
    ({"access_token": "tök", "target": "sandbox"}, "access_token", "only letters, digits"),
    ({"access_token": "A" * 5000, "target": "sandbox"}, "access_token", "longer than any channel access token"),
    ({"access_token": ["x"], "target": "sandbox"}, "access_token", "must be text"),
    ({"access_token": "abc", "target": "mars"}, "target", "target must be"),
])
def test_bad_input_is_a_400_naming_the_field(client, body, field, message):
    response = client.post("/v2/bot/info", json=body)
    assert response.status_code == 400
    error = response.get_json()
    assert error.get("field") == field and message in json.dumps(error, ensure_ascii=False)


def test_the_page_shows_the_bot_quota_and_snippets_with_the_token_masked(client, channel, v21_token):
    page = text_of(client.post("/v2/bot/info", data={"access_token": v21_token, "target": "sandbox"}))
    assert "The token works" in page and 'id="bot-name">Latte bot<' in page
    assert "No limit" in page and re.search(r'id="consumption">0 ', page)
    assert 'src="http://localhost/sandbox/bot-profile/U' in page  # the sandbox's picture, loadable here
    masked = page.split('id="curl-masked-wrap"')[1].split('id="curl-full-wrap"')[0]
    assert v21_token not in masked, "the token appears only in the 'with secrets' snippets"
    # By default the code reads the token from the environment, and the line above it says so (issue 22.11).
    assert 'Authorization: Bearer $LINE_CHANNEL_ACCESS_TOKEN' in masked
    assert 'access_token=os.environ["LINE_CHANNEL_ACCESS_TOKEN"]' in masked
    assert "channelAccessToken: process.env.LINE_CHANNEL_ACCESS_TOKEN" in masked
    assert re.search(r'id="snippet-env">Set LINE_CHANNEL_ACCESS_TOKEN in your environment', masked)
    assert "MessagingApi(api_client)" in masked and "api.get_message_quota_consumption()" in masked
    assert "new messagingApi.MessagingApiClient" in masked and "client.getBotInfo()" in masked
    assert 'Configuration(host="http://localhost/sandbox"' in masked
    assert page.count(v21_token) >= 3  # the full snippets and the next-step buttons' hidden fields
    # v2.1 tokens: the header is decoded, the rest is opaque; next steps are v2.1's verify and revoke.
    assert '"alg": "HS256"' in page and 'action="/oauth2/v2.1/verify"' in page
    assert 'action="/oauth2/v2.1/revoke"' in page


def test_the_page_explains_lines_401_and_skips_the_quota_calls(client):
    response = client.post("/v2/bot/info", data={"access_token": "A" * 172, "target": "sandbox"})
    page = text_of(response)
    assert response.status_code == 200  # LINE answered; the page shows its answer
    assert "The token does not work" in page and "invalid, expired or revoked" in page
    assert FAILED in page and "The quota calls were not made" in page
    assert 'action="/v2/oauth/verify"' in page  # an opaque token: short-lived or long-lived


def test_stateless_tokens_show_their_claims(client, channel):
    token = client.post("/oauth2/v3/token", json={"client_id": channel["channel_id"], "target": "sandbox",
                                                  "client_secret": channel["channel_secret"]}).get_json()[
        "response_body"]["access_token"]
    page = text_of(client.post("/v2/bot/info", data={"access_token": f"Bearer {token}", "target": "sandbox"}))
    assert "The token works" in page and f'"iss": "{channel["channel_id"]}"' in page
    assert "If this is a stateless token, it cannot be verified or revoked" in page


def test_issue_results_offer_try_it_posting_the_token(client, channel):
    page = text_of(client.post("/v2/oauth/accessToken", data={
        "client_id": channel["channel_id"], "client_secret": channel["channel_secret"], "target": "sandbox"}))
    form = page.split('action="/v2/bot/info"')[1].split("</form>")[0]
    assert 'method="post"' in page.split('action="/v2/bot/info"')[0][-80:]
    assert 'name="access_token"' in form and ">Try it</button>" in form
    token = re.search(r'name="access_token" value="([^"]+)"', form).group(1)
    assert "The token works" in text_of(client.post("/v2/bot/info", data={"access_token": token,
                                                                          "target": "sandbox"}))


def test_form_errors_name_the_field(client):
    response = client.post("/v2/bot/info", data={"access_token": "", "target": "sandbox"})
    assert response.status_code == 400 and 'id="access_token-error"' in text_of(response)


def test_the_page_is_step_6_in_the_nav_and_on_home(client):
    home = text_of(client.get("/"))
    assert 'href="/v2/bot/info"' in home and "Try the token" in home
    page = text_of(client.get("/v2/bot/info"))
    assert "Step 6: try the token" in page and '<a href="/v2/bot/info" aria-current="page">' in page


def test_against_line_the_token_goes_only_in_the_header(app, client):
    """A fake LINE records what it got: the token only in Authorization, nothing in the URL."""
    import http.server
    import threading

    seen = []

    class Fake(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            body = {"/v2/bot/info": {"userId": "U" + "0" * 32, "basicId": "@123abcde", "displayName": "Real",
                                     "pictureUrl": "https://profile.line-scdn.net/abc", "chatMode": "bot",
                                     "markAsReadMode": "manual"},
                    "/v2/bot/message/quota": {"type": "limited", "value": 200},
                    "/v2/bot/message/quota/consumption": {"totalUsage": 7}}[self.path]
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.config["LINE_API_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
        token = "c2hvcnQtbGl2ZWQtdG9rZW4tZm9yLXRlc3Rz+/="
        page = text_of(client.post("/v2/bot/info", data={"access_token": token, "target": "line"}))
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [("/v2/bot/info", f"Bearer {token}"), ("/v2/bot/message/quota", f"Bearer {token}"),
                    ("/v2/bot/message/quota/consumption", f"Bearer {token}")]
    assert "The token works" in page and 'id="bot-name">Real<' in page and "200 messages" in page
    assert 'src="https://profile.line-scdn.net/abc"' in page and re.search(r'id="consumption">7 ', page)


def test_verify_results_offer_try_it_too(client, v21_token):
    page = text_of(client.post("/oauth2/v2.1/verify", data={"access_token": v21_token, "target": "sandbox"}))
    form = page.split('action="/v2/bot/info"')[1].split("</form>")[0]
    assert f'name="access_token" value="{v21_token}"' in form and ">Try it</button>" in form


def test_an_unreachable_line_is_a_502_saying_so(app, client):
    from conftest import free_port

    app.config["LINE_API_BASE_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    page = client.post("/v2/bot/info", data={"access_token": "abc", "target": "line"})
    assert page.status_code == 502 and "the connection was refused" in text_of(page)
    api = client.post("/v2/bot/message/quota", json={"access_token": "abc", "target": "line"})
    assert api.status_code == 502 and api.get_json()["error"] == "upstream_unreachable"


def test_with_the_sandbox_off_its_bot_api_is_404_and_the_page_names_the_target(app, client):
    app.config["SANDBOX_ENABLED"] = False
    assert client.get("/sandbox/v2/bot/info", headers={"Authorization": "Bearer abc"}).status_code == 404
    refused = client.post("/v2/bot/info", json={"access_token": "abc", "target": "sandbox"})
    assert refused.status_code == 400 and refused.get_json()["field"] == "target"
    page = client.post("/v2/bot/info", data={"access_token": "abc", "target": "sandbox"})
    assert page.status_code == 400 and 'id="target-error"' in text_of(page)

"""Step 6 in the sandbox: GET /v2/bot/info, /v2/bot/message/quota and /quota/consumption (docs/line-api.md §10).

Any token the sandbox issued for a channel and still valid gets that channel's bot;
anything else gets LINE's 401 with LINE's exact message. Runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest

from line_token.core import signing
from line_token.sandbox import store as store_module
from line_token.core.line_client import ASSERTION_TYPE
from pg import backend, postgres  # noqa: F401  (fixtures)

# LINE's messages (docs/line-api.md §10), copied here: tests never read the notes.
NO_HEADER = "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
MALFORMED = ("Authentication failed due to the following reason: The access token malformed. "
             "Confirm that the access token in the authorization header is valid.")
BOT_PATHS = ("/sandbox/v2/bot/info", "/sandbox/v2/bot/message/quota", "/sandbox/v2/bot/message/quota/consumption")


@pytest.fixture(scope="module")
def keypair():
    private, public = signing.generate_key_pair()
    return signing.load_private_key(private), public


@pytest.fixture
def app(backend):
    from line_token import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test", **backend})
    yield app
    app.extensions["sandbox_store"].dispose()


def make_channel(client, keypair, name="Coffee bot") -> SimpleNamespace:
    created = client.post("/sandbox/api/channels", json={"name": name})
    channel_id, secret = created.json["channel_id"], created.json["channel_secret"]
    kid = client.post(f"/sandbox/api/channels/{channel_id}/keys", json=keypair[1], auth=(channel_id, secret)).json["kid"]
    return SimpleNamespace(id=channel_id, secret=secret, kid=kid, key=keypair[0])


@pytest.fixture
def channel(client, keypair):
    return make_channel(client, keypair)


def jwt_for(channel) -> str:
    now = int(time.time())
    return signing.sign({"alg": "RS256", "typ": "JWT", "kid": channel.kid},
                        {"iss": channel.id, "sub": channel.id, "aud": "https://api.line.me/", "exp": now + 600,
                         "token_exp": 3600}, channel.key)


def tokens_of_each_type(client, channel) -> dict[str, str]:
    """A v2.1, two stateless (by secret, by JWT) and a short-lived token, all from the sandbox."""
    v21 = client.post("/sandbox/oauth2/v2.1/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": jwt_for(channel)}).json["access_token"]
    by_secret = client.post("/sandbox/oauth2/v3/token", data={
        "grant_type": "client_credentials", "client_id": channel.id, "client_secret": channel.secret})
    by_jwt = client.post("/sandbox/oauth2/v3/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": jwt_for(channel)})
    short = client.post("/sandbox/v2/oauth/accessToken", data={
        "grant_type": "client_credentials", "client_id": channel.id, "client_secret": channel.secret})
    return {"v2.1": v21, "stateless (secret)": by_secret.json["access_token"],
            "stateless (JWT)": by_jwt.json["access_token"], "short-lived": short.json["access_token"]}


def get(client, path: str, token: str | None = None, header: str | None = None):
    headers = {}
    if header is not None:
        headers["Authorization"] = header
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(path, headers=headers)


def test_every_token_type_gets_the_channels_bot_quota_and_consumption(client, channel):
    infos = []
    for kind, token in tokens_of_each_type(client, channel).items():
        info, quota, consumption = (get(client, path, token) for path in BOT_PATHS)
        assert info.status_code == 200, (kind, info.json)
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                            info.headers["X-Line-Request-Id"])
        infos.append(info.json)
        assert (quota.status_code, quota.json) == (200, {"type": "none"}), kind
        assert (consumption.status_code, consumption.json) == (200, {"totalUsage": 0}), kind
    assert all(i == infos[0] for i in infos), "every token of one channel sees the same bot"
    info = infos[0]
    assert re.fullmatch(r"U[0-9a-f]{32}", info["userId"])
    assert re.fullmatch(r"@[0-9]{3}[a-z]{5}", info["basicId"])
    assert info["displayName"] == "Coffee bot"
    assert (info["chatMode"], info["markAsReadMode"]) == ("bot", "auto")
    assert info["pictureUrl"].startswith("http://localhost/sandbox/bot-profile/" + info["userId"])


def test_stateless_tokens_are_jwts_naming_the_channel(client, channel):
    token = tokens_of_each_type(client, channel)["stateless (secret)"]
    header, claims = signing.decode_unverified(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["iss"] == channel.id and claims["exp"] - claims["iat"] == 900


def test_each_channel_has_its_own_fixed_bot(client, channel, keypair):
    other = make_channel(client, keypair, name="")
    mine = get(client, BOT_PATHS[0], tokens_of_each_type(client, channel)["short-lived"]).json
    again = get(client, BOT_PATHS[0], tokens_of_each_type(client, channel)["v2.1"]).json
    theirs = get(client, BOT_PATHS[0], tokens_of_each_type(client, other)["short-lived"]).json
    assert mine["userId"] == again["userId"] and mine["basicId"] == again["basicId"]
    assert mine["userId"] != theirs["userId"] and mine["basicId"] != theirs["basicId"]
    assert theirs["displayName"] == f"Sandbox bot {other.id}"  # a nameless channel still has a name


def test_the_picture_is_served_by_the_sandbox(client, channel):
    info = get(client, BOT_PATHS[0], tokens_of_each_type(client, channel)["v2.1"]).json
    picture = client.get(info["pictureUrl"].removeprefix("http://localhost"))
    assert picture.status_code == 200 and picture.mimetype == "image/svg+xml"
    assert picture.data.startswith(b"<svg") and b"<rect" in picture.data
    assert client.get("/sandbox/bot-profile/Unot-a-user-id/picture").status_code == 404


@pytest.mark.parametrize("header, message", [
    (None, NO_HEADER),
    ("", NO_HEADER),
    ("Bearer", NO_HEADER),
    ("Bearer   ", NO_HEADER),
    ("Basic dXNlcjpwYXNz", NO_HEADER),
    ("Bearer not a token", MALFORMED),
    ("Bearer tok\u00e9n", MALFORMED),
    ("Bearer " + "A" * 3000, MALFORMED),
    ("Bearer " + "A" * 172, FAILED),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", FAILED),
])
def test_bad_authorization_gets_lines_401(client, header, message):
    for path in BOT_PATHS:
        response = client.get(path, headers={} if header is None else {"Authorization": header})
        assert (response.status_code, response.json) == (401, {"message": message}), (path, header)
        assert response.headers.get("X-Line-Request-Id")


def test_revoked_expired_tampered_and_orphaned_tokens_are_refused(app, client, channel):
    tokens = tokens_of_each_type(client, channel)
    revoked = client.post("/sandbox/oauth2/v2.1/revoke", data={
        "client_id": channel.id, "client_secret": channel.secret, "access_token": tokens["v2.1"]})
    assert revoked.status_code == 200
    client.post("/sandbox/v2/oauth/revoke", data={"access_token": tokens["short-lived"]})
    expired = "expired-token-" + "x" * 40
    app.extensions["sandbox_store"].issue_token(channel.id, store_module.SHORT_LIVED, expired, -1)
    head, body, sig = tokens["stateless (JWT)"].split(".")
    tampered = f"{head}.{body}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    for token in (tokens["v2.1"], tokens["short-lived"], expired, tampered):
        response = get(client, BOT_PATHS[0], token)
        assert (response.status_code, response.json) == (401, {"message": FAILED})
    assert get(client, BOT_PATHS[0], tokens["stateless (secret)"]).status_code == 200
    client.delete(f"/sandbox/api/channels/{channel.id}", auth=(channel.id, channel.secret))
    response = get(client, BOT_PATHS[1], tokens["stateless (secret)"])
    assert (response.status_code, response.json) == (401, {"message": FAILED})


def test_the_console_shows_and_sets_the_bot_profile(client, channel):
    page = client.post("/sandbox/console/open", data={"channel_id": channel.id, "channel_secret": channel.secret}).get_data(as_text=True)
    assert 'id="bot-profile"' in page and "Coffee bot" in page
    saved = client.post("/sandbox/console/bot", data={"channel_id": channel.id, "channel_secret": channel.secret, "display_name": "  Tea bot ",
                                                      "chat_mode": "chat", "mark_as_read_mode": "manual"})
    assert saved.status_code == 200 and "The bot profile was saved." in saved.get_data(as_text=True)
    info = get(client, BOT_PATHS[0], tokens_of_each_type(client, channel)["v2.1"]).json
    assert (info["displayName"], info["chatMode"], info["markAsReadMode"]) == ("Tea bot", "chat", "manual")
    # An empty name goes back to the channel's name.
    client.post("/sandbox/console/bot", data={"channel_id": channel.id, "channel_secret": channel.secret, "display_name": "",
                                              "chat_mode": "bot", "mark_as_read_mode": "auto"})
    assert get(client, BOT_PATHS[0], tokens_of_each_type(client, channel)["v2.1"]).json["displayName"] == "Coffee bot"


@pytest.mark.parametrize("form, field, message", [
    ({"display_name": "x" * 101}, "display_name", "at most 100 characters"),
    ({"display_name": "a\x00b"}, "display_name", "without control characters"),
    ({"chat_mode": "robot"}, "chat_mode", "Choose the chat mode"),
    ({"mark_as_read_mode": ""}, "mark_as_read_mode", "Choose the read mode"),
])
def test_the_console_refuses_a_bad_bot_profile_naming_the_field(client, channel, form, field, message):
    data = {"channel_id": channel.id, "channel_secret": channel.secret, "display_name": "ok", "chat_mode": "bot", "mark_as_read_mode": "auto", **form}
    response = client.post("/sandbox/console/bot", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page and f'id="{field}-error"' in page


def test_the_console_bot_form_for_an_unknown_channel_answers_as_a_wrong_secret(client, channel):
    """Issue 23 item 9: 401 with the same message for an unknown channel and a known one with a wrong secret."""
    for channel_id in ("1999999999", channel.id):
        response = client.post("/sandbox/console/bot", data={"channel_id": channel_id, "channel_secret": "x",
                                                             "display_name": "x", "chat_mode": "bot",
                                                             "mark_as_read_mode": "auto"})
        assert response.status_code == 401 and "No sandbox channel has this ID and secret" in response.get_data(as_text=True)
    assert client.post("/sandbox/console/bot", data={"channel_id": channel.id, "channel_secret": channel.secret,
                                                     "display_name": "x", "chat_mode": "bot",
                                                     "mark_as_read_mode": "auto"}).status_code == 200

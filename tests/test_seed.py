"""Seed and export (issue 21 item 5): GET /api/channels/{id}/export and POST /api/channels/import on the
tester's /sandbox and the sandbox's own server, and `line-token sandbox serve --seed` (tests/test_serve.py).
An export holds no secret, token or private key; an import checks every member, naming it, and creates all
of its channels or none."""
from __future__ import annotations

import copy
import json
import re
import uuid

import pytest
import requests

from line_token.core import signing
from line_token.sandbox import store as store_module

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT = "client_credentials"


@pytest.fixture(scope="module")
def keypair():
    private, public = signing.generate_key_pair()
    return private, public


def issue(post, base: str, channel_id: str, kid: str, private: dict):
    header, payload = signing.build_claims(channel_id, kid, token_exp=3600)
    assertion = signing.sign(header, payload, signing.load_private_key(private))
    return post(f"{base}/oauth2/v2.1/token", data={"grant_type": GRANT, "client_assertion_type": ASSERTION_TYPE,
                                                   "client_assertion": assertion})


def test_export_then_reset_then_import_gives_back_the_same_kids_that_verify_assertions(line_sandbox, keypair):
    channel = line_sandbox.create_channel("seeded bot", keys=2)
    token = channel.issue_token()
    # The console's bot settings travel too.
    with requests.Session() as browser:
        page = browser.get(line_sandbox.base_url + "/", timeout=10).text
        csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        saved = browser.post(f"{line_sandbox.base_url}/console/bot", timeout=10, data={
            "csrf_token": csrf, "channel_id": channel.channel_id, "channel_secret": channel.channel_secret,
            "display_name": "Seedy", "chat_mode": "chat", "mark_as_read_mode": "manual"})
        assert saved.status_code == 200, saved.text[:300]
    exported = channel.export()
    text = json.dumps(exported)
    assert exported["channel_id"] == channel.channel_id and exported["name"] == "seeded bot"
    assert sorted(k["kid"] for k in exported["keys"]) == sorted(k.kid for k in channel.keys)  # keys made in one second
    assert exported["bot"] == {"display_name": "Seedy", "chat_mode": "chat", "mark_as_read_mode": "manual"}
    # Never a secret, a token or a private member.
    assert channel.channel_secret not in text and token["access_token"] not in text and "tokens" not in exported
    assert not any(m in key["public_key"] for key in exported["keys"] for m in signing.RSA_PRIVATE_MEMBERS)

    line_sandbox.reset()
    assert issue(requests.post, line_sandbox.base_url, channel.channel_id, channel.keys[0].kid,
                 channel.keys[0].private_jwk).status_code == 404  # the kid is gone with the channel

    answer = line_sandbox.import_channels({**exported, "channel_secret": channel.channel_secret})
    assert answer == {"channel_id": channel.channel_id, "name": "seeded bot", "kids": [k["kid"] for k in exported["keys"]]}
    for key in channel.keys:  # the same kids verify assertions signed with the same private keys
        issued = issue(requests.post, line_sandbox.base_url, channel.channel_id, key.kid, key.private_jwk)
        assert issued.status_code == 200, issued.text
        verified = requests.get(f"{line_sandbox.base_url}/oauth2/v2.1/verify", timeout=10,
                                params={"access_token": issued.json()["access_token"]})
        assert verified.json()["client_id"] == channel.channel_id
    # The secret given is the channel's secret again; the bot is as it was.
    again = channel.export()
    assert sorted(again.pop("keys"), key=str) == sorted(exported["keys"], key=str)  # registered in one second
    assert again == {name: value for name, value in exported.items() if name != "keys"}
    bot = requests.get(f"{line_sandbox.base_url}/v2/bot/info", timeout=10,
                       headers={"Authorization": "Bearer " + issued.json()["access_token"]}).json()
    assert bot["displayName"] == "Seedy" and bot["chatMode"] == "chat" and bot["markAsReadMode"] == "manual"


def test_a_channel_without_a_secret_gets_one_answered_once_and_missing_ids_are_generated(client, keypair):
    answer = client.post("/sandbox/api/channels/import", json={"channels": [
        {"name": "a", "keys": [{"public_key": keypair[1]}]}, {}]})
    assert answer.status_code == 201, answer.json
    first, second = answer.json["channels"]
    assert first["channel_id"].isdigit() and len(first["channel_id"]) == 10 and len(first["kids"]) == 1
    assert second["kids"] == [] and second["name"] == ""
    for made in (first, second):
        assert len(made["channel_secret"]) == 32
        shown = client.get(f"/sandbox/api/channels/{made['channel_id']}",
                           auth=(made["channel_id"], made["channel_secret"]))
        assert shown.status_code == 200
    assert issue(client.post, "/sandbox", first["channel_id"], first["kids"][0], keypair[0]).status_code == 200


def good_channel(public: dict) -> dict:
    return {"version": 1, "channel_id": "1234567890", "channel_secret": "0123456789abcdef" * 2, "name": "bot",
            "keys": [{"kid": str(uuid.uuid4()), "public_key": public}],
            "bot": {"display_name": "Bot", "chat_mode": "bot", "mark_as_read_mode": "auto"}}


def _set(data: dict, path: tuple, value):
    data = copy.deepcopy(data)
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


BAD_MEMBERS = [
    (("version",), 2, "version"),
    (("channel_id",), "12a45", "channel_id"),
    (("channel_id",), "0123456789", "channel_id"),
    (("channel_id",), 1234567890, "channel_id"),
    (("channel_secret",), "not a secret", "channel_secret"),
    (("channel_secret",), "0123456789ABCDEF" * 2, "channel_secret"),
    (("name",), "x" * 101, "name"),
    (("name",), "a\x00b", "name"),
    (("keys",), {"kid": "x"}, "keys"),
    (("keys",), [{}] * 11, "keys"),
    (("keys", 0, "kid"), "not-a-uuid", "keys[0].kid"),
    (("keys", 0, "public_key"), {"kty": "RSA"}, "keys[0].public_key"),
    (("keys", 0, "public_key", "alg"), "HS256", "keys[0].public_key"),
    (("keys", 0, "public_key", "d"), "AQAB", "keys[0].public_key"),
    (("keys", 0, "private_key"), {}, "keys[0].private_key"),
    (("bot",), "x", "bot"),
    (("bot", "chat_mode"), "robot", "bot.chat_mode"),
    (("bot", "mark_as_read_mode"), 1, "bot.mark_as_read_mode"),
    (("bot", "display_name"), ["x"], "bot.display_name"),
    (("tokens",), [], "tokens"),
]


@pytest.mark.parametrize("path,value,field", BAD_MEMBERS, ids=[f"{f}={v!r}"[:40] for _p, v, f in BAD_MEMBERS])
def test_every_bad_member_is_a_400_naming_it_and_nothing_is_created(client, keypair, path, value, field):
    body = _set(good_channel(keypair[1]), path, value)
    answer = client.post("/sandbox/api/channels/import", json=body)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] == "invalid_request" and answer.json["field"] == field
    assert field in answer.json["error_description"]
    # In a list, the channel's index is named too; and nothing of a refused import exists.
    listed = client.post("/sandbox/api/channels/import", json={"channels": [good_channel(keypair[1]) | {
        "channel_id": "1111111111", "keys": []}, body]})
    assert listed.status_code == 400 and listed.json["field"] == "channels[1]." + field
    assert client.get("/sandbox/api/channels/1111111111", auth=("1111111111", "0" * 32)).status_code in (401, 404)
    assert client.post("/sandbox/api/channels/import", json={"channels": [good_channel(keypair[1]) | {
        "channel_id": "1111111111", "keys": []}]}).status_code == 201


@pytest.mark.parametrize("body,field", [
    (None, "body"), ([], "body"), ("x", "body"), ({"channels": []}, "channels"), ({"channels": {}}, "channels"),
    ({"channels": [{}] * 101}, "channels"), ({"channels": [], "extra": 1}, "extra"), ({"channels": [1]}, "channels[0]"),
])
def test_a_body_that_is_not_channels_is_a_400_naming_it(client, body, field):
    answer = client.post("/sandbox/api/channels/import", data=json.dumps(body) if body is not None else b"",
                         content_type="application/json")
    assert answer.status_code == 400, answer.json
    assert answer.json["field"] == field


def test_the_same_id_or_kid_twice_in_one_import_is_refused(client, keypair):
    one = good_channel(keypair[1])
    twice = client.post("/sandbox/api/channels/import", json={"channels": [one, one | {"keys": []}]})
    assert twice.status_code == 400 and twice.json["field"] == "channels[1].channel_id"
    kid = one["keys"][0]["kid"]
    shared = client.post("/sandbox/api/channels/import", json={"channels": [
        one, one | {"channel_id": "2222222222", "keys": [{"kid": kid, "public_key": keypair[1]}]}]})
    assert shared.status_code == 400 and shared.json["field"] == "channels[1].keys[0].kid"


def test_an_id_or_kid_in_use_is_a_409_and_the_existing_channel_is_untouched(client, keypair):
    one = good_channel(keypair[1])
    assert client.post("/sandbox/api/channels/import", json=one).status_code == 201
    again = client.post("/sandbox/api/channels/import", json=one | {"channel_secret": "f" * 32})
    assert again.status_code == 409 and again.json["field"] == "channel_id" and again.json["error"] == "conflict"
    assert client.get("/sandbox/api/channels/1234567890", auth=("1234567890", one["channel_secret"])).status_code == 200
    other = client.post("/sandbox/api/channels/import", json=one | {"channel_id": "3333333333"})
    assert other.status_code == 409 and other.json["field"] == "keys[0].kid"
    assert client.get("/sandbox/api/channels/3333333333", auth=("3333333333", one["channel_secret"])).status_code == 401  # no such channel


def test_an_import_respects_the_channel_cap_all_or_nothing(client, keypair, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_CHANNELS", 3)
    assert client.post("/sandbox/api/channels", json={}).status_code == 201
    over = client.post("/sandbox/api/channels/import", json={"channels": [{}, {}, {"channel_id": "4444444444"}]})
    assert over.status_code == 409 and over.json["error"] == "limit_reached"
    assert client.get("/sandbox/api/channels/4444444444", auth=("4444444444", "0" * 32)).status_code == 401  # no such channel
    assert client.post("/sandbox/api/channels/import", json={"channels": [{}, {}]}).status_code == 201


def test_import_takes_json_only_and_counts_toward_the_per_client_limit(app, keypair):
    app.config["SANDBOX_CHANNELS_PER_HOUR"] = 3
    client = app.test_client()
    form = client.post("/sandbox/api/channels/import", data={"channels": "x"})
    assert form.status_code == 415
    assert client.post("/sandbox/api/channels/import", json={"channels": [{}, {}]}).status_code == 201
    limited = client.post("/sandbox/api/channels/import", json={"channels": [{}, {}]})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_export_needs_the_channel_secret(client):
    made = client.post("/sandbox/api/channels", json={}).json
    assert client.get(f"/sandbox/api/channels/{made['channel_id']}/export").status_code == 401
    exported = client.get(f"/sandbox/api/channels/{made['channel_id']}/export",
                          auth=(made["channel_id"], made["channel_secret"]))
    assert exported.status_code == 200
    assert exported.json == {"version": 1, "channel_id": made["channel_id"], "name": "", "keys": [], "bot": None}


def test_a_seed_replaces_the_channel_of_the_same_id_with_its_keys_and_tokens(tmp_path, keypair):
    """What `serve --seed` does at every start on a kept database (replace=True); the admin API never replaces."""
    from line_token.sandbox import seed
    from line_token.sandbox.server import build_app
    from line_token.sandbox.service import Sandbox

    app = build_app(str(tmp_path / "s.sqlite3"))
    sandbox = Sandbox(app.extensions["sandbox_store"])
    first = good_channel(keypair[1])
    seed.import_channels(sandbox, first, replace=True)
    client = app.test_client()
    token = issue(client.post, "", first["channel_id"], first["keys"][0]["kid"], keypair[0]).json["access_token"]
    second = good_channel(keypair[1]) | {"name": "again", "channel_secret": "e" * 32}
    assert seed.import_channels(sandbox, second, replace=True)["kids"] == [second["keys"][0]["kid"]]
    exported = seed.export_channel(sandbox, sandbox.get_channel(first["channel_id"]))
    assert exported["name"] == "again" and [k["kid"] for k in exported["keys"]] == [second["keys"][0]["kid"]]
    assert client.get("/oauth2/v2.1/verify", query_string={"access_token": token}).status_code == 400
    assert sandbox.check_secret(first["channel_id"], "e" * 32)

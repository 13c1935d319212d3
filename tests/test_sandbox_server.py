"""The sandbox behind a real gunicorn started as the Procfile does: LINE's own Python SDK
drives every method, several worker processes keep the v2.1 limit, state survives a restart."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import requests
from linebot.v3.oauth import ApiClient, ChannelAccessToken, Configuration
from linebot.v3.oauth.exceptions import ApiException
from linebot.v3.oauth.models import ErrorResponse

from line_token.core import signing
from pg import backend, postgres  # noqa: F401  (fixtures)

pytestmark = pytest.mark.server

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIMIT = {"message": "The maximum number of access tokens has already been issued"}


@pytest.fixture(scope="module")
def keypair():
    private, public = signing.generate_key_pair()
    return signing.load_private_key(private), public


def make_channel(base_url: str, keypair) -> SimpleNamespace:
    """Create a channel and register the public key over HTTP, as a test script would."""
    created = requests.post(f"{base_url}/sandbox/api/channels", json={"name": "sdk"}, timeout=10)
    assert created.status_code == 201, created.text
    channel = created.json()
    registered = requests.post(f"{base_url}/sandbox/api/channels/{channel['channel_id']}/keys",
                               json=keypair[1], timeout=10, auth=(channel["channel_id"], channel["channel_secret"]))
    assert registered.status_code == 201, registered.text
    return SimpleNamespace(id=channel["channel_id"], secret=channel["channel_secret"],
                           kid=registered.json()["kid"], key=keypair[0])


def jwt_for(channel, **claims) -> str:
    header, payload = signing.build_claims(channel.id, channel.kid, token_exp=claims.pop("token_exp", 86400))
    payload.update(claims)
    return signing.sign(header, payload, channel.key, validate=False)


def issue_v21(base_url: str, channel) -> requests.Response:
    return requests.post(f"{base_url}/sandbox/oauth2/v2.1/token", timeout=30, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": jwt_for(channel)})


def kids(base_url: str, channel) -> list[str]:
    r = requests.get(f"{base_url}/sandbox/oauth2/v2.1/tokens/kid", timeout=10,
                     params={"client_assertion_type": ASSERTION_TYPE, "client_assertion": jwt_for(channel)})
    assert r.status_code == 200, r.text
    return r.json()["kids"]


# --------------------------------------------------------------------------- the official SDK


@pytest.fixture(scope="module")
def sdk(live_server):
    with ApiClient(Configuration(host=live_server.url + "/sandbox")) as api_client:
        yield ChannelAccessToken(api_client)


def test_line_bot_sdk_drives_every_method(live_server, sdk, keypair):
    channel = make_channel(live_server.url, keypair)
    called = set()

    def call(name, *args, **kwargs):
        called.add(name)
        return getattr(sdk, name)(*args, **kwargs)

    # v2.1: issue, list, verify, revoke (each also through its _with_http_info twin).
    issued = call("issue_channel_token_by_jwt", "client_credentials", ASSERTION_TYPE, jwt_for(channel, token_exp=3600))
    assert issued.token_type == "Bearer" and issued.expires_in == 3600 and len(issued.key_id) == 22
    second = call("issue_channel_token_by_jwt_with_http_info", "client_credentials", ASSERTION_TYPE, jwt_for(channel))
    assert second.status_code == 200
    listed = call("gets_all_valid_channel_access_token_key_ids", ASSERTION_TYPE, jwt_for(channel))
    assert listed.kids == [issued.key_id, second.data.key_id]
    listed = call("gets_all_valid_channel_access_token_key_ids_with_http_info", ASSERTION_TYPE, jwt_for(channel))
    assert listed.data.kids == [issued.key_id, second.data.key_id]
    verified = call("verify_channel_token_by_jwt", issued.access_token)
    assert verified.client_id == channel.id and 3590 <= verified.expires_in <= 3600
    assert verified.scope == "profile chat_message.write"
    assert call("verify_channel_token_by_jwt_with_http_info", issued.access_token).data.client_id == channel.id
    assert call("revoke_channel_token_by_jwt", channel.id, channel.secret, issued.access_token) is None
    call("revoke_channel_token_by_jwt_with_http_info", channel.id, channel.secret, second.data.access_token)
    assert call("gets_all_valid_channel_access_token_key_ids", ASSERTION_TYPE, jwt_for(channel)).kids == []

    # Stateless: both variants, through each of the SDK's entry points.
    stateless = [
        call("issue_stateless_channel_token", grant_type="client_credentials", client_id=channel.id,
             client_secret=channel.secret),
        call("issue_stateless_channel_token", grant_type="client_credentials",
             client_assertion_type=ASSERTION_TYPE, client_assertion=jwt_for(channel)),
        call("issue_stateless_channel_token_with_http_info", grant_type="client_credentials", client_id=channel.id,
             client_secret=channel.secret).data,
        call("issue_stateless_channel_token_by_client_secret", channel.id, channel.secret),
        call("issue_stateless_channel_token_by_jwt_assertion", jwt_for(channel)),
        call("issue_stateless_channel_token_with_http_info_by_client_secret", channel.id, channel.secret).data,
        call("issue_stateless_channel_token_with_http_info_by_jwt_assertion", jwt_for(channel)).data,
    ]
    assert all(t.expires_in == 900 and t.token_type == "Bearer" and t.access_token for t in stateless)

    # Short-lived: issue, verify, revoke.
    short = call("issue_channel_token", "client_credentials", channel.id, channel.secret)
    assert short.expires_in == 2592000 and short.token_type == "Bearer"
    short2 = call("issue_channel_token_with_http_info", "client_credentials", channel.id, channel.secret).data
    checked = call("verify_channel_token", short.access_token)
    assert checked.client_id == channel.id and checked.scope == "P CM"
    assert call("verify_channel_token_with_http_info", short2.access_token).data.scope == "P CM"
    call("revoke_channel_token", short.access_token)
    call("revoke_channel_token_with_http_info", short2.access_token)
    for token in (short.access_token, short2.access_token):
        with pytest.raises(ApiException):
            sdk.verify_channel_token(token)

    public_methods = {m for m in dir(ChannelAccessToken) if not m.startswith("_")}
    assert called == public_methods, public_methods - called


def test_line_bot_sdk_parses_our_errors(live_server, sdk, keypair):
    channel = make_channel(live_server.url, keypair)
    with pytest.raises(ApiException) as info:
        sdk.issue_channel_token_by_jwt("client_credentials", ASSERTION_TYPE, jwt_for(channel, exp=1))
    assert info.value.status == 400
    error = ErrorResponse.from_json(info.value.body)
    assert (error.error, error.error_description) == ("invalid_client", "Invalid exp")

    with pytest.raises(ApiException) as info:
        sdk.verify_channel_token_by_jwt("not-a-token")
    error = ErrorResponse.from_json(info.value.body)
    assert (error.error, error.error_description) == ("invalid_request", "The access token not JWS")

    with pytest.raises(ApiException) as info:
        sdk.revoke_channel_token_by_jwt(channel.id, "0" * 32, "a.b.c")
    assert ErrorResponse.from_json(info.value.body).error_description == "invalid client_secret"

    # The {message} shape: the SDK's model has no such member, the raw body carries it.
    channel.kid = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ApiException) as info:
        sdk.gets_all_valid_channel_access_token_key_ids(ASSERTION_TYPE, jwt_for(channel))
    assert info.value.status == 404
    assert json.loads(info.value.body) == {"message": "Cannot find channel key that satisfies the conditions"}
    assert ErrorResponse.from_json(info.value.body).error is None


def test_token_values_never_reach_the_server_log(live_server, keypair):
    channel = make_channel(live_server.url, keypair)
    token = issue_v21(live_server.url, channel).json()["access_token"]
    requests.get(f"{live_server.url}/sandbox/oauth2/v2.1/verify", params={"access_token": token}, timeout=10)
    time.sleep(0.2)  # let the access log flush
    log = live_server.log()
    assert "/sandbox/oauth2/v2.1/verify" in log
    assert token not in log and token.split(".")[1] not in log and channel.secret not in log


# --------------------------------------------------------------------------- several workers


def test_concurrent_burst_issues_exactly_thirty(start_server, backend, keypair):
    """40 concurrent v2.1 issues against 3 worker processes: 30 issued, 10 refused as LINE does."""
    server = start_server(env=backend, workers=3)
    channel = make_channel(server.url, keypair)
    with ThreadPoolExecutor(max_workers=40) as pool:
        responses = list(pool.map(lambda _: issue_v21(server.url, channel), range(40)))
    issued = [r.json() for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(issued) == 30 and len(refused) == 10
    assert all(r.status_code == 400 and r.json() == TOKEN_LIMIT for r in refused)
    listed = kids(server.url, channel)
    assert len(listed) == 30 and set(listed) == {t["key_id"] for t in issued}


def test_state_survives_a_restart(start_server, backend, keypair, tmp_path):
    server = start_server(env=backend, tmp_dir=tmp_path)
    channel = make_channel(server.url, keypair)
    token = issue_v21(server.url, channel).json()
    server.stop()

    again = start_server(env=backend, tmp_dir=tmp_path)
    r = requests.get(f"{again.url}/sandbox/oauth2/v2.1/verify", params={"access_token": token["access_token"]},
                     timeout=10)
    assert r.status_code == 200 and r.json()["client_id"] == channel.id
    assert kids(again.url, channel) == [token["key_id"]]
    r = requests.post(f"{again.url}/sandbox/oauth2/v2.1/revoke", timeout=10, data={
        "client_id": channel.id, "client_secret": channel.secret, "access_token": token["access_token"]})
    assert r.status_code == 200 and kids(again.url, channel) == []

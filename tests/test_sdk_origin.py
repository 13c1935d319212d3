"""LINE's official SDKs, unmodified, against the sandbox at the root of its own origin (issue 12):
the Procfile server started with SANDBOX_PORT listens there too, and the Node SDK (which keeps only
the origin of a base URL, docs/line-api.md §0) and the Python SDK call every method through it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from linebot.v3.oauth import ApiClient, ChannelAccessToken, Configuration

from conftest import LiveServer, free_port
from line_token.core import signing

pytestmark = pytest.mark.server

NODE_DIR = Path(__file__).resolve().parent / "node"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="module")
def keypair():
    private, public = signing.generate_key_pair()
    return signing.load_private_key(private), public


@pytest.fixture(scope="module")
def origin_server(tmp_path_factory):
    """The Procfile server on two ports: the tester, and the sandbox at the root of SANDBOX_PORT
    (and of SANDBOX_HOST on the main port). One per module: each test makes its own channel."""
    port = free_port()
    server = LiveServer(tmp_path_factory.mktemp("origin"),
                        {"SANDBOX_PORT": str(port), "SANDBOX_HOST": "sandbox.example.test"}).start()
    server.sandbox_url = f"http://127.0.0.1:{port}"
    yield server
    server.stop()


def make_channel(base: str, keypair) -> dict:
    created = requests.post(f"{base}/api/channels", json={"name": "sdk"}, timeout=10)
    assert created.status_code == 201, created.text
    channel = created.json()
    kid = requests.post(f"{base}/api/channels/{channel['channel_id']}/keys", json=keypair[1], timeout=10,
                        auth=(channel["channel_id"], channel["channel_secret"])).json()["kid"]
    header, payload = signing.build_claims(channel["channel_id"], kid, token_exp=3600)
    return {**channel, "kid": kid, "assertion": signing.sign(header, payload, keypair[0])}


def test_both_origins_on_one_procfile_server(origin_server):
    sandbox, tester = origin_server.sandbox_url, origin_server.url
    page = requests.get(sandbox + "/", timeout=10)
    assert page.status_code == 200 and 'action="/console/channels"' in page.text
    assert page.headers["X-Line-Request-Id"]
    # No tester page on the sandbox's origin, whatever Host says; the tester keeps /sandbox/.
    r = requests.post(sandbox + "/oauth2/v2.1/token", data={"grant_type": "client_credentials"}, timeout=10,
                      headers={"Host": tester.split("//")[1]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert requests.get(sandbox + "/oauth2/v2.1/keys", timeout=10).status_code == 404
    assert requests.get(tester + "/oauth2/v2.1/keys", timeout=10).status_code == 200
    assert requests.get(tester + "/sandbox/", timeout=10).status_code == 200
    # SANDBOX_HOST: the main port serves the sandbox at its root for that Host name.
    by_host = requests.get(tester + "/", headers={"Host": "sandbox.example.test"}, timeout=10)
    assert by_host.status_code == 200 and 'action="/console/channels"' in by_host.text
    assert ">http://sandbox.example.test</pre>" in by_host.text
    # The tester's pages show the sandbox's own origin (SANDBOX_HOST wins over SANDBOX_PORT).
    assert ">http://sandbox.example.test</pre>" in requests.get(tester + "/sandbox/", timeout=10).text


def node_bin() -> str | None:
    return shutil.which("node")


@pytest.mark.skipif(not (NODE_DIR / "node_modules" / "@line" / "bot-sdk").exists() and not os.environ.get("CI"),
                    reason="run scripts/test (npm ci in tests/node) to install LINE's Node SDK")
def test_node_sdk_drives_every_method_against_the_sandbox_origin(origin_server, keypair):
    assert node_bin(), "node is missing: scripts/test installs it"
    assert (NODE_DIR / "node_modules" / "@line" / "bot-sdk").exists(), "npm ci in tests/node did not run"
    channel = make_channel(origin_server.sandbox_url, keypair)
    result = subprocess.run(
        [node_bin(), "drive.mjs"], cwd=NODE_DIR, capture_output=True, text=True, timeout=120,
        env={**os.environ, "SDK_INPUT": json.dumps({
            "baseURL": origin_server.sandbox_url, "channelId": channel["channel_id"],
            "channelSecret": channel["channel_secret"], "assertion": channel["assertion"]})})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    called = {name for name in report if not name.startswith("__")}
    assert set(report["__methods"]) <= called, set(report["__methods"]) - called  # every public method
    failed = {name: r for name, r in report.items()
              if not name.startswith("__") and not name.endswith("AfterRevoke") and not r["ok"]}
    assert failed == {}
    # v2.1 (§5.1-5.4)
    assert report["issueChannelTokenByJWT"]["body"]["expires_in"] == 3600
    assert report["issueChannelTokenByJWTWithHttpInfo"]["status"] == 200
    assert len(report["getsAllValidChannelAccessTokenKeyIds"]["body"]["kids"]) == 2
    assert report["verifyChannelTokenByJWT"]["body"]["client_id"] == channel["channel_id"]
    assert report["revokeChannelTokenByJWTWithHttpInfo"]["status"] == 200
    after = report["verifyAfterRevoke"]
    assert not after["ok"] and after["status"] == 400 and "revoked" in json.dumps(after)
    # stateless (§5.5) and short-lived (§5.6-5.8)
    for name in ("issueStatelessChannelToken", "issueStatelessChannelTokenByJWTAssertion",
                 "issueStatelessChannelTokenByClientSecret"):
        assert report[name]["body"]["expires_in"] == 900, name
    assert report["issueChannelToken"]["body"]["expires_in"] == 2592000
    assert report["verifyChannelTokenWithHttpInfo"]["body"]["scope"] == "P CM"
    assert report["revokeChannelTokenWithHttpInfo"]["status"] == 200
    assert not report["verifyShortAfterRevoke"]["ok"] and report["verifyShortAfterRevoke"]["status"] == 400
    # §0: the WithHttpInfo twins see a fresh X-Line-Request-Id on each answer.
    ids = [r["requestId"] for name, r in report.items() if name.endswith("WithHttpInfo")]
    assert len(ids) == 10 and all(ids) and len(set(ids)) == len(ids)


def test_python_sdk_against_the_sandbox_origin(origin_server, keypair):
    channel = make_channel(origin_server.sandbox_url, keypair)
    with ApiClient(Configuration(host=origin_server.sandbox_url)) as api_client:
        api = ChannelAccessToken(api_client)
        issued = api.issue_channel_token_by_jwt("client_credentials", ASSERTION_TYPE, channel["assertion"])
        assert issued.expires_in == 3600
        assert api.gets_all_valid_channel_access_token_key_ids(ASSERTION_TYPE, channel["assertion"]).kids == [issued.key_id]
        assert api.verify_channel_token_by_jwt(issued.access_token).client_id == channel["channel_id"]
        api.revoke_channel_token_by_jwt(channel["channel_id"], channel["channel_secret"], issued.access_token)
        stateless = api.issue_stateless_channel_token(grant_type="client_credentials", client_id=channel["channel_id"],
                                                      client_secret=channel["channel_secret"])
        assert stateless.expires_in == 900
        short = api.issue_channel_token("client_credentials", channel["channel_id"], channel["channel_secret"])
        assert api.verify_channel_token(short.access_token).scope == "P CM"
        api.revoke_channel_token(short.access_token)
        with_info = api.issue_channel_token_with_http_info("client_credentials", channel["channel_id"],
                                                           channel["channel_secret"])
        assert with_info.status_code == 200 and with_info.headers["X-Line-Request-Id"]

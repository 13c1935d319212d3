"""LINE's official SDKs, unmodified, ask the sandbox behind a real gunicorn (as the Procfile starts it)
for the bot info, quota and consumption with every kind of token the sandbox issues."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi
from linebot.v3.messaging.exceptions import ApiException
from linebot.v3.messaging.models import BotInfoResponse, MessageQuotaResponse, QuotaConsumptionResponse

from line_token.core import signing

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "node"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."


@pytest.fixture(scope="module")
def channel(live_server) -> SimpleNamespace:
    private, public = signing.generate_key_pair()
    created = requests.post(f"{live_server.url}/sandbox/api/channels", json={"name": "SDK bot"}, timeout=10).json()
    kid = requests.post(f"{live_server.url}/sandbox/api/channels/{created['channel_id']}/keys", json=public,
                        auth=(created['channel_id'], created['channel_secret']), timeout=10).json()["kid"]
    return SimpleNamespace(id=created["channel_id"], secret=created["channel_secret"], kid=kid,
                           key=signing.load_private_key(private))


def issue_each_type(base: str, channel, prefix: str = "/sandbox") -> dict[str, str]:
    """v2.1, stateless (by secret) and short-lived tokens over HTTP. (The sandbox issues no long-lived ones:
    LINE issues those only in the Developers Console.)"""
    header, payload = signing.build_claims(channel.id, channel.kid, token_exp=3600)
    jwt = signing.sign(header, payload, channel.key)
    v21 = requests.post(f"{base}{prefix}/oauth2/v2.1/token", timeout=30, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": jwt})
    secret = {"grant_type": "client_credentials", "client_id": channel.id, "client_secret": channel.secret}
    stateless = requests.post(f"{base}{prefix}/oauth2/v3/token", data=secret, timeout=30)
    short = requests.post(f"{base}{prefix}/v2/oauth/accessToken", data=secret, timeout=30)
    return {"v2.1": v21.json()["access_token"], "stateless": stateless.json()["access_token"],
            "short-lived": short.json()["access_token"]}


def test_python_sdk_gets_typed_answers_and_its_401_for_a_revoked_token(live_server, channel):
    tokens = issue_each_type(live_server.url, channel)
    for kind, token in tokens.items():
        with ApiClient(Configuration(host=live_server.url + "/sandbox", access_token=token)) as api_client:
            api = MessagingApi(api_client)
            info = api.get_bot_info()
            assert isinstance(info, BotInfoResponse), kind
            assert info.display_name == "SDK bot" and re.fullmatch(r"U[0-9a-f]{32}", info.user_id), kind
            assert (info.chat_mode, info.mark_as_read_mode) == ("bot", "auto") and info.basic_id.startswith("@")
            assert info.picture_url.startswith(live_server.url + "/sandbox/bot-profile/")
            quota, consumption = api.get_message_quota(), api.get_message_quota_consumption()
            assert isinstance(quota, MessageQuotaResponse) and quota.value is None, kind
            assert getattr(quota.type, "value", quota.type) == "none", kind
            assert isinstance(consumption, QuotaConsumptionResponse) and consumption.total_usage == 0, kind
    picture = requests.get(info.picture_url, timeout=10)
    assert picture.status_code == 200 and picture.headers["Content-Type"].startswith("image/svg+xml")

    revoked = requests.post(f"{live_server.url}/sandbox/oauth2/v2.1/revoke", timeout=10, data={
        "client_id": channel.id, "client_secret": channel.secret, "access_token": tokens["v2.1"]})
    assert revoked.status_code == 200
    with ApiClient(Configuration(host=live_server.url + "/sandbox", access_token=tokens["v2.1"])) as api_client:
        with pytest.raises(ApiException) as refused:
            MessagingApi(api_client).get_bot_info()
    assert refused.value.status == 401
    assert json.loads(refused.value.body) == {"message": FAILED}
    assert refused.value.headers.get("X-Line-Request-Id")
    log = live_server.log()
    assert "/v2/bot/info" in log and not [kind for kind, token in tokens.items() if token in log], \
        "a token reached the server's log"


def run_node(job: dict) -> dict:
    """tests/node/messaging.mjs with ``job`` on stdin; its JSON report."""
    node = shutil.which("node")
    assert node, "node is missing: scripts/test installs it"
    assert (NODE_DIR / "node_modules" / "@line" / "bot-sdk").is_dir(), "run: npm ci --prefix tests/node"
    run = subprocess.run([node, str(NODE_DIR / "messaging.mjs")], input=json.dumps(job), capture_output=True,
                         text=True, timeout=120, cwd=NODE_DIR, env={**os.environ, "NODE_NO_WARNINGS": "1"})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def check_node_report(report: dict, job: dict, name: str) -> None:
    for kind in job["tokens"]:
        assert report[kind]["info"]["displayName"] == name, kind
        assert re.fullmatch(r"U[0-9a-f]{32}", report[kind]["info"]["userId"]), kind
        assert report[kind]["quota"] == {"type": "none"} and report[kind]["consumption"] == {"totalUsage": 0}, kind
    assert report["revoked"]["status"] == 401 and report["revoked"]["body"] == {"message": FAILED}


def test_node_sdk_against_the_sandbox_mounted_at_the_root_of_an_origin(app, tmp_path):
    """Until SANDBOX_PORT lands, the test mounts this app's sandbox at the root of a loopback origin
    itself (werkzeug's threaded server, same app code), as the Node SDK needs (it drops baseURL's path)."""
    from werkzeug.serving import make_server
    import threading

    inner = app.wsgi_app

    def at_root(environ, start_response):
        environ["PATH_INFO"] = "/sandbox" + environ.get("PATH_INFO", "")
        return inner(environ, start_response)

    server = make_server("127.0.0.1", 0, at_root, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = app.test_client()
        private, public = signing.generate_key_pair()
        created = client.post("/sandbox/api/channels", json={"name": "Node bot"}).get_json()
        kid = client.post(f"/sandbox/api/channels/{created['channel_id']}/keys", json=public,
                          auth=(created['channel_id'], created['channel_secret'])).get_json()["kid"]
        channel = SimpleNamespace(id=created["channel_id"], secret=created["channel_secret"], kid=kid,
                                  key=signing.load_private_key(private))
        origin = f"http://127.0.0.1:{server.server_port}"
        tokens = issue_each_type(origin, channel, prefix="")
        assert requests.post(f"{origin}/v2/oauth/revoke", data={"access_token": tokens["short-lived"]},
                             timeout=10).status_code == 200
        job = {"baseURL": origin, "tokens": {k: v for k, v in tokens.items() if k != "short-lived"},
               "revoked": tokens["short-lived"]}
        check_node_report(run_node(job), job, "Node bot")
    finally:
        server.shutdown()
        server.server_close()


def sandbox_origin_on_this_branch() -> bool:
    """The sandbox at the root of its own origin (SANDBOX_PORT), which the Node SDK needs."""
    sources = [ROOT / "gunicorn.conf.py", *(ROOT / "line_token").rglob("*.py")]
    # The setting read from the environment or config (quoted), not a mere mention in a message.
    return any(re.search(r"[\"']SANDBOX_PORT[\"']", path.read_text()) for path in sources)


@pytest.mark.skipif(not sandbox_origin_on_this_branch(),
                    reason="the Node SDK keeps only the origin of baseURL, so it needs the sandbox at the root "
                           "of its own origin (SANDBOX_PORT), which this branch does not have yet")
def test_node_sdk_gets_typed_answers_and_its_401_for_a_revoked_token(start_server):
    """The Procfile server with SANDBOX_PORT: the sandbox at the root of its own origin."""
    from conftest import free_port

    sandbox_port = free_port()
    server = start_server(env={"SANDBOX_PORT": str(sandbox_port)})
    origin = f"http://127.0.0.1:{sandbox_port}"
    private, public = signing.generate_key_pair()
    created = requests.post(f"{server.url}/sandbox/api/channels", json={"name": "Node bot"}, timeout=10).json()
    kid = requests.post(f"{server.url}/sandbox/api/channels/{created['channel_id']}/keys", json=public,
                        auth=(created['channel_id'], created['channel_secret']), timeout=10).json()["kid"]
    channel = SimpleNamespace(id=created["channel_id"], secret=created["channel_secret"], kid=kid,
                              key=signing.load_private_key(private))
    tokens = issue_each_type(server.url, channel)
    requests.post(f"{server.url}/sandbox/v2/oauth/revoke", data={"access_token": tokens["short-lived"]}, timeout=10)
    job = {"baseURL": origin, "tokens": {k: v for k, v in tokens.items() if k != "short-lived"},
           "revoked": tokens["short-lived"]}
    check_node_report(run_node(job), job, "Node bot")

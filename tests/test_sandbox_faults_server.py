"""Faults, the clock and the request log behind real gunicorn servers started as the Procfile does (issue 21):
a fault taken exactly as many times as asked across two workers, a delayed call that holds nobody else up, LINE's
Python SDK seeing a token expire on the channel's clock and a 429 with Retry-After, and the CLI on both sides."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from linebot.v3.oauth import ApiClient, ChannelAccessToken, Configuration
from linebot.v3.oauth.exceptions import ApiException

from conftest import ROOT
from line_token.core import signing

pytestmark = pytest.mark.server

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def make_channel(base: str, with_key: bool = False) -> dict:
    created = requests.post(f"{base}/sandbox/api/channels", json={"name": "faults"}, timeout=30)
    assert created.status_code == 201, created.text
    channel = created.json()
    channel["auth"] = (channel["channel_id"], channel["channel_secret"])
    if with_key:
        private, public = signing.generate_key_pair()
        channel["kid"] = requests.post(f"{base}/sandbox/api/channels/{channel['channel_id']}/keys", json=public,
                                       auth=channel["auth"], timeout=30).json()["kid"]
        channel["key"] = signing.load_private_key(private)
    return channel


def admin(base: str, channel: dict, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{base}/sandbox/api/channels/{channel['channel_id']}{path}",
                            auth=channel["auth"], timeout=30, **kwargs)


def short_lived(base: str, channel: dict) -> requests.Response:
    with requests.Session() as session:  # a new connection each time, so calls spread over the workers
        return session.post(f"{base}/sandbox/v2/oauth/accessToken", timeout=60, headers={"Connection": "close"},
                            data={"grant_type": "client_credentials", "client_id": channel["channel_id"],
                                  "client_secret": channel["channel_secret"]})


def test_a_fault_fires_exactly_count_times_across_two_workers(start_server):
    server = start_server(workers=2)
    channel = make_channel(server.url)
    assert admin(server.url, channel, "post", "/faults",
                 json={"path": "/v2/oauth/accessToken", "status": 503, "count": 10}).status_code == 201
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: short_lived(server.url, channel), range(30)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 20 + [503] * 10
    assert all(r.json() == {"message": "Service unavailable"} and r.headers["Retry-After"] == "1"
               for r in answers if r.status_code == 503)
    assert admin(server.url, channel, "get", "/faults").json() == {"faults": []}
    log = admin(server.url, channel, "get", "/log").json()["entries"]
    assert sorted(e["status"] for e in log) == statuses
    assert {e["request_id"] for e in log} == {r.headers["X-Line-Request-Id"] for r in answers}
    # Two processes answered (each logs its pid at boot); the count held across them.
    assert server.log().count("Booting worker") >= 2


def test_a_delayed_call_holds_up_no_other_call(start_server):
    server = start_server(workers=1)
    channel = make_channel(server.url)
    token = short_lived(server.url, channel).json()["access_token"]
    admin(server.url, channel, "post", "/faults", json={"path": "/v2/oauth/verify", "delay_seconds": 10})
    delayed: dict = {}

    def call():
        delayed["answer"] = requests.post(f"{server.url}/sandbox/v2/oauth/verify", data={"access_token": token},
                                          timeout=60)

    thread = threading.Thread(target=call)
    thread.start()
    try:
        # The one worker keeps answering while the delayed call sleeps (a gevent sleep is cooperative).
        for _ in range(5):
            assert short_lived(server.url, channel).status_code == 200
            assert requests.get(f"{server.url}/sandbox/", timeout=30).status_code == 200
        assert thread.is_alive(), "the delayed call should still be waiting"
    finally:
        thread.join(60)
    assert delayed["answer"].status_code == 200  # then the real answer
    assert delayed["answer"].json()["client_id"] == channel["channel_id"]


def test_the_python_sdk_sees_a_token_expire_on_the_channels_clock_and_lines_429(live_server):
    channel = make_channel(live_server.url, with_key=True)
    header, payload = signing.build_claims(channel["channel_id"], channel["kid"], token_exp=3600)
    assertion = signing.sign(header, payload, channel["key"])
    with ApiClient(Configuration(host=live_server.url + "/sandbox")) as client:
        api = ChannelAccessToken(client)
        token = api.issue_channel_token_by_jwt("client_credentials", ASSERTION_TYPE, assertion).access_token
        assert 3590 <= api.verify_channel_token_by_jwt(token).expires_in <= 3600
        clock = admin(live_server.url, channel, "post", "/clock", json={"advance_seconds": 3000}).json()
        assert clock["offset_seconds"] == 3000
        assert 590 <= api.verify_channel_token_by_jwt(token).expires_in <= 600
        admin(live_server.url, channel, "post", "/clock", json={"advance_seconds": 601})
        with pytest.raises(ApiException) as expired:
            api.verify_channel_token_by_jwt(token)
        assert expired.value.status == 400
        assert json.loads(expired.value.body) == {"error": "invalid_request",
                                                  "error_description": "The access token expired"}
        admin(live_server.url, channel, "delete", "/clock")
        assert api.verify_channel_token_by_jwt(token).expires_in > 3000

        # The SDK's urllib3 pool retries a 429 or 503 that carries Retry-After, up to 3 times, sleeping as told:
        # one fault call is invisible to the bot; four make it raise.
        assert admin(live_server.url, channel, "post", "/faults", json={
            "path": "/oauth2/v2.1/verify", "status": 429, "retry_after": 1, "count": 1}).status_code == 201
        assert api.verify_channel_token_by_jwt(token).expires_in > 3000
        assert admin(live_server.url, channel, "post", "/faults", json={
            "path": "/oauth2/v2.1/verify", "status": 429, "retry_after": 1, "count": 4}).status_code == 201
        with pytest.raises(ApiException) as limited:
            api.verify_channel_token_by_jwt(token)
        assert limited.value.status == 429 and limited.value.headers["Retry-After"] == "1"
        assert json.loads(limited.value.body) == {"message": "The API rate limit has been exceeded. Try again later."}
    log = admin(live_server.url, channel, "get", "/log").json()["entries"]
    assert [e["status"] for e in log[:8]] == [429] * 4 + [200, 429] + [200, 400]
    assert log[0]["user_agent"].startswith("OpenAPI-Generator") or "line-bot-sdk" in log[0]["user_agent"].lower()
    assert token not in live_server.log() and assertion not in live_server.log()


def cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "line_token.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_cli_adds_lists_and_clears_faults_and_moves_the_clock_locally_and_with_base_url(live_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LINE_CHANNEL_SECRET")}
    env.update({"SANDBOX_DATABASE": str(tmp_path / "cli.sqlite3"), "PYTHONDONTWRITEBYTECODE": "1"})
    local = json.loads(cli(["sandbox", "channels", "create", "--json"], env).stdout)
    remote = make_channel(live_server.url)
    for channel, extra in ((local, []), (remote, ["--base-url", live_server.url + "/sandbox"])):
        cid = channel["channel_id"]
        run_env = {**env, "LINE_CHANNEL_SECRET": channel["channel_secret"]}
        added = cli(["sandbox", "faults", "add", cid, "--path", "/oauth2/v3/token", "--status", "429", "--count", "2",
                     "--retry-after", "5", "--json", *extra], run_env)
        assert added.returncode == 0, added.stderr
        assert json.loads(added.stdout)["retry_after"] == 5
        listed = json.loads(cli(["sandbox", "faults", "list", cid, "--json", *extra], run_env).stdout)
        assert [(f["path"], f["status"], f["count"]) for f in listed["faults"]] == [("/oauth2/v3/token", 429, 2)]
        bad = cli(["sandbox", "faults", "add", cid, "--path", "/nowhere", "--status", "500", *extra], run_env)
        assert bad.returncode != 0 and "path" in bad.stderr and "Traceback" not in bad.stderr
        assert json.loads(cli(["sandbox", "faults", "clear", cid, "--json", *extra], run_env).stdout) == {"cleared": 1}
        moved = cli(["sandbox", "clock", "advance", cid, "86400", "--field", "offset_seconds", *extra], run_env)
        assert moved.stdout.strip() == "86400", moved.stderr
        shown = json.loads(cli(["sandbox", "clock", "show", cid, "--json", *extra], run_env).stdout)
        assert shown["now"] - shown["real_now"] == 86400
        reset = cli(["sandbox", "clock", "reset", cid, "--field", "offset_seconds", *extra], run_env)
        assert reset.stdout.strip() == "0"
        log = json.loads(cli(["sandbox", "log", cid, "--json", *extra], run_env).stdout)
        assert log == {"entries": []}
    wrong = cli(["sandbox", "clock", "show", remote["channel_id"], "--base-url", live_server.url + "/sandbox"],
                {**env, "LINE_CHANNEL_SECRET": "0" * 32})
    assert wrong.returncode == 1 and "401" in wrong.stderr

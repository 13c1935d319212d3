"""`line-token sandbox serve` (issue 21 item 1), run as a user runs it: the sandbox alone at the root of its
origin, LINE's Python SDK unmodified against the URL it prints, the same channels as `line-token sandbox`
commands, seeds, :memory:, the opt-in global reset (never in the tester app), Ctrl+C and SIGTERM."""
from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys

import pytest
import requests
from linebot.v3.messaging import ApiClient as MessagingClient
from linebot.v3.messaging import Configuration as MessagingConfiguration
from linebot.v3.messaging import MessagingApi
from linebot.v3.oauth import ApiClient, ChannelAccessToken, Configuration

from line_token.core import signing
from serving import ROOT, Serve, user_env

pytestmark = pytest.mark.server

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "line_token.cli", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def keypair():
    return signing.generate_key_pair()


def test_serve_prints_its_url_and_the_python_sdk_runs_unmodified_against_it(tmp_path, keypair):
    private, public = keypair
    kid = "5d0c8a3e-1f7b-4c2a-9e6d-3b8f0a1c2d4e"
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"channels": [{"channel_id": "1600000001", "channel_secret": "ab" * 16, "name": "bot",
                                              "keys": [{"kid": kid, "public_key": public}]}, {"name": "other"}]}))
    server = Serve(["--port", "0", "--database", str(tmp_path / "s.sqlite3"), "--seed", str(seed)],
                   user_env(tmp_path))
    try:
        assert server.first_line.startswith("LINE sandbox at http://127.0.0.1:")
        banner = server.rest_of_banner()
        assert f'Configuration(host="{server.url}")' in banner and f'baseURL: "{server.url}"' in banner
        base = server.url
        # LINE's Python SDK, unmodified: issue by JWT, verify, bot info, revoke.
        header, payload = signing.build_claims("1600000001", kid, token_exp=3600)
        assertion = signing.sign(header, payload, signing.load_private_key(private))
        with ApiClient(Configuration(host=base)) as api:
            oauth = ChannelAccessToken(api)
            issued = oauth.issue_channel_token_by_jwt("client_credentials", ASSERTION_TYPE, assertion)
            assert issued.expires_in == 3600 and issued.key_id
            assert oauth.verify_channel_token_by_jwt(issued.access_token).client_id == "1600000001"
            with MessagingClient(MessagingConfiguration(host=base, access_token=issued.access_token)) as bot_api:
                assert MessagingApi(bot_api).get_bot_info().display_name == "bot"
            oauth.revoke_channel_token_by_jwt("1600000001", "ab" * 16, issued.access_token)
        assert requests.get(f"{base}/oauth2/v2.1/verify", params={"access_token": issued.access_token},
                            timeout=10).json()["error_description"] == "The access token revoked"
        # The console at /, no tester pages, JSON errors, no reset unless asked for.
        console = requests.get(base + "/", timeout=10)
        assert console.status_code == 200 and 'action="/console/channels"' in console.text
        missing = requests.get(base + "/oauth2/v2.1/keys", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert requests.post(base + "/api/reset", json={}, timeout=10).status_code == 404
        # One person's machine: no per-client creation limit (the tester allows 20 an hour).
        for _ in range(22):
            assert requests.post(base + "/api/channels", json={}, timeout=10).status_code == 201
    finally:
        result = server.stop()
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "The sandbox stopped." in result.stderr
    # The second seeded channel had no secret: one was made and shown once.
    assert f"Seeded channel 1600000001, kids: {kid}." in banner and "Its new secret, shown once:" in banner


def test_serve_and_sandbox_commands_share_the_default_database(tmp_path, keypair):
    env = user_env(tmp_path)
    made = cli(env, "sandbox", "channels", "create", "--name", "from-cli", "--json")
    assert made.returncode == 0, made.stderr
    channel = json.loads(made.stdout)
    server = Serve(["--port", "0"], env)
    try:
        assert "Channels are kept in " + str(tmp_path / "data" / "line-token" / "sandbox.sqlite3") \
            in server.rest_of_banner()
        auth = (channel["channel_id"], channel["channel_secret"])
        shown = requests.get(f"{server.url}/api/channels/{channel['channel_id']}", auth=auth, timeout=10)
        assert shown.status_code == 200 and shown.json()["name"] == "from-cli"
        kid = requests.post(f"{server.url}/api/channels/{channel['channel_id']}/keys", json=keypair[1], auth=auth,
                            timeout=10).json()["kid"]
        listed = cli({**env, "LINE_CHANNEL_SECRET": channel["channel_secret"]}, "sandbox", "channels", "show",
                     channel["channel_id"], "--field", "keys")
        assert listed.returncode == 0 and kid in listed.stdout
    finally:
        assert server.stop().returncode == 0


def test_memory_database_and_the_opt_in_reset_and_sigterm(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    server = Serve(["--port", "0", "--database", ":memory:", "--allow-reset"], user_env(tmp_path, TMPDIR=str(scratch)))
    try:
        assert "Channels last until it stops (--database :memory:)." in server.rest_of_banner()
        assert [p.name[:19] for p in scratch.iterdir()] == ["line-token-sandbox-"]
        made = requests.post(server.url + "/api/channels", json={}, timeout=10).json()
        auth = (made["channel_id"], made["channel_secret"])
        # A web page cannot post it: JSON only, as the admin API's other writes.
        form = requests.post(server.url + "/api/reset", data={"x": "1"}, timeout=10)
        assert form.status_code == 415
        assert requests.get(f"{server.url}/api/channels/{made['channel_id']}", auth=auth, timeout=10).ok
        assert requests.post(server.url + "/api/reset", json={}, timeout=10).status_code == 204
        assert not requests.get(f"{server.url}/api/channels/{made['channel_id']}", auth=auth, timeout=10).ok
        assert requests.get(server.url + "/api/reset", timeout=10).status_code == 405
    finally:
        result = server.stop(signal.SIGTERM)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert list(scratch.iterdir()) == []  # the temporary database went with it


def test_the_tester_app_has_no_global_reset(tmp_path):
    from line_token import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SANDBOX_PORT": "8091",
                      "SANDBOX_DATABASE": str(tmp_path / "t.sqlite3")})
    client = app.test_client()
    channel = client.post("/sandbox/api/channels", json={}).get_json()
    for base_url, path in [("http://localhost", "/api/reset"), ("http://localhost", "/sandbox/api/reset"),
                           ("http://localhost:8091", "/api/reset")]:
        answer = client.post(path, json={}, base_url=base_url)
        assert answer.status_code in (404, 405), (base_url, path, answer.status_code)
    assert client.get(f"/sandbox/api/channels/{channel['channel_id']}",
                      auth=(channel["channel_id"], channel["channel_secret"])).status_code == 200


def one_line_error(result: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_a_taken_port_and_bad_seeds_are_one_line_errors(tmp_path, keypair):
    env = user_env(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        one_line_error(cli(env, "sandbox", "serve", "--port", port, "--database", ":memory:"), 1, port)
    one_line_error(cli(env, "sandbox", "serve", "--seed", str(tmp_path / "missing.json")), 2, "--seed", "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    one_line_error(cli(env, "sandbox", "serve", "--seed", str(bad)), 2, "--seed")
    bad.write_text(json.dumps({"channels": [{"keys": [{"kid": "nope", "public_key": keypair[1]}]}]}))
    one_line_error(cli(env, "sandbox", "serve", "--seed", str(bad)), 2, "--seed", "channels[0].keys[0].kid")
    one_line_error(cli(env, "sandbox", "serve", "--database", " "), 2, "--database")
    one_line_error(cli(env, "sandbox", "serve", "--port", "70000"), 2, "--port")


def test_in_japanese_the_first_line_still_gives_the_url_as_the_docs_read_it(tmp_path):
    server = Serve(["--port", "0", "--database", ":memory:"], user_env(tmp_path, LANG="ja_JP.UTF-8"))
    try:
        assert server.first_line.startswith("LINE サンドボックス: ")
        # docs/testing-your-bot.md's set-ups take the first match of http://\S+ as the base URL.
        assert re.search(r"http://\S+", server.first_line).group(0) == server.url
        assert requests.get(server.url + "/", timeout=10).status_code == 200
    finally:
        result = server.stop()
    assert result.returncode == 0 and "サンドボックスを停止しました。" in result.stderr

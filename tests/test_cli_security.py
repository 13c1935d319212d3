"""The command line against a hostile machine or network (issue 23 items 7 and 8, issue 22 item 13):
``token rotate``'s record where others could plant links, plain HTTP to another host, a server that answers
with terminal escapes, and what a refusal and ``bot info`` tell a person.

Each run is ``python -m line_token.cli`` in a subprocess, as a user runs ``line-token``.
"""
from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from conftest import one_line_error as assert_one_line_error
from test_cli import (FIXTURES, cli_env, line_token_cli,  # noqa: F401
                      sandbox_channel as cli_sandbox_channel)

KEY_FILE = str(FIXTURES / "line-console-key-2020.json")


@pytest.fixture
def sandbox_channel(cli_sandbox_channel):
    """test_cli's channel with a sandbox timeout for a busy machine (first SQLAlchemy use in each process)."""
    return {**cli_sandbox_channel, "env": {**cli_sandbox_channel["env"], "LINE_API_TIMEOUT": "30"}}


# --------------------------------------------------------------------------- token rotate's record (23.7)


def rotate(ch: dict, state_home, *extra: str):
    env = {**ch["env"], "XDG_STATE_HOME": str(state_home), "LINE_CHANNEL_SECRET": ch["channel_secret"]}
    return line_token_cli(["token", "rotate", "--channel-id", ch["channel_id"], "--kid", ch["kid"], "--key", KEY_FILE,
                           "--target", "sandbox", "--field", "access_token", *extra], env)


def recorded_hashes(record) -> list[str]:
    return [e["sha256"] for entries in json.loads(record.read_text())["channels"].values() for e in entries]


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_rotate_tightens_a_loose_state_folder_of_its_own(sandbox_channel, tmp_path):
    folder = tmp_path / "state" / "line-token"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    result = rotate(sandbox_channel, tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    record = folder / "issued-tokens.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert len(recorded_hashes(record)) == 1


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="symbolic links")
def test_a_planted_link_at_the_temporary_or_lock_file_is_not_written_through(sandbox_channel, tmp_path):
    folder = tmp_path / "state" / "line-token"
    folder.mkdir(parents=True, mode=0o700)
    victims = {}
    for name in ("issued-tokens.json.tmp", "issued-tokens.json.lock"):
        victim = tmp_path / f"victim-of-{name}"
        victim.write_text("someone else's file\n")
        (folder / name).symlink_to(victim)
        victims[name] = victim
    first = rotate(sandbox_channel, tmp_path / "state")
    second = rotate(sandbox_channel, tmp_path / "state")  # and the next rotate, over what the first left
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    for victim in victims.values():
        assert victim.read_text() == "someone else's file\n"
    record = folder / "issued-tokens.json"
    assert not record.is_symlink() and len(recorded_hashes(record)) == 2
    assert not (folder / "issued-tokens.json.tmp").exists()


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="symbolic links")
def test_a_record_that_is_a_link_is_refused_and_its_target_kept(sandbox_channel, tmp_path):
    folder = tmp_path / "state" / "line-token"
    folder.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "elsewhere.json"
    victim.write_text('{"version": 1, "channels": {}}')
    (folder / "issued-tokens.json").symlink_to(victim)
    result = rotate(sandbox_channel, tmp_path / "state")
    assert_one_line_error(result, 2, "XDG_STATE_HOME", "symbolic link", "issued-tokens.json")
    assert victim.read_text() == '{"version": 1, "channels": {}}'


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="giving a folder to another user needs root")
def test_rotate_refuses_a_state_folder_owned_by_someone_else(sandbox_channel, tmp_path):
    folder = tmp_path / "state" / "line-token"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    os.chown(folder, 65534, 65534)  # nobody
    result = rotate(sandbox_channel, tmp_path / "state")
    assert_one_line_error(result, 2, "XDG_STATE_HOME", str(folder), "another user")
    assert list(folder.iterdir()) == []  # nothing written there
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777  # not ours to change


# --------------------------------------------------------------------------- plain HTTP (23.8)


def test_plain_http_to_another_computer_is_refused_before_anything_is_sent(tmp_path):
    env = {**cli_env(tmp_path / "sandbox.sqlite3"), "LINE_CHANNEL_SECRET": "a-channel-secret-0123456789abcdef"}
    runs = {
        "--base-url": line_token_cli(["token", "issue-v2", "--channel-id", "1234567890", "--base-url",
                                      "http://192.0.2.10"], env),
        "sandbox --base-url": line_token_cli(["sandbox", "channels", "show", "1234567890", "--base-url",
                                              "http://line-sandbox.example.com/sandbox"], env),
        "LINE_API_BASE_URL": line_token_cli(["token", "verify-v2", "a-token"],
                                            {**env, "LINE_API_BASE_URL": "http://203.0.113.7"}),
    }
    for name, result in runs.items():
        option = "LINE_API_BASE_URL" if name == "LINE_API_BASE_URL" else "--base-url"
        line = assert_one_line_error(result, 2, option, "https://", "--insecure", "unencrypted")
        assert "a-channel-secret" not in line


def test_loopback_stays_plain_http_and_insecure_lets_another_host_through(tmp_path):
    import hostile

    answer = b'{"client_id": "1234567890", "expires_in": 100, "scope": "profile"}'
    server = hostile.HostileServer({"/v2/oauth/verify": (200, "application/json", answer)})
    try:
        env = cli_env(tmp_path / "sandbox.sqlite3")
        verify = ["token", "verify-v2", "a-token", "--field", "client_id"]
        loopback = [line_token_cli([*verify, "--base-url", f"http://{host}:{server.port}"], env)
                    for host in ("127.0.0.1", "localhost")]
        # 127.1 is this computer too, but only a name lookup says so: the check, which looks nothing up,
        # takes it for another host (as it would any name), so it stands in for one here.
        refused = line_token_cli([*verify, "--base-url", f"http://127.1:{server.port}"], env)
        allowed = line_token_cli([*verify, "--base-url", f"http://127.1:{server.port}", "--insecure"], env)
    finally:
        server.close()
    for result in loopback:
        assert result.returncode == 0 and result.stdout == "1234567890\n", result.stderr
    assert_one_line_error(refused, 2, "--base-url", "--insecure")
    assert allowed.returncode == 0 and allowed.stdout == "1234567890\n", allowed.stderr


# --------------------------------------------------------------------------- a server's terminal escapes (23.8)


def assert_no_terminal_controls(text: str) -> None:
    for char in text:
        assert char in "\n\t" or not (ord(char) < 0x20 or 0x7f <= ord(char) <= 0x9f), (repr(char), text)


def test_a_hostile_servers_escapes_never_reach_the_terminal(tmp_path):
    import hostile

    escapes = hostile.TERMINAL_ESCAPES
    error = json.dumps({"error": "invalid_request", "error_description": f"access_token invalid{escapes}"})
    bot = json.dumps({"userId": "U" + "0" * 32, "displayName": f"Bot{escapes}", "basicId": "@123abcde"})
    server = hostile.HostileServer({
        "/v2/oauth/verify": (400, "application/json", error.encode()),
        "/oauth2/v2.1/verify": (500, "text/plain", f"upstream broke{escapes}".encode()),
        "/v2/bot/info": (200, "application/json", bot.encode()),
        "/v2/bot/message/quota": (401, "application/json", json.dumps({"message": f"no{escapes}"}).encode()),
        "/api/channels/1234567890": (403, "application/json", json.dumps({"error": f"denied{escapes}"}).encode()),
    })
    env = cli_env(tmp_path / "sandbox.sqlite3")
    base = ["--base-url", server.url]
    try:
        results = {
            "refusal, JSON": line_token_cli(["token", "verify-v2", "a-token", *base], env),
            "refusal, text": line_token_cli(["token", "verify", "a.b.c", *base], env),
            "answer, JSON": line_token_cli(["bot", "info", "--token", "a-token", "--json", *base], env),
            "answer, field": line_token_cli(["bot", "info", "--token", "a-token", "--field", "displayName", *base],
                                            env),
            "bot refusal": line_token_cli(["bot", "quota", "--token", "a-token", *base], env),
            "admin refusal": line_token_cli(["sandbox", "channels", "show", "1234567890", *base], env),
        }
    finally:
        server.close()
    for name, result in results.items():
        assert "Traceback" not in result.stderr, (name, result.stderr)
        assert_no_terminal_controls(result.stdout)
        assert_no_terminal_controls(result.stderr)
    # What the server said still shows, without what a terminal would act on.
    assert "access_token invalid" in results["refusal, JSON"].stderr
    assert "upstream broke" in results["refusal, text"].stderr and "red" in results["refusal, text"].stderr
    assert results["answer, field"].stdout.startswith("Bot") and results["answer, field"].returncode == 0
    assert "denied" in results["admin refusal"].stderr and results["admin refusal"].returncode == 1
    assert results["bot refusal"].returncode == 1
    # JSON output escapes them instead (\u001b, \u009b): a script still gets the value as it came.
    answer = results["answer, JSON"]
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["displayName"] == f"Bot{escapes}"
    assert json.loads(results["refusal, JSON"].stderr.splitlines()[-1])["error_description"].endswith(escapes)


# --------------------------------------------------------------------------- what a person is told (22.13)

JA = {"LANG": "ja_JP.UTF-8", "LC_ALL": "", "LANGUAGE": "", "LC_MESSAGES": ""}


def test_a_refusal_says_what_it_means_and_the_fix_then_the_body(sandbox_channel):
    ch = sandbox_channel
    kids = ["token", "kids", "--channel-id", ch["channel_id"], "--kid", "not-registered", "--key", KEY_FILE,
            "--target", "sandbox"]
    english = line_token_cli(kids, ch["env"])
    japanese = line_token_cli(kids, {**ch["env"], **JA})
    for result in (english, japanese):
        assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
        explained, body = result.stderr.splitlines()
        assert json.loads(body) == {"message": "Cannot find channel key that satisfies the conditions"}
        assert "not-registered" in explained and f"line-token sandbox channels show {ch['channel_id']}" in explained
    explained = english.stderr.splitlines()[0]
    assert explained.startswith("The sandbox refused the request (HTTP 404). LINE knows no key with this kid on "
                                "this channel. Check the kid")
    assert "The JWT's kid is not-registered." in explained
    explained = japanese.stderr.splitlines()[0]
    assert explained.startswith("サンドボックスがリクエストを拒否しました（HTTP 404）。このチャネルには、この kid の鍵が")
    assert "JWTのkidは not-registered です。" in explained and "で確認できます。" in explained


def bot_token(ch) -> str:
    issued = line_token_cli(["token", "issue", "--channel-id", ch["channel_id"], "--kid", ch["kid"], "--key", KEY_FILE,
                             "--target", "sandbox", "--field", "access_token"], ch["env"])
    assert issued.returncode == 0, issued.stderr
    return issued.stdout.strip()


def test_bot_info_in_process_says_its_picture_has_no_address_and_how_to_get_one(sandbox_channel):
    ch = sandbox_channel
    token = bot_token(ch)
    info = ["bot", "info", "--token", "-", "--target", "sandbox"]
    piped = line_token_cli(info, ch["env"], stdin=token)
    japanese = line_token_cli(info, {**ch["env"], **JA}, stdin=token)
    field = line_token_cli([*info, "--field", "pictureUrl"], ch["env"], stdin=token)
    for result in (piped, japanese):
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        # No address that cannot open: the field is left out, as LINE leaves it out for a bot without a picture.
        assert "pictureUrl" not in body and body["displayName"] == f"Sandbox bot {ch['channel_id']}"
        assert "sandbox.internal" not in result.stdout + result.stderr
        assert "line-token sandbox serve" in result.stderr and "--base-url" in result.stderr
    assert "no address" in piped.stderr
    assert "アドレスがない" in japanese.stderr
    assert_one_line_error(field, 2, "pictureUrl", "line-token sandbox serve")


def test_bot_info_against_a_running_sandbox_gives_a_picture_address_that_opens(sandbox_channel):
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    from line_token.sandbox.app import create_app

    ch = sandbox_channel
    token = bot_token(ch)
    app = create_app({"SANDBOX_DATABASE": ch["env"]["SANDBOX_DATABASE"]})  # the sandbox alone, on the same file
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        info = line_token_cli(["bot", "info", "--token", "-", "--base-url", base, "--field", "pictureUrl"],
                              ch["env"], stdin=token)
        assert info.returncode == 0, info.stderr
        picture = info.stdout.strip()
        assert picture.startswith(base + "/"), picture
        with urllib.request.urlopen(picture, timeout=30) as answer:
            assert answer.status == 200 and answer.headers["Content-Type"].startswith("image/svg+xml")
            assert answer.read().startswith(b"<svg")
    finally:
        server.shutdown()
        server.server_close()

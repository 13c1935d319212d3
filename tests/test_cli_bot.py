"""``flask --app app bot info|quota`` (step 6) against the sandbox, as a script would run them."""
from __future__ import annotations

import json

from line_token import signing
from test_cli import (FIXTURES, assert_one_line_error, cli_env, finish, flask_cli,  # noqa: F401
                      sandbox_channel, start)


def issue_tokens(ch, *kinds: str) -> dict[str, str]:
    """A v2.1, a stateless and a short-lived token for the channel, issued by the CLI itself."""
    env = {**ch["env"], "LINE_CHANNEL_SECRET": ch["channel_secret"]}
    key_file = str(FIXTURES / "line-console-key-2020.json")
    kinds = kinds or ("v2.1", "stateless", "short-lived")
    commands = {
        "v2.1": ["token", "issue", "--channel-id", ch["channel_id"], "--kid", ch["kid"], "--key", key_file],
        "stateless": ["token", "issue-stateless", "--channel-id", ch["channel_id"]],
        "short-lived": ["token", "issue-v2", "--channel-id", ch["channel_id"]],
    }
    runs = {kind: start([*commands[kind], "--target", "sandbox"], env) for kind in kinds}
    tokens = {}
    for kind, run in runs.items():
        done = finish(run)
        assert done.returncode == 0, (kind, done.stderr)
        tokens[kind] = json.loads(done.stdout)["access_token"]
    return tokens


def test_bot_info_and_quota_for_each_token_type(sandbox_channel):
    ch = sandbox_channel
    tokens = issue_tokens(ch)
    runs = {kind: (start(["bot", "info", "--token", "-", "--target", "sandbox", "--json"], ch["env"], stdin=token),
                   start(["bot", "quota", "--token", token, "--target", "sandbox", "--field", "totalUsage"], ch["env"]))
            for kind, token in tokens.items()}
    name_run = start(["bot", "info", "--token", tokens["v2.1"], "--target", "sandbox", "--field", "basicId"], ch["env"])
    plain_run = start(["bot", "quota", "--token", tokens["short-lived"], "--target", "sandbox"], ch["env"])
    for kind, (info_run, quota_run) in runs.items():
        info, quota = finish(info_run), finish(quota_run)
        assert info.returncode == 0 and quota.returncode == 0, (kind, info.stderr, quota.stderr)
        body = json.loads(info.stdout)
        assert body["displayName"] == f"Sandbox bot {ch['channel_id']}" and body["userId"].startswith("U")
        assert body["chatMode"] == "bot" and body["markAsReadMode"] == "auto"
        assert quota.stdout == "0\n"
    name = finish(name_run)
    assert name.returncode == 0 and name.stdout.startswith("@") and len(name.stdout.strip()) == 9
    plain = finish(plain_run)
    assert plain.returncode == 0 and plain.stdout == "type: none\ntotalUsage: 0\n"


def test_a_refused_token_exits_1_with_lines_reason_on_one_line(sandbox_channel):
    ch = sandbox_channel
    tokens = issue_tokens(ch, "short-lived")
    revoke = flask_cli(["token", "revoke-v2", "-", "--target", "sandbox"], ch["env"], stdin=tokens["short-lived"])
    assert revoke.returncode == 0, revoke.stderr
    refused = flask_cli(["bot", "info", "--token", tokens["short-lived"], "--target", "sandbox"], ch["env"])
    line = assert_one_line_error(refused, 1, "The sandbox refused the token", "invalid, expired or revoked",
                                 "Authentication failed. Confirm that the access token")
    assert tokens["short-lived"] not in line
    garbled = flask_cli(["bot", "quota", "--token", "not!a!token", "--target", "sandbox"], ch["env"])
    assert_one_line_error(garbled, 1, "the token is malformed", "HTTP 401")


def test_bad_input_exits_2_naming_the_option(sandbox_channel):
    ch = sandbox_channel
    runs = [
        (start(["bot", "info", "--token", "-", "--target", "sandbox"], ch["env"], stdin=""), "--token", "stdin is empty"),
        (start(["bot", "info", "--token", "tök", "--target", "sandbox"], ch["env"]), "--token", "only letters"),
        (start(["bot", "info", "--token", "abc", "--target", "sandbox", "--json", "--field", "x"], ch["env"]),
         "--field", "not both"),
    ]
    for run, option, needle in runs:
        assert_one_line_error(finish(run), 2, option, needle)
    token = issue_tokens(ch, "stateless")["stateless"]
    unknown = flask_cli(["bot", "info", "--token", token, "--target", "sandbox", "--field", "nope"], ch["env"])
    assert_one_line_error(unknown, 2, "--field", "no field 'nope'", "displayName")
    assert signing.decode_unverified(token)[1]["iss"] == ch["channel_id"]

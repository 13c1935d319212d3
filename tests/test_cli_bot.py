"""``flask --app app bot info|quota`` (step 6) against the sandbox, as a script would run them."""
from __future__ import annotations

import json

from line_token.core import signing
import pytest

from conftest import one_line_error
from test_cli import (FIXTURES, cli_env, finish, flask_cli,  # noqa: F401
                      sandbox_channel as cli_sandbox_channel, start)


@pytest.fixture
def sandbox_channel(cli_sandbox_channel):
    """test_cli's channel, with a sandbox timeout for a busy machine: several CLI processes start at once
    here, each importing SQLAlchemy on its first sandbox call (test_cli's 3 s is for the closed LINE port)."""
    return {**cli_sandbox_channel, "env": {**cli_sandbox_channel["env"], "LINE_API_TIMEOUT": "30"}}


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
    env = ch["env"]
    infos = {kind: start(["bot", "info", "--token", "-", "--target", "sandbox", "--json"], env, stdin=token)
             for kind, token in tokens.items()}
    total = start(["bot", "quota", "--token", tokens["v2.1"], "--target", "sandbox", "--field", "totalUsage"], env)
    basic = start(["bot", "info", "--token", tokens["stateless"], "--target", "sandbox", "--field", "basicId"], env)
    plain = start(["bot", "quota", "--token", tokens["short-lived"], "--target", "sandbox"], env)
    for kind, run in infos.items():
        info = finish(run)
        assert info.returncode == 0, (kind, info.stderr)
        body = json.loads(info.stdout)
        assert body["displayName"] == f"Sandbox bot {ch['channel_id']}" and body["userId"].startswith("U")
        assert body["chatMode"] == "bot" and body["markAsReadMode"] == "auto"
    total, basic, plain = finish(total), finish(basic), finish(plain)
    assert total.returncode == 0 and total.stdout == "0\n", total.stderr
    assert basic.returncode == 0 and basic.stdout.startswith("@") and len(basic.stdout.strip()) == 9
    # Piped, the answer is JSON (as every line-token command's: text only for a person at a terminal).
    assert plain.returncode == 0 and json.loads(plain.stdout) == {"type": "none", "totalUsage": 0}, plain.stderr


def test_a_refused_token_exits_1_with_lines_reason_on_one_line(sandbox_channel):
    ch = sandbox_channel
    tokens = issue_tokens(ch, "short-lived")
    revoke = flask_cli(["token", "revoke-v2", "-", "--target", "sandbox"], ch["env"], stdin=tokens["short-lived"])
    assert revoke.returncode == 0, revoke.stderr
    refused = flask_cli(["bot", "info", "--token", tokens["short-lived"], "--target", "sandbox"], ch["env"])
    line = one_line_error(refused, 1, "The sandbox refused the token", "invalid, expired or revoked",
                                 "Authentication failed. Confirm that the access token")
    assert tokens["short-lived"] not in line
    garbled = flask_cli(["bot", "quota", "--token", "not!a!token", "--target", "sandbox"], ch["env"])
    one_line_error(garbled, 1, "the token is malformed", "HTTP 401")


def test_bad_input_exits_2_naming_the_option(sandbox_channel):
    ch = sandbox_channel
    runs = [
        (start(["bot", "info", "--token", "-", "--target", "sandbox"], ch["env"], stdin=""), "--token", "stdin is empty"),
        (start(["bot", "info", "--token", "tök", "--target", "sandbox"], ch["env"]), "--token", "only letters"),
        (start(["bot", "info", "--token", "abc", "--target", "sandbox", "--json", "--field", "x"], ch["env"]),
         "--field", "not both"),
    ]
    for run, option, needle in runs:
        one_line_error(finish(run), 2, option, needle)
    token = issue_tokens(ch, "stateless")["stateless"]
    unknown = flask_cli(["bot", "info", "--token", token, "--target", "sandbox", "--field", "nope"], ch["env"])
    one_line_error(unknown, 2, "--field", "no field 'nope'", "displayName")
    assert signing.decode_unverified(token)[1]["iss"] == ch["channel_id"]

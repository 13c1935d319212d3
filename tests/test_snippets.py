"""Code to take home (snippets.py, trying.snippets): the `.env` line is safe to source whatever the
upstream answered, and every snippet runs as copied against the sandbox's own origin."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from line_token import snippets

HOSTILE_TOKENS = [
    "abc$(touch PWNED)def",
    "`touch PWNED`",
    "a'; touch PWNED; echo 'b",
    "x\" $(touch PWNED) \"y",
    "${HOME}$PATH\\n\\",
    "tok en with spaces # and a hash",
]


@pytest.mark.parametrize("token", HOSTILE_TOKENS)
def test_the_env_line_sourced_in_sh_runs_nothing_and_round_trips(tmp_path, token):
    line = snippets.env_line({"access_token": token}, True)
    env_file = tmp_path / ".env"
    env_file.write_text(line)
    run = subprocess.run(["sh", "-c", '. ./.env && printf "%s" "$LINE_CHANNEL_ACCESS_TOKEN"'], cwd=tmp_path,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert run.stdout == token, "the value read back differs from the token"
    assert not (tmp_path / "PWNED").exists(), "sourcing the .env line ran a command"


@pytest.mark.parametrize("token", ["a\n touch PWNED", "a\r\nb", "a\x1b[2Jb", "a\x00b", "a\x85b"])
def test_a_token_with_a_line_break_or_control_character_gets_no_env_line(token):
    assert snippets.env_line({"access_token": token}, True) is None
    assert snippets.env_line({"access_token": token}, False) is None
    assert snippets.for_request("issue_v2", "https://api.line.me/v2/oauth/accessToken",
                                {"grant_type": "client_credentials"}, {"access_token": token})["env"] is None


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("token", [t for t in HOSTILE_TOKENS if "'" not in t] + ["eyJhbGciOiJIUzI1NiJ9.e30.sig-_~"])
def test_the_env_line_reads_back_the_same_in_a_dotenv_reader(tmp_path, token):
    """Node's own dotenv reader (node --env-file, the format python-dotenv shares for single quotes)."""
    (tmp_path / ".env").write_text(snippets.env_line({"access_token": token}, True))
    run = subprocess.run(["node", "--env-file=.env", "-e", "process.stdout.write(process.env.LINE_CHANNEL_ACCESS_TOKEN)"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert run.stdout == token
    assert not (tmp_path / "PWNED").exists()

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

from test_cli import (FIXTURES, assert_one_line_error, cli_env, line_token_cli,  # noqa: F401
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

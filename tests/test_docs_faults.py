"""docs/testing-your-bot-faults.md's examples, run as written against the sandbox's own origin on a real server:
the Python blocks in order as one script, then the shell block with `line-token` on PATH."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest
import requests

from conftest import ROOT, start_sandbox_origin

pytestmark = pytest.mark.server

DOC = ROOT / "docs" / "testing-your-bot-faults.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    server = start_sandbox_origin(tmp_path_factory.mktemp("docs"))
    yield server
    server.stop()


def test_the_python_examples_run_as_written(origin, tmp_path):
    code = blocks("python")
    assert len(code) == 3
    script = tmp_path / "example.py"
    script.write_text("\n".join(code))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180,
                            env={**os.environ, "SANDBOX_URL": origin.sandbox_url})
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_shell_example_runs_as_written(origin, tmp_path):
    (shell,) = blocks("sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "line-token"  # what `pip install` puts on PATH
    shim.write_text(f"#!/bin/sh\ncd {ROOT} && exec {sys.executable} -m line_token.cli \"$@\"\n")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    channel = requests.post(f"{origin.sandbox_url}/api/channels", json={}, timeout=10).json()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SANDBOX_URL": origin.sandbox_url,
           "CHANNEL_ID": channel["channel_id"], "LINE_CHANNEL_SECRET": channel["channel_secret"]}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", shell], capture_output=True, text=True, timeout=300,
                            env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3600" in result.stdout
    auth = (channel["channel_id"], channel["channel_secret"])
    base = f"{origin.sandbox_url}/api/channels/{channel['channel_id']}"
    assert requests.get(f"{base}/faults", auth=auth, timeout=10).json() == {"faults": []}
    assert requests.get(f"{base}/clock", auth=auth, timeout=10).json()["offset_seconds"] == 0

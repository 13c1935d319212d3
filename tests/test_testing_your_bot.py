"""docs/testing-your-bot.md runs as written (issue 21 items 2 and 8), the way a bot developer runs it: the wheel
built from this checkout installed into a fresh venv (tests/installing.py), the doc's files written into a
throwaway project outside the repo, then its pytest suite (the `line_sandbox` fixture found through the
wheel's pytest11 entry point, LINE's Python SDK), its Vitest suite (`line-token sandbox serve` from the
installed wheel in a global set-up, LINE's Node SDK) and its shell steps (seed and export).

A fenced block whose info string names a file (```python bot.py) is that file of the project; every other
block must follow a `<!-- not run: why -->` comment. The only change made to the text: the documented port
8090 becomes a free one, so parallel runs don't collide.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, free_port
from installing import build_wheel, venv_with

pytestmark = pytest.mark.server

DOC = ROOT / "docs" / "testing-your-bot.md"
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
BLOCK = re.compile(r"(?:<!-- not run: (?P<why>[^>]+?) -->\n)?^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.S | re.M)
TIMEOUT = 300


def doc_blocks() -> list[dict]:
    found = []
    for match in BLOCK.finditer(DOC.read_text()):
        words = match["info"].split()
        found.append({"lang": words[0] if words else "", "file": words[1] if len(words) > 1 else None,
                      "why": match["why"], "body": match["body"]})
    return found


def test_every_block_of_the_doc_runs_or_says_why_not():
    blocks = doc_blocks()
    assert len(blocks) >= 10
    unexplained = [b["body"][:60] for b in blocks if not b["file"] and not b["why"]]
    assert unexplained == []
    files = [b["file"] for b in blocks if b["file"]]
    assert len(files) == len(set(files))
    assert {"bot.py", "test_bot.py", "vitest.config.js", "sandbox-setup.js", "bot.test.js", "seed.sh"} <= set(files)


@pytest.fixture(scope="module")
def installed_bin(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    return venv_with(base, build_wheel(base))


@pytest.fixture
def project(tmp_path, installed_bin):
    """The doc's files in a fresh folder, and a user's environment with the installed venv first on PATH."""
    folder = tmp_path / "my-bot"
    folder.mkdir()
    port = str(free_port())
    for block in doc_blocks():
        if block["file"]:
            (folder / block["file"]).write_text(block["body"].replace("8090", port))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "LINE_", "XDG_", "SANDBOX_")) and k not in ("DATABASE_URL", "PYTHONPATH")}
    env.update({"PATH": f"{installed_bin}{os.pathsep}{env.get('PATH', '')}", "HOME": str(tmp_path / "home"),
                "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"})
    return folder, env


def run(args: list[str], folder: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def test_the_pytest_and_seed_examples_pass_with_the_installed_wheel(project):
    folder, env = project
    # The shell steps: a channel saved as seed JSON with its secret, then a run that starts from it.
    saved = run(["bash", "-e", "seed.sh"], folder, env)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    seed = (folder / "channels.json").read_text()
    assert '"channel_secret"' in seed and '"kid"' in seed and '"d"' not in seed
    started = run(["bash", "-e", "seed-start.sh"], folder, env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert started.stdout.strip() == "86400"  # the token LINE's endpoint issued for the seeded kid
    # The bot's pytest suite, exactly as its developer runs it: the fixture comes from the installed wheel.
    tested = run([str(Path(env["PATH"].split(os.pathsep)[0]) / "python"), "-m", "pytest", "-q", "-p",
                  "no:cacheprovider"], folder, env)
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    assert re.search(r"\b5 passed\b", tested.stdout), tested.stdout[-2000:]
    # A conftest naming the plugin as well (as this project's own does) loads it once, not twice.
    (folder / "conftest.py").write_text('pytest_plugins = ["line_token.sandbox.pytest_plugin"]\n')
    again = run([str(Path(env["PATH"].split(os.pathsep)[0]) / "python"), "-m", "pytest", "-q", "-p",
                 "no:cacheprovider", "test_bot.py"], folder, env)
    assert again.returncode == 0 and re.search(r"\b4 passed\b", again.stdout), again.stdout[-2000:] + again.stderr


@pytest.mark.skipif(not (NODE_MODULES / "vitest").exists() and not os.environ.get("CI"),
                    reason="run scripts/test (npm ci in tests/node) to install LINE's Node SDK and Vitest")
def test_the_vitest_example_passes_against_line_token_sandbox_serve(project):
    folder, env = project
    (folder / "package.json").write_text('{"type": "module"}\n')
    (folder / "node_modules").symlink_to(NODE_MODULES)
    result = run([str(NODE_MODULES / ".bin" / "vitest"), "run", "--root", str(folder)], folder,
                 {**env, "CI": "1", "NO_COLOR": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"Tests\s+2 passed", result.stdout), result.stdout[-2000:]

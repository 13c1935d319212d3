"""Every shell, Python and Node block of README.md and docs/*.md runs as written, or says why not.

The convention (docs/CONTRIBUTING.md, "Code blocks in the docs"): each fenced block whose info string starts with
sh/bash/console, python, or js/mjs/javascript runs here unless the line right above its fence is one of

    <!-- not run: REASON -->                         (a reason is required)
    <!-- run by: tests/test_x.py::test_name -->      (that test must exist; it runs the block its own way)

A block in any other language (go, java, yaml, powershell …) needs one of those markers too, so a new doc cannot
skip silently; a block with no info string or ``text`` is output or a diagram, never run.

Each runnable block runs alone, in a fresh folder, with a time bound: shell with ``bash -euo pipefail``, Python
with this interpreter, Node as an ``.mjs`` file (LINE's Node SDK from tests/node/node_modules). It runs against one
Procfile server this module starts with ``SANDBOX_PORT`` (the docs' ``127.0.0.1:5000`` / ``localhost:5000`` become
its address, ``127.0.0.1:5001`` its sandbox origin: the only change made to a block's text), and with what the docs
tell the reader to have, provided here:

- ``line-token`` and ``flask`` on PATH (this checkout, as ``pipx install .`` would give it); ``curl`` on PATH fails
  on an HTTP error status (``--fail-with-body``), so a block whose request is refused fails;
- the docs' example channel ``1234567890`` with secret ``0123456789abcdef0123456789abcdef`` and kid
  ``536e453c-aa93-4449-8e90-add2608783c6`` created afresh in the sandbox before each block (seed JSON);
- ``S`` (the sandbox origin), ``A`` (channel ID:secret), ``CHANNEL_ID``, ``LINE_CHANNEL_SECRET``, ``KID``,
  ``JWT`` (an assertion for that kid), ``TOKEN`` (a v2.1 token issued for it), ``SANDBOX_URL``;
- ``private.jwk.json`` and ``public.jwk.json`` (the key pair of that kid) in the block's folder;
- ``HOME``, ``XDG_DATA_HOME``, ``XDG_STATE_HOME`` in a throwaway folder; ``SANDBOX_DATABASE`` the server's own, so
  ``--target sandbox`` commands see the tokens the server issued.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from jwcrypto import jwk
from jwcrypto import jwt as jwcrypto_jwt

from conftest import ROOT, LiveServer, start_sandbox_origin

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
SHELL, PYTHON, NODE = {"sh", "bash", "console"}, {"python", "py"}, {"js", "mjs", "javascript"}
NOT_CODE = {"", "text"}
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)
NOT_RUN = re.compile(r"^<!-- not run: (?P<why>.*?) -->$")
RUN_BY = re.compile(r"^<!-- run by: (?P<file>tests/[\w/]+\.py)::(?P<test>\w+) -->$")
CHANNEL_ID, SECRET, KID = "1234567890", "0123456789abcdef0123456789abcdef", "536e453c-aa93-4449-8e90-add2608783c6"
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
TIMEOUT = 120


@dataclass
class Block:
    doc: Path
    line: int
    lang: str
    marker: str
    body: str

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def doc_blocks() -> list[Block]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in FENCE.finditer(text):
            start = text.count("\n", 0, match.start())
            before = text.split("\n")[start - 1].strip() if start else ""
            words = match["info"].split()
            found.append(Block(doc, start + 1, words[0].lower() if words else "",
                               before if before.startswith("<!--") else "", match["body"]))
    return found


def runnable(block: Block) -> bool:
    return not block.marker and block.lang in SHELL | PYTHON | NODE


def test_every_code_block_runs_or_says_why_not():
    blocks = doc_blocks()
    assert len(blocks) >= 40, "the fence pattern stopped finding the docs' blocks"
    problems = []
    for block in blocks:
        if block.marker:
            not_run, run_by = NOT_RUN.match(block.marker), RUN_BY.match(block.marker)
            if not_run:
                if len(not_run["why"].strip()) < 10:
                    problems.append(f"{block.name}: `not run` needs a reason")
            elif run_by:
                test_file = ROOT / run_by["file"]
                if not test_file.exists() or not re.search(rf"^def {run_by['test']}\(", test_file.read_text(), re.M):
                    problems.append(f"{block.name}: {run_by['file']}::{run_by['test']} does not exist")
            else:
                problems.append(f"{block.name}: unknown marker {block.marker!r}")
        elif block.lang not in NOT_CODE | SHELL | PYTHON | NODE:
            problems.append(f"{block.name}: a ```{block.lang} block this test cannot run needs "
                            "<!-- not run: why --> or <!-- run by: tests/…::test -->")
    assert problems == []


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_sandbox_origin(tmp_path_factory.mktemp("docs-server"), {"SANDBOX_CHANNELS_PER_HOUR": "100000"})
    yield live
    live.stop()


@pytest.fixture(scope="module")
def keypair() -> tuple[dict, dict]:
    key = jwk.JWK.generate(kty="RSA", size=2048)
    public = {**json.loads(key.export_public()), "alg": "RS256", "use": "sig"}
    return json.loads(key.export_private()), public


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> Path:
    """`line-token` as installed, and a `curl` that fails on an HTTP error status, first on PATH."""
    bin_dir = tmp_path_factory.mktemp("bin")
    scripts = {"line-token": f'exec "{sys.executable}" -m line_token.cli "$@"\n',
               "curl": f'exec "{shutil.which("curl")}" --fail-with-body "$@"\n'}
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def seed_channel(sandbox_url: str, public: dict) -> None:
    """The docs' example channel, created afresh (a block before may have deleted it, or filled its slots)."""
    requests.delete(f"{sandbox_url}/api/channels/{CHANNEL_ID}", auth=(CHANNEL_ID, SECRET), timeout=30)
    answer = requests.post(f"{sandbox_url}/api/channels/import", timeout=30, json={
        "channel_id": CHANNEL_ID, "channel_secret": SECRET, "name": "my bot",
        "keys": [{"kid": KID, "public_key": public}]})
    assert answer.status_code == 201, answer.text


def assertion(private: dict) -> str:
    token = jwcrypto_jwt.JWT(header={"alg": "RS256", "typ": "JWT", "kid": KID},
                             claims={"iss": CHANNEL_ID, "sub": CHANNEL_ID, "aud": "https://api.line.me/",
                                     "exp": int(time.time()) + 30 * 60, "token_exp": 86400})
    token.make_signed_token(jwk.JWK(**private))
    return token.serialize()


def as_written(body: str, server: LiveServer) -> str:
    """The block's text with the documented ports replaced by the test server's."""
    body = body.replace("127.0.0.1:5001", server.sandbox_url.removeprefix("http://"))
    for main in ("127.0.0.1:5000", "localhost:5000"):
        body = body.replace(main, server.url.removeprefix("http://"))
    return body


@pytest.mark.server
@pytest.mark.parametrize("block", [b for b in doc_blocks() if runnable(b)], ids=lambda b: b.name)
def test_the_block_runs_as_written(block, server, keypair, tools, tmp_path):
    if block.lang in NODE and not (NODE_MODULES / "@line" / "bot-sdk").exists() and not os.environ.get("CI"):
        pytest.skip("run scripts/test (npm ci in tests/node) to install LINE's Node SDK")
    private, public = keypair
    seed_channel(server.sandbox_url, public)
    jwt = assertion(private)
    issued = requests.post(f"{server.sandbox_url}/oauth2/v2.1/token", timeout=30, data={
        "grant_type": "client_credentials", "client_assertion": jwt,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    assert issued.status_code == 200, issued.text
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "private.jwk.json").write_text(json.dumps(private))
    (folder / "public.jwk.json").write_text(json.dumps(public))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "XDG_", "FLASK_"))}
    env.update({
        "PATH": os.pathsep.join([str(tools), str(Path(sys.executable).parent), env.get("PATH", "")]),
        "PYTHONPATH": str(ROOT), "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"), "SANDBOX_DATABASE": server.env["SANDBOX_DATABASE"],
        "S": server.sandbox_url, "SANDBOX_URL": server.sandbox_url, "A": f"{CHANNEL_ID}:{SECRET}",
        "CHANNEL_ID": CHANNEL_ID, "LINE_CHANNEL_SECRET": SECRET, "KID": KID, "JWT": jwt,
        "TOKEN": issued.json()["access_token"], "LANG": "C.UTF-8"})
    body = as_written(block.body, server)
    if block.lang in SHELL:
        command = ["bash", "-euo", "pipefail", "-c", body]
    elif block.lang in PYTHON:
        (folder / "example.py").write_text(body)
        command = [sys.executable, "example.py"]
    else:
        (folder / "node_modules").symlink_to(NODE_MODULES)
        (folder / "example.mjs").write_text(body)
        command = [shutil.which("node") or "node", "example.mjs"]
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{block.name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"

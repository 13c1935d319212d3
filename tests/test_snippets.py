"""Code to take home (snippets.py, trying.snippets): the `.env` line is safe to source whatever the
upstream answered, and every snippet runs as copied against the sandbox's own origin."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from line_token.core import snippets

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


# --------------------------------------------------------------------------- every snippet runs as copied (issue 22.11)

import concurrent.futures  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402

from line_token.core import signing  # noqa: E402
from conftest import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = Path(__file__).resolve().parent / "node" / "node_modules"  # LINE's Node SDK (npm ci: scripts/test)
SECRET_ENV = ("LINE_CHANNEL_SECRET", "LINE_PRIVATE_KEY_FILE", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_CLIENT_ASSERTION")


def node_or_skip() -> None:
    if shutil.which("node") is None or not (NODE_MODULES / "@line" / "bot-sdk").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("node or tests/node/node_modules is missing under CI: scripts/test installs both")
        pytest.skip("LINE's Node SDK is not installed: run scripts/test (node, npm ci in tests/node)")


class Runner:
    """Runs a page's snippets as a person would after copying them: curl in sh, Python and Node from files."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path / "take-home"
        self.dir.mkdir()
        (self.dir / "node_modules").symlink_to(NODE_MODULES)  # an ES module resolves packages from its folder
        bin_dir = self.dir / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "line-token"  # the installed CLI, as the curl line's `line-token jwt` expects
        shim.write_text(f'#!/bin/sh\nexec {shlex_quote(sys.executable)} -m line_token.cli "$@"\n')
        shim.chmod(0o755)
        base_env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
        self.env = {**base_env, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT),
                    "LANG": "C.UTF-8"}
        self.count = 0

    def run(self, kind: str, code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
        self.count += 1
        if kind == "curl":
            command = ["sh", "-c", code]
        else:
            path = self.dir / f"snippet{self.count}.{'py' if kind == 'python' else 'mjs'}"
            path.write_text(code)
            command = [sys.executable, str(path)] if kind == "python" else ["node", str(path)]
        return subprocess.run(command, cwd=self.dir, env={**self.env, **env}, capture_output=True, text=True,
                              timeout=120)


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def block(page: str, name: str) -> str:
    return html.unescape(re.search(rf'<pre id="{name}"[^>]*>(.*?)</pre>', page, re.S).group(1))


class Site:
    """The Procfile server with the sandbox at its own origin (LINE's Node SDK keeps only a base URL's origin)."""

    def __init__(self, server):
        self.url = server.url
        self.session = requests.Session()
        form = self.session.get(self.url + "/oauth2/v2.1/token", timeout=30).text
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)

    def post(self, path: str, **data: str) -> str:
        answer = self.session.post(self.url + path, data={"csrf_token": self.csrf, "target": "sandbox", **data},
                                   timeout=60)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
        return answer.text


# What each result's snippets print when they worked (Python prints its SDK's models, Node and curl JSON).
WORKED = {
    "issue_v21": ("access_token", "accessToken"),
    "kids_v21": ("kids",),
    "verify_v21": ("client_id", "clientId"),
    "issue_stateless": ("access_token", "accessToken"),
    "issue_v2": ("access_token", "accessToken"),
    "verify_v2": ("client_id", "clientId"),
    "bot_info": ("user_id", "userId"),
    "revoke_v21": None,  # LINE answers 200 with an empty body: the snippet prints no error
    "revoke_v2": None,
}


@pytest.mark.server
@pytest.mark.slow
def test_every_snippet_of_every_result_runs_as_copied_against_the_sandbox(start_server, console_key_text, tmp_path):
    """curl, Python (line-bot-sdk) and Node (@line/bot-sdk, as a .mjs file) of each result page: the default
    ones with only the named environment variables set, the "include secrets" ones with nothing set."""
    node_or_skip()
    site = Site(start_server(env={"SANDBOX_PORT": str(free_port())}))
    ch = site.session.post(site.url + "/sandbox/api/channels", json={}, timeout=30).json()
    key = signing.load_private_key(console_key_text)
    kid = site.session.post(f"{site.url}/sandbox/api/channels/{ch['channel_id']}/keys", json=signing.public_jwk(key),
                            auth=(ch["channel_id"], ch["channel_secret"]), timeout=30).json()["kid"]
    key_file = tmp_path / "private.json"
    key_file.write_text(console_key_text)
    jwt = signing.build_assertion(ch["channel_id"], kid, key, 3600)
    client = {"client_id": ch["channel_id"], "client_secret": ch["channel_secret"]}
    token_of = lambda page: html.unescape(re.search(r'<pre id="access-token"[^>]*>([^<]+)</pre>', page).group(1))  # noqa: E731

    issued = site.post("/oauth2/v2.1/token", client_assertion=jwt)
    v21 = token_of(issued)
    short_lived_page = site.post("/v2/oauth/accessToken", **client)
    short_lived = token_of(short_lived_page)
    # The revoke pages revoke tokens of their own: the other results' snippets still use theirs.
    v21_to_revoke = site.session.post(site.url + "/sandbox/oauth2/v2.1/token", timeout=30, data={
        "grant_type": "client_credentials", "client_assertion": jwt,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}).json()["access_token"]
    short_lived_to_revoke = site.session.post(site.url + "/sandbox/v2/oauth/accessToken", timeout=30, data={
        "grant_type": "client_credentials", **client}).json()["access_token"]
    results = [  # (name, its page, the token LINE_CHANNEL_ACCESS_TOKEN holds for the default snippets)
        ("issue_v21", issued, ""),
        ("kids_v21", site.post("/oauth2/v2.1/tokens", client_assertion=jwt), ""),
        ("verify_v21", site.post("/oauth2/v2.1/verify", access_token=v21), v21),
        ("issue_stateless", site.post("/oauth2/v3/token", variant="assertion", client_assertion=jwt), ""),
        ("issue_stateless", site.post("/oauth2/v3/token", variant="secret", **client), ""),
        ("issue_v2", short_lived_page, ""),
        ("verify_v2", site.post("/v2/oauth/verify", access_token=short_lived), short_lived),
        ("bot_info", site.post("/v2/bot/info", access_token=v21), v21),
        ("revoke_v21", site.post("/oauth2/v2.1/revoke", access_token=v21_to_revoke, **client), v21_to_revoke),
        ("revoke_v2", site.post("/v2/oauth/revoke", access_token=short_lived_to_revoke), short_lived_to_revoke),
    ]
    runner = Runner(tmp_path)
    env_set = {"LINE_CHANNEL_SECRET": ch["channel_secret"], "LINE_PRIVATE_KEY_FILE": str(key_file)}
    jobs = []
    for name, page, token in results:
        note = re.search(r'<p class="hint" id="snippet-env">(.*?)</p>', page, re.S)
        for variant in ("masked", "full"):
            for kind in ("curl", "python", "node"):
                code = block(page, f"{kind}-{variant}")
                if variant == "masked":
                    for secret in (ch["channel_secret"], jwt, v21, short_lived, v21_to_revoke, short_lived_to_revoke):
                        assert secret not in code, (name, kind, "the default snippet holds a secret")
                    read = [var for var in SECRET_ENV if var in code]
                    assert note and all(var in note.group(1) for var in read), (name, kind, read)
                    env = {**env_set, "LINE_CHANNEL_ACCESS_TOKEN": token} if token else env_set
                else:
                    env = {}
                jobs.append((name, variant, kind, code, env))
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(lambda job: (job, runner.run(job[2], job[3], job[4])), jobs))
    failed = []
    for (name, variant, kind, code, _), run in outcomes:
        wanted = WORKED[name]
        printed = run.stdout
        ok = run.returncode == 0 and '"error"' not in printed and "error_description" not in printed and (
            wanted is None or any(word in printed for word in wanted))
        if not ok:
            failed.append((name, variant, kind, run.returncode, printed[-300:], run.stderr[-600:], code))
    assert not failed, "\n\n".join(map(str, failed))
    assert len(outcomes) == len(results) * 6

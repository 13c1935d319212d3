"""``line-token`` as a user gets it: the project's wheel installed into a fresh venv (tests/installing.py:
offline, a few seconds), then run from another folder. The
installed command finds only the installed package (no PYTHONPATH, another cwd):
its templates, static files and Japanese catalog must have come with the wheel.

The flow runs on the in-process sandbox (its file in XDG_DATA_HOME, as a
new user gets it); the ``--base-url`` test sends the same commands to a running
app's sandbox (gunicorn from the Procfile config). Runs are subprocesses of
about half a second each; independent bad-input runs start together.
"""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest

from line_token.core import signing
from conftest import free_port, one_line_error
from installing import build_wheel, venv_with

TIMEOUT = 60


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``line-token`` executable of a fresh venv that has the project's wheel installed."""
    base = tmp_path_factory.mktemp("installed")
    exe = venv_with(base, build_wheel(base)) / "line-token"
    assert exe.exists()
    return exe


@pytest.fixture
def home(tmp_path) -> dict:
    """A new user's environment: own HOME and XDG folders, no project on the path, a LINE that is never the real one."""
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "LINE_", "XDG_", "LC_", "SANDBOX_"))
           and k not in ("DATABASE_URL", "PYTHONPATH", "LANG", "LANGUAGE", "VIRTUAL_ENV")}
    env.update({
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "LANG": "C.UTF-8",
        # A closed loopback port: the default `line` target fails fast instead of reaching the internet.
        "LINE_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
        # Generous: parallel runs on a busy machine; the closed port above is refused at once anyway.
        "LINE_API_TIMEOUT": "30",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return {"env": env, "cwd": work, "tmp": tmp_path}


def start(exe: Path, home: dict, args: list[str], stdin: str = "", **env: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([str(exe), *args], cwd=home["cwd"], env={**home["env"], **env}, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, stdin


def finish(started: tuple[subprocess.Popen, str]) -> subprocess.CompletedProcess:
    proc, stdin = started
    out, err = proc.communicate(stdin, timeout=TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run(exe: Path, home: dict, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    return finish(start(exe, home, list(args), stdin, **env))


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.args, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def test_the_whole_flow_with_the_installed_command_only(installed, home):
    exe = installed
    secret_env: dict[str, str] = {}

    ok(run(exe, home, "keygen", "--out", "keys"))
    keys = home["cwd"] / "keys"
    assert stat.S_IMODE((keys / "private.json").stat().st_mode) == 0o600

    channel = json.loads(ok(run(exe, home, "sandbox", "channels", "create", "--name", "ci-bot", "--json")))
    channel_id, secret = channel["channel_id"], channel["channel_secret"]
    assert signing.is_channel_id(channel_id) and channel["name"] == "ci-bot"
    # The in-process sandbox keeps its state in the user's data folder, not in the installed package.
    assert (home["tmp"] / "data" / "line-token" / "sandbox.sqlite3").exists()
    secret_env["LINE_CHANNEL_SECRET"] = secret

    kid = ok(run(exe, home, "sandbox", "keys", "add", channel_id, "--key", "keys/public.json", "--field", "kid")).strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", kid)

    jwt = ok(run(exe, home, "jwt", "--channel-id", channel_id, "--kid", kid, "--key", "keys/private.json")).strip()
    report = json.loads(ok(run(exe, home, "inspect", jwt)))
    assert report["kind"] == "assertion" and report["problems"] == []
    assert report["payload"]["iss"] == channel_id and 0 < report["expires_in"] <= 30 * 60

    # The key file from the environment instead of --key.
    token = ok(run(exe, home, "token", "issue", "--channel-id", channel_id, "--kid", kid, "--target", "sandbox",
                   "--field", "access_token", LINE_PRIVATE_KEY_FILE=str(keys / "private.json"))).strip()
    assert token.count(".") == 2 and "\n" not in token

    kids = ok(run(exe, home, "token", "kids", "--assertion", "-", "--target", "sandbox", "--field", "kids",
                  stdin=jwt)).split()
    assert len(kids) == 1
    assert ok(run(exe, home, "token", "verify", token, "--target", "sandbox", "--field", "client_id")).strip() \
        == channel_id

    rotate = ["token", "rotate", "--channel-id", channel_id, "--kid", kid, "--key", "keys/private.json",
              "--target", "sandbox", "--field", "access_token"]
    rotated = [ok(run(exe, home, *rotate, **secret_env)).strip() for _ in range(3)]
    assert len(set(rotated)) == 3
    # Independent reads: started together.
    checks = [start(exe, home, ["token", "verify", t, "--target", "sandbox", "--field", "client_id"])
              for t in [*rotated, token]]
    checks.append(start(exe, home, ["token", "kids", "--channel-id", channel_id, "--kid", kid, "--key",
                                    "keys/private.json", "--target", "sandbox", "--field", "kids"]))
    *states, kids_now = [finish(c) for c in checks]
    # --keep 2 (the default): the oldest of this tool's tokens is revoked, the two newest stay valid;
    # the token issued with `token issue` is not this tool's rotation: left alone.
    assert [s.returncode for s in states] == [1, 0, 0, 0]
    assert len(ok(kids_now).split()) == 3  # the `issue` token and the two kept ones

    record = home["tmp"] / "state" / "line-token" / "issued-tokens.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    text = record.read_text()
    assert rotated[0] not in text  # revoked: only its hash is kept
    assert signing_hash(rotated[0]) in text
    assert rotated[1] in text and rotated[2] in text  # still needed to revoke them later
    assert token not in text and secret not in text

    # Revoke (the secret from the environment, never echoed) and see it gone.
    revoked = run(exe, home, "token", "revoke", "--channel-id", channel_id, "-", "--target", "sandbox",
                  stdin=token, **secret_env)
    assert ok(revoked) == "" and secret not in revoked.stderr
    gone = run(exe, home, "token", "verify", token, "--target", "sandbox")
    # What it means first, then LINE's body as the last line.
    assert gone.returncode == 1 and json.loads(gone.stderr.splitlines()[-1])["error"] == "invalid_request"
    assert gone.stderr.startswith("The sandbox refused the request (HTTP 400). This token was revoked")

    shown = json.loads(ok(run(exe, home, "sandbox", "channels", "show", channel_id, **secret_env)))
    assert [k["kid"] for k in shown["keys"]] == [kid] and len(shown["tokens"]) == 2
    wrong = run(exe, home, "sandbox", "channels", "show", channel_id, LINE_CHANNEL_SECRET="not-the-secret")
    one_line_error(wrong, 1, channel_id)
    run_delete = run(exe, home, "sandbox", "channels", "delete", channel_id, **secret_env)
    assert run_delete.returncode == 0
    one_line_error(run(exe, home, "sandbox", "channels", "show", channel_id), 1, channel_id)


def write_keys(folder: Path) -> None:
    """keys/private.json and keys/public.json as `line-token keygen --out keys` writes them (tested above)."""
    private, public = signing.generate_key_pair()
    folder.mkdir()
    (folder / "private.json").write_text(json.dumps(private))
    (folder / "public.json").write_text(json.dumps(public))


def signing_hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


# (args, exit code, needles in English, needles in Japanese)
BAD_INPUTS = {
    "unknown_option": (["token", "issue", "--bogus"], 2, ["--bogus", "no such option"], ["--bogus", "オプション"]),
    "missing_option": (["jwt", "--kid", "x"], 2, ["--channel-id", "required"], ["--channel-id", "必須"]),
    "bad_choice": (["token", "issue", "--target", "moon"], 2, ["--target", "moon"], ["--target", "moon"]),
    "missing_value": (["token", "verify", "x", "--target"], 2, ["--target"], ["--target"]),
    "exp_too_long": (["jwt", "--channel-id", "1234567890", "--key", "keys/private.json", "--exp-minutes", "60"], 2,
                     ["--exp-minutes", "30 minutes"], ["--exp-minutes", "30分"]),
    "no_key_file": (["token", "issue", "--channel-id", "1234567890", "--kid", "k", "--key", "nope.json"], 2,
                    ["--key", "nope.json"], ["--key", "nope.json", "秘密鍵"]),
    "bad_base_url": (["token", "verify", "x.y.z", "--base-url", "ftp://example.com"], 2,
                     ["--base-url", "http://"], ["--base-url", "URL"]),
    "field_not_in_answer": (["token", "verify", "x.y.z", "--field", "access_token"], 2, ["--field"], ["--field"]),
    "not_a_jwt": (["inspect", "abc.def.ghi"], 2, ["JWT_OR_TOKEN", "header"], ["JWT_OR_TOKEN", "ヘッダー"]),
    "channel_id_letters": (["sandbox", "channels", "show", "abc"], 2, ["CHANNEL_ID", "numeric"],
                           ["CHANNEL_ID", "数字"]),
    "line_unreachable": (["token", "verify", "x.y.z"], 1, ["127.0.0.1"], ["127.0.0.1"]),
}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_bad_input_exits_with_one_line_naming_the_option(installed, home, lang):
    write_keys(home["cwd"] / "keys")
    env = {"LANG": "ja_JP.UTF-8"} if lang == "ja" else {}
    started = {name: start(installed, home, args, **env) for name, (args, *_rest) in BAD_INPUTS.items()}
    for name, (args, code, en, ja) in BAD_INPUTS.items():
        line = one_line_error(finish(started[name]), code, *(ja if lang == "ja" else en))
        assert line.startswith("エラー: " if lang == "ja" else "Error: "), line


def test_inspect_names_each_broken_rule_and_by_how_much(installed, home):
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": "k"}
    payload = {"iss": "1234567890", "sub": "1234567890", "aud": "https://api.line.me",
               "exp": now + 2 * 3600, "token_exp": signing.MAX_TOKEN_EXP + 86400}
    key = signing.load_private_key(signing.generate_key_pair()[0])
    jwt = signing.sign(header, payload, key, validate=False)
    for lang, words in (("en", ["1 h 30 min more than the 30 minutes", "1 d more than the 30 days", "trailing slash"]),
                        ("ja", ["30分を1時間30分超えて", "30日（2,592,000秒）を1日超えて", "末尾のスラッシュ"])):
        env = {"LANG": "ja_JP.UTF-8"} if lang == "ja" else {}
        result = run(installed, home, "inspect", "-", "--json", stdin=jwt, **env)
        assert result.returncode == 1, result.stderr  # rules are broken
        problems = json.loads(result.stdout)["problems"]
        assert [p["field"] for p in problems] == ["payload.aud", "payload.exp", "payload.token_exp"]
        text = " ".join(p["message"] for p in problems)
        for word in words:
            assert word in text, (word, text)


def test_the_same_commands_against_a_running_apps_sandbox(installed, home, live_server):
    """--base-url: the admin API and LINE's endpoints over HTTP, on a server started from the Procfile config."""
    exe, base = installed, live_server.url + "/sandbox"
    write_keys(home["cwd"] / "keys")
    channel = json.loads(ok(run(exe, home, "sandbox", "channels", "create", "--base-url", base)))
    channel_id = channel["channel_id"]
    auth = {"LINE_CHANNEL_SECRET": channel["channel_secret"]}
    kid = ok(run(exe, home, "sandbox", "keys", "add", channel_id, "--key", "keys/public.json", "--field", "kid",
                 "--base-url", base, **auth)).strip()
    token = ok(run(exe, home, "token", "issue", "--channel-id", channel_id, "--kid", kid, "--key",
                   "keys/private.json", "--base-url", base, "--field", "access_token")).strip()
    assert ok(run(exe, home, "token", "verify", token, "--base-url", base, "--field", "client_id")).strip() \
        == channel_id
    # Nothing went to this process's own sandbox file.
    assert not (home["tmp"] / "data" / "line-token" / "sandbox.sqlite3").exists()
    # A channel the server does not know: its refusal (404, or 401 once the admin API checks Basic auth) on one line.
    one_line_error(run(exe, home, "sandbox", "channels", "show", "9999999999", "--base-url", base, **auth), 1,
                   "HTTP 40")


def test_the_installed_package_serves_the_pages_too(installed, home):
    """The wheel carries templates/, static/, translations/ and the sandbox's OpenAPI document: create_app()
    works outside the checkout, and keeps its sandbox file in the user's data folder rather than in site-packages."""
    script = (
        "import json\n"
        "from line_token import create_app, INSTALLED\n"
        "app = create_app({'TESTING': True})\n"
        "c = app.test_client()\n"
        "page = c.get('/', headers={'Accept-Language': 'ja'})\n"
        "css = c.get('/static/app.css')\n"
        "spec = c.get('/sandbox/openapi.json')\n"
        "print(INSTALLED, page.status_code, css.status_code, 'チャネル' in page.get_data(as_text=True), "
        "spec.status_code, json.loads(spec.get_data())['openapi'], app.config['SANDBOX_DATABASE'])\n")
    result = subprocess.run([str(installed.parent / "python"), "-c", script], cwd=home["cwd"], env=home["env"],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    installed_flag, page, css, japanese, spec, openapi, database = result.stdout.split()
    assert (installed_flag, page, css, japanese, spec, openapi) == ("True", "200", "200", "True", "200", "3.1.0")
    assert database == str(home["tmp"] / "data" / "line-token" / "sandbox.sqlite3")

"""The command line, run as a user runs it: ``python -m flask --app app ...`` in a subprocess
from the project root.

Each run costs about half a second of interpreter and app start-up, so independent
runs (the bad-input cases) start together and are checked one by one.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import rs256  # RS256 checked with cryptography alone, independent of the app's jwcrypto
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk

from line_token.core import signing
from conftest import CONSOLE_KID, FIXTURES, ROOT, free_port, one_line_error

CHANNEL = "1234567890"
AUDIENCE = "https://api.line.me/"
TIMEOUT = 60


def cli_env(db_path: Path, **extra: str) -> dict:
    """The environment for a CLI run: its own sandbox file, and a LINE that is never the real one."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLASK_") and k not in ("DATABASE_URL", "LINE_CHANNEL_SECRET")}
    env.update({
        "SANDBOX_DATABASE": str(db_path),
        "SECRET_KEY": "cli-test-secret",
        # A closed loopback port: the `line` target fails fast instead of reaching the internet.
        "LINE_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "LINE_API_TIMEOUT": "3",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(extra)
    return env


def start(args: list[str], env: dict, stdin: str | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``flask --app app ARGS``; stdin is handed over in finish(), so parallel runs never block."""
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, stdin or ""


def finish(started: tuple[subprocess.Popen, str]) -> subprocess.CompletedProcess:
    proc, stdin = started
    out, err = proc.communicate(stdin, timeout=TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def flask_cli(args: list[str], env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    return finish(start(args, env, stdin))


def public_pem(key: signing.PrivateKey) -> bytes:
    return key.key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def env(tmp_path) -> dict:
    return cli_env(tmp_path / "sandbox.sqlite3")


# --------------------------------------------------------------------------- keygen


def test_keygen_prints_a_pair_whose_private_half_signs(env):
    result = flask_cli(["keygen"], env)
    assert result.returncode == 0, result.stderr
    pair = json.loads(result.stdout)
    assert set(pair) == {"private", "public"}
    assert signing.check_public_jwk(pair["public"]) == pair["public"]  # registrable: no kid, RS256, sig
    key = signing.load_private_key(pair["private"])
    assert signing.public_jwk(key) == pair["public"]


def test_keygen_out_writes_private_0600_and_refuses_to_overwrite(env, tmp_path):
    out = tmp_path / "keys"
    first = flask_cli(["keygen", "--out", str(out)], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert stat.S_IMODE((out / "private.json").stat().st_mode) == 0o600
    private = json.loads((out / "private.json").read_text())
    public = json.loads((out / "public.json").read_text())
    assert "d" in private and "kid" not in public and public["n"] == private["n"]

    again = flask_cli(["keygen", "--out", str(out)], env)
    one_line_error(again, 2, "--out", "already exists")
    assert json.loads((out / "private.json").read_text()) == private  # the kept key survives


# --------------------------------------------------------------------------- jwt


def test_jwt_prints_only_a_jwt_that_verifies_independently(env, console_key_text):
    result = flask_cli(["jwt", "--channel-id", CHANNEL, "--key", str(FIXTURES / "line-console-key-2020.json"),
                        "--token-exp", "86400", "--exp-minutes", "5"], env)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    # No --kid: the console key's own kid is used.
    assert rs256.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT", "kid": CONSOLE_KID}
    key = signing.load_private_key(console_key_text)
    claims = rs256.decode(token, public_pem(key), algorithms=["RS256"], audience=AUDIENCE)
    assert claims["iss"] == claims["sub"] == CHANNEL
    assert claims["token_exp"] == 86400
    assert 4 * 60 <= claims["exp"] - int(time.time()) <= 5 * 60


def test_jwt_reads_a_pem_key_from_stdin_with_explicit_kid(env):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    result = flask_cli(["jwt", "--channel-id", CHANNEL, "--kid", "my-kid", "--key", "-"], env, stdin=pem)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert rs256.get_unverified_header(token)["kid"] == "my-kid"
    claims = rs256.decode(token, private.public_key(), algorithms=["RS256"], audience=AUDIENCE)
    assert claims["token_exp"] == signing.DEFAULT_TOKEN_EXP == 86400  # one day: each token holds one of 30 slots


# --------------------------------------------------------------------------- bad input


def _write_bad_keys(folder: Path, console_key: dict) -> dict[str, Path]:
    """One key file per way a user gets the key wrong."""
    ec_key = json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_private())
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    public_only = {m: console_key[m] for m in ("kty", "n", "e", "alg", "use")}
    files = {
        "bad_json": "{\"kty\": \"RSA\", \"n\": ",
        "ec": json.dumps(ec_key),
        "rsa1024": json.dumps(signing.private_jwk(small)),
        "public_only": json.dumps(public_only),
        "wrapper": json.dumps({"privateKey": console_key}),  # valid: the 2020 console's format
    }
    paths = {}
    for name, text in files.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(text)
    return paths


# (name, extra args, key file or None to keep the good one, the option the error must name, a hint of the fix)
BAD_INPUTS = [
    ("missing_key_file", [], "missing", "--key", "No such file"),
    ("bad_json", [], "bad_json", "--key", "not valid JSON"),
    ("ec_key", [], "ec", "--key", "RSA"),
    ("rsa_1024_key", [], "rsa1024", "--key", "2048"),
    ("public_only_key", [], "public_only", "--key", "private key"),
    ("exp_minutes_60", ["--exp-minutes", "60"], None, "--exp-minutes", "30 minutes"),
    ("token_exp_too_long", ["--token-exp", "99999999"], None, "--token-exp", "2,592,000"),
    ("channel_id_not_numeric", [], None, "--channel-id", "numeric"),
]


@pytest.fixture(scope="module")
def bad_input_results(tmp_path_factory, console_key) -> dict[str, subprocess.CompletedProcess]:
    """Run every bad-input case at once (they are independent) and collect the results."""
    folder = tmp_path_factory.mktemp("cli-bad")
    keys = _write_bad_keys(folder, console_key)
    env = cli_env(folder / "sandbox.sqlite3")
    procs = {}
    for name, extra, key_name, _, _ in BAD_INPUTS:
        key = str(folder / "missing.json") if key_name == "missing" else str(keys.get(key_name, keys["wrapper"]))
        channel = "12ab" if name == "channel_id_not_numeric" else CHANNEL
        procs[name] = start(["jwt", "--channel-id", channel, "--kid", "k", "--key", key, *extra], env)
    # Revoke validates the channel ID before it calls anything; issue refuses a mix of both ways to authenticate.
    procs["revoke_channel_id"] = start(["token", "revoke", "--channel-id", "abc", "tok.en.x", "--target", "sandbox"],
                                       {**env, "LINE_CHANNEL_SECRET": "s3cret-value"})
    procs["issue_both_ways"] = start(["token", "issue", "--assertion", "a.b.c", "--key", str(keys["wrapper"]),
                                      "--target", "sandbox"], env)
    procs["wrapper_ok"] = start(["jwt", "--channel-id", CHANNEL, "--key", str(keys["wrapper"])], env)
    return {name: finish(proc) for name, proc in procs.items()}


@pytest.mark.parametrize("name, option, hint", [(c[0], c[3], c[4]) for c in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line_naming_the_option(bad_input_results, name, option, hint):
    line = one_line_error(bad_input_results[name], 2, option, hint)
    assert line.startswith("Error: " + option)


def test_revoke_checks_channel_id_and_never_echoes_the_secret(bad_input_results):
    result = bad_input_results["revoke_channel_id"]
    one_line_error(result, 2, "--channel-id", "numeric")
    assert "s3cret-value" not in result.stderr


def test_issue_refuses_assertion_and_key_together(bad_input_results):
    one_line_error(bad_input_results["issue_both_ways"], 2, "--assertion", "not both")


def test_console_wrapper_key_file_is_accepted(bad_input_results):
    result = bad_input_results["wrapper_ok"]
    assert result.returncode == 0, result.stderr
    assert rs256.get_unverified_header(result.stdout.strip())["kid"] == CONSOLE_KID


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", [["keygen"], ["jwt"], ["token"], ["token", "issue"], ["token", "kids"],
                                     ["token", "verify"], ["token", "revoke"], ["token", "issue-stateless"],
                                     ["token", "issue-v2"], ["token", "verify-v2"], ["token", "revoke-v2"]])
def test_help_shows_an_example(runner, command):
    # In process: help text does not depend on how the process starts, and this keeps the suite fast.
    result = runner.invoke(args=[*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert "line-token " + " ".join(command) in result.output  # the examples show the installed command


# --------------------------------------------------------------------------- token commands


def test_upstream_unreachable_exits_1_with_one_line(env):
    result = flask_cli(["token", "verify", "a.b.c"], env)  # LINE_API_BASE_URL is a closed port
    line = one_line_error(result, 1)
    assert "a.b.c" not in line  # the token may be a secret; it stays out of the message


@pytest.fixture
def sandbox_channel(tmp_path, console_key):
    """A sandbox channel with the console key's public half registered, made through the admin API
    on the database file the CLI runs use."""
    from line_token import create_app

    db = tmp_path / "sandbox.sqlite3"
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SANDBOX_DATABASE": str(db),
                      "DATABASE_URL": "", "SECRET_KEY": "cli-test-secret"})
    client = app.test_client()
    created = client.post("/sandbox/api/channels", json={})
    assert created.status_code == 201, created.get_data(as_text=True)
    channel = created.get_json()
    public = signing.public_jwk(signing.load_private_key(console_key))
    registered = client.post(f"/sandbox/api/channels/{channel['channel_id']}/keys", json=public,
                             auth=(channel["channel_id"], channel["channel_secret"]))
    assert registered.status_code == 201, registered.get_data(as_text=True)
    return {**channel, "kid": registered.get_json()["kid"], "env": cli_env(db)}


def test_issue_kids_verify_revoke_against_the_sandbox(sandbox_channel):
    ch, env = sandbox_channel, sandbox_channel["env"]
    key_file = str(FIXTURES / "line-console-key-2020.json")
    sign_args = ["--channel-id", ch["channel_id"], "--kid", ch["kid"], "--key", key_file, "--target", "sandbox"]

    issued = flask_cli(["token", "issue", *sign_args, "--token-exp", "3600"], env)
    assert issued.returncode == 0, issued.stderr
    body = json.loads(issued.stdout)
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    token, key_id = body["access_token"], body["key_id"]

    # A JWT from `jwt`, piped in with --assertion -, works as well as signing in place.
    jwt_run = flask_cli(["jwt", "--channel-id", ch["channel_id"], "--kid", ch["kid"], "--key", key_file], env)
    kids = flask_cli(["token", "kids", "--assertion", "-", "--target", "sandbox"], env, stdin=jwt_run.stdout)
    assert kids.returncode == 0, kids.stderr
    assert key_id in json.loads(kids.stdout)["kids"]

    verified = flask_cli(["token", "verify", token, "--target", "sandbox"], env)
    assert verified.returncode == 0, verified.stderr
    info = json.loads(verified.stdout)
    assert info["client_id"] == ch["channel_id"] and 0 < info["expires_in"] <= 3600

    # The secret comes from the environment, as the README recommends, and never shows in output.
    revoked = flask_cli(["token", "revoke", "--channel-id", ch["channel_id"], "-", "--target", "sandbox"],
                        {**env, "LINE_CHANNEL_SECRET": ch["channel_secret"]}, stdin=token + "\n")
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout == ""
    assert ch["channel_secret"] not in revoked.stderr

    again = flask_cli(["token", "verify", token, "--target", "sandbox"], env)
    assert again.returncode == 1
    assert again.stdout == ""
    explained, body = again.stderr.splitlines()  # what it means and the fix, then LINE's body on stderr
    assert json.loads(body)["error"] == "invalid_request"
    assert explained == "The sandbox refused the request (HTTP 400). This token was revoked, or LINE does not know " \
                        "it. Issue a new one."


def test_line_error_body_goes_to_stderr_with_exit_1(sandbox_channel):
    ch = sandbox_channel
    result = flask_cli(["token", "kids", "--channel-id", ch["channel_id"], "--kid", "not-registered",
                        "--key", str(FIXTURES / "line-console-key-2020.json"), "--target", "sandbox"], ch["env"])
    assert result.returncode == 1
    assert result.stdout == "" and "Traceback" not in result.stderr
    explained, body = result.stderr.splitlines()
    assert "message" in json.loads(body)  # LINE's 404 for an unknown kid, last
    assert "LINE knows no key with this kid on this channel" in explained and "kid is not-registered" in explained


def test_stateless_and_v2_tokens_against_the_sandbox(sandbox_channel):
    ch = sandbox_channel
    env = {**ch["env"], "LINE_CHANNEL_SECRET": ch["channel_secret"]}
    both = [start(["token", "issue-stateless", "--channel-id", ch["channel_id"], "--target", "sandbox"], env),
            start(["token", "issue-v2", "--channel-id", ch["channel_id"], "--target", "sandbox"], env)]
    stateless, short_lived = (finish(p) for p in both)
    assert stateless.returncode == 0, stateless.stderr
    assert json.loads(stateless.stdout)["expires_in"] in (899, 900)
    assert short_lived.returncode == 0, short_lived.stderr
    token = json.loads(short_lived.stdout)["access_token"]

    verified = flask_cli(["token", "verify-v2", "-", "--target", "sandbox"], env, stdin=token)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["client_id"] == ch["channel_id"]
    assert flask_cli(["token", "revoke-v2", token, "--target", "sandbox"], env).returncode == 0
    again = flask_cli(["token", "verify-v2", token, "--target", "sandbox"], env)
    assert again.returncode == 1
    assert json.loads(again.stderr.splitlines()[-1])["error_description"] == "access_token invalid"
    # The web page's explanation, its advice pointing at the command that verifies v2.1 tokens.
    assert "(v2.1 tokens are verified with line-token token verify.)" in again.stderr.splitlines()[0]


def test_rotate_keeps_the_newest_n_and_retries_a_revoke_that_failed(sandbox_channel, tmp_path):
    """Through the flask alias: the same `token rotate` as line-token's, with its record in XDG_STATE_HOME."""
    ch = sandbox_channel
    env = {**ch["env"], "XDG_STATE_HOME": str(tmp_path / "state"), "LINE_CHANNEL_SECRET": ch["channel_secret"],
           "LINE_API_TIMEOUT": "30"}  # the verifies below run in parallel: generous on a busy machine
    rotate = ["token", "rotate", "--channel-id", ch["channel_id"], "--kid", ch["kid"], "--key",
              str(FIXTURES / "line-console-key-2020.json"), "--target", "sandbox", "--keep", "1",
              "--field", "access_token"]
    first = flask_cli(rotate, env)
    assert first.returncode == 0, first.stderr

    # A wrong secret: the new token is still issued and printed, the old one cannot be revoked: exit 1, one line.
    second = flask_cli(rotate, {**env, "LINE_CHANNEL_SECRET": "not-the-secret"})
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not be revoked" in lines[0] and "invalid client_secret" in lines[0]
    assert "not-the-secret" not in second.stderr

    third = flask_cli(rotate, env)  # revokes both older ones now (--keep 1)
    assert third.returncode == 0, third.stderr
    assert "Revoked 2 older tokens" in third.stderr
    tokens = [r.stdout.strip() for r in (first, second, third)]
    checks = [start(["token", "verify", t, "--target", "sandbox"], env) for t in tokens]
    assert [finish(c).returncode for c in checks] == [1, 1, 0]


def test_a_terminal_gets_text_and_a_pipe_gets_json(tmp_path):
    """Human text when stdout is a terminal (a pseudo-terminal here), JSON when it is a pipe."""
    import pty

    key = signing.load_private_key(signing.generate_key_pair()[0])
    token = signing.build_assertion(CHANNEL, "kid-1", key, 3600)
    env = cli_env(tmp_path / "sandbox.sqlite3")
    args = [sys.executable, "-m", "line_token.cli", "inspect", token]
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=TIMEOUT) == 0, proc.stderr.read()
    proc.stderr.close()
    text = b"".join(chunks).decode()
    assert "Kind: JWT assertion" in text and "token_exp: 3600" in text and "OK:" in text
    piped = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert json.loads(piped.stdout)["payload"]["token_exp"] == 3600


def line_token_cli(args: list[str], env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``line-token ARGS`` from the checkout (python -m line_token.cli); the installed command is
    tested in test_cli_installed.py."""
    return subprocess.run([sys.executable, "-m", "line_token.cli", *args], cwd=ROOT, env=env, input=stdin or "",
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_sandbox_long_lived_issue_gives_a_token_verify_v2_accepts(tmp_path):
    env = {**cli_env(tmp_path / "sandbox.sqlite3"), "LINE_API_TIMEOUT": "30"}
    created = line_token_cli(["sandbox", "channels", "create", "--json"], env)
    assert created.returncode == 0, created.stderr
    channel = json.loads(created.stdout)
    env["LINE_CHANNEL_SECRET"] = channel["channel_secret"]
    issued = line_token_cli(["sandbox", "long-lived", "issue", channel["channel_id"], "--field", "access_token"], env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    verified = line_token_cli(["token", "verify-v2", "-", "--target", "sandbox", "--field", "client_id"], env,
                              stdin=token)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == channel["channel_id"]
    wrong = line_token_cli(["sandbox", "long-lived", "issue", channel["channel_id"]],
                           {**env, "LINE_CHANNEL_SECRET": "not-the-secret"})
    one_line_error(wrong, 1, channel["channel_id"])

"""Command line for scripts and CI: ``flask --app app keygen | jwt | token ...``.

The commands use the same modules as the web pages (``signing`` to sign,
``line_client`` to call LINE or the in-process sandbox), so a key, JWT or
channel works the same in both.

Exit codes: 0 on success (LINE answered 2xx), 1 when LINE answered an error or
could not be reached, 2 on bad input. Errors are one line on stderr naming the
option and the fix; stdout carries only the result, so ``$(...)`` and ``| jq``
work.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from flask import Flask
from flask.cli import AppGroup

from . import display, line_client, signing
from .signing import SigningError

MAX_KEY_FILE = 64 * 1024  # a JWK or PEM is a few KiB; anything larger is the wrong file

# SigningError.field -> the option a CLI user typed.
FIELD_OPTIONS = {
    "private_key": "--key",
    "channel_id": "--channel-id",
    "payload.iss": "--channel-id",
    "payload.sub": "--channel-id",
    "kid": "--kid",
    "token_exp": "--token-exp",
    "exp": "--exp-minutes",
    "payload.exp": "--exp-minutes",
    "client_assertion": "--assertion",
}

TARGET_OPTION = click.option(
    "--target", type=click.Choice(["line", "sandbox"]), default="line", show_default=True,
    help="line: the LINE Platform (LINE_API_BASE_URL). sandbox: this app's offline sandbox, same database as the web app.")


class InputError(click.ClickException):
    """Bad input: exit 2 with ``Error: <option>: <message>`` on one line."""

    exit_code = 2

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")


class UpstreamError(click.ClickException):
    """LINE could not be reached or timed out: exit 1."""

    exit_code = 1


def from_signing_error(err: SigningError) -> InputError:
    """Name the CLI option for a SigningError and point web-page advice at the CLI."""
    option = FIELD_OPTIONS.get(err.field, "--" + err.field.replace("_", "-"))
    # signing.py's messages are written for the web pages.
    message = err.message.replace("Make a new key pair on the keys page.",
                                  "Make a new key pair with: flask --app app keygen")
    return InputError(option, message)


# --------------------------------------------------------------------------- input helpers


def read_text_input(value: str, option: str, what: str) -> str:
    """``value`` itself, or stdin's text when ``value`` is ``-``; empty is an error."""
    text = sys.stdin.read() if value == "-" else value
    text = text.strip()
    if not text:
        source = "stdin is empty" if value == "-" else "it is empty"
        raise InputError(option, f"{source}: give the {what}.")
    return text


def read_key(path: str) -> signing.PrivateKey:
    """Load the private key from the file at ``path`` (``-`` for stdin) for ``--key``."""
    if path == "-":
        data = sys.stdin.buffer.read(MAX_KEY_FILE + 1)
        where = "stdin"
    else:
        where = path
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_KEY_FILE + 1)
        except OSError as e:
            raise InputError("--key", f"cannot read {path}: {e.strerror or e}. Give the path of your private key "
                                      "file (JWK JSON or PEM), or - to read it from stdin.") from None
    if len(data) > MAX_KEY_FILE:
        raise InputError("--key", f"{where} is larger than 64 KiB: give the private key file itself (JWK JSON or PEM).")
    if not data.strip():
        raise InputError("--key", f"{where} is empty: give the private key file (JWK JSON or PEM).")
    try:
        return signing.load_private_key(data, "private_key")
    except SigningError as e:
        raise from_signing_error(e) from None


def make_assertion(channel_id: str, kid: str | None, key_path: str, token_exp: int, exp_minutes: int = 30) -> str:
    """Sign a client assertion; ``kid`` falls back to the key's own kid."""
    key = read_key(key_path)
    fields = {"channel_id": channel_id, "kid": kid, "token_exp": token_exp, "exp_minutes": exp_minutes}
    try:
        return signing.assertion_from_fields(fields, key=key)
    except SigningError as e:
        raise from_signing_error(e) from None


def assertion_from_options(assertion: str | None, channel_id: str | None, kid: str | None,
                           key_path: str | None, token_exp: int) -> str:
    """The JWT given with ``--assertion``, or one signed from ``--channel-id``/``--kid``/``--key``."""
    if assertion is not None:
        if channel_id or kid or key_path:
            raise InputError("--assertion", "give either --assertion JWT or --channel-id, --kid and --key, not both.")
        return read_text_input(assertion, "--assertion", "JWT assertion (from: flask --app app jwt ...)")
    if not key_path:
        raise InputError("--key", "give --channel-id, --kid and --key FILE to sign an assertion, or --assertion JWT.")
    if not channel_id:
        raise InputError("--channel-id", "give the channel's numeric ID (Basic settings in the LINE Developers Console).")
    return make_assertion(channel_id, kid, key_path, token_exp)


def check_channel_id(channel_id: str) -> str:
    """The channel ID, stripped; it must be numeric as LINE's are."""
    channel_id = channel_id.strip()
    if not signing.is_channel_id(channel_id):
        raise InputError("--channel-id", "the channel ID must be the channel's numeric ID, e.g. 1234567890 "
                                         "(Basic settings in the LINE Developers Console).")
    return channel_id


# --------------------------------------------------------------------------- output helpers


def dump(body: Any) -> str:
    """JSON for people and jq alike (indented); text bodies as they came."""
    if isinstance(body, str):
        return body
    return json.dumps(body, indent=2, ensure_ascii=False)


def call_line(endpoint: str, fields: dict[str, str], target: str) -> NoReturn:
    """Call ``endpoint``, print LINE's body and exit: 0 on 2xx, 1 on a LINE error or no answer."""
    if not line_client.log.hasHandlers():
        # Our own line says what failed; without a handler, logging's last resort
        # would print line_client's warning as a second stderr line.
        line_client.log.addHandler(logging.NullHandler())
    try:
        response = line_client.call(endpoint, fields, target=target)
    except SigningError as e:  # the target was refused before sending (e.g. the sandbox is disabled)
        raise InputError("--target", e.message) from None
    except line_client.LineAPIError as e:
        if e.status == 400:  # the client refused our request before sending it (e.g. sandbox disabled)
            raise InputError("--target", e.description) from None
        raise UpstreamError(e.description) from None
    if 200 <= response.status_code < 300:
        if response.body != "":
            click.echo(dump(response.body))
        click.get_current_context().exit(0)
    if response.body == "":
        click.echo(f"LINE answered HTTP {response.status_code} with an empty body.", err=True)
    else:
        # Compact, so the error body stays one line that a script can parse.
        body = response.body if isinstance(response.body, str) else json.dumps(response.body, ensure_ascii=False)
        click.echo(body, err=True)
    hint = display.explain(response.status_code, response.body)
    if hint and sys.stderr.isatty():
        # Only for a person at a terminal: a script reading stderr gets LINE's body alone.
        click.echo(f"Hint: {hint}", err=True)
    click.get_current_context().exit(1)


# --------------------------------------------------------------------------- keygen, jwt


@click.command("keygen")
@click.option("--out", "out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Write DIR/private.json (mode 0600) and DIR/public.json instead of printing.")
def keygen_command(out_dir: Path | None) -> None:
    """Make an RSA-2048 key pair for LINE.

    Prints {"private": ..., "public": ...} as JSON. Keep "private" secret;
    register "public" in the LINE Developers Console (Basic settings >
    Assertion Signing Key) or the sandbox. It has no kid: LINE assigns one.

    \b
    Examples:
      flask --app app keygen > pair.json
      flask --app app keygen --out keys/
    """
    private, public = signing.generate_key_pair()
    if out_dir is None:
        click.echo(dump({"private": private, "public": public}))
        return
    private_path, public_path = out_dir / "private.json", out_dir / "public.json"
    for path in (private_path, public_path):
        if path.exists():
            # Overwriting would lose the private key whose kid is registered.
            raise InputError("--out", f"{path} already exists: choose another directory or move it away first.")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)  # exactly 0600 whatever the umask
            f.write(dump(private) + "\n")
        public_path.write_text(dump(public) + "\n")
    except OSError as e:
        raise InputError("--out", f"cannot write to {out_dir}: {e.strerror or e}. Choose a directory you can write to.") from None
    click.echo(f"Wrote {private_path} (keep it secret) and {public_path} (register it to get a kid).", err=True)


@click.command("jwt")
@click.option("--channel-id", required=True, metavar="ID", help="The channel's numeric ID (iss and sub).")
@click.option("--kid", metavar="KID", help="The kid LINE gave when you registered the public key. Default: the key's own kid.")
@click.option("--key", "key_path", required=True, metavar="FILE",
              help="Private key file: JWK, the 2020 console's {\"privateKey\": {...}}, or PEM. - reads stdin.")
@click.option("--token-exp", type=int, default=signing.DEFAULT_TOKEN_EXP, show_default=True, metavar="SECONDS",
              help="Lifetime of the access token to issue, 1 to 2592000 (30 days).")
@click.option("--exp-minutes", type=int, default=30, show_default=True, metavar="N",
              help="Lifetime of this JWT, 1 to 30 minutes.")
def jwt_command(channel_id: str, kid: str | None, key_path: str, token_exp: int, exp_minutes: int) -> None:
    """Sign a JWT assertion; print only the JWT.

    Without --kid, the key's own kid is used (the 2020 console's key files
    carry one).

    \b
    Examples:
      flask --app app jwt --channel-id 1234567890 --kid YOUR-KID --key private.json
      JWT=$(flask --app app jwt --channel-id 1234567890 --kid YOUR-KID --key - < key.pem)
    """
    click.echo(make_assertion(channel_id, kid, key_path, token_exp, exp_minutes))


# --------------------------------------------------------------------------- token


token_group = AppGroup("token", help="""Issue, list, verify and revoke channel access tokens.

v2.1 tokens (issue, kids, verify, revoke), stateless tokens and short-lived
v2 tokens. Each command prints LINE's JSON answer.

\b
Examples:
  flask --app app token issue --channel-id 1234567890 --kid YOUR-KID --key private.json
  flask --app app token verify ACCESS_TOKEN
""")


def assertion_options(func):
    """The options shared by commands that authenticate with a JWT assertion."""
    options = [
        click.option("--channel-id", metavar="ID", help="The channel's numeric ID."),
        click.option("--kid", metavar="KID", help="The registered key's kid. Default: the key's own kid."),
        click.option("--key", "key_path", metavar="FILE",
                     help="Private key file (JWK, console wrapper or PEM); - reads stdin."),
        click.option("--token-exp", type=int, default=signing.DEFAULT_TOKEN_EXP, show_default=True, metavar="SECONDS",
                     help="Lifetime of the token to issue, 1 to 2592000 (30 days)."),
        click.option("--assertion", metavar="JWT",
                     help="A signed JWT (from `flask --app app jwt`) instead of --channel-id/--kid/--key; - reads stdin."),
        TARGET_OPTION,
    ]
    for option in reversed(options):
        func = option(func)
    return func


@token_group.command("issue")
@assertion_options
def issue_command(channel_id: str | None, kid: str | None, key_path: str | None, token_exp: int,
                  assertion: str | None, target: str) -> None:
    """Issue a channel access token v2.1.

    POST /oauth2/v2.1/token. Signs an assertion from --channel-id, --kid and
    --key, or sends the one given with --assertion. Prints LINE's answer
    (access_token, expires_in, token_type, key_id).

    \b
    Examples:
      flask --app app token issue --channel-id 1234567890 --kid YOUR-KID --key private.json
      flask --app app token issue --assertion "$JWT" --target sandbox
      flask --app app token issue ... | jq -r .access_token
    """
    jwt = assertion_from_options(assertion, channel_id, kid, key_path, token_exp)
    call_line("issue_v21", line_client.request_fields("issue_v21", client_assertion=jwt), target)


@token_group.command("kids")
@assertion_options
def kids_command(channel_id: str | None, kid: str | None, key_path: str | None, token_exp: int,
                 assertion: str | None, target: str) -> None:
    """List the key IDs of valid v2.1 tokens.

    GET /oauth2/v2.1/tokens/kid, with a JWT assertion as for `token issue`.

    \b
    Examples:
      flask --app app token kids --channel-id 1234567890 --kid YOUR-KID --key private.json
      flask --app app token kids --assertion "$JWT" --target sandbox
    """
    jwt = assertion_from_options(assertion, channel_id, kid, key_path, token_exp)
    call_line("kids_v21", line_client.request_fields("kids_v21", client_assertion=jwt), target)


@token_group.command("verify")
@click.argument("access_token", metavar="ACCESS_TOKEN")
@TARGET_OPTION
def verify_command(access_token: str, target: str) -> None:
    """Verify a v2.1 token.

    GET /oauth2/v2.1/verify. Give - as ACCESS_TOKEN to read it from stdin.
    Prints client_id, expires_in (seconds left) and scope.

    \b
    Examples:
      flask --app app token verify eyJhbGciOiJIUzI1NiJ9...
      echo "$TOKEN" | flask --app app token verify - --target sandbox
    """
    token = read_text_input(access_token, "ACCESS_TOKEN", "access token (or - to read it from stdin)")
    call_line("verify_v21", line_client.request_fields("verify_v21", access_token=token), target)


def secret_option(required: bool = True):
    """``--channel-secret``, also read from LINE_CHANNEL_SECRET so it stays out of shell history."""
    return click.option(
        "--channel-secret", required=required, envvar="LINE_CHANNEL_SECRET", show_envvar=True, metavar="SECRET",
        help="The channel secret (Basic settings). Prefer the env variable: it stays out of shell history.")


def check_secret(channel_secret: str | None) -> str:
    """The channel secret, stripped; empty is bad input. Never quoted in a message."""
    secret = (channel_secret or "").strip()
    if not secret:
        raise InputError("--channel-secret", "it is empty: give the channel secret (Basic settings), "
                                             "preferably in the LINE_CHANNEL_SECRET environment variable.")
    return secret


@token_group.command("revoke")
@click.option("--channel-id", required=True, metavar="ID", help="The channel's numeric ID.")
@secret_option()
@click.argument("access_token", metavar="ACCESS_TOKEN")
@TARGET_OPTION
def revoke_command(channel_id: str, channel_secret: str, access_token: str, target: str) -> None:
    """Revoke a v2.1 token.

    POST /oauth2/v2.1/revoke. Give - as ACCESS_TOKEN to read it from stdin.
    LINE answers 200 with an empty body, even for an unknown token, so
    success prints nothing and exits 0.

    \b
    Examples:
      export LINE_CHANNEL_SECRET=...   # or: read -s LINE_CHANNEL_SECRET; export LINE_CHANNEL_SECRET
      flask --app app token revoke --channel-id 1234567890 "$TOKEN"
    """
    channel_id = check_channel_id(channel_id)
    secret = check_secret(channel_secret)
    token = read_text_input(access_token, "ACCESS_TOKEN", "access token to revoke (or - to read it from stdin)")
    call_line("revoke_v21", line_client.request_fields(
        "revoke_v21", client_id=channel_id, client_secret=secret, access_token=token), target)


# --------------------------------------------------------------------------- the other token types


@token_group.command("issue-stateless")
@assertion_options
@secret_option(required=False)
def issue_stateless_command(channel_id: str | None, kid: str | None, key_path: str | None, token_exp: int,
                            assertion: str | None, target: str, channel_secret: str | None) -> None:
    """Issue a stateless token (15 minutes).

    POST /oauth2/v3/token. Stateless tokens cannot be revoked. With --key or
    --assertion it authenticates with a JWT assertion (as `token issue`);
    otherwise with --channel-id and the channel secret.

    \b
    Examples:
      LINE_CHANNEL_SECRET=... flask --app app token issue-stateless --channel-id 1234567890
      flask --app app token issue-stateless --channel-id 1234567890 --kid YOUR-KID --key private.json
    """
    if key_path or assertion is not None:
        jwt = assertion_from_options(assertion, channel_id, kid, key_path, token_exp)
        fields = line_client.request_fields("issue_stateless", client_assertion=jwt)
    else:
        if channel_id is None:
            raise InputError("--channel-id", "give --channel-id and --channel-secret, or --key (or --assertion) "
                                             "to authenticate with a JWT.")
        fields = line_client.request_fields("issue_stateless", client_id=check_channel_id(channel_id),
                                            client_secret=check_secret(channel_secret))
    call_line("issue_stateless", fields, target)


@token_group.command("issue-v2")
@click.option("--channel-id", required=True, metavar="ID", help="The channel's numeric ID.")
@secret_option()
@TARGET_OPTION
def issue_v2_command(channel_id: str, channel_secret: str, target: str) -> None:
    """Issue a short-lived token (30 days).

    POST /v2/oauth/accessToken. At 30 valid tokens LINE revokes the oldest
    one to issue a new one.

    \b
    Example:
      LINE_CHANNEL_SECRET=... flask --app app token issue-v2 --channel-id 1234567890
    """
    call_line("issue_v2", line_client.request_fields("issue_v2", client_id=check_channel_id(channel_id),
                                                     client_secret=check_secret(channel_secret)), target)


@token_group.command("verify-v2")
@click.argument("access_token", metavar="ACCESS_TOKEN")
@TARGET_OPTION
def verify_v2_command(access_token: str, target: str) -> None:
    """Verify a short-lived or long-lived token.

    POST /v2/oauth/verify. Give - as ACCESS_TOKEN to read it from stdin.

    \b
    Example:
      flask --app app token verify-v2 "$TOKEN"
    """
    token = read_text_input(access_token, "ACCESS_TOKEN", "access token (or - to read it from stdin)")
    call_line("verify_v2", line_client.request_fields("verify_v2", access_token=token), target)


@token_group.command("revoke-v2")
@click.argument("access_token", metavar="ACCESS_TOKEN")
@TARGET_OPTION
def revoke_v2_command(access_token: str, target: str) -> None:
    """Revoke a short-lived or long-lived token.

    POST /v2/oauth/revoke. Give - as ACCESS_TOKEN to read it from stdin.

    \b
    Example:
      flask --app app token revoke-v2 "$TOKEN"
    """
    token = read_text_input(access_token, "ACCESS_TOKEN", "access token to revoke (or - to read it from stdin)")
    call_line("revoke_v2", line_client.request_fields("revoke_v2", access_token=token), target)


# --------------------------------------------------------------------------- bot (step 6: try the token)
#
# Small functions so the ``line-token`` CLI can wire them up as they are:
# read_bot_token -> ask_bot -> format_bot; refused tokens exit 1, bad input 2.

BOT_REASONS = {"no_header": "no Authorization: Bearer header reached the target",
               "malformed": "the token is malformed",
               "invalid": "the token is invalid, expired or revoked"}


def read_bot_token(value: str) -> str:
    """``--token`` (or stdin for ``-``) checked as trying.read_token checks the web form's."""
    from . import proxy, trying

    text = read_text_input(value, "--token", "channel access token (or - to read it from stdin)")
    try:
        return trying.read_token(proxy.Source({"access_token": text}, True))
    except SigningError as e:
        raise InputError("--token", e.message) from None


class TokenRefused(click.ClickException):
    """The target answered the token with an error: exit 1, one stderr line."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(self.message, err=True)


def ask_bot(what: str, token: str, target: str) -> dict:
    """``info``: GET /v2/bot/info's body. ``quota``: the quota and consumption bodies merged.

    Raises TokenRefused when the target refuses the token, UpstreamError when it cannot be asked.
    """
    endpoints = ("bot_info",) if what == "info" else ("quota", "quota_consumption")
    merged: dict = {}
    for endpoint in endpoints:
        try:
            response = line_client.call(endpoint, {}, target=target, bearer=token)
        except line_client.LineAPIError as e:
            if e.status == 400:
                raise InputError("--target", e.description) from None
            raise UpstreamError(e.description) from None
        if not response.ok or not isinstance(response.body, dict):
            who = "LINE" if target == "line" else "The sandbox"
            reason = display.bearer_reason(response.status_code, response.body)
            body = response.body if isinstance(response.body, str) else json.dumps(response.body, ensure_ascii=False)
            because = f" ({BOT_REASONS[reason]})" if reason else ""
            raise TokenRefused(f"{who} refused the token{because}: HTTP {response.status_code} {body}".strip())
        merged.update(response.body)
    return merged


def format_bot(body: dict, as_json: bool, field: str | None) -> str:
    """The answer as indented JSON, one field's value, or ``name: value`` lines."""
    if field is not None:
        if field not in body:
            raise InputError("--field", f"the answer has no field {field!r}; it has: {', '.join(body)}.")
        value = body[field]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if as_json:
        return dump(body)
    return "\n".join(f"{name}: {value}" for name, value in body.items())


bot_group = AppGroup("bot", help="""Try a channel access token with the Messaging API's read-only calls.

\b
Any token type works: v2.1, stateless, short-lived, long-lived. Exit 0 when the
token works, 1 when the target refuses it (one line on stderr says why), 2 for bad input.
""")


def bot_options(func):
    func = click.option("--field", metavar="NAME", help="Print only this field's value, e.g. displayName or totalUsage.")(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")(func)
    func = TARGET_OPTION(func)
    func = click.option("--token", required=True, metavar="TOKEN|-",
                        help="The channel access token, or - to read it from stdin (keeps it out of shell history).")(func)
    return func


def run_bot(what: str, token: str, target: str, as_json: bool, field: str | None) -> None:
    if as_json and field is not None:
        raise InputError("--field", "give either --json or --field NAME, not both.")
    if not line_client.log.hasHandlers():
        line_client.log.addHandler(logging.NullHandler())
    click.echo(format_bot(ask_bot(what, read_bot_token(token), target), as_json, field))


@bot_group.command("info")
@bot_options
def bot_info_command(token: str, target: str, as_json: bool, field: str | None) -> None:
    """The bot behind the token: GET /v2/bot/info.

    \b
    Examples:
      flask --app app bot info --token "$TOKEN" --field displayName
      echo "$TOKEN" | flask --app app bot info --token - --target sandbox --json
    """
    run_bot("info", token, target, as_json, field)


@bot_group.command("quota")
@bot_options
def bot_quota_command(token: str, target: str, as_json: bool, field: str | None) -> None:
    """This month's quota and consumption: GET /v2/bot/message/quota and .../quota/consumption.

    \b
    Prints type (none or limited), value (the limit, when limited) and totalUsage.
    Example:
      flask --app app bot quota --token - --field totalUsage < token.txt
    """
    run_bot("quota", token, target, as_json, field)



def init_app(app: Flask) -> None:
    """Register ``keygen``, ``jwt`` and the ``token`` and ``bot`` groups on ``flask --app app``."""
    app.cli.add_command(keygen_command)
    app.cli.add_command(jwt_command)
    app.cli.add_command(token_group)
    app.cli.add_command(bot_group)

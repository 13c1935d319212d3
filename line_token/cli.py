"""``line-token``: the console script (pyproject.toml's ``[project.scripts]``).

The same command objects as ``flask --app app keygen | jwt | token`` (see
:mod:`line_token.commands`), plus ``inspect`` and ``sandbox``, under a group of
their own with no Flask boilerplate. :func:`main` turns every error, click's own
usage errors included, into one stderr line naming the option, with exit 2 for
bad input and 1 for a refusal, and never shows a traceback.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

import click

from . import INSTALLED, inspector, signing
from .signing import N_
from .commands import (InputError, UpstreamError, _, bot_group, check_base_url, check_channel_id, cli_app, emit,
                       from_signing_error, human, jwt_command, keygen_command, output_options,
                       read_file, read_text_input, token_group, translate_template)
from . import rotation  # noqa: F401  (adds `token rotate`)

MAX_ANSWER = 1024 * 1024
ADMIN_TIMEOUT = 10.0


@click.group("line-token", help="""Make a LINE signing key, sign the JWT assertion, and issue, list, verify,
revoke and rotate channel access tokens v2.1, against the LINE Platform, the
offline sandbox, or any LINE-compatible server.

\b
Examples:
  line-token keygen --out keys/
  line-token sandbox channels create --name my-bot
  line-token token issue --channel-id 1234567890 --kid YOUR-KID --key keys/private.json --field access_token
  line-token inspect "$JWT"

Exit codes: 0 ok, 1 refused by LINE or the sandbox (or no answer), 2 bad input.
Messages are in Japanese when LANG or LC_ALL says ja.
""")
@click.version_option(version=None if INSTALLED else "(from a checkout)", package_name="line-token-tester",
                      prog_name="line-token", message="%(prog)s %(version)s")
def cli() -> None:
    pass


cli.add_command(keygen_command)
cli.add_command(jwt_command)
cli.add_command(token_group)
cli.add_command(bot_group)



# --------------------------------------------------------------------------- inspect


KIND_NAMES = {
    inspector.ASSERTION: N_("JWT assertion"),
    inspector.OTHER_JWT: N_("JWT (not an assertion LINE would take)"),
    inspector.V21_TOKEN: N_("channel access token v2.1"),
    inspector.OPAQUE_TOKEN: N_("short-lived, long-lived or stateless channel access token"),
    inspector.STATELESS_TOKEN: N_("stateless channel access token (as the sandbox issues it)"),
}


def _when(seconds_left: int) -> str:
    if seconds_left > 0:
        return _("in %(duration)s", duration=signing.Duration(seconds_left))
    return _("%(duration)s ago", duration=signing.Duration(-seconds_left))


@cli.command("inspect")
@click.argument("value", metavar="JWT_OR_TOKEN")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as JSON (the default when stdout is not a terminal).")
def inspect_command(value: str, as_json: bool) -> None:
    """Decode a JWT assertion or a token; list the LINE rules it breaks.

    Nothing is sent anywhere. Shows the header and claims, when the JWT
    expires, and each rule a claim breaks and by how much. The signature is
    not checked (LINE checks it with the public key you registered). Exit 1
    when a rule is broken. Give - to read from stdin.

    \b
    Examples:
      line-token inspect "$(line-token jwt --channel-id 1234567890 --key keys/private.json)"
      echo "$JWT" | line-token inspect -
    """
    text = read_text_input(value, "JWT_OR_TOKEN", _("JWT assertion or access token"))
    try:
        result = inspector.inspect(text)
    except inspector.InspectError as e:
        raise InputError("JWT_OR_TOKEN", translate_template(e.template, e.params)) from None
    problems = [{"field": f.field, "message": translate_template(f.template, f.params)} for f in result.findings]
    if as_json or not sys.stdout.isatty():
        data = result.as_dict()
        data["problems"] = problems
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(_("Kind: %(kind)s", kind=_(KIND_NAMES[result.kind])))
        if result.header is not None:
            click.echo(_("Header:") + " " + json.dumps(result.header, ensure_ascii=False))
        if result.payload is not None:
            click.echo(_("Claims:"))
            for line in human(result.payload).splitlines():
                click.echo("  " + line)
        if result.expires_at is not None and result.expires_in is not None and abs(result.expires_at) < 10**11:
            at = datetime.fromtimestamp(result.expires_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            click.echo(_("Expires: %(at)s (%(when)s)", at=at, when=_when(result.expires_in)))
        if result.kind == inspector.V21_TOKEN:
            click.echo(_("Only LINE can read this token's payload: check it with line-token token verify TOKEN."))
        elif result.kind == inspector.OPAQUE_TOKEN:
            click.echo(_("This token is opaque: check it with line-token token verify-v2 TOKEN."))
        elif result.kind == inspector.STATELESS_TOKEN:
            click.echo(_("A stateless token cannot be verified or revoked: try it with line-token bot info --token TOKEN."))
        elif problems:
            click.echo(_("Problems:"))
            for problem in problems:
                # The message names its claim ("payload.exp passed…"): the field is not said twice.
                message = problem["message"]
                click.echo("  " + (message if message.startswith(problem["field"]) else
                                   f"{problem['field']}: {message}"))
        else:
            click.echo(_("OK: the header and claims follow LINE's rules. LINE checks the signature with the "
                         "public key you registered."))
    if problems:
        click.get_current_context().exit(1)


# --------------------------------------------------------------------------- sandbox


@cli.group("sandbox", help="""Play the LINE Developers Console on the offline sandbox.

In this process on the sandbox file in the user's data folder
($XDG_DATA_HOME/line-token, or SANDBOX_DATABASE / DATABASE_URL), or with
--base-url on a running app's sandbox (HTTP Basic auth: channel ID and secret).

\b
Examples:
  line-token sandbox channels create --name my-bot
  line-token sandbox keys add 1234567890 --key keys/public.json
""")
def sandbox_group() -> None:
    pass


@sandbox_group.group("channels", help="""Create, show and delete sandbox channels.

\b
Examples:
  line-token sandbox channels create --name my-bot --field channel_id
  LINE_CHANNEL_SECRET=... line-token sandbox channels show 1234567890
""")
def channels_group() -> None:
    pass


@sandbox_group.group("keys", help="""Register public keys on a sandbox channel.

\b
Example:
  line-token sandbox keys add 1234567890 --key keys/public.json
""")
def keys_group() -> None:
    pass


BASE_URL_HELP = "A running app's sandbox instead of this process's, e.g. http://127.0.0.1:8000/sandbox"


def admin_secret_option(func):
    return click.option(
        "--channel-secret", envvar="LINE_CHANNEL_SECRET", show_envvar=True, metavar="SECRET",
        help="The channel's secret: checked in this process, sent as HTTP Basic auth with --base-url.")(func)


def local_store():
    """The in-process sandbox's store (the CLI's app, made on first use)."""
    from .sandbox import get_store

    app = cli_app()
    if not app.config.get("SANDBOX_ENABLED", True):
        raise InputError("SANDBOX_ENABLED", _("the sandbox is turned off (SANDBOX_ENABLED=0): unset it, or give "
                                              "--base-url of a server whose sandbox is on."))
    return get_store()


def local_channel(channel_id: str, secret: str | None):
    """The channel in this process's sandbox; refused (exit 1) when unknown or the secret is wrong."""
    store = local_store()
    channel = store.get_channel(channel_id)
    if channel is None:
        raise UpstreamError(_("No sandbox channel has the ID %(id)s.", id=channel_id))
    if secret is not None and not store.check_secret(channel_id, secret.strip()):
        raise UpstreamError(_("The channel secret does not match channel %(id)s.", id=channel_id))
    return channel


def store_errors(func):
    """The store's refusals as one line and exit 1."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .store import CapReached, ChannelNotFound, StoreUnavailable

        try:
            return func(*args, **kwargs)
        except ChannelNotFound as e:
            raise UpstreamError(_("No sandbox channel has the ID %(id)s.", id=str(e.args[0] if e.args else ""))) \
                from None
        except CapReached:
            raise UpstreamError(_("The sandbox is full (its maximum of channels, or of keys for this "
                                  "channel): delete what you no longer need.")) from None
        except StoreUnavailable:
            raise UpstreamError(_("The sandbox database is busy; try again in a moment.")) from None
    return wrapper


def admin_call(base_url: str, method: str, path: str, auth: tuple[str, str] | None = None,
               body: Any = None) -> Any:
    """Call a running sandbox's admin API; its JSON answer, or exit 1 with its error on one line."""
    import requests

    url = check_base_url(base_url) + path
    try:
        with requests.request(method, url, json=body, auth=auth, timeout=ADMIN_TIMEOUT, stream=True,
                              allow_redirects=False, headers={"Accept": "application/json"}) as response:
            raw = response.raw.read(MAX_ANSWER + 1, decode_content=True)
            status = response.status_code
    except requests.RequestException as e:
        raise UpstreamError(_("could not reach %(url)s (%(reason)s).", url=url, reason=type(e).__name__)) from None
    if len(raw) > MAX_ANSWER:
        raise UpstreamError(_("%(url)s answered more than 1 MiB: is it a line-token sandbox?", url=url))
    try:
        answer = json.loads(raw) if raw.strip() else None
    except ValueError:
        answer = raw.decode("utf-8", "replace")
    if not 200 <= status < 300:
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        raise UpstreamError(_("the sandbox answered HTTP %(status)s: %(body)s", status=status,
                              body=" ".join((text or "").split())[:300]))
    return answer


@channels_group.command("create")
@click.option("--name", default="", metavar="NAME", help="A name to tell channels apart (up to 100 characters).")
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(("channel_id", "channel_secret", "name"))
@store_errors
def channels_create(name: str, base_url: str | None, as_json: bool, field_name: str | None) -> None:
    """Create a sandbox channel; print its ID and secret.

    The secret is shown only now: keep it (export LINE_CHANNEL_SECRET=...).

    \b
    Examples:
      line-token sandbox channels create --name my-bot
      line-token sandbox channels create --json > channel.json
    """
    if base_url is not None:
        answer = admin_call(base_url, "POST", "/api/channels", body={"name": name})
    else:
        from .sandbox import create_channel

        local_store()
        try:
            channel, secret = create_channel(name)
        except signing.SigningError as e:
            raise from_signing_error(e, "--name") from None
        answer = {"channel_id": channel.channel_id, "channel_secret": secret, "name": channel.name}
    emit(answer, as_json, field_name)


@channels_group.command("show")
@click.argument("channel_id", metavar="CHANNEL_ID")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(("channel_id", "name", "keys", "tokens"))
@store_errors
def channels_show(channel_id: str, channel_secret: str | None, base_url: str | None, as_json: bool,
                  field_name: str | None) -> None:
    """Show a channel: its keys and valid tokens (never token values).

    \b
    Example:
      LINE_CHANNEL_SECRET=... line-token sandbox channels show 1234567890
    """
    channel_id = check_channel_id(channel_id, "CHANNEL_ID")
    if base_url is not None:
        answer = admin_call(base_url, "GET", f"/api/channels/{channel_id}", auth=_auth(channel_id, channel_secret))
    else:
        from .sandbox import channel_json

        answer = channel_json(local_channel(channel_id, channel_secret))
    if field_name == "keys" and isinstance(answer, dict):
        answer = {"keys": [k.get("kid") for k in answer.get("keys") or [] if isinstance(k, dict)]}
    emit(answer, as_json, field_name)


@channels_group.command("delete")
@click.argument("channel_id", metavar="CHANNEL_ID")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@store_errors
def channels_delete(channel_id: str, channel_secret: str | None, base_url: str | None) -> None:
    """Delete a channel with its keys and tokens.

    \b
    Example:
      LINE_CHANNEL_SECRET=... line-token sandbox channels delete 1234567890
    """
    channel_id = check_channel_id(channel_id, "CHANNEL_ID")
    if base_url is not None:
        admin_call(base_url, "DELETE", f"/api/channels/{channel_id}", auth=_auth(channel_id, channel_secret))
    else:
        local_channel(channel_id, channel_secret)
        local_store().delete_channel(channel_id)
    click.echo(_("Deleted channel %(id)s with its keys and tokens.", id=channel_id), err=True)


@keys_group.command("add")
@click.argument("channel_id", metavar="CHANNEL_ID")
@click.option("--key", "key_path", required=True, metavar="PUBLIC.jwk.json",
              help="The public key (JWK) to register, e.g. keys/public.json from `line-token keygen --out keys/`; "
                   "- reads stdin.")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(("kid",))
@store_errors
def keys_add(channel_id: str, key_path: str, channel_secret: str | None, base_url: str | None, as_json: bool,
             field_name: str | None) -> None:
    """Register a public key on a channel; print the kid.

    \b
    Examples:
      line-token sandbox keys add 1234567890 --key keys/public.json
      KID=$(line-token sandbox keys add 1234567890 --key keys/public.json --field kid)
    """
    channel_id = check_channel_id(channel_id, "CHANNEL_ID")
    data, _where = read_file(key_path, "--key", _("public key file (JWK JSON)"))
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        parsed = data.decode("utf-8", "replace")  # check_public_jwk names what is wrong
    if isinstance(parsed, dict) and isinstance(parsed.get("public"), dict):
        parsed = parsed["public"]  # `line-token keygen`'s {"private", "public"} pair
    try:
        jwk = signing.check_public_jwk(parsed, "public_key")
    except signing.SigningError as e:
        raise from_signing_error(e, "--key") from None
    if base_url is not None:
        answer = admin_call(base_url, "POST", f"/api/channels/{channel_id}/keys",
                            auth=_auth(channel_id, channel_secret), body=jwk)
    else:
        from .sandbox import register_key

        local_channel(channel_id, channel_secret)
        answer = {"kid": register_key(channel_id, jwk).kid}
    emit(answer, as_json, field_name)


@sandbox_group.group("long-lived", help="""Long-lived channel access tokens of a sandbox channel.

\b
Example:
  LINE_CHANNEL_SECRET=... line-token sandbox long-lived issue 1234567890 --keep-old-hours 2
""")
def long_lived_group() -> None:
    pass


@long_lived_group.command("issue")
@click.argument("channel_id", metavar="CHANNEL_ID")
@click.option("--keep-old-hours", type=click.IntRange(0, 24), default=0, show_default=True, metavar="HOURS",
              help="How long the current long-lived token stays valid after the new one is issued (0 to 24), as "
                   "the console's reissue offers.")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(("access_token", "token_type", "previous_valid_until"))
@store_errors
def long_lived_issue(channel_id: str, keep_old_hours: int, channel_secret: str | None, base_url: str | None,
                     as_json: bool, field_name: str | None) -> None:
    """Issue (or reissue) the channel's long-lived token.

    As the LINE Developers Console's "Issue" button: one long-lived token per
    channel; verify and revoke it with `token verify-v2` / `token revoke-v2`.

    \b
    Examples:
      TOKEN=$(line-token sandbox long-lived issue 1234567890 --field access_token)
      line-token sandbox long-lived issue 1234567890 --keep-old-hours 24 --base-url http://127.0.0.1:5001/sandbox
    """
    channel_id = check_channel_id(channel_id, "CHANNEL_ID")
    if base_url is not None:
        answer = admin_call(base_url, "POST", f"/api/channels/{channel_id}/long-lived",
                            auth=_auth(channel_id, channel_secret), body={"keep_old_hours": keep_old_hours})
    else:
        from . import sandbox

        issue = getattr(sandbox, "issue_long_lived", None)  # the sandbox's long-lived tokens (issue 11/12)
        if issue is None:
            raise UpstreamError(_("this version's built-in sandbox has no long-lived tokens: give --base-url of "
                                  "a server whose sandbox has them."))
        local_channel(channel_id, channel_secret)
        try:
            token, previous_until = issue(channel_id, keep_old_hours)
        except signing.SigningError as e:
            raise from_signing_error(e, "--keep-old-hours") from None
        answer = {"access_token": token, "token_type": "Bearer", "previous_valid_until": previous_until}
    emit(answer, as_json, field_name)


def _auth(channel_id: str, secret: str | None) -> tuple[str, str] | None:
    return (channel_id, secret.strip()) if secret else None


# --------------------------------------------------------------------------- main


def _param_name(param: click.Parameter | None) -> str:
    if param is None:
        return "line-token"
    if isinstance(param, click.Option) and param.opts:
        return max(param.opts, key=len)
    return param.human_readable_name


def usage_line(e: click.UsageError) -> str:
    """Click's usage error as ``<option>: <what to do>``, in the user's language."""
    cmd = e.ctx.command_path if e.ctx is not None else "line-token"
    see = _("See: %(cmd)s --help", cmd=cmd)
    if isinstance(e, click.MissingParameter):
        return f"{_param_name(e.param)}: " + _("this is required.") + " " + see
    if isinstance(e, click.NoSuchOption):
        hint = ""
        if e.possibilities:
            hint = " " + _("Did you mean %(options)s?", options=", ".join(sorted(e.possibilities)))
        return f"{e.option_name}: " + _("no such option.") + hint + " " + see
    if isinstance(e, click.BadOptionUsage):
        if "requires an argument" in e.message:
            return f"{e.option_name}: " + _("this option needs a value.") + " " + see
        return f"{e.option_name}: " + " ".join(e.format_message().split()) + " " + see
    if isinstance(e, click.BadParameter):
        return f"{_param_name(e.param)}: " + _("invalid value: %(detail)s", detail=" ".join(e.message.split())) \
            + " " + see
    return f"{cmd}: " + " ".join(e.format_message().split()) + " " + see


def main(argv: list[str] | None = None) -> int:
    """Run ``line-token``; return (and exit with) 0, 1 or 2. Never a traceback."""
    try:
        code = cli.main(args=argv, prog_name="line-token", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help())
        code = 0
    except click.UsageError as e:
        click.echo(_("Error: %(message)s", message=usage_line(e)), err=True)
        code = 2
    except click.ClickException as e:
        click.echo(_("Error: %(message)s", message=" ".join(e.format_message().split())), err=True)
        code = e.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo(_("Aborted."), err=True)
        code = 130
    except BrokenPipeError:
        code = 1
    except Exception as e:  # a bug of ours: still one line, no traceback, no secret (the type only)
        click.echo(_("Error: an unexpected problem (%(kind)s). Please report it.", kind=type(e).__name__), err=True)
        code = 1
    code = code if isinstance(code, int) else 0
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":  # python -m line_token.cli
    main()

"""``line-token sandbox ...``: play the LINE Developers Console on the offline sandbox.

The local sandbox is reached through its service layer (line_token.sandbox.service), with no Flask app;
``--base-url`` reaches a running server's admin API instead.
"""
from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import click

from ..core import signing
from .common import tr as _
if TYPE_CHECKING:
    from ..sandbox.service import Sandbox
from .common import (cli_config, InputError, UpstreamError, check_base_url, check_channel_id, emit, from_signing_error, insecure_option, one_line, output_options, read_file)


# --------------------------------------------------------------------------- sandbox


@click.group("sandbox", help="""Play the LINE Developers Console on the offline sandbox.

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


MAX_ANSWER = 1024 * 1024
ADMIN_TIMEOUT = 10.0
BASE_URL_HELP = ("A running app's sandbox instead of this process's, e.g. http://127.0.0.1:8000/sandbox "
                 "(https:// unless it is on this computer; see --insecure)")


def base_url_option(func):
    """``--base-url`` of a running sandbox, and ``--insecure`` for plain http:// to another computer."""
    return click.option("--base-url", metavar="URL", help=BASE_URL_HELP)(insecure_option(func))


def admin_secret_option(func):
    return click.option(
        "--channel-secret", envvar="LINE_CHANNEL_SECRET", show_envvar=True, metavar="SECRET",
        help="The channel's secret: checked in this process, sent as HTTP Basic auth with --base-url.")(func)


def local_sandbox() -> Sandbox:
    """This process's sandbox, through its service layer: no Flask app is built."""
    # Imported here, not at the top: `line-token --help` and the other groups need no sandbox (store, service).
    from ..sandbox.service import Sandbox

    config = cli_config()
    if not config.get("SANDBOX_ENABLED", True):
        raise InputError("SANDBOX_ENABLED", _("the sandbox is turned off (SANDBOX_ENABLED=0): unset it, or give "
                                              "--base-url of a server whose sandbox is on."))
    try:
        return Sandbox.open(config)
    except ValueError as e:  # a bad DATABASE_URL
        raise InputError("DATABASE_URL", str(e)) from None


def local_channel(channel_id: str, secret: str | None):
    """The channel in this process's sandbox; refused (exit 1) when unknown or the secret is wrong."""
    sandbox = local_sandbox()
    channel = sandbox.get_channel(channel_id)
    if channel is None:
        raise UpstreamError(_("No sandbox channel has the ID %(id)s.", id=channel_id))
    if secret is not None and not sandbox.check_secret(channel_id, secret.strip()):
        raise UpstreamError(_("The channel secret does not match channel %(id)s.", id=channel_id))
    return channel


def store_errors(func):
    """The store's refusals as one line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..sandbox.store import CapReached, ChannelNotFound, StoreUnavailable  # deferred as in local_sandbox

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
        raise UpstreamError(_("the sandbox answered HTTP %(status)s: %(body)s", status=status,
                              body=one_line("" if answer is None else answer)[:300]))
    return answer


@channels_group.command("create")
@click.option("--name", default="", metavar="NAME", help="A name to tell channels apart (up to 100 characters).")
@base_url_option
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
        try:
            channel, secret = local_sandbox().create_channel(name)
        except signing.SigningError as e:
            raise from_signing_error(e, "--name") from None
        answer = {"channel_id": channel.channel_id, "channel_secret": secret, "name": channel.name}
    emit(answer, as_json, field_name)


@channels_group.command("show")
@click.argument("channel_id", metavar="CHANNEL_ID")
@admin_secret_option
@base_url_option
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
        answer = local_sandbox().channel_json(local_channel(channel_id, channel_secret))
    if field_name == "keys" and isinstance(answer, dict):
        answer = {"keys": [k.get("kid") for k in answer.get("keys") or [] if isinstance(k, dict)]}
    emit(answer, as_json, field_name)


@channels_group.command("delete")
@click.argument("channel_id", metavar="CHANNEL_ID")
@admin_secret_option
@base_url_option
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
        local_sandbox().delete_channel(channel_id)
    click.echo(_("Deleted channel %(id)s with its keys and tokens.", id=channel_id), err=True)


@keys_group.command("add")
@click.argument("channel_id", metavar="CHANNEL_ID")
@click.option("--key", "key_path", required=True, metavar="PUBLIC.jwk.json",
              help="The public key (JWK) to register, e.g. keys/public.json from `line-token keygen --out keys/`; "
                   "- reads stdin.")
@admin_secret_option
@base_url_option
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
        local_channel(channel_id, channel_secret)
        answer = {"kid": local_sandbox().register_key(channel_id, jwk).kid}
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
@base_url_option
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
        local_channel(channel_id, channel_secret)
        try:
            token, previous_until = local_sandbox().issue_long_lived(channel_id, keep_old_hours)
        except signing.SigningError as e:
            raise from_signing_error(e, "--keep-old-hours") from None
        answer = {"access_token": token, "token_type": "Bearer", "previous_valid_until": previous_until}
    emit(answer, as_json, field_name)


def _auth(channel_id: str, secret: str | None) -> tuple[str, str] | None:
    return (channel_id, secret.strip()) if secret else None


# --------------------------------------------------------------------------- faults, clock, log (issue 21)


@sandbox_group.group("faults", help="""Make a sandbox channel's next calls fail as LINE fails (429, 500, 503) or answer late.

\b
Examples:
  line-token sandbox faults add 1234567890 --path /oauth2/v2.1/token --status 429 --count 2
  line-token sandbox faults list 1234567890
  line-token sandbox faults clear 1234567890
""")
def faults_group() -> None:
    pass


def _local_faults_call(func, channel_id: str, secret: str | None, *args):
    """``func(store, channel_id, *args)`` on this process's sandbox, once the channel is known (and its secret, if given)."""
    sandbox = local_sandbox()
    local_channel(channel_id, secret)
    return func(sandbox.store, channel_id, *args)


def channel_call(channel_id: str, channel_secret: str | None, base_url: str | None, method: str, path: str,
                 local, body: Any = None) -> Any:
    """A running sandbox's admin API at /api/channels/ID + ``path`` with --base-url, else ``local(channel_id)``."""
    channel_id = check_channel_id(channel_id, "CHANNEL_ID")
    if base_url is not None:
        return admin_call(base_url, method, f"/api/channels/{channel_id}{path}", auth=_auth(channel_id, channel_secret),
                          body=body)
    return local(channel_id)


@faults_group.command("add")
@click.argument("channel_id", metavar="CHANNEL_ID")
@click.option("--path", "fault_path", required=True, metavar="PATH",
              help="One of LINE's paths the sandbox answers, e.g. /oauth2/v2.1/token or /v2/bot/info.")
@click.option("--status", type=click.Choice(["429", "500", "503"]), default=None,
              help="LINE's answer to send: 429 (with Retry-After), 500 or 503. Leave out for only a delay.")
@click.option("--count", type=click.IntRange(1, 100), default=1, show_default=True,
              help="How many calls the fault answers (1 to 100).")
@click.option("--delay-seconds", type=click.FloatRange(0, 30), default=0, show_default=True,
              help="Answer this many seconds late (0 to 30).")
@click.option("--retry-after", type=click.IntRange(1, 3600), default=None,
              help="Retry-After in seconds for 429 and 503 (default 1).")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(("id", "path", "status", "count", "delay_seconds", "retry_after"))
@store_errors
def faults_add(channel_id: str, fault_path: str, status: str | None, count: int, delay_seconds: float,
               retry_after: int | None, channel_secret: str | None, base_url: str | None, as_json: bool,
               field_name: str | None) -> None:
    """Add a fault on one of LINE's paths for a channel.

    \b
    Examples:
      line-token sandbox faults add 1234567890 --path /v2/oauth/accessToken --status 503 --count 3
      line-token sandbox faults add 1234567890 --path /oauth2/v2.1/verify --delay-seconds 5
    """
    from ..sandbox import faults as faults_module

    body: dict[str, Any] = {"path": fault_path, "count": count}
    if status is not None:
        body["status"] = int(status)
    if delay_seconds:
        body["delay_seconds"] = int(delay_seconds) if float(delay_seconds).is_integer() else delay_seconds
    if retry_after is not None:
        body["retry_after"] = retry_after

    def local(cid: str) -> dict:
        try:
            return _local_faults_call(faults_module.add_fault, cid, channel_secret, body).as_json()
        except signing.SigningError as e:
            raise from_signing_error(e, "--" + e.field.replace("_", "-")) from None

    emit(channel_call(channel_id, channel_secret, base_url, "POST", "/faults", local, body), as_json, field_name)


@faults_group.command("list")
@click.argument("channel_id", metavar="CHANNEL_ID")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(("faults",))
@store_errors
def faults_list(channel_id: str, channel_secret: str | None, base_url: str | None, as_json: bool,
                field_name: str | None) -> None:
    """List a channel's pending faults, in the order they fire."""
    from ..sandbox import faults as faults_module

    emit(channel_call(channel_id, channel_secret, base_url, "GET", "/faults", lambda cid: {"faults": [
        f.as_json() for f in _local_faults_call(faults_module.list_faults, cid, channel_secret)]}), as_json, field_name)


@faults_group.command("clear")
@click.argument("channel_id", metavar="CHANNEL_ID")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(("cleared",))
@store_errors
def faults_clear(channel_id: str, channel_secret: str | None, base_url: str | None, as_json: bool,
                 field_name: str | None) -> None:
    """Clear a channel's pending faults."""
    from ..sandbox import faults as faults_module

    emit(channel_call(channel_id, channel_secret, base_url, "DELETE", "/faults", lambda cid: {
        "cleared": _local_faults_call(faults_module.clear_faults, cid, channel_secret)}), as_json, field_name)


@sandbox_group.group("clock", help="""Move a sandbox channel's clock forward: its tokens expire without waiting.

\b
Examples:
  line-token sandbox clock advance 1234567890 3600
  line-token sandbox clock show 1234567890
  line-token sandbox clock reset 1234567890
""")
def clock_group() -> None:
    pass


CLOCK_FIELDS = ("channel_id", "now", "offset_seconds", "real_now")


@clock_group.command("advance")
@click.argument("channel_id", metavar="CHANNEL_ID")
@click.argument("seconds", type=click.IntRange(1, 10 * 365 * 24 * 60 * 60), metavar="SECONDS")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(CLOCK_FIELDS)
@store_errors
def clock_advance(channel_id: str, seconds: int, channel_secret: str | None, base_url: str | None, as_json: bool,
                  field_name: str | None) -> None:
    """Move the channel's clock SECONDS forward (up to ten years in all).

    Assertions for the channel are then checked against its time: sign their
    exp from `clock show --field now`.

    \b
    Example:
      line-token sandbox clock advance 1234567890 86400
    """
    from ..sandbox import clock as clock_module

    def local(cid: str) -> dict:
        try:
            _local_faults_call(clock_module.advance, cid, channel_secret, seconds)
        except signing.SigningError as e:
            raise from_signing_error(e, "SECONDS") from None
        return clock_module.clock_json(local_sandbox().store, cid)

    emit(channel_call(channel_id, channel_secret, base_url, "POST", "/clock", local, {"advance_seconds": seconds}),
         as_json, field_name)


@clock_group.command("show")
@click.argument("channel_id", metavar="CHANNEL_ID")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(CLOCK_FIELDS)
@store_errors
def clock_show(channel_id: str, channel_secret: str | None, base_url: str | None, as_json: bool,
               field_name: str | None) -> None:
    """Show the channel's time (epoch seconds) and how far ahead of real time it is."""
    from ..sandbox import clock as clock_module

    emit(channel_call(channel_id, channel_secret, base_url, "GET", "/clock", lambda cid: _local_faults_call(
        clock_module.clock_json, cid, channel_secret)), as_json, field_name)


@clock_group.command("reset")
@click.argument("channel_id", metavar="CHANNEL_ID")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(CLOCK_FIELDS)
@store_errors
def clock_reset(channel_id: str, channel_secret: str | None, base_url: str | None, as_json: bool,
                field_name: str | None) -> None:
    """Return the channel to real time."""
    from ..sandbox import clock as clock_module

    def local(cid: str) -> dict:
        _local_faults_call(clock_module.reset, cid, channel_secret)
        return clock_module.clock_json(local_sandbox().store, cid)

    emit(channel_call(channel_id, channel_secret, base_url, "DELETE", "/clock", local), as_json, field_name)


@sandbox_group.command("log")
@click.argument("channel_id", metavar="CHANNEL_ID")
@admin_secret_option
@click.option("--base-url", metavar="URL", help=BASE_URL_HELP)
@output_options(("entries",))
@store_errors
def request_log(channel_id: str, channel_secret: str | None, base_url: str | None, as_json: bool,
                field_name: str | None) -> None:
    """Show the channel's request log, newest first (secret values masked).

    \b
    Example:
      line-token sandbox log 1234567890 --json | jq '.entries[0]'
    """
    from ..sandbox import reqlog

    emit(channel_call(channel_id, channel_secret, base_url, "GET", "/log", lambda cid: {
        "entries": _local_faults_call(reqlog.entries, cid, channel_secret)}), as_json, field_name)

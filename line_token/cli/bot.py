"""``line-token bot ...``: try a channel access token with the Messaging API's read-only calls."""
from __future__ import annotations

import sys

import click

from ..core import display, endpoints, line_client
from ..core.fields import Source, read_token
from ..core.signing import N_, SigningError
from .common import tr as _
from .common import (InputError, clean, emit, from_signing_error, one_line, read_text_input, send, target_options)


# --------------------------------------------------------------------------- bot (step 6: try the token)
#
# read_bot_token -> ask_bot -> emit; refused tokens exit 1, bad input 2.

BOT_REASONS = {"no_header": N_("no Authorization: Bearer header reached the target"),
               "malformed": N_("the token is malformed"),
               "invalid": N_("the token is invalid, expired or revoked")}
# What each command asks (the registry's Messaging API calls), and the fields of their merged answers.
BOT_CALLS = {"info": ("bot_info",), "quota": ("quota", "quota_consumption")}
BOT_FIELDS = {what: tuple(f for e in calls for f in endpoints.get(e).answer) for what, calls in BOT_CALLS.items()}


def read_bot_token(value: str) -> str:
    """``--token`` (or stdin for ``-``) checked as the web form checks it."""
    text = read_text_input(value, "--token", _("channel access token (or - to read it from stdin)"))
    try:
        return read_token(Source({"access_token": text}, True))
    except SigningError as e:
        raise from_signing_error(e, "--token") from None


class TokenRefused(click.ClickException):
    """The target answered the token with an error: exit 1, one stderr line."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(clean(self.message), err=True)


def ask_bot(what: str, token: str, target: str, base_url: str | None = None) -> dict:
    """``info``: GET /v2/bot/info's body. ``quota``: the quota and consumption bodies merged.

    Raises TokenRefused when the target refuses the token, UpstreamError when it cannot be asked.
    """
    merged: dict = {}
    for endpoint in BOT_CALLS[what]:
        response = send(endpoint, {}, target, base_url, bearer=token)
        if not response.ok or not isinstance(response.body, dict):
            reason = display.bearer_reason(response.status_code, response.body)
            because = f" ({_(BOT_REASONS[reason])})" if reason else ""
            who = _("LINE refused the token") if target == "line" else _("The sandbox refused the token")
            raise TokenRefused(f"{who}{because}: HTTP {response.status_code} {one_line(response.body)}".strip())
        merged.update(response.body)
    return merged


bot_group = click.Group("bot", help="""Try a channel access token with the Messaging API's read-only calls.

\b
Any token type works: v2.1, stateless, short-lived, long-lived. Exit 0 when the
token works, 1 when the target refuses it (one line on stderr says why), 2 for bad input.
""")


def bot_options(what: str):
    def decorate(func):
        func = click.option("--field", "field_name", metavar="NAME",
                            help="Print only this field's value, bare: " + ", ".join(BOT_FIELDS[what]) + ".")(func)
        func = click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")(func)
        func = target_options(func)
        return click.option("--token", required=True, metavar="TOKEN|-",
                            help="The channel access token, or - to read it from stdin (keeps it out of shell "
                                 "history).")(func)
    return decorate


# The in-process sandbox answers from http://sandbox.internal, which no browser can open.
NO_ADDRESS = N_("the sandbox in this process has no address, so its picture cannot be opened. Start a sandbox "
                "server (line-token sandbox serve) and run this again with --base-url and the URL it prints.")


def without_unreachable_picture(body: dict, target: str, base_url: str | None) -> bool:
    """Drop a pictureUrl only the in-process sandbox could answer (LINE too leaves it out when a bot has no
    picture); True when dropped. A running sandbox (--base-url) names its own address."""
    picture = body.get("pictureUrl")
    if target == "sandbox" and base_url is None and isinstance(picture, str) \
            and picture.startswith(line_client.SANDBOX_BASE + "/"):
        del body["pictureUrl"]
        return True
    return False


def run_bot(what: str, token: str, target: str, base_url: str | None, as_json: bool, field_name: str | None) -> None:
    if as_json and field_name is not None:
        raise InputError("--field", _("give either --json or --field NAME, not both."))
    body = ask_bot(what, read_bot_token(token), target, base_url)
    if without_unreachable_picture(body, target, base_url):
        if field_name == "pictureUrl":
            raise InputError("--target", _("pictureUrl: %(why)s", why=_(NO_ADDRESS)))
        if field_name is None and (as_json or not sys.stdout.isatty()):
            click.echo(_("pictureUrl: %(why)s", why=_(NO_ADDRESS)), err=True)  # JSON on stdout stays LINE's shape
        elif field_name is None:
            body["pictureUrl"] = _("(none) %(why)s", why=_(NO_ADDRESS))
    if field_name is not None and field_name not in body:
        raise InputError("--field", _("the answer has no field %(field)s; it has: %(fields)s.",
                                      field=repr(field_name), fields=", ".join(body)))
    emit(body, as_json, field_name)


@bot_group.command("info")
@bot_options("info")
def bot_info_command(token: str, target: str, base_url: str | None, as_json: bool, field_name: str | None) -> None:
    """The bot behind the token: GET /v2/bot/info.

    \b
    Examples:
      line-token bot info --token "$TOKEN" --field displayName
      echo "$TOKEN" | line-token bot info --token - --target sandbox --json
    """
    run_bot("info", token, target, base_url, as_json, field_name)


@bot_group.command("quota")
@bot_options("quota")
def bot_quota_command(token: str, target: str, base_url: str | None, as_json: bool, field_name: str | None) -> None:
    """This month's quota and consumption: GET /v2/bot/message/quota and .../quota/consumption.

    \b
    Prints type (none or limited), value (the limit, when limited) and totalUsage.
    Example:
      line-token bot quota --token - --field totalUsage < token.txt
    """
    run_bot("quota", token, target, base_url, as_json, field_name)

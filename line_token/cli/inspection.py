"""``line-token inspect``: what a JWT or token is, and what LINE would say about it."""
from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from ..core import inspector, signing
from ..core.signing import N_
from .common import tr as _
from .common import (InputError, clean, human, read_text_input, to_json, translate_template)


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


@click.command("inspect")
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
        click.echo(to_json(data, indent=2))
    else:
        click.echo(_("Kind: %(kind)s", kind=_(KIND_NAMES[result.kind])))
        if result.header is not None:
            click.echo(_("Header:") + " " + to_json(result.header))
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
                message = clean(problem["message"])  # it may quote the pasted text
                click.echo("  " + (message if message.startswith(problem["field"]) else
                                   f"{problem['field']}: {message}"))
        else:
            click.echo(_("OK: the header and claims follow LINE's rules. LINE checks the signature with the "
                         "public key you registered."))
    if problems:
        click.get_current_context().exit(1)

"""``line-token token ...``: issue, list, verify, revoke and rotate channel access tokens."""
from __future__ import annotations

import click

from ..core import signing
from . import rotation
from .common import tr as _
from .common import (ANSWER_FIELDS, InputError, KEY_HELP, assertion_from_options, call_line, check_channel_id, check_secret, output_options, read_text_input, request_fields, secret_option, target_options)


# --------------------------------------------------------------------------- token


# A plain click group (not Flask's AppGroup): it runs under ``line-token`` without a Flask
# app as well; cli_app() finds flask's app when run as ``flask --app app token ...``.
token_group = click.Group("token", help="""Issue, list, verify, revoke and rotate channel access tokens.

v2.1 tokens (issue, kids, verify, revoke, rotate), stateless tokens and
short-lived v2 tokens. Each command prints LINE's answer.

\b
Examples:
  line-token token issue --channel-id 1234567890 --kid YOUR-KID --key keys/private.json
  line-token token verify ACCESS_TOKEN
""")


def assertion_options(with_token_exp: bool):
    """The options of commands that authenticate with a JWT assertion; ``--token-exp`` where it acts."""
    def decorate(func):
        options = [
            click.option("--channel-id", metavar="ID", help="The channel's numeric ID."),
            click.option("--kid", metavar="KID", help="The registered key's kid. Default: the key's own kid."),
            click.option("--key", "key_path", metavar="FILE", help=KEY_HELP),
        ]
        if with_token_exp:
            options.append(click.option(
                "--token-exp", type=int, default=signing.DEFAULT_TOKEN_EXP, show_default=True, metavar="SECONDS",
                help="Lifetime of the token to issue, 1 to 2592000 (30 days)."))
        options.append(click.option(
            "--assertion", metavar="JWT",
            help="A signed JWT (from `line-token jwt`) instead of --channel-id/--kid/--key; - reads stdin."))
        for option in reversed(options):
            func = option(func)
        return target_options(func)
    return decorate


@token_group.command("issue")
@assertion_options(with_token_exp=True)
@output_options(ANSWER_FIELDS["issue_v21"])
def issue_command(channel_id: str | None, kid: str | None, key_path: str | None, token_exp: int,
                  assertion: str | None, target: str, base_url: str | None, as_json: bool,
                  field_name: str | None) -> None:
    """Issue a channel access token v2.1.

    POST /oauth2/v2.1/token. Signs an assertion from --channel-id, --kid and
    --key, or sends the one given with --assertion. Prints LINE's answer
    (access_token, expires_in, token_type, key_id).

    \b
    Examples:
      line-token token issue --channel-id 1234567890 --kid YOUR-KID --key keys/private.json
      TOKEN=$(line-token token issue --assertion "$JWT" --target sandbox --field access_token)
    """
    jwt = assertion_from_options(assertion, channel_id, kid, key_path, token_exp)
    call_line("issue_v21", request_fields("issue_v21", client_assertion=jwt), target, base_url, as_json, field_name)


@token_group.command("kids")
@assertion_options(with_token_exp=False)
@output_options(ANSWER_FIELDS["kids_v21"])
def kids_command(channel_id: str | None, kid: str | None, key_path: str | None, assertion: str | None,
                 target: str, base_url: str | None, as_json: bool, field_name: str | None) -> None:
    """List the key IDs of valid v2.1 tokens.

    GET /oauth2/v2.1/tokens/kid, with a JWT assertion as for `token issue`.
    LINE lists key IDs only: no API lists the tokens themselves.

    \b
    Examples:
      line-token token kids --channel-id 1234567890 --kid YOUR-KID --key keys/private.json
      line-token token kids --assertion "$JWT" --target sandbox --field kids
    """
    jwt = assertion_from_options(assertion, channel_id, kid, key_path)
    call_line("kids_v21", request_fields("kids_v21", client_assertion=jwt), target, base_url, as_json, field_name)


@token_group.command("verify")
@click.argument("access_token", metavar="ACCESS_TOKEN")
@target_options
@output_options(ANSWER_FIELDS["verify_v21"])
def verify_command(access_token: str, target: str, base_url: str | None, as_json: bool,
                   field_name: str | None) -> None:
    """Verify a v2.1 token.

    GET /oauth2/v2.1/verify. Give - as ACCESS_TOKEN to read it from stdin.
    Prints client_id, expires_in (seconds left) and scope.

    \b
    Examples:
      line-token token verify eyJhbGciOiJIUzI1NiJ9...
      echo "$TOKEN" | line-token token verify - --target sandbox --field expires_in
    """
    token = read_text_input(access_token, "ACCESS_TOKEN", _("access token (or - to read it from stdin)"))
    call_line("verify_v21", request_fields("verify_v21", access_token=token), target, base_url, as_json, field_name)


@token_group.command("revoke")
@click.option("--channel-id", required=True, metavar="ID", help="The channel's numeric ID.")
@secret_option()
@click.argument("access_token", metavar="ACCESS_TOKEN")
@target_options
def revoke_command(channel_id: str, channel_secret: str, access_token: str, target: str,
                   base_url: str | None) -> None:
    """Revoke a v2.1 token.

    POST /oauth2/v2.1/revoke. Give - as ACCESS_TOKEN to read it from stdin.
    LINE answers 200 with an empty body, even for an unknown token, so
    success prints nothing and exits 0.

    \b
    Examples:
      export LINE_CHANNEL_SECRET=...   # or: read -s LINE_CHANNEL_SECRET; export LINE_CHANNEL_SECRET
      line-token token revoke --channel-id 1234567890 "$TOKEN"
    """
    channel_id = check_channel_id(channel_id)
    secret = check_secret(channel_secret)
    token = read_text_input(access_token, "ACCESS_TOKEN", _("access token to revoke (or - to read it from stdin)"))
    call_line("revoke_v21", request_fields("revoke_v21", client_id=channel_id, client_secret=secret, access_token=token),
              target, base_url)


# --------------------------------------------------------------------------- the other token types


@token_group.command("issue-stateless")
@assertion_options(with_token_exp=False)
@secret_option(required=False)
@output_options(ANSWER_FIELDS["issue_stateless"])
def issue_stateless_command(channel_id: str | None, kid: str | None, key_path: str | None, assertion: str | None,
                            target: str, base_url: str | None, channel_secret: str | None, as_json: bool,
                            field_name: str | None) -> None:
    """Issue a stateless token (15 minutes).

    POST /oauth2/v3/token. Stateless tokens cannot be revoked. With --key or
    --assertion it authenticates with a JWT assertion (as `token issue`);
    otherwise with --channel-id and the channel secret.

    \b
    Examples:
      LINE_CHANNEL_SECRET=... line-token token issue-stateless --channel-id 1234567890
      line-token token issue-stateless --channel-id 1234567890 --kid YOUR-KID --key keys/private.json
    """
    if key_path or assertion is not None:
        jwt = assertion_from_options(assertion, channel_id, kid, key_path)
        fields = request_fields("issue_stateless", client_assertion=jwt)
    else:
        if channel_id is None:
            raise InputError("--channel-id", _("give --channel-id and --channel-secret, or --key (or --assertion) "
                                               "to authenticate with a JWT."))
        fields = request_fields("issue_stateless", client_id=check_channel_id(channel_id),
                                client_secret=check_secret(channel_secret))
    call_line("issue_stateless", fields, target, base_url, as_json, field_name)


@token_group.command("issue-v2")
@click.option("--channel-id", required=True, metavar="ID", help="The channel's numeric ID.")
@secret_option()
@target_options
@output_options(ANSWER_FIELDS["issue_v2"])
def issue_v2_command(channel_id: str, channel_secret: str, target: str, base_url: str | None, as_json: bool,
                     field_name: str | None) -> None:
    """Issue a short-lived token (30 days).

    POST /v2/oauth/accessToken. At 30 valid tokens LINE revokes the oldest
    one to issue a new one.

    \b
    Example:
      LINE_CHANNEL_SECRET=... line-token token issue-v2 --channel-id 1234567890 --field access_token
    """
    call_line("issue_v2", request_fields("issue_v2", client_id=check_channel_id(channel_id),
                                         client_secret=check_secret(channel_secret)),
              target, base_url, as_json, field_name)


@token_group.command("verify-v2")
@click.argument("access_token", metavar="ACCESS_TOKEN")
@target_options
@output_options(ANSWER_FIELDS["verify_v2"])
def verify_v2_command(access_token: str, target: str, base_url: str | None, as_json: bool,
                      field_name: str | None) -> None:
    """Verify a short-lived or long-lived token.

    POST /v2/oauth/verify. Give - as ACCESS_TOKEN to read it from stdin.

    \b
    Example:
      line-token token verify-v2 "$TOKEN"
    """
    token = read_text_input(access_token, "ACCESS_TOKEN", _("access token (or - to read it from stdin)"))
    call_line("verify_v2", request_fields("verify_v2", access_token=token), target, base_url, as_json, field_name)


@token_group.command("revoke-v2")
@click.argument("access_token", metavar="ACCESS_TOKEN")
@target_options
def revoke_v2_command(access_token: str, target: str, base_url: str | None) -> None:
    """Revoke a short-lived or long-lived token.

    POST /v2/oauth/revoke. Give - as ACCESS_TOKEN to read it from stdin.

    \b
    Example:
      line-token token revoke-v2 "$TOKEN"
    """
    token = read_text_input(access_token, "ACCESS_TOKEN", _("access token to revoke (or - to read it from stdin)"))
    call_line("revoke_v2", request_fields("revoke_v2", access_token=token), target, base_url)


token_group.add_command(rotation.rotate_command)

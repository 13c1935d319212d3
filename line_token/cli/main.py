"""``line-token``: the console script (pyproject.toml's ``[project.scripts]``).

The same command objects as ``flask --app app keygen | jwt | token`` (see
:mod:`line_token.commands`), plus ``inspect`` and ``sandbox``, under a group of
their own with no Flask boilerplate. :func:`main` turns every error, click's own
usage errors included, into one stderr line naming the option, with exit 2 for
bad input and 1 for a refusal, and never shows a traceback.
"""
from __future__ import annotations

import sys

import click

from .. import INSTALLED
from .bot import bot_group
from .common import clean
from .common import tr as _
from .inspection import inspect_command
from .keys import jwt_command, keygen_command
from .sandbox_admin import sandbox_group
from .serve import serve_command
from .tokens import token_group

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
cli.add_command(inspect_command)
cli.add_command(sandbox_group)
sandbox_group.add_command(serve_command)



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
        # The message may quote what a server answered: shown without its terminal controls.
        click.echo(_("Error: %(message)s", message=" ".join(clean(e.format_message()).split())), err=True)
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

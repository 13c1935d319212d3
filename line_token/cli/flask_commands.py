"""The commands ``flask --app app`` offers too: keygen, jwt and the token and bot groups (the same objects).

They load at their first use: `import app` (gunicorn, the tests) never runs a command, and importing the
command modules (the CLI's helpers, rotation, bot) is a few ms of every start for nothing.
"""
from __future__ import annotations

import importlib
from typing import Any

import click
from flask.cli import AppGroup

# Each command's name on ``flask --app app``: its module in this package and the object there.
COMMANDS = {
    "keygen": ("keys", "keygen_command"),
    "jwt": ("keys", "jwt_command"),
    "token": ("tokens", "token_group"),
    "bot": ("bot", "bot_group"),
}


class _AppCommands(AppGroup):
    """``app.cli`` with our commands listed at once and imported when one is looked up (run, or its help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(f"{__package__}.{module}"), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


def init_app(app: Any) -> None:
    """Register ``keygen``, ``jwt`` and the ``token`` and ``bot`` groups on ``flask --app app``."""
    # A group of our kind in place of Flask's own, with the commands already on it (blueprints' groups).
    cli = _AppCommands(app.cli.name, commands=dict(app.cli.commands))
    app.cli = cli

"""The commands ``flask --app app`` offers too: keygen, jwt and the token and bot groups (the same objects)."""
from __future__ import annotations

from typing import Any

from .bot import bot_group
from .keys import jwt_command, keygen_command
from .tokens import token_group


def init_app(app: Any) -> None:
    """Register ``keygen``, ``jwt`` and the ``token`` and ``bot`` groups on ``flask --app app``."""
    app.cli.add_command(keygen_command)
    app.cli.add_command(jwt_command)
    app.cli.add_command(token_group)
    app.cli.add_command(bot_group)

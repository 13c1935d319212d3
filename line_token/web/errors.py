"""The tester's error shape: the sandbox's handlers (line_token.sandbox.errors), one definition for both."""
from __future__ import annotations

from ..sandbox.errors import init_app, json_error, localise, rate_limit_message, translate, translate_error, wants_json

__all__ = ["json_error", "localise", "translate", "translate_error", "wants_json", "init_app", "rate_limit_message"]

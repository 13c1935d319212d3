"""Placeholder while this module is being built (replaced by its issue's work)."""
from flask import Flask


def init_app(app: Flask) -> None:
    return None

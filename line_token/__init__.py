"""LINE channel access token v2.1 tester.

The top-level ``app.py`` (the Procfile's ``gunicorn app:app``) calls ``create_app()``;
tests build their own with ``create_app({...})``. ``templates/``, ``static/`` and
``translations/`` live at the project's top level, beside this package; an installed
wheel carries them inside the package instead (see pyproject.toml), and
:data:`RESOURCE_ROOT` is wherever they are.
"""
from __future__ import annotations

import os


PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# The project folder: templates/, static/ and translations/ sit beside this package in a checkout.
PROJECT_ROOT = os.path.dirname(PACKAGE_DIR)
# Installed from a wheel (pip/pipx install .), they are inside the package.
INSTALLED = os.path.isdir(os.path.join(PACKAGE_DIR, "templates"))
RESOURCE_ROOT = PACKAGE_DIR if INSTALLED else PROJECT_ROOT


def user_dir(xdg_variable: str, fallback: str) -> str:
    """``$XDG_..._HOME/line-token`` or ``~/<fallback>/line-token`` (the XDG base directory spec)."""
    base = os.environ.get(xdg_variable, "").strip()
    if not os.path.isabs(base):  # the spec says to ignore a relative path
        base = os.path.join(os.path.expanduser("~"), fallback)
    return os.path.join(base, "line-token")


def __getattr__(name: str):
    """``from line_token import create_app`` (app.py, the Procfile, tests) without importing Flask here.

    Importing ``line_token.core`` (or the CLI's ``--help``) must not pay for the web app.
    """
    if name == "create_app":
        from .web.app import create_app  # deferred: Flask and the whole tester load only when asked for

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

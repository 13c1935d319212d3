"""Pages that depend only on the language: rendered once per language per second in each worker.

The GET forms (home, key pair, JWT) show no user input: their HTML is the same for
every visitor who reads the same language, except the CSRF token (per session) and
the JWT page's sample ``exp`` (the current second). So the first request for a
page in a language, each second, renders the template with a placeholder where
the token goes and keeps the HTML cut at the placeholders; every other request
joins the pieces with its own token. About 1 ms of template rendering becomes a
string join (see docs/BENCHMARKS.md); nothing secret is kept: the token is filled in
per request and never stored.

Only for views whose template context is the same for every request to that
endpoint and path; off when templates reload (debug), where edits must show.
"""
from __future__ import annotations

import secrets
import time

from flask import Flask, current_app, g, render_template, request
from flask_babel import get_locale

PLACEHOLDER = f"csrf-placeholder-{secrets.token_hex(16)}"  # per process: never seen in a real page
_RENDERING = "_page_cache_rendering"


def render_page(template: str, lazy=None, **context) -> str:
    """``render_template`` for a page whose context is constant, cached as described above.
    ``lazy``: a callable giving more context, called only when the page is really rendered."""
    app = current_app

    def render(**extra) -> str:
        return render_template(template, **context, **extra, **(lazy() if lazy else {}))

    if app.debug or app.config.get("TEMPLATES_AUTO_RELOAD") or app.extensions.get("page_cache") is None:
        return render()
    now = int(time.time())
    key = (template, request.endpoint, request.path, str(get_locale()))
    cache = app.extensions["page_cache"]
    hit = cache.get(key)
    if hit is None or hit[0] != now:
        setattr(g, _RENDERING, True)
        try:
            html = render(now=now)
        finally:
            setattr(g, _RENDERING, False)
        hit = cache[key] = (now, html.split(PLACEHOLDER))
    parts = hit[1]
    if len(parts) == 1:
        return parts[0]
    return app.jinja_env.globals["csrf_token"].__wrapped__().join(parts)


def init_app(app: Flask) -> None:
    """After security.init_app, which installs Flask-WTF's ``csrf_token`` template global."""
    real = app.jinja_env.globals.get("csrf_token")
    if real is None:
        return

    def csrf_token() -> str:
        return PLACEHOLDER if g.get(_RENDERING) else real()

    csrf_token.__wrapped__ = real
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.extensions["page_cache"] = {}

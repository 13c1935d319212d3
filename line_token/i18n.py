"""Japanese and English: Flask-Babel, the language from a cookie or Accept-Language.

Catalogs live in ``translations/<lang>/LC_MESSAGES/messages.po``; the binary
``.mo`` files are compiled from them on first start (Babel is pure Python, so
no network is needed) rather than committed.
"""
from __future__ import annotations

import os

from flask import Flask, redirect, request, url_for
from flask_babel import Babel

LANGUAGES = {"ja": "日本語", "en": "English"}
LANG_COOKIE = "lang"

babel = Babel()


def select_locale() -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default="en")


def compile_catalogs(root: str) -> None:
    """Compile each messages.po to messages.mo when the .mo is missing or older."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for lang in LANGUAGES:
        po_path = os.path.join(root, lang, "LC_MESSAGES", "messages.po")
        mo_path = po_path[:-3] + ".mo"
        if not os.path.exists(po_path):
            continue
        if os.path.exists(mo_path) and os.path.getmtime(mo_path) >= os.path.getmtime(po_path):
            continue
        with open(po_path, "rb") as f:
            catalog = read_po(f, locale=lang)
        tmp = f"{mo_path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            write_mo(f, catalog)
        os.replace(tmp, mo_path)  # atomic: several workers may compile at once


def language_from_env(environ=os.environ) -> str:
    """The command line's language: ``ja`` when the POSIX locale variables say Japanese, else ``en``.

    Checked in POSIX order (LC_ALL, LC_MESSAGES, LANG); LANGUAGE, GNU's list of preferences,
    comes first when set, as gettext does.
    """
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = (environ.get(name) or "").strip()
        if value:
            first = value.split(":")[0].lower()
            if name == "LANGUAGE" and first in ("", "c", "posix"):
                continue
            return "ja" if first.startswith("ja") else "en"
    return "en"


def cli_translations(lang: str):
    """A gettext translations object for the command line: the web pages' own catalog.

    Reads the compiled ``.mo`` when it is at least as new as the ``.po``, else compiles the
    ``.po`` in memory; never writes (an installed package may sit in a read-only folder).
    """
    import gettext as gettext_module

    if lang not in LANGUAGES or lang == "en":
        return gettext_module.NullTranslations()
    from . import RESOURCE_ROOT

    po_path = os.path.join(RESOURCE_ROOT, "translations", lang, "LC_MESSAGES", "messages.po")
    mo_path = po_path[:-3] + ".mo"
    try:
        if os.path.exists(mo_path) and os.path.getmtime(mo_path) >= os.path.getmtime(po_path):
            with open(mo_path, "rb") as f:
                return gettext_module.GNUTranslations(f)
        import io

        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with open(po_path, "rb") as f:
            catalog = read_po(f, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return gettext_module.GNUTranslations(buffer)
    except OSError:
        return gettext_module.NullTranslations()


def init_app(app: Flask) -> None:
    translations = os.path.join(app.root_path, "translations")
    compile_catalogs(translations)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=translations)

    @app.context_processor
    def languages():
        from flask_babel import get_locale

        return {"LANGUAGES": LANGUAGES, "current_lang": str(get_locale() or "en")}

    @app.get("/lang/<lang>")
    def set_language(lang: str):
        """Remember the chosen language in a cookie and go back to the page."""
        target = request.args.get("next", "")
        # Only a path on this site: browsers read "/\\host" like "//host", and drop tabs and newlines.
        if not target.startswith("/") or target[1:2] in ("/", "\\") or any(c in target for c in "\\\t\r\n"):
            target = url_for("views.home")
        response = redirect(target)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        return response

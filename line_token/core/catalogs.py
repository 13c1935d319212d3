"""The translation catalogs without Flask: loading them, the command line's language, and translating a message.

The web pages select their language per request (line_token.web.i18n); both load the same catalogs with
:func:`load_catalog` and fill in messages with :func:`translate`. The text of every language lives in
``translations/<lang>/LC_MESSAGES/messages.po``, nowhere in the code.
"""
from __future__ import annotations

import gettext as gettext_module
import io
import os
from typing import Any, Callable

from .signing import Duration

LANGUAGES = ("ja", "en")  # the web pages show each by its own name (web/i18n.py, from Babel's locale data)
DOMAIN = "messages"


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


def load_catalog(root: str, lang: str, translations: Callable[[Any], Any] = gettext_module.GNUTranslations,
                 null: Callable[[], Any] = gettext_module.NullTranslations):
    """One language's catalog under ``root``: the compiled ``.mo`` when it is at least as new as the ``.po``,
    else the ``.po`` compiled in memory (Babel is pure Python); ``null()`` when there is none.

    Never writes: an installed package may sit in a read-only folder. ``translations`` makes the catalog
    from a binary file (the web passes Babel's ``Translations``, which Flask-Babel needs).
    """
    po_path = os.path.join(root, lang, "LC_MESSAGES", f"{DOMAIN}.po")
    mo_path = po_path[:-3] + ".mo"
    try:
        po_time = os.path.getmtime(po_path) if os.path.exists(po_path) else None
        if os.path.exists(mo_path) and (po_time is None or os.path.getmtime(mo_path) >= po_time):
            with open(mo_path, "rb") as f:
                return translations(f)
        if po_time is None:
            return null()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with open(po_path, "rb") as f:
            catalog = read_po(f, locale=lang)
    except OSError:
        return null()
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return translations(buffer)


def cli_translations(lang: str):
    """The command line's gettext object: the web pages' own catalog (English needs none)."""
    if lang not in LANGUAGES or lang == "en":
        return gettext_module.NullTranslations()
    from .. import RESOURCE_ROOT

    return load_catalog(os.path.join(RESOURCE_ROOT, "translations"), lang)


class Phrase(str):
    """A message parameter that is itself a message (N_-marked): :func:`translate` translates it too."""


def localise(gettext: Callable[[str], str], value: Any) -> Any:
    """A message parameter in the language of ``gettext``: durations carry their unit, phrases are translated."""
    if isinstance(value, Duration):
        return value.localised(gettext)
    if isinstance(value, Phrase):
        return gettext(value)
    return value


def translate(gettext: Callable[[str], str], template: str, params: dict | None = None) -> str:
    """``template`` (an N_-marked message) in the language of ``gettext``, its ``%(name)s`` params filled in.

    The one translate helper: the pages bind it to the request's catalog (sandbox/answers.py), the command
    line to its own (cli/common.py). A translation whose placeholders don't fit falls back to English.
    """
    params = {name: localise(gettext, value) for name, value in (params or {}).items()}
    text = gettext(template)
    try:
        return text % params if params else text
    except (KeyError, ValueError, TypeError):  # a broken translation must not hide the message
        try:
            return template % params if params else template
        except (KeyError, ValueError, TypeError):
            return template

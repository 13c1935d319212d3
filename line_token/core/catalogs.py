"""The translation catalogs without Flask: the command line's language and its gettext object.

The web pages select their language per request (line_token.web.i18n); both read the same catalogs.
"""
from __future__ import annotations

import os

LANGUAGES = {"ja": "日本語", "en": "English"}


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
    from .. import RESOURCE_ROOT

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

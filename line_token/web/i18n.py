"""Japanese and English: Flask-Babel, the language from a cookie or Accept-Language.

Catalogs live in ``translations/<lang>/LC_MESSAGES/messages.po``. The install step
compiles them (``pybabel compile -d translations``: scripts/test and
scripts/translations do it); the binary ``.mo`` files stay out of git. Each catalog is
loaded once per process, at the first request in its language (not at start: `import app`
stays cheap): from its ``.mo`` when that is at least as new as
the ``.po``, else compiled from the ``.po`` in memory (Babel is pure Python), so a
fresh checkout or a read-only deploy works without writing anything.

The loaded catalogs are handed to Flask-Babel's per-locale cache, and the templates
get ``_``/``gettext``/``ngettext`` bound to the request's catalog by a context
processor: one locale lookup per render instead of three context-local lookups per
string (a page translates about 70 strings).
"""
from __future__ import annotations

import functools
import os
import threading

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, redirect, request, url_for
from flask_babel import Babel, get_locale
from jinja2 import pass_context
from markupsafe import Markup

from ..core import catalogs
from ..core.catalogs import DOMAIN, cli_translations, language_from_env  # noqa: F401  (i18n.* as before)

LANG_COOKIE = "lang"

babel = Babel()


_LOCALES = {lang: Locale.parse(lang) for lang in catalogs.LANGUAGES}  # parsed once: Flask-Babel takes a Locale as it is


@functools.cache
def language_names() -> dict[str, str]:
    """The language switch: each language by its own name (Babel's locale data), e.g. "English".
    Computed at the first page, not at import: reading the locale data costs ~15 ms `import app` need not pay."""
    return {lang: locale.get_display_name(lang) for lang, locale in _LOCALES.items()}


def select_locale() -> Locale:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen not in _LOCALES:
        chosen = request.accept_languages.best_match(list(_LOCALES), default="en")
    # The catalog before Flask-Babel's first lookup in this language (it reads only its cache, filled by us).
    current_app.extensions["line_token_i18n_callables"](chosen)
    return _LOCALES[chosen]


def load_catalog(root: str, lang: str) -> Translations | NullTranslations:
    """One language's catalog as Flask-Babel takes it (core.catalogs.load_catalog: the ``.mo`` if current,
    else the ``.po`` compiled in memory)."""
    return catalogs.load_catalog(root, lang, lambda f: Translations(f, domain=DOMAIN), NullTranslations)


def _template_callables(translations, translations_lang: str) -> dict:
    """Jinja's new-style gettext (as ``jinja2.ext`` installs it) bound to one catalog."""
    ugettext, ungettext = translations.ugettext, translations.ungettext

    @pass_context
    def gettext(__context, __string, **variables):
        rv = ugettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables  # always, as jinja2 does: "%%" becomes "%"

    @pass_context
    def ngettext(__context, __singular, __plural, __num, **variables):
        variables.setdefault("num", __num)
        rv = ungettext(__singular, __plural, __num)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext, "lang": translations_lang}


def init_app(app: Flask) -> None:
    translations_dir = os.path.join(app.root_path, "translations")
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=translations_dir)
    # Flask-Babel's own cache, keyed as it keys it, filled by us: it never reads the disk itself.
    with app.app_context():
        cache = babel.domain_instance.cache
    callables: dict = {}
    lock = threading.Lock()

    def callables_for(lang: str) -> dict:
        """The language's bound callables, its catalog loaded on first use in this process (and put in
        Flask-Babel's cache before it looks). Not at start: compiling the Japanese ``.po`` when no ``.mo``
        is there costs tens of ms, which `import app` and every CLI-free start would pay for nothing."""
        found = callables.get(lang)
        if found is None:
            with lock:
                found = callables.get(lang)
                if found is None:
                    catalog = load_catalog(translations_dir, lang)
                    cache[lang, DOMAIN] = catalog
                    found = callables[lang] = _template_callables(catalog, lang)
        return found

    def current_callables() -> dict:
        """The request's bound callables, found once per request."""
        try:
            return g._i18n_callables
        except AttributeError:
            lang = str(get_locale() or "en")
            found = g._i18n_callables = callables_for(lang if lang in _LOCALES else "en")
            return found

    app.extensions["line_token_i18n_callables"] = callables_for

    # Macros imported without context (``{% import "_macros.html" as m %}``) see only the
    # environment's globals: these find the request's callables through ``g``, once per call.
    @pass_context
    def env_gettext(__context, __string, **variables):
        return current_callables()["gettext"](__context, __string, **variables)

    @pass_context
    def env_ngettext(__context, __singular, __plural, __num, **variables):
        return current_callables()["ngettext"](__context, __singular, __plural, __num, **variables)

    app.jinja_env.globals.update(_=env_gettext, gettext=env_gettext, ngettext=env_ngettext)

    @app.context_processor
    def languages():
        found = current_callables()
        return {"LANGUAGES": language_names(), "current_lang": found["lang"],
                "_": found["_"], "gettext": found["gettext"], "ngettext": found["ngettext"]}

    @app.get("/lang/<lang>")
    def set_language(lang: str):
        """Remember the chosen language in a cookie and go back to the page."""
        target = request.args.get("next", "")
        # Only a path on this site: browsers read "/\\host" like "//host", and drop tabs and newlines.
        if not target.startswith("/") or target[1:2] in ("/", "\\") or any(c in target for c in "\\\t\r\n"):
            target = url_for("views.home")
        response = redirect(target)
        if lang in _LOCALES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        return response

"""Japanese and English: the catalog is complete and current, every page speaks the chosen
language, and the pages load nothing off-machine and run no inline code (strict CSP)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from line_token.web import i18n

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "ja" / "LC_MESSAGES" / "messages.po"
POT = ROOT / "translations" / "messages.pot"
KANA = re.compile(r"[\u3040-\u30ff]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def load(path: Path):
    with open(path, "rb") as f:
        return read_po(f)


def ids(catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


# --------------------------------------------------------------------------- the catalog


def test_every_message_has_a_japanese_translation_with_its_placeholders():
    catalog = load(PO)
    assert len(ids(catalog)) > 300
    untranslated, broken, fuzzy = [], [], []
    for message in catalog:
        if not message.id:
            continue
        msgids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(msgids[0])
            continue
        if message.fuzzy:
            fuzzy.append(msgids[0])
        wanted = set(PLACEHOLDER.findall(msgids[0]))
        if any(set(PLACEHOLDER.findall(s)) != wanted for s in strings):
            broken.append(msgids[0])
    assert untranslated == [], "run scripts/translations and translate these"
    assert broken == [], "translations must keep every %(name)s placeholder"
    assert fuzzy == []


def test_catalog_is_current_with_the_sources(tmp_path):
    """Re-extract as scripts/translations does: a new string can't slip by untranslated."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "N_", "-k", "_",
         "--no-location", "--sort-output", "--ignore-dirs=.venv tests bench", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True)
    extracted = ids(load(fresh))
    assert extracted - ids(load(PO)) == set(), "new strings: run scripts/translations and translate them"
    assert ids(load(PO)) - extracted == set(), "stale strings: run scripts/translations"
    assert ids(load(POT)) == extracted, "translations/messages.pot is out of date: run scripts/translations"


def test_catalogs_load_from_a_clean_read_only_checkout(tmp_path, monkeypatch):
    """Without a compiled .mo (a fresh clone) and on a read-only tree, the app still speaks
    Japanese: the .po is compiled in memory and nothing is written beside it. The tree is made
    read-only, and (as CI runs as root, who may write anyway) any open for writing under it fails."""
    import builtins
    import stat

    root = tmp_path / "tree"
    shutil.copytree(ROOT / "translations", root / "translations", ignore=shutil.ignore_patterns("*.mo"))
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "static", root / "static")
    for folder, dirs, files in os.walk(root):
        for name in files:
            os.chmod(os.path.join(folder, name), stat.S_IRUSR | stat.S_IRGRP)
        os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR)
    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+") and str(file).startswith(str(root)):
            raise PermissionError(13, "Read-only file system", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only_open)
    try:
        from flask import Flask

        app = Flask("readonly", root_path=str(root), template_folder="templates", static_folder="static")
        app.config.update(BABEL_DEFAULT_LOCALE="en", STATIC_BUILD_DIR=str(root / "instance" / "static"))
        i18n.init_app(app)
        app.add_url_rule("/", "views.home", lambda: "home")

        @app.get("/t")
        def page():
            from flask import render_template_string
            from flask_babel import gettext

            return render_template_string("{{ _('Channel secret') }}|" + gettext("Channel ID"))

        answer = app.test_client().get("/t", headers={"Accept-Language": "ja"}).get_data(as_text=True)
        assert answer == "チャネルシークレット|チャネルID"
        assert not list(root.rglob("*.mo"))
    finally:
        for folder, dirs, files in os.walk(root):
            os.chmod(folder, stat.S_IRWXU)


def test_compiled_catalogs_are_used_and_stay_out_of_git(tmp_path):
    """The install step's `pybabel compile` output is what the app loads (when current)."""
    shutil.copytree(ROOT / "translations", tmp_path / "translations", ignore=shutil.ignore_patterns("*.mo"))
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-d", str(tmp_path / "translations")],
                   check=True, capture_output=True)
    mo = tmp_path / "translations" / "ja" / "LC_MESSAGES" / "messages.mo"
    assert mo.exists()
    assert i18n.load_catalog(str(tmp_path / "translations"), "ja").gettext("Channel secret") == "チャネルシークレット"
    # A .po edited after the compile wins: the stale .mo is not used.
    po = mo.with_suffix(".po")
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "チャネルシークレット"', 'msgstr "秘密"'),
                  encoding="utf-8")
    os.utime(po, (mo.stat().st_mtime + 10, mo.stat().st_mtime + 10))
    assert i18n.load_catalog(str(tmp_path / "translations"), "ja").gettext("Channel secret") == "秘密"
    if shutil.which("git") and (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", "translations/ja/LC_MESSAGES/messages.mo"], cwd=ROOT)
        assert ignored.returncode == 0, "compiled catalogs must stay out of git"


def test_console_terms_follow_the_line_developers_console():
    translated = {m.id: m.string for m in load(PO) if isinstance(m.id, str) and m.id}
    assert translated["Channel ID"] == "チャネルID"
    assert translated["Channel secret"] == "チャネルシークレット"
    assert translated["Assertion signing keys"] == "アサーション署名キー"
    assert translated["kid"] == "kid" and translated["JWT"] == "JWT"
    assert "「チャネル基本設定」" in translated["The numeric ID under Basic settings in the LINE Developers Console."]


# --------------------------------------------------------------------------- pages in each language


def html_pages(app) -> list[str]:
    """Every GET route without arguments that answers a person with HTML."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and rule.endpoint not in ("static", "views.favicon"):
            paths.append(rule.rule)
    return sorted(paths)


@pytest.fixture
def pages(app, client) -> list[str]:
    found = [p for p in html_pages(app) if client.get(p).mimetype == "text/html"]
    for expected in ("/", "/oauth2/v2.1/keys", "/oauth2/v2.1/jwt", "/oauth2/v2.1/token", "/oauth2/v2.1/tokens",
                     "/oauth2/v2.1/verify", "/oauth2/v2.1/revoke", "/other-tokens", "/oauth2/v3/token",
                     "/v2/oauth/accessToken", "/v2/oauth/verify", "/v2/oauth/revoke", "/sandbox/"):
        assert expected in found
    return found


def messages_block(page: str, element_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    assert match, f"no #{element_id} block"
    return json.loads(match.group(1))


def test_every_page_is_japanese_for_a_japanese_browser(client, pages):
    for path in pages:
        response = client.get(path, headers={"Accept-Language": "ja,en-US;q=0.8"})
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert '<html lang="ja">' in page, path
        visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", page, flags=re.S)
        assert len(KANA.findall(visible)) > 30, f"{path} shows little Japanese"
        strings = messages_block(page, "i18n")  # what app.js shows (copy, show/hide, key generation)
        assert strings["lang"] == "ja" and strings["copied"] == "コピーしました" and strings["show"] == "表示"


def test_every_page_is_english_by_default(client, pages):
    for path in pages:
        page = client.get(path, headers={"Accept-Language": "de-DE,fr;q=0.9"}).get_data(as_text=True)
        assert '<html lang="en">' in page, path
        visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", page, flags=re.S).replace("日本語", "")
        assert not KANA.search(visible), path


def test_the_switch_remembers_the_choice(client):
    response = client.get("/lang/en?next=/oauth2/v2.1/jwt", headers={"Accept-Language": "ja"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/oauth2/v2.1/jwt")
    assert "lang=en" in response.headers["Set-Cookie"]
    for path in ("/", "/oauth2/v2.1/verify", "/sandbox/"):
        assert '<html lang="en">' in client.get(path, headers={"Accept-Language": "ja"}).get_data(as_text=True)
    client.get("/lang/ja?next=/")
    page = client.get("/oauth2/v2.1/keys", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="ja">' in page and "ステップ1" in page


def test_jwt_page_hands_the_browser_signer_japanese_messages(client):
    page = client.get("/oauth2/v2.1/jwt", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    messages = messages_block(page, "jwt-messages")
    assert messages["empty_key"].startswith("秘密鍵が空です")
    assert "%(bits)d" in messages["bits"] and "%(value)s" in messages["exp_minutes"]  # jwt.js fills these in


def test_errors_and_explanations_are_japanese(client):
    page = client.get("/no-such-page", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert "404 · 見つかりません" in page and "このアドレスにはページがありません。" in page
    page = client.post("/oauth2/v2.1/jwt", data={"channel_id": "abc", "private_key": ""},
                       headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert "秘密鍵が空です" in page and 'aria-describedby="private_key-hint private_key-error"' in page
    page = client.post("/oauth2/v2.1/verify", data={"access_token": "made.up.token", "target": "sandbox"},
                       headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert "このトークンは無効です" in page and 'id="explanation"' in page


# --------------------------------------------------------------------------- strict CSP, nothing off-machine


TEMPLATES = sorted([*(ROOT / "templates").rglob("*.html"), *(ROOT / "line_token").rglob("*.html")])
STATIC = sorted((ROOT / "static").glob("*.*"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_code_or_style(path):
    text = path.read_text()
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert not re.search(r"\sstyle\s*=", text), "inline style attribute"
    assert "<style" not in text
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"""(src|action)\s*=\s*["']?(https?:)?//""", text), "a URL off this machine"
    assert not re.search(r"""<link\b[^>]*href\s*=\s*["']?(https?:)?//""", text), "a stylesheet or icon off this machine"
    # Links a person may follow (<a href>) go only to LINE's own pages (the console and its docs).
    for url in re.findall(r"""<a\b[^>]*href\s*=\s*["']?((?:https?:)?//[^"' >]*)""", text):
        assert url.startswith("https://developers.line.biz/"), url


@pytest.mark.parametrize("path", STATIC, ids=lambda p: p.name)
def test_static_files_load_nothing_off_machine(path):
    text = path.read_text(errors="replace")
    assert "@import" not in text and not re.search(r"url\(\s*['\"]?(https?:)?//", text)
    assert not re.search(r"""fetch\(\s*['"]https?:|XMLHttpRequest""", text)

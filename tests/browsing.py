"""Helpers for the real-browser tests: Debian's chromium under Playwright, and a watcher
that records what a page logs and every request it makes."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots"

# Debian's chromium, headless, with nothing that phones home (Playwright's own browser download is unavailable).
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
KANA = re.compile(r"[\u3040-\u30ff]")


def chromium_or_skip() -> str:
    """chromium's path; a skip saying how to install it, or a failure under CI=true."""
    path = shutil.which("chromium")
    problem = None
    if not path:
        problem = "chromium is not installed: apt-get install chromium (scripts/test does this)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright is not installed: pip install -r requirements-test.txt"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI: {problem}")
        pytest.skip(problem)
    return path


@lru_cache(maxsize=None)
def _catalog(lang: str) -> dict:
    from babel.messages.pofile import read_po

    with open(ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id}


def tr(lang: str, msgid: str, **params) -> str:
    """The text the app shows for ``msgid`` in ``lang`` (from the catalog the app compiles)."""
    text = msgid if lang == "en" else (_catalog(lang).get(msgid) or msgid)
    return text % params if params else text


class Watch:
    """Everything a page reports: console errors, uncaught exceptions, and every request with its body."""

    def __init__(self, page, base_url: str):
        self.base = base_url.rstrip("/")
        self.problems: list[str] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, url, body as text)
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.problems.append(f"uncaught: {err}"))
        page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _request(self, request) -> None:
        body = request.post_data_buffer or b""
        self.requests.append((request.method, request.url, body.decode("utf-8", "replace")))

    def off_machine(self) -> list[str]:
        """URLs of requests that went anywhere but this app (data: and blob: stay in the page)."""
        return [url for _, url, _ in self.requests
                if not (url == self.base or url.startswith(self.base + "/") or url.startswith(("data:", "blob:")))]

    def carrying(self, secret: str) -> list[str]:
        """Requests whose URL or body holds ``secret`` (also URL-decoded)."""
        return [f"{method} {url}" for method, url, body in self.requests
                if secret in url or secret in unquote_plus(url) or secret in body or secret in unquote_plus(body)]

    def assert_clean(self) -> None:
        assert self.problems == [], self.problems
        assert self.off_machine() == [], self.off_machine()


@contextlib.contextmanager
def tab(browser, base: str, locale: str, viewport: dict = DESKTOP, timeout: int = 20_000, **options):
    """A page in a fresh browser context (``options`` as Playwright's new_context takes them) and a Watch on it
    for ``base``; the context closes after."""
    context = browser.new_context(locale=locale, viewport=viewport, **options)
    context.set_default_timeout(timeout)
    try:
        page = context.new_page()
        yield page, Watch(page, base)
    finally:
        context.close()


def create_console_channel(page, base: str, name: str) -> tuple[str, str]:
    """Create a channel on the sandbox console at ``base``/sandbox/ as a person does; its ID and secret."""
    from playwright.sync_api import expect

    page.goto(base + "/sandbox/")
    page.fill("#name", name)
    page.click("#create-channel button[type=submit]")
    expect(page.locator("#created-channel")).to_be_visible()
    return page.inner_text("#new-channel-id").strip(), page.input_value("#channel_secret")


def screenshot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


# Checks run on every page in both languages (and at phone width).
PAGE_AUDIT_JS = """() => {
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const unlabelled = [...document.querySelectorAll("input:not([type=hidden]), textarea, select")]
    .filter(el => visible(el) || el.type === "radio" || el.type === "checkbox")
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
    .map(el => el.id || el.name);
  const handlers = [...document.querySelectorAll("*")].flatMap(el =>
    [...el.attributes].filter(a => /^on/i.test(a.name)).map(a => el.tagName + "[" + a.name + "]"));
  return {
    unlabelled,
    handlers,
    styled: [...document.querySelectorAll("[style]")].map(el => el.tagName + "#" + el.id),
    inlineScripts: [...document.querySelectorAll("script:not([src])")].filter(s => s.type !== "application/json").length,
    styleTags: document.querySelectorAll("style").length,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    text: document.body.innerText,
    lang: document.documentElement.lang,
  };
}"""

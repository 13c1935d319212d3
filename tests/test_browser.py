"""The pages as a person uses them, in a real browser (Playwright driving Debian's chromium),
in English and Japanese, against the Procfile server (CSRF enforced, sandbox as the target).

Screenshots of every page per language land in test-artifacts/screenshots/ (not committed).
"""
from __future__ import annotations

import json
import re
import time

import pytest

from line_token.core import signing
from browsing import (DESKTOP, KANA, PAGE_AUDIT_JS, PHONE, Watch, clipboard,
                     screenshot, tr)

pytestmark = [pytest.mark.browser, pytest.mark.server]

LANGS = ["en", "ja"]
LOCALES = {"en": "en-US", "ja": "ja-JP"}

# Every page a person can open with a GET, and its screenshot name.
PAGES = {
    "home": "/",
    "keys": "/oauth2/v2.1/keys",
    "sandbox": "/sandbox/",
    "jwt": "/oauth2/v2.1/jwt",
    "token": "/oauth2/v2.1/token",
    "tokens": "/oauth2/v2.1/tokens",
    "verify": "/oauth2/v2.1/verify",
    "revoke": "/oauth2/v2.1/revoke",
    "other": "/other-tokens",
    "stateless": "/oauth2/v3/token",
    "v2-issue": "/v2/oauth/accessToken",
    "v2-verify": "/v2/oauth/verify",
    "v2-revoke": "/v2/oauth/revoke",
    "try": "/v2/bot/info",
}

RELATIVE = {  # what Intl.RelativeTimeFormat writes for the expiry, per language
    ("en", 30, "minute"): r"in 30 minutes", ("ja", 30, "minute"): r"30\s*分後",
    ("en", 30, "day"): r"in 30 days", ("ja", 30, "day"): r"30\s*日後",
    ("en", 1, "day"): r"in (1 day|24 hours)", ("ja", 1, "day"): r"(1\s*日|24\s*時間)後",  # a second under a day reads "24 hours"
}


# The session-wide `browser` fixture is in conftest.py (shared with test_browser_flow.py).


@pytest.fixture
def context_for(browser, live_server):
    """Factory: a fresh browser profile (cookies, sessionStorage) speaking ``lang``."""
    contexts = []

    def _make(lang: str, viewport: dict = DESKTOP, javascript: bool = True):
        context = browser.new_context(locale=LOCALES[lang], viewport=viewport, java_script_enabled=javascript)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield _make
    for context in contexts:
        context.close()


def audit(page, lang: str) -> dict:
    """Checks every page must pass: language, labels, no inline script/style/handlers."""
    found = page.evaluate(PAGE_AUDIT_JS)
    assert found["lang"] == lang
    assert found["unlabelled"] == [], f"form controls without a label on {page.url}"
    assert found["handlers"] == [] and found["styled"] == [] and found["styleTags"] == 0
    assert found["inlineScripts"] == 0
    if lang == "ja":
        assert len(KANA.findall(found["text"])) > 20, f"{page.url} shows little Japanese"
    else:
        assert not KANA.search(found["text"]), f"{page.url} shows Japanese in English"
    return found


def copy_and_read(page, copy_for: str, lang: str) -> str:
    """Press the copy button for element ``copy_for``; return what landed on the clipboard."""
    button = page.locator(f'button.copy[data-copy="{copy_for}"]')
    button.click()
    from playwright.sync_api import expect

    expect(button).to_have_text(tr(lang, "Copied"))
    return clipboard(page)


# --------------------------------------------------------------------------- every page, both languages


def shown_jwt(page, prefix: str) -> tuple[str, dict, dict]:
    """The JWT a result shows (``#browser-jwt`` signed in the browser, ``#jwt`` on the server), its header
    and payload."""
    return (page.inner_text(prefix + "-token").strip(), json.loads(page.inner_text(prefix + "-header")),
            json.loads(page.inner_text(prefix + "-payload")))


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_loads_clean_in_both_languages_and_on_a_phone(context_for, live_server, lang):
    sideways = []
    for viewport, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        page = context_for(lang, viewport).new_page()
        watch = Watch(page, live_server.url)
        for name, path in PAGES.items():
            response = page.goto(live_server.url + path)
            assert response.status == 200, path
            found = audit(page, lang)
            screenshot(page, f"{lang}{suffix}-{name}")
            if found["overflow"] > 0:
                sideways.append(f"{path} by {found['overflow']} px at {viewport['width']} px")
        watch.assert_clean()
    assert sideways == [], "pages that scroll sideways"


def test_language_switch_is_remembered(context_for, live_server):
    from playwright.sync_api import expect

    page = context_for("en").new_page()
    watch = Watch(page, live_server.url)
    page.goto(live_server.url + "/oauth2/v2.1/jwt")
    expect(page.locator("h1")).to_have_text("Step 3: sign the JWT assertion")
    page.click('.lang a[data-lang="ja"]')
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    assert page.url == live_server.url + "/oauth2/v2.1/jwt"  # back on the same page
    expect(page.locator("h1")).to_have_text(tr("ja", "Step 3: sign the JWT assertion"))
    page.goto(live_server.url + "/oauth2/v2.1/verify")  # the cookie outlives the page
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.click('.lang a[data-lang="en"]')
    page.goto(live_server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    watch.assert_clean()


# --------------------------------------------------------------------------- the whole flow


@pytest.mark.parametrize("lang", LANGS)
def test_whole_flow_in_the_browser(context_for, live_server, lang):
    """Keys in the browser → sandbox channel + key → JWT (browser, then server) → issue → list → verify → revoke."""
    from playwright.sync_api import expect

    base = live_server.url
    context = context_for(lang)
    page = context.new_page()
    watch = Watch(page, base)

    # 1. A key pair made by the browser.
    page.goto(base + "/oauth2/v2.1/keys")
    audit(page, lang)
    page.click("#generate-in-browser")
    expect(page.locator("#browser-keys")).to_be_visible(timeout=30_000)
    expect(page.locator("#keygen-status")).to_have_text(
        tr(lang, "Done. Copy and keep the private key now: it is not saved anywhere."))
    private = json.loads(page.inner_text("#browser-private"))
    public = json.loads(page.inner_text("#browser-public"))
    assert private["d"] and "d" not in public and "kid" not in public
    assert signing.check_public_jwk(public)
    assert json.loads(copy_and_read(page, "browser-public", lang)) == public
    assert json.loads(copy_and_read(page, "browser-private", lang)) == private
    private_box = page.locator("#browser-private")  # blurred until asked for; copying works either way
    expect(private_box).to_have_class(re.compile(r"\bmasked-output\b"))
    screenshot(page, f"{lang}-flow-1-keys")
    page.click('button.toggle-secret[data-target="browser-private"]')
    expect(private_box).to_have_class(re.compile(r"\brevealed\b"))
    expect(page.locator('button.toggle-secret[data-target="browser-private"]')).to_have_attribute("aria-pressed", "true")

    # 2. The sandbox console: a channel, then the public key from step 1 with one click.
    page.click("#register-in-sandbox")
    expect(page.locator("h1")).to_have_text(tr(lang, "Step 2: register the public key (sandbox console)"))
    page.fill("#name", "browser flow")
    page.click("#create-channel button[type=submit]")
    expect(page.locator("#created-channel")).to_be_visible()
    channel_id = page.inner_text("#new-channel-id").strip()
    assert re.fullmatch(r"\d{10}", channel_id)
    secret_field = page.locator("#channel_secret")
    expect(secret_field).to_have_attribute("type", "password")
    page.click('button.toggle-secret[data-target="channel_secret"]')
    expect(secret_field).to_have_attribute("type", "text")
    expect(page.locator('button.toggle-secret[data-target="channel_secret"]')).to_have_text(tr(lang, "Hide"))
    channel_secret = copy_and_read(page, "channel_secret", lang)
    assert channel_secret and channel_secret == secret_field.input_value()
    page.click("#fill-public-key")
    assert json.loads(page.input_value("#public_key")) == public
    page.click("#register-key-form button[type=submit]")
    expect(page.locator("#registered-key")).to_be_visible()
    kid = page.inner_text("#new-kid").strip()
    assert kid
    audit(page, lang)
    screenshot(page, f"{lang}-flow-2-sandbox")

    # 3a. Sign the JWT in this browser: the fields fill themselves from this tab.
    page.click("#registered-key a.button")
    expect(page.locator("#channel_id")).to_have_value(channel_id)
    expect(page.locator("#kid")).to_have_value(kid)
    assert json.loads(page.input_value("#private_key")) == private
    expect(page.locator('input[name="sign_in"][value="browser"]')).to_be_checked()
    expect(page.locator("#sign-button")).to_have_text(tr(lang, "Sign in this browser"))
    page.click("#sign-button")
    expect(page.locator("#browser-result")).to_be_visible()
    jwt_browser, header, payload = shown_jwt(page, "#browser-jwt")
    assert header == {"alg": "RS256", "typ": "JWT", "kid": kid}
    assert signing.decode_unverified(jwt_browser) == (header, payload)
    assert signing.verify_signature(jwt_browser, public)
    now = int(time.time())
    assert payload["iss"] == payload["sub"] == channel_id and payload["aud"] == "https://api.line.me/"
    assert payload["token_exp"] == 86400 and abs(payload["exp"] - (now + 1800)) < 120  # the 1-day default
    signing.validate_claims(header, payload)  # the server's own rules accept what the browser signed
    expect(page.locator("#browser-exp-relative")).to_have_text(re.compile(RELATIVE[lang, 30, "minute"]))
    assert page.inner_text("#browser-exp").strip()  # local date and time
    assert copy_and_read(page, "browser-jwt-token", lang) == jwt_browser
    screenshot(page, f"{lang}-flow-3-jwt-browser")
    page.set_viewport_size(PHONE)
    screenshot(page, f"{lang}-phone-flow-3-jwt-browser")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.set_viewport_size(DESKTOP)

    # 4. Issue: the JWT is carried over by POST, the target stays the sandbox.
    page.click("#browser-result form.next button")
    expect(page.locator("#client_assertion")).to_have_value(jwt_browser)
    expect(page.locator('input[name="target"][value="sandbox"]')).to_be_checked()
    page.click("#token-form button[type=submit]")
    expect(page.locator("#result-title")).to_have_text(tr(lang, "Token issued"))
    access_token = page.inner_text("#access-token").strip()
    key_id = page.inner_text("#key-id").strip()
    assert access_token.count(".") == 2 and len(key_id) == 22
    expect(page.locator("#expires-in")).to_contain_text("86400")  # the JWT's 1-day default token_exp
    expect(page.locator("#expires-in .relative")).to_have_text(re.compile(RELATIVE[lang, 1, "day"]))
    assert copy_and_read(page, "access-token", lang) == access_token
    audit(page, lang)
    screenshot(page, f"{lang}-flow-4-token")
    page.set_viewport_size(PHONE)
    screenshot(page, f"{lang}-phone-flow-4-token")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.set_viewport_size(DESKTOP)

    # 5. List the valid tokens with the same JWT.
    page.get_by_role("button", name=tr(lang, "List valid tokens with the same JWT")).click()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "Valid tokens"))
    expect(page.locator("#kids")).to_contain_text(key_id)
    screenshot(page, f"{lang}-flow-5-list")

    # 6. Verify, pasting the token copied on the issue page.
    page.goto(base + "/oauth2/v2.1/verify")
    expect(page.locator('input[name="target"][value="sandbox"]')).to_be_checked()
    page.fill("#access_token", clipboard(page))
    page.click("#verify-form button[type=submit]")
    expect(page.locator("#result-title")).to_have_text(tr(lang, "The token is valid"))
    expect(page.locator("#client-id")).to_have_text(channel_id)
    screenshot(page, f"{lang}-flow-6-verify")

    # 7. Revoke: token and channel ID carried over, the secret pasted; then verify again.
    page.get_by_role("button", name=tr(lang, "Revoke this token…")).click()
    expect(page.locator("#access_token")).to_have_value(access_token)
    expect(page.locator("#client_id")).to_have_value(channel_id)
    page.fill("#client_secret", channel_secret)
    page.click("#revoke-form button[type=submit]")
    expect(page.locator("#revoke-result-note")).to_be_visible()
    expect(page.locator("#response-status")).to_have_text("200")
    screenshot(page, f"{lang}-flow-7-revoke")
    page.get_by_role("button", name=tr(lang, "Verify this token now")).click()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "The token is not valid"))
    expect(page.locator("#explanation")).to_have_text(
        tr(lang, "This token was revoked, or LINE does not know it. Issue a new one."))
    screenshot(page, f"{lang}-flow-8-verify-revoked")

    # The one-step fields of the token and list pages fill themselves from this tab too (nothing sent yet).
    for path in ("/oauth2/v2.1/token", "/oauth2/v2.1/tokens"):
        page.goto(base + path)
        expect(page.locator("#channel_id")).to_have_value(channel_id)
        expect(page.locator("#kid")).to_have_value(kid)
        assert json.loads(page.input_value("#private_key")) == private
        expect(page.locator('input[name="target"][value="sandbox"]')).to_be_checked()

    # The private key made and used in this browser never left it.
    assert watch.carrying(private["d"]) == []
    assert watch.carrying(private["p"]) == []
    watch.assert_clean()

    # 3b. The server path (the key is posted by design) signs the same header and payload shape.
    page.goto(base + "/oauth2/v2.1/jwt")
    page.check('input[name="sign_in"][value="server"]')
    expect(page.locator("#sign-button")).to_have_text(tr(lang, "Sign on the server"))
    page.click("#sign-button")
    expect(page.locator("#jwt-result")).to_be_visible()
    jwt_server, server_header, server_payload = shown_jwt(page, "#jwt")
    assert server_header == header
    assert server_payload.keys() == payload.keys()
    assert {k: v for k, v in server_payload.items() if k != "exp"} == {k: v for k, v in payload.items() if k != "exp"}
    assert signing.verify_signature(jwt_server, public)
    expect(page.locator("#jwt-result .relative")).to_have_text(re.compile(RELATIVE[lang, 30, "minute"]))
    screenshot(page, f"{lang}-flow-3b-jwt-server")
    watch.assert_clean()


# --------------------------------------------------------------------------- keyboard and errors


@pytest.mark.parametrize("lang", LANGS)
def test_keyboard_only_and_errors_tied_to_fields(context_for, live_server, lang):
    from playwright.sync_api import expect

    page = context_for(lang).new_page()
    watch = Watch(page, live_server.url)
    page.goto(live_server.url + "/oauth2/v2.1/keys")
    page.keyboard.press("Tab")  # the first stop is the skip link, shown when focused
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["x"] >= 0
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # from the main content, the first control makes the keys
    expect(page.locator("#generate-in-browser")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#browser-keys")).to_be_visible(timeout=30_000)

    # The JWT form, in the browser: the message sits by its field and is announced with it.
    page.goto(live_server.url + "/oauth2/v2.1/jwt")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    page.focus("#channel_id")
    page.keyboard.type("12345")
    page.keyboard.press("Enter")
    field = page.locator("#private_key")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    described = field.get_attribute("aria-describedby").split()
    assert "private_key-error" in described and "private_key-hint" in described
    message = tr(lang, "The private key is empty: paste the private key JSON (JWK) or PEM.")
    expect(page.locator("#private_key-error")).to_have_text(message)

    # The same mistake on the server path gives the same message, tied the same way, plus a summary.
    page.check('input[name="sign_in"][value="server"]')
    page.click("#sign-button")
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#private_key-error")).to_have_text(message)
    assert "private_key-error" in page.locator("#private_key").get_attribute("aria-describedby").split()
    expect(page.locator('input[name="sign_in"][value="server"]')).to_be_checked()  # the choice is kept
    expect(page.locator("#sign-button")).to_have_text(tr(lang, "Sign on the server"))
    screenshot(page, f"{lang}-jwt-error")
    assert [p for p in watch.problems if "status of 400" not in p] == []
    assert watch.off_machine() == []

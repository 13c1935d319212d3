"""Step 6 in a real browser (Playwright + Debian's chromium), in English and Japanese, against the
Procfile server: issue a v2.1 token in the sandbox, press "Try it", see the bot's name and quota;
revoke it, try again, see LINE's 401 explained. The token never shows in a URL."""
from __future__ import annotations

import pytest
import requests

from line_token.core import signing
from browsing import DESKTOP, PHONE, Watch, screenshot, tr
from test_browser import LANGS, audit, context_for  # the browser fixture is in conftest

pytestmark = [pytest.mark.browser, pytest.mark.server]

FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
INVALID_HINT = ("LINE does not accept this token: it is unknown to LINE, expired or revoked. Issue a new token (a "
                "sandbox token works only against the sandbox, a LINE token only at LINE).")


@pytest.mark.parametrize("lang", LANGS)
def test_issue_try_revoke_try_again(context_for, live_server, lang):
    from playwright.sync_api import expect

    base = live_server.url
    name = {"en": "Espresso bot", "ja": "エスプレッソ Bot"}[lang]
    private, public = signing.generate_key_pair()
    channel = requests.post(f"{base}/sandbox/api/channels", json={"name": name}, timeout=10).json()
    kid = requests.post(f"{base}/sandbox/api/channels/{channel['channel_id']}/keys", json=public,
                        auth=(channel['channel_id'], channel['channel_secret']), timeout=10).json()["kid"]
    jwt = signing.build_assertion(channel["channel_id"], kid, signing.load_private_key(private), 3600)

    page = context_for(lang).new_page()
    watch = Watch(page, base)
    # Issue a v2.1 token in the sandbox with a ready JWT.
    page.goto(base + "/oauth2/v2.1/token")
    page.check('input[name="target"][value="sandbox"]')
    page.fill("#client_assertion", jwt)
    page.locator("#token-form button[type=submit]").click()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "Token issued"))
    token = page.locator("#access-token").text_content().strip()
    assert token.count(".") == 2

    # "Try it" posts the token to step 6 and shows the bot and its quota.
    page.get_by_role("button", name=tr(lang, "Try it"), exact=True).click()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "The token works"))
    expect(page.locator("#bot-name")).to_have_text(name)
    expect(page.locator("#quota")).to_contain_text(tr(lang, "No limit"))
    expect(page.locator("#consumption")).to_contain_text("0")
    assert page.locator("#bot-basic-id").text_content().startswith("@")
    assert page.locator("#bot-profile img").evaluate("img => img.complete && img.naturalWidth > 0"), \
        "the sandbox's picture loads in the page"
    audit(page, lang)
    screenshot(page, f"{lang}-try-works")
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the result scrolls sideways on a phone by {overflow} px"
    screenshot(page, f"{lang}-phone-try-works")
    page.set_viewport_size(DESKTOP)
    # The code snippets show the token masked until "include secrets" is ticked.
    assert token not in page.locator("#curl-masked-wrap").text_content()
    expect(page.locator("#curl-full-wrap")).to_be_hidden()
    page.check("#curl-include-secrets")
    expect(page.locator("#curl-full-wrap")).to_be_visible()
    assert f"Authorization: Bearer {token}" in page.locator("#curl-full").text_content()
    assert token in page.locator("#python-full").text_content()

    # Revoke it with the next step (prefilled), then try it again.
    page.get_by_role("button", name=tr(lang, "Revoke this token…"), exact=True).click()
    page.fill("#client_id", channel["channel_id"])
    page.fill("#client_secret", channel["channel_secret"])
    page.locator("form#revoke-form button[type=submit]").click()
    expect(page.locator("#response-status")).to_have_text("200")

    page.goto(base + "/v2/bot/info")
    audit(page, lang)
    page.check('input[name="target"][value="sandbox"]')
    page.fill("#access_token", token)
    page.get_by_role("button", name=tr(lang, "Try it"), exact=True).click()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "The token does not work"))
    expect(page.locator("#refusal")).to_have_text(tr(lang, "Reason: the token is invalid, expired or revoked."))
    expect(page.locator("#line-message")).to_have_text(FAILED)
    expect(page.locator("#explanation")).to_have_text(tr(lang, INVALID_HINT))
    expect(page.locator("#status-bot_info")).to_have_text("401")
    screenshot(page, f"{lang}-try-revoked")

    assert token not in live_server.log() and jwt not in live_server.log()
    watch.assert_clean()
    assert [u for u in watch.carrying(token) if "?" in u or token in u.split(" ", 1)[1]] == [], \
        "the token travelled in a URL"

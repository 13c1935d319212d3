"""The sandbox console in Debian's chromium against a real Procfile server (issues 11 and 13 item 1):
the channel secret survives every step in the tab (hidden fields; sessionStorage with JavaScript on),
never travels in a URL, and the console works the same with JavaScript off."""
from __future__ import annotations

import json
import re
from urllib.parse import unquote_plus

import pytest

from browsing import DESKTOP, Watch, create_console_channel
from line_token.core import signing

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module")
def public_jwk():
    return signing.generate_key_pair()[1]


def urls_carrying(watch: Watch, secret: str) -> list[str]:
    return [url for _, url, _ in watch.requests if secret in url or secret in unquote_plus(url)]


def test_secret_stays_in_the_tab_through_every_step(browser, start_server, public_jwk):
    from playwright.sync_api import expect

    server = start_server()
    context = browser.new_context(locale="en-US", viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = Watch(page, server.url)
    channel_id, secret = create_console_channel(page, server.url, "tab secret")
    assert re.fullmatch(r"[0-9a-f]{32}", secret)

    # The very next step: register the key. The secret is still shown and retrievable.
    page.fill("#public_key", json.dumps(public_jwk))
    page.click("#register-key-form button[type=submit]")
    expect(page.locator("#registered-key")).to_be_visible()
    kid = page.inner_text("#new-kid").strip()
    assert page.input_value("#channel_secret") == secret
    assert page.evaluate(f"sessionStorage.getItem('lineTester.sandboxSecret.{channel_id}')") == secret
    assert page.evaluate("localStorage.getItem('lineTester.sandboxChannels')").count(channel_id) == 1
    assert secret not in (page.evaluate("JSON.stringify(localStorage)") or "")  # only the tab keeps it

    # A fresh console in the same tab: the remembered channel opens with one click (posted with its secret).
    page.goto(server.url + "/sandbox/")
    expect(page.locator("#open-channel")).to_have_count(0)
    page.click(f'button[data-open-channel="{channel_id}"]')
    expect(page.locator("#open-channel")).to_be_visible()
    expect(page.locator("#open-channel")).to_contain_text(kid)
    assert page.input_value("#channel_secret") == secret

    # A ?channel_id= link fills the ID and, in this tab, the secret: one press on Open.
    page.goto(f"{server.url}/sandbox/?channel_id={channel_id}")
    assert page.input_value('#open-channel-form input[name="channel_secret"]') == secret
    page.click("#open-channel-form button[type=submit]")
    expect(page.locator("#open-channel")).to_contain_text(kid)

    # Another tab of the same browser remembers the ID but not the secret.
    other = context.new_page()
    other.goto(server.url + "/sandbox/")
    other.click(f'button[data-open-channel="{channel_id}"]')
    expect(other.locator('#open-channel-form input[name="channel_secret"]')).to_be_focused()
    expect(other.locator("#open-channel")).to_have_count(0)

    assert urls_carrying(watch, secret) == []
    watch.assert_clean()
    context.close()


def test_console_works_without_javascript(browser, start_server, public_jwk):
    from playwright.sync_api import expect

    server = start_server()
    context = browser.new_context(locale="en-US", viewport=DESKTOP, java_script_enabled=False)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(server.url + "/sandbox/")
    page.fill("#name", "no js")
    page.click("#create-channel button[type=submit]")
    channel_id = page.inner_text("#new-channel-id").strip()
    secret = page.input_value("#channel_secret")
    page.fill("#public_key", json.dumps(public_jwk))
    page.click("#register-key-form button[type=submit]")
    expect(page.locator("#registered-key")).to_be_visible()
    assert page.input_value("#channel_secret") == secret  # still there after the next step
    page.click("#long-lived-form button[type=submit]")
    expect(page.locator("#issued-long-lived")).to_be_visible()

    # Opening a channel again: type the ID and the secret; a wrong secret shows nothing of the channel.
    page.goto(server.url + "/sandbox/")
    page.fill("#channel_id", channel_id)
    page.fill('#open-channel-form input[name="channel_secret"]', "0" * 32)
    page.click("#open-channel-form button[type=submit]")
    expect(page.locator("#channel_secret-error")).to_be_visible()
    expect(page.locator("#open-channel")).to_have_count(0)
    page.fill('#open-channel-form input[name="channel_secret"]', secret)
    page.click("#open-channel-form button[type=submit]")
    expect(page.locator("#open-channel")).to_be_visible()
    expect(page.locator("#open-channel")).to_contain_text("Long-lived")  # the token issued above is listed
    assert secret not in page.url
    context.close()

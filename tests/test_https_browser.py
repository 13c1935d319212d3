"""Every form, in English and Japanese, in a real browser over https:// as deployed: Chromium ->
nginx terminating TLS (Heroku's router's part, tests/deploying.py) -> the Procfile's gunicorn with
TRUST_PROXY=1, CSRF enforced, the sandbox as the target.

Over HTTPS, Flask-WTF also demands a same-origin Referer on every form post; with the old
``Referrer-Policy: no-referrer`` Chromium sent none and every form answered "Form expired".
Each post here must reach its real result instead.
"""
from __future__ import annotations

import json
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from line_token.core import signing
from browsing import DESKTOP, Watch, screenshot, tr
from deploying import behind_tls_proxy

pytestmark = [pytest.mark.browser, pytest.mark.server]

LANGS = ["en", "ja"]
LOCALES = {"en": "en-US", "ja": "ja-JP"}


@pytest.fixture(scope="module")
def https_site(tmp_path_factory):
    """nginx (TLS) -> the Procfile server with TRUST_PROXY=1, as on Heroku."""
    with behind_tls_proxy(tmp_path_factory.mktemp("https-browser")) as site:
        yield site


@pytest.fixture(scope="module")
def pem_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class Site:
    """One browser tab on the https:// site, speaking ``lang``; every post is checked for a CSRF refusal."""

    def __init__(self, page, base: str, lang: str):
        self.page, self.base, self.lang = page, base, lang
        self.expired = tr(lang, "Form expired")
        self.posts = []
        page.on("request", lambda r: self.posts.append(r) if r.method == "POST" else None)

    def open(self, path: str):
        response = self.page.goto(self.base + path)
        assert response.status == 200, path
        assert self.page.evaluate("location.protocol") == "https:"

    def submit(self, button_selector: str):
        """Click a submit button; the answer must be a real page, not the CSRF refusal."""
        before = len(self.posts)
        with self.page.expect_navigation():
            self.page.click(button_selector)
        assert len(self.posts) == before + 1, "the form did not post"
        post = self.posts[-1]
        assert self.expired not in self.page.inner_text("body"), f"{post.url}: {self.expired}"
        assert post.response().status in (200, 201), (post.url, post.response().status)
        referer = post.headers.get("referer", "")
        assert referer.startswith(self.base + "/"), f"a same-origin post without its Referer: {referer!r}"

    def target_sandbox(self, form: str):
        self.page.check(f'{form} input[name="target"][value="sandbox"]')

    def send_to_sandbox(self, path: str, form: str, fields: dict[str, str], variant: str | None = None):
        """Open the page at ``path``, send ``form`` to the sandbox with ``fields`` (selector: value) filled in."""
        self.open(path)
        self.target_sandbox(form)
        if variant:
            self.page.check(f'input[name="variant"][value="{variant}"]')
        for selector, value in fields.items():
            self.page.fill(selector, value)
        self.submit(f"{form} button[type=submit]")

    def heading(self) -> str:
        return self.page.inner_text("#result-title").strip()


@pytest.mark.parametrize("lang", LANGS)
def test_every_form_works_over_https(browser, https_site, pem_key, lang):
    from playwright.sync_api import expect

    proxy, server = https_site
    context = browser.new_context(locale=LOCALES[lang], viewport=DESKTOP, ignore_https_errors=True)
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        site = Site(page, proxy.url, lang)
        watch = Watch(page, proxy.url)

        # Keys: generate on the server.
        site.open("/oauth2/v2.1/keys")
        site.submit('form:has(input[name="action"][value="generate"]) button[type=submit]')
        expect(page.locator("#server-keys h2")).to_have_text(tr(lang, "Your key pair"))
        generated = json.loads(page.inner_text("#server-private"))
        assert generated["kty"] == "RSA" and generated["d"]

        # Keys: convert a PEM.
        page.fill("#pem", pem_key)
        site.submit('form:has(input[name="action"][value="convert"]) button[type=submit]')
        expect(page.locator("#server-keys h2")).to_have_text(tr(lang, "Your key pair"))
        converted = json.loads(page.inner_text("#server-private"))
        assert converted["kty"] == "RSA" and converted["d"] != generated["d"]

        # Keys: the public key from the private one generated above.
        page.fill("#private_key", json.dumps(generated))
        site.submit('form:has(input[name="action"][value="public"]) button[type=submit]')
        public = json.loads(page.inner_text("#server-public"))
        assert public["n"] == generated["n"] and "d" not in public
        screenshot(page, f"https-{lang}-keys")

        # Sandbox console: create a channel, register the public key.
        site.open("/sandbox/")
        page.fill("#name", f"https {lang}")
        site.submit("#create-channel button[type=submit]")
        expect(page.locator("#created-channel")).to_be_visible()
        channel_id = page.inner_text("#new-channel-id").strip()
        secret = page.locator("#channel_secret").input_value()
        assert re.fullmatch(r"\d{10}", channel_id) and secret
        page.fill("#public_key", json.dumps(public))
        site.submit("#register-key-form button[type=submit]")
        expect(page.locator("#registered-key")).to_be_visible()
        kid = page.inner_text("#new-kid").strip()
        assert kid
        screenshot(page, f"https-{lang}-sandbox")

        # JWT: sign on the server.
        site.open("/oauth2/v2.1/jwt")
        page.fill("#channel_id", channel_id)
        page.fill("#kid", kid)
        page.fill("#private_key", json.dumps(generated))
        page.check('input[name="sign_in"][value="server"]')
        site.submit("#sign-button")
        expect(page.locator("#jwt-result")).to_be_visible()
        jwt = page.inner_text("#jwt-token").strip()
        assert signing.verify_signature(jwt, public)

        # Issue a v2.1 token with that JWT.
        site.send_to_sandbox("/oauth2/v2.1/token", "#token-form", {"#client_assertion": jwt})
        assert site.heading() == tr(lang, "Token issued")
        access_token = page.inner_text("#access-token").strip()
        key_id = page.inner_text("#key-id").strip()
        assert access_token.count(".") == 2

        # List the valid tokens.
        site.send_to_sandbox("/oauth2/v2.1/tokens", "#tokens-form", {"#client_assertion": jwt})
        assert site.heading() == tr(lang, "Valid tokens")
        expect(page.locator("#kids")).to_contain_text(key_id)

        # Verify it.
        site.send_to_sandbox("/oauth2/v2.1/verify", "#verify-form", {"#access_token": access_token})
        assert site.heading() == tr(lang, "The token is valid")
        expect(page.locator("#client-id")).to_have_text(channel_id)

        # Revoke it (channel ID and secret from the console).
        site.send_to_sandbox("/oauth2/v2.1/revoke", "#revoke-form",
                             {"#access_token": access_token, "#client_id": channel_id, "#client_secret": secret})
        expect(page.locator("#response-status")).to_have_text("200")

        # Other tokens: stateless (channel ID and secret), short-lived issue, verify, revoke.
        site.send_to_sandbox("/oauth2/v3/token", "#stateless-form", {'[data-variant="secret"] #client_id': channel_id,
                             '[data-variant="secret"] #client_secret': secret}, variant="secret")
        assert site.heading() == tr(lang, "Token issued")

        site.send_to_sandbox("/v2/oauth/accessToken", "#issue_v2-form", {"#client_id": channel_id, "#client_secret": secret})
        assert site.heading() == tr(lang, "Token issued")
        short_lived = page.inner_text("#access-token").strip()
        assert short_lived

        site.send_to_sandbox("/v2/oauth/verify", "#verify_v2-form", {"#access_token": short_lived})
        assert site.heading() == tr(lang, "The token is valid")

        site.send_to_sandbox("/v2/oauth/revoke", "#revoke_v2-form", {"#access_token": short_lived})
        assert site.heading() == tr(lang, "The sandbox accepted the request")
        screenshot(page, f"https-{lang}-other")

        # Every post above went over https with its same-origin Referer and none came back "Form expired".
        assert len(site.posts) == 14
        assert all(p.url.startswith(proxy.url + "/") for p in site.posts)
        watch.assert_clean()
    finally:
        context.close()
    # Each post reached gunicorn through the proxy (the router's X-Forwarded-For names the client).
    assert server.log().count('"POST ') >= 14

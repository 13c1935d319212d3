"""Issue 22 in a real browser (Debian's chromium under Playwright), against the Procfile server:
the flow holds what the user already gave it, with and without JavaScript, on a phone.

1. revoke, verify and try forms take the channel ID, secret and token this tab holds;
2. Back, Forward, reload and the language switch keep results, the try page included;
3. revoking from the tab's list asks once, then updates the slot count and the next steps and says so;
4. "I already have a console key": LINE out of reach points at Send to; the chosen key file stays in the tab;
5. without JavaScript: the console's secret is readable, no dead buttons, the target and the JWT page's
   fields carried by the forms themselves;
6. on a phone: label/value tables stack, the steps fold behind one menu button, numbered without gaps,
   and "2. Register key" opens the sandbox console;
7. focus on the result's heading after Generate, Create channel, Sign and Issue; "Create a channel" first;
9. the 31st sandbox token offers "Revoke all tokens", a too-far exp says how to fix it, and a channel ID
   the server would refuse (or a kid's other channel) is caught in the browser.
"""
from __future__ import annotations

import json
import re
import time

import pytest
import requests

from line_token.core import signing
from browsing import DESKTOP, PHONE, Watch, screenshot, tr
from conftest import free_port
from test_browser import context_for  # noqa: F401 (a fixture: a fresh profile per language)
from test_browser_flow import kid_count, new_channel

pytestmark = [pytest.mark.browser, pytest.mark.server]

LANGS = ["en", "ja"]


def open_tab(context_for, lang: str, base: str, path: str):
    """A new tab in a fresh profile speaking ``lang``, at ``base + path``: (page, its Watch)."""
    page = context_for(lang).new_page()
    watch = Watch(page, base)
    page.goto(base + path)
    return page, watch


def open_console_channel(page, base: str, ch: dict) -> None:
    """Open the channel in this tab's sandbox console, as its owner does: the tab then holds its secret."""
    from playwright.sync_api import expect

    page.goto(base + "/sandbox/")
    page.fill("#open-channel-form #channel_id", ch["channel_id"])
    page.fill('#open-channel-form input[name="channel_secret"]', ch["channel_secret"])
    page.click("#open-channel-form button[type=submit]")
    expect(page.locator("#open-channel")).to_have_attribute("data-channel-id", ch["channel_id"])


def start(context_for, base: str, key, lang: str, viewport: dict = DESKTOP, console: bool = False):
    """A new sandbox channel with the console key, and a fresh tab (opened on it in the console if asked)."""
    ch = new_channel(base, key)
    page = context_for(lang, viewport).new_page()
    watch = Watch(page, base)
    if console:
        open_console_channel(page, base, ch)
    return ch, page, watch


def send_one_step_issue(page, base: str, ch: dict, key_text: str) -> None:
    """Post the token page's one-step form (sign here, then issue) to the sandbox."""
    page.goto(base + "/oauth2/v2.1/token")
    page.check("#target-sandbox")
    page.fill("#channel_id", ch["channel_id"])
    page.fill("#kid", ch["kid"])
    page.fill("#private_key", key_text)
    page.click("#token-form button[type=submit]")


def issue_in_tab(page, base: str, ch: dict, key_text: str, lang: str) -> str:
    """Issue a one-day v2.1 token on the sandbox in one step; the token shown."""
    from playwright.sync_api import expect

    send_one_step_issue(page, base, ch, key_text)
    expect(page.locator("#result-title")).to_have_text(tr(lang, "Token issued"))
    return page.inner_text("#access-token").strip()


def posts_to(watch: Watch, path: str) -> int:
    return len([r for r in watch.requests if r[0] == "POST" and r[1].endswith(path)])


# --------------------------------------------------------------------------- 1. what the tab holds


@pytest.mark.parametrize("lang", LANGS)
def test_revoke_verify_and_try_forms_take_what_the_tab_holds(context_for, live_server, key, console_key_text, lang):
    from playwright.sync_api import expect

    base = live_server.url
    ch, page, watch = start(context_for, base, key, lang, console=True)
    token = issue_in_tab(page, base, ch, console_key_text, lang)

    # Try it, then "Revoke this token…": channel ID and secret are already there.
    page.get_by_role("button", name=tr(lang, "Try it"), exact=True).click()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "The token works"))
    page.get_by_role("button", name=tr(lang, "Revoke this token…"), exact=True).click()
    expect(page.locator("#access_token")).to_have_value(token)
    expect(page.locator("#client_id")).to_have_value(ch["channel_id"])
    expect(page.locator("#client_secret")).to_have_value(ch["channel_secret"])

    # Away from the issue result, the whole token is one click away (shown masked) on Try and Verify.
    for path, form, title in (("/v2/bot/info", "#try-form", "The token works"),
                              ("/oauth2/v2.1/verify", "#verify-form", "The token is valid")):
        page.goto(base + path)
        choice = page.locator(f"{form} button.use-tab-token")
        expect(choice).to_have_count(1)
        assert token not in choice.inner_text() and token[:4] in choice.inner_text()
        page.check("#target-line")
        choice.click()
        expect(page.locator("#access_token")).to_have_value(token)
        expect(page.locator("#target-sandbox")).to_be_checked()  # the token's own target
        page.click(f"{form} button[type=submit]")
        expect(page.locator("#result-title")).to_have_text(tr(lang, title))

    # A revoke form opened empty: one click fills the token, its channel and the secret this tab holds.
    page.goto(base + "/oauth2/v2.1/revoke")
    page.click("#revoke-form button.use-tab-token")
    expect(page.locator("#client_id")).to_have_value(ch["channel_id"])
    expect(page.locator("#client_secret")).to_have_value(ch["channel_secret"])
    page.click("#revoke-form button[type=submit]")
    expect(page.locator("#response-status")).to_have_text("200")
    assert kid_count(base, ch, key) == 0

    # Neither the token nor the secret went into an address; each went only in a form's body, to this app.
    assert not [url for _, url, _ in watch.requests if token in url or ch["channel_secret"] in url]
    assert all(r.split(" ")[0] == "POST" for r in watch.carrying(token))
    watch.assert_clean()


# --------------------------------------------------------------------------- 2. Back, Forward, reload, language


@pytest.mark.parametrize("lang", LANGS)
def test_back_forward_reload_and_language_keep_results(context_for, live_server, key, console_key_text, lang):
    from playwright.sync_api import expect

    base = live_server.url
    other = "ja" if lang == "en" else "en"
    ch, page, watch = start(context_for, base, key, lang)
    token = issue_in_tab(page, base, ch, console_key_text, lang)
    page.get_by_role("button", name=tr(lang, "Try it"), exact=True).click()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "The token works"))
    assert page.url == base + "/v2/bot/info"
    tries = posts_to(watch, "/v2/bot/info")
    assert tries == 1

    # Back shows the issue result (the same token), Forward the try result: nothing is sent again.
    page.go_back()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "Token issued"))
    assert page.inner_text("#access-token").strip() == token
    page.go_forward()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "The token works"))
    expect(page.locator("#bot-name")).not_to_be_empty()

    # Reload keeps the try result, and the issue result keeps its token.
    page.reload()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "The token works"))
    page.go_back()
    page.reload()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "Token issued"))
    assert page.inner_text("#access-token").strip() == token

    # The language switch keeps the token: the page in the other language, the answer as it was given.
    page.click(f'.lang a[data-lang="{other}"]')
    expect(page.locator("html")).to_have_attribute("lang", other)
    expect(page.locator("#restored-note")).to_have_text(
        tr(other, "Shown as it was answered before the language switch; nothing was sent again."))
    assert page.inner_text("#access-token").strip() == token
    expect(page.locator("h1")).to_have_text(tr(other, "Step 4: issue a channel access token v2.1"))
    page.reload()  # and it stays through a reload in the new language
    assert page.inner_text("#access-token").strip() == token

    assert posts_to(watch, "/v2/bot/info") == tries
    assert posts_to(watch, "/oauth2/v2.1/token") == 1
    assert kid_count(base, ch, key) == 1
    assert page.url == base + "/oauth2/v2.1/token"
    watch.assert_clean()


@pytest.mark.parametrize("lang", LANGS)
def test_key_pair_and_jwt_results_survive_reload_back_and_forward(context_for, live_server, key, console_key_text,
                                                                  lang):
    from playwright.sync_api import expect

    base = live_server.url
    ch, page, watch = start(context_for, base, key, lang)
    # A key pair made in the browser: reload keeps it on the page.
    page.goto(base + "/oauth2/v2.1/keys")
    page.click("#generate-in-browser")
    expect(page.locator("#browser-keys")).to_be_visible(timeout=30_000)
    private = page.inner_text("#browser-private")
    page.reload()
    expect(page.locator("#browser-keys")).to_be_visible()
    assert page.inner_text("#browser-private") == private
    page.click("#generate-in-browser")  # the restored page still works
    expect(page.locator("#keygen-status")).to_have_text(
        tr(lang, "Done. Copy and keep the private key now: it is not saved anywhere."), timeout=30_000)

    # A JWT signed in the browser, then one signed on the server (a post, answered in place).
    page.goto(base + "/oauth2/v2.1/jwt")
    page.fill("#channel_id", ch["channel_id"])
    page.fill("#kid", ch["kid"])
    page.fill("#private_key", console_key_text)
    page.click("#sign-button")
    expect(page.locator("#browser-result")).to_be_visible()
    browser_jwt = page.inner_text("#browser-jwt-token").strip()
    page.reload()
    expect(page.locator("#browser-result")).to_be_visible()
    assert page.inner_text("#browser-jwt-token").strip() == browser_jwt
    page.check('input[name="sign_in"][value="server"]')
    page.click("#sign-button")
    expect(page.locator("#jwt-result")).to_be_visible()
    server_jwt = page.inner_text("#jwt-token").strip()
    assert page.url == base + "/oauth2/v2.1/jwt"
    signs = posts_to(watch, "/oauth2/v2.1/jwt")
    page.go_back()
    expect(page.locator("#browser-result")).to_be_visible()
    assert page.inner_text("#browser-jwt-token").strip() == browser_jwt
    page.go_forward()
    expect(page.locator("#jwt-result")).to_be_visible()
    assert page.inner_text("#jwt-token").strip() == server_jwt
    page.reload()
    assert page.inner_text("#jwt-token").strip() == server_jwt
    assert posts_to(watch, "/oauth2/v2.1/jwt") == signs == 1
    watch.assert_clean()


@pytest.mark.parametrize("lang", LANGS)
def test_console_answers_survive_back_forward_and_reload(context_for, live_server, key, lang):
    from playwright.sync_api import expect

    base = live_server.url
    page, watch = open_tab(context_for, lang, base, "/sandbox/")
    page.click("#create-channel button[type=submit]")
    expect(page.locator("#created-channel h2")).to_be_focused()
    channel_id = page.inner_text("#new-channel-id").strip()
    page.fill("#public_key", json.dumps(signing.public_jwk(key)))
    page.click("#register-key-form button[type=submit]")
    kid = page.inner_text("#new-kid").strip()
    assert page.url == base + "/sandbox/"  # the console's address, never a form's, nothing in a query
    page.go_back()
    expect(page.locator("#created-channel")).to_have_attribute("data-channel-id", channel_id)
    page.go_forward()
    expect(page.locator("#new-kid")).to_have_text(kid)
    page.reload()
    expect(page.locator("#new-kid")).to_have_text(kid)
    expect(page.locator("#open-channel")).to_have_attribute("data-channel-id", channel_id)
    # One channel made, one key registered: Back, Forward and reload sent nothing again.
    assert posts_to(watch, "/sandbox/console/channels") == 1
    assert posts_to(watch, "/sandbox/console/keys") == 1
    secret = page.input_value("#channel_secret")
    keys = requests.get(f"{base}/sandbox/api/channels/{channel_id}", auth=(channel_id, secret), timeout=30).json()
    assert [k["kid"] for k in keys["keys"]] == [kid]
    watch.assert_clean()


# --------------------------------------------------------------------------- 3. revoking from the tab's list


@pytest.mark.parametrize("lang", LANGS)
def test_wallet_revoke_asks_once_and_updates_the_page(context_for, live_server, key, console_key_text, lang):
    from playwright.sync_api import expect

    base = live_server.url
    ch, page, watch = start(context_for, base, key, lang, console=True)
    token = issue_in_tab(page, base, ch, console_key_text, lang)
    expect(page.locator("#slots")).to_contain_text(
        tr(lang, "%(count)s of 30 v2.1 slots in use on this channel.", count=1))
    wallet = page.locator("#wallet")
    expect(wallet.locator("input[type=password]")).to_have_value(ch["channel_secret"])  # from the console

    # Asked once; "Cancel" keeps the token.
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    wallet.locator("button.wallet-revoke").click()
    expect(wallet).to_be_visible()
    assert asked == [tr(lang, "Revoke this token? It stops working at once and frees its slot.")]
    assert kid_count(base, ch, key) == 1

    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    wallet.locator("button.wallet-revoke").click()
    status = page.locator("#tab-status")
    expect(status).to_have_text(tr(lang, "Revoked %(token)s, and verified: it no longer works.",
                                   token=token[:4] + "…" + token[-4:]))
    assert len(asked) == 2
    expect(page.locator("#wallet")).to_have_count(0)
    expect(page.locator("#slots")).to_contain_text(
        tr(lang, "%(count)s of 30 v2.1 slots in use on this channel.", count=0))
    expect(page.get_by_role("button", name=tr(lang, "Try it"), exact=True)).to_have_count(0)
    expect(page.locator(".next-steps .revoked-note")).to_have_text(
        tr(lang, "This token was revoked from this tab's list: it no longer works."))
    assert kid_count(base, ch, key) == 0
    screenshot(page, f"tab-{lang}-wallet-revoked")

    # Back and Forward do not bring the revoked token's "Try it" back.
    page.goto(base + "/")
    page.go_back()
    expect(page.locator("#result-title")).to_have_text(tr(lang, "Token issued"))
    expect(page.get_by_role("button", name=tr(lang, "Try it"), exact=True)).to_have_count(0)
    watch.assert_clean()


# --------------------------------------------------------------------------- 4. "I already have a console key"


@pytest.mark.parametrize("lang", LANGS)
def test_have_key_unreachable_line_points_at_send_to_and_the_key_file_stays(
        context_for, start_server, key, console_key_text, tmp_path, lang):
    from playwright.sync_api import expect

    closed = free_port()  # nothing listens there: "LINE" refuses the connection at once
    server = start_server(env={"LINE_API_BASE_URL": f"http://127.0.0.1:{closed}"})
    base = server.url
    key_file = tmp_path / "console-key.json"
    key_file.write_text(console_key_text)
    page, watch = open_tab(context_for, lang, base, "/")
    page.click("#have-key a.button.primary")
    expect(page.locator("#target-line")).to_be_checked()  # a real console key: LINE is right
    page.fill("#channel_id", "1234567890")
    page.fill("#kid", "7f4e0d9c-6b1a-4c8e-9d2f-3a5b6c7d8e9f")
    page.set_input_files("#private_key_file", str(key_file))
    expect(page.locator("#private_key")).to_have_value(console_key_text)  # kept like a pasted key
    page.click("#token-form button[type=submit]")
    error = page.locator("#upstream-error")
    expect(error).to_contain_text(f"127.0.0.1:{closed}")
    expect(page.locator("#upstream-send-to")).to_contain_text(
        tr(lang, "No network, or no channel yet? Choose the sandbox under Send to:"))
    page.click("#upstream-send-to a")
    expect(page.locator("#target-sandbox")).to_be_in_viewport()

    # The key chosen as a file is still in this tab on the next pages.
    page.goto(base + "/oauth2/v2.1/jwt")
    expect(page.locator("#private_key")).to_have_value(console_key_text)
    page.goto(base + "/oauth2/v2.1/token")
    expect(page.locator("#private_key")).to_have_value(console_key_text)
    # The refused issue answers 502 in place (fetch), which chromium logs as a failed resource: expected.
    assert [p for p in watch.problems if "status of 502" not in p] == []
    assert watch.off_machine() == []


# --------------------------------------------------------------------------- 5. without JavaScript


def test_without_javascript_secret_readable_no_dead_buttons_target_and_jwt_carried(
        context_for, live_server, key, console_key_text):
    from playwright.sync_api import expect

    base = live_server.url
    page = context_for("en", javascript=False).new_page()
    page.goto(base + "/sandbox/")
    page.click("#create-channel button[type=submit]")
    channel_id = page.inner_text("#new-channel-id").strip()
    # The secret: a <details> reveal shows it as text; Show and Copy (which need scripts) are not offered.
    reveal = page.locator("#channel-secret-reveal")
    expect(page.locator("#channel-secret-text")).to_be_hidden()
    reveal.locator("summary").click()
    secret = page.inner_text("#channel-secret-text").strip()
    assert secret and secret == page.input_value("#channel_secret")
    assert requests.get(f"{base}/sandbox/api/channels/{channel_id}", auth=(channel_id, secret),
                        timeout=30).status_code == 200
    expect(page.locator("button.copy:visible, button.toggle-secret:visible")).to_have_count(0)

    # Register the key; "Next: sign a JWT" posts the channel ID, kid and target to the JWT page.
    page.fill("#public_key", json.dumps(signing.public_jwk(key)))
    page.click("#register-key-form button[type=submit]")
    kid = page.inner_text("#new-kid").strip()
    page.click("#next-sign-jwt button")
    expect(page.locator("#channel_id")).to_have_value(channel_id)
    expect(page.locator("#kid")).to_have_value(kid)
    expect(page.locator(".error-summary")).to_have_count(0)  # filled, not signed yet
    expect(page.locator("button.toggle-secret:visible")).to_have_count(0)
    # A pasted key is readable without scripts (no mask that only a script could lift).
    assert page.locator("#private_key").evaluate("el => getComputedStyle(el).webkitTextSecurity") in ("none", "")
    page.fill("#private_key", console_key_text)
    page.click("#sign-button")
    expect(page.locator("#jwt-result")).to_be_visible()
    page.click("#jwt-result form.next button")
    # The issue page: the JWT and the sandbox as target, carried by the forms' own fields.
    expect(page.locator("#target-sandbox")).to_be_checked()
    assert page.input_value("#client_assertion").count(".") == 2
    page.click("#token-form button[type=submit]")
    expect(page.locator("#result-title")).to_have_text("Token issued")
    expect(page.locator("#response-status")).to_have_text("200")
    # Its next steps keep the sandbox too.
    page.get_by_role("button", name="Verify this token", exact=True).click()
    expect(page.locator("#result-title")).to_have_text("The token is valid")
    expect(page.locator("#target-sandbox")).to_be_checked()


# --------------------------------------------------------------------------- 6. on a phone


RECTS_JS = """(table) => [...table.querySelectorAll("tbody tr")].map(tr => {
  const [label, value] = [...tr.children];
  const a = label.getBoundingClientRect(), b = value.getBoundingClientRect();
  return {labelBottom: a.bottom, valueTop: b.top, valueWidth: b.width};
})"""


def _step_numbers(page) -> list[int]:
    texts = page.eval_on_selector_all("header.site nav.nav-wide a", "els => els.map(a => a.textContent.trim())")
    return [int(m.group(1)) for m in (re.match(r"^(\d+)\.", t) for t in texts) if m]


@pytest.mark.parametrize("lang", LANGS)
def test_phone_tables_stack_menu_folds_steps_without_gaps(context_for, live_server, key, lang):
    from playwright.sync_api import expect

    base = live_server.url
    ch = new_channel(base, key)
    jwt = signing.build_assertion(ch["channel_id"], ch["kid"], key, 3600)
    token = requests.post(base + "/sandbox/oauth2/v2.1/token", timeout=30, data={
        "grant_type": "client_credentials", "client_assertion": jwt,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}).json()["access_token"]

    page = context_for(lang, PHONE).new_page()
    watch = Watch(page, base)
    page.goto(base + "/v2/bot/info")
    # The steps: behind one "Menu" button, the header one row of buttons, not four rows of links.
    expect(page.locator("header.site .nav-wide")).to_be_hidden()
    menu = page.locator("#nav-menu")
    expect(menu.locator("summary")).to_have_text(tr(lang, "Menu"))
    assert page.locator("header.site").bounding_box()["height"] < 110
    menu.locator("summary").click()
    expect(menu.locator("a").first).to_be_visible()
    menu.locator("summary").click()

    page.check("#target-sandbox")
    page.fill("#access_token", token)
    page.click("#try-form button[type=submit]")
    expect(page.locator("#result-title")).to_have_text(tr(lang, "The token works"))
    for table in ("#bot-profile table.summary", "#result table.fields"):
        rows = page.locator(table).evaluate(RECTS_JS)
        assert rows, table
        for row in rows:  # each label above its value, the value the card's width, not a 50 px column
            assert row["valueTop"] >= row["labelBottom"] - 1, (table, row)
            assert row["valueWidth"] > 250, (table, row)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, f"tab-{lang}-390-try")

    # Wide: the steps in one row, numbered 1 to 6 without a gap; "2. Register key" opens the sandbox console.
    page.set_viewport_size(DESKTOP)
    expect(page.locator("#nav-menu")).to_be_hidden()
    assert _step_numbers(page) == [1, 2, 3, 4, 5, 6]
    page.click("header.site nav.nav-wide a:text-is('%s')" % tr(lang, "2. Register key"))
    expect(page.locator("h1")).to_have_text(tr(lang, "Step 2: register the public key (sandbox console)"))
    expect(page.locator("#line-console-link a")).to_have_attribute("href", "https://developers.line.biz/console/")
    watch.assert_clean()


def test_phone_menu_opens_without_javascript(context_for, live_server):
    from playwright.sync_api import expect

    page = context_for("en", PHONE, javascript=False).new_page()
    page.goto(live_server.url + "/")
    links = page.locator("#nav-menu a")
    expect(links.first).to_be_hidden()
    page.click("#nav-menu summary")
    expect(links.first).to_be_visible()
    page.click("#nav-menu a:text-is('3. Sign JWT')")
    expect(page).to_have_url(live_server.url + "/oauth2/v2.1/jwt")


# --------------------------------------------------------------------------- 7. keyboard


@pytest.mark.parametrize("lang", LANGS)
def test_focus_lands_on_each_result_heading_and_create_comes_first(context_for, live_server, key, lang):
    from playwright.sync_api import expect

    base = live_server.url
    page, watch = open_tab(context_for, lang, base, "/oauth2/v2.1/keys")
    page.focus("#generate-in-browser")
    page.keyboard.press("Enter")
    expect(page.locator("#browser-keys-title")).to_be_focused(timeout=30_000)
    expect(page.locator("#browser-keys-title")).to_have_text(tr(lang, "Your key pair"))

    # The console with no channel open: "Create a channel" comes first, before the empty "Open a channel".
    page.goto(base + "/sandbox/")
    create, open_card = page.locator("#create-channel"), page.locator("#open-channel-form")
    assert create.bounding_box()["y"] < open_card.bounding_box()["y"]
    assert page.evaluate("""() => !!(document.getElementById('create-channel').compareDocumentPosition(
        document.getElementById('open-channel-form')) & Node.DOCUMENT_POSITION_FOLLOWING)""")
    page.focus("#create-channel button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#created-channel h2")).to_be_focused()
    page.click("#fill-public-key")
    page.click("#register-key-form button[type=submit]")
    expect(page.locator("#registered-key h2")).to_be_focused()

    page.click("#registered-key a.button")  # the JWT page fills itself from this tab (key included)
    page.focus("#sign-button")
    page.keyboard.press("Enter")
    expect(page.locator("#browser-result-title")).to_be_focused()
    page.focus("#browser-result form.next button")
    page.keyboard.press("Enter")
    page.focus("#token-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#result-title")).to_have_text(tr(lang, "Token issued"))
    expect(page.locator("#result-title")).to_be_focused()
    watch.assert_clean()


# --------------------------------------------------------------------------- 9. errors on the sandbox


@pytest.mark.parametrize("lang", LANGS)
def test_sandbox_errors_offer_the_fix(context_for, live_server, key, console_key_text, lang):
    from playwright.sync_api import expect

    base = live_server.url
    ch, page, watch = start(context_for, base, key, lang, console=True)

    # A JWT whose exp is an hour ahead: what is wrong, and how to fix it.
    now = int(time.time())
    far = signing.sign({"alg": "RS256", "typ": "JWT", "kid": ch["kid"]},
                       {"iss": ch["channel_id"], "sub": ch["channel_id"], "aud": "https://api.line.me/",
                        "exp": now + 3600, "token_exp": 3600}, key, validate=False)
    page.goto(base + "/oauth2/v2.1/token")
    page.check("#target-sandbox")
    page.fill("#client_assertion", far)
    page.click("#token-form button[type=submit]")
    expect(page.locator("#response-status")).to_have_text("400")
    expect(page.locator("#explanation")).to_contain_text(tr(lang, (
        "Sign a new JWT that expires at most 30 minutes from now: on the JWT page (or in the one-step fields) set "
        "\"JWT lifetime in minutes (exp)\" to 30 or less; if you set exp yourself, use the current UNIX time plus "
        "at most 1800. If it already is, check that this computer's clock is right.")))

    # The 31st token: the console's "Revoke all tokens" is offered, with this tab's secret.
    jwt = signing.build_assertion(ch["channel_id"], ch["kid"], key, 3600)
    with requests.Session() as s:
        for _ in range(30):
            r = s.post(base + "/sandbox/oauth2/v2.1/token", timeout=30, data={
                "grant_type": "client_credentials", "client_assertion": jwt,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
            assert r.status_code == 200, r.text
    send_one_step_issue(page, base, ch, console_key_text)
    offer = page.locator("#revoke-all-sandbox")
    expect(offer).to_be_visible()
    expect(offer.locator("#revoke-all-secret")).to_have_value(ch["channel_secret"])
    offer.locator("button[type=submit]").click()
    expect(page.locator("#console-notice")).to_contain_text("30")
    assert kid_count(base, ch, key) == 0

    # The JWT page in the browser: the server's channel ID rule (from the page, not a copy), and a kid this
    # tab registered on another channel (a digit missing), caught before anything is signed.
    page.goto(base + "/sandbox/")
    page.click("#create-channel button[type=submit]")
    new_id = page.inner_text("#new-channel-id").strip()
    page.fill("#public_key", json.dumps(signing.public_jwk(key)))
    page.click("#register-key-form button[type=submit]")
    new_kid = page.inner_text("#new-kid").strip()
    page.goto(base + "/oauth2/v2.1/jwt")
    page.fill("#private_key", console_key_text)
    page.fill("#kid", new_kid)
    page.fill("#channel_id", new_id[:9])
    page.click("#sign-button")
    expect(page.locator("#channel_id-error")).to_have_text(tr(lang, (
        "The kid %(kid)s was registered on channel %(channel)s (in this tab's sandbox console), not on %(typed)s: "
        "use channel ID %(channel)s."), kid=new_kid, channel=new_id, typed=new_id[:9]))
    expect(page.locator("#browser-result")).to_be_hidden()
    page.fill("#channel_id", "1" * 19)  # longer than the server takes: the same message in both places
    page.click("#sign-button")
    message = tr(lang, "The channel ID must be the channel's numeric ID, e.g. 1234567890 (see Basic settings in "
                       "the LINE Developers Console).")
    expect(page.locator("#channel_id-error")).to_have_text(message)
    page.check('input[name="sign_in"][value="server"]')
    page.click("#sign-button")
    expect(page.locator("#channel_id-error")).to_have_text(message)
    # Refused posts answer 4xx, which chromium logs as failed resources: expected.
    assert [p for p in watch.problems if not re.search(r"status of 40\d", p)] == []
    assert watch.off_machine() == []

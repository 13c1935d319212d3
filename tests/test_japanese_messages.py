"""Issue 22 items 10 and 12, as a Japanese reader meets them: nothing left in English, no raw field names
where the page has a label, no stray spaces, durations in whole units, the inspector saying what a text is
not, and one explanation for a wrong kid; the same in the web inspector, its JSON and the CLI."""
from __future__ import annotations

import html
import http.server
import json
import re
import threading
import time

import pytest
from click.testing import CliRunner

from line_token.cli import main as cli
from line_token.core import signing

JA = {"Accept-Language": "ja"}
STRAY_SPACE = re.compile(r"[\u3001\u3002\u3040-\u30ff\u4e00-\u9fff] [\u3040-\u30ff\u4e00-\u9fff]|。 ")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def jwt_for(channel: dict, key, *, exp_in: int, token_exp: int = 3600, kid: str | None = None) -> str:
    now = int(time.time())
    return signing.sign({"alg": "RS256", "typ": "JWT", "kid": kid or channel["kid"]},
                        {"iss": channel["channel_id"], "sub": channel["channel_id"], "aud": "https://api.line.me/",
                         "exp": now + exp_in, "token_exp": token_exp}, key, validate=False)


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize("seconds, en, ja", [
    (7164, "1 h 59 min", "1時間59分"),
    (675, "11 min", "11分"),
    (90, "1 min 30 s", "1分30秒"),
    (5399, "1 h 30 min", "1時間30分"),  # rounded to the smallest unit shown
    (3599, "1 h", "1時間"),
    (90000, "1 d 1 h", "1日1時間"),
])
def test_durations_are_whole_units_in_both_languages(app, seconds, en, ja):
    from line_token.web import inspect_web

    for lang, expected in (("en", en), ("ja", ja)):
        with app.test_request_context(headers={"Accept-Language": lang}):
            assert inspect_web.duration_text(seconds) == expected
    assert str(signing.Duration(seconds)) == en


def test_the_inspector_page_in_japanese_has_whole_units_and_no_stray_space(client, channel, key):
    answer = client.post("/inspect", data={"text": jwt_for(channel, key, exp_in=7164, token_exp=7164)}, headers=JA)
    ahead = text_of(answer)
    assert "1.99" not in ahead and "1.49" not in ahead
    assert re.search(r"有効期間は1時間59分（7,164秒）です", ahead), ahead
    assert re.search(r"<code>payload\.exp</code> は1時間59分先で、LINEが許す30分を1時間29分超えています", ahead)
    # The live countdown's units, for static/app.js to write "11分15秒", not "11:15".
    units = json.loads(html.unescape(re.search(r'data-units="([^"]*)"', answer.get_data(as_text=True)).group(1)))
    assert units == ["%(n)s日", "%(n)s時間", "%(n)s分", "%(n)s秒", "%(first)s%(second)s"]
    past = text_of(client.post("/inspect", data={"text": jwt_for(channel, key, exp_in=-600)}, headers=JA))
    assert "10分前に過ぎています" in past and "10分前に期限切れ" in past
    for page in (ahead, past):
        main = page.split('<main', 1)[1]
        assert not STRAY_SPACE.search(re.sub(r"<[^>]+>", "", main)), STRAY_SPACE.search(re.sub(r"<[^>]+>", "", main))


# --------------------------------------------------------------------------- field names and JSON positions


def test_a_json_error_names_the_label_and_its_position_in_japanese(client):
    bad_key = '{"kty": "RSA", "n" "x"}'
    page = text_of(client.post("/oauth2/v2.1/jwt", data={"channel_id": "1234567890", "kid": "k",
                                                           "private_key": bad_key}, headers=JA))
    message = re.search(r'id="private_key-error"[^>]*>(.*?)</', page, re.S).group(1)
    assert "秘密鍵が正しいJSONではありません（1行目、20文字目）" in message, message
    assert "line 1" not in message and "column" not in message and "private_key" not in message
    english = text_of(client.post("/oauth2/v2.1/jwt", data={"channel_id": "1234567890", "kid": "k",
                                                              "private_key": bad_key}))
    assert "The private key is not valid JSON (line 1, column 20)" in english
    # A script reads the field's name, not the page's label.
    answer = client.post("/oauth2/v2.1/jwt", json={"channel_id": "1234567890", "kid": "k", "private_key": bad_key},
                         headers=JA).get_json()
    assert answer["field"] == "private_key" and answer["error_description"].startswith("private_keyが正しいJSON")


def test_the_inspectors_own_messages_name_no_raw_field(client):
    for lang, words in (("ja", "検査するJWTアサーションかアクセストークンを貼り付けてください"),
                        ("en", "Paste a JWT assertion or an access token to inspect.")):
        page = text_of(client.post("/inspect", data={"text": ""}, headers={"Accept-Language": lang}))
        message = re.search(r'id="text-error"[^>]*>(.*?)</', page, re.S).group(1)
        assert words in message and not message.startswith("text")


# --------------------------------------------------------------------------- what the text is not


@pytest.mark.parametrize("text, en, ja", [
    ("hello world this is not a jwt", "it holds spaces", "スペース"),
    ("helloworldthisisnotajwt", "it is 23 characters long", "23文字"),
    ("a.b", "it is 3 characters long", "3文字"),
    ("x" * 40 + "." + "y" * 40, "it has 2 parts separated by dots", "2個"),
])
def test_what_is_no_jwt_and_no_token_is_refused_the_same_on_the_page_its_json_and_the_cli(client, text, en, ja):
    page = client.post("/inspect", data={"text": text})
    assert page.status_code == 400
    message = re.search(r'id="text-error"[^>]*>(.*?)</', text_of(page), re.S).group(1)
    assert "This is not a JWT" in message and en in message
    assert "opaque" not in text_of(page).split("<form", 1)[0] and "No LINE rule broken" not in text_of(page)
    answer = client.post("/inspect", json={"text": text})
    assert answer.status_code == 400 and answer.get_json()["field"] == "text"
    assert answer.get_json()["error_description"] == message
    ja_page = text_of(client.post("/inspect", data={"text": text}, headers=JA))
    assert "これはJWT" in ja_page and ja in ja_page
    run = CliRunner().invoke(cli.cli, ["inspect", text], env={"LANG": "C"})
    assert run.exit_code == 2 and message in run.output.replace("\n", " ").replace("  ", " ") or \
        " ".join(message.split()) in " ".join(run.output.split()), run.output


def test_a_token_shaped_text_is_called_a_token_not_judged(client):
    opaque = "A" * 172
    page = text_of(client.post("/inspect", data={"text": opaque}))
    assert "Shaped like a token LINE issues" in page and "No LINE rule broken" not in page
    assert "Only its shape can be checked here" in page
    found = client.post("/inspect", json={"text": opaque}).get_json()
    assert found["kind"] == "opaque token" and found["is_token"] is True
    ja = text_of(client.post("/inspect", data={"text": opaque}, headers=JA))
    assert "LINEが発行するトークンの形です" in ja


def test_the_cli_names_each_claim_once(tmp_path, key):
    now = int(time.time())
    jwt = signing.sign({"alg": "RS256", "typ": "JWT", "kid": "k"},
                       {"iss": "1234567890", "sub": "1234567890", "aud": "https://api.line.me/", "exp": now - 600,
                        "token_exp": 60}, key, validate=False)
    run = CliRunner().invoke(cli.cli, ["inspect", jwt], env={"LANG": "C"}, color=False)
    problems = [line for line in run.output.splitlines() if "payload.exp" in line and "passed" in line]
    assert problems and not any("payload.exp: payload.exp" in line for line in problems), run.output


# --------------------------------------------------------------------------- one explanation, joined as Japanese


def test_a_wrong_kid_on_the_sandbox_is_explained_once_without_stray_spaces(client, channel, key):
    jwt = jwt_for(channel, key, exp_in=600, kid="wrong-kid")
    page = text_of(client.post("/oauth2/v2.1/token", data={"client_assertion": jwt, "target": "sandbox"},
                               headers=JA))
    explain = re.search(r'<p class="explain" id="explanation">(.*?)</p>', page, re.S).group(1)
    assert "JWTのkidは wrong-kid です。サンドボックスには kid wrong-kid の鍵がありません" in explain, explain
    assert "LINEに登録されていません" not in explain  # LINE's console advice is not repeated for the sandbox
    assert "。 " not in explain


class NoKeyLine(http.server.BaseHTTPRequestHandler):
    """LINE answering a JWT whose kid it does not know (docs/line-api.md §3)."""

    def log_message(self, *args) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"message": "Cannot find channel key that satisfies the conditions"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_wrong_kid_at_line_joins_its_sentences_as_japanese(app, channel, key):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoKeyLine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app.config["LINE_API_BASE_URL"] = f"http://127.0.0.1:{server.server_address[1]}"
        jwt = jwt_for(channel, key, exp_in=600, kid="wrong-kid")
        page = text_of(app.test_client().post("/oauth2/v2.1/token", data={"client_assertion": jwt, "target": "line"},
                                              headers=JA))
    finally:
        server.shutdown()
        server.server_close()
    explain = re.search(r'<p class="explain" id="explanation">(.*?)</p>', page, re.S).group(1)
    assert "LINEに登録されていません" in explain and "JWTのkidは wrong-kid です。" in explain
    assert "。 " not in explain and "サンドボックス" not in explain


# --------------------------------------------------------------------------- in the browser


@pytest.mark.browser
@pytest.mark.server
def test_the_countdown_and_the_pasted_jwt_note_speak_whole_units_in_japanese(browser, live_server, key):
    """static/app.js counts down "11分15秒前", not "11:15前"; static/proxy.js writes "1時間59分" and joins the
    expired sentence without a space after "。"."""
    import requests
    from playwright.sync_api import expect

    base = live_server.url
    ch = requests.post(base + "/sandbox/api/channels", json={}, timeout=30).json()
    kid = requests.post(f"{base}/sandbox/api/channels/{ch['channel_id']}/keys", json=signing.public_jwk(key),
                        auth=(ch["channel_id"], ch["channel_secret"]), timeout=30).json()["kid"]
    channel = {**ch, "kid": kid}
    context = browser.new_context(locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(base + "/inspect")
        page.fill("#text", jwt_for(channel, key, exp_in=-675))
        page.click("#inspect-form button[type=submit]")
        countdown = page.locator("#inspect-expiry .countdown")
        expect(countdown).to_have_text(re.compile(r"^1[12]分\d{1,2}秒前に期限切れ$"), timeout=15_000)
        assert ":" not in countdown.inner_text()

        page.goto(base + "/oauth2/v2.1/token")
        page.fill("#client_assertion", jwt_for(channel, key, exp_in=-600, token_exp=7164))
        note = page.locator("#pasted-jwt-note")
        expect(note).to_contain_text("1時間59分（7,164秒）")
        expect(note).to_contain_text(re.compile(r"10分\d*秒?前に期限切れ"))
        assert "。 " not in note.inner_text() and "1.9" not in note.inner_text()
    finally:
        context.close()

"""The blank forms are rendered once per language and second (page_cache.py): every visitor still
gets a CSRF token of their own that works, their own language, and the JWT page's sample exp
follows the clock."""
from __future__ import annotations

import html
import json
import re
import time

from line_token.web import page_cache

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("/", "/oauth2/v2.1/keys", "/oauth2/v2.1/jwt")


def make_app(tmp_path):
    from line_token import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "page-cache-test", "WTF_CSRF_ENABLED": True,
                       "SANDBOX_DATABASE": str(tmp_path / "sb.sqlite3"), "STATIC_BUILD_DIR": str(tmp_path / "st")})


def test_each_visitor_gets_a_working_csrf_token_of_their_own(tmp_path, console_key_text):
    app = make_app(tmp_path)
    alice, bob = app.test_client(), app.test_client()
    page_a = alice.get("/oauth2/v2.1/jwt").get_data(as_text=True)
    page_b = bob.get("/oauth2/v2.1/jwt").get_data(as_text=True)
    token_a, token_b = set(CSRF.findall(page_a)), set(CSRF.findall(page_b))
    assert len(token_a) == 1 and len(token_b) == 1 and token_a != token_b  # one per visitor, on every form
    assert page_cache.PLACEHOLDER not in page_a + page_b
    form = {"channel_id": "1234567890", "kid": "", "private_key": console_key_text, "token_exp": "30",
            "token_exp_unit": "days", "exp_minutes": "30", "sign_in": "server"}
    # Bob's token is no good with Alice's session (the cached page did not share one token).
    assert alice.post("/oauth2/v2.1/jwt", data={**form, "csrf_token": token_b.pop()}).status_code == 400
    signed = alice.post("/oauth2/v2.1/jwt", data={**form, "csrf_token": token_a.pop()})
    assert signed.status_code == 200 and 'id="jwt-token"' in signed.get_data(as_text=True)


def test_each_language_is_cached_apart(tmp_path):
    client = make_app(tmp_path).test_client()
    for path in PAGES:
        for _ in range(2):  # the second answer comes from the cache
            ja = client.get(path, headers={"Accept-Language": "ja"}).get_data(as_text=True)
            en = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
            assert '<html lang="ja">' in ja and "チャネル" in ja
            assert '<html lang="en">' in en and "チャネル" not in en
            assert f"next={path}" in ja.replace("%2F", "/")  # the language links come back to this page


def test_the_sample_payload_exp_follows_the_clock(tmp_path, monkeypatch):
    client = make_app(tmp_path).test_client()

    def sample_exp() -> int:
        page = client.get("/oauth2/v2.1/jwt").get_data(as_text=True)
        payload = html.unescape(re.search(r'<textarea id="payload"[^>]*>(.*?)</textarea>', page, re.S).group(1))
        return json.loads(payload)["exp"]

    start = time.time()
    first = sample_exp()
    assert abs(first - (start + 1800)) < 120  # generous: a busy machine
    monkeypatch.setattr(time, "time", lambda: start + 500)
    assert sample_exp() == int(start + 500) + 1800

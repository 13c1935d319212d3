"""The proxy pages over loopback against gunicorn started as the Procfile does: the token
flow by JSON and by form (real CSRF), 50 concurrent issue calls to the in-process sandbox,
and LINE unreachable or slow."""
from __future__ import annotations

import html
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from line_token.core import signing
from conftest import BUSY_MACHINE_SLACK, free_port, live_channel

pytestmark = pytest.mark.server


def api(base: str, path: str, body: dict) -> dict:
    response = requests.post(base + path, json=body, timeout=15)
    assert response.status_code == 200, response.text
    return response.json()


def test_json_flow_over_loopback(live_server, key):
    base = live_server.url
    ch = live_channel(base, key, "proxy test")
    jwt = signing.build_assertion(ch["channel_id"], ch["kid"], key, 3600)

    issued = api(base, "/oauth2/v2.1/token", {"client_assertion": jwt, "target": "sandbox"})
    assert issued["response_status_code"] == 200
    token = issued["response_body"]
    assert token["key_id"] in api(base, "/oauth2/v2.1/tokens", {"client_assertion": jwt, "target": "sandbox"})["response_body"]["kids"]
    verified = api(base, "/oauth2/v2.1/verify", {"access_token": token["access_token"], "target": "sandbox"})
    assert verified["response_body"]["client_id"] == ch["channel_id"]
    revoked = api(base, "/oauth2/v2.1/revoke", {"client_id": ch["channel_id"], "client_secret": ch["channel_secret"],
                                                "access_token": token["access_token"], "target": "sandbox"})
    assert revoked == {"response_status_code": 200, "response_body": ""}
    kids = api(base, "/oauth2/v2.1/tokens", {"client_assertion": jwt, "target": "sandbox"})["response_body"]["kids"]
    assert token["key_id"] not in kids
    bad = api(base, "/oauth2/v2.1/token", {"client_assertion": jwt + "x", "target": "sandbox"})
    assert bad["response_status_code"] == 400 and bad["response_body"]["error"] == "invalid_client"


class Browser:
    """A requests session that posts forms as a browser does: with the page's CSRF token and cookie."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def post_form(self, path: str, data: dict) -> str:
        page = self.session.get(self.base + path, timeout=10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = self.session.post(self.base + path, data={**data, "csrf_token": csrf}, timeout=15)
        assert response.status_code == 200, response.text[:2000]
        return html.unescape(response.text)


def test_form_flow_over_loopback_with_csrf(live_server, key, console_key_text):
    base = live_server.url
    ch = live_channel(base, key, "proxy test")
    browser = Browser(base)

    # One step: channel ID, kid and private key in, token out.
    issued = browser.post_form("/oauth2/v2.1/token", {
        "channel_id": ch["channel_id"], "kid": ch["kid"], "private_key": console_key_text,
        "token_exp": "1", "token_exp_unit": "days", "exp_minutes": "30", "target": "sandbox"})
    token = re.search(r'<pre id="access-token"[^>]*>([^<]+)</pre>', issued).group(1)
    key_id = re.search(r'<code id="key-id">([^<]+)</code>', issued).group(1)
    jwt = re.search(r'<pre id="signed-assertion"[^>]*>([^<]+)</pre>', issued).group(1)
    assert "86400 seconds" in issued

    assert f"<code>{key_id}</code>" in browser.post_form("/oauth2/v2.1/tokens", {"client_assertion": jwt, "target": "sandbox"})
    assert "The token is valid" in browser.post_form("/oauth2/v2.1/verify", {"access_token": token, "target": "sandbox"})
    revoked = browser.post_form("/oauth2/v2.1/revoke", {"client_id": ch["channel_id"], "client_secret": ch["channel_secret"],
                                                         "access_token": token, "target": "sandbox"})
    assert "The sandbox accepted the request" in revoked
    listed = browser.post_form("/oauth2/v2.1/tokens", {"client_assertion": jwt, "target": "sandbox"})
    assert key_id not in listed and "0 of at most 30" in listed

    # Without the CSRF token a form post is refused; JSON needs none.
    refused = requests.post(base + "/oauth2/v2.1/verify", data={"access_token": token, "target": "sandbox"}, timeout=10)
    assert refused.status_code == 400


@pytest.mark.slow
def test_50_concurrent_one_step_issues_to_the_sandbox_do_not_deadlock(start_server, key, console_key):
    """Each call signs, then issues through the in-process sandbox. An HTTP call back to the
    server itself would need a second free thread per request and stall under this load."""
    server = start_server()  # the Procfile's defaults: 2 gevent workers
    channels = [live_channel(server.url, key, "proxy test") for _ in range(2)]  # 25 each: under LINE's 30

    def issue(i: int) -> tuple[int, dict, float]:
        ch = channels[i % 2]
        started = time.monotonic()
        response = requests.post(server.url + "/oauth2/v2.1/token", json={
            "channel_id": ch["channel_id"], "kid": ch["kid"], "private_key": console_key,
            "token_exp": 3600, "target": "sandbox"}, timeout=30)
        return response.status_code, response.json(), time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(issue, range(50)))
    elapsed = time.monotonic() - started

    statuses = [status for status, _, _ in results]
    assert statuses == [200] * 50, statuses
    line_statuses = [body["response_status_code"] for _, body, _ in results]
    assert line_statuses == [200] * 50, [body for _, body, _ in results if body["response_status_code"] != 200][:3]
    assert len({body["response_body"]["key_id"] for _, body, _ in results}) == 50
    for ch in channels:
        jwt = signing.build_assertion(ch["channel_id"], ch["kid"], key)
        kids = api(server.url, "/oauth2/v2.1/tokens", {"client_assertion": jwt, "target": "sandbox"})
        assert len(kids["response_body"]["kids"]) == 25
    assert "WORKER TIMEOUT" not in server.log() and "Traceback" not in server.log()
    print(f"\n50 concurrent one-step issues: {elapsed:.2f} s total, "
          f"slowest {max(t for _, _, t in results):.2f} s")


@pytest.mark.slow
def test_a_single_threaded_server_still_answers_sandbox_calls(start_server, key):
    """One worker process: the call into the sandbox stays in the request's own greenlet (no HTTP call back
    to the server, which under gthread with one thread would have waited on itself forever)."""
    server = start_server(workers=1)
    ch = live_channel(server.url, key, "proxy test")
    jwt = signing.build_assertion(ch["channel_id"], ch["kid"], key, 600)
    started = time.monotonic()
    issued = api(server.url, "/oauth2/v2.1/token", {"client_assertion": jwt, "target": "sandbox"})
    assert issued["response_status_code"] == 200
    assert time.monotonic() - started < 10 + BUSY_MACHINE_SLACK  # a call back to itself would hang until the 30 s worker timeout


def test_dead_upstream_is_502_within_the_timeout(start_server):
    server = start_server(env={"LINE_API_BASE_URL": f"http://127.0.0.1:{free_port()}", "LINE_API_TIMEOUT": "3"})
    started = time.monotonic()
    response = requests.post(server.url + "/oauth2/v2.1/verify", json={"access_token": "a.b.c"}, timeout=10)
    assert time.monotonic() - started < BUSY_MACHINE_SLACK  # refused at once, not after the timeout
    assert response.status_code == 502
    assert response.json()["error"] == "upstream_unreachable"


def test_slow_upstream_is_504_within_the_timeout(start_server, slow_upstream):
    server = start_server(env={"LINE_API_BASE_URL": slow_upstream, "LINE_API_TIMEOUT": "3"})
    started = time.monotonic()
    response = requests.post(server.url + "/oauth2/v2.1/token", json={"client_assertion": "a.b.c"}, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert response.json()["error"] == "upstream_timeout"
    assert 2.9 < elapsed < 3 + BUSY_MACHINE_SLACK
    # A form post gets the form back with the message, and the same status.
    browser = requests.Session()
    form = browser.get(server.url + "/v2/oauth/verify", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    started = time.monotonic()
    page = browser.post(server.url + "/v2/oauth/verify", data={"access_token": "x", "csrf_token": csrf}, timeout=30)
    assert page.status_code == 504 and time.monotonic() - started < 3 + BUSY_MACHINE_SLACK
    assert "did not answer within 3 seconds" in page.text and 'id="verify_v2-form"' in page.text

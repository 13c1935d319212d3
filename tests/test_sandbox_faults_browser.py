"""The sandbox console's faults, clock and request log in Debian's chromium against a real Procfile server
(issue 21): each form answers in place with the channel still open, and the log shows the bot's call with its
secret masked; the secret never travels in a URL."""
from __future__ import annotations

import re

import pytest
import requests

from browsing import create_console_channel, tab

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_faults_clock_and_log_from_the_console(browser, start_server):
    from playwright.sync_api import expect

    server = start_server()
    with tab(browser, server.url, "ja-JP", timeout=15_000) as (page, watch):
        check_faults_clock_and_log(page, watch, server, expect)


def check_faults_clock_and_log(page, watch, server, expect) -> None:
    channel_id, secret = create_console_channel(page, server.url, "faults")
    page.select_option("#fault_path", "/v2/oauth/accessToken")
    page.select_option("#fault_status", "503")
    page.fill("#fault_count", "2")
    page.click("#fault-form button[type=submit]")
    expect(page.locator("#pending-faults")).to_contain_text("/v2/oauth/accessToken")
    expect(page.locator("#open-channel")).to_contain_text("障害")
    assert page.input_value("#channel_secret") == secret

    answer = requests.post(f"{server.url}/sandbox/v2/oauth/accessToken", timeout=30, data={
        "grant_type": "client_credentials", "client_id": channel_id, "client_secret": secret})
    assert answer.status_code == 503 and answer.json() == {"message": "Service unavailable"}

    page.fill("#advance_seconds", "7200")
    page.click("#clock-form button[type=submit]")
    expect(page.locator("#channel-clock")).to_have_attribute("data-offset", "7200")
    expect(page.locator("#request-log")).to_contain_text("Service unavailable")
    expect(page.locator("#request-log")).to_contain_text("[masked: 32 characters]")
    assert secret not in page.inner_text("#request-log")
    assert not [url for _, url, _ in watch.requests if secret in url]
    assert re.search(r"/sandbox/?$", page.url)

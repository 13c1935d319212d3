"""Reliability against gunicorn started as the Procfile does: the upstream fault matrix through
the proxy, with the app still serving other requests while LINE hangs.

LINE is played by a local HTTP server that misbehaves on demand: it refuses the connection,
never answers, trickles its body a byte at a time, answers 5xx, answers HTML, answers 2 MiB,
cuts the answer short, or answers something that is not HTTP. Each fault must give the user a
clear message (JSON for scripts, the form with the message for people) within
LINE_API_TIMEOUT, never a 500 or a traceback.

Covered elsewhere, not repeated here:
- state survives a stop/start of the Procfile server, and 40 concurrent v2.1 issues against
  3 workers give exactly 30 issued + 10 refused with LINE's error and a matching kids list,
  both on SQLite and on PostgreSQL (DATABASE_URL): tests/test_sandbox_server.py
  (test_state_survives_a_restart, test_concurrent_burst_issues_exactly_thirty);
- the same faults one level down (line_client.call) and 50 concurrent one-step issues through
  the proxy: tests/test_line_client.py, tests/test_proxy_server.py.
"""
from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import free_port

pytestmark = pytest.mark.server

TIMEOUT = 2  # LINE_API_TIMEOUT for these servers
FAULTS = {"injected": 0}


class FaultyLine(http.server.BaseHTTPRequestHandler):
    """LINE on a bad day; ``mode`` (a class attribute) picks the fault."""

    mode = "ok"
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        mode = type(self).mode
        if mode == "silent":
            time.sleep(TIMEOUT + 4)
            return
        if mode == "trickle":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2000")
            self.end_headers()
            for _ in range(2000):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
            return
        if mode == "garbage":
            self.wfile.write(b"this is not HTTP\r\n\r\n")
            self.close_connection = True
            return
        if mode == "cut":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "500")
            self.end_headers()
            self.wfile.write(b'{"access_token": "')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        status, content_type, body = {
            "ok": (200, "application/json", b'{"client_id": "1234567890", "expires_in": 100, "scope": "P CM"}'),
            "503": (503, "application/json", b'{"message": "Service Unavailable"}'),
            "500": (500, "text/html", b"<html><body><h1>Internal Server Error</h1></body></html>"),
            "html": (200, "text/html", b"<html><body>Please log in to the hotel Wi-Fi</body></html>"),
            "huge": (200, "application/json", b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'),
        }[mode]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    do_GET = do_POST

    def log_message(self, *args):
        return None


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        return None  # the proxy hanging up on a fault is the point, not news


@pytest.fixture(scope="module")
def faulty_line():
    server = QuietServer(("127.0.0.1", 0), FaultyLine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    FaultyLine.mode = "ok"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, faulty_line):
    from conftest import LiveServer

    live = LiveServer(tmp_path_factory.mktemp("faults"), {
        "LINE_API_BASE_URL": f"http://127.0.0.1:{faulty_line.server_address[1]}", "LINE_API_TIMEOUT": str(TIMEOUT)})
    live.start()
    yield live
    live.stop()


def call(base: str, path: str, body: dict) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.post(base + path, json=body, timeout=TIMEOUT + 10)
    FAULTS["injected"] += 1
    return response, time.monotonic() - started


def form(base: str, path: str, fields: dict) -> tuple[requests.Response, float]:
    browser = requests.Session()
    page = browser.get(base + path, timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    started = time.monotonic()
    response = browser.post(base + path, data={**fields, "csrf_token": csrf}, timeout=TIMEOUT + 10)
    FAULTS["injected"] += 1
    return response, time.monotonic() - started


def no_traceback(response: requests.Response) -> None:
    assert "Traceback" not in response.text and 'File "' not in response.text


# --------------------------------------------------------------------------- the fault matrix

# (mode, status, error code, words in the message)
FAILING = [
    ("silent", 504, "upstream_timeout", f"did not answer within {TIMEOUT} seconds"),
    ("trickle", 504, "upstream_timeout", f"did not answer within {TIMEOUT} seconds"),
    ("huge", 502, "upstream_too_large", "larger than 1 MiB"),
    ("cut", 502, "upstream_unreachable", "broke off"),
    ("garbage", 502, "upstream_unreachable", "Could not reach"),
]


@pytest.mark.parametrize("mode, status, code, words", FAILING, ids=[f[0] for f in FAILING])
def test_a_failing_upstream_is_a_clear_error_within_the_timeout(server, mode, status, code, words):
    FaultyLine.mode = mode
    for path, body in (("/oauth2/v2.1/verify", {"access_token": "a.b.c"}),  # a GET at LINE
                       ("/oauth2/v2.1/token", {"client_assertion": "a.b.c"})):  # a POST at LINE
        response, elapsed = call(server.url, path, body)
        assert response.status_code == status, (mode, path, response.text)
        assert elapsed < TIMEOUT + 1.5, (mode, path, elapsed)
        data = response.json()
        assert data["error"] == code and words in data["error_description"], data
        no_traceback(response)
    page, elapsed = form(server.url, "/v2/oauth/verify", {"access_token": "abc"})
    assert page.status_code == status and elapsed < TIMEOUT + 1.5
    assert 'id="upstream-error"' in page.text and words in page.text  # the form again, with the message
    assert 'name="access_token"' in page.text
    no_traceback(page)


def test_connection_refused_is_502_at_once(start_server):
    dead = start_server(env={"LINE_API_BASE_URL": f"http://127.0.0.1:{free_port()}", "LINE_API_TIMEOUT": str(TIMEOUT)})
    response, elapsed = call(dead.url, "/oauth2/v2.1/revoke", {"client_id": "1", "client_secret": "s",
                                                               "access_token": "a.b.c"})
    assert response.status_code == 502 and elapsed < 1.5
    assert response.json()["error"] == "upstream_unreachable" and "refused" in response.json()["error_description"]
    page, elapsed = form(dead.url, "/oauth2/v2.1/verify", {"access_token": "a.b.c"})
    assert page.status_code == 502 and "refused" in page.text and elapsed < 1.5
    no_traceback(page)
    # The sandbox target does not depend on LINE at all.
    assert call(dead.url, "/v2/oauth/verify", {"access_token": "x", "target": "sandbox"})[0].json()[
        "response_status_code"] == 400


@pytest.mark.parametrize("mode, status", [("503", 503), ("500", 500)])
def test_lines_own_5xx_is_passed_through_and_explained(server, mode, status):
    """LINE answered, badly: that is LINE's answer, shown as sent (not our 5xx), with a hint."""
    FaultyLine.mode = mode
    response, elapsed = call(server.url, "/v2/oauth/verify", {"access_token": "abc"})
    assert response.status_code == 200 and elapsed < TIMEOUT
    assert response.json()["response_status_code"] == status
    page, _ = form(server.url, "/v2/oauth/verify", {"access_token": "abc"})
    assert page.status_code == 200 and "LINE had a problem on its side" in page.text
    no_traceback(page)


def test_a_non_json_answer_is_shown_as_text(server):
    FaultyLine.mode = "html"
    response, _ = call(server.url, "/oauth2/v2.1/verify", {"access_token": "a.b.c"})
    assert response.status_code == 200
    assert response.json() == {"response_status_code": 200,
                               "response_body": "<html><body>Please log in to the hotel Wi-Fi</body></html>"}
    page, _ = form(server.url, "/oauth2/v2.1/verify", {"access_token": "a.b.c"})
    assert page.status_code == 200 and "hotel Wi-Fi" in page.text
    assert "<body>Please log in" not in page.text  # escaped, never rendered as HTML
    no_traceback(page)


# --------------------------------------------------------------------------- still serving


def test_pages_and_the_sandbox_answer_while_line_hangs(server):
    """Four calls stuck on a silent LINE hold four of the server's eight threads: the rest
    still serve pages, signing and the sandbox at once, and the stuck ones end at the timeout."""
    FaultyLine.mode = "silent"
    with ThreadPoolExecutor(max_workers=4) as pool:
        stuck = [pool.submit(call, server.url, "/oauth2/v2.1/token", {"client_assertion": "a.b.c"}) for _ in range(4)]
        time.sleep(0.3)
        assert not any(f.done() for f in stuck)
        for _ in range(5):
            started = time.monotonic()
            page = requests.get(server.url + "/oauth2/v2.1/jwt", timeout=5)
            assert page.status_code == 200 and time.monotonic() - started < 1.0
        started = time.monotonic()
        keys = requests.post(server.url + "/oauth2/v2.1/keys", json={"action": "generate"}, timeout=5)
        assert keys.status_code == 200
        channel = requests.post(server.url + "/sandbox/api/channels", json={}, timeout=5)
        assert channel.status_code == 201
        verify = requests.post(server.url + "/v2/oauth/verify", json={"access_token": "x", "target": "sandbox"},
                               timeout=5)
        assert verify.json()["response_status_code"] == 400
        assert time.monotonic() - started < 2.0
        assert not all(f.done() for f in stuck)  # all that happened while LINE was still hanging
        results = [f.result() for f in stuck]
    for response, elapsed in results:
        assert response.status_code == 504 and elapsed < TIMEOUT + 1.5
    FaultyLine.mode = "ok"
    assert call(server.url, "/v2/oauth/verify", {"access_token": "abc"})[0].json()["response_status_code"] == 200


def test_report_faults_injected():
    print(f"\nfaults injected: {FAULTS['injected']} requests over {len(FAILING) + 4} kinds of fault")
    assert FAULTS["injected"] >= 20

"""The LINE client: its interface, failures mapped to 502/504 within the timeout, and
the sandbox target served in process without any network call."""
from __future__ import annotations

import http.server
import logging
import socket
import threading
import time

import pytest
import requests

from line_token.core import display, line_client
from line_token.core.line_client import LineAPIError
from line_token.core.signing import InputError

from conftest import BUSY_MACHINE_SLACK, ROOT, free_port

SECRET_TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQtdmFsdWU.c2lnbmF0dXJlLXZhbHVlLXNlY3JldA"


# --------------------------------------------------------------------------- fake upstreams


class Upstream:
    """A local threading HTTP server whose handler the test chooses."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, bytes]] = []

    def log_message(self, *args) -> None:
        return None

    def answer(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).seen.append((self.command, self.path, self.rfile.read(length)))


def upstream(handler_body) -> Upstream:
    """An upstream whose GET and POST both run ``handler_body(handler)``."""
    handler = type("Handler", (Quiet,), {"do_GET": handler_body, "do_POST": handler_body, "seen": []})
    return Upstream(handler)


@pytest.fixture
def make_upstream():
    started: list[Upstream] = []

    def _make(handler_body) -> Upstream:
        up = upstream(handler_body)
        started.append(up)
        return up

    yield _make
    for up in started:
        up.close()


@pytest.fixture
def line_app(app):
    app.config["LINE_API_TIMEOUT"] = 3
    return app


@pytest.fixture
def line_answering(line_app, make_upstream):
    """Point line_app's LINE at a new upstream that records each request and answers ``h.answer(*args)``."""
    def _start(*args, **headers) -> Upstream:
        def handle(h):
            h.record()
            h.answer(*args, **headers)

        up = make_upstream(handle)
        line_app.config["LINE_API_BASE_URL"] = up.url
        return up
    return _start


# --------------------------------------------------------------------------- the interface


def test_endpoints_and_targets_are_lines_paths():
    assert line_client.ENDPOINTS == {
        "issue_v21": ("POST", "/oauth2/v2.1/token"),
        "kids_v21": ("GET", "/oauth2/v2.1/tokens/kid"),
        "verify_v21": ("GET", "/oauth2/v2.1/verify"),
        "revoke_v21": ("POST", "/oauth2/v2.1/revoke"),
        "issue_stateless": ("POST", "/oauth2/v3/token"),
        "issue_v2": ("POST", "/v2/oauth/accessToken"),
        "verify_v2": ("POST", "/v2/oauth/verify"),
        "revoke_v2": ("POST", "/v2/oauth/revoke"),
        "bot_info": ("GET", "/v2/bot/info"),
        "quota": ("GET", "/v2/bot/message/quota"),
        "quota_consumption": ("GET", "/v2/bot/message/quota/consumption"),
    }
    assert line_client.TARGETS == ("line", "sandbox")


def test_post_sends_a_form_and_get_sends_query_parameters(line_app, line_answering):
    up = line_answering(200, b'{"ok": true}')
    with line_app.app_context():
        posted = line_client.call("revoke_v2", {"access_token": "abc def"})
        got = line_client.call("verify_v21", {"access_token": "a+b/c="})
    seen = up.server.RequestHandlerClass.seen
    assert seen[0] == ("POST", "/v2/oauth/revoke", b"access_token=abc+def")
    assert seen[1][0] == "GET" and seen[1][1] == "/oauth2/v2.1/verify?access_token=a%2Bb%2Fc%3D"
    assert posted.status_code == 200 and posted.body == {"ok": True}
    # The URL we keep has no query string: the fields (secrets included) are kept apart.
    assert got.url == up.url + "/oauth2/v2.1/verify" and "?" not in got.url
    assert got.fields == {"access_token": "a+b/c="} and got.method == "GET" and got.target == "line"


def test_line_is_told_this_projects_name_version_and_address(line_app, make_upstream):
    """The User-Agent a server receives names this project and its version from pyproject.toml (and its address,
    once [project.urls] names one), not LINE's spec repository."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    received = []

    def handle(h):
        received.append(h.headers.get("User-Agent"))
        h.answer(200, b'{"ok": true}')

    up = make_upstream(handle)
    line_app.config["LINE_API_BASE_URL"] = up.url
    with line_app.app_context():
        line_client.call("verify_v21", {"access_token": "abc"})
    address = project.get("urls", {}).get("Homepage")
    assert received == [f"line-token-tester/{project['version']}" + (f" (+{address})" if address else "")]
    assert "line-openapi" not in received[0] and "line/" not in received[0]


def test_bearer_calls_send_the_token_only_in_the_authorization_header(line_app, make_upstream):
    def handle(h):
        h.record()
        type(h).auth.append(h.headers.get("Authorization"))
        if h.path == "/v2/bot/info":
            h.answer(200, b'{"userId": "U0123456789abcdef0123456789abcdef", "displayName": "Bot"}')
        else:
            h.answer(401, b'{"message": "Authentication failed. Confirm that the access token in the '
                          b'authorization header is valid."}')

    up = make_upstream(handle)
    up.server.RequestHandlerClass.auth = []
    line_app.config["LINE_API_BASE_URL"] = up.url
    token = "eyJhbGciOiJIUzI1NiJ9.payload-part.signature-part"
    with line_app.app_context():
        info = line_client.call("bot_info", {}, bearer=token)
        quota = line_client.call("quota", {}, bearer=token)
    seen = up.server.RequestHandlerClass.seen
    assert [s[:2] for s in seen] == [("GET", "/v2/bot/info"), ("GET", "/v2/bot/message/quota")]
    assert up.server.RequestHandlerClass.auth == [f"Bearer {token}"] * 2
    assert info.ok and info.body["displayName"] == "Bot" and info.bearer == token and info.fields == {}
    assert quota.status_code == 401 and display.bearer_reason(quota.status_code, quota.body) == "invalid"
    assert "unknown to LINE, expired or revoked" in display.explain(quota.status_code, quota.body)
    masked = display.curl_command("GET", info.url, {}, bearer=token)
    assert token not in masked and "Authorization: Bearer eyJh...part" in masked
    assert f"Authorization: Bearer {token}" in display.curl_command("GET", info.url, {}, True, bearer=token)


def test_bearer_reasons_follow_lines_messages():
    reason = display.bearer_reason
    assert reason(401, {"message": "Authorization header required. Must follow the scheme, "
                                   "'Authorization: Bearer <ACCESS TOKEN>'"}) == "no_header"
    assert reason(401, {"message": "Authentication failed due to the following reason: The access token "
                                   "malformed. Confirm that the access token in the authorization header is "
                                   "valid."}) == "malformed"
    assert reason(200, {"userId": "U"}) is None and reason(500, "oops") is None


def test_line_errors_non_json_and_empty_bodies_pass_through(line_app, make_upstream):
    answers = {
        "/oauth2/v2.1/token": (400, b'{"error":"invalid_client","error_description":"Invalid exp"}', "application/json"),
        "/oauth2/v2.1/revoke": (200, b"", "application/json"),
        "/v2/oauth/verify": (503, b"<html>busy</html>", "text/html"),
    }

    def handle(h):
        h.record()
        status, body, ctype = answers[h.path.split("?")[0]]
        h.answer(status, body, ctype)

    up = make_upstream(handle)
    line_app.config["LINE_API_BASE_URL"] = up.url
    with line_app.app_context():
        bad = line_client.call("issue_v21", {"client_assertion": "x"})
        empty = line_client.call("revoke_v21", {"access_token": "x"})
        html = line_client.call("verify_v2", {"access_token": "x"})
    assert (bad.status_code, bad.body) == (400, {"error": "invalid_client", "error_description": "Invalid exp"})
    assert (empty.status_code, empty.body) == (200, "")
    assert (html.status_code, html.body) == (503, "<html>busy</html>")


def test_redirects_are_not_followed(line_app, line_answering):
    up = line_answering(302, b"", Location="http://127.0.0.1:1/elsewhere")
    with line_app.app_context():
        response = line_client.call("issue_v2", {"client_id": "1"})
    assert response.status_code == 302
    assert len(up.server.RequestHandlerClass.seen) == 1


def test_a_huge_body_is_refused_with_a_clear_error(line_app, line_answering):
    big = b"x" * (line_client.MAX_BODY + 10)

    line_answering(200, big, "text/plain")
    with line_app.app_context(), pytest.raises(LineAPIError) as caught:
        line_client.call("issue_v2", {})
    assert caught.value.status == 502 and caught.value.code == "upstream_too_large"
    assert "1 MiB" in caught.value.description


# --------------------------------------------------------------------------- failures within the timeout


def test_closed_port_is_502_at_once(line_app):
    line_app.config["LINE_API_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with line_app.app_context(), pytest.raises(LineAPIError) as caught:
        line_client.call("issue_v21", {"client_assertion": SECRET_TOKEN})
    assert time.monotonic() - started < BUSY_MACHINE_SLACK  # refused at once, not after the 3 s timeout
    assert (caught.value.status, caught.value.code) == (502, "upstream_unreachable")
    assert "connection was refused" in caught.value.description
    assert SECRET_TOKEN not in caught.value.description


def test_unresolvable_host_is_502(line_app, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    line_app.config["LINE_API_BASE_URL"] = "https://api.line.invalid"
    with line_app.app_context(), pytest.raises(LineAPIError) as caught:
        line_client.call("verify_v2", {"access_token": "x"})
    assert (caught.value.status, caught.value.code) == (502, "upstream_unreachable")
    assert "could not be resolved" in caught.value.description


def test_invalid_base_url_is_502_not_500(line_app):
    line_app.config["LINE_API_BASE_URL"] = "ftp//nowhere"
    with line_app.app_context(), pytest.raises(LineAPIError) as caught:
        line_client.call("verify_v2", {"access_token": "x"})
    assert caught.value.status == 502


def test_silent_upstream_is_504_within_the_timeout(line_app, make_upstream):
    def handle(h):
        time.sleep(30)  # far longer than LINE_API_TIMEOUT=3: only our deadline ends the call in time

    up = make_upstream(handle)
    line_app.config["LINE_API_BASE_URL"] = up.url
    started = time.monotonic()
    with line_app.app_context(), pytest.raises(LineAPIError) as caught:
        line_client.call("issue_v21", {"client_assertion": "x"})
    elapsed = time.monotonic() - started
    assert 2.9 < elapsed < 3 + BUSY_MACHINE_SLACK
    assert (caught.value.status, caught.value.code) == (504, "upstream_timeout")
    assert "3 seconds" in caught.value.description


def test_trickling_body_is_504_within_the_timeout(line_app, make_upstream):
    """An upstream that sends a byte a second never trips the per-read timeout; the deadline stops it."""
    def handle(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "100")
        h.end_headers()
        try:
            for _ in range(100):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(1)
        except OSError:
            pass

    up = make_upstream(handle)
    line_app.config["LINE_API_BASE_URL"] = up.url
    started = time.monotonic()
    with line_app.app_context(), pytest.raises(LineAPIError) as caught:
        line_client.call("issue_v2", {})
    assert time.monotonic() - started < 3 + BUSY_MACHINE_SLACK  # the upstream would trickle for 100 s
    assert caught.value.status == 504


# --------------------------------------------------------------------------- the sandbox target


def test_sandbox_target_is_served_in_process_without_a_socket(line_app, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the sandbox target opened a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", no_network)
    with line_app.app_context():
        response = line_client.call("verify_v2", {"access_token": "not-a-token"}, target="sandbox")
    assert response.status_code == 400
    assert response.body["error"] == "invalid_request"
    assert response.url == line_client.SANDBOX_BASE + "/v2/oauth/verify"
    assert response.target == "sandbox"


def test_sandbox_target_works_with_an_explicit_app_and_no_context(line_app):
    """As a click command might call it: app given, no request context."""
    response = line_client.call("verify_v21", {"access_token": "a.b.c"}, target="sandbox", app=line_app)
    assert response.status_code == 400
    assert response.body == {"error": "invalid_request", "error_description": "The access token revoked"}


def test_sandbox_disabled_and_unknown_target_are_400_naming_target(line_app):
    """Bad input, refused before anything is sent: InputError naming ``target`` (a 400 in the web layer)."""
    with line_app.app_context():
        with pytest.raises(InputError) as unknown:
            line_client.call("verify_v2", {"access_token": "x"}, target="http://evil.example")
        line_app.config["SANDBOX_ENABLED"] = False
        with pytest.raises(InputError) as disabled:
            line_client.call("verify_v2", {"access_token": "x"}, target="sandbox")
        with pytest.raises(LineAPIError) as endpoint:
            line_client.call("nope", {}, target="line")
    assert unknown.value.field == "target" and '"line" or "sandbox"' in unknown.value.message
    assert disabled.value.field == "target" and "SANDBOX_ENABLED=0" in disabled.value.message
    assert endpoint.value.status == 400


def test_the_session_is_shared_and_keeps_no_cookies(line_app, line_answering):
    line_answering(200, b"{}", Set_Cookie="who=alice; Path=/")
    with line_app.app_context():
        line_client.call("issue_v2", {})
        line_client.call("issue_v2", {})
    assert line_client.session() is line_client.session()
    assert len(line_client.session().cookies) == 0


def test_secrets_never_reach_the_log(line_app, line_answering, caplog):
    line_answering(200, b"{}")
    caplog.set_level(logging.DEBUG)
    with line_app.app_context():
        line_client.call("verify_v21", {"access_token": SECRET_TOKEN})
        line_client.call("revoke_v21", {"client_id": "1", "client_secret": "s3cr3t-channel-secret",
                                        "access_token": SECRET_TOKEN})
        line_client.call("verify_v21", {"access_token": SECRET_TOKEN}, target="sandbox")
    line_app.config["LINE_API_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
    with line_app.app_context(), pytest.raises(LineAPIError):
        line_client.call("verify_v21", {"access_token": SECRET_TOKEN})
    text = caplog.text
    assert "/oauth2/v2.1/verify" in text
    assert SECRET_TOKEN not in text and SECRET_TOKEN[:20] not in text and "s3cr3t" not in text


# --------------------------------------------------------------------------- helpers for showing requests


def test_mask_shows_first_and_last_four_only():
    assert display.mask(SECRET_TOKEN) == SECRET_TOKEN[:4] + "…" + SECRET_TOKEN[-4:]
    assert display.mask("short") == "*****"
    assert display.masked({"client_id": "123", "client_secret": "0123456789abcdef"}) == {
        "client_id": "123", "client_secret": "0123…cdef"}


@pytest.mark.parametrize("length", [8, 9, 10, 11, 12])
def test_a_short_secret_is_never_shown_as_its_two_ends(length):
    """Under 12 characters, "first 4 … last 4" would show most or all of the secret: hide it whole."""
    secret = "Kq7Zm2Xw9Rt4Pb"[:length]
    shown = display.mask(secret)
    if length < 12:
        assert shown == "*" * length
    else:
        assert shown == secret[:4] + "…" + secret[-4:]  # 4 of 12 characters stay hidden
    curl = display.curl_command("POST", "https://api.line.me/v2/oauth/accessToken",
                                    {"client_id": "1234567890", "client_secret": secret})
    assert secret not in curl
    assert ("*" * length if length < 12 else secret[:4] + "..." + secret[-4:]) in curl


def test_curl_command_masks_secrets_unless_asked():
    fields = {"grant_type": "client_credentials", "client_assertion": SECRET_TOKEN}
    masked = display.curl_command("POST", "https://api.line.me/oauth2/v2.1/token", fields)
    full = display.curl_command("POST", "https://api.line.me/oauth2/v2.1/token", fields, include_secrets=True)
    assert masked.startswith("curl -sS -X POST https://api.line.me/oauth2/v2.1/token")
    assert SECRET_TOKEN not in masked and "eyJh...SQ0" not in masked and SECRET_TOKEN[:4] + "..." in masked
    assert SECRET_TOKEN in full
    get = display.curl_command("GET", "https://api.line.me/oauth2/v2.1/verify", {"access_token": "it's"},
                                   include_secrets=True)
    assert "-G" in get and "'access_token=it'\"'\"'s'" in get


def test_parse_body():
    assert line_client.parse_body(b"") == ""
    assert line_client.parse_body(b'{"kids": []}') == {"kids": []}
    assert line_client.parse_body(b"plain") == "plain"
    assert line_client.parse_body("ユーザー".encode()) == "ユーザー"


@pytest.mark.parametrize("status, body, needle", [
    (400, {"error": "invalid_client", "error_description": "Invalid exp"}, "30 minutes"),
    (400, {"error": "invalid_client", "error_description": "iss and clientId of key do not match"}, "channel ID"),
    (404, {"message": "Cannot find channel key that satisfies the conditions"}, "kid"),
    (400, {"message": "The maximum number of access tokens has already been issued"}, "30 valid"),
    (400, {"error": "invalid_request", "error_description": "The access token expired"}, "lifetime is over"),
    (400, {"error": "invalid_request", "error_description": "The access token not JWS"}, "Other token types"),
    (400, {"error": "invalid_request", "error_description": "The access token revoked"}, "revoked"),
    (400, {"error": "invalid_client", "error_description": "invalid client_secret"}, "channel secret"),
    (400, {"error": "invalid_request", "error_description": "access_token invalid"}, "invalid, expired"),
    (400, {"error": "invalid_request", "error_description": "Invalid 'client_credentials'."}, "secret is wrong"),
    (429, "", "370"),
])
def test_explain_knows_lines_errors(status, body, needle):
    assert needle in display.explain(status, body)


def test_explain_is_silent_for_unknown_answers():
    assert display.explain(418, {"whatever": 1}) is None


# --------------------------------------------------------------------------- answers no LINE sends (issue 23.3)

HOSTILE_ANSWERS = {
    "nested 100,000 deep": b"[" * 100_000,
    "nested 200 deep, valid": b"[" * 200 + b"]" * 200,
    "[{},{},...] of 1 MiB": b"[" + b"{}," * ((line_client.MAX_BODY - 64) // 3) + b"{}]",
    "an object of 30,000 values": b"{" + b",".join(b'"k%d":1' % i for i in range(30_000)) + b"}",
}


def test_parse_body_keeps_an_over_complex_answer_as_cut_text_with_a_note():
    for name, raw in HOSTILE_ANSWERS.items():
        body = line_client.parse_body(raw)
        assert isinstance(body, str) and len(body) <= line_client.MAX_SHOWN_BODY, name
        assert raw.decode().startswith(body), name
        assert "not read as JSON" in body.note % body.note_params and f"{len(raw):,}" in body.note_params["size"]
    deep_enough = b'{"a":' * 3 + b"1" + b"}" * 3
    assert line_client.parse_body(deep_enough) == {"a": {"a": {"a": 1}}}  # LINE's shapes still parse


@pytest.mark.parametrize("name", list(HOSTILE_ANSWERS))
def test_a_hostile_upstreams_over_complex_answer_is_a_page_with_a_note_not_a_500(line_app, line_answering, name):
    raw = HOSTILE_ANSWERS[name]

    line_answering(200, raw)
    client = line_app.test_client()
    token = "t" * 40
    page = client.post("/v2/oauth/verify", data={"access_token": token, "target": "line"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="response-status">200<' in text, text[:500]
    assert 'id="response-body-note"' in text and "not read as JSON" in text and "LINE_API_BASE_URL" in text
    assert len(text) < 200_000  # the answer is shown cut, not whole
    answer = client.post("/v2/oauth/verify", json={"access_token": token, "target": "line"})
    envelope = answer.get_json()
    assert answer.status_code == 200 and envelope["response_status_code"] == 200
    assert len(envelope["response_body"]) <= line_client.MAX_SHOWN_BODY and "not read as JSON" in envelope["response_body_note"]
    tried = client.post("/v2/bot/info", data={"access_token": token, "target": "line"})
    text = tried.get_data(as_text=True)
    assert tried.status_code == 200 and 'id="body-note-bot_info"' in text and "not read as JSON" in text
    tried_json = client.post("/v2/bot/info", json={"access_token": token, "target": "line"})
    assert tried_json.status_code == 200 and "response_body_note" in tried_json.get_json()

"""Protections for a public deploy, through the Flask test client: security headers, HSTS only
over HTTPS (and X-Forwarded-Proto only with TRUST_PROXY), CSRF for form posts but not JSON,
the 1 MiB body limit, the optional rate limit, the sandbox switch, the language redirect, and
error messages and logs that never repeat a secret.

The same points against the Procfile's gunicorn: tests/test_security_server.py."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest

from line_token.core import signing

URN = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MIB = 1024 * 1024


def make_app(tmp_path, **overrides):
    from line_token import create_app

    config = {"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "security-test",
              "SANDBOX_DATABASE": str(tmp_path / "sandbox.sqlite3")}
    config.update(overrides)
    return create_app(config)


def rules(app, method: str):
    """(rule, endpoint) for every route taking ``method``, with <channel_id> filled in."""
    for rule in app.url_map.iter_rules():
        if method in rule.methods and rule.endpoint != "static":
            yield rule.rule.replace("<channel_id>", "1234567890").replace("<lang>", "en"), rule.endpoint


def page_paths(app) -> list[str]:
    """Every GET route that answers HTML."""
    return [path for path, endpoint in rules(app, "GET")
            if endpoint not in ("views.favicon", "set_language") and not path.startswith("/sandbox/oauth2")
            and not path.startswith("/sandbox/api")
            and not path.startswith(("/sandbox/v2/bot", "/sandbox/bot-profile"))  # the bot API (JSON) and its picture (SVG)
            and path != "/sandbox/openapi.json"]  # the sandbox's OpenAPI document (JSON, tests/test_openapi.py)


def post_paths(app) -> list[str]:
    return [path for path, _ in rules(app, "POST")]


def is_json_route(path: str) -> bool:
    """The sandbox's LINE endpoints and admin API answer JSON whatever the request's type."""
    return path.startswith("/sandbox/") and not path.startswith("/sandbox/console")


@pytest.fixture
def channel(client, console_key) -> dict:
    key = signing.load_private_key(console_key)
    created = client.post("/sandbox/api/channels", json={}).get_json()
    kid = client.post(f"/sandbox/api/channels/{created['channel_id']}/keys", json=signing.public_jwk(key),
                      auth=(created["channel_id"], created["channel_secret"])).get_json()["kid"]
    return {**created, "kid": kid, "key": key}


# --------------------------------------------------------------------------- headers


def test_every_page_has_the_security_headers(app, client):
    paths = page_paths(app)
    assert "/" in paths and "/oauth2/v2.1/jwt" in paths and "/sandbox/" in paths and len(paths) >= 12
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "text/html", path
        csp = response.headers["Content-Security-Policy"]
        directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";"))
        assert directives["script-src"] == "'self'", path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        # same-origin: our own form posts carry the Referer Flask-WTF's HTTPS check needs; no other site sees URLs.
        assert response.headers["Referrer-Policy"] == "same-origin", path
        assert response.headers["Cache-Control"] == "no-store", path
        assert "Strict-Transport-Security" not in response.headers, path  # plain http
        # script-src 'self' holds only if no page runs inline script: every <script> has a src or is data.
        for tag in re.findall(r"<script\b[^>]*>", response.get_data(as_text=True)):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", response.get_data(as_text=True)), path  # no onclick= handlers


def test_answers_that_carry_secrets_are_no_store(client, channel):
    jwt = signing.build_assertion(channel["channel_id"], channel["kid"], channel["key"], 3600)
    answers = [
        client.post("/oauth2/v2.1/keys", json={"action": "generate"}),
        client.post("/oauth2/v2.1/jwt", json={"channel_id": channel["channel_id"], "kid": channel["kid"],
                                               "private_key": signing.private_jwk(channel["key"])}),
        client.post("/oauth2/v2.1/token", json={"client_assertion": jwt, "target": "sandbox"}),
        client.post("/sandbox/oauth2/v2.1/token", data={"grant_type": "client_credentials",
                                                        "client_assertion_type": URN, "client_assertion": jwt}),
        client.post("/sandbox/api/channels", json={}),  # shows the channel secret once
        client.post("/v2/oauth/accessToken", json={"client_id": channel["channel_id"],
                                                   "client_secret": channel["channel_secret"], "target": "sandbox"}),
    ]
    for response in answers:
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_files_stay_cacheable(client):
    response = client.get("/static/app.js")
    assert response.status_code == 200 and response.headers.get("Cache-Control") != "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_only_over_https(tmp_path):
    plain = make_app(tmp_path).test_client()
    assert "Strict-Transport-Security" not in plain.get("/").headers
    # Direct TLS (the server itself speaks HTTPS): HSTS.
    direct = plain.get("/", base_url="https://tester.example")
    assert direct.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # Without TRUST_PROXY, a client-supplied X-Forwarded-Proto is ignored.
    spoofed = plain.get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers

    proxied = make_app(tmp_path, TRUST_PROXY=True).test_client()
    assert "Strict-Transport-Security" not in proxied.get("/").headers
    assert "Strict-Transport-Security" not in proxied.get("/", headers={"X-Forwarded-Proto": "http"}).headers
    behind = proxied.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert behind.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_session_cookie_is_httponly_and_lax(tmp_path):
    client = make_app(tmp_path, WTF_CSRF_ENABLED=True).test_client()
    response = client.get("/oauth2/v2.1/jwt")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # Plain http (./scripts/start on 127.0.0.1): not Secure, or the browser would never send it back.
    assert "Secure" not in cookie


def test_the_session_cookie_is_secure_over_https(tmp_path):
    proxied = make_app(tmp_path, WTF_CSRF_ENABLED=True, TRUST_PROXY=True).test_client()
    behind = proxied.get("/oauth2/v2.1/jwt", headers={"X-Forwarded-Proto": "https"}).headers["Set-Cookie"]
    assert "; Secure" in behind and "HttpOnly" in behind
    # Without TRUST_PROXY a client's own X-Forwarded-Proto changes nothing; a direct https request does.
    direct = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    spoofed = direct.test_client().get("/oauth2/v2.1/jwt", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in spoofed.headers["Set-Cookie"]
    https = direct.test_client().get("/oauth2/v2.1/jwt", base_url="https://localhost")
    assert "; Secure" in https.headers["Set-Cookie"]


# --------------------------------------------------------------------------- CSRF


@pytest.fixture
def csrf_client(tmp_path):
    return make_app(tmp_path, WTF_CSRF_ENABLED=True).test_client()


def csrf_exempted(app, path: str) -> bool:
    from line_token.sandbox.routes import SCRIPT_ENDPOINTS

    endpoint = app.url_map.bind("x").match(path, method="POST")[0]
    return app.view_functions[endpoint] in SCRIPT_ENDPOINTS


def page_token(client, path="/oauth2/v2.1/keys") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_every_form_post_needs_the_csrf_token(csrf_client):
    app = csrf_client.application
    protected = [p for p in post_paths(app) if not csrf_exempted(app, p)]
    assert set(protected) >= {"/oauth2/v2.1/keys", "/oauth2/v2.1/jwt", "/oauth2/v2.1/token", "/v2/oauth/revoke",
                              "/sandbox/console/channels", "/sandbox/console/keys"}
    for path in protected:
        for kwargs in ({"data": {"action": "generate", "access_token": "x"}},  # a cross-site HTML form
                       {"data": '{"action": "generate"}', "content_type": "text/plain"},  # enctype=text/plain
                       {"data": {"f": (io.BytesIO(b"x"), "f.txt")}, "content_type": "multipart/form-data"}):
            response = csrf_client.post(path, **kwargs)
            assert response.status_code == 400, (path, kwargs)
            assert "Form expired" in response.get_data(as_text=True), path
            assert "-----BEGIN" not in response.get_data(as_text=True) and '"d"' not in response.get_data(as_text=True)


def test_asking_for_json_does_not_skip_the_csrf_check(csrf_client):
    """A cross-site no-cors fetch can set Accept: application/json but not Content-Type: only the latter counts."""
    app = csrf_client.application
    for path in [p for p in post_paths(app) if not csrf_exempted(app, p)]:
        for kwargs in ({"data": {"action": "generate"}},
                       {"data": '{"action": "generate"}', "content_type": "text/plain"}):
            response = csrf_client.post(path, headers={"Accept": "application/json"}, **kwargs)
            assert response.status_code == 400, (path, kwargs)
            assert response.get_json()["error"] == "invalid_csrf_token", (path, response.get_json())
    # The same form post with the page's token gets through (the token, not the Accept header, decides).
    response = csrf_client.post("/oauth2/v2.1/keys", headers={"Accept": "application/json"},
                                data={"action": "generate", "csrf_token": page_token(csrf_client)})
    assert response.status_code == 200 and "<h2>Your key pair" in response.get_data(as_text=True)


def test_a_form_post_with_the_pages_token_works(csrf_client, tmp_path):
    token = page_token(csrf_client)
    response = csrf_client.post("/oauth2/v2.1/keys", data={"action": "generate", "csrf_token": token})
    assert response.status_code == 200 and "RSA" in response.get_data(as_text=True)
    # Another session's token does not do.
    other = make_app(tmp_path, WTF_CSRF_ENABLED=True).test_client()
    refused = other.post("/oauth2/v2.1/keys", data={"action": "generate", "csrf_token": token})
    assert refused.status_code == 400 and "Form expired" in refused.get_data(as_text=True)


def test_json_api_needs_no_csrf_token(csrf_client):
    response = csrf_client.post("/oauth2/v2.1/keys", json={"action": "generate"})
    assert response.status_code == 200 and response.get_json()["public"]["kty"] == "RSA"
    response = csrf_client.post("/v2/oauth/verify", json={"access_token": "x", "target": "sandbox"})
    assert response.status_code == 200 and response.get_json()["response_status_code"] == 400
    created = csrf_client.post("/sandbox/api/channels", json={"name": "script"})
    assert created.status_code == 201 and re.fullmatch(r"[0-9]{10}", created.get_json()["channel_id"])


def test_the_sandbox_line_endpoints_take_forms_without_a_token(csrf_client):
    """SDK clients post form-encoded bodies, as to api.line.me: no CSRF token there."""
    for path in ("/sandbox/oauth2/v2.1/token", "/sandbox/oauth2/v2.1/revoke", "/sandbox/oauth2/v3/token",
                 "/sandbox/v2/oauth/accessToken", "/sandbox/v2/oauth/verify", "/sandbox/v2/oauth/revoke"):
        response = csrf_client.post(path, data={"grant_type": "client_credentials"})
        # LINE's own refusal of the missing fields, not the CSRF refusal.
        assert response.status_code == 400 and "error" in response.get_json(), path
        assert response.get_json()["error"] in ("invalid_request", "invalid_client"), path
    # The admin API takes JSON only (issue 11), so a cross-site form can't create channels.
    assert csrf_client.post("/sandbox/api/channels", data={"name": "x"}).status_code == 415


def test_csrf_exemptions_are_only_on_post_routes_scripts_use(csrf_client):
    """Flask-WTF's exemption list holds the sandbox's LINE endpoints and admin API, and nothing that takes only GET."""
    from line_token.sandbox.routes import SCRIPT_ENDPOINTS
    from line_token.web.security import csrf

    app = csrf_client.application
    exempt_endpoints = {e for e, view in app.view_functions.items() if view in SCRIPT_ENDPOINTS}
    assert exempt_endpoints and all(e.startswith("sandbox.") and ".console" not in e for e in exempt_endpoints)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in exempt_endpoints:
            assert rule.methods & {"POST", "DELETE"}, rule.rule
            assert rule.rule.startswith(("/sandbox/oauth2", "/sandbox/v2", "/sandbox/api")), rule.rule
    assert {f"{v.__module__}.{v.__name__}" for v in SCRIPT_ENDPOINTS} == set(csrf._exempt_views)


# --------------------------------------------------------------------------- body size


def test_bodies_over_one_mib_are_413_json_or_html(app, client):
    big = "a" * (MIB + 1)
    channel_id = client.post("/sandbox/api/channels", json={}).get_json()["channel_id"]
    paths = [p.replace("1234567890", channel_id) for p in post_paths(app)]
    assert len(paths) >= 20
    for path in paths:
        as_json = client.post(path, data=json.dumps({"private_key": big}), content_type="application/json")
        assert as_json.status_code == 413 and as_json.is_json, path
        assert "1 MiB" in as_json.get_json()["error_description"], path
        for kwargs in ({"data": {"private_key": big}},
                       {"data": {"private_key_file": (io.BytesIO(big.encode()), "key.json")},
                        "content_type": "multipart/form-data"}):
            response = client.post(path, **kwargs)
            assert response.status_code == 413, (path, response.status_code)
            text = response.get_data(as_text=True)
            assert "1 MiB" in text and "Traceback" not in text, path
            if is_json_route(path):
                assert response.is_json and response.get_json()["error"] == "request_entity_too_large", path
            else:
                assert response.mimetype == "text/html" and "Paste only" in text, path


def test_a_body_just_under_the_limit_is_read(client):
    near = "a" * (MIB - 100)
    response = client.post("/oauth2/v2.1/jwt", json={"private_key": near, "channel_id": "1234567890"})
    assert response.status_code == 400 and response.get_json()["field"] == "private_key"


# --------------------------------------------------------------------------- rate limit


def limited_app(tmp_path, limit="5/minute", **overrides):
    return make_app(tmp_path, RATE_LIMIT=limit, **overrides)


def test_rate_limit_is_off_when_unset(client):
    for _ in range(30):
        response = client.post("/oauth2/v2.1/keys", json={"action": "nope"})
        assert response.status_code == 400
    assert "X-RateLimit-Limit" not in response.headers and "Retry-After" not in response.headers


def test_the_sixth_request_gets_429_with_retry_after(tmp_path):
    client = limited_app(tmp_path).test_client()
    for i in range(5):
        response = client.post("/oauth2/v2.1/keys", json={"action": "nope"})
        assert response.status_code == 400, i
        assert "Retry-After" not in response.headers  # only a refusal says when to come back
    refused = client.post("/oauth2/v2.1/keys", json={"action": "nope"})
    assert refused.status_code == 429 and refused.is_json
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    body = refused.get_json()
    assert body["error"] == "too_many_requests" and "5 per 1 minute" in body["error_description"]
    assert "Try again in" in body["error_description"]
    # A page gets the same refusal as HTML; the budget is per client IP across all routes.
    page = client.get("/")
    assert page.status_code == 429 and page.mimetype == "text/html" and "Retry-After" in page.headers
    assert "Too many requests" in page.get_data(as_text=True)
    assert page.headers["Content-Security-Policy"] and page.headers["Cache-Control"] == "no-store"
    # Static files are free.
    for _ in range(10):
        assert client.get("/static/app.css").status_code == 200
    assert client.get("/favicon.ico").status_code == 200
    # Another client IP has its own budget.
    assert client.get("/", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


def test_the_proxys_in_process_sandbox_call_is_not_counted_twice(tmp_path, console_key):
    client = limited_app(tmp_path).test_client()
    key = signing.load_private_key(console_key)
    # Make the channel from another address so the budget below is untouched.
    other = {"REMOTE_ADDR": "192.0.2.99"}
    ch = client.post("/sandbox/api/channels", json={}, environ_base=other).get_json()
    kid = client.post(f"/sandbox/api/channels/{ch['channel_id']}/keys", json=signing.public_jwk(key),
                      environ_base=other, auth=(ch["channel_id"], ch["channel_secret"])).get_json()["kid"]
    jwt = signing.build_assertion(ch["channel_id"], kid, key, 3600)
    for i in range(5):  # each is one request of ours plus one in-process request to the sandbox
        response = client.post("/oauth2/v2.1/token", json={"client_assertion": jwt, "target": "sandbox"})
        assert response.status_code == 200, i
        assert response.get_json()["response_status_code"] == 200, (i, response.get_json())
    assert client.post("/oauth2/v2.1/token", json={"client_assertion": jwt, "target": "sandbox"}).status_code == 429


def test_behind_a_proxy_the_limit_keys_on_the_real_client_ip(tmp_path):
    client = limited_app(tmp_path, limit="2/minute", TRUST_PROXY=True).test_client()
    router = {"REMOTE_ADDR": "10.0.0.1"}  # every request comes from the router

    def get(xff):
        return client.get("/", headers={"X-Forwarded-For": xff}, environ_base=router).status_code

    assert [get("198.51.100.1"), get("198.51.100.1"), get("198.51.100.1")] == [200, 200, 429]
    assert get("198.51.100.2") == 200
    # The router appends the address it saw; a client's own X-Forwarded-For value is not trusted.
    assert get("198.51.100.2, 198.51.100.1") == 429  # spoofed first value, real client .1
    assert get("198.51.100.1, 198.51.100.3") == 200


def test_without_trust_proxy_x_forwarded_for_is_ignored(tmp_path):
    client = limited_app(tmp_path, limit="2/minute").test_client()
    codes = [client.get("/", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_the_rate_limit_store_is_shared_by_app_instances(tmp_path):
    """gunicorn's workers are separate processes with separate apps: one count for all of them."""
    first, second = limited_app(tmp_path, limit="4/minute"), limited_app(tmp_path, limit="4/minute")
    codes = [app.test_client().get("/").status_code for app in (first, second, first, second, first, second)]
    assert codes == [200, 200, 200, 200, 429, 429]


def test_the_sqlite_counters_implement_the_pinned_limits_storage_api(tmp_path):
    """A limits release that adds or renames a Storage method fails here, not silently in production
    (Flask-Limiter's swallow_errors would turn the TypeError into no rate limit at all)."""
    from limits.storage import Storage, storage_from_string

    from line_token.web.security import sqlite_storage_class

    cls = sqlite_storage_class()
    assert issubclass(cls, Storage) and not cls.__abstractmethods__
    storage = storage_from_string("tester+sqlite://", path=str(tmp_path / "counters.sqlite3"))
    assert isinstance(storage, cls)
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3] and storage.get("k") == 3


def test_redis_url_selects_flask_limiters_redis_storage_and_fails_open_without_redis(tmp_path):
    """REDIS_URL: Flask-Limiter's own Redis storage (the real Redis is in test_deploy_server.py). A Redis
    that does not answer serves requests unlimited, as an unusable SQLite file does, rather than not at all."""
    from limits.storage import RedisStorage

    from conftest import free_port

    app = limited_app(tmp_path, limit="1/minute", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert isinstance(app.extensions["rate_limiter"].storage, RedisStorage)
    client = app.test_client()
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 200]
    assert not (tmp_path / "ratelimit.sqlite3").exists()


def test_an_unusable_rate_limit_store_fails_open(tmp_path):
    """A read-only disk must not take the site down: requests are served, unlimited."""
    client = limited_app(tmp_path, limit="1/minute", RATE_LIMIT_DATABASE="/proc/no-such-dir/ratelimit.sqlite3").test_client()
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 200]


# --------------------------------------------------------------------------- the sandbox switch


def test_sandbox_disabled_is_404_for_every_sandbox_url_and_refused_as_a_target(tmp_path):
    app = make_app(tmp_path, SANDBOX_ENABLED=False)
    client = app.test_client()
    sandbox_rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/sandbox")]
    assert len(sandbox_rules) >= 18
    for rule in sandbox_rules:
        path = rule.rule.replace("<channel_id>", "1234567890")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method, data={"grant_type": "client_credentials"})
            assert response.status_code == 404, (method, path)
    assert client.get("/sandbox/not-a-page").status_code == 404
    for path in ("/oauth2/v2.1/token", "/oauth2/v2.1/tokens", "/oauth2/v2.1/verify", "/oauth2/v2.1/revoke",
                 "/oauth2/v3/token", "/v2/oauth/accessToken", "/v2/oauth/verify", "/v2/oauth/revoke"):
        response = client.post(path, json={"access_token": "a.b.c", "client_assertion": "a.b.c", "client_id": "1",
                                           "client_secret": "s", "target": "sandbox"})
        assert response.status_code == 400, path
        body = response.get_json()
        assert body["field"] == "target" and "SANDBOX_ENABLED=0" in body["error_description"], path
        page = client.post(path, data={"access_token": "a.b.c", "client_assertion": "a.b.c", "target": "sandbox"})
        assert page.status_code == 400 and "SANDBOX_ENABLED=0" in page.get_data(as_text=True), path


# --------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "/\\/evil.example", "https://evil.example",
                                    "/\t/evil.example", "javascript:alert(1)"])
def test_the_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/ja", query_string={"next": target})
    assert response.status_code in (301, 302, 303, 307, 308)
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert "evil" not in location and "javascript" not in location
    assert client.get("/lang/ja", query_string={"next": "/oauth2/v2.1/jwt"}).headers["Location"] == "/oauth2/v2.1/jwt"


# --------------------------------------------------------------------------- secrets in messages and logs

SECRET = "S3CRET-do-not-echo-7f3a9c"


@pytest.mark.parametrize("path, body", [
    ("/oauth2/v2.1/jwt", {"privatekey": SECRET, "header": "{}", "payload": "{}"}),
    ("/oauth2/v2.1/jwt", {"privatekey": "{\"kty\": \"RSA\", \"d\": \"" + SECRET + "\"}", "header": "{}", "payload": "{}"}),
    ("/oauth2/v2.1/jwt", {"private_key": SECRET, "channel_id": "1234567890"}),
    ("/oauth2/v2.1/jwt", {"private_key": "-----BEGIN PRIVATE KEY-----\n" + SECRET + "\n-----END PRIVATE KEY-----",
                          "channel_id": "1234567890"}),
    ("/oauth2/v2.1/keys", {"action": "convert", "pem": "-----BEGIN RSA PRIVATE KEY-----\n" + SECRET + "\n-----END"}),
    ("/oauth2/v2.1/keys", {"action": "public", "private_key": SECRET}),
    ("/oauth2/v2.1/token", {"private_key": SECRET, "channel_id": "1", "target": "sandbox"}),
    ("/oauth2/v2.1/token", {"client_assertion": SECRET, "target": "nowhere"}),
    ("/oauth2/v2.1/revoke", {"client_secret": SECRET, "target": "sandbox"}),
    ("/oauth2/v2.1/verify", {"access_token": SECRET * 2000, "target": "sandbox"}),
    ("/v2/oauth/accessToken", {"client_id": "1234567890", "client_secret": [SECRET], "target": "sandbox"}),
])
def test_error_messages_never_repeat_a_secret(client, caplog, path, body):
    caplog.set_level(logging.DEBUG)
    response = client.post(path, json=body)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert SECRET not in response.get_data(as_text=True)
    assert SECRET not in caplog.text


def test_sandbox_errors_never_repeat_a_secret(client, caplog, channel):
    caplog.set_level(logging.DEBUG)
    answers = [
        client.post("/sandbox/oauth2/v2.1/token", data={"grant_type": "client_credentials",
                                                        "client_assertion_type": URN, "client_assertion": SECRET}),
        client.post("/sandbox/oauth2/v2.1/revoke", data={"client_id": channel["channel_id"], "client_secret": SECRET,
                                                         "access_token": "a.b.c"}),
        client.get("/sandbox/oauth2/v2.1/verify", query_string={"access_token": SECRET}),
        client.post("/sandbox/v2/oauth/verify", data={"access_token": SECRET}),
        client.post(f"/sandbox/api/channels/{channel['channel_id']}/keys", json={"kty": "RSA", "d": SECRET},
                    auth=(channel["channel_id"], channel["channel_secret"])),
        client.post("/sandbox/console/keys", data={"channel_id": channel["channel_id"], "public_key": SECRET,
                                                   "channel_secret": channel["channel_secret"]}),
    ]
    for response in answers:
        assert 400 <= response.status_code < 500
        text = response.get_data(as_text=True)
        if response.is_json:
            assert SECRET not in text
        else:  # the console keeps the input in its textarea; never in a message
            assert SECRET not in re.sub(r"<textarea[^>]*>.*?</textarea>", "", text, flags=re.S)
    assert SECRET not in caplog.text


def test_an_unexpected_error_logs_frames_not_the_message(app, client, caplog):
    @app.post("/_boom")
    def boom():
        raise ValueError("client_secret=" + SECRET)

    caplog.set_level(logging.DEBUG)
    response = client.post("/_boom", json={"x": 1})
    assert response.status_code == 500 and response.get_json()["error"] == "server_error"
    assert SECRET not in response.get_data(as_text=True) and "Traceback" not in response.get_data(as_text=True)
    assert "ValueError" in caplog.text and "boom" in caplog.text and SECRET not in caplog.text
    page = client.post("/_boom", data={"x": "1"})
    assert page.status_code == 500 and SECRET not in page.get_data(as_text=True)


def test_server_log_lines_lose_their_query_strings(app):
    """gunicorn logs req.uri (query included) for a request that fails outside the app; the
    development server logs every request line. Both loggers drop query strings."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep()
    for name in ("gunicorn.error", "gunicorn.access", "werkzeug"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        old_level = logger.level
        logger.setLevel(logging.DEBUG)
        try:
            logger.error("Error handling request %s %s", "GET", "/sandbox/oauth2/v2.1/verify?access_token=" + SECRET)
            logger.info('127.0.0.1 - - "GET /sandbox/oauth2/v2.1/tokens/kid?client_assertion=%s HTTP/1.1" 200 -', SECRET)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
    assert len(records) == 6 and all("/sandbox/oauth2/v2.1/" in r for r in records)
    assert not any(SECRET in r for r in records), records


def test_a_chunked_body_over_one_mib_is_413_not_truncated(app):
    """Without Content-Length werkzeug would read 1 MiB and silently drop the rest."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    def post(path: str, body: bytes, content_type: str):
        environ = EnvironBuilder(path=path, method="POST", content_type=content_type).get_environ()
        environ.pop("CONTENT_LENGTH", None)
        environ.update({"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True,
                        "HTTP_TRANSFER_ENCODING": "chunked"})
        app_iter, status, headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
        return int(status.split()[0]), headers.get("Content-Type"), b"".join(app_iter)

    status, content_type, body = post("/oauth2/v2.1/keys", json.dumps({"pem": "a" * MIB}).encode(), "application/json")
    assert status == 413 and content_type == "application/json" and b"1 MiB" in body
    status, content_type, body = post("/sandbox/oauth2/v2.1/token", b"client_assertion=" + b"a" * MIB,
                                      "application/x-www-form-urlencoded")
    assert status == 413 and content_type == "application/json"
    status, content_type, body = post("/oauth2/v2.1/jwt", b"private_key=" + b"a" * MIB,
                                      "application/x-www-form-urlencoded")
    assert status == 413 and content_type.startswith("text/html")
    # Within the limit the body arrives whole.
    status, _, body = post("/oauth2/v2.1/keys", json.dumps({"action": "generate"}).encode(), "application/json")
    assert status == 200 and b'"private"' in body


SECRET_FIELDS = ("client_assertion", "client_secret", "access_token", "private_key", "privatekey", "pem",
                 "private_key_file")


def test_no_secret_ever_travels_in_a_url_of_ours(app, client):
    """Every form that takes a secret posts it; GET forms carry none; our GET pages ignore a query."""
    for path in page_paths(app):
        page = client.get(path).get_data(as_text=True)
        for attributes, inner in re.findall(r"<form\b([^>]*)>(.*?)</form>", page, re.S):
            method = re.search(r'method="(\w+)"', attributes)
            if method is None or method.group(1).lower() == "get":
                names = set(re.findall(r'name="([^"]+)"', inner))
                assert not names & set(SECRET_FIELDS), (path, attributes, names)
        assert not re.search(r'href="[^"]*(?:access_token|client_secret|client_assertion)=', page), path
    for path in ("/oauth2/v2.1/verify", "/oauth2/v2.1/token", "/oauth2/v2.1/revoke", "/oauth2/v2.1/jwt"):
        page = client.get(path, query_string={"access_token": SECRET, "client_secret": SECRET,
                                              "client_assertion": SECRET, "private_key": SECRET})
        assert page.status_code == 200 and SECRET not in page.get_data(as_text=True), path


# --------------------------------------------------------------------------- forwarded headers (issue 23 item 2)


def picture_url(client, headers: dict) -> str:
    created = client.post("/sandbox/api/channels", json={}).get_json()
    token = client.post("/sandbox/v2/oauth/accessToken", data={
        "grant_type": "client_credentials", "client_id": created["channel_id"],
        "client_secret": created["channel_secret"]}).get_json()["access_token"]
    return client.get("/sandbox/v2/bot/info", headers={"Authorization": f"Bearer {token}", **headers}
                      ).get_json()["pictureUrl"]


def test_x_forwarded_host_is_not_trusted_unless_configured(tmp_path):
    """Issue 23 item 2: ProxyFix took X-Forwarded-Host, so a client chose the host in pictureUrl and snippets."""
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}
    proxied = make_app(tmp_path, TRUST_PROXY="1").test_client()
    url = picture_url(proxied, forged)
    assert url.startswith("https://localhost/sandbox/bot-profile/") and "evil" not in url  # the scheme is trusted
    trusting = make_app(tmp_path, TRUST_PROXY="1", TRUST_PROXY_HOST=True).test_client()
    assert picture_url(trusting, forged).startswith("https://evil.example/sandbox/bot-profile/")


def test_trust_proxy_counts_proxies_and_only_a_proxy_s_headers_count(tmp_path, caplog):
    """TRUST_PROXY=N takes the Nth X-Forwarded-For value from the right, and only from a peer TRUST_PROXY_FROM
    lists (private addresses by default): a client reaching the app directly names no one else."""
    caplog.set_level("WARNING", logger="line_token.web.security")
    two = limited_app(tmp_path / "two", limit="1/minute", TRUST_PROXY="2").test_client()
    router = {"REMOTE_ADDR": "10.0.0.1"}
    assert two.get("/", headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.1, 10.0.0.2"}, environ_base=router).status_code == 200
    assert two.get("/", headers={"X-Forwarded-For": "2.2.2.2, 198.51.100.1, 10.0.0.3"}, environ_base=router).status_code == 429
    assert two.get("/", headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.2, 10.0.0.2"}, environ_base=router).status_code == 200

    one = limited_app(tmp_path / "one", limit="1/minute", TRUST_PROXY="1").test_client()
    stranger = {"REMOTE_ADDR": "203.0.113.7"}  # a public address: not a proxy
    codes = [one.get("/", headers={"X-Forwarded-For": f"198.51.100.{i}", "X-Forwarded-Proto": "https"},
                     environ_base=stranger) for i in range(3)]
    assert [r.status_code for r in codes] == [200, 429, 429]
    assert "Strict-Transport-Security" not in codes[0].headers  # its X-Forwarded-Proto is not taken either
    untrusted = [r for r in caplog.records if "TRUST_PROXY_FROM does not list" in r.getMessage()]
    assert len(untrusted) == 1 and "203.0.113.7" in untrusted[0].getMessage()
    # A request from the proxy's side without X-Forwarded-For: said once.
    for _ in range(2):
        one.get("/static/app.css", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert len([r for r in caplog.records if "came without X-Forwarded-For" in r.getMessage()]) == 1
    # TRUST_PROXY unset and forwarded headers arrive: said once, ignored.
    plain = make_app(tmp_path / "plain").test_client()
    for _ in range(2):
        plain.get("/", headers={"X-Forwarded-For": "198.51.100.1"})
    assert len([r for r in caplog.records if "TRUST_PROXY is not set" in r.getMessage()]) == 1


@pytest.mark.parametrize("setting, value", [("TRUST_PROXY", "yes please"), ("TRUST_PROXY", "11"),
                                            ("TRUST_PROXY_FROM", "10.0.0.0/8, not-an-address")])
def test_a_bad_proxy_setting_refuses_to_start_naming_it(tmp_path, setting, value):
    with pytest.raises(RuntimeError, match=setting):
        make_app(tmp_path, **{setting: value})


def test_ipv6_clients_count_by_their_64(tmp_path):
    client = limited_app(tmp_path, limit="1/minute").test_client()
    assert client.get("/", environ_base={"REMOTE_ADDR": "2001:db8:aa:bb::1"}).status_code == 200
    assert client.get("/", environ_base={"REMOTE_ADDR": "2001:db8:aa:bb:ffff:1:2:3"}).status_code == 429
    assert client.get("/", environ_base={"REMOTE_ADDR": "2001:db8:aa:bc::1"}).status_code == 200

"""Protections for a public deploy, against gunicorn started as the Procfile does.

The centrepiece: known secrets (private keys, JWTs, channel secrets, access tokens) go through
every page, JSON API, sandbox endpoint and CLI command; then the server's captured log (access
and error log) and every response's headers (Set-Cookie and Location included, the session
cookie decoded) are searched for them. None may be found.

Also over real HTTP: CSRF (a text/plain or form-encoded cross-site post is refused), the 1 MiB
limit (form, JSON, multipart and chunked bodies), HSTS behind a trusted proxy, and a rate limit
that two worker processes count together.
"""
from __future__ import annotations

import base64
import html
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from line_token.core import signing
from conftest import ROOT, LiveServer

pytestmark = pytest.mark.server

URN = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MIB = 1024 * 1024


class Recorder:
    """A browser-like session that keeps every response, to scan their headers afterwards."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()
        self.responses: list[requests.Response] = []
        self.csrf = ""

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        response = self.session.request(method, self.base + path, **kwargs)
        self.responses.append(response)
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def form(self, path: str, data: dict, files: dict | None = None) -> str:
        """Post a form as the page does (with its CSRF token); the page's HTML, unescaped."""
        if not self.csrf:
            page = self.get("/oauth2/v2.1/jwt").text
            self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = self.request("POST", path, data={**data, "csrf_token": self.csrf}, files=files)
        assert response.status_code < 500 and "Form expired" not in response.text, (path, response.status_code)
        return html.unescape(response.text)

    def api(self, path: str, body: dict) -> dict:
        response = self.request("POST", path, json=body)
        assert response.status_code < 500, (path, response.text)
        return response.json()


def pem_of(key: signing.PrivateKey) -> str:
    return key.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()


def key_secrets(private_jwk: dict) -> list[str]:
    """The private members of a JWK: any one of them leaks the key."""
    return [private_jwk[m] for m in ("d", "p", "q", "dp", "dq", "qi")]


def pem_secrets(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if len(line) >= 40 and not line.startswith("-----")]


def jwt_secrets(jwt: str) -> list[str]:
    """A JWT, and its signature alone (the part no one else can make)."""
    return [jwt, jwt.rsplit(".", 1)[1]]


def token_secrets(token: str) -> list[str]:
    parts = token.split(".")
    return [token] + ([parts[1]] if len(parts) == 3 else [token[10:60]])


def session_cookie_text(value: str) -> str:
    """Flask's signed session cookie, decoded: what it carries is readable by anyone holding it."""
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(data) if compressed else data).decode("utf-8", "replace")


def cli(args: list[str], env: dict, stdin: str = "") -> subprocess.Popen:
    """Start ``flask --app app ARGS`` (runs go in parallel; stdin is handed over when collected)."""
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin_text = stdin
    return proc


# --------------------------------------------------------------------------- secrets


@pytest.fixture(scope="module")
def secrets_server(tmp_path_factory):
    """The Procfile server whose `line` target is its own sandbox over HTTP, so LINE's GET
    endpoints (assertion and token in the query string) go through its access log too."""
    tmp = tmp_path_factory.mktemp("secrets")
    server = LiveServer(tmp)
    server.env["LINE_API_BASE_URL"] = server.url + "/sandbox"
    server.env["LINE_API_TIMEOUT"] = "10"
    server.start()
    yield server
    server.stop()


def test_no_secret_reaches_the_log_headers_or_cookies(secrets_server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server = secrets_server
    web = Recorder(server.url)
    known: set[str] = set()  # every secret sent or received

    def remember(*values: str) -> None:
        known.update(v for v in values if v)

    # Key pairs: one made here, one made by the server's JSON API, one by its form.
    private, public = signing.generate_key_pair()
    key = signing.load_private_key(private)
    pem = pem_of(key)
    remember(*key_secrets(private), *pem_secrets(pem))
    generated = web.api("/oauth2/v2.1/keys", {"action": "generate"})
    remember(*key_secrets(generated["private"]))
    page = web.form("/oauth2/v2.1/keys", {"action": "generate"})
    remember(*re.findall(r'"(?:d|p|q|dp|dq|qi)": "([A-Za-z0-9_-]{40,})"', page))
    assert len(known) >= 16
    web.api("/oauth2/v2.1/keys", {"action": "convert", "pem": pem})
    web.api("/oauth2/v2.1/keys", {"action": "public", "private_key": private})
    web.form("/oauth2/v2.1/keys", {"action": "convert", "pem": pem})
    web.form("/oauth2/v2.1/keys", {"action": "public", "private_key": json.dumps(private)})

    # Channels and keys: the admin API and the console forms (each shows a channel secret once).
    made = web.request("POST", "/sandbox/api/channels", json={"name": "secrets"}).json()
    channel_id, channel_secret = made["channel_id"], made["channel_secret"]
    kid = web.request("POST", f"/sandbox/api/channels/{channel_id}/keys", json=public,
                      auth=(channel_id, channel_secret)).json()["kid"]
    console = web.form("/sandbox/console/channels", {"name": "console"})
    console_id = re.search(r'name="channel_id" value="(\d{10})"', console).group(1)
    console_secret = re.search(r'name="channel_secret" value="([0-9a-f]{32})"', console).group(1)
    remember(channel_secret, *re.findall(r"\b[0-9a-f]{32}\b", console))
    web.form("/sandbox/console/keys", {"channel_id": console_id, "channel_secret": console_secret,
                                       "public_key": json.dumps(public)})
    web.form("/sandbox/console/open", {"channel_id": console_id, "channel_secret": console_secret})
    web.get(f"/sandbox/?channel_id={console_id}")
    web.get(f"/sandbox/api/channels/{channel_id}", auth=(channel_id, channel_secret))

    # JWTs: signed here, and by the server through its JSON API and its form (fields, advanced, PEM, file).
    jwt = signing.build_assertion(channel_id, kid, key, 86400)
    remember(*jwt_secrets(jwt))
    signed = web.api("/oauth2/v2.1/jwt", {"channel_id": channel_id, "kid": kid, "private_key": private})
    remember(*jwt_secrets(signed["response_body"]))
    header, payload = signing.build_claims(channel_id, kid, token_exp=3600)
    old = web.api("/oauth2/v2.1/jwt", {"header": json.dumps(header), "payload": json.dumps(payload),
                                        "privatekey": json.dumps(private)})
    remember(*jwt_secrets(old["response_body"]))
    form_fields = {"channel_id": channel_id, "kid": kid, "token_exp": "1", "token_exp_unit": "days",
                   "exp_minutes": "30"}
    for extra, files in (({"private_key": json.dumps(private)}, None), ({"private_key": pem}, None),
                         ({"private_key": "", "mode": "advanced", "header": json.dumps(header),
                           "payload": json.dumps(payload)}, {"private_key_file": ("key.json", json.dumps(private))})):
        page = web.form("/oauth2/v2.1/jwt", {**form_fields, **extra}, files=files)
        remember(*[s for j in re.findall(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+", page) for s in jwt_secrets(j)])

    # The proxy: JSON and forms, to the in-process sandbox and to "LINE" (this server's sandbox over HTTP).
    tokens: list[str] = []
    for target in ("sandbox", "line"):
        issued = web.api("/oauth2/v2.1/token", {"client_assertion": jwt, "target": target})["response_body"]
        one_step = web.api("/oauth2/v2.1/token", {"channel_id": channel_id, "kid": kid, "private_key": private,
                                                  "token_exp": 600, "target": target})["response_body"]
        tokens += [issued["access_token"], one_step["access_token"]]
        page = web.form("/oauth2/v2.1/token", {"client_assertion": jwt, "target": target})
        tokens += re.findall(r"eyJhbGciOiJIUzI1NiJ9\.[\w-]+\.[\w-]+", page)
        page = web.form("/oauth2/v2.1/token", {**form_fields, "private_key": pem, "target": target})
        tokens += re.findall(r"eyJhbGciOiJIUzI1NiJ9\.[\w-]+\.[\w-]+", page)
        web.api("/oauth2/v2.1/tokens", {"client_assertion": jwt, "target": target})
        web.form("/oauth2/v2.1/tokens", {**form_fields, "private_key": json.dumps(private), "target": target})
        for token in tokens[-2:]:
            web.api("/oauth2/v2.1/verify", {"access_token": token, "target": target})
            web.form("/oauth2/v2.1/verify", {"access_token": token, "target": target})
        web.api("/oauth2/v2.1/revoke", {"client_id": channel_id, "client_secret": channel_secret,
                                        "access_token": tokens[-1], "target": target})
        web.form("/oauth2/v2.1/revoke", {"client_id": channel_id, "client_secret": channel_secret,
                                         "access_token": tokens[-2], "target": target})
        stateless = web.api("/oauth2/v3/token", {"client_id": channel_id, "client_secret": channel_secret,
                                                 "target": target})["response_body"]
        tokens.append(stateless["access_token"])
        page = web.form("/oauth2/v3/token", {"variant": "assertion", "client_assertion": jwt, "target": target})
        tokens += re.findall(r"\b[A-Za-z0-9+/]{150,}={0,2}", page)
        short = web.api("/v2/oauth/accessToken", {"client_id": channel_id, "client_secret": channel_secret,
                                                  "target": target})["response_body"]["access_token"]
        page = web.form("/v2/oauth/accessToken", {"client_id": channel_id, "client_secret": channel_secret,
                                                  "target": target})
        short_form = re.findall(r"\b[A-Za-z0-9+/]{150,}={0,2}", page)
        tokens += [short, *short_form]
        web.api("/v2/oauth/verify", {"access_token": short, "target": target})
        web.form("/v2/oauth/verify", {"access_token": short, "target": target})
        web.api("/v2/oauth/revoke", {"access_token": short, "target": target})
        web.form("/v2/oauth/revoke", {"access_token": short_form[0], "target": target})
        # "Next step" buttons post the token to the next page with prefill=1.
        web.form("/oauth2/v2.1/verify", {"access_token": tokens[0], "prefill": "1"})

    # LINE's endpoints on the sandbox, as an SDK calls them (the two GETs carry secrets in the query).
    direct = web.request("POST", "/sandbox/oauth2/v2.1/token", data={
        "grant_type": "client_credentials", "client_assertion_type": URN, "client_assertion": jwt}).json()
    tokens.append(direct["access_token"])
    web.get("/sandbox/oauth2/v2.1/tokens/kid", params={"client_assertion_type": URN, "client_assertion": jwt})
    web.get("/sandbox/oauth2/v2.1/verify", params={"access_token": direct["access_token"]})
    web.request("POST", "/sandbox/oauth2/v2.1/revoke", data={"client_id": channel_id, "client_secret": channel_secret,
                                                              "access_token": direct["access_token"]})
    tokens.append(web.request("POST", "/sandbox/oauth2/v3/token", data={
        "grant_type": "client_credentials", "client_assertion_type": URN, "client_assertion": jwt}).json()["access_token"])
    v2 = web.request("POST", "/sandbox/v2/oauth/accessToken", data={
        "grant_type": "client_credentials", "client_id": channel_id, "client_secret": channel_secret}).json()
    tokens.append(v2["access_token"])
    web.request("POST", "/sandbox/v2/oauth/verify", data={"access_token": v2["access_token"]})
    web.request("POST", "/sandbox/v2/oauth/revoke", data={"access_token": v2["access_token"]})

    # Made-up secrets that no one accepts: the failure paths must not leak them either.
    fake_secret = secrets.token_hex(16)
    fake_token = "eyJhbGciOiJIUzI1NiJ9." + secrets.token_urlsafe(96) + "." + secrets.token_urlsafe(32)
    fake_jwt = signing.build_assertion("9999999999", "no-such-kid", key, 60)
    remember(fake_secret, *token_secrets(fake_token), *jwt_secrets(fake_jwt))
    for target in ("sandbox", "line"):
        web.api("/oauth2/v2.1/revoke", {"client_id": channel_id, "client_secret": fake_secret,
                                        "access_token": fake_token, "target": target})
        web.form("/oauth2/v2.1/verify", {"access_token": fake_token, "target": target})
        web.api("/oauth2/v2.1/token", {"client_assertion": fake_jwt, "target": target})
        web.form("/v2/oauth/accessToken", {"client_id": channel_id, "client_secret": fake_secret, "target": target})
    web.get("/sandbox/oauth2/v2.1/verify", params={"access_token": fake_token})
    web.get("/sandbox/oauth2/v2.1/tokens/kid", params={"client_assertion_type": URN, "client_assertion": fake_jwt})
    web.request("POST", "/oauth2/v2.1/jwt", data={"private_key": json.dumps(private), "channel_id": channel_id})  # no CSRF

    # The CLI: --target line reaches this server over HTTP, --target sandbox its database in process.
    # A few runs as a user runs them (a subprocess each, ~1 s of start-up), the rest in process.
    key_file = tmp_path / "private.json"
    key_file.write_text(json.dumps(private))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_") and k != "DATABASE_URL"}
    env.update(SANDBOX_DATABASE=server.env["SANDBOX_DATABASE"], LINE_API_BASE_URL=server.url + "/sandbox",
               SECRET_KEY="cli", LINE_CHANNEL_SECRET=channel_secret, PYTHONDONTWRITEBYTECODE="1")
    signed_args = ["--channel-id", channel_id, "--kid", kid, "--key", str(key_file)]
    processes = [cli(["token", "issue", "--channel-id", channel_id, "--kid", kid, "--key", "-"], env, pem),
                 cli(["token", "kids", "--assertion", "-"], env, jwt),
                 cli(["token", "revoke", "--channel-id", channel_id, fake_token], env)]
    from line_token import create_app

    cli_app = create_app({"SANDBOX_DATABASE": server.env["SANDBOX_DATABASE"], "DATABASE_URL": "",
                          "LINE_API_BASE_URL": server.url + "/sandbox", "SECRET_KEY": "cli"})
    runner = cli_app.test_cli_runner()
    caplog.clear()  # from here on, the log holds the in-process CLI's records (not this test's own requests')
    in_process = []
    for target in ("line", "sandbox"):
        t = ["--target", target]
        for args, stdin in ((["token", "issue", *signed_args, "--token-exp", "600"], None),
                            (["token", "issue", "--assertion", "-"], jwt),
                            (["token", "kids", *signed_args], None),
                            (["token", "verify", "-"], fake_token),
                            (["token", "revoke", "--channel-id", channel_id, fake_token], None),
                            (["token", "issue-stateless", "--channel-id", channel_id], None),
                            (["token", "issue-stateless", *signed_args], None),
                            (["token", "issue-v2", "--channel-id", channel_id], None),
                            (["token", "verify-v2", "-"], fake_token.replace(".", "")),
                            (["token", "revoke-v2", fake_token.replace(".", "")], None)):
            in_process.append(runner.invoke(args=[*args, *t], input=stdin, env={"LINE_CHANNEL_SECRET": channel_secret}))
    in_process += [runner.invoke(args=["jwt", *signed_args]),
                   runner.invoke(args=["jwt", "--channel-id", channel_id, "--kid", kid, "--key", "-"], input=pem),
                   runner.invoke(args=["keygen"])]
    outputs = []
    for result in in_process:
        assert result.exit_code in (0, 1), (result.output, result.stderr)
        outputs.append((result.stdout, result.stderr))
    for proc in processes:
        out, err = proc.communicate(proc.stdin_text, timeout=60)
        assert proc.returncode in (0, 1), (proc.args, err)
        outputs.append((out, err))
    cli_stderr = [err for _, err in outputs]
    assert "/oauth2/v2.1/tokens/kid" in caplog.text  # the in-process CLI's own request log was captured
    assert sum('"access_token"' in out for out, _ in outputs) >= 8
    for out, _ in outputs:
        tokens += re.findall(r'"access_token": "([^"]+)"', out)
        remember(*[s for j in re.findall(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+", out) for s in jwt_secrets(j)])
        remember(*re.findall(r'"(?:d|p|q|dp|dq|qi)": "([A-Za-z0-9_-]{40,})"', out))
    for token in tokens:
        remember(*token_secrets(token))
    assert len(tokens) >= 30 and len(known) >= 80

    # Now look for them.
    time.sleep(0.5)  # the access log is written after each response
    log = server.log()
    access = [line for line in log.splitlines() if line.startswith("127.0.0.1 ")]
    assert len(access) >= len(web.responses)  # ours, the proxy's HTTP calls to "LINE", and the CLI's
    assert any('"GET /sandbox/oauth2/v2.1/tokens/kid HTTP/1.1" 200' in line for line in access)
    assert any('"GET /sandbox/oauth2/v2.1/verify HTTP/1.1" 200' in line for line in access)
    assert not any("?" in line for line in access)  # no query string, hence no secret from one
    places = {"server log": log, "CLI stderr": "\n".join(cli_stderr), "in-process log": caplog.text}
    for i, response in enumerate(web.responses):
        places[f"headers of {response.request.method} {response.request.path_url[:40]} #{i}"] = "\n".join(
            f"{k}: {v}" for k, v in response.headers.items())
        assert "Location" not in response.headers or "?" not in response.headers["Location"]
        if response.request.path_url.split("?")[0].startswith(("/sandbox/oauth2", "/sandbox/v2", "/sandbox/api")):
            continue
        if response.status_code == 200 or response.request.method == "POST":
            assert response.headers.get("Cache-Control") == "no-store", response.request.path_url
    cookie = web.session.cookies.get("session")
    assert cookie, "the CSRF token lives in the session cookie"
    places["session cookie"] = session_cookie_text(cookie)
    assert "csrf_token" in places["session cookie"]
    found = [(secret[:12] + "…", where) for secret in known for where, text in places.items() if secret in text]
    print(f"\nsecrets scan: {len(known)} secret values, {len(web.responses)} responses + {len(outputs)} CLI runs, "
          f"{len(access)} access log lines; found {len(found)}")
    assert found == []


# --------------------------------------------------------------------------- CSRF, size, HSTS


@pytest.fixture(scope="module")
def proxied_server(tmp_path_factory):
    """Behind a proxy (TRUST_PROXY=1), rate limited to 5 a minute per client, two workers."""
    server = LiveServer(tmp_path_factory.mktemp("proxied"), {"TRUST_PROXY": "1", "RATE_LIMIT": "5/minute"}, workers=2)
    server.start()
    yield server
    server.stop()


class Client:
    """Requests from one made-up client IP, as Heroku's router would forward them."""

    counter = 0

    def __init__(self, server: LiveServer, proto: str = "https"):
        Client.counter += 1
        self.ip = f"203.0.113.{Client.counter}"
        self.server = server
        self.proto = proto

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-Forwarded-For": self.ip, "X-Forwarded-Proto": self.proto, **kwargs.pop("headers", {})}
        return requests.request(method, self.server.url + path, headers=headers, timeout=15, **kwargs)


def test_cross_site_posts_are_refused_and_scripts_are_not(proxied_server):
    post = Client(proxied_server)
    # What a cross-site page can send without CORS: a form (urlencoded or multipart) or text/plain.
    forged = [post("POST", "/oauth2/v2.1/keys", data={"action": "generate"}),
              post("POST", "/oauth2/v2.1/keys", data='{"action": "generate"}', headers={"Content-Type": "text/plain"}),
              post("POST", "/sandbox/console/channels", files={"name": ("n.txt", "x")})]
    for response in forged:
        assert response.status_code == 400 and "Form expired" in response.text
        assert '"d"' not in response.text and "channel_secret" not in response.text
    # A script's JSON call needs no token (a cross-site form cannot send application/json).
    api = post("POST", "/oauth2/v2.1/keys", json={"action": "generate"})
    assert api.status_code == 200 and api.json()["public"]["kty"] == "RSA"
    # The sandbox's LINE endpoints take forms from SDK clients, token-free.
    line = Client(proxied_server)("POST", "/sandbox/oauth2/v2.1/token", data={"grant_type": "client_credentials"})
    assert line.status_code == 400 and line.json() == {"error": "invalid_request",
                                                       "error_description": "some parameters missed or invalid"}


def test_bodies_over_one_mib_are_413_over_http(live_server):
    big = "a" * (MIB + 1)

    def chunks():
        for _ in range(17):
            yield b"a" * 65536

    cases = [
        ("/oauth2/v2.1/jwt", {"data": {"private_key": big}}, "text/html"),
        ("/oauth2/v2.1/jwt", {"data": json.dumps({"private_key": big}),
                              "headers": {"Content-Type": "application/json"}}, "application/json"),
        ("/oauth2/v2.1/token", {"files": {"private_key_file": ("key.json", big)}}, "text/html"),
        ("/oauth2/v2.1/verify", {"data": chunks(), "headers": {"Content-Type": "application/json"}},
         "application/json"),  # chunked: no Content-Length to refuse early
        ("/sandbox/oauth2/v2.1/token", {"data": {"client_assertion": big}}, "application/json"),
        ("/sandbox/api/channels", {"data": json.dumps({"name": big}),
                                   "headers": {"Content-Type": "application/json"}}, "application/json"),
        ("/sandbox/console/keys", {"data": {"public_key": big}}, "text/html"),
    ]
    for path, kwargs, mimetype in cases:
        response = requests.post(live_server.url + path, timeout=15, **kwargs)
        assert response.status_code == 413, (path, response.status_code)
        assert response.headers["Content-Type"].startswith(mimetype), path
        assert "1 MiB" in response.text and "Traceback" not in response.text, path
    assert requests.get(live_server.url + "/", timeout=5).status_code == 200


def test_hsts_behind_a_trusted_proxy_only(proxied_server, live_server):
    secure = Client(proxied_server, "https")("GET", "/")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in Client(proxied_server, "http")("GET", "/").headers
    # Without TRUST_PROXY the same header is ignored.
    plain = requests.get(live_server.url + "/", headers={"X-Forwarded-Proto": "https"}, timeout=5)
    assert "Strict-Transport-Security" not in plain.headers


def test_two_workers_count_one_rate_limit(proxied_server):
    """5 a minute per client, whichever worker process answers: a fresh connection for each request."""
    client = Client(proxied_server)
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(lambda _: client("GET", "/oauth2/v2.1/keys").status_code, range(12)))
    assert sorted(codes) == [200] * 5 + [429] * 7, codes
    refused = client("POST", "/oauth2/v2.1/keys", json={"action": "generate"})
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    page = client("GET", "/")
    assert page.status_code == 429 and page.headers["Content-Type"].startswith("text/html")
    assert client("GET", "/static/app.css").status_code == 200  # static files are free
    assert Client(proxied_server)("GET", "/").status_code == 200  # another client is not held back


# --------------------------------------------------------------------------- forwarded headers (issue 23 item 2)


def post_json_from(source: str, port: int, path: str, headers: dict) -> tuple[int, dict]:
    """POST {} as JSON to 127.0.0.1:port from the local address ``source`` (127.0.0.0/8 is all this host's)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request("POST", path, body=b"{}", headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def test_a_spoofed_x_forwarded_for_reaching_the_app_directly_does_not_multiply_the_channel_limit(start_server):
    """With TRUST_PROXY=1 and the app also reachable directly, a spoofed X-Forwarded-For created 955 channels in
    6 s (each value a new client). Forwarded headers count only from the proxy's address (TRUST_PROXY_FROM; here
    the proxy is 127.0.0.1 and the stranger connects from 127.0.0.2): the stranger is one client, 20 an hour."""
    server = start_server({"TRUST_PROXY": "1", "TRUST_PROXY_FROM": "127.0.0.1"}, workers=1)
    codes = [post_json_from("127.0.0.2", server.port, "/sandbox/api/channels",
                            {"X-Forwarded-For": f"198.51.100.{i}"})[0] for i in range(25)]
    assert codes == [201] * 20 + [429] * 5, codes
    # Through the proxy, X-Forwarded-For names the client: two people behind it each have their own 20.
    for person in ("192.0.2.1", "192.0.2.2"):
        assert post_json_from("127.0.0.1", server.port, "/sandbox/api/channels",
                              {"X-Forwarded-For": f"203.0.113.9, {person}"})[0] == 201
    # The operator is told once that forwarded headers came from elsewhere than the proxy.
    time.sleep(0.5)
    log = server.log()
    assert log.count("which TRUST_PROXY_FROM does not list as a proxy") == 1 and "127.0.0.2" in log

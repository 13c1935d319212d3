"""Every official LINE SDK's requests, byte for byte as its published source builds them, replayed against the
sandbox's own origin behind a real gunicorn (issue 21 item 6). Only the Python and Node SDKs install here (they
also run unmodified in test_sdk_origin.py and test_bot_sdk.py); the Go and Java shapes are rebuilt from their
source, cited per SDK below: method, path, header names and values, body encoding, field order and omissions.

What differs between them, and what the sandbox must take from each:
- Go (line-bot-sdk-go v8): ``url.Values.Encode()`` sorts the fields by name and escapes like ``QueryEscape``
  (space ``+``, ``:`` and ``/`` escaped); the stateless call omits every empty field, so a stateless token by JWT
  carries no ``client_id`` and one by secret no ``client_assertion_type``.
- Java (line-bot-sdk-java 9, Retrofit over OkHttp): ``@Field`` order as declared, null fields left out (the
  stateless helpers pass null), OkHttp's FORM_ENCODE_SET (space ``%20``, ``~`` escaped), and the client's
  ``Authorization: Bearer`` header on token calls that take none.
- Node (@line/bot-sdk 11): ``URLSearchParams`` in declaration order, ``undefined`` fields deleted.
- Python (line-bot-sdk 3.27): form params appended only when truthy, in declaration order, ``urlencode``.
The request log (reqlog.py) shows what the sandbox received: which fields, never their secret values.
"""
from __future__ import annotations

import http.client
import json
from urllib.parse import quote_plus, urlencode

import pytest
import requests

from conftest import start_sandbox_origin
from line_token.core import signing

pytestmark = pytest.mark.server

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"

# --------------------------------------------------------------------------- each SDK's encoders


def go_encode(fields: dict) -> str:
    """Go's url.Values.Encode(): keys sorted, url.QueryEscape on each (unreserved: A-Z a-z 0-9 - _ . ~)."""
    return "&".join(f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}" for k, v in sorted(fields.items()))


# OkHttp 4 (okhttp3/internal/-UrlCommon.kt): FormBody.Builder.add and HttpUrl.addQueryParameter.
OKHTTP_FORM_ENCODE_SET = " !\"#$&'()+,/:;<=>?@[\\]^`{|}~"
OKHTTP_QUERY_COMPONENT_ENCODE_SET = " !\"#$&'(),/:;<=>?@[]\\^`{|}~"


def okhttp_encode(value: str, encode_set: str, plus_is_space: bool = False) -> str:
    out = []
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if byte < 0x20 or byte >= 0x7f or char in encode_set or char == "%" or (char == "+" and plus_is_space):
            out.append(f"%{byte:02X}")
        else:
            out.append(char)
    return "".join(out)


def java_form(fields: list[tuple[str, str | None]]) -> str:
    """Retrofit @FormUrlEncoded: @Field in declared order, null values skipped, OkHttp's FormBody encoding."""
    return "&".join(f"{okhttp_encode(k, OKHTTP_FORM_ENCODE_SET)}={okhttp_encode(v, OKHTTP_FORM_ENCODE_SET)}"
                    for k, v in fields if v is not None)


def java_query(fields: list[tuple[str, str | None]]) -> str:
    return "&".join(f"{okhttp_encode(k, OKHTTP_QUERY_COMPONENT_ENCODE_SET, True)}="
                    f"{okhttp_encode(v, OKHTTP_QUERY_COMPONENT_ENCODE_SET, True)}" for k, v in fields if v is not None)


def url_search_params(fields: list[tuple[str, str | None]]) -> str:
    """WHATWG URLSearchParams serialisation (Node's fetch body): unreserved * - . _ and alphanumerics, space +."""
    return "&".join(f"{quote_plus(k, safe='*')}={quote_plus(v, safe='*')}".replace("~", "%7E")
                    for k, v in fields if v is not None)


def python_form(fields: list[tuple[str, str | None]]) -> str:
    """line-bot-sdk-python's generated client: only truthy params, urllib3 urlencode (quote_plus)."""
    return urlencode([(k, v) for k, v in fields if v])


# --------------------------------------------------------------------------- the requests


def go_requests(c: dict) -> list[tuple]:
    """line/line-bot-sdk-go linebot/channel_access_token/api_channel_access_token.go (v8): Do() sets
    User-Agent "LINE-BotSDK-Go/<version>"; POSTs set Content-Type application/x-www-form-urlencoded; Go's
    net/http adds Accept-Encoding: gzip. IssueStatelessChannelTokenWithHttpInfo adds a field only if != "",
    and GetsAllValidChannelAccessTokenKeyIds / VerifyChannelTokenByJWT send snake_case query keys (the
    tests/handwritten/api_GetsAllValidChannelAccessTokenKeyIds_test.go regression test pins them)."""
    headers = [("User-Agent", "LINE-BotSDK-Go/v8.18.0"), ("Accept-Encoding", "gzip")]
    post = [("User-Agent", "LINE-BotSDK-Go/v8.18.0"), ("Content-Type", FORM), ("Accept-Encoding", "gzip")]
    return [
        ("issue v2.1", "POST", "/oauth2/v2.1/token", post, go_encode(
            {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
             "client_assertion": c["assertion"]})),
        ("kids", "GET", "/oauth2/v2.1/tokens/kid?" + go_encode(
            {"client_assertion_type": ASSERTION_TYPE, "client_assertion": c["assertion"]}), headers, None),
        ("verify v2.1", "GET", "/oauth2/v2.1/verify?" + go_encode({"access_token": "{v21}"}), headers, None),
        # IssueStatelessChannelTokenByJWTAssertion(assertion): no client_id, no client_secret.
        ("stateless by JWT", "POST", "/oauth2/v3/token", post, go_encode(
            {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
             "client_assertion": c["assertion"]})),
        # IssueStatelessChannelTokenByClientSecret(id, secret): no client_assertion_type, no client_assertion.
        ("stateless by secret", "POST", "/oauth2/v3/token", post, go_encode(
            {"grant_type": "client_credentials", "client_id": c["channel_id"], "client_secret": c["channel_secret"]})),
        ("issue short-lived", "POST", "/v2/oauth/accessToken", post, go_encode(
            {"grant_type": "client_credentials", "client_id": c["channel_id"], "client_secret": c["channel_secret"]})),
        ("verify short-lived", "POST", "/v2/oauth/verify", post, go_encode({"access_token": "{short}"})),
        ("revoke short-lived", "POST", "/v2/oauth/revoke", post, go_encode({"access_token": "{short}"})),
        ("revoke v2.1", "POST", "/oauth2/v2.1/revoke", post, go_encode(
            {"client_id": c["channel_id"], "client_secret": c["channel_secret"], "access_token": "{v21}"})),
    ]


def java_requests(c: dict) -> list[tuple]:
    """line/line-bot-sdk-java clients/line-channel-access-token-client/src/main/java/com/linecorp/bot/oauth/
    client/ChannelAccessTokenClient.java (9.x): Retrofit @GET/@POST with @Query/@Field in this order;
    issueStatelessChannelTokenByJWTAssertion / ByClientSecret pass null for the other set. The base client's
    HeaderInterceptor (com/linecorp/bot/client/base/http) adds User-Agent "line-botsdk-java/<version>" and
    Authorization: Bearer <the builder's channel token>; OkHttp adds Connection and Accept-Encoding."""
    base = [("Authorization", "Bearer " + c["unrelated_token"]), ("User-Agent", "line-botsdk-java/9.8.0"),
            ("Connection", "Keep-Alive"), ("Accept-Encoding", "gzip")]
    post = [("Content-Type", FORM)] + base
    return [
        ("issue v2.1", "POST", "/oauth2/v2.1/token", post, java_form(
            [("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE),
             ("client_assertion", c["assertion"])])),
        ("kids", "GET", "/oauth2/v2.1/tokens/kid?" + java_query(
            [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", c["assertion"])]), base, None),
        ("verify v2.1", "GET", "/oauth2/v2.1/verify?" + java_query([("access_token", "{v21}")]), base, None),
        ("stateless by JWT", "POST", "/oauth2/v3/token", post, java_form(
            [("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE),
             ("client_assertion", c["assertion"]), ("client_id", None), ("client_secret", None)])),
        ("stateless by secret", "POST", "/oauth2/v3/token", post, java_form(
            [("grant_type", "client_credentials"), ("client_assertion_type", None), ("client_assertion", None),
             ("client_id", c["channel_id"]), ("client_secret", c["channel_secret"])])),
        ("issue short-lived", "POST", "/v2/oauth/accessToken", post, java_form(
            [("grant_type", "client_credentials"), ("client_id", c["channel_id"]),
             ("client_secret", c["channel_secret"])])),
        ("verify short-lived", "POST", "/v2/oauth/verify", post, java_form([("access_token", "{short}")])),
        ("revoke short-lived", "POST", "/v2/oauth/revoke", post, java_form([("access_token", "{short}")])),
        ("revoke v2.1", "POST", "/oauth2/v2.1/revoke", post, java_form(
            [("client_id", c["channel_id"]), ("client_secret", c["channel_secret"]), ("access_token", "{v21}")])),
    ]


def node_requests(c: dict) -> list[tuple]:
    """line/line-bot-sdk-nodejs lib/channel-access-token/api/channelAccessTokenClient.ts (11.0.0): formParams
    in declaration order with undefined ones deleted; lib/http-fetch.ts postForm sends them as URLSearchParams
    with Content-Type application/x-www-form-urlencoded and User-Agent "@line/bot-sdk/<version>"; Node's fetch
    adds accept, accept-language, sec-fetch-mode and accept-encoding."""
    base = [("User-Agent", "@line/bot-sdk/11.0.0"), ("accept", "*/*"), ("accept-language", "*"),
            ("sec-fetch-mode", "cors"), ("accept-encoding", "gzip, deflate")]
    post = [("Content-Type", FORM)] + base
    return [
        ("issue v2.1", "POST", "/oauth2/v2.1/token", post, url_search_params(
            [("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE),
             ("client_assertion", c["assertion"])])),
        ("kids", "GET", "/oauth2/v2.1/tokens/kid?" + url_search_params(
            [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", c["assertion"])]), base, None),
        ("verify v2.1", "GET", "/oauth2/v2.1/verify?" + url_search_params([("access_token", "{v21}")]), base, None),
        ("stateless by JWT", "POST", "/oauth2/v3/token", post, url_search_params(
            [("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE),
             ("client_assertion", c["assertion"]), ("client_id", None), ("client_secret", None)])),
        ("stateless by secret", "POST", "/oauth2/v3/token", post, url_search_params(
            [("grant_type", "client_credentials"), ("client_assertion_type", None), ("client_assertion", None),
             ("client_id", c["channel_id"]), ("client_secret", c["channel_secret"])])),
        ("issue short-lived", "POST", "/v2/oauth/accessToken", post, url_search_params(
            [("grant_type", "client_credentials"), ("client_id", c["channel_id"]),
             ("client_secret", c["channel_secret"])])),
        ("verify short-lived", "POST", "/v2/oauth/verify", post, url_search_params([("access_token", "{short}")])),
        ("revoke short-lived", "POST", "/v2/oauth/revoke", post, url_search_params([("access_token", "{short}")])),
        ("revoke v2.1", "POST", "/oauth2/v2.1/revoke", post, url_search_params(
            [("client_id", c["channel_id"]), ("client_secret", c["channel_secret"]), ("access_token", "{v21}")])),
    ]


def python_requests(c: dict) -> list[tuple]:
    """line/line-bot-sdk-python linebot/v3/oauth/api/channel_access_token.py (3.27.0): each form param appended
    only when truthy, in declaration order; rest.py sends them with urllib3 (urlencode); api_client.py sets
    User-Agent "line-bot-sdk-python/<version>" and Accept: application/json."""
    base = [("Accept-Encoding", "identity"), ("Accept", "application/json"),
            ("User-Agent", "line-bot-sdk-python/3.27.0")]
    post = base + [("Content-Type", FORM)]
    return [
        ("issue v2.1", "POST", "/oauth2/v2.1/token", post, python_form(
            [("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE),
             ("client_assertion", c["assertion"])])),
        ("kids", "GET", "/oauth2/v2.1/tokens/kid?" + urlencode(
            [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", c["assertion"])]), base, None),
        ("verify v2.1", "GET", "/oauth2/v2.1/verify?" + urlencode([("access_token", "{v21}")]), base, None),
        ("stateless by JWT", "POST", "/oauth2/v3/token", post, python_form(
            [("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE),
             ("client_assertion", c["assertion"]), ("client_id", ""), ("client_secret", "")])),
        ("stateless by secret", "POST", "/oauth2/v3/token", post, python_form(
            [("grant_type", "client_credentials"), ("client_assertion_type", ""), ("client_assertion", ""),
             ("client_id", c["channel_id"]), ("client_secret", c["channel_secret"])])),
        ("issue short-lived", "POST", "/v2/oauth/accessToken", post, python_form(
            [("grant_type", "client_credentials"), ("client_id", c["channel_id"]),
             ("client_secret", c["channel_secret"])])),
        ("verify short-lived", "POST", "/v2/oauth/verify", post, python_form([("access_token", "{short}")])),
        ("revoke short-lived", "POST", "/v2/oauth/revoke", post, python_form([("access_token", "{short}")])),
        ("revoke v2.1", "POST", "/oauth2/v2.1/revoke", post, python_form(
            [("client_id", c["channel_id"]), ("client_secret", c["channel_secret"]), ("access_token", "{v21}")])),
    ]


ENCODERS = {
    "go": lambda v, method: quote_plus(v, safe=""),
    "python": lambda v, method: quote_plus(v, safe=""),
    "node": lambda v, method: quote_plus(v, safe="*").replace("~", "%7E"),
    "java": lambda v, method: okhttp_encode(v, OKHTTP_QUERY_COMPONENT_ENCODE_SET if method == "GET"
                                            else OKHTTP_FORM_ENCODE_SET, method == "GET"),
}
SDKS = {"go": go_requests, "java": java_requests, "node": node_requests, "python": python_requests}
# Which fields each call must arrive with, per the request log (names only; values are masked there).
EXPECTED_FIELDS = {
    "issue v2.1": {"grant_type", "client_assertion_type", "client_assertion"},
    "kids": {"client_assertion_type", "client_assertion"},
    "verify v2.1": {"access_token"},
    "stateless by JWT": {"grant_type", "client_assertion_type", "client_assertion"},
    "stateless by secret": {"grant_type", "client_id", "client_secret"},
    "issue short-lived": {"grant_type", "client_id", "client_secret"},
    "verify short-lived": {"access_token"},
    "revoke short-lived": {"access_token"},
    "revoke v2.1": {"client_id", "client_secret", "access_token"},
}


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    server = start_sandbox_origin(tmp_path_factory.mktemp("shapes"))
    yield server
    server.stop()


def replay(origin_url: str, method: str, target: str, headers: list, body: str | None) -> tuple[int, dict, bytes]:
    """Send exactly these headers (plus Host and Content-Length, as every client does) and body bytes."""
    host, port = origin_url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        data = body.encode("ascii") if body is not None else None
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_each_sdks_exact_requests_get_lines_answers(origin, sdk):
    base = origin.sandbox_url
    private, public = signing.generate_key_pair()
    channel = requests.post(f"{base}/api/channels", json={"name": sdk}, timeout=30).json()
    auth = (channel["channel_id"], channel["channel_secret"])
    kid = requests.post(f"{base}/api/channels/{channel['channel_id']}/keys", json=public, auth=auth,
                        timeout=30).json()["kid"]
    header, payload = signing.build_claims(channel["channel_id"], kid, token_exp=3600)
    channel["assertion"] = signing.sign(header, payload, signing.load_private_key(private))
    channel["unrelated_token"] = "x" * 40  # what the Java client's builder was given: the token calls ignore it
    issued: dict[str, str] = {}
    answers = {}
    for name, method, target, headers, body in SDKS[sdk](channel):
        # Tokens issued earlier in the sequence go in as the SDK encodes them ("{v21}" is "%7Bv21%7D" in all four).
        for placeholder, key in (("%7Bv21%7D", "v2.1"), ("%7Bshort%7D", "short")):
            if placeholder in target or (body and placeholder in body):
                value = ENCODERS[sdk](issued[key], method)
                target = target.replace(placeholder, value)
                body = body.replace(placeholder, value) if body else body
        status, response_headers, raw = replay(base, method, target, headers, body)
        assert status == 200, (sdk, name, status, raw[:300])
        assert response_headers.get("X-Line-Request-Id"), (sdk, name)
        answer = json.loads(raw) if raw else None
        answers[name] = answer
        if name == "issue v2.1":
            issued["v2.1"] = answer["access_token"]
        if name == "issue short-lived":
            issued["short"] = answer["access_token"]
    assert answers["kids"] == {"kids": [answers["issue v2.1"]["key_id"]]}
    assert answers["verify v2.1"]["client_id"] == channel["channel_id"]
    assert answers["verify short-lived"]["client_id"] == channel["channel_id"]
    for kind in ("stateless by JWT", "stateless by secret"):
        assert answers[kind]["expires_in"] == 900 and answers[kind]["token_type"] == "Bearer"
    assert answers["revoke v2.1"] is None and answers["revoke short-lived"] is None
    # The sandbox saw exactly the fields each SDK sends (the log masks their values).
    log = requests.get(f"{base}/api/channels/{channel['channel_id']}/log", auth=auth, timeout=30).json()["entries"]
    sent = [name for name, *_ in SDKS[sdk](channel)]
    assert [e["path"] for e in reversed(log)] == [target.split("?")[0] for _, _, target, _, _ in SDKS[sdk](channel)]
    for name, entry in zip(sent, reversed(log)):
        got = {field for field in entry["fields"] if field != "Authorization"}
        assert got == EXPECTED_FIELDS[name], (sdk, name, got)
        assert entry["user_agent"] == dict((k.lower(), v) for k, v in SDKS[sdk](channel)[0][3])["user-agent"]
    assert ("Authorization" in log[0]["fields"]) == (sdk == "java")


AWKWARD = "ab+/=~ *:-._%"  # what a short-lived token has (+ / =) and more


def test_the_python_encoder_is_what_the_installed_sdk_sends():
    """The installed line-bot-sdk's real requests, captured by a local server, equal python_requests' shapes."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from linebot.v3.oauth import ApiClient, ChannelAccessToken, Configuration

    seen: list = []

    class Capture(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            seen.append((self.path, self.headers["Content-Type"], self.headers["User-Agent"], body))
            payload = b'{"access_token": "t", "expires_in": 900, "token_type": "Bearer"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with ApiClient(Configuration(host=f"http://127.0.0.1:{server.server_port}")) as client:
            api = ChannelAccessToken(client)
            api.issue_stateless_channel_token(grant_type="client_credentials", client_assertion_type="",
                                              client_assertion="", client_id="1234567890", client_secret=AWKWARD)
            api.issue_stateless_channel_token(grant_type="client_credentials", client_assertion_type=ASSERTION_TYPE,
                                              client_assertion=AWKWARD)
    finally:
        server.shutdown()
    by_secret, by_jwt = seen
    assert by_secret[0] == "/oauth2/v3/token" and by_secret[1] == FORM
    assert by_secret[2].startswith("line-bot-sdk-python/")
    assert by_secret[3] == python_form([("grant_type", "client_credentials"), ("client_assertion_type", ""),
                                        ("client_assertion", ""), ("client_id", "1234567890"),
                                        ("client_secret", AWKWARD)])
    assert by_jwt[3] == python_form([("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE),
                                     ("client_assertion", AWKWARD), ("client_id", None), ("client_secret", None)])
    assert "client_id" not in by_jwt[3] and "client_assertion" not in by_secret[3]


def test_the_node_encoder_is_what_urlsearchparams_sends():
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = ("const p = {access_token: process.argv[1], gone: undefined};"
              "Object.keys(p).forEach(k => { if (p[k] === undefined) delete p[k]; });"
              "process.stdout.write(new URLSearchParams(p).toString());")
    out = subprocess.run([node, "-e", script, AWKWARD], capture_output=True, text=True, timeout=60).stdout
    assert out == url_search_params([("access_token", AWKWARD), ("gone", None)]) == \
        "access_token=ab%2B%2F%3D%7E+*%3A-._%25"


def test_the_go_and_java_encoders_follow_their_escaping_rules():
    """Go's QueryEscape keeps A-Z a-z 0-9 - _ . ~ and writes a space as +; OkHttp's FormBody escapes its
    FORM_ENCODE_SET (space as %20, ~ too) and keeps *; both escape + / = % :."""
    assert go_encode({"b": AWKWARD, "a": "1"}) == "a=1&b=ab%2B%2F%3D~+%2A%3A-._%25"
    assert java_form([("access_token", AWKWARD), ("gone", None)]) == "access_token=ab%2B%2F%3D%7E%20*%3A-._%25"

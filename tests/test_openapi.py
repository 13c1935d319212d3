"""The sandbox's OpenAPI document (line_token/sandbox/openapi.json, issue 21 item 7) against what the sandbox
really answers: the Procfile server with SANDBOX_PORT, every documented operation called for real, right
and wrong, at the root of the sandbox's own origin and under the tester's /sandbox prefix. Each answer's
status must be documented for that operation, and its headers and body must validate against the
document's schema for that status (jsonschema, draft 2020-12, the dialect of OpenAPI 3.1)."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import LiveServer, free_port
from forge import forge
from line_token.core import signing
from line_token.sandbox.routes import OPENAPI_DOCUMENT

DOCUMENT_PATH = Path(OPENAPI_DOCUMENT)
DOCUMENT_URI = "urn:line-token:sandbox-openapi"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Paths of the sandbox Blueprint that are ours, not LINE's: the console, its admin API, the bot's picture.
NOT_LINE = ("/", "/openapi.json", "/api/", "/console/", "/bot-profile/")


@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """The Procfile server with the sandbox's own origin, LINE's short-lived rate limit on (2 per second
    per channel, so a burst meets the 429); yields the two bases the sandbox answers at."""
    port = free_port()
    server = LiveServer(tmp_path_factory.mktemp("openapi"),
                        {"SANDBOX_PORT": str(port), "SANDBOX_SHORT_LIVED_PER_SECOND": "2",
                         "SANDBOX_CHANNELS_PER_HOUR": "1000"}).start()
    yield {"origin": f"http://127.0.0.1:{port}", "prefix": server.url + "/sandbox", "tester": server.url}
    server.stop()


@pytest.fixture(scope="module")
def keys():
    private, public = signing.generate_key_pair()
    other, _ = signing.generate_key_pair()
    return signing.load_private_key(private), public, signing.load_private_key(other)


class Contract:
    """Checks each answer against the document; remembers which (operation, status) pairs were seen."""

    def __init__(self, document: dict, base: str):
        self.document, self.base = document, base
        self.registry = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(document, DRAFT202012))
        self.seen: set[tuple[str, str, int]] = set()

    def validate(self, pointer: str, instance, what: str) -> None:
        validator = Draft202012Validator({"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{what}: {instance!r} breaks the document: {errors[0].message}"

    def response(self, method: str, path: str, status: int) -> tuple[str, dict]:
        """The documented response for this status, and its JSON pointer (following a $ref)."""
        operation = self.document["paths"][path][method.lower()]
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method} {path} answered {status}, which the document does not list"
        pointer = f"/paths/{path.replace('~', '~0').replace('/', '~1')}/{method.lower()}/responses/{status}"
        if "$ref" in response:
            pointer = response["$ref"][1:]
            response = self.document["components"]["responses"][pointer.rsplit("/", 1)[1]]
        return pointer, response

    def call(self, method: str, path: str, expect: int, **kwargs) -> requests.Response:
        r = requests.request(method, self.base + path, timeout=30, **kwargs)
        assert r.status_code == expect, (method, path, r.status_code, r.text[:300])
        self.check(method, path.split("?", 1)[0], r)
        return r

    def check(self, method: str, path: str, r: requests.Response) -> None:
        pointer, response = self.response(method, path, r.status_code)
        what = f"{method} {path} {r.status_code}"
        for name, header in response.get("headers", {}).items():
            if "$ref" in header:
                header = self.document["components"]["headers"][header["$ref"].rsplit("/", 1)[1]]
            if header.get("required"):
                assert name in r.headers, f"{what}: no {name} header"
                self.validate(f"/components/headers/{header_name(self.document, header)}/schema",
                              r.headers[name], f"{what} header {name}")
        if "content" in response:
            assert r.headers.get("Content-Type", "").startswith("application/json"), what
            self.validate(pointer + "/content/application~1json/schema", r.json(), what)
        else:
            assert r.content == b"", f"{what}: the document says an empty body, got {r.content[:100]!r}"
        self.seen.add((method.lower(), path, r.status_code))


def header_name(document: dict, header: dict) -> str:
    return next(name for name, h in document["components"]["headers"].items() if h is header)


def channel(base: str, public: dict | None) -> dict:
    """A sandbox channel through the admin API (not part of the document), with ``public`` registered."""
    created = requests.post(base + "/api/channels", json={"name": "openapi"}, timeout=30)
    assert created.status_code == 201, created.text
    made = created.json()
    if public is not None:
        r = requests.post(f"{base}/api/channels/{made['channel_id']}/keys", json=public, timeout=30,
                          auth=(made["channel_id"], made["channel_secret"]))
        assert r.status_code == 201, r.text
        made["kid"] = r.json()["kid"]
    return made


def assertion(channel_id: str, kid: str, key, token_exp=3600) -> str:
    """An RS256 assertion; forged (tests/forge.py) where our own signer would refuse the token_exp."""
    header, payload = signing.build_claims(channel_id, kid, token_exp=86400)
    payload["token_exp"] = token_exp
    return signing.sign(header, payload, key) if token_exp >= 1 else forge(header, payload, key)


def issue_form(jwt: str) -> dict:
    return {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": jwt}


def test_the_document_is_valid_openapi_3_1_and_its_examples_fit_its_schemas(document):
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"
    contract = Contract(document, "")
    counted = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            escaped = f"/paths/{path.replace('/', '~1')}/{method}"
            body = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
            if body:
                for name, example in body["examples"].items():
                    contract.validate(escaped + "/requestBody/content/application~1x-www-form-urlencoded/schema",
                                      example["value"], f"{method} {path} request example {name!r}")
                    counted += 1
            for status in operation["responses"]:
                pointer, response = contract.response(method, path, int(status))
                assert response.get("description"), (method, path, status)
                if "content" in response:
                    media = response["content"]["application/json"]
                    assert media["examples"], f"{method} {path} {status}: no example"
                    for name, example in media["examples"].items():
                        contract.validate(pointer + "/content/application~1json/schema", example["value"],
                                          f"{method} {path} {status} example {name!r}")
                        counted += 1
    assert counted > 40


def test_every_line_route_of_the_sandbox_is_documented(app, document):
    """A LINE endpoint added to the sandbox without a line in the document fails here."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("sandbox.") and rule.rule.startswith("/sandbox/"):
            path = rule.rule[len("/sandbox"):]
            if path in NOT_LINE or path.startswith(NOT_LINE[2:]):
                continue
            routes[path] = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {path: set(item) for path, item in document["paths"].items()}
    assert routes == documented


@pytest.mark.server
def test_served_on_the_sandbox_origin_and_under_the_tester_prefix(servers, document):
    for base in (servers["origin"], servers["prefix"]):
        r = requests.get(base + "/openapi.json", timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
        assert r.headers["X-Line-Request-Id"] and r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Access-Control-Allow-Origin"] == "*"  # public, no secret: viewers elsewhere may load it
        served = r.json()
        # The same document, with this sandbox first among the servers (the address SDKs should use:
        # its own origin, which the tester's /sandbox pages show too), then LINE.
        assert {k: v for k, v in served.items() if k != "servers"} == \
            {k: v for k, v in document.items() if k != "servers"}
        assert served["servers"] == [{"url": servers["origin"], "description": "this sandbox"},
                                     {"url": "https://api.line.me", "description": "LINE"}]


@pytest.mark.server
@pytest.mark.parametrize("where", ["origin", "prefix"])
def test_every_answer_the_sandbox_gives_is_the_documented_one(servers, document, keys, where):
    key, public, other_key = keys
    base = servers[where]
    c = Contract(document, base)
    ch = channel(base, public)
    cid, secret, kid = ch["channel_id"], ch["channel_secret"], ch["kid"]
    good = assertion(cid, kid, key)

    # §5.1 issue v2.1
    token = c.call("POST", "/oauth2/v2.1/token", 200, data=issue_form(good)).json()["access_token"]
    c.call("POST", "/oauth2/v2.1/token", 400, data={**issue_form(good), "grant_type": "password"})
    c.call("POST", "/oauth2/v2.1/token", 400, data=issue_form(assertion(cid, kid, key, token_exp=0)))
    r = c.call("POST", "/oauth2/v2.1/token", 400, data=issue_form(assertion(cid, kid, other_key)))
    assert r.json() == {"error": "invalid_client", "error_description": "Invalid signature"}
    c.call("POST", "/oauth2/v2.1/token", 400, data=issue_form("abc"))
    r = c.call("POST", "/oauth2/v2.1/token", 404, data=issue_form(assertion(cid, str(uuid.uuid4()), key)))
    assert r.json() == {"message": "Cannot find channel key that satisfies the conditions"}
    r = c.call("POST", "/oauth2/v2.1/token", 400, data={f"f{i}": "x" for i in range(65)})
    assert r.json()["field"] == "body"
    c.call("POST", "/oauth2/v2.1/token", 413, data={"client_assertion": "x" * (1024 * 1024 + 10)})
    # The 30-token limit: a channel of its own, 30 issues, then LINE's {"message"} refusal.
    full = channel(base, public)
    full_form = issue_form(assertion(full["channel_id"], full["kid"], key))
    for _ in range(30):
        assert requests.post(base + "/oauth2/v2.1/token", data=full_form, timeout=30).status_code == 200
    r = c.call("POST", "/oauth2/v2.1/token", 400, data=full_form)
    assert r.json() == {"message": "The maximum number of access tokens has already been issued"}

    # §5.2 kids
    kids = "/oauth2/v2.1/tokens/kid?client_assertion_type=" + quote(JWT_BEARER, safe="")
    assert c.call("GET", f"{kids}&client_assertion={good}", 200).json()["kids"]
    c.call("GET", kids, 400)
    c.call("GET", f"{kids}&client_assertion={assertion(cid, str(uuid.uuid4()), key)}", 404)

    # §5.3 verify v2.1, including a token that expired (issued for 1 second)
    assert c.call("GET", f"/oauth2/v2.1/verify?access_token={token}", 200).json()["client_id"] == cid
    for garbage in ("abc", "a.b.c"):
        c.call("GET", f"/oauth2/v2.1/verify?access_token={garbage}", 400)
    c.call("GET", "/oauth2/v2.1/verify", 400)
    brief = c.call("POST", "/oauth2/v2.1/token", 200,
                   data=issue_form(assertion(cid, kid, key, token_exp=1))).json()["access_token"]
    deadline = time.monotonic() + 30
    while True:
        r = requests.get(f"{base}/oauth2/v2.1/verify?access_token={brief}", timeout=30)
        if r.status_code == 400 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    c.check("GET", "/oauth2/v2.1/verify", r)
    assert r.json()["error_description"] == "The access token expired"

    # §5.4 revoke v2.1
    revoke = {"client_id": cid, "client_secret": secret}
    c.call("POST", "/oauth2/v2.1/revoke", 400, data={**revoke, "client_secret": "wrong", "access_token": token})
    c.call("POST", "/oauth2/v2.1/revoke", 400, data={**revoke, "access_token": "abc"})
    c.call("POST", "/oauth2/v2.1/revoke", 400, data={**revoke, "access_token": "a.b!.c"})
    c.call("POST", "/oauth2/v2.1/revoke", 200, data={**revoke, "access_token": token})
    r = c.call("GET", f"/oauth2/v2.1/verify?access_token={token}", 400)
    assert r.json()["error_description"] == "The access token revoked"

    # §5.5 stateless, by secret and by assertion
    by_secret = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    stateless = c.call("POST", "/oauth2/v3/token", 200, data=by_secret).json()["access_token"]
    c.call("POST", "/oauth2/v3/token", 200, data={**issue_form(good), "client_id": "", "client_secret": ""})
    c.call("POST", "/oauth2/v3/token", 400, data={**by_secret, "client_secret": "wrong"})
    c.call("POST", "/oauth2/v3/token", 400, data={"grant_type": "client_credentials"})
    c.call("POST", "/oauth2/v3/token", 404, data=issue_form(assertion(cid, str(uuid.uuid4()), key)))

    # §5.6 short-lived, and LINE's 429 over the rate (2 per second per channel here)
    short = c.call("POST", "/v2/oauth/accessToken", 200, data=by_secret).json()["access_token"]
    c.call("POST", "/v2/oauth/accessToken", 400, data={**by_secret, "client_secret": "wrong"})
    c.call("POST", "/v2/oauth/accessToken", 400, data={**by_secret, "client_id": "0000000000"})
    c.call("POST", "/v2/oauth/accessToken", 400, data={"grant_type": "client_credentials"})
    burst = channel(base, None)
    burst_form = {"grant_type": "client_credentials", "client_id": burst["channel_id"],
                  "client_secret": burst["channel_secret"]}
    for _ in range(40):  # bounded: two answers a second are allowed, the rest of a burst is refused
        r = requests.post(base + "/v2/oauth/accessToken", data=burst_form, timeout=30)
        c.check("POST", "/v2/oauth/accessToken", r)
        if r.status_code == 429:
            break
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1

    # §5.7 verify short- and long-lived
    assert c.call("POST", "/v2/oauth/verify", 200, data={"access_token": short}).json()["scope"] == "P CM"
    long_lived = requests.post(f"{base}/api/channels/{cid}/long-lived", json={}, auth=(cid, secret), timeout=30)
    assert long_lived.status_code == 201
    c.call("POST", "/v2/oauth/verify", 200, data={"access_token": long_lived.json()["access_token"]})
    for garbage in ("abc", "A" * 40):
        c.call("POST", "/v2/oauth/verify", 400, data={"access_token": garbage})
    c.call("POST", "/v2/oauth/verify", 400, data={})

    # §5.8 revoke short- and long-lived
    c.call("POST", "/v2/oauth/revoke", 200, data={"access_token": short})
    c.call("POST", "/v2/oauth/revoke", 200, data={"access_token": "A" * 40})  # unknown: 200 all the same
    assert c.call("POST", "/v2/oauth/revoke", 400, data={"access_token": "abc"}).json() == {"error": "invalid_request"}
    c.call("POST", "/v2/oauth/revoke", 400, data={})
    c.call("POST", "/v2/oauth/verify", 400, data={"access_token": short})

    # §10 the Messaging API read calls, with each kind of token and each kind of refusal
    fresh = c.call("POST", "/oauth2/v2.1/token", 200, data=issue_form(good)).json()["access_token"]
    for path in ("/v2/bot/info", "/v2/bot/message/quota", "/v2/bot/message/quota/consumption"):
        for bearer in (fresh, stateless, long_lived.json()["access_token"]):
            c.call("GET", path, 200, headers={"Authorization": f"Bearer {bearer}"})
        c.call("GET", path, 401)
        c.call("GET", path, 401, headers={"Authorization": f"Bearer {short}"})  # revoked above
        c.call("GET", path, 401, headers={"Authorization": "Bearer not!a!token"})

    # Every operation was answered at least once with a success and once with an error.
    for path, item in document["paths"].items():
        for method in item:
            statuses = {status for m, p, status in c.seen if (m, p) == (method, path)}
            assert any(s < 300 for s in statuses) and any(s >= 400 for s in statuses), (method, path, statuses)

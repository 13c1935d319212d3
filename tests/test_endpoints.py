"""The endpoint registry (line_token/core/endpoints.py) is the one description of LINE's endpoints: the sandbox
serves exactly its endpoints, the tester has a page for each, its OpenAPI document and docs/line-api.md describe
the same ones with the same fields and answers, and what the sandbox answers has the fields the registry lists.
Also: no Japanese text outside the translation catalogs."""
from __future__ import annotations

import json
import re

import pytest

from line_token.core import display, endpoints, line_client, signing, snippets
from line_token.sandbox import routes as sandbox_routes
from conftest import ROOT

NOT_LINE = ("/", "/openapi.json", "/api/", "/console/", "/bot-profile/")
REGISTERED = {(e.method, e.path) for e in endpoints.REGISTRY}


def line_routes(app, prefix: str) -> set[tuple[str, str]]:
    """(method, path) of every LINE-shaped route the app's sandbox serves under ``prefix``."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("sandbox.") or not rule.rule.startswith(prefix + "/"):
            continue
        path = rule.rule[len(prefix):]
        if path in NOT_LINE or path.startswith(NOT_LINE[2:]):
            continue
        found |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_the_sandbox_serves_exactly_the_registrys_endpoints(app, tmp_path):
    from line_token.sandbox.app import create_app

    assert line_routes(app, "/sandbox") == REGISTERED  # mounted in the tester
    alone = create_app({"SANDBOX_DATABASE": str(tmp_path / "alone.sqlite3")})
    assert line_routes(alone, "") == REGISTERED  # its own app (the CLI's in-process calls, its own origin)


def test_the_tester_has_a_page_for_every_endpoint_at_lines_path(client):
    pages = {rule.rule: rule for rule in client.application.url_map.iter_rules()
             if rule.endpoint.startswith(("proxy.", "trying."))}
    for endpoint in endpoints.REGISTRY:
        # LINE's GET /oauth2/v2.1/tokens/kid is the page that lists the tokens, /oauth2/v2.1/tokens.
        path = "/oauth2/v2.1/tokens" if endpoint.name == "kids_v21" else endpoint.path
        assert path in pages, endpoint.name
        assert {"GET", "POST"} <= pages[path].methods
        shown = client.get(path)
        assert shown.status_code == 200 and "<form" in shown.get_data(as_text=True), path


def test_the_openapi_document_describes_the_same_endpoints_fields_and_answers():
    document = json.loads((ROOT / "line_token" / "sandbox" / "openapi.json").read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]

    def resolve(schema: dict) -> dict:
        return schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema

    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == REGISTERED
    for endpoint in endpoints.REGISTRY:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        assert operation["operationId"] == endpoint.node_method
        if endpoint.method == "POST":
            body = resolve(operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"])
            fields, required = set(body["properties"]), set(body.get("required", ()))
        else:
            parameters = [p for p in operation.get("parameters", ()) if p["in"] == "query"]
            fields, required = {p["name"] for p in parameters}, {p["name"] for p in parameters if p.get("required")}
        assert fields == set(endpoint.field_names), endpoint.name
        assert required == set(endpoint.required), endpoint.name
        answer = operation["responses"]["200"].get("content")
        properties = set(resolve(answer["application/json"]["schema"])["properties"]) if answer else set()
        assert properties == set(endpoint.answer), endpoint.name


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_each_endpoints_docs_anchor_is_a_heading_of_line_api_md_that_names_it():
    text = (ROOT / "docs" / "line-api.md").read_text(encoding="utf-8")
    headings = {github_anchor(line.lstrip("#")): line for line in text.splitlines() if line.startswith("#")}
    for endpoint in endpoints.REGISTRY:
        assert endpoint.anchor in headings, endpoint.name
        heading = headings[endpoint.anchor]
        assert re.match(re.escape(endpoint.section) + r"\.? ", heading.lstrip("# ")), heading
        if endpoint.name in endpoints.TOKEN_ENDPOINTS:
            assert f"`{endpoint.method} {endpoint.path}`" in heading
        else:
            assert f"`{endpoint.method} {endpoint.path}`" in text


def test_what_the_sandbox_answers_has_the_registrys_answer_fields(client, channel, key):
    """Every endpoint called the way the registry says (its fields, its way of authenticating) answers 2xx
    with exactly the registry's answer fields (bot_info: the sandbox sends no premiumId, quota no value)."""
    assertion = signing.build_assertion(channel["channel_id"], channel["kid"], key, 3600)
    given = {"client_assertion": assertion, "client_id": channel["channel_id"],
             "client_secret": channel["channel_secret"]}
    def short_lived() -> str:
        return client.post("/sandbox" + endpoints.get("issue_v2").path, data=line_client.request_fields(
            "issue_v2", client_id=channel["channel_id"], client_secret=channel["channel_secret"])).get_json()[
            "access_token"]

    short, bearer = short_lived(), short_lived()  # one to verify and revoke, one to try
    issued = client.post("/sandbox" + endpoints.get("issue_v21").path,
                         data=line_client.request_fields("issue_v21", client_assertion=assertion)).get_json()
    tokens = {"verify_v21": issued["access_token"], "revoke_v21": issued["access_token"],
              "verify_v2": short, "revoke_v2": short}
    sandbox_omits = {"bot_info": {"premiumId"}, "quota": {"value"}}  # LINE's optional members
    for endpoint in endpoints.REGISTRY:  # the revokes come after the verifies, in the registry's order
        for auth in endpoint.authenticated_by:
            values = {name: given.get(name) for name in endpoint.sends(auth) if name in given}
            if "access_token" in endpoint.field_names:
                values["access_token"] = tokens[endpoint.name]
            fields = line_client.request_fields(endpoint.name, **values) if endpoint.fields else {}
            headers = {"Authorization": "Bearer " + bearer} if auth == endpoints.BEARER else {}
            url = "/sandbox" + endpoint.path
            answer = (client.get(url, query_string=fields, headers=headers) if endpoint.method == "GET" else
                      client.post(url, data=fields, headers=headers))
            assert answer.status_code == 200, (endpoint.name, auth, answer.get_data(as_text=True))
            body = answer.get_json(silent=True)
            got = set(body) if isinstance(body, dict) else set()
            assert got == set(endpoint.answer) - sandbox_omits.get(endpoint.name, set()), (endpoint.name, auth)


def test_the_readers_of_the_registry_agree_with_it():
    assert {name: (e.method, e.path) for name, e in endpoints.ENDPOINTS.items()} == line_client.ENDPOINTS
    assert set(snippets.METHODS) == set(endpoints.TOKEN_ENDPOINTS)
    assert set(endpoints.SECRET_FIELDS) == {"client_assertion", "client_secret", "access_token"}
    assert set(endpoints.SECRET_FIELDS) < set(display.SECRET_FIELDS)
    for name in endpoints.TOKEN_ENDPOINTS:
        sent = line_client.request_fields(name, **{f: "x" for f in endpoints.get(name).sends()})
        assert tuple(sent) == endpoints.get(name).sends()
    assert tuple(line_client.request_fields("issue_stateless", client_id="1", client_secret="s")) == (
        "grant_type", "client_id", "client_secret")
    with pytest.raises(TypeError):
        line_client.request_fields("verify_v21", client_secret="s")
    assert sandbox_routes.issue_v21 in sandbox_routes.SCRIPT_ENDPOINTS


# --------------------------------------------------------------------------- Japanese only in the catalogs

CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def test_no_japanese_text_in_python_outside_the_catalogs_and_the_tests():
    """Every Japanese word the app shows comes from translations/ja/LC_MESSAGES/messages.po."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in ("tests", ".venv", "node_modules", "build", "translations") or "node_modules" in relative.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CJK.search(line):
                found.append(f"{relative}:{number}: {line.strip()[:80]}")
    assert found == []

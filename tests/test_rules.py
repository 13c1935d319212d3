"""The rules table (line_token/core/rules.py): the signer, the inspector and the sandbox agree on every rule,
one second either side of each bound, and the JWT page's in-browser signer gets the table's bounds."""
from __future__ import annotations

import json
import re
import time

import pytest

from line_token.core import inspector, rules, signing
from line_token.sandbox import service
from line_token.sandbox.app import create_app
from conftest import ROOT
from forge import forge

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NOW = int(time.time()) // 10 * 10  # one fixed instant for the three sides
LIMIT = NOW + rules.MAX_ASSERTION_LIFETIME + rules.CLOCK_TOLERANCE  # the latest exp all three accept


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """The sandbox alone (its own app, as LINE's stand-in) with one channel and one registered key."""
    app = create_app({"SANDBOX_DATABASE": str(tmp_path_factory.mktemp("rules") / "sandbox.sqlite3")})
    private, public = signing.generate_key_pair()
    with app.app_context():
        box = service.Sandbox(app.extensions["sandbox_store"])
        channel, secret = box.create_channel("rules")
        kid = box.register_key(channel.channel_id, public).kid
    yield {"client": app.test_client(), "channel": channel.channel_id, "secret": secret, "kid": kid,
           "key": signing.load_private_key(private)}
    app.extensions["sandbox_store"].dispose()


# (case, rule it tests, header changes, payload changes, whether LINE accepts it); None removes a member.
CASES = [
    ("alg RS256", "alg", {}, {}, True),
    ("alg HS256", "alg", {"alg": "HS256"}, {}, False),
    ("typ JWT", "typ", {}, {}, True),
    ("typ JWS", "typ", {"typ": "JWS"}, {}, False),
    ("typ missing", "typ", {"typ": None}, {}, False),
    ("kid missing", "kid", {"kid": None}, {}, False),
    ("kid empty", "kid", {"kid": ""}, {}, False),
    ("iss not digits", "iss", {}, {"iss": "abc", "sub": "abc"}, False),
    ("iss a number, not text", "iss", {}, {"iss": "NUMBER", "sub": "NUMBER"}, False),
    ("sub differs", "sub", {}, {"sub": "1234567891"}, False),
    ("aud without slash", "aud", {}, {"aud": "https://api.line.me"}, False),
    ("exp 1 s ago", "exp", {}, {"exp": NOW - 1}, False),
    ("exp now", "exp", {}, {"exp": NOW}, False),
    ("exp in 1 s", "exp", {}, {"exp": NOW + 1}, True),
    ("exp in 30 min", "exp", {}, {"exp": NOW + rules.MAX_ASSERTION_LIFETIME}, True),
    ("exp in 30 min 30 s", "exp", {}, {"exp": NOW + rules.MAX_ASSERTION_LIFETIME + 30}, True),  # issue 20's case
    ("exp 1 s inside the tolerance", "exp", {}, {"exp": LIMIT - 1}, True),
    ("exp at the tolerance", "exp", {}, {"exp": LIMIT}, True),
    ("exp 1 s past the tolerance", "exp", {}, {"exp": LIMIT + 1}, False),
    ("exp as text", "exp", {}, {"exp": str(LIMIT)}, True),
    ("exp as text 1 s past", "exp", {}, {"exp": str(LIMIT + 1)}, False),
    ("exp a fraction", "exp", {}, {"exp": NOW + 60.5}, False),
    ("exp missing", "exp", {}, {"exp": None}, False),
    ("token_exp 0", "token_exp", {}, {"token_exp": rules.MIN_TOKEN_EXP - 1}, False),
    ("token_exp 1", "token_exp", {}, {"token_exp": rules.MIN_TOKEN_EXP}, True),
    ("token_exp 2", "token_exp", {}, {"token_exp": rules.MIN_TOKEN_EXP + 1}, True),
    ("token_exp 30 d - 1 s", "token_exp", {}, {"token_exp": rules.MAX_TOKEN_EXP - 1}, True),
    ("token_exp 30 d", "token_exp", {}, {"token_exp": rules.MAX_TOKEN_EXP}, True),
    ("token_exp 30 d + 1 s", "token_exp", {}, {"token_exp": rules.MAX_TOKEN_EXP + 1}, False),
    ("token_exp as text", "token_exp", {}, {"token_exp": str(rules.MAX_TOKEN_EXP)}, True),
    ("token_exp a fraction", "token_exp", {}, {"token_exp": 1.5}, False),
    ("token_exp missing", "token_exp", {}, {"token_exp": None}, False),
]


def test_every_rule_of_the_table_is_walked():
    assert {case[1] for case in CASES if not case[4]} == set(rules.RULES)  # each one broken at least once
    assert {case[1] for case in CASES if case[4]} == {"alg", "typ", "exp", "token_exp"}  # and its bounds kept


def claims(sandbox, header_changes: dict, payload_changes: dict) -> tuple[dict, dict]:
    channel = sandbox["channel"]
    header = {"alg": "RS256", "typ": "JWT", "kid": sandbox["kid"]}
    payload = {"iss": channel, "sub": channel, "aud": rules.LINE_AUDIENCE, "exp": NOW + 600, "token_exp": 3600}
    for target, changes in ((header, header_changes), (payload, payload_changes)):
        for name, value in changes.items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = int(channel) if value == "NUMBER" else value
    return header, payload


def issue(client, assertion: str):
    return client.post("/oauth2/v2.1/token", data={"grant_type": "client_credentials",
                                                   "client_assertion_type": ASSERTION_TYPE,
                                                   "client_assertion": assertion})


@pytest.mark.parametrize("case, name, header_changes, payload_changes, accepted", CASES, ids=[c[0] for c in CASES])
def test_signer_inspector_and_sandbox_agree(sandbox, monkeypatch, case, name, header_changes, payload_changes,
                                            accepted):
    header, payload = claims(sandbox, header_changes, payload_changes)
    rule = rules.RULES[name]

    # The signer refuses from the table, naming the field a person fixes.
    try:
        signing.validate_claims(header, payload, now=NOW)
        refused_by = None
    except signing.InputError as e:
        refused_by = e.field
    # The inspector explains from it, naming the claim.
    found = [f.field for f in inspector.inspect(forge(header, payload, sandbox["key"]), now=NOW).findings]
    # The sandbox answers as LINE from it.
    monkeypatch.setattr(time, "time", lambda: float(NOW))
    answer = issue(sandbox["client"], forge(header, payload, sandbox["key"]))
    if answer.status_code == 200:  # free the slot: a channel holds 30 valid v2.1 tokens
        revoked = sandbox["client"].post("/oauth2/v2.1/revoke", data={
            "client_id": sandbox["channel"], "client_secret": sandbox["secret"],
            "access_token": answer.get_json()["access_token"]})
        assert revoked.status_code == 200

    if accepted:
        assert (refused_by, found, answer.status_code) == (None, [], 200), answer.get_json()
        if name == "token_exp":
            assert answer.get_json()["expires_in"] == rules.whole_number(payload["token_exp"])
    else:
        assert refused_by == rule.field
        assert found == [rule.claim]
        assert (answer.status_code, answer.get_json()) == (rule.line.status, rule.line.body)


def test_the_sandbox_ignores_token_exp_where_line_does(sandbox, monkeypatch):
    """token_exp is a token request's rule: listing key IDs reads every other rule and not that one."""
    monkeypatch.setattr(time, "time", lambda: float(NOW))
    for payload_changes, status in (({"token_exp": rules.MAX_TOKEN_EXP + 1}, 200), ({"exp": LIMIT + 1}, 400)):
        header, payload = claims(sandbox, {}, payload_changes)
        listed = sandbox["client"].get("/oauth2/v2.1/tokens/kid", query_string={
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": forge(header, payload, sandbox["key"])})
        assert listed.status_code == status, listed.get_json()


def test_one_clock_tolerance_one_number_parser_one_channel_id_rule():
    source = "\n".join(p.read_text() for p in (ROOT / "line_token").rglob("*.py") if p.name != "rules.py")
    assert not re.search(r"SKEW|TOLERANCE\s*=", source)  # no second tolerance
    assert "def _number(" not in source and "def whole_number(" in source  # signing's wrapper raises InputError
    assert not re.search(r"\[0-9\]\{10\}|isdigit\(\)", source)
    assert service.CHANNEL_ID.pattern == rules.CHANNEL_ID_PATTERN
    assert [rules.whole_number(v) for v in (5, 5.0, "5", " 5 ", "²", "-5", 5.5, True, float("inf"), "9" * 19)] == [
        5, 5, 5, 5, None, None, None, None, None, None]


def test_the_jwt_page_hands_its_script_the_tables_bounds(client):
    """jwt.js holds no bound of its own: it reads the page's #line-rules, which is the table's."""
    page = client.get("/oauth2/v2.1/jwt").get_data(as_text=True)
    embedded = json.loads(re.search(r'<script type="application/json" id="line-rules">(.*?)</script>', page,
                                    re.S).group(1))
    assert embedded == rules.browser_rules()
    assert (embedded["max_token_exp"], embedded["min_token_exp"]) == (
        rules.RULES["token_exp"].bounds["max"], rules.RULES["token_exp"].bounds["min"])
    assert embedded["max_exp_minutes"] * 60 == rules.RULES["exp"].bounds["max_ahead"]
    assert embedded["aud"] == rules.RULES["aud"].bounds["equals"]
    assert embedded["channel_id_pattern"] == rules.RULES["iss"].bounds["pattern"]

    script = (ROOT / "static" / "jwt.js").read_text()
    assert 'getElementById("line-rules")' in script
    for copy in ("2592000", "2,592,000", "1800", "86400", "api.line.me", r"\d+", "[0-9]{1,18}", "minutes <= 30"):
        assert copy not in script, copy
    for bound in ("R.max_token_exp", "R.min_token_exp", "R.max_exp_minutes", "R.channel_id_pattern", "R.aud",
                  "R.token_exp_units", "R.default_token_exp", "R.whole_number_pattern"):
        assert bound in script, bound

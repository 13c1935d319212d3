"""Faults, time travel and the request log per channel (issue 21 items 3 and 4), through Flask's test client:
LINE's answers for a faulted call, the channel's clock expiring tokens and ending reissue windows, the log's
bound and order, every bad input naming its field, and no secret anywhere in the database afterwards."""
from __future__ import annotations

import glob
import json
import sqlite3
import time
import uuid

import pytest

from line_token.core import signing
from line_token.sandbox import faults as faults_module
from line_token.sandbox import reqlog
from line_token.sandbox.service import Sandbox

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RATE_LIMITED = {"message": "The API rate limit has been exceeded. Try again later."}
P = "/sandbox"


@pytest.fixture(scope="module")
def keypair():
    private, public = signing.generate_key_pair()
    return signing.load_private_key(private), public


class Chan:
    def __init__(self, client, keypair=None):
        r = client.post(f"{P}/api/channels", json={"name": "faults"})
        assert r.status_code == 201, r.json
        self.client, self.id, self.secret = client, r.json["channel_id"], r.json["channel_secret"]
        self.auth = (self.id, self.secret)
        self.key = None
        if keypair is not None:
            r = client.post(f"{P}/api/channels/{self.id}/keys", json=keypair[1], auth=self.auth)
            assert r.status_code == 201, r.json
            self.kid, self.key = r.json["kid"], keypair[0]

    def api(self, method, path, **kwargs):
        return getattr(self.client, method)(f"{P}/api/channels/{self.id}{path}", auth=self.auth, **kwargs)

    def assertion(self, token_exp=3600, now=None):
        header, payload = signing.build_claims(self.id, self.kid, token_exp=token_exp, now=now)
        return signing.sign(header, payload, self.key, now=now)

    def issue_v21(self, now=None, token_exp=3600):
        return self.client.post(f"{P}/oauth2/v2.1/token", data={
            "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(token_exp, now)})

    def short_lived(self, secret=None):
        return self.client.post(f"{P}/v2/oauth/accessToken", data={
            "grant_type": "client_credentials", "client_id": self.id, "client_secret": secret or self.secret})

    def stateless(self):
        return self.client.post(f"{P}/oauth2/v3/token", data={
            "grant_type": "client_credentials", "client_id": self.id, "client_secret": self.secret})

    def verify_v21(self, token):
        return self.client.get(f"{P}/oauth2/v2.1/verify", query_string={"access_token": token})

    def verify_v2(self, token):
        return self.client.post(f"{P}/v2/oauth/verify", data={"access_token": token})

    def bot_info(self, token):
        return self.client.get(f"{P}/v2/bot/info", headers={"Authorization": f"Bearer {token}"})

    def advance(self, seconds):
        r = self.api("post", "/clock", json={"advance_seconds": seconds})
        assert r.status_code == 200, r.json
        return r.json

    def fault(self, **body):
        r = self.api("post", "/faults", json=body)
        assert r.status_code == 201, r.json
        return r.json

    def log(self):
        r = self.api("get", "/log")
        assert r.status_code == 200, r.get_data()
        # json.loads, not r.json: the test client parses with the app's request budget, which 200 entries pass.
        return json.loads(r.get_data())["entries"]


# --------------------------------------------------------------------------- faults


def test_a_429_fault_answers_as_line_then_the_real_answer_comes_back(client):
    chan = Chan(client)
    added = chan.fault(path="/v2/oauth/accessToken", status=429, count=2)
    assert added["count"] == 2 and added["retry_after"] == 1
    assert chan.api("get", "/faults").json["faults"][0]["path"] == "/v2/oauth/accessToken"
    for _ in range(2):
        r = chan.short_lived()
        assert r.status_code == 429 and r.json == RATE_LIMITED
        assert r.headers["Retry-After"] == "1" and r.headers["X-Line-Request-Id"]
    r = chan.short_lived()
    assert r.status_code == 200 and r.json["token_type"] == "Bearer"
    assert chan.api("get", "/faults").json == {"faults": []}


@pytest.mark.parametrize("status,body", [(500, {"message": "Internal server error"}),
                                         (503, {"message": "Service unavailable"})])
def test_5xx_faults_in_lines_message_shape(client, keypair, status, body):
    chan = Chan(client, keypair)
    chan.fault(path="/oauth2/v2.1/token", status=status, retry_after=7 if status == 503 else None)
    r = chan.issue_v21()
    assert (r.status_code, r.json) == (status, body)
    assert ("Retry-After" in r.headers) == (status == 503)
    if status == 503:
        assert r.headers["Retry-After"] == "7"
    assert chan.issue_v21().status_code == 200


def test_a_fault_is_matched_by_the_calls_channel_whatever_names_it(client, keypair):
    """client_id, the assertion's iss, the access_token's channel and the Bearer token's channel."""
    chan, other = Chan(client, keypair), Chan(client)
    token = chan.issue_v21().json["access_token"]
    stateless = chan.stateless().json["access_token"]
    short = chan.short_lived().json["access_token"]
    for path in ("/oauth2/v2.1/tokens/kid", "/oauth2/v2.1/verify", "/v2/oauth/verify", "/v2/bot/info",
                 "/oauth2/v3/token"):
        chan.fault(path=path, status=503)
    other.fault(path="/v2/oauth/accessToken", status=500)
    assert chan.short_lived().status_code == 200  # another channel's fault is not this one's
    kids = client.get(f"{P}/oauth2/v2.1/tokens/kid", query_string={
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": chan.assertion()})
    assert kids.status_code == 503
    assert chan.verify_v21(token).status_code == 503
    assert chan.verify_v2(short).status_code == 503
    assert chan.bot_info(stateless).status_code == 503
    assert chan.stateless().status_code == 503
    assert chan.api("get", "/faults").json == {"faults": []}
    assert chan.verify_v21(token).status_code == 200 and chan.bot_info(stateless).status_code == 200
    assert other.short_lived().status_code == 500


def test_a_delay_only_fault_gives_the_real_answer_late(client):
    chan = Chan(client)
    chan.fault(path="/v2/oauth/accessToken", delay_seconds=0.3)
    started = time.monotonic()
    r = chan.short_lived()
    assert r.status_code == 200 and time.monotonic() - started >= 0.3
    assert chan.log()[0]["status"] == 200


@pytest.mark.parametrize("body,field", [
    ({"status": 429}, "path"),
    ({"path": "/oauth2/v2.1/tokens", "status": 429}, "path"),
    ({"path": "/oauth2/v2.1/token", "status": 404}, "status"),
    ({"path": "/oauth2/v2.1/token", "status": "429"}, "status"),
    ({"path": "/oauth2/v2.1/token", "status": True}, "status"),
    ({"path": "/oauth2/v2.1/token"}, "status"),
    ({"path": "/oauth2/v2.1/token", "status": 429, "count": 0}, "count"),
    ({"path": "/oauth2/v2.1/token", "status": 429, "count": 101}, "count"),
    ({"path": "/oauth2/v2.1/token", "status": 429, "count": 1.5}, "count"),
    ({"path": "/oauth2/v2.1/token", "status": 429, "delay_seconds": 31}, "delay_seconds"),
    ({"path": "/oauth2/v2.1/token", "status": 429, "delay_seconds": -1}, "delay_seconds"),
    ({"path": "/oauth2/v2.1/token", "status": 429, "delay_seconds": "1"}, "delay_seconds"),
    ({"path": "/oauth2/v2.1/token", "status": 500, "retry_after": 5}, "retry_after"),
    ({"path": "/oauth2/v2.1/token", "status": 429, "retry_after": 0}, "retry_after"),
])
def test_a_bad_fault_is_a_400_naming_the_field(client, body, field):
    chan = Chan(client)
    r = chan.api("post", "/faults", json=body)
    assert r.status_code == 400 and r.json["field"] == field, r.json
    assert field in r.json["error_description"] or field == "body"
    assert chan.api("get", "/faults").json == {"faults": []}


def test_fault_and_clock_bodies_must_be_json_objects(client):
    chan = Chan(client)
    for path in ("/faults", "/clock"):
        assert chan.api("post", path, data="path=x", content_type="application/x-www-form-urlencoded") \
            .status_code == 415
        for data in ("", "[1]", "[[[[[[", '"x"'):
            r = chan.api("post", path, data=data, content_type="application/json")
            assert r.status_code == 400 and r.json["field"] == "body", (path, data, r.json)


def test_pending_faults_per_channel_are_bounded(client):
    chan = Chan(client)
    for _ in range(faults_module.MAX_PENDING_FAULTS):
        chan.fault(path="/v2/oauth/verify", status=500, count=100)
    r = chan.api("post", "/faults", json={"path": "/v2/oauth/verify", "status": 500})
    assert r.status_code == 409 and str(faults_module.MAX_PENDING_FAULTS) in r.json["error_description"]
    cleared = chan.api("delete", "/faults")
    assert cleared.json == {"cleared": faults_module.MAX_PENDING_FAULTS}
    assert chan.api("get", "/faults").json == {"faults": []}


def test_faults_clock_and_log_need_the_channels_secret(client):
    chan, other = Chan(client), Chan(client)
    calls = [("post", "/faults", {"json": {"path": "/v2/oauth/verify", "status": 500}}), ("get", "/faults", {}),
             ("delete", "/faults", {}), ("post", "/clock", {"json": {"advance_seconds": 60}}), ("get", "/clock", {}),
             ("delete", "/clock", {}), ("get", "/log", {})]
    for auth in (None, (chan.id, "0" * 32), other.auth):
        for method, path, kwargs in calls:
            r = getattr(client, method)(f"{P}/api/channels/{chan.id}{path}", auth=auth, **kwargs)
            assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic"), (method, path)
    assert chan.api("get", "/faults").json == {"faults": []}
    assert chan.api("get", "/clock").json["offset_seconds"] == 0
    # An unknown channel answers as a wrong secret does: nobody learns which IDs exist (issue 23 item 9).
    assert client.get(f"{P}/api/channels/0000000001/faults", auth=("0000000001", "x" * 32)).status_code == 401


# --------------------------------------------------------------------------- the clock


def test_the_clock_counts_expires_in_down_expires_tokens_and_resets(client, keypair):
    chan = Chan(client, keypair)
    v21 = chan.issue_v21(token_exp=3600).json["access_token"]
    short = chan.short_lived().json["access_token"]
    assert 3590 <= chan.verify_v21(v21).json["expires_in"] <= 3600
    clock = chan.advance(1800)
    assert clock["offset_seconds"] == 1800 and clock["now"] - clock["real_now"] == 1800
    assert 1790 <= chan.verify_v21(v21).json["expires_in"] <= 1800
    assert chan.api("get", f"").json["tokens"][0]["expires_in"] <= 1800  # the admin API's view too
    chan.advance(1801)
    r = chan.verify_v21(v21)
    assert r.status_code == 400 and r.json == {"error": "invalid_request",
                                               "error_description": "The access token expired"}
    assert chan.bot_info(v21).status_code == 401
    assert chan.verify_v2(short).status_code == 200  # 30 days
    chan.advance(30 * 24 * 3600)
    assert chan.verify_v2(short).json == {"error": "invalid_request", "error_description": "access_token invalid"}
    reset = chan.api("delete", "/clock").json
    assert reset["offset_seconds"] == 0 and reset["now"] == reset["real_now"]
    assert chan.verify_v21(v21).status_code == 200 and chan.verify_v2(short).status_code == 200


def test_stateless_tokens_and_assertions_follow_the_channels_clock(client, keypair):
    chan = Chan(client, keypair)
    stateless = chan.stateless().json["access_token"]
    assert chan.bot_info(stateless).status_code == 200
    chan.advance(901)
    assert chan.bot_info(stateless).status_code == 401
    assert chan.issue_v21().status_code == 200  # an assertion lives 30 minutes: still within them
    chan.advance(900)
    # An assertion signed on real time is now in the channel's past: LINE's Invalid exp.
    r = chan.issue_v21()
    assert r.status_code == 400 and r.json == {"error": "invalid_client", "error_description": "Invalid exp"}
    # Signed on the channel's time (GET .../clock), it is accepted, and its token lives on that clock.
    now = chan.api("get", "/clock").json["now"]
    token = chan.issue_v21(now=now, token_exp=600).json["access_token"]
    assert 590 <= chan.verify_v21(token).json["expires_in"] <= 600
    assert chan.bot_info(chan.stateless().json["access_token"]).status_code == 200


def test_the_long_lived_reissue_window_ends_on_the_channels_clock(client):
    chan = Chan(client)
    first = chan.api("post", "/long-lived", json={}).json["access_token"]
    second = chan.api("post", "/long-lived", json={"keep_old_hours": 2}).json["access_token"]
    assert chan.verify_v2(first).status_code == 200
    chan.advance(2 * 3600 + 1)
    assert chan.verify_v2(first).json["error_description"] == "access_token invalid"
    assert chan.verify_v2(second).status_code == 200
    # A reissue made while the clock is ahead keeps the old one for 1 h of the channel's time.
    third = chan.api("post", "/long-lived", json={"keep_old_hours": 1}).json["access_token"]
    chan.advance(3601)
    assert chan.verify_v2(second).status_code == 400 and chan.verify_v2(third).status_code == 200


@pytest.mark.parametrize("value", [0, -5, 1.5, True, "60", None, [60], 10 * 365 * 24 * 3600 + 1])
def test_a_bad_advance_is_a_400_naming_advance_seconds(client, value):
    chan = Chan(client)
    r = chan.api("post", "/clock", json={"advance_seconds": value})
    assert r.status_code == 400 and r.json["field"] == "advance_seconds", r.json
    assert chan.api("get", "/clock").json["offset_seconds"] == 0


def test_the_clock_stops_ten_years_ahead_in_all(client):
    chan = Chan(client)
    chan.advance(9 * 365 * 24 * 3600)
    r = chan.api("post", "/clock", json={"advance_seconds": 366 * 24 * 3600})
    assert r.status_code == 400 and r.json["field"] == "advance_seconds"
    assert chan.api("get", "/clock").json["offset_seconds"] == 9 * 365 * 24 * 3600


# --------------------------------------------------------------------------- the request log


def test_the_log_lists_each_call_newest_first_with_lines_error_and_masked_fields(client, keypair):
    chan = Chan(client, keypair)
    chan.short_lived(secret="f" * 32)
    ok = chan.issue_v21()
    token = ok.json["access_token"]
    chan.verify_v21(token)
    client.get(f"{P}/v2/bot/info", headers={"Authorization": f"Bearer {token}", "User-Agent": "my-bot/1.0"})
    entries = chan.log()
    assert [e["path"] for e in entries] == ["/v2/bot/info", "/oauth2/v2.1/verify", "/oauth2/v2.1/token",
                                            "/v2/oauth/accessToken"]
    bot, verify, issue, refused = entries
    assert refused["status"] == 400 and refused["error"] == "invalid_client: invalid client_secret"
    assert refused["fields"] == {"grant_type": "client_credentials", "client_id": chan.id,
                                 "client_secret": "[masked: 32 characters]"}
    assert issue["status"] == 200 and issue["error"] is None and issue["method"] == "POST"
    assert issue["request_id"] == ok.headers["X-Line-Request-Id"]
    assert issue["fields"]["client_assertion"].startswith("[masked: ")
    assert issue["fields"]["client_assertion_type"] == ASSERTION_TYPE
    assert verify["method"] == "GET" and verify["fields"] == {"access_token": f"[masked: {len(token)} characters]"}
    assert bot["user_agent"] == "my-bot/1.0" and bot["fields"] == {
        "Authorization": f"Bearer [masked: {len(token)} characters]"}
    assert all(abs(e["at"] - time.time()) < 600 for e in entries)


def test_the_log_keeps_the_last_200_per_channel(client):
    # 205 calls with a wrong secret: past SANDBOX_AUTH_FAILURE_LIMIT they would be 429s (tested in test_sandbox);
    # here the log's bound is what is measured, so that limit is off.
    client.application.config["SANDBOX_AUTH_FAILURE_LIMIT"] = ""
    chan = Chan(client)
    for i in range(reqlog.LOG_KEPT + 5):
        client.post(f"{P}/v2/oauth/accessToken", data={"grant_type": "client_credentials", "client_id": chan.id,
                                                       "client_secret": f"{i:032d}"},
                    headers={"User-Agent": f"call {i}"})
    entries = chan.log()
    assert len(entries) == reqlog.LOG_KEPT
    assert entries[0]["user_agent"] == f"call {reqlog.LOG_KEPT + 4}" and entries[-1]["user_agent"] == "call 5"
    # The table itself stays within the bound docs/sandbox.md states (trimmed every TRIM_EVERY calls of a process).
    for i in range(3 * reqlog.TRIM_EVERY):
        client.post(f"{P}/v2/oauth/accessToken", data={"grant_type": "client_credentials", "client_id": chan.id,
                                                       "client_secret": f"{i:032d}"})
        with sqlite3.connect(client.application.config["SANDBOX_DATABASE"]) as db:
            rows = db.execute("SELECT count(*) FROM sandbox_request_log WHERE channel_id = ?", (chan.id,)).fetchone()[0]
        assert reqlog.LOG_KEPT <= rows <= reqlog.LOG_KEPT + reqlog.TRIM_EVERY
    assert len(chan.log()) == reqlog.LOG_KEPT


def test_calls_naming_no_channel_or_an_unknown_one_are_not_logged_anywhere(client, app):
    chan = Chan(client)
    client.post(f"{P}/v2/oauth/accessToken", data={"grant_type": "client_credentials", "client_id": "0000000001",
                                                   "client_secret": "x" * 32})
    client.post(f"{P}/v2/oauth/verify", data={"access_token": "abc"})
    assert chan.log() == []
    with sqlite3.connect(app.config["SANDBOX_DATABASE"]) as db:
        assert db.execute("SELECT count(*) FROM sandbox_request_log").fetchone() == (0,)


def test_no_secret_token_or_jwt_is_ever_written_to_the_database(client, app, keypair):
    """Issue, verify, revoke, fail with a bad secret, use the tokens; then scan the whole database for them."""
    chan = Chan(client, keypair)
    assertion = chan.assertion()
    v21 = client.post(f"{P}/oauth2/v2.1/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion}).json["access_token"]
    short = chan.short_lived().json["access_token"]
    stateless = chan.stateless().json["access_token"]
    long_lived = chan.api("post", "/long-lived", json={}).json["access_token"]
    wrong_secret = uuid.uuid4().hex
    chan.verify_v21(v21)
    chan.verify_v2(short)
    chan.bot_info(stateless)
    chan.bot_info(long_lived)
    client.get(f"{P}/oauth2/v2.1/tokens/kid", query_string={"client_assertion_type": ASSERTION_TYPE,
                                                           "client_assertion": assertion})
    client.post(f"{P}/oauth2/v2.1/revoke", data={"client_id": chan.id, "client_secret": chan.secret,
                                                 "access_token": v21})
    client.post(f"{P}/oauth2/v2.1/revoke", data={"client_id": chan.id, "client_secret": wrong_secret,
                                                 "access_token": v21})
    chan.short_lived(secret=wrong_secret)
    client.post(f"{P}/v2/oauth/revoke", data={"access_token": short})
    chan.fault(path="/v2/oauth/verify", status=500)
    chan.verify_v2(long_lived)
    assert len(chan.log()) == 13
    secrets = {"channel secret": chan.secret, "wrong secret": wrong_secret, "assertion": assertion,
               "v2.1 token": v21, "short-lived token": short, "stateless token": stateless,
               "long-lived token": long_lived}
    # Every piece of each (a JWT's signature alone, too), in the database file and its WAL, as text and bytes.
    needles = {name: [value] + [part for part in value.split(".") if len(part) >= 16] for name, value in secrets.items()}
    files = glob.glob(app.config["SANDBOX_DATABASE"] + "*")
    assert files
    for path in files:
        with open(path, "rb") as f:
            raw = f.read()
        for name, parts in needles.items():
            for part in parts:
                assert part.encode() not in raw, (name, path)
    with sqlite3.connect(app.config["SANDBOX_DATABASE"]) as db:
        dump = "\n".join(db.iterdump())
    for name, parts in needles.items():
        assert not [part for part in parts if part in dump], name


# --------------------------------------------------------------------------- housekeeping


def test_deleting_a_channel_and_the_global_reset_remove_faults_clocks_and_logs(client, app):
    keep, gone = Chan(client), Chan(client)
    for chan in (keep, gone):
        chan.fault(path="/v2/oauth/verify", status=500)
        chan.advance(60)
        chan.short_lived()
    assert gone.api("delete", "").status_code == 204
    with sqlite3.connect(app.config["SANDBOX_DATABASE"]) as db:
        for table in ("sandbox_faults", "sandbox_clocks", "sandbox_request_log"):
            assert db.execute(f"SELECT DISTINCT channel_id FROM {table}").fetchall() == [(keep.id,)], table
    Sandbox(app.extensions["sandbox_store"]).reset_faults_and_clocks()
    assert keep.api("get", "/faults").json == {"faults": []}
    assert keep.api("get", "/clock").json["offset_seconds"] == 0
    assert keep.log() == []
    assert keep.short_lived().status_code == 200  # the channel itself stays


def test_masking_keeps_only_public_values():
    fields = reqlog.mask_fields([("grant_type", "client_credentials"), ("grant_type", "password"),
                                 ("client_id", "12a45"), ("client_assertion_type", "x"), ("code", "abc"),
                                 ("a" * 100, "v"), ("n\u00e4me\x00", "v")] + [(f"f{i}", "v") for i in range(20)],
                                authorization="Weird secret-value")
    assert fields["grant_type"] == "[masked: 8 characters]"  # the second grant_type, not a known value
    assert fields["client_id"] == "[masked: 5 characters]"  # no channel ID (the rules table's one rule) and fields["client_assertion_type"].startswith("[masked")
    assert fields["code"] == "[masked: 3 characters]" and fields["a" * 40] == "[masked: 1 characters]"
    assert fields["n?me?"].startswith("[masked")
    # 12 fields kept (two of them the same name), 15 counted, and the header
    assert len(fields) == reqlog.MAX_FIELDS - 1 + 2 and fields["…"] == "15 more fields"
    assert fields["Authorization"] == "? [masked: 12 characters]"


def test_the_console_shows_faults_clock_and_log_in_japanese(client, keypair):
    chan = Chan(client, keypair)
    chan.fault(path="/oauth2/v2.1/token", status=429, count=3)
    chan.advance(7200)
    chan.short_lived(secret="0" * 32)
    form = {"channel_id": chan.id, "channel_secret": chan.secret}
    page = client.post(f"{P}/console/open", data=form, headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert 'id="pending-faults"' in page and "/oauth2/v2.1/token" in page
    assert 'data-offset="7200"' in page and 'id="request-log"' in page
    assert "invalid_client: invalid client_secret" in page and "[masked: 32 characters]" in page
    log_table = page[page.index('id="request-log"'):]
    assert chan.secret not in log_table[:log_table.index("</table>")]
    for japanese in ("障害", "時計", "リクエストログ"):
        assert japanese in page, japanese
    r = client.post(f"{P}/console/faults", data={**form, "path": "/v2/oauth/verify", "status": "500",
                                                 "count": "0", "delay_seconds": "0"})
    assert r.status_code == 400 and 'id="count-error"' in r.get_data(as_text=True)
    r = client.post(f"{P}/console/clock", data={**form, "advance_seconds": "-1"})
    assert r.status_code == 400 and 'id="advance_seconds-error"' in r.get_data(as_text=True)
    r = client.post(f"{P}/console/clock/reset", data=form)
    assert 'data-offset="0"' in r.get_data(as_text=True)
    r = client.post(f"{P}/console/faults/clear", data=form)
    assert 'id="pending-faults"' not in r.get_data(as_text=True)


# --------------------------------------------------------------------------- both backends, and older databases


from pg import backend, postgres  # noqa: E402,F401  (fixtures)


def test_faults_clock_and_log_on_both_backends(backend):
    from concurrent.futures import ThreadPoolExecutor

    from line_token import create_app
    from line_token.sandbox import clock as clock_module

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test", **backend})
    client = app.test_client()
    store = app.extensions["sandbox_store"]
    chan = Chan(client)
    chan.fault(path="/v2/oauth/verify", status=503, count=10)
    # Twenty takers at once, each on its own connection: exactly ten get the fault.
    with ThreadPoolExecutor(10) as pool:
        taken = list(pool.map(lambda _: faults_module.take_fault(store, chan.id, "/v2/oauth/verify"), range(20)))
    assert sum(f is not None for f in taken) == 10
    assert faults_module.channel_state(store, chan.id) == (0, False)
    chan.fault(path="/v2/oauth/accessToken", status=429)
    assert chan.short_lived().status_code == 429
    token = chan.short_lived().json["access_token"]
    chan.advance(30 * 24 * 3600)
    assert clock_module.offset(store, chan.id) == 30 * 24 * 3600
    assert faults_module.channel_state(store, chan.id) == (30 * 24 * 3600, False)
    assert chan.verify_v2(token).json["error_description"] == "access_token invalid"
    for _ in range(reqlog.LOG_KEPT + 3):
        reqlog.record(store, chan.id, at=1, method="GET", path="/x", status=200, error=None, request_id="r",
                      user_agent=None, fields={})
    assert len(chan.log()) == reqlog.LOG_KEPT
    assert chan.api("delete", "").status_code == 204
    store.dispose()


def test_a_database_from_before_gains_the_new_tables_on_first_use(tmp_path):
    from line_token.sandbox import store as store_module

    path = tmp_path / "old.sqlite3"
    old = store_module.open_store({"SANDBOX_DATABASE": str(path)})
    channel, secret = old.create_channel("from before")
    old.dispose()
    with sqlite3.connect(path) as db:  # the database as the previous release left it
        for table in ("sandbox_faults", "sandbox_clocks", "sandbox_request_log"):
            db.execute(f"DROP TABLE {table}")
    new = store_module.open_store({"SANDBOX_DATABASE": str(path)})
    assert new.check_secret(channel.channel_id, secret)
    faults_module.add_fault(new, channel.channel_id, {"path": "/v2/oauth/verify", "status": 500})
    assert [f.status for f in faults_module.list_faults(new, channel.channel_id)] == [500]
    new.dispose()

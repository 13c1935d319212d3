"""The `line_sandbox` pytest fixture (issue 21 item 2), from this suite (tests/conftest.py registers the plugin)
and from an inner pytest run as a bot's suite uses it; the installed wheel's entry point is
tests/test_plugin_installed.py."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from linebot.v3.messaging import ApiClient as MessagingClient
from linebot.v3.messaging import Configuration as MessagingConfiguration
from linebot.v3.messaging import MessagingApi
from linebot.v3.oauth import ApiClient, ChannelAccessToken, Configuration
from linebot.v3.oauth.exceptions import ApiException

from conftest import ROOT

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_loading_the_plugin_imports_no_flask_server_or_database():
    result = subprocess.run([sys.executable, "-c", (
        "import sys, line_token.sandbox.pytest_plugin as p\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug', 'sqlalchemy', 'waitress', "
        "'requests', 'cryptography', 'jwt') or m in ('line_token.sandbox.server', 'line_token.sandbox.app')))")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_lines_python_sdk_issues_verifies_and_revokes_with_the_fixtures_channel(line_sandbox):
    channel = line_sandbox.create_channel("my bot")
    key = channel.add_key()
    assert len(key.kid) == 36 and key.private_jwk["kid"] == key.kid and "d" in key.private_jwk
    assert key.private_jwk["d"] not in repr(key) and channel.channel_secret not in repr(channel)
    with ApiClient(Configuration(host=line_sandbox.base_url)) as api:
        oauth = ChannelAccessToken(api)
        issued = oauth.issue_channel_token_by_jwt("client_credentials", ASSERTION_TYPE, channel.assertion(key, 900))
        assert issued.expires_in == 900
        assert oauth.verify_channel_token_by_jwt(issued.access_token).client_id == channel.channel_id
        assert oauth.gets_all_valid_channel_access_token_key_ids(ASSERTION_TYPE, channel.assertion()).kids \
            == [issued.key_id]
        with MessagingClient(MessagingConfiguration(host=line_sandbox.base_url,
                                                    access_token=issued.access_token)) as bot_api:
            assert MessagingApi(bot_api).get_bot_info().display_name == "my bot"
        oauth.revoke_channel_token_by_jwt(channel.channel_id, channel.channel_secret, issued.access_token)
        with pytest.raises(ApiException) as refused:
            oauth.verify_channel_token_by_jwt(issued.access_token)
        assert refused.value.status == 400 and "revoked" in refused.value.body
        # LINE's refusals are there to test too: an assertion with a wrong audience.
        with pytest.raises(ApiException) as bad:
            oauth.issue_channel_token_by_jwt("client_credentials", ASSERTION_TYPE,
                                             channel.assertion(aud="https://example.com/"))
        assert bad.value.status == 400 and "Invalid aud" in bad.value.body


def test_issue_token_and_reset(line_sandbox):
    channel = line_sandbox.create_channel(keys=1)
    token = channel.issue_token(token_exp=60)
    assert token["expires_in"] == 60 and token["token_type"] == "Bearer"
    assert requests.get(line_sandbox.base_url + "/oauth2/v2.1/verify", params={"access_token": token["access_token"]},
                        timeout=10).ok
    line_sandbox.reset()
    assert requests.get(f"{line_sandbox.base_url}/api/channels/{channel.channel_id}", auth=channel.auth,
                        timeout=10).status_code in (401, 404)
    # gone with the reset: the sandbox answers an unknown channel as a wrong secret (issue 23 item 9)
    with pytest.raises(requests.HTTPError, match="HTTP 401"):
        channel.add_key()


INNER_SUITE = '''
import requests

SEEN = []


def test_one(line_sandbox):
    SEEN.append(line_sandbox.base_url)
    line_sandbox.import_channels({"channel_id": "1234567890", "name": "fixed"})


def test_two(line_sandbox):
    SEEN.append(line_sandbox.base_url)
    line_sandbox.import_channels({"channel_id": "1234567890", "name": "fixed"})  # 409 unless reset between tests


def test_three(line_sandbox):
    SEEN.append(line_sandbox.base_url)
    assert len(set(SEEN)) == 1  # one server for the session
    assert line_sandbox.create_channel().channel_id
'''


def test_each_test_starts_empty_on_one_server_per_session(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest('pytest_plugins = ["line_token.sandbox.pytest_plugin"]\n')
    pytester.makepyfile(test_bot=INNER_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=3)
    reversed_order = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider",
                                                   "test_bot.py::test_three", "test_bot.py::test_two",
                                                   "test_bot.py::test_one", timeout=300)
    reversed_order.assert_outcomes(passed=3)

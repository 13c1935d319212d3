"""The request a result page shows, as code to take home: Python (line-bot-sdk v3),
Node (@line/bot-sdk) and a ``.env`` line for the token LINE gave.

Each snippet runs as is (secrets included) or is shown with its secrets masked
(first and last 4 characters, as the curl command). The base URL is LINE's, or
this server's sandbox when the sandbox answered, so the snippet calls the same
place the page did. Nothing here is stored: the page renders both versions and
the "include secrets" box picks one in the browser.
"""
from __future__ import annotations

import json
from typing import Any

from .display import SECRET_FIELDS, mask
from .line_client import ENDPOINTS

# endpoint → (line-bot-sdk v3 method, @line/bot-sdk method, its arguments in order (our field names)).
METHODS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "issue_v21": ("issue_channel_token_by_jwt", "issueChannelTokenByJWT",
                  ("grant_type", "client_assertion_type", "client_assertion")),
    "kids_v21": ("gets_all_valid_channel_access_token_key_ids", "getsAllValidChannelAccessTokenKeyIds",
                 ("client_assertion_type", "client_assertion")),
    "verify_v21": ("verify_channel_token_by_jwt", "verifyChannelTokenByJWT", ("access_token",)),
    "revoke_v21": ("revoke_channel_token_by_jwt", "revokeChannelTokenByJWT",
                   ("client_id", "client_secret", "access_token")),
    "issue_stateless": ("issue_stateless_channel_token", "issueStatelessChannelToken",
                        ("grant_type", "client_assertion_type", "client_assertion", "client_id", "client_secret")),
    "issue_v2": ("issue_channel_token", "issueChannelToken", ("grant_type", "client_id", "client_secret")),
    "verify_v2": ("verify_channel_token", "verifyChannelToken", ("access_token",)),
    "revoke_v2": ("revoke_channel_token", "revokeChannelToken", ("access_token",)),
}
LINE_BASE = "https://api.line.me"


def _value(fields: dict[str, str], name: str, secrets: bool) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if name in SECRET_FIELDS and not secrets:
        return mask(value).replace("…", "...")
    return value


def _base_url(endpoint: str, url: str) -> str:
    path = ENDPOINTS[endpoint][1]
    return url[: -len(path)] if url.endswith(path) else url


def python(endpoint: str, url: str, fields: dict[str, str], secrets: bool) -> str:
    py_method, _, names = METHODS[endpoint]
    base = _base_url(endpoint, url)
    args = [(n, _value(fields, n, secrets)) for n in names]
    lines = [
        '# pip install "line-bot-sdk>=3,<4"',
        "from linebot.v3.oauth import ApiClient, ChannelAccessToken, Configuration",
        "",
        "with ApiClient(Configuration()) as api_client:",
        "    api = ChannelAccessToken(api_client)",
    ]
    if base != LINE_BASE:
        lines.append(f"    api.line_base_path = {json.dumps(base)}  # this app's sandbox, not LINE")
    call = ", ".join(f"{n}={json.dumps(v)}" for n, v in args if v is not None)
    if endpoint in ("revoke_v21", "revoke_v2"):
        lines += [f"    api.{py_method}({call})", '    print("revoked (LINE answers the same for an unknown token)")']
    else:
        lines += [f"    response = api.{py_method}({call})", "    print(response.to_json())"]
    return "\n".join(lines) + "\n"


def node(endpoint: str, url: str, fields: dict[str, str], secrets: bool) -> str:
    _, js_method, names = METHODS[endpoint]
    base = _base_url(endpoint, url)
    args = [_value(fields, n, secrets) for n in names]
    while args and args[-1] is None:
        args.pop()
    options = f"{{ baseURL: {json.dumps(base)} }}" if base != LINE_BASE else ""
    call = ", ".join("undefined" if v is None else json.dumps(v) for v in args)
    return "\n".join([
        "// npm install @line/bot-sdk",
        'const { channelAccessToken } = require("@line/bot-sdk");',
        "",
        f"const client = new channelAccessToken.ChannelAccessTokenClient({options});",
        f"client.{js_method}({call})",
        "  .then((response) => console.log(JSON.stringify(response ?? {})))",
        "  .catch((error) => { console.error(error.body ?? error.message); process.exitCode = 1; });",
    ]) + "\n"


def env_quote(value: str) -> str | None:
    """``value`` single-quoted for a POSIX shell's ``.`` and for dotenv readers; None if it can't be a line.

    Inside single quotes a shell expands nothing (``$(…)``, backticks, ``$VAR`` stay text); a quote is
    written ``'\\''``. A line break or other control character would end the line or hide text, and no
    token holds one: such a value gets no ``.env`` line at all.
    """
    if any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 for c in value):
        return None
    return "'" + value.replace("'", "'\\''") + "'"


def env_line(body: Any, secrets: bool) -> str | None:
    """``LINE_CHANNEL_ACCESS_TOKEN='…'`` for the token in LINE's answer (quoted: the answer is not ours)."""
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        return None
    quoted = env_quote(token if secrets else mask(token).replace("…", "..."))
    return None if quoted is None or env_quote(token) is None else f"LINE_CHANNEL_ACCESS_TOKEN={quoted}\n"


def for_request(endpoint: str, url: str, fields: dict[str, str], body: Any) -> dict | None:
    """{"python": (masked, full), "node": (masked, full), "env": (masked, full) or None}; None if unknown."""
    if endpoint not in METHODS:
        return None
    env = (env_line(body, False), env_line(body, True)) if env_line(body, True) else None
    return {"python": (python(endpoint, url, fields, False), python(endpoint, url, fields, True)),
            "node": (node(endpoint, url, fields, False), node(endpoint, url, fields, True)),
            "env": env}

"""The request a result page shows, as code to take home: curl, Python (line-bot-sdk v3),
Node (@line/bot-sdk, an ES module: save it as ``.mjs``) and a ``.env`` line for the token LINE gave.

Each snippet comes two ways, and each runs as copied:

* by default (shown first) it holds no secret and reads them from the environment:
  the channel secret from ``LINE_CHANNEL_SECRET``, a token from ``LINE_CHANNEL_ACCESS_TOKEN``, and
  a JWT assertion is signed afresh from the key file ``LINE_PRIVATE_KEY_FILE`` names (with the sent
  JWT's channel, kid and token_exp, which are not secret; curl signs with ``line-token jwt``);
  :func:`env_note` is the one line the page shows above it;
* with "include secrets", the values as sent.

The base URL is LINE's, or this server's sandbox when the sandbox answered, so the snippet calls the
same place the page did. Nothing here is stored: the page renders both versions and the box picks one
in the browser. Every kind of every result is run against the sandbox by tests/test_snippets.py.
"""
from __future__ import annotations

import json
import shlex
from typing import Any

from .display import SECRET_FIELDS, curl_command, mask
from .endpoints import ENDPOINTS, REGISTRY, TOKEN_ENDPOINTS
from .signing import N_, LINE_AUDIENCE, InputError, decode_unverified

# endpoint → (line-bot-sdk v3 method, @line/bot-sdk method, its arguments in order (our field names)):
# the registry's token endpoints (the Messaging API's calls are step 6's, web/trying.py).
METHODS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    e.name: (e.python_method, e.node_method, e.field_names) for e in REGISTRY if e.name in TOKEN_ENDPOINTS}
LINE_BASE = "https://api.line.me"

ENV_SECRET = "LINE_CHANNEL_SECRET"
ENV_TOKEN = "LINE_CHANNEL_ACCESS_TOKEN"
ENV_KEY_FILE = "LINE_PRIVATE_KEY_FILE"
ENV_ASSERTION = "LINE_CLIENT_ASSERTION"  # only when the sent JWT could not be read to sign a fresh one
ENV_FOR = {"client_secret": ENV_SECRET, "access_token": ENV_TOKEN}
ASSERTION_SECONDS = 30 * 60  # a fresh JWT's exp: LINE's longest


def _claims(fields: dict[str, str]) -> dict[str, Any] | None:
    """What a fresh assertion needs from the sent one (none of it secret): kid, iss, sub, aud, token_exp."""
    try:
        header, payload = decode_unverified(fields.get("client_assertion") or "")
    except InputError:
        return None
    kid, token_exp = header.get("kid"), payload.get("token_exp")
    claims = {"kid": kid, "iss": payload.get("iss"), "sub": payload.get("sub"),
              "aud": payload.get("aud", LINE_AUDIENCE), "token_exp": token_exp}
    if not all(isinstance(v, str) and 0 < len(v) <= 200 for v in (kid, claims["iss"], claims["sub"], claims["aud"])):
        return None
    if isinstance(token_exp, bool) or not isinstance(token_exp, int) or not 0 < token_exp <= 10**9:
        return None
    return claims


def env_names(fields: dict[str, str], bearer: bool = False) -> list[str]:
    """The environment variables the default (secret-free) snippets read, in a stable order."""
    names = []
    if fields.get("client_assertion"):
        names.append(ENV_KEY_FILE if _claims(fields) else ENV_ASSERTION)
    if fields.get("client_secret"):
        names.append(ENV_SECRET)
    if fields.get("access_token") or bearer:
        names.append(ENV_TOKEN)
    return names


def env_note(names: list[str]) -> tuple[str, dict[str, str]] | None:
    """(N_ template, params) for the one line above the default snippets; None when they read nothing."""
    if not names:
        return None
    shown = ", ".join(names)
    if ENV_KEY_FILE in names:
        return (N_("Set %(names)s in your environment and the code below runs as copied (LINE_PRIVATE_KEY_FILE is "
                   "the path of your private key file; the curl command signs a fresh JWT with line-token jwt)."),
                {"names": shown})
    return N_("Set %(names)s in your environment and the code below runs as copied."), {"names": shown}


def _base_url(endpoint: str, url: str) -> str:
    path = ENDPOINTS[endpoint].path
    return url[: -len(path)] if url.endswith(path) else url


# --------------------------------------------------------------------------- curl


def curl(endpoint: str, url: str, fields: dict[str, str], secrets: bool) -> str:
    """The request as a curl command: the values as sent, or (default) the secrets from the environment."""
    method = ENDPOINTS[endpoint].method
    if secrets:
        return curl_command(method, url, fields, include_secrets=True)
    lines = [f"curl -sS {'-G' if method == 'GET' else '-X ' + method} {shlex.quote(url)}"]
    for name, value in fields.items():
        if name == "client_assertion" and value:
            claims = _claims(fields)
            if claims is None:
                lines.append(f'--data-urlencode "client_assertion=${ENV_ASSERTION}"')
                continue
            sign = ["line-token", "jwt", "--channel-id", claims["iss"], "--kid", claims["kid"],
                    "--token-exp", str(claims["token_exp"])]
            lines.append(f'--data-urlencode "client_assertion=$({shlex.join(sign)})"')
        elif name in ENV_FOR and value:
            lines.append(f'--data-urlencode "{name}=${ENV_FOR[name]}"')
        else:
            lines.append(f"--data-urlencode {shlex.quote(f'{name}={value}')}")
    return " \\\n  ".join(lines)


# --------------------------------------------------------------------------- Python


def _python_assertion(claims: dict[str, Any]) -> list[str]:
    payload = (f'{{"iss": {json.dumps(claims["iss"])}, "sub": {json.dumps(claims["sub"])}, '
               f'"aud": {json.dumps(claims["aud"])}, "exp": now + {ASSERTION_SECONDS}, '
               f'"token_exp": {claims["token_exp"]}}}')
    return [
        "",
        "",
        "def client_assertion():",
        f'    """A fresh JWT assertion, signed with the private key file {ENV_KEY_FILE} names (JWK or PEM)."""',
        f'    with open(os.environ["{ENV_KEY_FILE}"]) as f:',
        "        text = f.read()",
        '    if text.lstrip().startswith("-----BEGIN"):',
        "        key = text",
        "    else:",
        "        jwk = json.loads(text)",
        '        key = RSAAlgorithm.from_jwk(jwk.get("privateKey", jwk))  # the 2020 console wraps it',
        "    now = int(time.time())",
        f"    return jwt.encode({payload},",
        f'                      key, algorithm="RS256", headers={{"kid": {json.dumps(claims["kid"])}}})',
        "",
    ]


def _arg(fields: dict[str, str], name: str, secrets: bool, claims: dict[str, Any] | None, lang: str) -> str | None:
    """A call's argument as ``lang`` ("python" or "node") code: the value as sent, or (default) where the
    environment holds the secret."""
    value = fields.get(name) or None
    if value is None:
        return None
    if secrets or name not in SECRET_FIELDS:
        return json.dumps(value)
    if name == "client_assertion" and claims:
        return "client_assertion()" if lang == "python" else "clientAssertion()"
    variable = ENV_ASSERTION if name == "client_assertion" else ENV_FOR[name]
    return f'os.environ["{variable}"]' if lang == "python" else f"process.env.{variable}"


def python(endpoint: str, url: str, fields: dict[str, str], secrets: bool) -> str:
    py_method, _, names = METHODS[endpoint]
    base = _base_url(endpoint, url)
    claims = None if secrets or not fields.get("client_assertion") else _claims(fields)
    reads_env = not secrets and any(fields.get(n) for n in names if n in SECRET_FIELDS)
    lines = ['# pip install "line-bot-sdk>=3,<4"' + (' "pyjwt[crypto]"' if claims else "")]
    if claims:
        lines.append("import json")
    if reads_env:
        lines.append("import os")
    if claims:
        lines += ["import time", "", "import jwt", "from jwt.algorithms import RSAAlgorithm"]
    lines.append("from linebot.v3.oauth import ApiClient, ChannelAccessToken, Configuration")
    if claims:
        lines += _python_assertion(claims)
    lines += [
        "",
        "with ApiClient(Configuration()) as api_client:",
        "    api = ChannelAccessToken(api_client)",
    ]
    if base != LINE_BASE:
        lines.append(f"    api.line_base_path = {json.dumps(base)}  # this app's sandbox, not LINE")
    args = [(n, _arg(fields, n, secrets, claims, "python")) for n in names]
    call = ", ".join(f"{n}={v}" for n, v in args if v is not None)
    if not ENDPOINTS[endpoint].answer:  # the revokes: an empty body
        lines += [f"    api.{py_method}({call})", '    print("revoked (LINE answers the same for an unknown token)")']
    else:
        lines += [f"    response = api.{py_method}({call})", "    print(response.to_json())"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- Node (an ES module)


def _node_assertion(claims: dict[str, Any]) -> list[str]:
    header = f'{{ alg: "RS256", typ: "JWT", kid: {json.dumps(claims["kid"])} }}'
    payload = (f'{{ iss: {json.dumps(claims["iss"])}, sub: {json.dumps(claims["sub"])}, '
               f'aud: {json.dumps(claims["aud"])}, exp: now + {ASSERTION_SECONDS}, '
               f'token_exp: {claims["token_exp"]} }}')
    return [
        "",
        f"// A fresh JWT assertion, signed with the private key file {ENV_KEY_FILE} names (JWK or PEM).",
        "function clientAssertion() {",
        f"  const text = readFileSync(process.env.{ENV_KEY_FILE}, \"utf8\");",
        '  const key = text.trimStart().startsWith("-----BEGIN") ? createPrivateKey(text)',
        "    : createPrivateKey({ key: ((jwk) => jwk.privateKey ?? jwk)(JSON.parse(text)), format: \"jwk\" });",
        '  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");',
        "  const now = Math.floor(Date.now() / 1000);",
        f"  const unsigned = part({header}) + \".\" +",
        f"    part({payload});",
        '  return unsigned + "." + sign("sha256", Buffer.from(unsigned), key).toString("base64url");',
        "}",
    ]


def node(endpoint: str, url: str, fields: dict[str, str], secrets: bool) -> str:
    _, js_method, names = METHODS[endpoint]
    base = _base_url(endpoint, url)
    claims = None if secrets or not fields.get("client_assertion") else _claims(fields)
    args = [_arg(fields, n, secrets, claims, "node") for n in names]
    while args and args[-1] is None:
        args.pop()
    options = f"{{ baseURL: {json.dumps(base)} }}" if base != LINE_BASE else ""
    call = ", ".join("undefined" if v is None else v for v in args)
    lines = ["// npm install @line/bot-sdk; save as an ES module (e.g. line.mjs) and run: node line.mjs"]
    if claims:
        lines += ['import { createPrivateKey, sign } from "node:crypto";', 'import { readFileSync } from "node:fs";']
    lines.append('import { channelAccessToken } from "@line/bot-sdk";')
    if claims:
        lines += _node_assertion(claims)
    return "\n".join(lines + [
        "",
        f"const client = new channelAccessToken.ChannelAccessTokenClient({options});",
        "try {",
        f"  const response = await client.{js_method}({call});",
        "  console.log(JSON.stringify(response ?? {}));",
        "} catch (error) {",
        "  console.error(error.body ?? error.message);",
        "  process.exitCode = 1;",
        "}",
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
    """{"curl" | "python" | "node": (default, with secrets), "env": (masked, full) or None, "note": env_note};
    None if the endpoint is unknown."""
    if endpoint not in METHODS:
        return None
    env = (env_line(body, False), env_line(body, True)) if env_line(body, True) else None
    return {"curl": (curl(endpoint, url, fields, False), curl(endpoint, url, fields, True)),
            "python": (python(endpoint, url, fields, False), python(endpoint, url, fields, True)),
            "node": (node(endpoint, url, fields, False), node(endpoint, url, fields, True)),
            "env": env, "note": env_note(env_names(fields))}

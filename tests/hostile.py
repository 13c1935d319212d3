"""Hostile inputs from issue 11: each once cost seconds to hours of CPU or hundreds of MB per request.

Shared by tests/test_fuzz.py (through the test client) and tests/test_budget.py (against the
Procfile server, measuring the worker's CPU time and memory).
"""
from __future__ import annotations

import json

from line_token.core import signing

# m such that n = m * 2**1900 + 1 is a 2048-bit prime (found by a Miller-Rabin search; the test
# checks Fermat's little theorem for base 2). With e = 3 and d = 3^-1 mod (n - 1) the key passes
# every cheap check, and recovering "p and q" from it loops forever: n has no factors.
CRAFTED_M = 178405961588244985132285746181186892047844281
BIG_MEMBER_CHARS = 380 * 1024  # "p" and "q" of 380 KiB each: multiplied before any size check (~1 s) before the fix
BODY_LIMIT = 1024 * 1024  # the app's MAX_CONTENT_LENGTH


def crafted_prime_n() -> int:
    return CRAFTED_M * 2 ** 1900 + 1


def crafted_prime_key() -> dict:
    """784 bytes that pinned a worker for hours: a private JWK without p and q whose n is prime."""
    n = crafted_prime_n()
    return {"kty": "RSA", "n": signing._int_b64u(n), "e": "Aw", "d": signing._int_b64u(pow(3, -1, n - 1))}


def huge_primes_key(console_key: dict) -> dict:
    """The console's key with p and q replaced by 380 KiB numbers."""
    return {**console_key, "p": "_" * (BIG_MEMBER_CHARS - 1) + "w", "q": "_" * (BIG_MEMBER_CHARS - 1) + "x"}


def python_literal(size: int) -> str:
    """``[1,1,1,...]`` of ``size`` characters: ast.literal_eval took 5 s and +480 MiB on 1 MiB."""
    items = (size - 2) // 2
    return "[" + "1," * (items - 1) + "1]"


def nested(depth: int = 100000) -> str:
    """``[[[[...``: a RecursionError in the JSON parser, a 500 with a traceback before the fix."""
    return "[" * depth


def many_objects_body() -> bytes:
    """``[{},{},...]`` filling the body limit: ~25 MB once parsed."""
    count = (BODY_LIMIT - 2) // 3
    return ("[" + "{}," * (count - 1) + "{}]").encode()


def many_fields_form() -> bytes:
    """A 1 MiB urlencoded body of 349k fields, parsed before the CSRF check (~250 ms) before the fix."""
    return b"a=&" * ((BODY_LIMIT - 1) // 3)


def json_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def hostile_keys(console_key: dict) -> dict[str, object]:
    """The private_key values, by name: JWK objects and text."""
    return {
        "crafted prime n, no p/q": crafted_prime_key(),
        "p and q of 380 KiB": huge_primes_key(console_key),
        "python literal of ~1 MiB": python_literal(BODY_LIMIT - 200),
        "nested [ x 100000 as text": nested(),
    }


def nested_jwt(depth: int = 955) -> str:
    """A 2.6 KB JWT whose payload nests ``depth`` levels: a RecursionError while rendering (a 500) before the fix."""
    import base64

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b'{"alg":"RS256","typ":"JWT","kid":"k"}'
    payload = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    return f"{b64(header)}.{b64(payload)}.c2ln"


def upstream_answers() -> dict[str, bytes]:
    """What a hostile "LINE" answers, by the token sent: nesting that overflows the parser, and 1 MiB of
    ``[{},{},...]`` (300 ms of CPU and 35 MB for the page before the fix)."""
    return {"nested" + "x" * 40: b"[" * 100_000,
            "objects" + "x" * 40: b"[" + b"{}," * ((BODY_LIMIT - 64) // 3) + b"{}]"}


# --------------------------------------------------------------------------- a hostile "LINE" for the command line

# What a terminal acts on: set the window title (OSC), clear the screen, colour, a carriage return that
# overwrites the line, an 8-bit CSI, a bell and a full reset (ESC c).
TERMINAL_ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m\rover\x9b1;1H\x07\x1bc"


class HostileServer:
    """A server on a free loopback port that answers every request with ``answers[path]`` (status, content type,
    body) or a 404: a fake LINE (or sandbox) whose answers carry terminal escapes. A thread of the test process."""

    def __init__(self, answers: dict[str, tuple[int, str, bytes]]):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                return None

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, content_type, body = answers.get(self.path.split("?", 1)[0], (404, "text/plain", b"none"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

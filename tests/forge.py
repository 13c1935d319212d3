"""Tokens a careless or hostile client sends: an RS256 signature under any header.

The app's signer (signing.sign, jwcrypto) makes only headers LINE accepts, so the tests that
check how the sandbox refuses "alg": "none", "HS256" or a missing "typ" make their tokens here,
with cryptography's own RS256 primitive and base64url.
"""
from __future__ import annotations

import json

from rs256 import b64u_encode, sign_rs256


def forge(header: dict, payload: dict, key) -> str:
    """``header`` and ``payload`` signed with RS256 by ``key`` (a signing.PrivateKey), whatever the header says."""
    def part(obj) -> str:
        return b64u_encode(json.dumps(obj, separators=(",", ":")).encode())

    signing_input = part(header) + "." + part(payload)
    return signing_input + "." + b64u_encode(sign_rs256(signing_input.encode(), key.key))

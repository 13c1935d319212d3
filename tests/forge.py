"""Tokens a careless or hostile client sends: an RS256 signature under any header.

The app's signer (signing.sign, PyJWT) makes only headers LINE accepts, so the tests that
check how the sandbox refuses "alg": "none", "HS256" or a missing "typ" make their tokens here,
with PyJWT's own RS256 primitive and base64url.
"""
from __future__ import annotations

import json

from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_encode


def forge(header: dict, payload: dict, key) -> str:
    """``header`` and ``payload`` signed with RS256 by ``key`` (a signing.PrivateKey), whatever the header says."""
    def part(obj) -> str:
        return base64url_encode(json.dumps(obj, separators=(",", ":")).encode()).decode()

    signing_input = part(header) + "." + part(payload)
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), key.key)
    return signing_input + "." + base64url_encode(signature).decode()

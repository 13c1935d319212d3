"""Keys and JWT assertions for LINE's channel access token v2.1.

Every page, the JSON API, the CLI and the sandbox use this module; it has no
Flask imports. All bad input raises :class:`InputError`, which names the
field at fault and the fix.

Loading speed: OpenSSL's full RSA key validation (primality checks) costs tens
of milliseconds per load, a hundred times the signature itself. We skip only
that check and run cheap consistency checks of our own instead (n == p*q,
e*d == 1 mod lambda(n), CRT values), so a wrong or tampered key still gets a
clear error and never produces a bad JWT.
"""
from __future__ import annotations

import ast
import base64
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# LINE's assertion and token rules and their bounds live in the rules table (rules.py); the names below stay
# importable from here for the callers that read them from the signer.
from .rules import (DEFAULT_TOKEN_EXP, LINE_AUDIENCE, MAX_ASSERTION_LIFETIME,  # noqa: F401
                    MAX_EXP_MINUTES, MAX_TOKEN_EXP, MIN_TOKEN_EXP, RULES, TOKEN_EXP_UNITS, first_breach, is_channel_id)
from .rules import whole_number as _whole_number
from .text import N_, Duration  # noqa: F401  (re-exported: the marker and durations every layer takes from here)

# jwcrypto (every JOSE operation: sign, verify, decode) and cryptography are imported where they are used,
# on the first key or JWT: jwcrypto's package imports cryptography's X.509 and key modules, tens of ms that
# every worker's start-up and every CLI command would pay (docs/BENCHMARKS.md, `import app`).
if TYPE_CHECKING:  # the annotations only
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwcrypto.jwk import JWK

KEY_BITS = 2048
MAX_EXPONENT_BITS = 32  # e is 65537 in practice; a huge e only makes work (OpenSSL caps it too)

# The cost budget (~100 ms CPU, ~20 MB per request): sizes are checked before any parsing or arithmetic.
MAX_KEY_TEXT = 64 * 1024  # a 2048-bit JWK or PEM is under 4 KiB; a pasted key file is at most 64 KiB
MAX_JSON_TEXT = 64 * 1024  # a JSON field (key, header, payload) pasted into a form or sent as a string
MAX_JSON_CONTAINERS = 256  # "[" and "{" in one JSON text: a JWK set holds 3; also bounds the nesting depth
MAX_JSON_SEPARATORS = 4096  # "," and ":" in one JSON text: a private JWK has 20
MAX_LITERAL_TEXT = 8 * 1024  # a Python dict literal of a 2048-bit JWK (the 2020 tutorial) is under 3 KiB
MAX_LITERAL_NODES = 512  # syntax-tree nodes in that literal: such a dict has about 40
MAX_MEMBER_CHARS = 4096  # base64url characters in one JWK member: 2048 bits are 342; bigger keys are told their size
MAX_MEMBER_BITS = 2 * KEY_BITS  # d, p, q, dp, dq, qi of a 2048-bit key are at most 2048 bits
RSA_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


# Messages the browser-side signer shows too (static/jwt.js), so both paths say the same.
MESSAGES = {
    "empty_key": N_("The private key is empty: paste the private key JSON (JWK) or PEM."),
    "kty": N_("The key type (kty) is %(kty)s; LINE needs an RSA key (kty \"RSA\", 2048 bits). Make a new key pair on the keys page."),
    "public_only": N_("This is a public key (no \"d\"): sign with the private key you kept, not the public key you registered."),
    "bits": N_("The key is %(bits)d bits; LINE needs exactly 2048 bits. Make a new key pair on the keys page."),
    "kid_missing": RULES["kid"].refusals["missing"],
    "not_object": N_("The private key must be a JSON object (a JWK) or a PEM block."),
    "encrypted": N_("The PEM key is encrypted: decrypt it first (openssl pkey -in key.pem -out plain.pem)."),
    "pem_unreadable": N_("The PEM private key could not be read: paste the whole block, from -----BEGIN to -----END."),
    "no_primes": N_("The key lacks \"p\" and \"q\" (its two primes): use the complete private JWK as the LINE Developers Console or the keys page gave it, or make a new key pair on the keys page."),
    # The guided fields (assertion_from_fields).
    "channel_id": N_("The channel ID must be the channel's numeric ID, e.g. 1234567890 (see Basic settings in the LINE Developers Console)."),
    "token_exp_range": N_("The token lifetime is %(value)s seconds; LINE allows 1 second to 30 days (2,592,000 seconds)."),
    "exp_minutes": N_("The JWT lifetime is %(value)s minutes; LINE allows 1 to 30 minutes."),
    "damaged": N_("The key's numbers do not belong together (n, e, d, p, q): the key is damaged or was edited. Copy it again or make a new one."),
}


class InputError(ValueError):
    """Bad input, app-wide (keys, JWTs, form and JSON fields, channel names, targets).

    ``field`` names the input, the message the fix.

    ``template`` and ``params`` let the web layer translate the message.
    """

    def __init__(self, field_name: str, template: str, code: str = "invalid_request", **params: Any):
        self.field = field_name
        self.template = template
        self.params = params
        self.code = code
        super().__init__(template % params if params else template)

    @property
    def message(self) -> str:
        return str(self)


SigningError = InputError  # the old name, kept for callers not yet renamed


@dataclass
class PrivateKey:
    """A loaded RSA private key, ready to sign, plus the kid it carried (if any).

    ``key`` is the cryptography key (numbers, public key); ``jwk`` the same key as the jwcrypto JWK that
    signs. The loaders build the JWK first from the checked numbers and take ``key`` from it, so the key
    is built once; a PrivateKey made from a bare ``key`` builds its JWK on first use.
    """

    key: rsa.RSAPrivateKey
    kid: str | None = None
    _jwk: JWK | None = field(default=None, repr=False, compare=False)

    @property
    def jwk(self) -> JWK:
        if self._jwk is None:
            nums = self.key.private_numbers()
            self._jwk = _jwk_from_numbers(nums.public_numbers.n, nums.public_numbers.e, nums.d, nums.p, nums.q,
                                          nums.dmp1, nums.dmq1, nums.iqmp)
        return self._jwk


# --------------------------------------------------------------------------- parsing


NOT_JSON = N_("%(field)s is not valid JSON (line %(line)s, column %(column)s). Paste the JSON object exactly as it was given, with double quotes.")
NOT_JSON_DEEP = N_("%(field)s is not valid JSON: it is nested too deeply. Paste the JSON object exactly as it was given.")
TOO_MANY_BRACKETS = N_("%(field)s holds %(count)s brackets; no key, header or payload needs more than %(limit)s: paste only the JSON asked for.")
TOO_MANY_VALUES = N_("%(field)s holds %(count)s values; no key, header or payload needs more than %(limit)s: paste only the JSON asked for.")


_JSON_STRING = {str: re.compile(r'"(?:[^"\\]++|\\.)*+"'), bytes: re.compile(rb'"(?:[^"\\]++|\\.)*+"')}
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
MAX_JSON_DEPTH = 32  # how deep JSON shown on a page may nest: LINE's answers and JWTs nest 1 to 3 levels


def _json_structure(text: str | bytes) -> tuple[int, int]:
    """(brackets, separators) in JSON text: "[" and "{", "," and ":"."""
    if isinstance(text, str):
        return text.count("[") + text.count("{"), text.count(",") + text.count(":")
    return text.count(b"[") + text.count(b"{"), text.count(b",") + text.count(b":")


def check_json_shape(text: str | bytes, field_name: str) -> None:
    """Refuse JSON text with more brackets or separators than any input of ours has, before parsing it.

    Counting is a few linear scans (about 1 ms per MiB); parsing ``[{},{},...]`` of 1 MiB would
    allocate ~25 MB, and ``[[[[...`` overflows the parser's recursion.
    """
    brackets, separators = _json_structure(text)
    quotes = text.count(b'"' if isinstance(text, bytes) else '"')
    if (brackets > MAX_JSON_CONTAINERS or separators > MAX_JSON_SEPARATORS) and quotes <= 2 * MAX_JSON_SEPARATORS:
        # Brackets and commas inside strings (a key pasted as text) don't count: strip the few strings
        # (one linear pass of a possessive regex, no backtracking state: ~5 ms and no memory per MiB)
        # and count again, so the field that holds them is the one named.
        stripped = _JSON_STRING[type(text)].sub(b'""' if isinstance(text, bytes) else '""', text)
        brackets, separators = _json_structure(stripped)
    if brackets > MAX_JSON_CONTAINERS:
        raise InputError(field_name, TOO_MANY_BRACKETS, field=field_name, count=f"{brackets:,}",
                           limit=f"{MAX_JSON_CONTAINERS:,}")
    if separators > MAX_JSON_SEPARATORS:  # "," and ":": one per value, about
        raise InputError(field_name, TOO_MANY_VALUES, field=field_name, count=f"{separators:,}",
                           limit=f"{MAX_JSON_SEPARATORS:,}")


def json_depth(text: str | bytes) -> int:
    """How deeply ``text``'s brackets nest, brackets inside strings aside (the JSON need not be valid).

    Linear: one regex pass strips the strings, one drops all but brackets; the loop then runs over
    brackets only, so call it after counting them (:func:`check_json_shape`) on big texts.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    brackets = _NOT_BRACKET.sub("", _JSON_STRING[str].sub('""', text))
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def parse_json_value(value: Any, field_name: str, *, allow_python: bool = True) -> Any:
    """Parse JSON text (or, for the 2020 tutorial's readers, a Python dict literal).

    Objects pass through. Text over MAX_JSON_TEXT or with more structure than any
    of our inputs is refused before it is parsed; the literal fallback is bounded
    too (see :func:`_python_literal`).
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        raise InputError(field_name, N_("%(field)s is empty: paste the JSON here."), field=field_name)
    if len(text) > MAX_JSON_TEXT:
        raise InputError(field_name, N_("%(field)s is longer than %(limit)s: paste only the JSON asked for."),
                           field=field_name, limit="64 KiB")
    check_json_shape(text, field_name)
    try:
        return json.loads(text)
    except RecursionError:  # bounded by MAX_JSON_CONTAINERS; kept so a lower recursion limit can't give a 500
        raise InputError(field_name, NOT_JSON_DEEP, field=field_name) from None
    except ValueError as json_error:
        if allow_python:
            literal = _python_literal(text)
            if literal is not None:
                return literal
        raise InputError(field_name, NOT_JSON, field=field_name, line=json_error.lineno,
                         column=json_error.colno) from None


def _python_literal(text: str) -> Any:
    """A Python dict/list literal as JSON would have said it, or None.

    Bounded before evaluating: at most MAX_LITERAL_TEXT characters, parsed with
    ``ast.parse`` (the parser refuses nesting over 200) and at most
    MAX_LITERAL_NODES syntax nodes, so it allocates well under a few MB.
    ``ast.literal_eval`` only ever builds literals; it never runs code.
    """
    if len(text) > MAX_LITERAL_TEXT:
        return None
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    for count, _ in enumerate(ast.walk(tree), 1):
        if count > MAX_LITERAL_NODES:
            return None
    try:
        # Only what JSON could have said: a set, bytes or complex number is refused here.
        return json.loads(json.dumps(ast.literal_eval(tree), allow_nan=False))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _b64u_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64u_int(value: Any, field_name: str, member: str) -> int:
    if not isinstance(value, str) or not value:
        raise InputError(field_name, N_("The key's \"%(member)s\" value is missing or not a string: use the complete JWK as LINE or this tool gave it."), member=member)
    if len(value) > MAX_MEMBER_CHARS:  # checked before decoding: no key of any usable size is this long
        raise InputError(field_name, N_("The key's \"%(member)s\" value is far too long for a 2048-bit key: the key is damaged or was edited. Copy it again or make a new one."), member=member)
    try:
        raw = _b64u_decode(value)
    except (ValueError, TypeError):
        raise InputError(field_name, N_("The key's \"%(member)s\" value is not base64url: the key was damaged when it was copied. Copy it again."), member=member) from None
    return int.from_bytes(raw, "big")


def _int_b64u(value: int) -> str:
    return _b64u_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


# --------------------------------------------------------------------------- keys


def load_private_key(source: Any, field_name: str = "private_key") -> PrivateKey:
    """Load an RSA private key from a JWK (dict or JSON text), LINE's 2020 console
    wrapper ``{"privateKey": {...}}``, or PEM (PKCS#1 or PKCS#8).

    Raises InputError naming ``field_name`` if the key is unusable for LINE.
    """
    if isinstance(source, bytes):
        source = source.decode("utf-8", "replace")
    if isinstance(source, str) and len(source) > MAX_KEY_TEXT:
        raise InputError(field_name, N_("The private key is longer than %(limit)s: paste only the private key JSON (JWK) or PEM."),
                           limit="64 KiB")
    if isinstance(source, str) and "-----BEGIN" in source:
        return _load_pem(source, field_name)
    if isinstance(source, str) and not source.strip():
        raise InputError(field_name, MESSAGES["empty_key"])
    data = parse_json_value(source, field_name)
    if isinstance(data, dict) and "privateKey" in data and "kty" not in data:
        data = parse_json_value(data["privateKey"], field_name)
    if isinstance(data, dict) and isinstance(data.get("keys"), list) and len(data["keys"]) == 1:
        data = data["keys"][0]  # a JWK Set holding one key
    if not isinstance(data, dict):
        raise InputError(field_name, MESSAGES["not_object"])
    return _load_jwk(data, field_name)


def _load_jwk(data: dict, field_name: str) -> PrivateKey:
    kty = data.get("kty")
    if kty != "RSA":
        raise InputError(field_name, MESSAGES["kty"], kty=json.dumps(kty))
    alg = data.get("alg")
    if alg not in (None, "RS256"):
        raise InputError(field_name, N_("The key's alg is %(alg)s; LINE needs RS256."), alg=json.dumps(alg))
    missing = [m for m in ("n", "e", "d") if m not in data]
    if missing:
        if "n" in data and "e" in data:
            raise InputError(field_name, MESSAGES["public_only"])
        raise InputError(field_name, N_("The key lacks %(members)s: use the complete private JWK."), members=", ".join(missing))
    if "p" not in data or "q" not in data:
        # Recovering p and q from n, e and d costs seconds to hours of CPU for a crafted key;
        # the LINE Developers Console's keys and ours always carry them.
        raise InputError(field_name, MESSAGES["no_primes"])
    n = _b64u_int(data["n"], field_name, "n")
    _check_size(n, field_name)
    e = _b64u_int(data["e"], field_name, "e")
    d = _b64u_int(data["d"], field_name, "d")
    p = _b64u_int(data["p"], field_name, "p")
    q = _b64u_int(data["q"], field_name, "q")
    crt = {}
    for member in ("dp", "dq", "qi"):
        if member in data:
            crt[member] = _b64u_int(data[member], field_name, member)
    # Sizes before any arithmetic: the products and powers below then cost microseconds.
    if (e.bit_length() > MAX_EXPONENT_BITS or d >= n
            or any(v.bit_length() > MAX_MEMBER_BITS for v in (p, q, *crt.values()))):
        raise InputError(field_name, MESSAGES["damaged"])
    # jwcrypto reads the members as given (the same bytes our checks decoded): none encoded again.
    texts = {m: data[m] for m in ("n", "e", "d", "p", "q", *crt)}
    key, jwk = _build_key(n, e, d, p, q, crt, field_name, texts)
    kid = data.get("kid") if isinstance(data.get("kid"), str) and data.get("kid") else None
    return PrivateKey(key=key, kid=kid, _jwk=jwk)


def _load_pem(text: str, field_name: str) -> PrivateKey:
    if "PUBLIC KEY" in text and "PRIVATE KEY" not in text:
        raise InputError(field_name, MESSAGES["public_only"])
    if "ENCRYPTED" in text:
        raise InputError(field_name, MESSAGES["encrypted"])
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        loaded = serialization.load_pem_private_key(
            text.strip().encode(), password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError):
        raise InputError(field_name, MESSAGES["pem_unreadable"]) from None
    except Exception:  # cryptography raises UnsupportedAlgorithm for odd keys
        raise InputError(field_name, MESSAGES["pem_unreadable"]) from None
    if not isinstance(loaded, rsa.RSAPrivateKey):
        # The JWK name of the key type, as the browser-side signer (static/jwt.js) says it too.
        from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
        kty = ("EC" if isinstance(loaded, ec.EllipticCurvePrivateKey) else
               "OKP" if isinstance(loaded, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else
               type(loaded).__name__.replace("_", ""))
        raise InputError(field_name, MESSAGES["kty"], kty=json.dumps(kty))
    nums = loaded.private_numbers()
    _check_size(nums.public_numbers.n, field_name)
    key, jwk = _build_key(nums.public_numbers.n, nums.public_numbers.e, nums.d, nums.p, nums.q,
                          {"dp": nums.dmp1, "dq": nums.dmq1, "qi": nums.iqmp}, field_name)
    return PrivateKey(key=key, _jwk=jwk)


def _check_size(n: int, field_name: str) -> None:
    bits = n.bit_length()
    if bits != KEY_BITS:
        raise InputError(field_name, MESSAGES["bits"], bits=bits)


def _jwk_from_numbers(n: int, e: int, d: int, p: int, q: int, dp: int, dq: int, qi: int,
                      texts: dict[str, str] | None = None) -> JWK:
    """The jwcrypto JWK of checked RSA numbers, told not to re-check the primes (jwcrypto >= 1.5).

    Its full validation (OpenSSL's primality checks) costs tens of milliseconds per load; our own
    checks (:func:`_build_key`) have run instead. ``texts``: members as the key gave them, base64url
    that decoded to these very numbers; the others are encoded here.
    """
    from jwcrypto.jwk import JWK

    texts = texts or {}
    numbers = {"n": n, "e": e, "d": d, "p": p, "q": q, "dp": dp, "dq": dq, "qi": qi}
    jwk = JWK()
    jwk.unsafe_skip_rsa_key_validation = True
    jwk.import_key(kty="RSA", **{m: texts[m] if m in texts else _int_b64u(v) for m, v in numbers.items()})
    return jwk


def _build_key(n: int, e: int, d: int, p: int, q: int, crt: dict, field_name: str,
               texts: dict[str, str] | None = None) -> tuple[rsa.RSAPrivateKey, JWK]:
    """Cheap consistency checks, then build the key without OpenSSL's slow primality re-check.

    Returns the cryptography key and the jwcrypto JWK that signs with it (one key built, not two).
    """
    damaged = InputError(field_name, MESSAGES["damaged"])
    if p * q != n or p == q or e < 3 or e % 2 == 0 or e.bit_length() > MAX_EXPONENT_BITS or p < 3 or q < 3:
        raise damaged
    lam = math.lcm(p - 1, q - 1)
    if (e * d) % lam != 1:
        raise damaged
    dp = crt.get("dp", d % (p - 1))
    dq = crt.get("dq", d % (q - 1))
    qi = crt.get("qi")
    if dp != d % (p - 1) or dq != d % (q - 1):
        raise damaged
    if qi is None:
        qi = pow(q, -1, p)
    elif (qi * q) % p != 1:
        raise damaged
    from jwcrypto.common import JWException

    try:
        jwk = _jwk_from_numbers(n, e, d, p, q, dp, dq, qi, texts)
        return jwk.get_op_key("sign"), jwk  # builds the key once (jwcrypto keeps it)
    except (ValueError, TypeError, JWException):
        raise damaged from None


def public_jwk(key: PrivateKey | rsa.RSAPrivateKey) -> dict:
    """The public JWK to register in the LINE Developers Console (no kid: LINE refuses one)."""
    private = key.key if isinstance(key, PrivateKey) else key
    nums = private.public_key().public_numbers()
    return {"kty": "RSA", "e": _int_b64u(nums.e), "n": _int_b64u(nums.n), "alg": "RS256", "use": "sig"}


def private_jwk(key: PrivateKey | rsa.RSAPrivateKey, kid: str | None = None) -> dict:
    """The private JWK to keep (RS256, use sig); carries ``kid`` when given."""
    private = key.key if isinstance(key, PrivateKey) else key
    nums = private.private_numbers()
    out = {
        "kty": "RSA", "alg": "RS256", "use": "sig",
        "n": _int_b64u(nums.public_numbers.n), "e": _int_b64u(nums.public_numbers.e),
        "d": _int_b64u(nums.d), "p": _int_b64u(nums.p), "q": _int_b64u(nums.q),
        "dp": _int_b64u(nums.dmp1), "dq": _int_b64u(nums.dmq1), "qi": _int_b64u(nums.iqmp),
    }
    if kid:
        out["kid"] = kid
    return out


def generate_key_pair() -> tuple[dict, dict]:
    """Make a new RSA-2048 pair with jwcrypto: (private JWK, public JWK without kid)."""
    from jwcrypto import jwk

    generated = jwk.JWK.generate(kty="RSA", size=KEY_BITS)
    key = generated.get_op_key("sign")
    return private_jwk(key), public_jwk(key)


def check_public_jwk(data: Any, field_name: str = "public_key") -> dict:
    """Apply the LINE Developers Console's rules for registering a public key.

    Returns the key as a dict; raises InputError naming the offending member.
    """
    if isinstance(data, str) and "-----BEGIN" in data:
        # A PEM block is not JSON: say what it is and how to get the JWK the console takes.
        if "PRIVATE KEY" in data:
            raise InputError(field_name, N_("This is a PEM private key: register only the public key, as JWK JSON. "
                                              "The key pair page derives it (\"Show the public key\")."))
        raise InputError(field_name, N_("This is a PEM public key; the console takes the public key as JWK JSON "
                                          "({\"kty\": \"RSA\", \"n\": ..., \"e\": ...}). Paste the private key "
                                          "on the key pair page (\"Show the public key\") to get it as JWK."))
    data = parse_json_value(data, field_name)
    if not isinstance(data, dict):
        raise InputError(field_name, N_("The public key must be a JSON object (a JWK)."))
    if "kid" in data:
        raise InputError(field_name, N_("Remove \"kid\" from the public key: LINE assigns the kid when you register it."), member="kid")
    private = [m for m in RSA_PRIVATE_MEMBERS if m in data]
    if private:
        raise InputError(field_name, N_("The key holds private members (%(members)s): register only the public key (kty, n, e, alg, use)."), members=", ".join(private))
    if data.get("kty") != "RSA":
        raise InputError(field_name, N_("\"kty\" must be \"RSA\"."), member="kty")
    if data.get("alg") != "RS256":
        raise InputError(field_name, N_("\"alg\" must be \"RS256\"."), member="alg")
    for member in ("n", "e"):
        if member not in data:
            raise InputError(field_name, N_("The public key lacks \"%(member)s\"."), member=member)
    n = _b64u_int(data["n"], field_name, "n")
    e = _b64u_int(data["e"], field_name, "e")
    if e < 3 or e % 2 == 0 or e.bit_length() > MAX_EXPONENT_BITS:
        raise InputError(field_name, N_("\"e\" must be an odd public exponent such as 65537 (\"AQAB\")."), member="e")
    if n.bit_length() != KEY_BITS:
        raise InputError(field_name, N_("\"n\" is %(bits)d bits; LINE needs a 2048-bit RSA key."), bits=n.bit_length(), member="n")
    has_use = data.get("use") == "sig"
    has_ops = data.get("key_ops") == ["verify"]
    if "use" in data and not has_use:
        raise InputError(field_name, N_("\"use\" must be \"sig\"."), member="use")
    if "key_ops" in data and not has_ops:
        raise InputError(field_name, N_("\"key_ops\" must be [\"verify\"]."), member="key_ops")
    if has_use == has_ops:
        raise InputError(field_name, N_("The public key needs exactly one of \"use\": \"sig\" or \"key_ops\": [\"verify\"]."), member="use")
    return data


def pem_to_jwk(pem: str, field_name: str = "pem") -> tuple[dict, dict]:
    """Convert a PEM private key to (private JWK, public JWK)."""
    key = load_private_key(pem, field_name)
    return private_jwk(key), public_jwk(key)


# --------------------------------------------------------------------------- JWT


def whole_number(value: Any, field_name: str, default: int | None = None,
                 message: str = N_("%(field)s must be a whole number.")) -> int:
    """A whole number from JSON or a form (the rules table's one parser: an int, an integral float, or
    ASCII digits); ``default`` stands in for a missing or empty value; otherwise raises InputError naming
    ``field_name``.
    """
    if default is not None and (value is None or value == ""):
        return default
    number = _whole_number(value)
    if number is None:
        raise InputError(field_name, message, field=field_name)
    return number


def validate_claims(header: Any, payload: Any, now: int | None = None) -> None:
    """Check a header and payload against LINE's rules for a client assertion (rules.ASSERTION_RULES).

    Raises InputError for the first rule broken, in LINE's order, naming the field a person fixes.
    """
    now = int(time.time()) if now is None else now
    if not isinstance(header, dict):
        raise InputError("header", N_("The header must be a JSON object like {\"alg\": \"RS256\", \"typ\": \"JWT\", \"kid\": \"...\"}."))
    if not isinstance(payload, dict):
        raise InputError("payload", N_("The payload must be a JSON object with iss, sub, aud, exp and token_exp."))
    breach = first_breach(header, payload, now)
    if breach is not None:
        raise InputError(breach.rule.field, breach.refusal, **breach.params)


def sign(header: dict, payload: dict, key: PrivateKey, now: int | None = None, *, validate: bool = True) -> str:
    """Sign ``header`` and ``payload`` with RS256 (jwcrypto) and return the compact JWT.

    Fills a missing or empty header kid from the key's own kid. Validates
    against LINE's rules first unless ``validate`` is False (the header must
    still say RS256: this signer makes nothing else).
    """
    header = dict(header)
    if not header.get("kid") and key.kid:
        header["kid"] = key.kid
    if validate:
        validate_claims(header, payload, now)
    elif header.get("alg", "RS256") != "RS256":
        raise InputError("header.alg", N_("header.alg is %(value)s; LINE needs \"RS256\"."), value=json.dumps(header.get("alg")))
    # The header as JWT libraries write it: typ "JWT" unless given, alg RS256, keys sorted, no spaces.
    header = {"typ": "JWT", **header, "alg": "RS256"}
    if not header["typ"]:
        del header["typ"]
    try:  # a lone surrogate ("\ud800") is valid JSON but not text: LINE can't read it
        json.dumps([header, payload], ensure_ascii=False).encode("utf-8")
        protected = json.dumps(header, separators=(",", ":"), sort_keys=True)
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("payload", N_("The header or payload holds a broken character (a lone UTF-16 surrogate): type the value again.")) from None
    except (TypeError, ValueError):  # not JSON (only a caller passing Python objects gets here)
        raise InputError("payload", N_("The payload must be a JSON object with iss, sub, aud, exp and token_exp.")) from None
    if "crit" in header or "b64" in header:  # RFC 7515/7797 members no compact RS256 JWT here can honour
        raise InputError("header", N_("The header's \"crit\" or \"b64\" member cannot be signed into a compact JWT: "
                                      "remove it (LINE reads only alg, typ and kid)."))
    from jwcrypto.jws import JWSCore

    # jwcrypto's signing core: a JWS object would deep-copy jwcrypto's header registry on every signature
    # (about a tenth of a millisecond) to check the header members refused just above.
    signed = JWSCore("RS256", key.jwk, protected, body).sign()
    return f"{signed['protected']}.{signed['payload'].decode('ascii')}.{signed['signature']}"


def build_claims(channel_id: str, kid: str, token_exp: int = DEFAULT_TOKEN_EXP,
                 exp_seconds: int = MAX_ASSERTION_LIFETIME, now: int | None = None) -> tuple[dict, dict]:
    """The header and payload LINE expects for ``channel_id`` and the key ``kid``."""
    issued = int(time.time()) if now is None else now
    channel_id = (channel_id or "").strip()
    header = {"alg": "RS256", "typ": "JWT", "kid": (kid or "").strip()}
    payload = {"iss": channel_id, "sub": channel_id, "aud": LINE_AUDIENCE,
               "exp": issued + exp_seconds, "token_exp": token_exp}
    return header, payload


def build_assertion(channel_id: str, kid: str, key: PrivateKey, token_exp: int = DEFAULT_TOKEN_EXP,
                    exp_seconds: int = MAX_ASSERTION_LIFETIME, now: int | None = None) -> str:
    """Return an RS256 JWT that LINE accepts as a client assertion."""
    now = int(time.time()) if now is None else now
    if not isinstance(exp_seconds, int) or isinstance(exp_seconds, bool) or not 1 <= exp_seconds <= MAX_ASSERTION_LIFETIME:
        raise InputError("exp", N_("The JWT lifetime must be 1 to 30 minutes; LINE allows at most 30 minutes."))
    header, payload = build_claims(channel_id, kid or (key.kid or ""), token_exp, exp_seconds, now)
    return sign(header, payload, key, now)


GUIDED_FIELDS = ("channel_id", "kid", "private_key", "token_exp", "token_exp_unit", "exp_minutes")


def guided_text(value: Any, field_name: str) -> str:
    """A guided field as stripped text: JSON may send the channel ID as a number."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InputError(field_name, N_("%(field)s must be text."), field=field_name)
    return value.strip()


def assertion_from_fields(fields: Any, key: PrivateKey | None = None, now: int | None = None) -> str:
    """The one way guided fields become a client assertion (pages, JSON API, proxy, CLI).

    ``fields`` maps GUIDED_FIELDS to form text or JSON values: ``channel_id``,
    ``kid`` (default: the key's own), ``private_key`` (unless ``key`` is given,
    e.g. read from a file), ``token_exp`` in ``token_exp_unit`` (default
    seconds; default lifetime 30 days) and ``exp_minutes`` (default 30).
    Checks them in that order; raises InputError naming the field.
    """
    if key is None:
        key = load_private_key(fields.get("private_key") or "", "private_key")
    channel_id = guided_text(fields.get("channel_id"), "channel_id")
    if not is_channel_id(channel_id):
        raise InputError("channel_id", MESSAGES["channel_id"])
    unit = guided_text(fields.get("token_exp_unit"), "token_exp_unit") or "seconds"
    if unit not in TOKEN_EXP_UNITS:
        raise InputError("token_exp_unit", N_("Choose seconds, minutes, hours or days."))
    amount = fields.get("token_exp")
    token_exp = DEFAULT_TOKEN_EXP if amount is None or amount == "" else whole_number(amount, "token_exp") * TOKEN_EXP_UNITS[unit]
    if not MIN_TOKEN_EXP <= token_exp <= MAX_TOKEN_EXP:
        raise InputError("token_exp", MESSAGES["token_exp_range"], value=f"{token_exp:,}")
    exp_minutes = whole_number(fields.get("exp_minutes"), "exp_minutes", MAX_EXP_MINUTES)
    if not 1 <= exp_minutes <= MAX_EXP_MINUTES:
        raise InputError("exp_minutes", MESSAGES["exp_minutes"], value=exp_minutes)
    kid = guided_text(fields.get("kid"), "kid")
    return build_assertion(channel_id, kid, key, token_exp, exp_minutes * 60, now)


def assertion_from_json(header: Any, payload: Any, key: PrivateKey) -> str:
    """Sign a header and payload given as JSON text or objects (the advanced mode and the 2020 contract)."""
    header = parse_json_value(header, "header")
    payload = parse_json_value(payload, "payload")
    if not isinstance(header, dict):
        raise InputError("header", N_("The header must be a JSON object like {\"alg\": \"RS256\", \"typ\": \"JWT\", \"kid\": \"...\"}."))
    return sign(header, payload, key)


MAX_DECODED_JWT = 8 * 1024


def _compact_parts(token: str) -> tuple[str, Any, bytes, bytes]:
    """A compact JWS's protected header (its JSON text and the decoded value), payload and signature, as
    jwcrypto's ``JWS.deserialize`` reads them (its base64url and JSON helpers), without a JWS object: that deep-
    copies jwcrypto's header registry, about a tenth of a millisecond per token. Raises ValueError."""
    from jwcrypto.common import base64url_decode, json_decode

    parts = token.split(".")  # as given: a JWT with spaces or a newline around it is not one LINE takes
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    protected = base64url_decode(parts[0]).decode("utf-8")
    return protected, json_decode(protected), base64url_decode(parts[1]), base64url_decode(parts[2])


def decode_unverified(token: str, field_name: str = "client_assertion") -> tuple[dict, dict]:
    """Decode a JWT's header and payload for display, without checking the signature."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise InputError(field_name, N_("This is not a JWT: a JWT has three parts separated by dots (header.payload.signature)."))
    if len(token) > MAX_DECODED_JWT:  # sizes before parsing: an assertion or token is under 2 KiB
        raise InputError(field_name, N_("This JWT could not be decoded: copy the whole JWT again."))
    from jwcrypto.common import JWException

    try:
        _protected, header, payload, _signature = _compact_parts(token.strip())  # parsed, not verified
        if isinstance(header, dict) and ("crit" in header or "b64" in header):
            # The members jwcrypto's JWS object checks (RFC 7515's crit, RFC 7797's b64): its own reading, in full.
            from jwcrypto.jws import JWS

            decoded = JWS()
            decoded.deserialize(token.strip())
            header = decoded.jose_header
        payload = json.loads(payload)
    except (JWException, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError, RecursionError):
        raise InputError(field_name, N_("This JWT could not be decoded: copy the whole JWT again.")) from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise InputError(field_name, N_("This JWT could not be decoded: copy the whole JWT again."))
    return header, payload


# Public keys as jwcrypto JWKs, by their n and e: the sandbox verifies every assertion against one of a few
# registered keys, and building the JWK cost more than the RSA verification. Bounded: cleared when full.
_VERIFIERS: dict[tuple[str, str], JWK] = {}
_VERIFIERS_KEPT = 256


def _verifier(public_key: dict) -> JWK:
    from jwcrypto.jwk import JWK

    n, e = public_key.get("n"), public_key.get("e")
    found = _VERIFIERS.get((n, e)) if isinstance(n, str) and isinstance(e, str) else None
    if found is None:
        for member in ("n", "e"):  # sizes and base64url checked before jwcrypto reads them (kept ones passed)
            _b64u_int(public_key.get(member), "public_key", member)
        if len(_VERIFIERS) >= _VERIFIERS_KEPT:
            _VERIFIERS.clear()
        found = _VERIFIERS[(n, e)] = JWK(kty="RSA", n=n, e=e)
    return found


def verify_signature(token: str, public_key: dict | rsa.RSAPublicKey) -> bool:
    """True if ``token``'s RS256 signature verifies with ``public_key`` (a JWK dict or key).

    Only the signature: the claims are LINE's rules, checked by the caller.
    """
    from jwcrypto.common import JWException
    from jwcrypto.jwk import JWK
    from jwcrypto.jws import JWS, JWSCore

    try:
        verifier = _verifier(public_key) if isinstance(public_key, dict) else JWK.from_pyca(public_key)
        if not isinstance(token, str) or len(token) > MAX_DECODED_JWT:
            return False
        protected, header, payload, signature = _compact_parts(token)
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            return False
        if "crit" in header or "b64" in header:  # what JWS objects check (RFC 7515/7797): theirs, in full
            JWS().deserialize(token, key=verifier, alg="RS256")
            return True
        # jwcrypto's signing core, as sign() uses it: the JWS object around it would deep-copy its header
        # registry only to check the members handled just above.
        JWSCore("RS256", verifier, protected, payload).verify(signature)
        return True
    except (InputError, JWException, ValueError, TypeError, RecursionError):
        return False

"""The shared signing module: key formats, LINE's rules, and JWTs an independent verifier accepts."""
from __future__ import annotations

import json

import rs256  # RS256 checked with cryptography alone, independent of the app's jwcrypto
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwcrypto import jwk

from line_token.core import signing
from line_token.core.signing import SigningError

NOW = 1_800_000_000
CHANNEL = "1234567890"


def _public_pem(key: signing.PrivateKey) -> bytes:
    return key.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _verify(token: str, key: signing.PrivateKey) -> dict:
    """Verify with cryptography alone (tests/rs256.py), independent of our code and of jwcrypto."""
    return rs256.decode(token, _public_pem(key), algorithms=["RS256"], audience="https://api.line.me/",
                        options={"verify_exp": False})


def test_console_key_2020_signs_a_jwt_an_independent_check_accepts(console_key_text):
    key = signing.load_private_key(console_key_text)
    assert key.kid == "1dab2f4f-b73f-47a3-b99d-1730e22b9544"
    token = signing.build_assertion(CHANNEL, "", key, token_exp=86400, now=NOW)
    header = rs256.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "1dab2f4f-b73f-47a3-b99d-1730e22b9544"}
    claims = _verify(token, key)
    assert claims == {"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/", "exp": NOW + 1800, "token_exp": 86400}


def test_console_wrapper_and_dict_and_python_literal(console_key):
    wrapped = signing.load_private_key(json.dumps({"privateKey": console_key}))
    as_dict = signing.load_private_key(console_key)
    literal = signing.load_private_key(repr(console_key))  # a Python dict literal, as the 2020 tutorial wrote it
    n = console_key["n"]
    for key in (wrapped, as_dict, literal):
        assert signing.public_jwk(key)["n"] == n


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL])
def test_pem_keys_pkcs8_and_pkcs1(fmt):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
    assert ("BEGIN PRIVATE KEY" in pem) == (fmt is serialization.PrivateFormat.PKCS8)
    key = signing.load_private_key(pem)
    token = signing.build_assertion(CHANNEL, "kid-1", key, now=NOW)
    assert _verify(token, key)["iss"] == CHANNEL
    private_jwk, public_jwk = signing.pem_to_jwk(pem)
    assert public_jwk == {"kty": "RSA", "e": "AQAB", "n": private_jwk["n"], "alg": "RS256", "use": "sig"}
    # The converted JWK loads and signs the same way.
    assert signing.public_jwk(signing.load_private_key(private_jwk)) == public_jwk


def test_generated_pair_is_registrable_and_signs():
    private, public = signing.generate_key_pair()
    assert "kid" not in public and set(public) == {"kty", "e", "n", "alg", "use"}
    assert signing.check_public_jwk(public) == public
    key = signing.load_private_key(private)
    assert key.key.key_size == 2048
    token = signing.build_assertion(CHANNEL, "k", key, now=NOW)
    # jwcrypto, our design card's JOSE library, also verifies it.
    from jwcrypto import jwt as jjwt

    verified = jjwt.JWT(jwt=token, key=jwk.JWK(**public), check_claims=False)
    assert json.loads(verified.claims)["sub"] == CHANNEL


def test_jwk_with_only_n_e_d_is_refused_with_the_fix():
    """Recovering p and q from n, e and d can cost hours of CPU for a crafted key (issue 11), and the
    console's keys and ours carry them: the user is told to use the complete key."""
    private, _ = signing.generate_key_pair()
    minimal = {k: private[k] for k in ("kty", "n", "e", "d")}
    with pytest.raises(SigningError) as info:
        signing.load_private_key(minimal)
    assert info.value.field == "private_key"
    assert '"p" and "q"' in info.value.message and "complete private JWK" in info.value.message
    assert signing.load_private_key(private).key.private_numbers().p  # the complete key still loads


# --------------------------------------------------------------------------- refusals


def _refused(fn, field: str, *words: str) -> SigningError:
    with pytest.raises(SigningError) as info:
        fn()
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)
    return info.value


def test_refuses_not_json_key():
    _refused(lambda: signing.load_private_key("this is not a key"), "private_key", "not valid JSON")


def test_refuses_ec_key():
    ec_key = jwk.JWK.generate(kty="EC", crv="P-256").export_private(as_dict=True)
    _refused(lambda: signing.load_private_key(ec_key), "private_key", "RSA", '"EC"')
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    _refused(lambda: signing.load_private_key(pem), "private_key", "RSA")


def test_refuses_rsa_1024():
    small = jwk.JWK.generate(kty="RSA", size=1024).export_private(as_dict=True)
    _refused(lambda: signing.load_private_key(small), "private_key", "1024 bits", "2048")


def test_refuses_public_key_only(console_key):
    public = {k: console_key[k] for k in ("kty", "n", "e", "alg", "use")}
    _refused(lambda: signing.load_private_key(public), "private_key", "public key")


def test_refuses_tampered_key(console_key):
    tampered = dict(console_key)
    d = signing._b64u_int(tampered["d"], "x", "d")
    tampered["d"] = signing._int_b64u(d + 2)
    _refused(lambda: signing.load_private_key(tampered), "private_key", "damaged")


@pytest.fixture(scope="module")
def key(console_key_text):
    return signing.load_private_key(console_key_text)


def _claims(**changes):
    header = {"alg": "RS256", "typ": "JWT", "kid": "kid-1"}
    payload = {"iss": CHANNEL, "sub": CHANNEL, "aud": "https://api.line.me/", "exp": NOW + 1800, "token_exp": 86400}
    for name, value in changes.items():
        target, _, member = name.partition("__")
        (header if target == "h" else payload)[member] = value
    return header, payload


@pytest.mark.parametrize("changes, field, words", [
    ({"p__exp": NOW + 2 * 3600}, "payload.exp", ("2 h ahead", "at most 30 minutes")),
    ({"p__exp": NOW - 60}, "payload.exp", ("in the past",)),
    ({"p__token_exp": 2_592_001}, "token_exp", ("2,592,001", "30 days")),
    ({"p__token_exp": 0}, "token_exp", ("30 days",)),
    ({"h__kid": ""}, "kid", ("kid is missing",)),
    ({"p__aud": "https://api.line.me"}, "payload.aud", ("https://api.line.me/",)),
    ({"p__sub": "999"}, "payload.sub", ("iss",)),
    ({"p__iss": "my-channel", "p__sub": "my-channel"}, "channel_id", ("numeric",)),
    ({"h__alg": "HS256"}, "header.alg", ("RS256",)),
    ({"h__typ": "JWS"}, "header.typ", ("JWT",)),
])
def test_refusals_name_the_field_and_fix(key, changes, field, words):
    header, payload = _claims(**changes)
    bare = signing.PrivateKey(key=key.key)  # no kid of its own to fall back on
    _refused(lambda: signing.sign(header, payload, bare, now=NOW), field, *words)


def test_empty_kid_is_filled_from_the_keys_own_kid(key):
    header, payload = _claims(h__kid="")
    token = signing.sign(header, payload, key, now=NOW)
    assert rs256.get_unverified_header(token)["kid"] == "1dab2f4f-b73f-47a3-b99d-1730e22b9544"


def test_limits_are_inclusive(key):
    header, payload = _claims(p__exp=NOW + 1800, p__token_exp=2_592_000)
    token = signing.sign(header, payload, key, now=NOW)
    assert _verify(token, key)["token_exp"] == 2_592_000


def test_numeric_strings_accepted_as_in_lines_doc_sample(key):
    header, payload = _claims(p__exp=str(NOW + 600), p__token_exp="86400")
    assert signing.sign(header, payload, key, now=NOW).count(".") == 2


def test_build_assertion_refuses_long_jwt_lifetime(key):
    _refused(lambda: signing.build_assertion(CHANNEL, "k", key, exp_seconds=3600, now=NOW), "exp", "30 minutes")


# --------------------------------------------------------------------------- public keys (console rules)


@pytest.mark.parametrize("change, words", [
    ({"kid": "x"}, ("kid",)),
    ({"d": "AQAB"}, ("private members", "d")),
    ({"kty": "EC"}, ("kty",)),
    ({"use": "enc"}, ("use",)),
    ({"use": None}, ("use", "key_ops")),
    ({"key_ops": ["verify"]}, ("exactly one",)),
])
def test_public_key_registration_rules(console_key, change, words):
    public = {k: console_key[k] for k in ("kty", "n", "e", "alg", "use")}
    for name, value in change.items():
        if value is None:
            public.pop(name)
        else:
            public[name] = value
    err = _refused(lambda: signing.check_public_jwk(public), "public_key")
    for word in words:
        assert word in str(err)


def test_public_key_with_key_ops_only_is_accepted(console_key):
    public = {"kty": "RSA", "n": console_key["n"], "e": "AQAB", "alg": "RS256", "key_ops": ["verify"], "ext": True}
    assert signing.check_public_jwk(public)["key_ops"] == ["verify"]


def test_decode_unverified(key):
    token = signing.build_assertion(CHANNEL, "k", key, now=NOW)
    header, payload = signing.decode_unverified(token)
    assert header["kid"] == "k" and payload["exp"] == NOW + 1800
    _refused(lambda: signing.decode_unverified("abc"), "client_assertion", "three parts")
    assert signing.verify_signature(token, signing.public_jwk(key))
    assert not signing.verify_signature(token[:-4] + "AAAA", signing.public_jwk(key))


def test_a_header_no_compact_jwt_can_carry_is_refused_naming_the_header(key):
    header, payload = signing.build_claims(CHANNEL, "k", now=NOW)
    for extra in ({"crit": ["exp"]}, {"b64": False}, {"b64": False, "crit": ["b64"]}):
        _refused(lambda: signing.sign({**header, **extra}, payload, key, NOW), "header", "crit")


def test_every_jose_operation_runs_without_pyjwt(tmp_path):
    """jwcrypto signs, verifies and decodes, and makes and checks the sandbox's stateless tokens: with PyJWT
    unimportable, all of it still works; PyJWT is in no requirement and no module of ours."""
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import sys\n"
        "sys.modules['jwt'] = None\n"
        "from line_token.core import signing\n"
        "from line_token.sandbox import service, store\n"
        "private, public = signing.generate_key_pair()\n"
        "key = signing.load_private_key(private)\n"
        "token = signing.build_assertion('1234567890', 'k', key)\n"
        "print(signing.verify_signature(token, public), signing.decode_unverified(token)[0]['kid'])\n"
        f"box = service.Sandbox(store.open_store({{'SANDBOX_DATABASE': {str(tmp_path / 's.sqlite3')!r}}}))\n"
        "channel, _ = box.create_channel('x')\n"
        "stateless = box.mint_stateless_token(channel.channel_id)\n"
        "import time\n"
        "print(box.stateless_channel(stateless, int(time.time())) == channel.channel_id,\n"
        "      box.stateless_channel(stateless[:-2] + 'AA', int(time.time())))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["True k", "True None"]
    assert "pyjwt" not in (ROOT / "requirements.txt").read_text().lower()
    import re

    for path in (ROOT / "line_token").rglob("*.py"):
        assert not re.search(r"^\s*(import jwt\b|from jwt\b)", path.read_text(), re.M), path


def test_verify_signature_says_no_to_what_it_cannot_read():
    """A header nested thousands deep (under the size bound), a JWT with spaces around it, garbage: False, never
    an exception."""
    private, public = signing.generate_key_pair()
    good = signing.build_assertion("1234567890", "kid", signing.load_private_key(private), 3600)
    assert signing.verify_signature(good, public)
    nested = signing._b64u_encode(b"[" * 3000) + "." + good.split(".", 1)[1]
    for token in (nested, good + "\n", " " + good, "a.b.c", "", "x" * 9000):
        assert signing.verify_signature(token, public) is False, token[:40]

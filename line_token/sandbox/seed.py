"""Seed and export: a channel as JSON (its ID, name, public keys with their kids, bot settings), and channels
created from such JSON, so a test suite starts from a known state (issue 21 item 5).

The format is what ``GET /api/channels/{id}/export`` answers::

    {"version": 1, "channel_id": "1234567890", "name": "my-bot",
     "keys": [{"kid": "<uuid>", "public_key": {"kty": "RSA", "n": "...", "e": "AQAB", "alg": "RS256", "use": "sig"}}],
     "bot": {"display_name": "My bot", "chat_mode": "bot", "mark_as_read_mode": "auto"}}

An import (``POST /api/channels/import``, ``line-token sandbox serve --seed FILE``) takes one such object or
``{"channels": [...]}``. Every member but ``keys[].public_key`` may be left out: a missing ID, kid or secret
is generated (a generated secret is answered once). ``channel_secret`` is read only on import: the sandbox
keeps a hash, so an export never holds a secret, nor a token or a private key.

No Flask here: the admin API (routes.py), ``serve`` and the pytest fixture call these.
"""
from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from ..core import signing
from ..core.signing import N_, InputError
from . import store as store_module
from .service import CHANNEL_ID, KID, PUBLIC_JWK_MEMBERS, UNSTORABLE, Sandbox

FORMAT_VERSION = 1
MAX_IMPORT_CHANNELS = 100  # per request or seed file; the channel cap applies on top
CHANNEL_MEMBERS = ("version", "channel_id", "channel_secret", "name", "keys", "bot")
KEY_MEMBERS = ("kid", "public_key")
BOT_MEMBERS = ("display_name", "chat_mode", "mark_as_read_mode")
SECRET = re.compile(r"^[0-9a-f]{32}$")  # LINE's channel secrets, and the sandbox's: 32 lowercase hex


def export_channel(sandbox: Sandbox, channel: store_module.Channel) -> dict:
    """The channel as an import takes it back: never its secret (only a hash is kept), tokens or private keys."""
    store = sandbox.store
    return {"version": FORMAT_VERSION, "channel_id": channel.channel_id, "name": channel.name,
            "keys": [{"kid": key.kid, "public_key": key.jwk} for key in store.list_keys(channel.channel_id)],
            "bot": store.bot_settings(channel.channel_id)}


def _refuse(field: str, template: str, **params: Any):
    raise InputError(field, template, field=field, **params)


def _object(value: Any, field: str, members: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        _refuse(field or "body", N_("%(field)s must be a JSON object."))
    for name in value:
        if name not in members:
            _refuse(f"{field}.{name}" if field else name, N_(
                "%(field)s is not a member of an exported channel; it takes only %(members)s (as "
                "GET /api/channels/{id}/export answers)."), members=", ".join(members))
    return value


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > store_module.MAX_NAME_LENGTH or UNSTORABLE.search(value):
        _refuse(field, N_("%(field)s must be text of at most %(max)d characters, without control characters."),
                max=store_module.MAX_NAME_LENGTH)
    return value.strip()


def _list(value: Any, field: str, most: int) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > most:
        _refuse(field, N_("%(field)s must be a list of at most %(max)d items."), max=most)
    return value


def read_channel(data: Any, prefix: str = "") -> dict:
    """One channel of an import, checked, as Store.import_channels takes it; InputError names the member
    (``channels[2].keys[0].public_key``) and says how to fix it."""
    at = (prefix + ".") if prefix else ""
    data = _object(data, prefix, CHANNEL_MEMBERS)
    version = data.get("version", FORMAT_VERSION)
    if isinstance(version, bool) or version != FORMAT_VERSION:
        _refuse(at + "version", N_("%(field)s must be %(version)d, the only export format so far."),
                version=FORMAT_VERSION)
    channel_id = data.get("channel_id")
    if channel_id is None:
        channel_id = store_module.new_channel_id()
    elif not isinstance(channel_id, str) or not CHANNEL_ID.match(channel_id) or channel_id.startswith("0"):
        _refuse(at + "channel_id", N_("%(field)s must be 10 digits not starting with 0, like a LINE channel ID "
                                      "(or leave it out to get a new one)."))
    secret = data.get("channel_secret")
    if secret is not None and (not isinstance(secret, str) or not SECRET.match(secret)):
        _refuse(at + "channel_secret", N_("%(field)s must be 32 lowercase hexadecimal characters, like a LINE "
                                          "channel secret (or leave it out: a new one is answered once)."))
    keys = []
    for index, item in enumerate(_list(data.get("keys"), at + "keys", store_module.KEYS_PER_CHANNEL)):
        where = f"{at}keys[{index}]"
        item = _object(item, where, KEY_MEMBERS)
        kid = item.get("kid")
        if kid is None:
            kid = str(uuid.uuid4())
        elif not isinstance(kid, str) or not KID.match(kid):
            _refuse(where + ".kid", N_("%(field)s must be a kid as the sandbox assigns them, a lowercase UUID "
                                       "such as %(example)s (or leave it out to get a new one)."),
                    example="0b5f2c4e-6a1d-4c8e-9f3b-2d7a1e5c9b40")
        if "public_key" not in item:
            _refuse(where + ".public_key", N_("%(field)s is missing: give the public JWK (kty, n, e, alg, use)."))
        jwk = signing.check_public_jwk(item["public_key"], where + ".public_key")
        keys.append((kid, {name: jwk[name] for name in PUBLIC_JWK_MEMBERS if name in jwk}))
    bot = data.get("bot")
    if bot is not None:
        bot = _object(bot, at + "bot", BOT_MEMBERS)
        chosen = {"display_name": _text(bot.get("display_name"), at + "bot.display_name") or None}
        for member, choices in (("chat_mode", store_module.BOT_CHAT_MODES),
                                ("mark_as_read_mode", store_module.BOT_READ_MODES)):
            value = bot.get(member, choices[0])
            if value not in choices:
                _refuse(f"{at}bot.{member}", N_("%(field)s must be one of: %(choices)s."), choices=", ".join(choices))
            chosen[member] = value
        bot = chosen
    return {"channel_id": channel_id, "secret": secret, "name": _text(data.get("name"), at + "name"),
            "keys": keys, "bot": bot}


def read_import(data: Any) -> tuple[list[dict], bool]:
    """The channels of an import body or seed file, checked; and whether it was the ``{"channels": [...]}`` form."""
    listed = isinstance(data, dict) and "channels" in data
    if listed:
        _object(data, "", ("channels",))
        items = _list(data["channels"], "channels", MAX_IMPORT_CHANNELS)
        if not items:
            _refuse("channels", N_("%(field)s is empty: give at least one channel."))
        seeds = [read_channel(item, f"channels[{index}]") for index, item in enumerate(items)]
    else:
        seeds = [read_channel(data)]
    seen: dict[str, str] = {}
    for index, seed in enumerate(seeds):
        at = f"channels[{index}]." if listed else ""
        for value, field in [(seed["channel_id"], at + "channel_id")] + [
                (kid, f"{at}keys[{number}].kid") for number, (kid, _jwk) in enumerate(seed["keys"])]:
            if value in seen:
                _refuse(field, N_("%(field)s repeats %(other)s: each channel ID and kid may appear once."),
                        other=seen[value])
            seen[value] = field
    return seeds, listed


def import_channels(sandbox: Sandbox, data: Any, client: str | None = None, per_hour: int = 0,
                    replace: bool = False) -> dict:
    """Check ``data`` (see :func:`read_import`) and create its channels in one transaction.

    Answers ``{"channels": [...]}`` or, for a single channel, that channel: its ID, name and kids, and
    ``channel_secret`` only when it was generated here (shown this once). Raises InputError (the field),
    store.ChannelExists / KidTaken (as InputErrors naming the field, code "conflict"), CapReached, RateLimited.
    """
    seeds, listed = read_import(data)
    generated = {}
    for seed in seeds:
        if seed["secret"] is None:
            seed["secret"] = generated[seed["channel_id"]] = secrets.token_hex(16)
    try:
        sandbox.store.import_channels(seeds, client=client, per_hour=per_hour, replace=replace)
    except store_module.ChannelExists as e:
        index = [seed["channel_id"] for seed in seeds].index(e.args[0])
        field = (f"channels[{index}]." if listed else "") + "channel_id"
        raise InputError(field, N_("%(field)s %(id)s is already a sandbox channel: delete it first, or leave "
                                   "channel_id out to get a new one."), code="conflict", field=field,
                         id=e.args[0]) from None
    except store_module.KidTaken as e:
        field = next((f"channels[{i}]." if listed else "") + f"keys[{n}].kid" for i, seed in enumerate(seeds)
                     for n, (kid, _jwk) in enumerate(seed["keys"]) if kid == e.args[0])
        raise InputError(field, N_("%(field)s is registered on another channel: leave the kid out to get a new "
                                   "one."), code="conflict", field=field) from None
    answers = []
    for seed in seeds:
        answer = {"channel_id": seed["channel_id"], "name": seed["name"], "kids": [kid for kid, _ in seed["keys"]]}
        if seed["channel_id"] in generated:
            answer["channel_secret"] = generated[seed["channel_id"]]
        answers.append(answer)
    return {"channels": answers} if listed else answers[0]

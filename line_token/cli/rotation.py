"""``line-token token rotate``: issue a fresh v2.1 token, revoke this tool's older ones.

LINE can list the key IDs of a channel's valid v2.1 tokens, never the tokens,
and ``/oauth2/v2.1/revoke`` needs the token itself. So the tool remembers what
it issued, in ``$XDG_STATE_HOME/line-token/issued-tokens.json`` (default
``~/.local/state/line-token/``), a file only its owner can read (0600, in a 0700
folder). Each entry keeps the token's SHA-256, key_id, issue and expiry times;
the token value itself is kept only while it may still have to be revoked
(valid and not yet revoked). Once revoked or expired, only the hash stays, as a
record, and is dropped after the longest token lifetime.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
from contextlib import contextmanager
from typing import Iterator

import click

from ..core import signing
from .common import tr as _
from .common import (ANSWER_FIELDS, InputError, KEY_HELP, UpstreamError, check_channel_id, check_secret, emit, make_assertion, one_line, output_options, refused, request_fields, resolve_target, secret_option, send, target_options)

STATE_FILE = "issued-tokens.json"
MAX_STATE_FILE = 1024 * 1024  # 100 entries per channel are ~40 KiB; a bigger file is not ours
MAX_ENTRIES = 100  # per channel: the newest are kept
RECORD_KEPT_FOR = signing.MAX_TOKEN_EXP + 5 * 86400  # hash-only records: a little past the longest lifetime
LOCK_WAIT = 60.0  # seconds to wait for another rotate of the same user to finish
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where symbolic links need privileges


def state_path() -> str:
    from .. import user_dir

    return os.path.join(user_dir("XDG_STATE_HOME", ".local/state"), STATE_FILE)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _cannot_write(folder: str, e: OSError) -> InputError:
    return InputError("XDG_STATE_HOME", _("cannot write the token record in %(path)s: %(reason)s. Set "
                                          "XDG_STATE_HOME to a folder you can write.", path=folder,
                                          reason=e.strerror or str(e)))


def secure_folder(folder: str) -> None:
    """Make the record's folder, or check an existing one: ours and 0700 (tightened), else refused.

    Whoever can write in the folder can plant a symbolic link where the record is written; the
    record holds live tokens. A folder of ours that others can enter is tightened (0700); one owned
    by someone else is refused. POSIX only: on Windows the user's profile folder is private already.
    """
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
    except OSError as e:
        raise _cannot_write(folder, e) from None
    if not hasattr(os, "getuid") or not stat.S_ISDIR(info.st_mode):
        return
    if info.st_uid != os.getuid():
        raise InputError("XDG_STATE_HOME", _(
            "%(path)s belongs to another user, who could replace the token record (it holds live tokens). Set "
            "XDG_STATE_HOME to a folder of your own.", path=folder))
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if loose:
        try:
            os.chmod(folder, 0o700)  # tighten: only its owner may list, read or plant files in it
        except OSError as e:
            raise _cannot_write(folder, e) from None


def remove_planted_link(path: str) -> None:
    """A symbolic link where a file of ours belongs is removed (the link, never its target)."""
    if os.path.islink(path):
        os.unlink(path)


@contextmanager
def locked_state(path: str) -> Iterator[dict]:
    """The state file's contents, locked against other rotates; written back (0600) on exit."""
    # Imported here: filelock pulls in asyncio (~40 ms), and only `token rotate` takes the lock.
    from filelock import FileLock, Timeout

    folder = os.path.dirname(path)
    secure_folder(folder)
    try:
        # filelock opens without following links since 3.2x; older ones would truncate a link's target.
        remove_planted_link(path + ".lock")
        lock = FileLock(path + ".lock", mode=0o600)
    except OSError as e:
        raise _cannot_write(folder, e) from None
    try:
        # filelock: flock on POSIX, msvcrt's lock on Windows (fcntl does not exist there).
        lock.acquire(timeout=LOCK_WAIT, poll_interval=0.2)
    except Timeout:
        raise UpstreamError(_("another line-token token rotate holds %(path)s; try again when it "
                              "has finished.", path=path)) from None
    except OSError as e:
        raise _cannot_write(folder, e) from None
    try:
        state = load(path)
        yield state
    finally:
        lock.release()


def load(path: str) -> dict:
    try:
        # Never through a symbolic link: the record is ours, in our folder.
        fd = os.open(path, os.O_RDONLY | NO_FOLLOW | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_STATE_FILE + 1)
    except FileNotFoundError:
        return {"version": 1, "channels": {}}
    except OSError as e:
        if os.path.islink(path):
            raise InputError("XDG_STATE_HOME", _("%(path)s is a symbolic link, not a token record written by "
                                                 "line-token: remove it and rotate again.", path=path)) from None
        raise InputError("XDG_STATE_HOME", _("cannot read %(path)s: %(reason)s.", path=path,
                                             reason=e.strerror or str(e))) from None
    try:
        if len(data) > MAX_STATE_FILE:
            raise ValueError("too large")
        state = json.loads(data)
        if not isinstance(state, dict) or not isinstance(state.get("channels"), dict):
            raise ValueError("not ours")
    except (ValueError, RecursionError):
        raise InputError("XDG_STATE_HOME", _("%(path)s is not a token record written by line-token: move it "
                                             "away and rotate again.", path=path)) from None
    return state


def save(path: str, state: dict) -> None:
    """Write atomically, 0600 whatever the umask, never through a planted link.

    The temporary file is created afresh (O_CREAT | O_EXCL, and O_NOFOLLOW where the platform has
    it), so a symbolic link or a file left at its name is never written through: it is removed
    (the link itself) and the file created again. os.replace then swaps it in atomically; a link at
    the record's own name is replaced, its target untouched.
    """
    tmp = path + ".tmp"  # one writer at a time: the lock is held
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW | getattr(os, "O_BINARY", 0)
    try:
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:  # left by a rotate that was killed, or planted
            os.unlink(tmp)
            fd = os.open(tmp, flags, 0o600)
    except OSError as e:
        raise _cannot_write(os.path.dirname(path), e) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if hasattr(os, "fchmod"):  # POSIX (and Windows from Python 3.13)
                os.fchmod(f.fileno(), 0o600)
            json.dump(state, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def channel_key(target: str, base_url: str, channel_id: str) -> str:
    """Tokens are remembered per server and channel: a sandbox token is not LINE's."""
    where = "sandbox" if target == "sandbox" else base_url
    return f"{where} {channel_id}"


def prune(entries: list[dict], now: int) -> list[dict]:
    """Forget token values that expired, drop old hash-only records, keep at most MAX_ENTRIES."""
    kept = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("issued_at"), int):
            continue
        expires_at = entry.get("expires_at")
        if isinstance(expires_at, int) and expires_at <= now:
            entry.pop("access_token", None)
            entry.setdefault("expired", True)
        if "access_token" not in entry and entry["issued_at"] < now - RECORD_KEPT_FOR:
            continue
        kept.append(entry)
    kept.sort(key=lambda e: e["issued_at"], reverse=True)  # stable: same-second entries keep their order
    return kept[:MAX_ENTRIES]


@click.command("rotate")
@click.option("--channel-id", required=True, metavar="ID", help="The channel's numeric ID.")
@click.option("--kid", metavar="KID", help="The registered key's kid. Default: the key's own kid.")
@click.option("--key", "key_path", metavar="FILE", help=KEY_HELP)
@secret_option()
@click.option("--keep", type=click.IntRange(1, 30), default=2, show_default=True, metavar="N",
              help="How many of this tool's newest tokens stay valid, the new one included (1 to 30).")
@click.option("--token-exp", type=int, default=signing.DEFAULT_TOKEN_EXP, show_default=True, metavar="SECONDS",
              help="Lifetime of the new token, 1 to 2592000 (30 days).")
@target_options
@output_options(ANSWER_FIELDS["issue_v21"])
def rotate_command(channel_id: str, kid: str | None, key_path: str | None, channel_secret: str, keep: int,
                   token_exp: int, target: str, base_url: str | None, as_json: bool,
                   field_name: str | None) -> None:
    """Issue a fresh v2.1 token, then revoke this tool's older ones.

    Issues a token as `token issue` does, then revokes the tokens this tool
    issued earlier for the channel beyond the newest N (--keep; default 2,
    so the previous token still works while your bot switches over). LINE
    cannot list tokens, only their key IDs, and revoking needs the token
    itself: so the tool keeps each token it issued, with its SHA-256, in a
    0600 file under $XDG_STATE_HOME/line-token (~/.local/state/line-token)
    until it is revoked or expires; then only the hash stays. Tokens issued
    elsewhere are never touched. Needs the channel secret to revoke.

    \b
    Examples:
      export LINE_CHANNEL_SECRET=...
      TOKEN=$(line-token token rotate --channel-id 1234567890 --kid YOUR-KID --key keys/private.json --field access_token)
      line-token token rotate --channel-id 1234567890 --key keys/private.json --keep 1 --target sandbox
    """
    channel_id = check_channel_id(channel_id)
    secret = check_secret(channel_secret)  # before issuing: without it nothing could be revoked
    jwt = make_assertion(channel_id, kid, key_path, token_exp)
    app, resolved = resolve_target(target, base_url)
    path = state_path()
    with locked_state(path) as state:
        response = send("issue_v21", request_fields("issue_v21", client_assertion=jwt), resolved, None)
        if not response.ok:
            refused(response)
        body = response.body if isinstance(response.body, dict) else {}
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise UpstreamError(_("the answer has no field %(field)s.", field="access_token"))
        now = int(time.time())
        expires_in = body.get("expires_in")
        key = channel_key(resolved, app.config["LINE_API_BASE_URL"], channel_id)
        entries = state["channels"].get(key) if isinstance(state["channels"].get(key), list) else []
        # Newest first, as prune() keeps them: tokens issued within the same second keep this order.
        entries.insert(0, {"sha256": token_hash(token), "key_id": body.get("key_id"), "issued_at": now,
                           "expires_at": now + expires_in if isinstance(expires_in, int) else None,
                           "access_token": token})
        entries = prune(entries, now)
        state["channels"][key] = entries
        save(path, state)  # the new token is remembered before anything is revoked

        revoked = failed = 0
        holding = [e for e in entries if "access_token" in e]
        for entry in holding[keep:]:
            answer = send("revoke_v21", request_fields("revoke_v21", client_id=channel_id, client_secret=secret,
                                                           access_token=entry["access_token"]), resolved, None)
            if answer.ok:
                entry.pop("access_token")
                entry["revoked_at"] = int(time.time())
                revoked += 1
            else:
                failed += 1
                failure = answer
            save(path, state)
    emit(response.body, as_json, field_name)
    kept = min(len(holding), keep)
    if failed:
        click.echo(_("Issued a new token, but %(failed)d older tokens could not be revoked (%(answer)s); the next "
                     "rotate tries again.", failed=failed, answer=one_line(failure.body)[:200]), err=True)
        click.get_current_context().exit(1)
    if sys.stderr.isatty() or revoked:
        click.echo(_("Revoked %(revoked)d older tokens; %(kept)d tokens from this tool stay valid.",
                     revoked=revoked, kept=kept), err=True)

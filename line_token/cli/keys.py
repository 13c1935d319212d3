"""``line-token keygen`` and ``jwt``: a signing key pair, and the JWT assertion signed with it."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..core import signing
from .common import tr as _
from .common import (InputError, KEY_HELP, dump, make_assertion)


# --------------------------------------------------------------------------- keygen, jwt


@click.command("keygen")
@click.option("--out", "out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Write DIR/private.json (mode 0600) and DIR/public.json instead of printing.")
def keygen_command(out_dir: Path | None) -> None:
    """Make an RSA-2048 key pair for LINE.

    Prints {"private": ..., "public": ...} as JSON. Keep "private" secret;
    register "public" in the LINE Developers Console (Basic settings >
    Assertion Signing Key) or the sandbox. It has no kid: LINE assigns one.

    \b
    Examples:
      line-token keygen --out keys/
      line-token keygen > pair.json
    """
    private, public = signing.generate_key_pair()
    if out_dir is None:
        click.echo(dump({"private": private, "public": public}))
        return
    private_path, public_path = out_dir / "private.json", out_dir / "public.json"
    for path in (private_path, public_path):
        if path.exists():
            # Overwriting would lose the private key whose kid is registered.
            raise InputError("--out", _("%(path)s already exists: choose another directory or move it away first.",
                                        path=str(path)))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)  # exactly 0600 whatever the umask
            f.write(dump(private) + "\n")
        public_path.write_text(dump(public) + "\n")
    except OSError as e:
        raise InputError("--out", _("cannot write to %(path)s: %(reason)s. Choose a directory you can write to.",
                                    path=str(out_dir), reason=e.strerror or str(e))) from None
    click.echo(_("Wrote %(private)s (keep it secret) and %(public)s (register it to get a kid).",
                 private=str(private_path), public=str(public_path)), err=True)


@click.command("jwt")
@click.option("--channel-id", required=True, metavar="ID", help="The channel's numeric ID (iss and sub).")
@click.option("--kid", metavar="KID", help="The kid LINE gave when you registered the public key. Default: the key's own kid.")
@click.option("--key", "key_path", metavar="FILE", help=KEY_HELP)
@click.option("--token-exp", type=int, default=signing.DEFAULT_TOKEN_EXP, show_default=True, metavar="SECONDS",
              help="Lifetime of the access token to issue, 1 to 2592000 (30 days).")
@click.option("--exp-minutes", type=int, default=30, show_default=True, metavar="N",
              help="Lifetime of this JWT, 1 to 30 minutes.")
def jwt_command(channel_id: str, kid: str | None, key_path: str | None, token_exp: int, exp_minutes: int) -> None:
    """Sign a JWT assertion; print only the JWT.

    Without --kid, the key's own kid is used (the 2020 console's key files
    carry one).

    \b
    Examples:
      line-token jwt --channel-id 1234567890 --kid YOUR-KID --key keys/private.json
      JWT=$(line-token jwt --channel-id 1234567890 --kid YOUR-KID --key - < key.pem)
    """
    click.echo(make_assertion(channel_id, kid, key_path, token_exp, exp_minutes))

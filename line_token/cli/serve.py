"""``line-token sandbox serve``: the sandbox alone on a port of this machine, for bot test suites and SDKs.

LINE's paths, the admin API and the console at the root of its origin, no tester pages; waitress on every
platform (line_token.sandbox.server). Its database is, unless told, the file ``line-token sandbox …``
commands use, so both see the same channels.
"""
from __future__ import annotations

import json
import os
import signal

import click

from ..core import signing
from .common import tr as _
from .common import InputError, UpstreamError, cli_config, translate_template

DEFAULT_PORT = 8090
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_SEED_BYTES = 1024 * 1024


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, metavar="N",
              help="The port to listen on; 0 picks a free one (the first line printed says which).")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="H",
              help="The address to listen on. Anything but loopback lets other machines create channels.")
@click.option("--database", metavar="PATH|:memory:",
              help="The SQLite file to keep channels in; :memory: keeps nothing after it stops. Default: the "
                   "file `line-token sandbox ...` commands use (SANDBOX_DATABASE, DATABASE_URL, or the user's "
                   "data folder).")
@click.option("--seed", "seed_path", metavar="FILE",
              help="Channels to create at start (JSON as GET /api/channels/{id}/export answers, or "
                   "{\"channels\": [...]}); a channel of the same ID is replaced.")
@click.option("--allow-reset", is_flag=True,
              help="Add POST /api/reset, which deletes every channel (for test suites).")
def serve_command(port: int, host: str, database: str | None, seed_path: str | None, allow_reset: bool) -> None:
    """Serve the offline sandbox on its own origin until Ctrl+C.

    LINE's token endpoints and bot calls, the admin API (/api/channels...) and
    the console page at /: point LINE's SDKs at the printed base URL.

    \b
    Examples:
      line-token sandbox serve
      line-token sandbox serve --port 0 --database :memory: --seed channels.json --allow-reset
    """
    seed = _read_seed(seed_path) if seed_path is not None else None
    config = {}
    if database is None:
        settings = cli_config()
        database, config["DATABASE_URL"] = settings["SANDBOX_DATABASE"], settings["DATABASE_URL"]
    elif not database.strip():
        raise InputError("--database", _("give a file path, or :memory: for a database that lasts until it stops."))
    from ..sandbox.server import MEMORY, SandboxServer  # deferred: Flask and waitress load only for serve
    from ..sandbox.store import StoreUnavailable

    try:
        server = SandboxServer(database, host, port, allow_reset=allow_reset, config=config)
    except OSError as e:  # the port is taken, or the address is not this machine's
        raise UpstreamError(_("cannot listen on %(host)s port %(port)s: %(reason)s.", host=host, port=port,
                              reason=e.strerror or type(e).__name__)) from None
    except ValueError as e:  # a bad DATABASE_URL
        raise InputError("DATABASE_URL", str(e)) from None
    except StoreUnavailable:
        raise UpstreamError(_("cannot open the sandbox database %(path)s: check that it is a SQLite file "
                              "you can write.", path=database)) from None
    try:
        seeded = _import_seed(server, seed) if seed is not None else []
        _announce(server, database if database != MEMORY else None, config.get("DATABASE_URL"), seeded,
                  allow_reset)
        # SIGTERM (a CI job's end, `kill`) stops it as Ctrl+C does, so a :memory: folder is still removed.
        signal.signal(signal.SIGTERM, _interrupt)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    click.echo(_("The sandbox stopped."), err=True)


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _read_seed(path: str):
    """The seed file's JSON: at most 1 MiB, as a request body to POST /api/channels/import."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SEED_BYTES + 1)
    except OSError as e:
        raise InputError("--seed", _("cannot read %(path)s: %(reason)s.", path=path,
                                     reason=e.strerror or type(e).__name__)) from None
    if len(data) > MAX_SEED_BYTES:
        raise InputError("--seed", _("%(path)s is larger than 1 MiB: split the channels over several files, or "
                                     "import them with POST /api/channels/import.", path=path))
    try:  # a local file of at most 1 MiB: not held to a request body's bounds (budget.py), the import's own apply
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise InputError("--seed", _("%(path)s is not JSON (%(reason)s): give the JSON that GET "
                                     "/api/channels/{id}/export answers.", path=path, reason=str(e)[:100])) from None


def _import_seed(server, seed) -> list[dict]:
    from ..sandbox import seed as seed_module
    from ..sandbox.service import Sandbox
    from ..sandbox.store import CapReached

    try:
        answer = seed_module.import_channels(Sandbox(server.store), seed, replace=True)
    except signing.SigningError as e:
        raise InputError("--seed", _("%(field)s: %(message)s", field=e.field,
                                     message=translate_template(e.template, e.params))) from None
    except CapReached:
        raise UpstreamError(_("The sandbox is full (its maximum of channels, or of keys for this "
                              "channel): delete what you no longer need.")) from None
    return answer["channels"] if "channels" in answer else [answer]


def _announce(server, path: str | None, database_url: str | None, seeded: list[dict], allow_reset: bool) -> None:
    """The base URL first (a script waiting for the server reads it), then how to use it."""
    url = server.base_url
    click.echo(_("LINE sandbox at %(url)s (console: %(url)s/)", url=url))
    if database_url:
        click.echo(_("Channels are kept in the DATABASE_URL database."))
    elif path:
        click.echo(_("Channels are kept in %(path)s.", path=os.path.abspath(path)))
    else:
        click.echo(_("Channels last until it stops (--database :memory:)."))
    click.echo(f'  Python: linebot.v3.oauth.Configuration(host="{url}")')
    click.echo(f'  Node:   new channelAccessToken.ChannelAccessTokenClient({{ baseURL: "{url}" }})')
    for channel in seeded:
        line = _("Seeded channel %(id)s, kids: %(kids)s.", id=channel["channel_id"],
                 kids=", ".join(channel["kids"]) or "-")
        if "channel_secret" in channel:
            line += " " + _("Its new secret, shown once: %(secret)s", secret=channel["channel_secret"])
        click.echo(line)
    if allow_reset:
        click.echo(_("POST %(url)s/api/reset deletes every channel.", url=url))
    if server.host not in LOOPBACK:
        click.echo(_("Warning: listening on %(host)s, so other machines can reach this sandbox.", host=server.host),
                   err=True)
    click.echo(_("Press Ctrl+C to stop."))  # the banner's last line

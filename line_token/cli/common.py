"""The command line: ``line-token keygen | jwt | token ... | inspect | sandbox ...``.

``line-token`` (the console script, :mod:`line_token.cli`) and ``flask --app app
keygen | jwt | token ...`` run these same command objects. They use the same
modules as the web pages (``signing`` to sign, ``line_client`` to call LINE or
the in-process sandbox), so a key, JWT or channel works the same in both.

Exit codes: 0 on success (LINE answered 2xx), 1 when LINE or the sandbox refused
or could not be reached, 2 on bad input. Errors are one line on stderr naming
the option and the fix (a refusal: what it means and the fix, then the body as
it came); stdout carries only the result, so ``$(...)`` and ``| jq`` work.
Nothing from the network reaches the terminal with its control sequences
(``clean``), and plain http:// goes only to this computer unless ``--insecure``. Output: readable text on a terminal, JSON otherwise or with
``--json``, one bare value with ``--field NAME``. Messages are in Japanese when
LANGUAGE/LC_ALL/LC_MESSAGES/LANG say ``ja`` (the web pages' catalog).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import sys
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click
from ..core import catalogs, display, endpoints, line_client, signing
from ..core.settings import line_settings
from ..core.signing import N_, SigningError

MAX_KEY_FILE = 64 * 1024  # a JWK or PEM is a few KiB; anything larger is the wrong file

# SigningError.field -> the option a CLI user typed.
FIELD_OPTIONS = {
    "private_key": "--key",
    "channel_id": "--channel-id",
    "payload.iss": "--channel-id",
    "payload.sub": "--channel-id",
    "kid": "--kid",
    "token_exp": "--token-exp",
    "exp": "--exp-minutes",
    "exp_minutes": "--exp-minutes",
    "payload.exp": "--exp-minutes",
    "client_assertion": "--assertion",
}

# The fields of each endpoint's 2xx answer (the registry, core/endpoints.py), for --field.
ANSWER_FIELDS = {e.name: e.answer for e in endpoints.REGISTRY if e.answer}


# --------------------------------------------------------------------------- language


_translations = None


def translations():
    """The catalog for the language LANG/LC_ALL ask for (loaded once per process)."""
    global _translations
    if _translations is None:
        _translations = catalogs.cli_translations(catalogs.language_from_env())
    return _translations


def tr(msgid: str, /, **params: Any) -> str:
    """``msgid`` in the user's language, with ``%(name)s`` params filled in (core.catalogs.translate).
    Modules import it as ``_``."""
    return catalogs.translate(translations().gettext, msgid, params)


def translate_template(template: str, params: dict) -> str:
    """A SigningError-style template and params (N_-marked in their module) in the user's language."""
    return _(template, **params)


_ = tr


# --------------------------------------------------------------------------- errors


class InputError(click.ClickException):
    """Bad input: exit 2 with ``Error: <option>: <message>`` on one line."""

    exit_code = 2

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")


class UpstreamError(click.ClickException):
    """LINE or the sandbox refused, could not be reached or timed out: exit 1."""

    exit_code = 1


def from_signing_error(err: SigningError, option: str | None = None) -> InputError:
    """Name the CLI option for a SigningError and point web-page advice at the CLI."""
    option = option or FIELD_OPTIONS.get(err.field, "--" + err.field.replace("_", "-"))
    return InputError(option, for_the_command_line(translate_template(err.template, err.params)))


# The shared messages are written for the web pages; on the command line, their advice names commands.
# Each pair is a piece of those messages and its command-line wording; the catalog translates both, so the
# piece is found (and replaced) in the message's translation too.
PAGE_TO_COMMAND = (
    (N_("Make a new key pair on the keys page."), N_("Make a new key pair with: line-token keygen")),
    (N_("is verified and revoked on the \"Other token types\" page."),
     N_("is verified with line-token token verify-v2 and revoked with line-token token revoke-v2.")),
    (N_("(v2.1 tokens are verified on the v2.1 Verify page.)"),
     N_("(v2.1 tokens are verified with line-token token verify.)")),
)


def for_the_command_line(message: str) -> str:
    """A shared (web page) message with its page advice turned into the command to run."""
    for page, command in PAGE_TO_COMMAND:
        message = message.replace(_(page), _(command))
    return message


# --------------------------------------------------------------------------- input helpers


def read_text_input(value: str, option: str, what: str) -> str:
    """``value`` itself, or stdin's text when ``value`` is ``-``; empty is an error."""
    text = sys.stdin.read(MAX_KEY_FILE + 1) if value == "-" else value
    text = text.strip()
    if not text:
        if value == "-":
            raise InputError(option, _("stdin is empty: give the %(what)s.", what=what))
        raise InputError(option, _("it is empty: give the %(what)s.", what=what))
    if len(text) > MAX_KEY_FILE:
        raise InputError(option, _("it is larger than 64 KiB: give the %(what)s itself.", what=what))
    return text


def read_file(path: str, option: str, what: str) -> tuple[bytes, str]:
    """The bytes of the file at ``path`` (``-``: stdin), at most 64 KiB, and where they came from."""
    if path == "-":
        data = sys.stdin.buffer.read(MAX_KEY_FILE + 1)
        where = "stdin"
    else:
        where = path
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_KEY_FILE + 1)
        except OSError as e:
            raise InputError(option, _("cannot read %(path)s: %(reason)s. Give the path of the %(what)s, or - to "
                                       "read it from stdin.", path=path, reason=e.strerror or str(e),
                                       what=what)) from None
    if len(data) > MAX_KEY_FILE:
        raise InputError(option, _("%(where)s is larger than 64 KiB: give the %(what)s itself.",
                                   where=where, what=what))
    if not data.strip():
        raise InputError(option, _("%(where)s is empty: give the %(what)s.", where=where, what=what))
    return data, where


def read_key(path: str | None) -> signing.PrivateKey:
    """Load the private key for ``--key`` from the file at ``path`` (``-`` for stdin).

    Without ``--key``, LINE_PRIVATE_KEY_FILE names the file.
    """
    path = path or os.environ.get("LINE_PRIVATE_KEY_FILE", "").strip()
    if not path:
        raise InputError("--key", _("give the private key file with --key FILE (or - for stdin), or set "
                                    "LINE_PRIVATE_KEY_FILE."))
    data, _where = read_file(path, "--key", _("private key file (JWK JSON or PEM)"))
    try:
        return signing.load_private_key(data, "private_key")
    except SigningError as e:
        raise from_signing_error(e) from None


def make_assertion(channel_id: str, kid: str | None, key_path: str | None, token_exp: int,
                   exp_minutes: int = 30) -> str:
    """Sign a client assertion; ``kid`` falls back to the key's own kid."""
    key = read_key(key_path)
    fields = {"channel_id": channel_id, "kid": kid, "token_exp": token_exp, "exp_minutes": exp_minutes}
    try:
        return signing.assertion_from_fields(fields, key=key)  # the one signing path (pages, API, CLI)
    except SigningError as e:
        raise from_signing_error(e) from None


def assertion_from_options(assertion: str | None, channel_id: str | None, kid: str | None,
                           key_path: str | None, token_exp: int = signing.DEFAULT_TOKEN_EXP) -> str:
    """The JWT given with ``--assertion``, or one signed from ``--channel-id``/``--kid``/``--key``."""
    if assertion is not None:
        if channel_id or kid or key_path:
            raise InputError("--assertion", _("give either --assertion JWT or --channel-id, --kid and --key, "
                                              "not both."))
        return read_text_input(assertion, "--assertion", _("JWT assertion (from: line-token jwt ...)"))
    if not key_path and not os.environ.get("LINE_PRIVATE_KEY_FILE", "").strip():
        raise InputError("--key", _("give --channel-id, --kid and --key FILE to sign an assertion, or "
                                    "--assertion JWT."))
    if not channel_id:
        raise InputError("--channel-id", _("give the channel's numeric ID (Basic settings in the LINE Developers "
                                           "Console)."))
    return make_assertion(channel_id, kid, key_path, token_exp)


def check_channel_id(channel_id: str, option: str = "--channel-id") -> str:
    """The channel ID, stripped; it must be numeric as LINE's are."""
    channel_id = (channel_id or "").strip()
    if not signing.is_channel_id(channel_id):
        raise InputError(option, _("the channel ID must be the channel's numeric ID, e.g. 1234567890 "
                                   "(Basic settings in the LINE Developers Console)."))
    return channel_id


def secret_option(required: bool = True):
    """``--channel-secret``, also read from LINE_CHANNEL_SECRET so it stays out of shell history."""
    return click.option(
        "--channel-secret", required=required, envvar="LINE_CHANNEL_SECRET", show_envvar=True, metavar="SECRET",
        help="The channel secret (Basic settings). Prefer the env variable: it stays out of shell history.")


def check_secret(channel_secret: str | None) -> str:
    """The channel secret, stripped; empty is bad input. Never quoted in a message."""
    secret = (channel_secret or "").strip()
    if not secret:
        raise InputError("--channel-secret", _("it is empty: give the channel secret (Basic settings), "
                                               "preferably in the LINE_CHANNEL_SECRET environment variable."))
    return secret


# --------------------------------------------------------------------------- where requests go


INSECURE_FLAG = "line_token.insecure"  # click context meta: --insecure was given


def _remember_insecure(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[INSECURE_FLAG] = True
    return value


def insecure_option(func):
    """``--insecure``: allow plain http:// to another host (check_base_url reads it from the context)."""
    return click.option(
        "--insecure", is_flag=True, expose_value=False, callback=_remember_insecure,
        help="Allow a plain http:// URL to a host other than this computer: the channel secret, assertions and "
             "tokens then cross the network unencrypted. (It does not turn off certificate checks.)")(func)


def target_options(func):
    """``--target line|sandbox``, ``--base-url URL`` and ``--insecure``."""
    func = insecure_option(func)
    func = click.option(
        "--base-url", metavar="URL",
        help="Send to this LINE-compatible server instead, e.g. a running app's sandbox: "
             "http://127.0.0.1:8000/sandbox (https:// unless it is on this computer; see --insecure)")(func)
    return click.option(
        "--target", type=click.Choice(line_client.TARGETS), default="line", show_default=True,
        help="line: the LINE Platform (LINE_API_BASE_URL). sandbox: the offline sandbox, in this process "
             "(a file in the user's data folder, or SANDBOX_DATABASE / DATABASE_URL).")(func)


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: a server on this computer (no name is looked up)."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone ("::1%lo") names no other host
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def insecure_allowed() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context is not None and context.find_root().meta.get(INSECURE_FLAG))


def check_base_url(base_url: str, option: str = "--base-url") -> str:
    """An http(s) URL with a host, without a trailing slash; plain http only to this computer unless --insecure."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    try:
        host = parts.hostname
    except ValueError:  # e.g. an unclosed [ in an IPv6 address
        host = None
    if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment:
        raise InputError(option, _("give an http:// or https:// URL of a LINE-compatible server, e.g. "
                                   "http://127.0.0.1:8000/sandbox"))
    if parts.scheme == "http" and not is_loopback(host) and not insecure_allowed():
        # The channel secret, assertions and tokens would cross the network readable by anyone on the way.
        raise InputError(option, _("%(url)s is plain HTTP to another computer: the channel secret and tokens "
                                   "would cross the network unencrypted. Use https://, or add --insecure if you "
                                   "trust every network in between (plain http:// is accepted only for this "
                                   "computer: localhost, 127.0.0.1, ::1).", url=clean(url)))
    return url


def user_data_dir() -> str:
    from .. import user_dir

    return user_dir("XDG_DATA_HOME", ".local/share")


def cli_config() -> dict:
    """The CLI's settings: the environment's, with the sandbox in the user's data folder unless
    SANDBOX_DATABASE or DATABASE_URL say otherwise."""
    config = line_settings()
    if not config["SANDBOX_DATABASE"] and not config["DATABASE_URL"]:
        folder = user_data_dir()
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError as e:
            raise InputError("--target", _("cannot make the sandbox's folder %(path)s: %(reason)s. Set "
                                           "SANDBOX_DATABASE to a file you can write.", path=folder,
                                           reason=e.strerror or str(e))) from None
        config["SANDBOX_DATABASE"] = os.path.join(folder, "sandbox.sqlite3")
    return config


def cli_app() -> Any:
    """The app whose config and sandbox the commands use.

    Under ``flask --app app`` it is that app (the web app's own sandbox database).
    ``line-token`` makes the sandbox's own app on first use (never the web app): LINE-path calls to
    the in-process sandbox go through it.
    """
    flask = sys.modules.get("flask")  # under `flask --app app ...` Flask is loaded and an app may be current
    if flask is not None and flask.has_app_context():
        return flask.current_app._get_current_object()
    context = click.get_current_context()
    info = context.find_object(flask.cli.ScriptInfo) if flask is not None and "flask.cli" in sys.modules else None
    if info is not None:  # flask --app app ...: that app, with the web app's own sandbox database
        app = info.load_app()
        ctx = app.app_context()
        ctx.push()
        context.call_on_close(ctx.pop)
        return app
    from ..sandbox.app import create_app  # deferred: Flask loads only for commands that call the sandbox

    try:
        app = create_app(cli_config())
    except ValueError as e:  # a bad DATABASE_URL
        raise InputError("DATABASE_URL", str(e)) from None
    ctx = app.app_context()
    ctx.push()
    context.call_on_close(ctx.pop)
    return app


def resolve_target(target: str, base_url: str | None) -> tuple[Any, str]:
    """The app to call through and the line_client target, for ``--target``/``--base-url``."""
    if base_url is not None:
        if target != "line":
            raise InputError("--base-url", _("give either --target sandbox or --base-url URL, not both."))
        url = check_base_url(base_url)
        app = cli_app()
        app.config["LINE_API_BASE_URL"] = url  # this process's copy only
        return app, "line"
    app = cli_app()
    if target == "line":  # LINE_API_BASE_URL (https://api.line.me unless set) is held to the same rule
        check_base_url(str(app.config.get("LINE_API_BASE_URL") or ""), "LINE_API_BASE_URL")
    if target == "sandbox" and app.config.get("SANDBOX_ENABLED", True):
        # Import SQLAlchemy and open the database now, so LINE_API_TIMEOUT times the request itself
        # rather than this process's first database use (seconds on a busy machine).
        from ..sandbox.store import StoreUnavailable

        try:
            app.extensions["sandbox_store"].engine
        except StoreUnavailable:
            pass  # the request below answers 503 with the reason
    return app, target


# --------------------------------------------------------------------------- LINE's request fields


# The one place that knows LINE's request fields (line_client.request_fields), for every command.
request_fields = line_client.request_fields


# --------------------------------------------------------------------------- output


# What a terminal would act on rather than show: CSI sequences (colours, cursor moves, erasing), the
# strings of OSC, DCS, SOS, PM and APC (window titles, hyperlinks, clipboard writes), other escapes
# (ESC c resets the terminal), in their 7-bit and 8-bit (C1) forms; then any lone C0 or C1 control
# but newline and tab (a carriage return overwrites the line), and the bidirectional overrides that
# reorder what is shown.
_TERMINAL_CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# json.dumps(ensure_ascii=False) escapes C0 controls (ESC becomes \u001b) but leaves DEL, C1 and the
# bidirectional overrides raw; these are escaped too, so JSON output is the same value, safe to show.
_JSON_UNESCAPED_CONTROL = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: Any) -> str:
    """Text from the network (or pasted), safe to print on a terminal: escape sequences and control
    characters removed, newlines and tabs kept."""
    return _TERMINAL_CONTROL.sub("", str(text))


def to_json(value: Any, indent: int | None = None) -> str:
    """JSON as json.dumps writes it (non-ASCII kept), with every character a terminal acts on escaped."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return _JSON_UNESCAPED_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dump(body: Any) -> str:
    """JSON for people and jq alike (indented); text bodies as they came, without terminal controls."""
    if isinstance(body, str):
        return clean(body)
    return to_json(body, indent=2)


def human(body: Any) -> str:
    """``name: value`` lines for a person at a terminal."""
    if not isinstance(body, dict):
        return dump(body)
    width = max((len(clean(k)) for k in body), default=0)
    lines = []
    for name, value in body.items():
        if value is None:
            value = "-"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value) if value else "-"
        elif isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)
        lines.append(f"{clean(name) + ':':<{width + 1}} {clean(value)}")
    return "\n".join(lines)


def output_options(fields: tuple[str, ...]):
    """``--json`` and ``--field NAME`` (one of ``fields``) for a command that prints an answer."""
    def decorate(func):
        func = click.option("--field", "field_name", type=click.Choice(fields), metavar="NAME",
                            help="Print only this field of the answer, bare (for $(...)): "
                                 + ", ".join(fields) + ".")(func)
        return click.option("--json", "as_json", is_flag=True,
                            help="Print the answer as JSON (the default when stdout is not a terminal).")(func)
    return decorate


def emit(body: Any, as_json: bool = False, field_name: str | None = None) -> None:
    """Print an answer: one bare field, JSON, or text for a terminal."""
    if field_name is not None:
        if not isinstance(body, dict) or field_name not in body:
            raise UpstreamError(_("the answer has no field %(field)s.", field=field_name))
        value = body[field_name]
        if value is None:
            click.echo("")  # e.g. previous_valid_until when there was no previous token
        elif isinstance(value, list):
            click.echo(clean("\n".join(str(v) for v in value)))
        else:
            click.echo(clean(value) if isinstance(value, str) else to_json(value))
    elif as_json or not sys.stdout.isatty():
        click.echo(dump(body))
    else:
        click.echo(human(body))


def quiet_line_client() -> None:
    if not line_client.log.hasHandlers():
        # Our own line says what failed; without a handler, logging's last resort
        # would print line_client's warning as a second stderr line.
        line_client.log.addHandler(logging.NullHandler())


def send(endpoint: str, fields: dict[str, str], target: str, base_url: str | None,
         bearer: str | None = None) -> line_client.LineResponse:
    """Call ``endpoint`` on the chosen target; raise for a request that could not be made."""
    app, target = resolve_target(target, base_url)
    quiet_line_client()
    try:
        return line_client.call(endpoint, fields, target=target, app=app, bearer=bearer)
    except SigningError as e:  # a target the client refuses (e.g. the sandbox is disabled)
        raise from_signing_error(e, "--target") from None
    except line_client.LineAPIError as e:
        message = translate_template(e.template, e.params)
        if e.status == 400:  # the client refused our request before sending it (e.g. sandbox disabled)
            raise InputError("--target", message) from None
        raise UpstreamError(message) from None


def one_line(body: Any) -> str:
    """An answer's body as one line of terminal-safe text (JSON compact, as it came)."""
    text = body if isinstance(body, str) else to_json(body)
    return " ".join(clean(text).split())


def explanation(response: line_client.LineResponse) -> str | None:
    """What a refusal means and how to fix it, as the web page says it (core.display), for the command line.

    A 404 to a signed request names the kid the JWT carried, and on the sandbox the command that lists
    the channel's kids.
    """
    hint = display.explain(response.status_code, response.body)
    text = for_the_command_line(_(hint)) if hint else None
    assertion = response.fields.get("client_assertion") or ""
    if response.status_code == 404 and assertion:
        try:
            header, payload = signing.decode_unverified(assertion)[:2]
        except (SigningError, ValueError, TypeError):
            header, payload = {}, {}
        kid = header.get("kid") if isinstance(header, dict) else None
        if isinstance(kid, str) and kid:
            text = display.join_sentences(text, _("The JWT's kid is %(kid)s.", kid=clean(kid)))
        channel = payload.get("iss") if isinstance(payload, dict) else None
        if response.target == "sandbox" and isinstance(channel, str) and signing.is_channel_id(channel):
            text = display.join_sentences(text, _("The channel's registered kids are listed by: line-token "
                                                  "sandbox channels show %(id)s", id=channel))
    return text


def refused(response: line_client.LineResponse) -> NoReturn:
    """Why the target refused and the fix (as the web page says it), then its body as the last line; exit 1.

    The body stays one line, last on stderr, so a script can still read it (``tail -n 1``).
    """
    if response.target == "sandbox":
        who = _("The sandbox refused the request (HTTP %(status)s).", status=response.status_code)
    else:
        who = _("LINE refused the request (HTTP %(status)s).", status=response.status_code)
    click.echo(display.join_sentences(who, explanation(response)), err=True)
    if response.body == "":
        click.echo(_("LINE answered HTTP %(status)s with an empty body.", status=response.status_code), err=True)
    else:
        click.echo(one_line(response.body), err=True)
    click.get_current_context().exit(1)


def call_line(endpoint: str, fields: dict[str, str], target: str, base_url: str | None = None,
              as_json: bool = False, field_name: str | None = None) -> NoReturn:
    """Call ``endpoint``, print LINE's answer and exit: 0 on 2xx, 1 on a LINE error or no answer."""
    response = send(endpoint, fields, target, base_url)
    if not response.ok:
        refused(response)
    if response.body != "":
        emit(response.body, as_json, field_name)
    click.get_current_context().exit(0)


KEY_HELP = ("Private key file: JWK, the 2020 console's {\"privateKey\": {...}}, or PEM. - reads stdin. "
            "Default: $LINE_PRIVATE_KEY_FILE.")

"""Static files as Heroku's Python apps serve them: WhiteNoise in front of Flask.

Every file in ``static/`` gets a content-hashed name (``app.css`` → ``app.3f9c0a1b2d4e.css``)
that ``url_for('static', ...)`` hands to the templates, so a page always names the
version it was rendered with and browsers (or a CDN) may keep it for ever
(``Cache-Control: max-age=315360000, public, immutable``). The plain names still work,
cached for a minute, for anything that does not go through ``url_for``.

The hashed copies and their gzip and Brotli variants (kept only when at least 5 %
smaller) are written once, at start, into ``STATIC_BUILD_DIR`` (default
``instance/static``; the names are content-addressed, so workers starting together
write the same bytes, each through its own temporary file). If that folder cannot be
written (a read-only deploy), a folder under the system's temporary directory is
used, and failing that the hashed names are served straight from ``static/``
without compressed variants. WhiteNoise picks the variant the client accepts
(``Accept-Encoding``) and answers ``If-None-Match``/``If-Modified-Since``.

Static answers never reach Flask, so the security headers that apply to files are
added here: ``nosniff``, ``same-origin``, ``DENY`` framing, and for SVG a policy that
forbids scripts.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import tempfile

from flask import Flask

HASH_LENGTH = 12
COMPRESSIBLE = (".css", ".js", ".svg", ".json", ".txt", ".html", ".map")
MIN_SAVING = 0.05
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def hashed_name(name: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()[:HASH_LENGTH]
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{digest}.{ext}" if dot and stem else f"{name}.{digest}"


def _write_atomic(path: str, data: bytes) -> None:
    if os.path.exists(path):
        return  # content-addressed: the same name always holds the same bytes
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def compressed_variants(data: bytes) -> dict[str, bytes]:
    """gzip (and Brotli, when the library is installed) copies worth sending instead."""
    variants = {".gz": gzip.compress(data, compresslevel=9, mtime=0)}
    try:
        import brotli
    except ImportError:  # pragma: no cover - brotli is in requirements.txt
        pass
    else:
        variants[".br"] = brotli.compress(data)
    return {ext: body for ext, body in variants.items() if len(body) <= len(data) * (1 - MIN_SAVING)}


def build(static_dir: str, out_dir: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """The manifest (file name → hashed name) and, for each hashed name, the file that serves it.

    With ``out_dir`` the hashed copies and compressed variants are written there
    (raising OSError when it cannot be written); without it the originals are served.
    """
    served: dict[str, str] = {}
    manifest: dict[str, str] = {}
    for folder, _dirs, files in os.walk(static_dir):
        for filename in sorted(files):
            path = os.path.join(folder, filename)
            relative = os.path.relpath(path, static_dir).replace(os.sep, "/")
            with open(path, "rb") as f:
                data = f.read()
            hashed = hashed_name(relative, data)
            manifest[relative] = hashed
            if out_dir is None:
                served[hashed] = path
                continue
            target = os.path.join(out_dir, *hashed.split("/"))
            if not os.path.exists(target):  # the copy is written last: if it is there, so are its variants
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if filename.endswith(COMPRESSIBLE):
                    for ext, body in compressed_variants(data).items():
                        _write_atomic(target + ext, body)
                _write_atomic(target, data)
            served[hashed] = target
    return manifest, served


def build_with_fallback(app: Flask, static_dir: str) -> tuple[dict[str, str], dict[str, str], str | None]:
    """The configured folder, else a private one under the temporary directory, else none."""
    # os.getuid exists on POSIX only; on Windows the temporary directory is the user's own already.
    uid = os.getuid() if hasattr(os, "getuid") else None
    candidates = [app.config.get("STATIC_BUILD_DIR") or os.path.join(app.instance_path, "static"),
                  os.path.join(tempfile.gettempdir(), f"line-token-static-{uid if uid is not None else 'user'}")]
    for out_dir in candidates:
        try:
            os.makedirs(out_dir, mode=0o700, exist_ok=True)
            if out_dir == candidates[-1]:
                # A shared temporary directory: use the folder only if it is ours and private, so no
                # other user of the machine can have put files there for us to serve.
                info = os.stat(out_dir)
                if uid is not None and (info.st_uid != uid or info.st_mode & 0o077):
                    raise OSError(f"{out_dir} is not private to this user")
            manifest, served = build(static_dir, out_dir)
            return manifest, served, out_dir
        except OSError as e:
            app.logger.info("static files: cannot write %s (%s)", out_dir, e.strerror or e)
    manifest, served = build(static_dir, None)
    return manifest, served, None


def static_headers(headers, path: str, url: str) -> None:
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    if path.endswith(".svg"):
        headers["Content-Security-Policy"] = SVG_POLICY


def init_app(app: Flask) -> None:
    from whitenoise import WhiteNoise

    static_dir = app.static_folder
    manifest, served, out_dir = build_with_fallback(app, static_dir)
    app.extensions["static_manifest"] = manifest
    app.extensions["static_build_dir"] = out_dir
    prefix = (app.static_url_path or "/static").rstrip("/") + "/"
    immutable = {prefix + hashed for hashed in served}

    whitenoise = WhiteNoise(app.wsgi_app, max_age=60, allow_all_origins=False,
                            add_headers_function=static_headers,
                            immutable_file_test=lambda path, url: url in immutable)
    whitenoise.add_files(static_dir, prefix=prefix)  # the plain names, cached for a minute
    for hashed, path in served.items():
        whitenoise.add_file_to_dictionary(prefix + hashed, path)
    app.wsgi_app = whitenoise

    @app.url_defaults
    def hashed_static_names(endpoint: str, values: dict) -> None:
        """``url_for('static', filename='app.css')`` names the hashed copy."""
        if endpoint == "static":
            filename = values.get("filename")
            if filename in manifest:
                values["filename"] = manifest[filename]

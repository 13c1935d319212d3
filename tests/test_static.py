"""Static files as a CDN would serve them (static_files.py, WhiteNoise): pages name content-hashed
files, those are cached for ever and come gzip- or Brotli-compressed when the browser accepts it,
the security headers hold, and a deploy that cannot write anywhere still serves every file."""
from __future__ import annotations

import gzip
import re
import tempfile

import brotli
import pytest
import requests

from conftest import ROOT

HASHED = re.compile(r'(?:href|src)="(/static/([\w-]+)\.([0-9a-f]{12})\.(\w+))"')


def make_app(tmp_path, **config):
    from line_token import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "static-test", "SANDBOX_DATABASE": str(tmp_path / "sb.sqlite3"),
                       "STATIC_BUILD_DIR": str(tmp_path / "static-build"), **config})


def hashed_links(html: str) -> dict[str, str]:
    """{"app.css": "/static/app.<hash>.css", ...} for every static link on a page."""
    return {f"{stem}.{ext}": url for url, stem, _, ext in HASHED.findall(html)}


def test_pages_name_hashed_files_that_are_cached_for_ever(tmp_path):
    client = make_app(tmp_path).test_client()
    links = hashed_links(client.get("/oauth2/v2.1/jwt").get_data(as_text=True))
    assert {"app.css", "app.js", "jwt.js", "favicon.svg"} <= set(links)
    for name, url in links.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data == (ROOT / "static" / name).read_bytes()  # the same bytes as the source file
        assert response.headers["Cache-Control"] == "max-age=315360000, public, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Access-Control-Allow-Origin" not in response.headers
    assert client.get(links["app.css"]).mimetype == "text/css"
    assert client.get(links["app.js"]).mimetype == "text/javascript"
    svg = client.get(links["favicon.svg"])
    assert svg.mimetype == "image/svg+xml" and "sandbox" in svg.headers["Content-Security-Policy"]
    # A changed file gets a new name, so a cached old copy is never used for the new page.
    digest = HASHED.search(f'href="{links["app.css"]}"').group(3)
    from line_token.web.static_files import hashed_name

    assert hashed_name("app.css", (ROOT / "static" / "app.css").read_bytes() + b"\n") != f"app.{digest}.css"


def test_compressed_variants_follow_accept_encoding(tmp_path):
    client = make_app(tmp_path).test_client()
    url = hashed_links(client.get("/").get_data(as_text=True))["app.css"]
    original = (ROOT / "static" / "app.css").read_bytes()
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data == original
    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(gz.data) == original
    br = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br" and brotli.decompress(br.data) == original
    assert len(br.data) < len(gz.data) < len(original) / 2
    assert "Accept-Encoding" in gz.headers["Vary"]
    # Revalidation is answered without a body.
    again = client.get(url, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and not again.data


def test_plain_names_still_work_with_a_short_cache_and_missing_files_are_404(tmp_path):
    client = make_app(tmp_path).test_client()
    response = client.get("/static/app.js")
    assert response.status_code == 200 and response.data == (ROOT / "static" / "app.js").read_bytes()
    assert response.headers["Cache-Control"] == "max-age=60, public"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/static/nothing.css").status_code == 404
    assert client.get("/static/app.000000000000.css").status_code == 404


def test_a_deploy_that_can_write_nowhere_still_serves_the_hashed_names(tmp_path, monkeypatch):
    """Both the build folder and the temporary directory unwritable (a path under a file fails
    even for root): the hashed names are served from static/ itself, uncompressed."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    app = make_app(tmp_path, STATIC_BUILD_DIR=str(blocker / "static"))
    assert app.extensions["static_build_dir"] is None
    client = app.test_client()
    url = hashed_links(client.get("/").get_data(as_text=True))["app.css"]
    response = client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.data == (ROOT / "static" / "app.css").read_bytes()
    assert response.headers["Cache-Control"] == "max-age=315360000, public, immutable"


@pytest.mark.server
def test_the_procfile_server_sends_compressed_hashed_files(start_server, tmp_path):
    server = start_server(env={"STATIC_BUILD_DIR": str(tmp_path / "served-static")})
    page = requests.get(server.url + "/", timeout=10)
    url = hashed_links(page.text)["app.js"]
    response = requests.get(server.url + url, headers={"Accept-Encoding": "br"}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "br"
    assert response.content == (ROOT / "static" / "app.js").read_bytes()  # requests decodes br with brotli
    assert int(response.headers["Content-Length"]) < len(response.content) / 2
    assert "immutable" in response.headers["Cache-Control"]
    assert (tmp_path / "served-static").is_dir()

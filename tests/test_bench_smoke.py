"""The benchmark's smoke run: `python -m bench.run --smoke` starts the Procfile server and the
reference app beside it, sends a few requests per row and reports zero errors and the ratios to the
reference. It checks that the script works, never its timings."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.run import prism_missing
from conftest import ROOT

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_bench_smoke_runs_and_reports_zero_errors(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--json", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads(out.read_text())
    assert figures["errors"] == 0
    rows = figures["rows"]
    assert {"hello", "echo", "page", "home", "static", "sign", "sign2020"} <= set(rows)
    for row in rows.values():
        assert set(row) == {"1", "8", "32"}
        for result in row.values():
            assert result["errors"] == 0 and result["rps"] > 0
    # The table and the in-process figures are printed.
    assert "| endpoint | conc | req/s |" in run.stdout
    assert "raw RSA-2048 PKCS#1 v1.5 signature" in run.stdout
    assert "Worker RSS after the run" in run.stdout and figures["rss_mb"]
    assert figures["import"]["app_s"] > 0 and figures["import"]["flask_s"] > 0
    # Every row is reported against the reference app measured in the same run.
    assert "| × hello req/s | × hello by CPU |" in run.stdout
    assert "reference hello: GET / (bench/reference.py)" in run.stdout
    assert "Signing limit at c=8: reference JSON request + one raw signature" in run.stdout
    assert "Targets (issue 16):" in run.stdout
    assert set(figures["summary"]["to_hello"]) == set(rows) and figures["summary"]["to_hello"]["hello"] == 1.0


PRISM_ROWS = ("origin_verify", "prism_verify", "origin_issue", "prism_issue")


@pytest.mark.skipif(bool(prism_missing()), reason=f"the Prism rows need Prism: {prism_missing()}")
def test_bench_prism_rows_run_in_a_bounded_smoke_mode(tmp_path):
    """Issue 21's rows alone: the sandbox origin and Prism (mocking line_token/sandbox/openapi.json) answer the same
    verify and issue requests with no error, the ratios are reported, and on garbage only ours refuses."""
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--requests", "16", "--concurrency", "1,8",
                          "--rows", ",".join(PRISM_ROWS), "--json", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads(out.read_text())
    rows = figures["rows"]
    assert set(PRISM_ROWS) <= set(rows)
    for key in PRISM_ROWS:
        assert set(rows[key]) == {"1", "8"}
        assert all(r["errors"] == 0 and r["rps"] > 0 for r in rows[key].values())
    assert set(figures["summary"]["prism_ratios"]) == {"verify@1", "verify@8", "issue@1", "issue@8", "hello@1", "hello@8"}
    assert "Ahead of Prism (issue 21)" in run.stdout and "Ceiling: the reference hello" in run.stdout and "| request | conc | ours req/s | Prism req/s |" in run.stdout
    garbage = figures["prism"]["garbage"]
    assert [a["status"] for a in garbage["ours"]] == [400, 400, 400]
    assert garbage["ours"][0]["body"] == {"error": "invalid_request", "error_description": "The access token not JWS"}
    assert all(a["status"] == 200 for a in garbage["prism"])  # a static mock answers its example to anything
    checks = {text: ok for text, ok, _ in figures["summary"]["prism_checks"]}
    assert checks["ours refuses every garbage request with LINE's error"]


def test_bench_says_how_to_install_prism_when_it_is_missing(monkeypatch, tmp_path):
    """Without Prism the bench skips its rows with a line naming the install command (checked on the function
    the run calls, with the installed Prism hidden)."""
    from bench import run as bench_run

    monkeypatch.setattr(bench_run, "PRISM_SCRIPT", tmp_path / "missing" / "index.js")
    reason = bench_run.prism_missing()
    assert reason and "npm ci --prefix bench/prism" in reason

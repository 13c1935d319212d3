"""The benchmark's smoke run: `python -m bench.run --smoke` starts the Procfile server and the
reference app beside it, sends a few requests per row and reports zero errors and the ratios to the
reference. It checks that the script works, never its timings."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

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

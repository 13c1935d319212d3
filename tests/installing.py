"""The project as a user gets it: a wheel built from a copy of the checkout, installed into a fresh venv.

The venv sees the test venv's packages (Flask, line-bot-sdk, pytest ...) through a .pth file and the
wheel is installed with ``--no-deps``: no network, a few seconds. The copy keeps the build from writing
into the checkout. Used by tests/test_cli_installed.py and tests/test_plugin_installed.py.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300
PROJECT_FILES = ["pyproject.toml", "README.md", "requirements.txt", "line_token", "templates", "static",
                 "translations"]


def build_wheel(base: Path) -> Path:
    """``pip wheel`` of a copy of the project, offline; the path of the .whl."""
    src = base / "src"
    src.mkdir()
    for name in PROJECT_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        else:
            shutil.copy2(ROOT / name, src / name)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-w", str(base / "dist"), str(src)],
        capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "PIP_NO_INPUT": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (base / "dist").glob("line_token_tester-*.whl")
    return wheel


def venv_with(base: Path, wheel: Path) -> Path:
    """A fresh venv at ``base/venv`` with ``wheel`` installed; its bin (Scripts) folder."""
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=TIMEOUT)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    site = subprocess.run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True, timeout=TIMEOUT).stdout.strip()
    # The test venv's packages without installing them again.
    Path(site, "_test_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q", "--no-deps",
         "--no-build-isolation", "--disable-pip-version-check", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "PIP_NO_INPUT": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    return bin_dir

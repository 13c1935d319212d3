"""`line-token sandbox serve` started as a user starts it (a subprocess of ``python -m line_token.cli``), for
tests/test_serve.py and the docs' examples (tests/test_testing_doc.py)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60  # a busy machine; a quiet one prints the URL within a second


def user_env(tmp: Path, **extra: str) -> dict:
    """A user's environment: own data folder, no settings of the suite's, the checkout importable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "LINE_", "XDG_", "SANDBOX_")) and k not in ("DATABASE_URL",)}
    env.update({"XDG_DATA_HOME": str(tmp / "data"), "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1",
                "LANG": "C.UTF-8", "LC_ALL": "", **extra})
    return env


class Serve:
    """One `line-token sandbox serve` process: ``url`` from its first line, ``stop()`` as Ctrl+C does."""

    def __init__(self, args: list[str], env: dict, cwd: Path | None = None):
        self.proc = subprocess.Popen([sys.executable, "-m", "line_token.cli", "sandbox", "serve", *args],
                                     cwd=cwd or ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        watchdog = threading.Timer(START_TIMEOUT, self.proc.kill)
        watchdog.start()
        try:
            self.first_line = self.proc.stdout.readline()
        finally:
            watchdog.cancel()
        found = re.search(r"http://[0-9.:\[\]a-z]+", self.first_line)
        if not found:
            out, err = self.proc.communicate(timeout=30)
            raise AssertionError(f"serve printed no URL: {self.first_line!r} {out!r} {err!r}")
        self.url = found.group(0)
        self.out = self.err = ""

    def rest_of_banner(self) -> str:
        """What it printed after the URL, up to "Press Ctrl+C to stop." (read while it runs)."""
        lines = []
        while True:
            line = self.proc.stdout.readline()
            lines.append(line)
            if not line or "Ctrl+C" in line:
                return "".join(lines)

    def stop(self, sig: int = signal.SIGINT) -> subprocess.CompletedProcess:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=10)
        self.out, self.err = out, err
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)

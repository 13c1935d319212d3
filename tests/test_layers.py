"""The package's layers (docs/ARCHITECTURE.md): core knows no Flask and nothing of ours above it; the sandbox
knows only core; no import cycles. Also what the layout promises users: no POSIX-only import (Windows), and
SANDBOX_PORT=80 or 443 leaves the in-process sandbox working."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from line_token.core import signing
from conftest import FIXTURES, ROOT, free_port

PACKAGE = ROOT / "line_token"
TIMEOUT = 120


def run_python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                          env=env)


def test_core_imports_no_flask_and_nothing_of_ours_above_it():
    result = run_python(
        "import sys, pkgutil, importlib, line_token.core as core\n"
        "for m in pkgutil.iter_modules(core.__path__): importlib.import_module('line_token.core.' + m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'flask_babel', 'flask_wtf', 'werkzeug',"
        " 'sqlalchemy') or (m.startswith('line_token.') and not m.startswith('line_token.core'))))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_sandbox_runs_with_the_tester_and_the_cli_unimportable(tmp_path):
    result = run_python(
        "import sys\n"
        "sys.modules['line_token.web'] = None\n"
        "sys.modules['line_token.cli'] = None\n"
        "from line_token.sandbox.app import create_app\n"
        f"app = create_app({{'SANDBOX_DATABASE': {str(tmp_path / 's.sqlite3')!r}}})\n"
        "client = app.test_client()\n"
        "created = client.post('/api/channels', json={})\n"
        "print(created.status_code, created.get_json()['channel_id'].isdigit())\n"
        "bad = client.post('/oauth2/v2.1/token', data={})\n"
        "print(bad.status_code, bad.get_json()['error'])\n"
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('line_token.') and sys.modules[m]}))")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "201 True"
    assert lines[1] == "400 invalid_request"
    assert lines[2] == "['core', 'sandbox']"


def our_imports(path: Path) -> set[str]:
    """The line_token modules ``path`` imports (module level and inside functions), as dotted names."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + "._"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:-node.level]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("line_token"):
                for alias in node.names:
                    candidate = f"{module}.{alias.name}"
                    found.add(candidate if (ROOT / (candidate.replace(".", "/") + ".py")).exists()
                              or (ROOT / candidate.replace(".", "/")).is_dir() else module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("line_token"))
    return found


def test_no_import_cycles_among_our_modules():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = {m for m in our_imports(path) if m != name}
    # A package's __init__ counts as a module of its own; importing a.b also imports a, so drop parent edges.
    for name, deps in graph.items():
        graph[name] = {d for d in deps if d in graph and not name.startswith(d + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node, trail):
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(trail[trail.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, trail + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_layers_import_only_downwards():
    allowed = {"core": {"core"}, "sandbox": {"core", "sandbox"}, "web": {"core", "sandbox", "web", "cli"},
               "cli": {"core", "sandbox", "web", "cli"}}
    wrong = []
    for layer, may in allowed.items():
        for path in (PACKAGE / layer).rglob("*.py"):
            for module in our_imports(path):
                parts = module.split(".")
                if len(parts) > 1 and parts[1] in allowed and parts[1] not in may:
                    wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


# Where fcntl cannot be imported and os.getuid does not exist, as on Windows.
NO_POSIX = "import os, sys\nsys.modules['fcntl'] = None\ndel os.getuid\n"


def no_posix_cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    code = NO_POSIX + (f"sys.argv = ['line-token', *{args!r}]\n"
                       "import runpy\nrunpy.run_module('line_token.cli', run_name='__main__')\n")
    return run_python(code, env)


def test_without_fcntl_or_getuid_the_app_and_the_cli_work(tmp_path):
    db = tmp_path / "sandbox.sqlite3"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLASK_") and k not in ("DATABASE_URL", "LINE_CHANNEL_SECRET")}
    env.update({"SANDBOX_DATABASE": str(db), "SECRET_KEY": "layers-test", "XDG_STATE_HOME": str(tmp_path / "state"),
                "STATIC_BUILD_DIR": "", "TMPDIR": str(tmp_path), "LINE_API_TIMEOUT": "30",
                "LINE_API_BASE_URL": f"http://127.0.0.1:{free_port()}", "PYTHONDONTWRITEBYTECODE": "1"})

    built = run_python(NO_POSIX + "from line_token import create_app\n"
                       f"app = create_app({{'SANDBOX_DATABASE': {str(db)!r}, 'TESTING': True}})\n"
                       "print(app.test_client().get('/').status_code)", env)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == "200"

    helped = no_posix_cli(["--help"], env)
    assert helped.returncode == 0, helped.stderr
    assert "keygen" in helped.stdout

    made = no_posix_cli(["keygen", "--out", str(tmp_path / "keys")], env)
    assert made.returncode == 0, made.stderr
    private = json.loads((tmp_path / "keys" / "private.json").read_text())
    assert private["kty"] == "RSA" and "d" in private

    from line_token import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SANDBOX_DATABASE": str(db), "DATABASE_URL": ""})
    client = app.test_client()
    channel = client.post("/sandbox/api/channels", json={}).get_json()
    key_file = FIXTURES / "line-console-key-2020.json"
    public = signing.public_jwk(signing.load_private_key(json.loads(key_file.read_text())))
    kid = client.post(f"/sandbox/api/channels/{channel['channel_id']}/keys", json=public,
                      auth=(channel["channel_id"], channel["channel_secret"])).get_json()["kid"]
    rotated = no_posix_cli(["token", "rotate", "--channel-id", channel["channel_id"], "--kid", kid,
                            "--key", str(key_file), "--target", "sandbox"],
                           {**env, "LINE_CHANNEL_SECRET": channel["channel_secret"]})
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.strip()
    assert list((tmp_path / "state").rglob("*.json")), "rotate keeps its record of issued tokens"


def test_sandbox_port_80_or_443_leaves_the_in_process_sandbox_working(tmp_path):
    """The in-process transport's own host (sandbox.internal:80) is not the sandbox origin on port 80 or 443."""
    from line_token import create_app

    for port in ("80", "443"):
        app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SANDBOX_PORT": port,
                          "SANDBOX_DATABASE": str(tmp_path / f"{port}.sqlite3"), "DATABASE_URL": ""})
        client = app.test_client()
        # The tester on its own port; its JSON API calls the in-process sandbox.
        answer = client.post("/oauth2/v2.1/verify", json={"access_token": "abc", "target": "sandbox"},
                             base_url="http://localhost:5000")
        body = answer.get_json()
        # LINE's answer from the sandbox came back (its 400 for a malformed token), not a 404 of the origin app.
        assert answer.status_code == 200, body
        assert body["response_status_code"] == 400, body
        assert body["response_body"] == {"error": "invalid_request", "error_description": "The access token not JWS"}
        # The origin on that port is still the sandbox's: LINE's path at its root.
        origin = client.post("/oauth2/v2.1/token", data={}, base_url=f"http://localhost:{port}")
        assert origin.status_code == 400 and origin.get_json()["error"] == "invalid_request"

"""The sandbox at the root of its own origin (SANDBOX_PORT / SANDBOX_HOST), as the tester serves it:
the sandbox's Blueprint in an app of its own, with the tester's body bounds, languages, security and errors.

LINE's SDKs keep only the origin of a base URL (docs/line-api.md §0), so /sandbox/... is not enough for them.
"""
from __future__ import annotations

import uuid

from flask import Flask, Response

from ..sandbox import budget
from ..sandbox.origin import SandboxOrigin
from ..sandbox.routes import bp
from . import errors as errors_module
from . import i18n, security


def create_sandbox_app(main: Flask) -> Flask:
    """The sandbox alone at the root of its own origin: LINE's paths, /api/channels…, the console at /.

    It shares the tester's settings, store, templates and static files; no tester page is routed.
    """
    app = Flask(main.import_name, root_path=main.root_path, instance_path=main.instance_path)
    app.url_rule_class = main.url_rule_class
    app.config.update(main.config)
    app.config["SANDBOX_ONLY"] = True
    budget.init_app(app)  # the same cost checks as the main origin: sizes before parsing
    i18n.init_app(app)
    security.init_app(app)
    errors_module.init_app(app)
    app.extensions["sandbox_store"] = main.extensions["sandbox_store"]
    app.register_blueprint(bp)
    for name, template_filter in main.jinja_env.filters.items():  # the tester's filters (isoformat …)
        app.jinja_env.filters.setdefault(name, template_filter)

    @app.context_processor
    def helpers():
        def has_endpoint(name: str) -> bool:
            return name in app.view_functions

        return {"has_endpoint": has_endpoint}

    @app.after_request
    def every_answer_has_a_request_id(response: Response) -> Response:
        response.headers.setdefault("X-Line-Request-Id", str(uuid.uuid4()))
        return response

    return app


def mount_origin(app: Flask) -> None:
    """Route the sandbox's own origin (SANDBOX_PORT / SANDBOX_HOST) to the sandbox-only app.

    Called last in create_app, so this middleware sits outside the app's own (ProxyFix, body limits).
    """
    if not app.config.get("SANDBOX_ENABLED", True):
        return
    port, host = app.config.get("SANDBOX_PORT"), app.config.get("SANDBOX_HOST")
    if port or host:
        sandbox_app = create_sandbox_app(app)
        app.extensions["sandbox_app"] = sandbox_app
        app.wsgi_app = SandboxOrigin(app.wsgi_app, sandbox_app.wsgi_app, port, host)

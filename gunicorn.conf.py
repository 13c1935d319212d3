"""Gunicorn settings for a small dyno (and the tests and benchmark, which start
the server exactly as the Procfile does). https://docs.gunicorn.org/en/stable/settings.html"""
import os
import secrets

# One SECRET_KEY for all workers: each worker builds its own app, and with a random key
# per worker a form's CSRF token from one worker fails on another. Set here, in the
# master, before the workers fork; a deploy sets SECRET_KEY itself (app.json generates one).
if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = secrets.token_hex(32)

# Heroku-style platforms give the port in $PORT.
bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '5000')}"]
# SANDBOX_PORT: the same server also listens there, and the app serves the sandbox at the root of that
# origin (LINE's SDKs keep only a base URL's origin; see line_token/sandbox.py SandboxOrigin).
if (os.environ.get("SANDBOX_PORT") or "").strip():
    bind.append(f"{bind[0].rsplit(':', 1)[0]}:{os.environ['SANDBOX_PORT'].strip()}")

# Signing is CPU-bound (one RSA signature, about a millisecond) and proxying is
# I/O-bound (waiting on LINE): a few processes for the CPU, threads in each for
# the waiting. WEB_CONCURRENCY is the platform's hint for the process count.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# Don't load the app in the master: each worker builds its own (own DB connections).
preload_app = False

# Under the router's 30 s request timeout and dyno shutdown grace period.
timeout = 30
graceful_timeout = 20
# Above the router's idle timeout so it never reuses a connection we closed.
keepalive = 95

# Logs to stdout/stderr, where the platform collects them. The access log names
# the path only (%(U)s), never the query string: LINE's GET endpoints (and so
# the sandbox's) carry JWTs and tokens in it. Request bodies are never logged.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'

# X-Forwarded-* headers are the app's business, and only with TRUST_PROXY=1 (werkzeug's
# ProxyFix, see security.py). gunicorn would otherwise take X-Forwarded-Proto from any peer in
# FORWARDED_ALLOW_IPS (loopback by default; some platforms set "*") and mark plain-HTTP requests
# as HTTPS.
forwarded_allow_ips = ""
secure_scheme_headers = {}

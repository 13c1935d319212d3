"""The yardstick: the smallest Flask app that does what our two kinds of request do.

``bench/run.py`` serves it with the same gunicorn config as the Procfile
(``gunicorn --config gunicorn.conf.py bench.reference:app``) in the same run as
our app, and reports every row as a ratio to it: a page view against ``GET /``
(a short HTML string), a JSON call against ``POST /echo`` (parse a JSON body,
answer with its length). A ratio of 1 would be "as cheap as Flask allows".

``POST /sign`` is the floor for our JSON sign: the same body, parsed as ``/echo`` does, signed
by our signing module (``signing.assertion_from_fields``: the key loaded from the body and
dropped after, as every sign request must) with nothing else around it: no CSRF, limiter,
security headers or error pages. Our sign row cannot be cheaper than this one.
"""
from flask import Flask, jsonify, request

from line_token.core import signing  # stdlib only at import; cryptography and PyJWT load on the first sign

app = Flask(__name__)


@app.get("/")
def hello():
    return "<!doctype html><title>hello</title><p>Hello, world.</p>"


@app.post("/echo")
def echo():
    body = request.get_json()
    return jsonify(length=len(body) if isinstance(body, (dict, list, str)) else 0)


@app.post("/sign")
def sign():
    return jsonify(response_body=signing.assertion_from_fields(request.get_json()))

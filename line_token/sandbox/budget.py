"""The cost budget of one request, before any view runs: about 100 ms of CPU and
20 MB of memory above the idle worker, whatever the body holds.

Flask parses bodies lazily, on the first ``request.form`` or ``request.get_json()``,
which can come from the CSRF check, the rate limiter or a view. So the bounds
sit in the parsers themselves, installed on the app by :func:`init_app`:

* JSON bodies (:class:`BoundedJSONProvider`): at most MAX_JSON_CONTAINERS
  brackets and MAX_JSON_SEPARATORS separators, counted before parsing.
  ``[{},{},...]`` of 1 MiB would cost ~25 MB and ``[[[[...`` overflows the
  parser's recursion; both are a 400 naming the field ``body`` instead.
* Form bodies (:class:`BoundedRequest`): multipart bodies at most
  ``MAX_FORM_PARTS`` parts (werkzeug's own limit), urlencoded bodies at most
  MAX_FORM_FIELDS fields, counted before werkzeug builds its ``MultiDict``
  (349k fields in 1 MiB took ~250 ms).
"""
from __future__ import annotations

import io
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask.wrappers import Request
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser

from ..core import signing

MAX_FORM_FIELDS = 64  # our biggest form (a proxy page in one-step mode) has 17 fields
MAX_FORM_PARTS = 64  # the same for multipart bodies (werkzeug's MAX_FORM_PARTS; its default is 1,000)
BODY_FIELD = "body"


class BodyTooComplex(BadRequest):
    """A body with more fields or structure than any of ours: 400, naming ``field``."""

    def __init__(self, error: signing.SigningError):
        super().__init__()
        self.error = error
        self.field = error.field


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with the shape of a request body checked before it is parsed.

    Raises :class:`BodyTooComplex` (not a ValueError, so ``get_json(silent=True)``
    does not turn it into "no JSON" and a less precise message).
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            signing.check_json_shape(s, BODY_FIELD)
        except signing.SigningError as e:
            raise BodyTooComplex(e) from None
        try:
            return super().loads(s, **kwargs)
        except RecursionError:  # bounded by the count above; kept so it can never be a 500
            raise BodyTooComplex(signing.SigningError(BODY_FIELD, signing.NOT_JSON_DEEP, field=BODY_FIELD)) from None


class BoundedFormDataParser(FormDataParser):
    """werkzeug's form parser, refusing urlencoded bodies of more than MAX_FORM_FIELDS fields."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        data = stream.read()  # already limited to MAX_CONTENT_LENGTH by werkzeug
        fields = data.count(b"&") + 1  # parse_qsl splits on "&" only
        if fields > MAX_FORM_FIELDS:
            raise BodyTooComplex(signing.SigningError(
                BODY_FIELD, signing.N_("The form has %(count)s fields; this server takes at most %(limit)s. Send only "
                                       "the form's own fields."), count=f"{fields:,}", limit=MAX_FORM_FIELDS))
        return super()._parse_urlencoded(io.BytesIO(data), mimetype, content_length, options)


class BoundedRequest(Request):
    form_data_parser_class = BoundedFormDataParser


def init_app(app: Flask) -> None:
    app.request_class = BoundedRequest
    app.json = BoundedJSONProvider(app)

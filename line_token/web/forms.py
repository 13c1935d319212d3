"""Reading the pages' forms: the private key pasted or uploaded, and the guided fields.

The JWT page and the proxy pages' one-step mode both sign from a form; they
read it here and sign with :func:`signing.assertion_from_fields`, the same
function the JSON API and the CLI call.
"""
from __future__ import annotations

from typing import Mapping

from flask import request

from ..core import signing
from ..core.signing import InputError

MAX_UPLOAD = 64 * 1024  # a key file is a few KiB


def form_value(name: str, default: str = "") -> str:
    return (request.form.get(name) or default).strip()


def key_text(field: str = "private_key", file_field: str = "private_key_file") -> str:
    """The private key pasted in ``field``, or read from an uploaded file."""
    upload = request.files.get(file_field)
    if upload and upload.filename:
        data = upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise InputError(field, signing.N_("The key file is too large: choose the JSON or PEM key file itself."))
        return data.decode("utf-8", "replace")
    return request.form.get(field, "")


def has_key_upload(file_field: str = "private_key_file") -> bool:
    upload = request.files.get(file_field)
    return bool(upload and upload.filename)


def form_assertion(values: Mapping[str, str]) -> str:
    """Sign from a form's guided fields; the forms give the token lifetime in days unless told otherwise."""
    key = signing.load_private_key(key_text(), "private_key")
    fields = {name: values.get(name) for name in signing.GUIDED_FIELDS}
    fields["token_exp_unit"] = fields.get("token_exp_unit") or "days"
    return signing.assertion_from_fields(fields, key=key)

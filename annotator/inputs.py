"""Bounds on what a request may send: ids in URLs, whole numbers in query strings, body sizes,
JSON bodies and the text inside them. Every refusal is a 4xx naming the problem, never a 500."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import IO

from flask import Flask, Request, abort, current_app, request
from werkzeug.datastructures import FileStorage
from werkzeug.routing import IntegerConverter

from .services.annotations import SOURCES
from .services.messages import N_

# Ids are INTEGER columns: PostgreSQL's int4. SQLite could hold more, but such a row could
# never be copied to PostgreSQL, and a larger number in a query is a 500 on either backend.
MAX_ID = 2**31 - 1
MAX_JSON_DEPTH = 32  # our bodies nest three levels at most
MAX_LABEL_CHARS = 64  # keys are [a-z0-9_-]{1,32}; longer is never one, and is not echoed back
# The routes that take files: up to MAX_UPLOAD_MB; every other body up to MAX_BODY_KB.
UPLOAD_ENDPOINTS = frozenset({"api.import_articles", "admin.import_articles"})
UPLOAD_CHUNK = 1 << 20  # bytes of a raw upload read at a time
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: at most 18 digits, else the URL matches no route (404)."""

    regex = r"\d{1,18}"


def _ids_in_range(endpoint: str | None, values: dict | None) -> None:
    """404 for an id no id column can hold, whatever the method (a converter that refused it
    would make werkzeug answer 405 where the same URL takes another method)."""
    if values and any(isinstance(value, int) and value > MAX_ID for value in values.values()):
        abort(404)


class BoundedRequest(Request):
    """A request whose body limit depends on its route: an upload limit for imports, a far
    smaller one for label saves, forms and everything else."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None:
            return self._max_content_length
        return body_limit(current_app.config, self.endpoint)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    # An import's upload goes to a temporary file, a chunk at a time, and the import reads it
    # from there by its path: never whole in memory (a 64 MB upload cost 64 MB+ a request).
    _body_file: IO[bytes] | None = None

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None) -> IO[bytes]:
        """Where werkzeug writes a form's file: for an import, a named temporary file
        (`upload_path`), whatever its size; it is deleted when the request is closed."""
        if self.endpoint in UPLOAD_ENDPOINTS:
            return tempfile.NamedTemporaryFile("wb+", prefix="annotator-upload-")
        return super()._get_file_stream(total_content_length, content_type, filename,
                                        content_length)

    def body_file(self) -> Path:
        """An import's raw body (not a form), copied to a temporary file as it arrives
        (within the route's limit), the first time it is asked for; deleted with the request."""
        if self._body_file is None:
            self._body_file = file = tempfile.NamedTemporaryFile("wb+", prefix="annotator-upload-")
            stream = self.stream
            while chunk := stream.read(UPLOAD_CHUNK):
                file.write(chunk)
                if getattr(stream, "is_exhausted", False):  # its end, or the limit (read_body_first)
                    break
            file.flush()
        return Path(self._body_file.name)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._body_file is not None:
                self._body_file.close()


def upload_path(upload: FileStorage) -> Path:
    """The file of an import's form upload, on disk (BoundedRequest put it there)."""
    return Path(upload.stream.name)


def body_limit(config, endpoint: str | None) -> int:
    """The largest body, in bytes, a request to `endpoint` may send."""
    if endpoint in UPLOAD_ENDPOINTS:
        return config["MAX_CONTENT_LENGTH"]
    return int(float(config["MAX_BODY_KB"]) * 1024)


def too_large_message() -> str:
    """Why a body was refused with 413, naming the limit and the setting that sets it."""
    config = current_app.config
    if request.endpoint in UPLOAD_ENDPOINTS:
        return N_("the upload is larger than the limit of %(mb)s MB (ANNOTATOR_MAX_UPLOAD_MB)",
                  mb=config["MAX_UPLOAD_MB"]).on_web(N_(
                      "The file is larger than the upload limit of %(mb)s MB. An admin can raise "
                      "the limit with the ANNOTATOR_MAX_UPLOAD_MB setting.", mb=config["MAX_UPLOAD_MB"]))
    return N_("the request body is larger than the limit of %(kb)s KB (ANNOTATOR_MAX_BODY_KB)",
              kb=config["MAX_BODY_KB"]).on_web(N_(
                  "What was sent is larger than the limit of %(kb)s KB. An admin can raise the "
                  "limit with the ANNOTATOR_MAX_BODY_KB setting.", kb=config["MAX_BODY_KB"]))


def init_app(app: Flask) -> None:
    """Bound ids in URLs (the converter before any route is added), request bodies, and the
    text of query strings and forms."""
    app.url_map.converters["int"] = IdConverter
    app.url_value_preprocessor(_ids_in_range)
    app.before_request(_refuse_unstorable_fields)
    app.request_class = BoundedRequest


def _refuse_unstorable_fields() -> None:
    """400 for a NUL in a query parameter or form field, before any view runs: PostgreSQL can
    neither store nor compare one (a 500 otherwise), and no field has a use for it."""
    for query, fields in ((True, request.query_string and request.args),
                          (False, request.mimetype in FORM_TYPES and request.form)):
        for name, value in (fields.items(multi=True) if fields else ()):
            problem = storable_text_problem(name) or storable_text_problem(value)
            if problem and query:
                abort(400, N_("the query parameter %(name)s %(problem)s", name=repr(name),
                              problem=problem))
            if problem:
                abort(400, N_("the form field %(name)s %(problem)s", name=repr(name),
                              problem=problem))


def int_arg(name: str, default: int, *, minimum: int = 0, maximum: int = MAX_ID) -> int:
    """A whole number from the query string, between `minimum` and `maximum`, else 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        abort(400, _whole_number(name, minimum, maximum))
    value = int(raw)
    if not minimum <= value <= maximum:
        abort(400, _whole_number(name, minimum, maximum))
    return value


def _whole_number(name: str, minimum: int, maximum: int) -> str:
    return N_("%(name)s must be a whole number between %(minimum)s and %(maximum)s",
              name=name, minimum=minimum, maximum=maximum)


def json_body() -> dict:
    """The request's JSON object, refused with 400 before any write when it is not JSON, nests
    too deeply, or holds a string no database can store (a lone surrogate, a NUL); a body
    over the route's limit is 413."""
    if not request.is_json:
        abort(400, "the body must be a JSON object (send Content-Type: application/json)")
    data = request.get_data(cache=False)  # bounded by the route's limit (BoundedRequest): 413
    try:
        body = json.loads(data)
    except RecursionError:
        abort(400, f"the JSON body is nested too deeply (the limit is {MAX_JSON_DEPTH} levels)")
    except ValueError as error:  # not UTF-8, or not JSON
        abort(400, f"the body is not valid JSON ({error})")
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object")
    _check_strings(body, "", 1)
    return body


def _check_strings(value, path: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        abort(400, f"the JSON body is nested too deeply (the limit is {MAX_JSON_DEPTH} levels)")
    if isinstance(value, str):
        text_problem = storable_text_problem(value)
        if text_problem:
            abort(400, f'"{path or "the body"}" {text_problem}')
    elif isinstance(value, dict):
        for key, item in value.items():
            key_problem = storable_text_problem(key)
            if key_problem:
                abort(400, f"a key in {path or 'the body'} {key_problem}")
            _check_strings(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}[{index}]", depth + 1)


def storable_text_problem(text: str) -> str | None:
    """What keeps `text` out of a database (a lone surrogate: not Unicode; a NUL: refused by
    PostgreSQL), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return N_("contains a lone surrogate (%(char)s at character %(position)s): not valid "
                  "Unicode", char="U+" + format(ord(text[error.start]), "04X"),
                  position=error.start + 1)
    position = text.find("\x00")
    if position != -1:
        return N_("contains a NUL character (U+0000 at character %(position)s)",
                  position=position + 1)
    return None


def label_field(body: dict) -> str:
    """The body's "label": a string no longer than a label key may be, else 400."""
    label = body.get("label")
    if not isinstance(label, str) or not 0 < len(label) <= MAX_LABEL_CHARS:
        abort(400, '"label" must be a label key')
    return label


def source_field(body: dict) -> str:
    """The body's optional "source": "human" (the default) or "suggestion", else 400."""
    source = body.get("source", "human")
    if source not in SOURCES:
        abort(400, '"source" must be "human" or "suggestion"')
    return source


def note_field(body: dict, keep):
    """The body's optional "note": `keep` when absent, None for null or empty, else a string
    of at most MAX_NOTE_CHARS characters (400 beyond)."""
    note = body.get("note", keep)
    if note is keep or note is None:
        return note
    if not isinstance(note, str):
        abort(400, '"note" must be a string or null')
    limit = int(current_app.config["MAX_NOTE_CHARS"])
    if len(note) > limit:
        abort(400, f'"note" is {len(note)} characters long; the limit is {limit} '
                   "(ANNOTATOR_MAX_NOTE_CHARS)")
    return note or None

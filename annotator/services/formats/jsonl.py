"""jsonl: one article per line, and what no database can store or export refused at its line."""
from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..encodings import UTF_16
from ..messages import N_
from ..text import SPLITTERS
from .records import Budget, Invalid, Problem, Record, check_storable, checked, decode, is_blank

MAX_DEPTH = 100  # nesting of a JSON record (its meta): deeper cannot be stored or exported

_JSON_TYPES = {list: N_("an array"), str: N_("a string"), int: N_("a number"), float: N_("a number"),
               bool: N_("true or false"), type(None): N_("null")}


def jsonl_records(data: bytes | Path, name: str, encoding: str, split: str,
                  parse_seconds: float) -> Iterator[Record | Problem]:
    """A record or a Problem for each non-blank line, named by its physical line number.
    Each line has its own parse budget: a big file of plain records is no harder to read.
    A file is read as it goes (UTF-16 text, rare, is decoded whole)."""
    if encoding in UTF_16:
        raw = data if isinstance(data, bytes) else data.read_bytes()
        try:
            data = decode(raw, encoding).encode("utf-8")
        except Invalid as error:
            yield Problem(f"{name}:1", error.reason)
            return
        encoding = "utf-8"
    for number, raw in enumerate(_lines(data), start=1):
        if is_blank(raw):
            continue
        source = f"{name}:{number}"
        try:
            yield _jsonl_record(source, decode(raw, encoding), split,
                                Budget(parse_seconds, N_("JSONL record")))
        except Invalid as error:
            yield Problem(source, error.reason)


def _lines(data: bytes | Path) -> Iterator[bytes]:
    """The physical lines, without their ends: LF, CRLF or a lone CR ends a line (a raw CR
    cannot be inside a valid JSON text anyway)."""
    with data.open("rb") if isinstance(data, Path) else io.BytesIO(data) as file:
        for line in file:
            if line.endswith(b"\n"):
                line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            if b"\r" in line:
                yield from line.split(b"\r")
            else:
                yield line


def _not_json(constant: str):
    """Python's json reads NaN and Infinity; JSON (and PostgreSQL) do not."""
    raise Invalid(N_("not valid JSON (%(constant)s is not a JSON value)", constant=constant))


def _json_int(literal: str) -> int:
    if len(literal.lstrip("-")) > 4300:  # Python's own limit for int(str)
        raise Invalid(N_("a number has %(digits)s digits (4300 at most)",
                         digits=len(literal.lstrip("-"))))
    return int(literal)


def _json_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):  # 1e999: JSON has no infinity, PostgreSQL refuses it
        raise Invalid(N_("a number is too large (%(number)s)",
                         number=literal[:20] + ("..." if len(literal) > 20 else "")))
    return number


# where a NUL or a lone surrogate can come from (escapes), and how deep a line may nest
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _check_json(obj: dict, line: str) -> None:
    """Refuse what no database can store or export: NUL characters and lone surrogates in
    any key or string (meta included), and nesting deeper than MAX_DEPTH."""
    if not _SUSPECT_ESCAPE.search(line) and line.count("[") + line.count("{") <= MAX_DEPTH:
        return
    # a page's HTML may hold stray NULs: parsing drops them (html.html_page)
    stack: list[tuple[Any, str, int]] = [
        (value.replace("\x00", "") if key == "html" and isinstance(value, str) else value,
         f'"{key}"', 1) for key, value in obj.items()]
    stack += [(key, N_("a key"), 1) for key in obj]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Invalid(N_("%(where)s nests deeper than %(depth)s levels", where=where,
                             depth=MAX_DEPTH))
        if isinstance(value, str):
            check_storable(value, where)
        elif isinstance(value, dict):
            stack += [(item, where, depth + 1) for pair in value.items() for item in pair]
        elif isinstance(value, list):
            stack += [(item, where, depth + 1) for item in value]


def _check_url(url: str) -> None:
    """A URL must be one that the export (its site) can read back."""
    try:
        urlsplit(url).hostname
    except ValueError as error:
        raise Invalid(N_('"url" is not a valid URL (%(error)s)', error=error)) from None


def _jsonl_record(source: str, line: str, split: str, budget: Budget) -> Record:
    try:
        obj = json.loads(line, parse_constant=_not_json, parse_int=_json_int,
                         parse_float=_json_float)
    except json.JSONDecodeError as error:
        raise Invalid(N_("not valid JSON (%(error)s at column %(column)s)", error=error.msg,
                         column=error.colno)) from None
    except RecursionError:
        raise Invalid(N_("the record nests deeper than %(depth)s levels", depth=MAX_DEPTH)) from None
    if not isinstance(obj, dict):
        raise Invalid(N_("a record must be a JSON object, not %(type)s", type=_JSON_TYPES[type(obj)]))
    _check_json(obj, line)
    title = obj.get("title")
    if title is None:
        raise Invalid(N_('missing "title"'))
    if not isinstance(title, str):
        raise Invalid(N_('"title" must be a string'))
    bodies = [key for key in ("paragraphs", "text", "html") if key in obj]
    if len(bodies) != 1:
        which = N_("none") if not bodies else " and ".join(f'"{key}"' for key in bodies)
        raise Invalid(N_('a record needs exactly one of "paragraphs", "text" or "html" (has '
                         '%(which)s)', which=which))
    body = obj[bodies[0]]
    structure = None
    if bodies[0] == "paragraphs":
        if not isinstance(body, list) or not all(map(isinstance, body, repeat(str))):
            raise Invalid(N_('"paragraphs" must be a list of strings'))
        paragraphs = body
    elif not isinstance(body, str):
        raise Invalid(N_('"%(key)s" must be a string', key=bodies[0]))
    elif bodies[0] == "text":
        paragraphs = SPLITTERS[split](body)
    else:
        from .html import html_page  # lxml is imported only by what reads HTML

        _, paragraphs, structure = html_page(body, budget)
    for key in ("id", "url"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise Invalid(N_('"%(key)s" must be a string', key=key))
    article_id = obj.get("id")
    if article_id is not None and not 1 <= len(article_id) <= 255:
        raise Invalid(N_('"id" must be 1 to 255 characters'))
    if obj.get("url"):
        _check_url(obj["url"])
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise Invalid(N_('"meta" must be a JSON object'))
    return checked(Record(source, title, paragraphs, article_id, obj.get("url") or None,
                          meta or {}, structure))

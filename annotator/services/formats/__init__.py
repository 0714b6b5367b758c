"""Read import files (jsonl, txt, md, html) into article records, or say why not."""
from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path, PurePath

from ..encodings import UTF_16, UnknownEncoding, bom_encoding, html_encoding, user_encoding
from ..messages import N_
from .jsonl import jsonl_records
from .markdown import md_article
from .records import PARSE_SECONDS, Budget, Invalid, Problem, Record, checked, decode, is_blank
from .txt import txt_article

__all__ = ["EXTENSIONS", "FORMATS", "Problem", "Record", "format_for_name", "read_records"]

FORMATS = ("jsonl", "txt", "md", "html")
EXTENSIONS = {".jsonl": "jsonl", ".txt": "txt", ".md": "md", ".markdown": "md",
              ".html": "html", ".htm": "html"}


def format_for_name(name: str) -> str | None:
    """The format a file name's extension stands for (auto-detection), or None."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return EXTENSIONS.get(f".{suffix}")


CHUNK = 1 << 20  # bytes read at a time from a file
_WHAT = {"txt": N_("text"), "md": "Markdown", "html": "HTML"}


def read_records(data: bytes | Path, name: str, fmt: str, *, encoding: str | None = None,
                 split: str = "line", parse_seconds: float = PARSE_SECONDS,
                 ) -> Iterator[Record | Problem]:
    """Turn one file's bytes into records, yielding a Problem for each bad one. A jsonl file
    given as a path is read a line at a time, never whole; other formats hold one article."""
    try:
        yield from _records(data, name, fmt, encoding, split, parse_seconds)
    except OSError as error:  # a file removed or unreadable since it was listed
        yield Problem(f"{name}:1", f"cannot read: {error.strerror or error}")


def _records(data: bytes | Path, name: str, fmt: str, encoding: str | None, split: str,
             parse_seconds: float) -> Iterator[Record | Problem]:
    if isinstance(data, Path) and fmt != "jsonl":
        data = data.read_bytes()
    blank, nul, head = _survey(data)
    if blank:
        yield Problem(f"{name}:1", N_("file is empty"))
        return
    try:
        user = user_encoding(encoding) if encoding else None
    except UnknownEncoding as error:
        yield Problem(f"{name}:1", error.args[0])
        return
    wide = user or (bom_encoding(data) if fmt == "html" else None)
    if nul and wide not in UTF_16:
        yield Problem(f"{name}:1", _nul_reason(head))
        return
    if fmt == "jsonl":
        yield from jsonl_records(data, name, user or "utf-8", split, parse_seconds)
        return
    budget = Budget(parse_seconds, _WHAT[fmt])
    try:
        if fmt == "html":
            from .html import html_page  # lxml is imported only by what reads HTML

            used, errors = html_encoding(data, user)
            title, paragraphs, structure = html_page(decode(data, used, errors), budget)
            record = Record(f"{name}:1", title or PurePath(name).stem, paragraphs,
                            meta={"encoding": used}, features=structure)
        else:
            text = decode(data, user or "utf-8")
            title, paragraphs = (md_article if fmt == "md" else txt_article)(text, split, budget)
            record = Record(f"{name}:1", title, paragraphs)
        yield checked(record)
    except Invalid as error:
        yield Problem(f"{name}:1", error.reason)


def _survey(data: bytes | Path) -> tuple[bool, bool, bytes]:
    """Whether the bytes are blank (records.is_blank), whether they hold a NUL, and their
    first bytes; a file is read in chunks."""
    if isinstance(data, bytes):
        return is_blank(data), b"\x00" in data, data[:4]
    blank, nul = True, False
    with data.open("rb") as file:
        head = chunk = file.read(CHUNK)
        chunk = chunk.removeprefix(codecs.BOM_UTF8)
        while chunk and (blank or not nul):
            blank = blank and not chunk.strip()
            nul = nul or b"\x00" in chunk
            chunk = file.read(CHUNK)
    return blank, nul, head[:4]


def _nul_reason(head: bytes) -> str:
    """Why bytes holding NULs are refused (given their first bytes); UTF-16 text (Windows
    "Unicode") gets a hint."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return N_("the file is UTF-16 text (it starts with a UTF-16 byte-order mark); pass "
                  "--encoding utf-16").on_web(N_(
                      "the file is UTF-16 text (it starts with a UTF-16 byte-order mark): enter "
                      "utf-16 in the Encoding field"))
    return N_("binary file, not text (it contains NUL bytes)")

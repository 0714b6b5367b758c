"""Read import files (jsonl, txt, md, html, warc) into article records, or say why not."""
from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

from ...choices import FORMATS
from ..encodings import UTF_16, UnknownEncoding, bom_encoding, user_encoding
from ..messages import N_
from .jsonl import jsonl_records
from .markdown import md_article
from .records import PARSE_SECONDS, Budget, Invalid, Problem, Record, checked, decode, is_blank
from .txt import txt_article

__all__ = ["EXTENSIONS", "FORMATS", "Problem", "Record", "Skipped", "format_for_name",
           "read_records"]

EXTENSIONS = {".jsonl": "jsonl", ".txt": "txt", ".md": "md", ".markdown": "md",
              ".html": "html", ".htm": "html", ".warc": "warc", ".warc.gz": "warc"}


# bytes no text holds (WHATWG MIME sniffing's "binary data bytes"): about a tenth of an image's
# or a compressed file's; an HTML page holding NULs is text while they are under 1 in 100 of
# its first CHUNK
BINARY_BYTES = bytes([*range(9), 11, *range(14, 27), *range(28, 32)])
STRAY_SHARE = 0.01


@dataclass
class Skipped:
    """A record of a WARC file that is no article: warc.SKIPPED names why."""

    why: str


def format_for_name(name: str) -> str | None:
    """The format a file name's extension (or two, `.warc.gz`) stands for, or None."""
    parts = name.lower().rsplit("/", 1)[-1].split(".")[1:]
    return EXTENSIONS.get("." + ".".join(parts[-2:])) or EXTENSIONS.get("." + "".join(parts[-1:]))


CHUNK = 1 << 20  # bytes read at a time from a file
_WHAT = {"txt": N_("text"), "md": "Markdown", "html": "HTML"}


def read_records(data: bytes | Path, name: str, fmt: str, *, encoding: str | None = None,
                 split: str = "line", parse_seconds: float = PARSE_SECONDS,
                 seen: set[bytes] | None = None) -> Iterator[Record | Problem | Skipped]:
    """Turn one file's bytes into records, yielding a Problem for each bad one. A jsonl file
    given as a path is read a line at a time, a WARC file a record at a time (a Skipped for
    each that is no article; `seen`: the URLs taken, across files), never whole; other
    formats hold one article."""
    try:
        if fmt == "warc":
            yield from _warc(data, name, encoding, parse_seconds, seen)
            return
        yield from _records(data, name, fmt, encoding, split, parse_seconds)
    except OSError as error:  # a file removed or unreadable since it was listed
        yield Problem(f"{name}:1", f"cannot read: {error.strerror or error}")


def _warc(data: bytes | Path, name: str, encoding: str | None, parse_seconds: float,
          seen: set[bytes] | None) -> Iterator[Record | Problem | Skipped]:
    from .warc import warc_records  # warcio and lxml are imported only by what reads WARC

    try:
        user = user_encoding(encoding) if encoding else None
    except UnknownEncoding as error:
        yield Problem(f"{name}:1", error.args[0])
        return
    yield from warc_records(data, name, user, parse_seconds, seen)


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
    # a stray NUL in a page is dropped as a browser drops it (html.html_page); many are binary
    if nul and wide not in UTF_16 and (fmt != "html" or _binary(data)):
        yield Problem(f"{name}:1", _nul_reason(head))
        return
    if fmt == "jsonl":
        yield from jsonl_records(data, name, user or "utf-8", split, parse_seconds)
        return
    budget = Budget(parse_seconds, _WHAT[fmt])
    try:
        if fmt == "html":
            from .html import html_record  # lxml is imported only by what reads HTML

            yield html_record(data, f"{name}:1", PurePath(name).stem, user, budget)
            return
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


def _binary(data: bytes) -> bool:
    """Whether over STRAY_SHARE of the first CHUNK bytes are BINARY_BYTES (a page's stray NULs
    are not; an image or a compressed file is binary from its start)."""
    sample = data[:CHUNK]
    return len(sample) - len(sample.translate(None, BINARY_BYTES)) > len(sample) * STRAY_SHARE


def _nul_reason(head: bytes) -> str:
    """Why bytes holding NULs are refused (given their first bytes); UTF-16 text (Windows
    "Unicode") gets a hint."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return N_("the file is UTF-16 text (it starts with a UTF-16 byte-order mark); pass "
                  "--encoding utf-16").on_web(N_(
                      "the file is UTF-16 text (it starts with a UTF-16 byte-order mark): enter "
                      "utf-16 in the Encoding field"))
    return N_("binary file, not text (it contains NUL bytes)")

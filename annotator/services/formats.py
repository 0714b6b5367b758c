"""Read import files (jsonl, txt, md, html) into article records, or say why not."""
from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.html
from lxml import etree
from markdown_it import MarkdownIt

from .text import SPLITTERS, normalise, paragraphs_of

FORMATS = ("jsonl", "txt", "md", "html")
EXTENSIONS = {".jsonl": "jsonl", ".txt": "txt", ".md": "md", ".markdown": "md",
              ".html": "html", ".htm": "html"}


def format_for_name(name: str) -> str | None:
    """The format a file name's extension stands for (auto-detection), or None."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return EXTENSIONS.get(f".{suffix}")


@dataclass
class Record:
    """One article as read from its source, before de-duplication."""

    source: str  # FILE:LINE
    title: str
    paragraphs: list[str]
    article_id: str | None = None
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Problem:
    """A record or file that cannot be imported, and why."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


class Invalid(Exception):
    """Raised inside a parser; becomes a Problem at the record's source."""


def read_records(data: bytes, name: str, fmt: str, *, encoding: str | None = None,
                 split: str = "line") -> Iterator[Record | Problem]:
    """Turn one file's bytes into records, yielding a Problem for each bad one."""
    if _is_blank(data):
        yield Problem(f"{name}:1", "file is empty")
        return
    if b"\x00" in data and not _is_wide_encoding(encoding):
        yield Problem(f"{name}:1", _nul_reason(data))
        return
    if fmt == "jsonl":
        yield from _jsonl_records(data, name, encoding or "utf-8", split)
        return
    try:
        if fmt == "html":
            text = decode(data, _html_encoding(data, encoding))
            title, paragraphs = html_article(text)
        else:
            text = decode(data, encoding or "utf-8")
            title, paragraphs = (md_article if fmt == "md" else txt_article)(text, split)
        yield checked(Record(f"{name}:1", title, paragraphs))
    except Invalid as error:
        yield Problem(f"{name}:1", str(error))


def _is_blank(data: bytes) -> bool:
    """Nothing but ASCII whitespace, after a UTF-8 BOM if there is one."""
    return not data.removeprefix(codecs.BOM_UTF8).strip()


def _nul_reason(data: bytes) -> str:
    """Why bytes holding NULs are refused; UTF-16 text (Windows "Unicode") gets a hint."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ("the file is UTF-16 text (it starts with a UTF-16 byte-order mark); "
                "pass --encoding utf-16")
    return "binary file, not text (it contains NUL bytes)"


def checked(record: Record) -> Record:
    """Normalise a record's title and paragraphs, refusing one with neither."""
    record.title = normalise(record.title)
    if not record.title:
        raise Invalid("missing or empty title")
    record.paragraphs = paragraphs_of(record.paragraphs)
    if not record.paragraphs:
        raise Invalid("no paragraphs")
    for text in (record.title, *record.paragraphs):
        _check_storable(text)
    return record


def _check_storable(text: str) -> None:
    """Refuse what no database can hold: NUL characters and lone surrogates (from JSON escapes)."""
    if "\x00" in text:
        raise Invalid("text contains a NUL character (U+0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise Invalid(f"text contains a lone surrogate (U+{ord(text[error.start]):04X}), "
                      "which is not valid Unicode") from None


def decode(data: bytes, encoding: str) -> str:
    """Decode strictly, naming the first offending byte; a UTF-8 BOM is allowed."""
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise Invalid(f"unknown encoding {encoding!r}") from None
    if codec.name == "utf-8":
        codec = codecs.lookup("utf-8-sig")
    try:
        return codec.decode(data)[0]
    except UnicodeDecodeError as error:
        bad = data[error.start:error.start + 1].hex()
        raise Invalid(f"bytes do not decode as {encoding} (byte 0x{bad} at offset "
                      f"{error.start}); pass --encoding if the file uses another one") from None


def _is_wide_encoding(encoding: str | None) -> bool:
    return bool(encoding) and "\n".encode(encoding) != b"\n"  # UTF-16, UTF-32


# --- jsonl ---------------------------------------------------------------------------

# LF, CRLF or a lone CR ends a line; a raw CR cannot be inside a valid JSON text anyway
_LINE_END = re.compile(rb"\r\n?|\n")


def _jsonl_records(data: bytes, name: str, encoding: str, split: str) -> Iterator[Record | Problem]:
    if _is_wide_encoding(encoding):
        try:
            lines = _LINE_END.split(decode(data, encoding).encode("utf-8"))
        except Invalid as error:
            yield Problem(f"{name}:1", str(error))
            return
        encoding = "utf-8"
    else:
        lines = _LINE_END.split(data)
    for number, raw in enumerate(lines, start=1):
        if _is_blank(raw):
            continue
        source = f"{name}:{number}"
        try:
            yield _jsonl_record(source, decode(raw, encoding), split)
        except Invalid as error:
            yield Problem(source, str(error))


def _not_json(constant: str):
    """Python's json reads NaN and Infinity; JSON (and PostgreSQL) do not."""
    raise Invalid(f"not valid JSON ({constant} is not a JSON value)")


def _jsonl_record(source: str, line: str, split: str) -> Record:
    try:
        obj = json.loads(line, parse_constant=_not_json)
    except json.JSONDecodeError as error:
        raise Invalid(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(obj, dict):
        raise Invalid(f"a record must be a JSON object, not {type(obj).__name__}")
    title = obj.get("title")
    if title is None:
        raise Invalid('missing "title"')
    if not isinstance(title, str):
        raise Invalid('"title" must be a string')
    bodies = [key for key in ("paragraphs", "text", "html") if key in obj]
    if len(bodies) != 1:
        which = "none" if not bodies else " and ".join(f'"{key}"' for key in bodies)
        raise Invalid(f'a record needs exactly one of "paragraphs", "text" or "html" (has {which})')
    body = obj[bodies[0]]
    if bodies[0] == "paragraphs":
        if not isinstance(body, list) or not all(isinstance(item, str) for item in body):
            raise Invalid('"paragraphs" must be a list of strings')
        paragraphs = body
    elif not isinstance(body, str):
        raise Invalid(f'"{bodies[0]}" must be a string')
    elif bodies[0] == "text":
        paragraphs = SPLITTERS[split](body)
    else:
        paragraphs = html_article(body)[1]
    for key in ("id", "url"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise Invalid(f'"{key}" must be a string')
    article_id = obj.get("id")
    if article_id is not None and not 1 <= len(article_id) <= 255:
        raise Invalid('"id" must be 1 to 255 characters')
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise Invalid('"meta" must be a JSON object')
    return checked(Record(source, title, paragraphs, article_id, obj.get("url") or None,
                          meta or {}))


# --- txt -------------------------------------------------------------------------------

def txt_article(text: str, split: str) -> tuple[str, list[str]]:
    """The first non-empty line is the title; the rest is split into paragraphs."""
    title, _, body = normalise(text).partition("\n")
    return title, SPLITTERS[split](body)


# --- md --------------------------------------------------------------------------------

_markdown = MarkdownIt("commonmark")


def md_article(text: str, _split: str = "line") -> tuple[str, list[str]]:
    """Each block (paragraph, heading, list item, quote, code) is a paragraph; title: 1st heading."""
    text = normalise(text)
    title = None
    paragraphs = []
    tokens = _markdown.parse(text)
    for position, token in enumerate(tokens):
        if token.type == "inline":
            paragraphs.append(token.content)
            if not title and tokens[position - 1].type == "heading_open":
                title = token.content.strip()  # an empty heading (`#`) is not the title
        elif token.type in ("fence", "code_block", "html_block"):
            paragraphs.append(token.content)
    if not title:
        title = text.partition("\n")[0]
    return title, paragraphs


# --- html ------------------------------------------------------------------------------

BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "th",
          "dt", "dd", "figcaption"}
CONTAINERS = {"div", "section", "article", "main", "header", "footer", "aside", "nav", "body",
              # not named as text holders, but a browser breaks lines around them too
              "ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr", "figure", "form",
              "fieldset", "address", "hgroup", "details", "summary", "caption", "hr", "html"}
DROPPED = {"script", "style", "noscript", "template", "head", "title"}
_WHITESPACE = re.compile(r"[ \t\n\f\r]+")  # HTML's (ASCII) whitespace: not U+3000 or U+00A0
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# WHATWG: pages labelled gb2312 or gbk are decoded as GBK, whose superset is GB18030
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
                    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252"}


def _html_encoding(data: bytes, encoding: str | None) -> str:
    """A BOM wins, then --encoding, then the page's declared charset, then UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if encoding:
        return encoding
    match = _META_CHARSET.search(data[:4096])
    if match:
        declared = match.group(1).decode("ascii").lower()
        declared = _CHARSET_ALIASES.get(declared, declared)
        try:
            codecs.lookup(declared)
            return declared
        except LookupError:
            pass
    return "utf-8"


def html_article(text: str) -> tuple[str, list[str]]:
    """Title and block texts of an HTML page, in document order, as a browser lays them out."""
    text = normalise(text)
    if not text:
        return "", []
    try:
        root = lxml.html.document_fromstring(
            text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (etree.ParserError, ValueError) as error:
        raise Invalid(f"cannot parse HTML ({error})") from None
    title_element = root.find(".//title")
    title = _inline_text(title_element.text_content()) if title_element is not None else ""
    if not title:
        heading = root.find(".//h1")
        title = _inline_text(heading.text_content()) if heading is not None else ""
    paragraphs: list[str] = []
    _collect_blocks(root, paragraphs)
    return title, paragraphs


def _inline_text(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _collect_blocks(root: lxml.html.HtmlElement, out: list[str]) -> None:
    """Walk the tree; every block or container boundary ends the text gathered so far."""
    buffer: list[str] = []
    preformatted = 0

    def flush() -> None:
        joined = "".join(buffer)
        buffer.clear()
        text = joined.strip() if preformatted else _inline_text(joined)
        if text:
            out.append(text)

    # explicit stack of (element, entering): deep pages must not exhaust recursion
    stack: list[tuple[lxml.html.HtmlElement, bool]] = [(root, True)]
    while stack:
        element, entering = stack.pop()
        tag = element.tag if isinstance(element.tag, str) else ""  # "" for comments
        boundary = tag in BLOCKS or tag in CONTAINERS
        if entering:
            if tag and tag not in DROPPED:
                if boundary:
                    flush()
                if tag == "pre":
                    preformatted += 1
                elif tag == "br":
                    buffer.append("\n" if preformatted else " ")
                if element.text:
                    buffer.append(element.text)
                stack.append((element, False))
                stack.extend((child, True) for child in reversed(element))
            elif element.tail:  # a dropped element or comment: only its tail is shown
                buffer.append(element.tail)
        else:
            if boundary:
                flush()
            if tag == "pre":
                preformatted -= 1
            if element.tail:
                buffer.append(element.tail)
    flush()

"""Read import files (jsonl, txt, md, html) into article records, or say why not."""
from __future__ import annotations

import codecs
import itertools
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from lxml import etree
from markdown_it import MarkdownIt

from .encodings import CODECS, UTF_16, UnknownEncoding, bom_encoding, html_encoding, user_encoding
from .text import SPLITTERS, normalise, paragraphs_of

FORMATS = ("jsonl", "txt", "md", "html")
PARSE_SECONDS = 10.0  # CPU time one file may take to parse
MAX_DEPTH = 100  # nesting of a JSON record (its meta): deeper cannot be stored or exported
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


class TooComplex(Invalid):
    """A file that took more than its parse budget."""


class Budget:
    """The CPU time one file may take to parse (this thread's, so a busy server does not
    refuse files a quiet one takes), checked as the parsers go."""

    def __init__(self, seconds: float, what: str):
        self.seconds = seconds
        self.what = what
        self.deadline = time.thread_time() + seconds

    def check(self) -> None:
        if time.thread_time() > self.deadline:
            raise TooComplex(f"the {self.what} is too complex to parse (more than "
                          f"{self.seconds:g} s of CPU time); split or simplify the file")


_WHAT = {"jsonl": "JSONL", "txt": "text", "md": "Markdown", "html": "HTML"}


def read_records(data: bytes, name: str, fmt: str, *, encoding: str | None = None,
                 split: str = "line", parse_seconds: float = PARSE_SECONDS,
                 ) -> Iterator[Record | Problem]:
    """Turn one file's bytes into records, yielding a Problem for each bad one."""
    if _is_blank(data):
        yield Problem(f"{name}:1", "file is empty")
        return
    try:
        user = user_encoding(encoding) if encoding else None
    except UnknownEncoding as error:
        yield Problem(f"{name}:1", str(error))
        return
    wide = user or (bom_encoding(data) if fmt == "html" else None)
    if b"\x00" in data and wide not in UTF_16:
        yield Problem(f"{name}:1", _nul_reason(data))
        return
    budget = Budget(parse_seconds, _WHAT[fmt])
    if fmt == "jsonl":
        yield from _jsonl_records(data, name, user or "utf-8", split, budget)
        return
    try:
        if fmt == "html":
            used, errors = html_encoding(data, user)
            title, paragraphs = html_article(decode(data, used, errors), budget)
            record = Record(f"{name}:1", title or PurePath(name).stem, paragraphs,
                            meta={"encoding": used})
        else:
            text = decode(data, user or "utf-8")
            title, paragraphs = (md_article if fmt == "md" else txt_article)(text, split, budget)
            record = Record(f"{name}:1", title, paragraphs)
        yield checked(record)
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


def _check_storable(text: str, where: str = "text") -> None:
    """Refuse what no database can hold: NUL characters and lone surrogates (from JSON escapes)."""
    if "\x00" in text:
        raise Invalid(f"{where} contains a NUL character (U+0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise Invalid(f"{where} contains a lone surrogate (U+{ord(text[error.start]):04X}), "
                      "which is not valid Unicode") from None


def decode(data: bytes, encoding: str, errors: str = "strict") -> str:
    """Decode (a WHATWG name), strictly unless told, naming the first offending byte; a BOM
    is allowed."""
    codec = CODECS[encoding]
    try:
        return codecs.decode(data, "utf-8-sig" if codec == "utf-8" else codec, errors)
    except UnicodeDecodeError as error:
        bad = data[error.start:error.start + 1].hex()
        raise Invalid(f"bytes do not decode as {encoding} (byte 0x{bad} at offset "
                      f"{error.start}); pass --encoding if the file uses another one") from None


# --- jsonl ---------------------------------------------------------------------------

# LF, CRLF or a lone CR ends a line; a raw CR cannot be inside a valid JSON text anyway
_LINE_END = re.compile(rb"\r\n?|\n")


def _jsonl_records(data: bytes, name: str, encoding: str, split: str,
                   budget: Budget) -> Iterator[Record | Problem]:
    if encoding in UTF_16:
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
            budget.check()
            yield _jsonl_record(source, decode(raw, encoding), split, budget)
        except TooComplex as error:  # once, for the rest of the file
            yield Problem(source, str(error))
            return
        except Invalid as error:
            yield Problem(source, str(error))


def _not_json(constant: str):
    """Python's json reads NaN and Infinity; JSON (and PostgreSQL) do not."""
    raise Invalid(f"not valid JSON ({constant} is not a JSON value)")


def _json_int(literal: str) -> int:
    if len(literal.lstrip("-")) > 4300:  # Python's own limit for int(str)
        raise Invalid(f"a number has {len(literal.lstrip('-'))} digits (4300 at most)")
    return int(literal)


def _json_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):  # 1e999: JSON has no infinity, PostgreSQL refuses it
        raise Invalid(f"a number is too large ({literal[:20]}{'...' if len(literal) > 20 else ''})")
    return number


# where a NUL or a lone surrogate can come from (escapes), and how deep a line may nest
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _check_json(obj: dict, line: str) -> None:
    """Refuse what no database can store or export: NUL characters and lone surrogates in
    any key or string (meta included), and nesting deeper than MAX_DEPTH."""
    if not _SUSPECT_ESCAPE.search(line) and line.count("[") + line.count("{") <= MAX_DEPTH:
        return
    stack: list[tuple[Any, str, int]] = [(value, f'"{key}"', 1) for key, value in obj.items()]
    stack += [(key, "a key", 1) for key in obj]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Invalid(f"{where} nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            _check_storable(value, where)
        elif isinstance(value, dict):
            stack += [(item, where, depth + 1) for pair in value.items() for item in pair]
        elif isinstance(value, list):
            stack += [(item, where, depth + 1) for item in value]


def _check_url(url: str) -> None:
    """A URL must be one that the export (its site) can read back."""
    try:
        urlsplit(url).hostname
    except ValueError as error:
        raise Invalid(f'"url" is not a valid URL ({error})') from None


def _jsonl_record(source: str, line: str, split: str, budget: Budget) -> Record:
    try:
        obj = json.loads(line, parse_constant=_not_json, parse_int=_json_int,
                         parse_float=_json_float)
    except json.JSONDecodeError as error:
        raise Invalid(f"not valid JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
        raise Invalid(f"the record nests deeper than {MAX_DEPTH} levels") from None
    if not isinstance(obj, dict):
        raise Invalid(f"a record must be a JSON object, not {type(obj).__name__}")
    _check_json(obj, line)
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
        paragraphs = html_article(body, budget)[1]
    for key in ("id", "url"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise Invalid(f'"{key}" must be a string')
    article_id = obj.get("id")
    if article_id is not None and not 1 <= len(article_id) <= 255:
        raise Invalid('"id" must be 1 to 255 characters')
    if obj.get("url"):
        _check_url(obj["url"])
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise Invalid('"meta" must be a JSON object')
    return checked(Record(source, title, paragraphs, article_id, obj.get("url") or None,
                          meta or {}))


# --- txt -------------------------------------------------------------------------------

def txt_article(text: str, split: str, _budget: Budget | None = None) -> tuple[str, list[str]]:
    """The first non-empty line is the title; the rest is split into paragraphs."""
    title, _, body = normalise(text).partition("\n")
    return title, SPLITTERS[split](body)


# --- md --------------------------------------------------------------------------------

def _inline_budget(state, _silent) -> bool:
    state.env["budget"].check()
    return False  # never matches: the other rules go on as before


def _block_budget(state, _start, _end, _silent) -> bool:
    state.env["budget"].check()
    return False


# markdown-it-py is linear but slow on some input (40 us a character for `![` repeated):
# rules that match nothing check the budget wherever the parsers try a rule
_markdown = MarkdownIt("commonmark")
_markdown.inline.ruler.before("text", "budget", _inline_budget)
_markdown.block.ruler.before("table", "budget", _block_budget)


def md_article(text: str, _split: str = "line",
               budget: Budget | None = None) -> tuple[str, list[str]]:
    """Each block (paragraph, heading, list item, quote, code) is a paragraph; title: 1st heading."""
    text = normalise(text)
    title = None
    paragraphs = []
    tokens = _markdown.parse(text, {"budget": budget or Budget(PARSE_SECONDS, "Markdown")})
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
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def html_article(text: str, budget: Budget | None = None) -> tuple[str, list[str]]:
    """Title and block texts of an HTML page, in document order, as a browser lays them out."""
    budget = budget or Budget(PARSE_SECONDS, "HTML")
    text = normalise(text)
    if not text:
        return "", []
    # huge_tree: without it libxml2 silently drops what lies past depth 255 or in a text
    # node or attribute over 10 MB; with it, past depth 2048, which `_parse_loss` reports
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as error:
        raise Invalid(f"cannot parse HTML ({error})") from None
    fatal = [error for error in parser.error_log if error.level_name == "FATAL"]
    if fatal:
        raise Invalid(f"the HTML cannot be read whole (line {fatal[0].line}, column "
                      f"{fatal[0].column}: {fatal[0].message})")
    budget.check()
    paragraphs: list[str] = []
    _collect_blocks(root, paragraphs, budget)
    return _html_title(root), paragraphs


def _html_title(root: lxml.html.HtmlElement) -> str:
    """`<title>`, else the first `<h1>`, else `og:title`, else the first heading of any level."""
    candidates = itertools.chain(
        (element.text_content() for element in root.iter("title")),
        (element.text_content() for element in root.iter("h1")),
        root.xpath("//meta[@property='og:title' or @name='og:title']/@content"),
        (element.text_content() for element in root.iter(*HEADINGS)))
    return next((title for title in map(_inline_text, candidates) if title), "")


def _inline_text(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _collect_blocks(root: lxml.html.HtmlElement, out: list[str], budget: Budget) -> None:
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
    steps = 0
    while stack:
        steps += 1
        if not steps % 4096:
            budget.check()
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

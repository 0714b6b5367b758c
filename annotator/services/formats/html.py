"""html: one article per page, its block texts in document order, as a browser lays them out."""
from __future__ import annotations

import itertools
import re
from typing import Any

import lxml.html
from lxml import etree

from ...suggest.structure import Frame, extracted_text, features, mark_extracted
from ..encodings import html_encoding
from ..messages import N_
from ..text import normalise
from .records import PARSE_SECONDS, Budget, Invalid, Record, checked, decode

BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "th",
          "dt", "dd", "figcaption"}
CONTAINERS = {"div", "section", "article", "main", "header", "footer", "aside", "nav", "body",
              # not named as text holders, but a browser breaks lines around them too
              "ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr", "figure", "form",
              "fieldset", "address", "hgroup", "details", "summary", "caption", "hr", "html"}
DROPPED = {"script", "style", "noscript", "template", "head", "title"}
_WHITESPACE = re.compile(r"[ \t\n\f\r]+")  # HTML's (ASCII) whitespace: not U+3000 or U+00A0
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# libxml2's tree takes 25-40 times a page's size (a 20 MB page: 784 MB): a bound per page, far
# above real pages (the largest of the 290 in the development set is under 1 MB)
MAX_PAGE_BYTES = 10 * 1024 * 1024
EXTRACT_MAX_BYTES = 2 * 1024 * 1024  # larger pages get no readability-lxml signal


def html_record(data: bytes, source: str, fallback_title: str, user: str | None,
                budget: Budget, transport: str | None = None) -> Record:
    """A page's bytes as a checked record, decoded as a browser would (encodings.html_encoding;
    `transport` the charset its HTTP header names), `meta.encoding` the encoding used."""
    used, errors = html_encoding(data, user, transport)
    title, paragraphs, structure = html_page(decode(data, used, errors), budget)
    return checked(Record(source, title or fallback_title, paragraphs, meta={"encoding": used},
                          features=structure))


def html_article(text: str, budget: Budget | None = None) -> tuple[str, list[str]]:
    """Title and block texts of an HTML page, in document order, as a browser lays them out."""
    title, paragraphs, _ = html_page(text, budget)
    return title, paragraphs


def html_page(text: str, budget: Budget | None = None,
              ) -> tuple[str, list[str], list[dict[str, Any]]]:
    """Title, block texts and, parallel to them, what the parser saw of each block
    (suggest/structure.py)."""
    budget = budget or Budget(PARSE_SECONDS, "HTML")
    # a NUL between or in a page's tags is a parse error a browser ignores (libxml2 would show
    # it as U+FFFD); real pages hold strays
    text = normalise(text.replace("\x00", ""))
    if not text:
        return "", [], []
    # huge_tree: without it libxml2 silently drops what lies past depth 255 or in a text
    # node or attribute over 10 MB; with it, past depth 2048, which `_parse_loss` reports
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    data = text.encode("utf-8")
    if len(data) > MAX_PAGE_BYTES:
        raise Invalid(N_("the HTML page is %(size)s MB; pages over %(limit)s MB are refused "
                         "(parsing one takes about 30 times its size in memory): split it or "
                         "strip what is not text", size=format(len(data) / 2**20, ".1f"),
                         limit=MAX_PAGE_BYTES // 2**20))
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError) as error:
        raise Invalid(N_("cannot parse HTML (%(error)s)", error=error)) from None
    fatal = [error for error in parser.error_log if error.level_name == "FATAL"]
    if fatal:
        raise Invalid(N_("the HTML cannot be read whole (line %(line)s, column %(column)s: "
                         "%(error)s)", line=fatal[0].line, column=fatal[0].column,
                         error=fatal[0].message))
    budget.check()
    paragraphs: list[str] = []
    structure: list[dict[str, Any]] = []
    _collect_blocks(root, paragraphs, structure, budget)
    if paragraphs and len(data) <= EXTRACT_MAX_BYTES:  # ~1 s of CPU per MB
        mark_extracted(paragraphs, structure, extracted_text(text))
    return _html_title(root), paragraphs, structure


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


def _collect_blocks(root: lxml.html.HtmlElement, out: list[str],
                    structure: list[dict[str, Any]], budget: Budget) -> None:
    """Walk the tree; every block or container boundary ends the text gathered so far."""
    buffer: list[str] = []
    in_link: list[bool] = []  # parallel to buffer: inside an <a>
    frames: list[Frame] = []  # the open elements
    links = 0  # open <a> elements
    preformatted = 0

    def add(piece: str) -> None:
        buffer.append(piece)
        in_link.append(links > 0)

    def flush() -> None:
        joined = "".join(buffer)
        text = joined.strip() if preformatted else _inline_text(joined)
        if text:
            out.append(text)
            sizes = [len(piece) - sum(map(piece.count, " \t\n\r\f")) for piece in buffer]
            structure.append(features(frames, sum(size for size, link in zip(sizes, in_link)
                                                  if link), sum(sizes)))
        buffer.clear()
        in_link.clear()

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
                frames.append(Frame(tag, element.attrib))
                links += tag == "a"
                if tag == "pre":
                    preformatted += 1
                elif tag == "br":
                    add("\n" if preformatted else " ")
                if element.text:
                    add(element.text)
                stack.append((element, False))
                stack.extend((child, True) for child in reversed(element))
            elif element.tail:  # a dropped element or comment: only its tail is shown
                add(element.tail)
        else:
            if boundary:
                flush()
            frames.pop()
            links -= tag == "a"
            if tag == "pre":
                preformatted -= 1
            if element.tail:
                add(element.tail)
    flush()

"""The only normalisations applied to imported text, the txt body splitters, and the keys
that find repeated text and an article's site."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

_LINE_BREAKS = re.compile(r"\r\n?")
# a word: one CJK character, or a run of other letters and digits (as the suggestions'
# development set matches text: bench/README.md)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002ffff"
_WORD = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")
CJK_CHARACTER = re.compile(f"[{_CJK}]")
_BLANK_LINES = re.compile(r"\n[^\S\n]*\n(?:[^\S\n]*\n)*")
_DIGIT = re.compile(r"\d")
KEY_CHARS = 100  # of a text that make its text_key
# text_key of ASCII text: casefold is lower, every digit 0, str.split()'s whitespace removed
_ASCII_FOLD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                              b"abcdefghijklmnopqrstuvwxyz0000000000")
_ASCII_SPACE = bytes(code for code in range(128) if chr(code).isspace())


def normalise(text: str) -> str:
    """Drop a leading BOM, turn CRLF/CR into LF and strip as str.strip() does."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return _LINE_BREAKS.sub("\n", text).strip()


def split_lines(body: str) -> list[str]:
    """One paragraph per non-empty line (scraped text)."""
    return [line for line in (part.strip() for part in normalise(body).split("\n")) if line]


def split_blank(body: str) -> list[str]:
    """One paragraph per blank-line-separated block, inner line breaks kept (hard-wrapped text)."""
    return [block for block in (part.strip() for part in _BLANK_LINES.split(normalise(body)))
            if block]


SPLITTERS = {"line": split_lines, "blank": split_blank}


def paragraphs_of(texts: list[str]) -> list[str]:
    """Normalise given paragraphs and drop the empty ones (with neither a BOM nor a CR in
    any, normalising is stripping, done without a call per paragraph)."""
    joined = "".join(texts)
    clean = "\r" not in joined and "\ufeff" not in joined
    return [text for text in map(str.strip if clean else normalise, texts) if text]


# NFKC of the full-width ASCII forms and the ideographic space, the compatibility characters
# of most CJK text: replacing them first lets most text skip the (costly) normalisation
_FULL_WIDTH = {**{chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)},
               "\u3000": " "}
_FULL_WIDTH_CHAR = re.compile("[\uff01-\uff5e\u3000]")


def nfkc(text: str) -> str:
    """unicodedata.normalize("NFKC", text), faster for the common cases."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    # a few distinct characters, each replaced at once (str.translate costs 4 times more)
    for char in set(_FULL_WIDTH_CHAR.findall(text)):
        text = text.replace(char, _FULL_WIDTH[char])
    return (text if unicodedata.is_normalized("NFKC", text)
            else unicodedata.normalize("NFKC", text))


def text_key(text: str) -> str:
    """16 hex characters, equal for texts that differ only in width, case, whitespace or
    digits (NFKC, casefold, whitespace removed, every digit 0): the repetition index. Only
    the first KEY_CHARS characters count: longer texts that share them are copies anyway,
    and the import's cost stays flat in the length of its paragraphs."""
    text = text[:KEY_CHARS]
    if text.isascii():  # the same steps on bytes, in one C call
        folded = text.encode("ascii").translate(_ASCII_FOLD, _ASCII_SPACE)
    else:
        folded = _DIGIT.sub("0", "".join(nfkc(text).casefold().split())).encode(
            "utf-8", "surrogatepass")
    return hashlib.sha1(folded).hexdigest()[:16]


def site_of(meta: Any, url: str | None) -> str:
    """An article's site: meta.site, else the URL's host, lowercased without "www.", else ""
    (the project as a whole); at most 255 characters. Whatever is stored: `meta` that is no
    object and a URL that does not parse (`http://[not-an-ipv6/page`) give no site."""
    site = meta.get("site") if isinstance(meta, dict) else None
    if isinstance(site, str) and site.strip():
        return site.strip().lower().removeprefix("www.")[:255]
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:
        host = ""
    return host.removeprefix("www.")[:255]


def plural(count: int, singular: str, many: str | None = None) -> str:
    """`1 article`, `2 articles`: counts in English output (the CLI, the dataset card); the
    web UI counts with ngettext, which the catalog translates."""
    return f"{count} {singular if count == 1 else many or singular + 's'}"


def words_of(text: str) -> list[str]:
    """The words of a text, NFKC and lower case: each CJK character one (no segmenter)."""
    return _WORD.findall(nfkc(text).lower())

"""The only normalisations applied to imported text, and the txt body splitters."""
from __future__ import annotations

import re

_LINE_BREAKS = re.compile(r"\r\n?")
_BLANK_LINES = re.compile(r"\n[^\S\n]*\n(?:[^\S\n]*\n)*")


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
    """Normalise given paragraphs and drop the empty ones."""
    return [text for text in map(normalise, texts) if text]

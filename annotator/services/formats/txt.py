"""txt: one article per file, the first non-empty line its title."""
from __future__ import annotations

from ..text import SPLITTERS, normalise
from .records import Budget


def txt_article(text: str, split: str, _budget: Budget | None = None) -> tuple[str, list[str]]:
    """The first non-empty line is the title; the rest is split into paragraphs."""
    title, _, body = normalise(text).partition("\n")
    return title, SPLITTERS[split](body)

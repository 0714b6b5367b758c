"""What the HTML parser sees of each paragraph, kept as compact JSON (`paragraph.features`):

- `path`: the tags from the nearest ancestors down to the paragraph's own, at most 6
  ("div>footer>ul>li");
- `in`: the landmarks around it (nav, header, footer, aside, form, main, article; ARIA
  roles count as their element);
- `words`: class and id words of its ancestors, nearest first, split on - _ and camelCase
  ("relatedPosts" -> related, posts), at most 12;
- `link`: the share of its (non-space) characters inside `<a>`, two decimals;
- `extracted`: 1 when readability-lxml (a main-content extractor, the best of those measured
  on real pages) keeps its text as the article's, else 0; absent if it could not tell.

Position (index / count) is not stored: the paragraph row has it.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import lxml.html

LANDMARKS = {"nav", "header", "footer", "aside", "form", "main", "article"}
ROLES = {"navigation": "nav", "menu": "nav", "menubar": "nav", "banner": "header",
         "contentinfo": "footer", "complementary": "aside", "search": "form",
         "main": "main", "article": "article"}
PATH_TAGS = 6
MAX_WORDS = 12
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


class Frame:
    """One open element of the walk: its tag, landmark (or None) and class/id words."""

    __slots__ = ("landmark", "tag", "words")

    def __init__(self, tag: str, attributes: Any):
        self.tag = tag
        role = (attributes.get("role") or "").strip().lower()
        self.landmark = tag if tag in LANDMARKS else ROLES.get(role)
        names = f"{attributes.get('class') or ''} {attributes.get('id') or ''}"
        self.words = tuple(dict.fromkeys(
            word.lower() for word in _WORD.findall(names[:500]) if len(word) <= 20))


def features(frames: list[Frame], link_chars: int, chars: int) -> dict[str, Any]:
    """The compact structure of a paragraph whose open elements are `frames` (outermost
    first); a few hundred bytes at most."""
    words: dict[str, None] = {}
    for frame in reversed(frames):
        for word in frame.words:
            if len(words) >= MAX_WORDS:
                break
            words.setdefault(word)
    return {"path": ">".join(frame.tag for frame in frames[-PATH_TAGS:]),
            "in": sorted({frame.landmark for frame in frames if frame.landmark}),
            "words": list(words),
            "link": round(link_chars / chars, 2) if chars else 0.0}


_SPACE = re.compile(r"\s+")


def extracted_text(html: str) -> str | None:
    """The page's main text as readability-lxml finds it, whitespace removed (to look
    paragraphs up in), or None when it cannot tell."""
    from readability import Document  # imported on first use: commands start without it
    logging.getLogger("readability.readability").setLevel(logging.ERROR)
    try:
        summary = Document(html).summary(html_partial=True)
        return _SPACE.sub("", lxml.html.fromstring(summary).text_content()) or None
    except Exception:  # noqa: BLE001 - any page it cannot read: no signal, not a failed import
        return None


def mark_extracted(paragraphs: list[str], structure: list[dict[str, Any]],
                   main: str | None) -> None:
    """Set `extracted` on each paragraph's features: is its text inside `main`?"""
    if main is None:
        return
    for text, seen in zip(paragraphs, structure):
        seen["extracted"] = int(_SPACE.sub("", text) in main)

"""What the HTML parser sees of each paragraph, kept as compact JSON (`paragraph.features`):

- `path`: the tags from the nearest ancestors down to the paragraph's own, at most 6
  ("div>footer>ul>li");
- `in`: the landmarks around it (nav, header, footer, aside, form, main, article; ARIA
  roles count as their element);
- `words`: class and id words of its ancestors, nearest first, split on - _ and camelCase
  ("relatedPosts" -> related, posts), at most 12;
- `link`: the share of its (non-space) characters inside `<a>`, two decimals;
- `extracted`: the share (0 to 1, two decimals) of its text that readability-lxml (a
  main-content extractor, the best of those measured on real pages) keeps as the article's:
  the characters of its words inside a run of 4 words (6 CJK characters) of that text; a
  shorter paragraph counts whole when it equals one of that text's blocks, else 0; absent if
  readability could not tell.

Position (index / count) is not stored: the paragraph row has it.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import lxml.html

from ..services.text import CJK_CHARACTER, words_of

LANDMARKS = {"nav", "header", "footer", "aside", "form", "main", "article"}
ROLES = {"navigation": "nav", "menu": "nav", "menubar": "nav", "banner": "header",
         "contentinfo": "footer", "complementary": "aside", "search": "form",
         "main": "main", "article": "article"}
PATH_TAGS = 6
MAX_WORDS = 12
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
# a class or id that is an address, not a name ("http://blog.example.com/more.asp?id=1"): its
# words name nothing of the block
_ADDRESS = re.compile(r"[/?=]")


class Frame:
    """One open element of the walk: its tag, landmark (or None) and class/id words."""

    __slots__ = ("landmark", "tag", "words")

    def __init__(self, tag: str, attributes: Any):
        self.tag = tag
        role = (attributes.get("role") or "").strip().lower()
        self.landmark = tag if tag in LANDMARKS else ROLES.get(role)
        names = f"{attributes.get('class') or ''} {attributes.get('id') or ''}"[:500]
        names = " ".join(name for name in names.split() if not _ADDRESS.search(name))
        self.words = tuple(dict.fromkeys(
            word.lower() for word in _WORD.findall(names) if len(word) <= 20))


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


_BLOCK_TAGS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "tr", "br",
               "pre", "blockquote", "dd", "dt", "section", "article", "table", "ul", "ol",
               "figcaption", "header", "footer"}
RUN_WORDS, RUN_CJK = 4, 6  # words in a run that counts as kept


def extracted_text(html: str) -> str | None:
    """The page's main text as readability-lxml finds it, one block a line (to look
    paragraphs up in; "" when it keeps nothing), or None when it cannot read the page."""
    from readability import Document  # imported on first use: commands start without it
    logging.getLogger("readability.readability").setLevel(logging.ERROR)
    try:
        root = lxml.html.fromstring(Document(html).summary(html_partial=True))
        for element in root.iter():
            if isinstance(element.tag, str) and element.tag in _BLOCK_TAGS:
                element.tail = "\n" + (element.tail or "")
        return root.text_content().strip()
    except Exception:  # noqa: BLE001 - any page it cannot read: no signal, not a failed import
        return None


def mark_extracted(paragraphs: list[str], structure: list[dict[str, Any]],
                   main: str | None) -> None:
    """Set `extracted` on each paragraph's features: the share of its text inside `main`
    (extracted_text's), matched by runs of words as the dev set's gold is (readability
    reflows and trims text: a paragraph is seldom a verbatim part of it)."""
    if main is None:
        return
    lines = [words for words in map(words_of, main.split("\n")) if words]
    kept = [word for words in lines for word in words]
    texts = [words_of(text) for text in paragraphs]
    sample = kept[:2000]  # mostly CJK: runs of characters, else of words
    cjk = len(CJK_CHARACTER.findall("".join(sample)))
    run = RUN_CJK if sample and 2 * cjk >= len(sample) else RUN_WORDS
    runs = {tuple(kept[i:i + run]) for i in range(len(kept) - run + 1)}
    whole = set(map(tuple, lines))
    for words, seen in zip(texts, structure):
        if len(words) < run:
            seen["extracted"] = int(bool(words) and tuple(words) in whole)
            continue
        hit = [False] * len(words)
        for i in range(len(words) - run + 1):
            if tuple(words[i:i + run]) in runs:
                hit[i:i + run] = [True] * run
        seen["extracted"] = round(sum(len(word) for word, inside in zip(words, hit) if inside)
                                  / sum(map(len, words)), 2)

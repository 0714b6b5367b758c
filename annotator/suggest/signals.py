"""Cold-start suggestions: signals that need no labels, and the scorer that turns them into
a boilerplate suggestion (label, confidence, reason) or none.

Two kinds of evidence, combined by taking the stronger:
- rules over the site (documented, not fitted): the same text on other pages of the site
  (`repetition`), a paragraph that is or starts with another article's title (`teaser`);
- the shape of the paragraph and its page (length, punctuation, list markers, links,
  dates, position, and for HTML imports what the parser saw: suggest/structure.py), as
  generic features weighed by a logistic regression whose weights are fitted by
  `bench/suggest_real_pages.py --fit` and pasted below (see bench/README.md); for HTML a
  second, also fitted, stage weighs that verdict beside its neighbours' and where the
  paragraph sits against the article's longest run of running text (`context_probabilities`).
"""
from __future__ import annotations

import functools
import math
import operator
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from sqlalchemy import distinct, func, select, update
from sqlalchemy.orm import Session

from ..database import dialect_insert, write_transaction
from ..models import Article, Paragraph, Project, utcnow
from ..models import Suggestion as SuggestionRow
from ..progress_report import ProgressCallback, no_progress
from ..services.suggestions import MAX_REASON_CHARS, store_suggestions
from ..services.text import nfkc, text_key, words_of

BOILERPLATE = "boilerplate"
MODEL = "signals"
TEASER_SHOWN = 60  # characters of a title quoted in a reason
TEASER_CONFIDENCE = 0.9
CHUNK = 1000  # keys or rows per statement
PENDING_BATCH = 1000  # articles scored at a time after a large import
LABEL_CHARS = 10  # "Previous:" before a teaser's title, folded

_SENTENCE_END = re.compile(r"[.!?。！？…][\"'”’」』)）\]]*$")
_SENTENCE_MARK = re.compile(r"[.!?。！？;；]")
_LIST_MARKER = re.compile(r"^(?:[-*•·▪►»>◆■□●○]|\d{1,3}[.)、]|[(（]\d{1,3}[)）])\s*")
_URL = re.compile(r"https?://|www\.|\.(?:com|org|net|cn|html?)\b", re.IGNORECASE)
_DATE = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}|\d{1,2}\s*[-/.月]\s*\d{1,2}\s*[-/.日,]?\s*\d{2,4}"
                   r"|\b\d{1,2}:\d{2}\b")
# a short label and a colon first: "Next: …", "Related: …", "上一篇：…"
_LABELLED = re.compile(r"^\w{1,12}(?:[ \t]\w{1,12})?[ \t]?[:：]")
_COPYRIGHT = re.compile(r"©|\(c\)|copyright|版权|all rights reserved", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s[|/·•›»>]\s|\s?[|›»]\s?|>>")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_DIGIT = re.compile(r"\d")
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# class/id words that name site furniture or the article body, in the naming conventions of
# web templates (not any one site's): structure.py splits "relatedPosts" into its words
FURNITURE_WORDS = {
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "footer", "header",
    "sidebar", "side", "aside", "widget", "related", "recommend", "recommended", "popular",
    "trending", "share", "sharing", "social", "comment", "comments", "reply", "copyright",
    "ad", "ads", "advert", "advertisement", "sponsor", "sponsored", "promo", "banner",
    "newsletter", "subscribe", "signup", "login", "search", "tags", "tag", "topics",
    "pagination", "pager", "prev", "next", "more", "links", "toolbar", "cookie", "modal",
    "popup", "masthead", "byline", "meta", "rss", "follow", "logo", "skip", "hidden"}
CONTENT_WORDS = {"article", "content", "body", "post", "entry", "story", "text", "main",
                 "paragraph", "detail", "prose", "rich", "news", "zw", "con", "txt"}
LANDMARK_FEATURES = ("nav", "header", "footer", "aside", "form")
# a photo's caption or credit, which extraction gold seldom counts as the article's text
CAPTION_WORDS = {"caption", "credit", "credits", "figcaption", "photo", "gallery", "slideshow"}
FIGURE_TAGS = {"figure", "figcaption"}


@dataclass(slots=True)
class Seen:
    """What the scorer knows of one paragraph of an article."""

    text: str
    features: dict[str, Any] | None = None  # suggest/structure.py, for HTML imports
    repeats: int = 0  # other articles of the site holding the same text (text_key)
    teaser: str | None = None  # another article's title that it is or starts with
    sentence: bool | None = None  # _sentence_like(text), once measured


Suggestion = tuple[str, float, str]  # label, confidence, reason


# --- the rules over the site --------------------------------------------------------------

def repetition_confidence(repeats: int) -> float:
    """Same text on `repeats` other pages of the site: 0 below 2, then 0.85 (2), 0.91 (4),
    0.98 (16), at most 0.99: furniture repeats, an article's own text does not."""
    if repeats < 2:
        return 0.0
    return round(min(0.99, 1.06 - 0.3 / repeats ** 0.5), 3)


@functools.lru_cache(maxsize=4096)  # furniture repeats: folded once
def fold(text: str) -> str:
    """Text as titles are compared: NFKC, casefold, whitespace removed."""
    return "".join(nfkc(text).casefold().split())


class Titles:
    """The titles of a site's articles, to find paragraphs that are or start with one of
    them (teasers). Titles shorter than MIN_TITLE folded characters only match whole."""

    MIN_TITLE = 8

    def __init__(self) -> None:
        self.whole: dict[str, dict[int, str]] = {}  # folded title -> article id -> title
        self.lengths: dict[str, set[int]] = {}  # first MIN_TITLE folded characters -> lengths
        self.longest = 0  # characters of the longest title

    def add(self, article_id: int, title: str) -> None:
        folded = fold(title)
        if not folded:
            return
        self.longest = max(self.longest, len(title))
        self.whole.setdefault(folded, {})[article_id] = title
        if len(folded) >= self.MIN_TITLE:
            self.lengths.setdefault(folded[:self.MIN_TITLE], set()).add(len(folded))

    def _other(self, folded: str, article_id: int, own: str) -> str | None:
        if folded == own:
            return None
        return next((title for other, title in self.whole.get(folded, {}).items()
                     if other != article_id), None)

    def teaser(self, text: str, article_id: int, own: str) -> str | None:
        """The title of another article that `text` is or starts with (the longest), after
        a short label ("Next: …", "上一篇：…") if it has one, or None; never the article's
        own title (`own`, folded: its headline is body)."""
        folded = fold(text[:2 * self.longest + LABEL_CHARS])
        label = folded.find(":", 0, LABEL_CHARS + 1)
        for candidate in (folded, folded[label + 1:]) if label > 0 else (folded,):
            if not candidate or candidate == own:
                continue
            found = self._other(candidate, article_id, own)
            for length in sorted(self.lengths.get(candidate[:self.MIN_TITLE], ()), reverse=True):
                if found:
                    break
                if length < len(candidate):
                    found = self._other(candidate[:length], article_id, own)
            if found:
                return found
        return None


# --- the shape of a paragraph and its page ------------------------------------------------

def _weighted_length(text: str) -> int:
    """Characters, one beyond ASCII counting as two (a CJK character carries about a word's
    worth): the UTF-8 length, cheaply."""
    return (len(text) + len(text.encode("utf-8", "surrogatepass"))) // 2


def _ends_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text[-6:]))  # the pattern is anchored at the end


def _sentence_like(text: str) -> bool:
    # 80 characters weigh 80 at least: only shorter text needs weighing
    return len(text) >= 40 and _ends_sentence(text) and (
        len(text) >= 80 or _weighted_length(text) >= 80)


def _sentences(article: Sequence[Seen]) -> list[bool]:
    """_sentence_like of each paragraph, measured once per paragraph (the running text and
    the vectors both ask)."""
    for seen in article:
        if seen.sentence is None:
            seen.sentence = _sentence_like(seen.text)
    return [bool(seen.sentence) for seen in article]


def running_text(article: Sequence[Seen]) -> list[bool]:
    """Paragraphs that read as running text: sentences of some length beside another such,
    and no sign of furniture in the page's structure. They are never suggested from their
    shape or as teasers (the body must not be), and so cost no more at import."""
    sentence = _sentences(article)
    out = []
    for index, seen in enumerate(article):
        structure = seen.features or {}
        out.append(sentence[index] and not _LABELLED.match(seen.text) and (index > 0 and sentence[index - 1] or index + 1 < len(
            article) and sentence[index + 1]) and float(structure.get("link") or 0) < 0.3
            and not set(structure.get("in") or ()) & {"nav", "footer", "aside", "form"}
            and not set(structure.get("words") or ()) & FURNITURE_WORDS)
    return out


@functools.lru_cache(maxsize=4096)  # furniture repeats: its shape is measured once
def _text_shape(text: str) -> dict[str, float]:
    """The features of a paragraph's own text."""
    size = _weighted_length(text)
    words = _LATIN_WORD.findall(text)
    return {
        "log_length": math.log1p(size) / 5,
        "short": float(size < 30),
        "no_end_punct": float(not _ends_sentence(text)),
        "sentence_marks": min(len(_SENTENCE_MARK.findall(text)) * 40 / max(size, 1), 2.0),
        "list_marker": float(bool(_LIST_MARKER.match(text))),
        "labelled": float(bool(_LABELLED.match(text))),
        "url": float(bool(_URL.search(text))),
        "date": float(bool(_DATE.search(text))),
        "copyright": float(bool(_COPYRIGHT.search(text))),
        "separators": min(len(_SEPARATOR.findall(text)), 3) / 3,
        "digits": len(_DIGIT.findall(text)) / max(len(text), 1),
        "title_case": len(_CAPITALISED.findall(text)) / len(words) if len(words) >= 3 else 0.0,
    }


def vectors(article: Sequence[Seen], skip: Sequence[bool] = ()) -> list[dict[str, float]]:
    """Generic features of every paragraph of an article (the scorer's inputs); `{}` for
    those `skip` marks."""
    count = len(article)
    sentence = _sentences(article)
    body = [i for i, flag in enumerate(sentence) if flag]
    first, last = (body[0], body[-1]) if body else (count, -1)
    out: list[dict[str, float]] = []
    for index, seen in enumerate(article):
        if index < len(skip) and skip[index]:
            out.append({})
            continue
        near = sentence[max(0, index - 2):index] + sentence[index + 1:index + 3]
        vector = {
            **_text_shape(seen.text),
            "position": index / count,
            "outside_body": float(index < first or index > last),
            "body_neighbours": sum(near) / len(near) if near else 0.0,
        }
        structure = seen.features
        if structure:
            landmarks = set(structure.get("in") or ())
            words = structure.get("words") or ()  # nearest first
            names = set(words)
            # the nearest word that names furniture or content: which of the two it is
            named = next((word for word in words
                          if word in FURNITURE_WORDS or word in CONTENT_WORDS), None)
            path = structure.get("path") or ""
            tag = path.rsplit(">", 1)[-1]
            link = float(structure.get("link") or 0.0)
            vector.update({
                "html": 1.0,
                "link": link,
                "all_link": float(link >= 0.9),
                **{f"in_{landmark}": float(landmark in landmarks)
                   for landmark in LANDMARK_FEATURES},
                "in_main": float(bool(landmarks & {"main", "article"})),
                # the share of its text readability-lxml leaves out (0 when it cannot tell)
                "not_extracted": 1.0 - float(structure.get("extracted") or 0.0)
                if structure.get("extracted") is not None else 0.0,
                "furniture_words": min(len(names & FURNITURE_WORDS), 3) / 3,
                "content_words": min(len(names & CONTENT_WORDS), 3) / 3,
                "near_furniture_word": float(bool(set(words[:2]) & FURNITURE_WORDS)),
                "named_furniture": float(named in FURNITURE_WORDS),
                "heading": float(tag in HEADINGS),
                "in_figure": float(not FIGURE_TAGS.isdisjoint(path.split(">"))),
                "caption_word": float(not CAPTION_WORDS.isdisjoint(words[:3])),
                "list_item": float(tag in ("li", "dd", "dt")),
                "table_cell": float(tag in ("td", "th")),
            })
        out.append(vector)
    return out


# the learned part: fitted by `bench/suggest_real_pages.py --fit` (logistic regression on
# the features above, see bench/README.md); "bias" is the intercept. Boilerplate weighs 4 in
# the fit (0.8 / 0.2): a suggestion is shown at 0.8, where even odds would be unweighted.
# HTML: not fitted on CleanEval's pages, whose gold keeps reader comments as text.
HTML_WEIGHTS: dict[str, float] = {"bias": 1.138, "all_link": -0.568, "body_neighbours": -0.626,
    "caption_word": 2.718, "content_words": -1.507, "copyright": 0.93, "date": 0.179,
    "digits": -0.948, "furniture_words": 1.724, "heading": -0.437, "html": 1.091,
    "in_aside": 3.064, "in_figure": 1.658, "in_footer": 0.519, "in_form": 0.411,
    "in_header": 0.98, "in_main": -0.544, "in_nav": 0.643, "labelled": -0.268, "link": 2.822,
    "list_item": 0.347, "list_marker": -0.02, "log_length": -2.78, "named_furniture": 2.45,
    "near_furniture_word": 1.809, "no_end_punct": -0.436, "not_extracted": 3.616,
    "outside_body": 0.544, "position": 0.661, "sentence_marks": -0.283, "separators": 1.848,
    "short": -0.411, "table_cell": -1.22, "title_case": 0.341, "url": 1.644}
TEXT_WEIGHTS: dict[str, float] = {"bias": 4.951, "body_neighbours": -2.952, "copyright": 1.06,
    "date": 2.413, "digits": -1.632, "labelled": -1.07, "list_marker": -0.33,
    "log_length": -3.392, "no_end_punct": -0.32, "outside_body": 0.626, "position": 0.737,
    "sentence_marks": -0.463, "separators": 2.238, "short": 0.388, "title_case": 0.805,
    "url": 2.25}

# why, in words, a feature pushed a paragraph towards boilerplate
PHRASES = {
    "short": "short line", "no_end_punct": "no sentence punctuation",
    "list_marker": "list item", "labelled": "a label and a colon first", "url": "holds a link address", "date": "a date line",
    "copyright": "copyright line", "separators": "separated like a menu",
    "digits": "mostly numbers", "title_case": "title-case words like a menu",
    "position": "near the end", "outside_body": "outside the article's text",
    "link": "link text", "all_link": "a link", "in_nav": "in a navigation block",
    "in_header": "in a page header", "in_footer": "in a footer", "in_aside": "in a sidebar",
    "in_form": "in a form", "furniture_words": "in a block named like furniture",
    "near_furniture_word": "in a block named like furniture",  # said as furniture_words
    "named_furniture": "in a block named like furniture",
    "not_extracted": "outside the article text readability finds",
    "list_item": "in a list", "table_cell": "in a layout table",
    "in_figure": "a figure's caption", "caption_word": "in a block named like a caption",
}


def shape_probability(vector: dict[str, float],
                      names: bool = True) -> tuple[float, list[str]]:
    """P(boilerplate) from the fitted weights, and (if `names`) the features that pushed it
    up most."""
    weights = HTML_WEIGHTS if vector.get("html") else TEXT_WEIGHTS
    # each feature's push, in the vector's order (map: a third of a generator's cost)
    pushes = list(map(operator.mul, map(weights.get, vector, repeat(0.0)), vector.values()))
    score = weights["bias"] + sum(pushes)
    probability = 1 / (1 + math.exp(-max(-30.0, min(30.0, score))))
    if probability < 0.5 or not names:
        return probability, []
    return probability, [name for push, name in sorted(zip(pushes, vector), reverse=True)[:3]
                         if push > 0.3 and name in PHRASES]


# the second stage (HTML): the shape's verdict (log-odds) beside the mean verdict of up to
# CONTEXT_NEAR paragraphs each side (running text and the headline count 0), whether the
# paragraph lies after or before the article's longest run of running text (comment threads,
# link lists and promos below or above the story), how far from it (log of paragraphs), and
# whether it is running text itself outside that run (which it scores too: `outside_run`).
# Fitted by `--fit` on verdicts of weights fitted on the other half of the sites, each page
# weighing the same (bench/README.md).
CONTEXT_NEAR = 2
CONTEXT_WEIGHTS: dict[str, float] = {"bias": -2.957, "after_run": 1.463, "before_run": 1.13,
                                     "far": -0.106, "near": 3.986, "own": 0.591,
                                     "running_out": -0.063}
CONTEXT_PHRASES = {"near": "beside other furniture", "after_run": "after the article's text",
                   "before_run": "before the article's text",
                   "far": "outside the article's text"}


def _longest_run(flags: Sequence[bool]) -> tuple[int, int]:
    """First and last index of the longest run of true flags (the first such), (-1, -1)."""
    best, start = (-1, -1), None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            if index - start > best[1] - best[0] + 1 or best[0] < 0:
                best = (start, index - 1)
            start = None
    return best


def outside_run(body: Sequence[bool]) -> list[bool]:
    """Running text (`body`, running_text's) outside the article's longest run of it: a
    comment thread below the story, a promo's sentences above it. The second stage scores
    it, from its shape and its place; the shape alone never does."""
    start, end = _longest_run(body)
    return [flag and not start <= index <= end for index, flag in enumerate(body)]


def context_vectors(first: Sequence[float], skip: Sequence[bool],
                    body: Sequence[bool] | None = None) -> list[dict[str, float]]:
    """The second stage's inputs for each paragraph, from the first stage's P(boilerplate)
    of every paragraph (`first`; of running text outside the longest run too), which the
    shape does not score (`skip`: running text, the headline) and which are running text
    (`body`, running_text's; `skip` if not given: the headline is not part of the run, a run
    of one headline would pass for the story)."""
    body = skip if body is None else body
    shown = [0.0 if flag else p for p, flag in zip(first, skip)]
    start, end = _longest_run(body)
    out = []
    for index, p in enumerate(shown):
        near = (shown[max(0, index - CONTEXT_NEAR):index]
                + shown[index + 1:index + 1 + CONTEXT_NEAR])
        outside = start >= 0 and not start <= index <= end
        running_out = outside and body[index]
        p = min(max(first[index] if running_out else p, 1e-4), 1 - 1e-4)
        out.append({"own": math.log(p / (1 - p)),
                    "near": sum(near) / len(near) if near else 0.0,
                    "after_run": float(start >= 0 and index > end),
                    "before_run": float(start >= 0 and index < start),
                    "far": math.log1p(index - end if index > end else start - index) / 3
                    if outside else 0.0,
                    "running_out": float(running_out)})
    return out


def context_probabilities(first: Sequence[float], skip: Sequence[bool],
                          body: Sequence[bool] | None = None,
                          ) -> list[tuple[float, list[tuple[float, str]]]]:
    """The second stage's P(boilerplate) of each paragraph (context_vectors' arguments) and
    its context pushes (weight times value, name) above 0.3, strongest first."""
    out = []
    for vector in context_vectors(first, skip, body):
        pushes = [(CONTEXT_WEIGHTS.get(name, 0.0) * value, name)
                  for name, value in vector.items()]
        score = CONTEXT_WEIGHTS["bias"] + sum(push for push, _ in pushes)
        out.append((1 / (1 + math.exp(-max(-30.0, min(30.0, score)))),
                    sorted(((push, name) for push, name in pushes
                            if push > 0.3 and name in CONTEXT_PHRASES), reverse=True)))
    return out


def shape_pushes(vector: dict[str, float]) -> list[tuple[float, str]]:
    """The features that pushed a paragraph's shape towards boilerplate (push, name), the
    strongest first, those above 0.3 with a phrase."""
    weights = HTML_WEIGHTS if vector.get("html") else TEXT_WEIGHTS
    return sorted(((weights.get(name, 0.0) * value, name) for name, value in vector.items()
                   if name in PHRASES and weights.get(name, 0.0) * value > 0.3), reverse=True)


_NAMED = {"near_furniture_word", "named_furniture"}  # said as furniture_words is


def _shape_reason(names: list[str], structure: dict[str, Any] | None) -> str:
    names = list(dict.fromkeys("furniture_words" if name in _NAMED else name for name in names))
    phrases = [PHRASES.get(name) or CONTEXT_PHRASES[name] for name in names]
    if "link" in names and structure:
        phrases[names.index("link")] = f"{round(100 * float(structure['link']))}% link text"
    if "furniture_words" in names and structure:
        named = [word for word in structure.get("words") or () if word in FURNITURE_WORDS]
        phrases[names.index("furniture_words")] = "in a block named " + " ".join(named[:3])
    return "page shape: " + ", ".join(phrases[:2]) if phrases else "page shape"


_TITLE_SEPARATOR = re.compile(r"\s+[-|–—·»:]+\s+|\s*[_|–—·»]+\s*|::|--")
# where a title is split into parts to match a heading's words with (also "A // B", "A > B")
_TITLE_PARTS = re.compile(r"\s+[-|–—·»:/>]+\s+|\s*[_|–—·»]+\s*|::|--|//")
# shares of words, chosen on the development set (bench/README.md, session 13)
HEADLINE_IN_TITLE, HEADLINE_COVERS = 0.6, 0.5


def own_headline(texts: Sequence[str], title: str,
                 features: Sequence[dict[str, Any] | None] | None = None) -> int | None:
    """The index of the article's own headline among its paragraphs (body, never suggested
    from its shape), or None: the first paragraph that is the longest part of its title
    between separators ("Headline - Site", "标题_网站"; the site's name is the shorter part),
    of Titles.MIN_TITLE folded characters or more; else, on an HTML page (`features`), the
    h1-h3 heading most like that part: HEADLINE_IN_TITLE of its words in the title, holding
    HEADLINE_COVERS of the part's ("Why you just can't …" under "Why you can't … -
    CNNPolitics", "标题-网站" with no spaces)."""
    parts = sorted(map(fold, _TITLE_SEPARATOR.split(title)), key=len)
    size = len(parts[-1]) if parts else 0
    if size < Titles.MIN_TITLE:
        return None
    # folding drops whitespace only (NFKC keeps most lengths): only texts of about its length
    exact = next((index for index, text in enumerate(texts)
                  if size <= len(text) <= 2 * size and fold(text) == parts[-1]), None)
    return exact if exact is not None or not features else _like_headline(texts, title,
                                                                          features)


def _like_headline(texts: Sequence[str], title: str,
                   features: Sequence[dict[str, Any] | None]) -> int | None:
    """The h1-h3 heading most like the title's longest part (own_headline), or None."""
    parts = [set(words_of(piece)) for piece in _TITLE_PARTS.split(title)]
    words, part = set().union(*parts), max(parts, key=len)  # the title's words, its longest part's
    if len(part) < 3:
        return None
    best, closest = None, 0.0
    for index, (text, seen) in enumerate(zip(texts, features)):
        tag = ((seen or {}).get("path") or "").rsplit(">", 1)[-1]
        if tag not in ("h1", "h2", "h3") or len(text) > 3 * len(title):
            continue
        heading = set(words_of(text))
        if len(heading) < 3:
            continue
        inside, covers = len(heading & words) / len(heading), len(heading & part) / len(part)
        likeness = inside + covers + 0.1 * (tag == "h1")
        if inside >= HEADLINE_IN_TITLE and covers >= HEADLINE_COVERS and likeness > closest:
            best, closest = index, likeness
    return best


def _shown(title: str) -> str:
    return title if len(title) <= TEASER_SHOWN else title[:TEASER_SHOWN - 1] + "…"


def score_article(article: Sequence[Seen], site: str, running: Sequence[bool] | None = None,
                  body: Sequence[bool] | None = None) -> list[Suggestion | None]:
    """The cold suggestion of every paragraph of one article (its paragraphs in order);
    `body` is running_text(article) and `running` what is not scored from its shape (by
    default `body`), if the caller has them."""
    where = site or "this project"
    out: list[Suggestion | None] = []
    body = running_text(article) if body is None else body
    running = body if running is None else running
    html = any(seen.features for seen in article)
    body = body if html else []
    # HTML: running text outside the longest run is scored too, by the second stage
    shapes = vectors(article, [flag and not out for flag, out in zip(running, outside_run(
        body))] if html else running)
    first = [shape_probability(vector, False)[0] if vector else 0.0 for vector in shapes]
    second = context_probabilities(first, running, body) if html else repeat((0.0, []))
    for seen, vector, p, (p2, context) in zip(article, shapes, first, second):
        candidates: list[Suggestion] = []
        if seen.repeats >= 2:
            candidates.append((BOILERPLATE, repetition_confidence(seen.repeats),
                               f"same text on {seen.repeats + 1} pages of {where}"))
        if seen.teaser:
            candidates.append((BOILERPLATE, TEASER_CONFIDENCE,
                               f"title of another article: {_shown(seen.teaser)}"))
        # a site rule's reason wins: the shape's is only wanted without one
        probability = (p2 if vector.get("html") else p) if vector else 0.0
        if probability >= 0.5:
            names = [] if candidates else [name for _, name in sorted(
                shape_pushes(vector) + context, reverse=True)[:3]]
            candidates.append((BOILERPLATE, round(probability, 3),
                               _shape_reason(names, seen.features)))
        # the strongest confidence; the reason of a site rule when one applies (it says more)
        out.append((BOILERPLATE, max(item[1] for item in candidates),
                    candidates[0][2][:MAX_REASON_CHARS]) if candidates else None)
    return out


# --- over the database: at import, or after a large one ---------------------------------

@dataclass
class Imported:
    """A stored article whose cold suggestions are to be written, as the import has it in
    memory (or as score_pending reads it back: then with its paragraphs' ids)."""

    pk: int
    site: str
    title: str
    texts: list[str]
    keys: list[str]  # text.text_key of each paragraph
    features: list[dict[str, Any]] | None
    ids: list[int] | None = None  # its paragraphs' ids, when known


def _level(repeats: int) -> int:
    """Repetition levels a stored suggestion is refreshed at: 2, 4, 8, … other pages."""
    return 0 if repeats < 2 else repeats.bit_length()


def suggest_imported(session: Session, project_id: int, articles: Sequence[Imported],
                     done: set[int] | None = None, sites: _Sites | None = None) -> int:
    """Store the cold suggestions of stored articles not scored yet, mark them scored, and
    refresh those of older scored articles of their sites whose text now repeats more or is
    one of these articles' title (`done`: articles scored in the same pass, left alone).
    Reads and scores with no write lock held, then writes in one short write transaction.
    Returns how many suggestions were written."""
    if not articles:
        return 0
    plan = _score_imported(session, project_id, articles, sites)
    session.commit()  # the reads' transaction ends: scoring held no lock
    with write_transaction(session):
        written = _insert_new(session, articles, plan.scored) + _refresh_older(
            session, project_id, plan.older_articles, plan.new_ids | (done or set()),
            plan.new_count, plan.counts)
        pks = sorted(plan.new_ids)
        for start in range(0, len(pks), CHUNK):
            session.execute(update(Article).where(Article.id.in_(pks[start:start + CHUNK]))
                            .values(signals_scored=True))
        session.commit()
    return written


def pending_projects(session: Session) -> list[int]:
    """Projects with suggestions on that hold articles whose cold suggestions are not stored
    yet (a large import's). One indexed read."""
    found = list(session.scalars(
        select(Article.project_id).distinct().join(Project, Project.id == Article.project_id)
        .where(Article.signals_scored.is_(False), Project.suggestions_enabled)))
    session.rollback()
    return found


def score_pending(session: Session, project_id: int, article_ids: Sequence[int] | None = None,
                  batch: int = PENDING_BATCH,
                  progress: ProgressCallback = no_progress) -> int:
    """Write the cold suggestions of the project's articles not scored yet (all, or those of
    `article_ids`), `batch` articles at a time: read in a transaction of their own, score with
    no transaction open, write in a short one (suggest_imported). Idempotent: another process
    scoring the same articles meanwhile writes the same. Returns how many were written."""
    enabled = session.scalar(select(Project.suggestions_enabled)
                             .where(Project.id == project_id))
    written, done, last = 0, set(), 0
    sites = _Sites() if article_ids is None else None  # many batches: read each site once
    total = None
    if enabled and progress is not no_progress and article_ids is None:
        total = session.scalar(select(func.count(Article.id)).where(
            Article.project_id == project_id, Article.signals_scored.is_(False)))
    while enabled:
        wanted = (select(Article.id, Article.site, Article.title)
                  .where(Article.project_id == project_id, Article.signals_scored.is_(False),
                         Article.id > last).order_by(Article.id).limit(batch))
        if article_ids is not None:
            wanted = wanted.where(Article.id.in_(article_ids))
        found = session.execute(wanted).all()
        if not found:
            break
        articles = {pk: Imported(pk, site, title, [], [], [], []) for pk, site, title in found}
        for article_id, pk, text, key, features in session.connection().execute(
                select(Paragraph.article_id, Paragraph.id, Paragraph.text, Paragraph.text_key,
                       Paragraph.features)
                .where(Paragraph.article_id.in_(list(articles)))
                .order_by(Paragraph.article_id, Paragraph.index)):
            article = articles[article_id]
            article.ids.append(pk)
            article.texts.append(text)
            article.keys.append(key or text_key(text))
            article.features.append(features)
        for article in articles.values():
            if not any(article.features):  # not HTML: as the import has it
                article.features = None
        last = found[-1].id
        written += suggest_imported(session, project_id, list(articles.values()), done, sites)
        done.update(articles)
        progress("articles scored (cold signals)", len(done), total)
    session.rollback()
    return written


class _Sites:
    """What a pass over many pending articles reads once per site rather than once per batch
    (the site's articles all stored already): how many articles hold each text that repeats,
    and the titles."""

    def __init__(self) -> None:
        self.repeats: dict[str, dict[str, int]] = {}
        self.titles: dict[str, Titles] = {}

    def read(self, session: Session, project_id: int, wanted: set[str]) -> None:
        missing = wanted - self.repeats.keys()
        if not missing:
            return
        articles = func.count(distinct(Paragraph.article_id))
        for site in missing:
            self.repeats[site] = {key: number for key, number in session.execute(
                select(Paragraph.text_key, articles)
                .join(Article, Article.id == Paragraph.article_id)
                .where(Article.project_id == project_id, Article.site == site)
                .group_by(Paragraph.text_key).having(articles > 1))}
        self.titles.update(_site_titles(session, project_id, missing))


@dataclass
class _Plan:
    """What `_score_imported` found: the new paragraphs' suggestions and what the refresh of
    older articles needs."""

    scored: list[tuple[int, int, Suggestion]]
    older_articles: list[Imported]
    new_ids: set[int]
    new_count: Counter[tuple[str, str]]
    counts: Counter[tuple[str, str]]


def _score_imported(session: Session, project_id: int, articles: Sequence[Imported],
                    sites: _Sites | None = None) -> _Plan:
    new_ids = {article.pk for article in articles}
    new_count: Counter[tuple[str, str]] = Counter()
    for article in articles:
        new_count.update((article.site, key) for key in set(article.keys))
    per_site = Counter(article.site for article in articles)
    older = {site for site, number in session.execute(  # sites with other articles stored
        select(Article.site, func.count()).where(Article.project_id == project_id,
                                                 Article.site.in_(per_site))
        .group_by(Article.site)) if number > per_site[site]}
    if sites is not None:
        sites.read(session, project_id, set(per_site))
        counts = Counter({(site, key): sites.repeats[site].get(key, 1)
                          for site, key in new_count})
        titles = sites.titles
    else:
        counts = Counter({pair: number for pair, number in new_count.items()
                          if pair[0] not in older})
        counts.update(_site_counts(session, project_id, (  # these articles included
            pair for pair in new_count if pair[0] in older)))
        titles = _site_titles(session, project_id, set(per_site))
    scored: list[tuple[int, int, Suggestion]] = []
    for article in articles:
        own = text_key(article.title)
        seen = [Seen(text, article.features[index] if article.features else None,
                     0 if key == own else counts[(article.site, key)] - 1)
                for index, (text, key) in enumerate(zip(article.texts, article.keys))]
        headline = own_headline(article.texts, article.title, article.features)
        body = running_text(seen)
        running = [flag or key == own or index == headline  # its own headline is body too
                   for index, (flag, key) in enumerate(zip(body, article.keys))]
        own_folded = fold(article.title)
        for one, flag in zip(seen, running):
            if not flag:
                one.teaser = titles[article.site].teaser(one.text, article.pk, own_folded)
        scored += [(article.pk, index, best) for index, best in
                   enumerate(score_article(seen, article.site, running, body)) if best]
    return _Plan(scored, [article for article in articles if article.site in older], new_ids,
                 new_count, counts)


def _site_counts(session: Session, project_id: int,
                 wanted: Iterable[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """Articles of the project holding each (site, text_key), this import's included."""
    counts: Counter[tuple[str, str]] = Counter()
    by_site: dict[str, list[str]] = {}
    for site, key in wanted:
        by_site.setdefault(site, []).append(key)
    for site, keys in by_site.items():
        for start in range(0, len(keys), CHUNK):
            counts.update({(site, key): number for key, number in session.execute(
                select(Paragraph.text_key, func.count(distinct(Paragraph.article_id)))
                .join(Article, Article.id == Paragraph.article_id)
                .where(Article.project_id == project_id, Article.site == site,
                       Paragraph.text_key.in_(keys[start:start + CHUNK]))
                .group_by(Paragraph.text_key))})
    return counts


def _site_titles(session: Session, project_id: int, sites: set[str]) -> dict[str, Titles]:
    titles = {site: Titles() for site in sites}
    for pk, site, title in session.execute(
            select(Article.id, Article.site, Article.title)
            .where(Article.project_id == project_id, Article.site.in_(sites))):
        titles[site].add(pk, title)
    return titles


def _insert_new(session: Session, articles: Sequence[Imported],
                scored: list[tuple[int, int, Suggestion]]) -> int:
    """Insert the suggestions of paragraphs just scored, found by article and index. A
    paragraph that got one meanwhile (a label propagated, the project's model, another
    process scoring it too) keeps it."""
    ids = {article.pk: article.ids for article in articles if article.ids is not None}
    missing = sorted({pk for pk, _, _ in scored if pk not in ids})
    for start in range(0, len(missing), CHUNK // 10):  # read back: the import has no ids
        for pk, article_id, index in session.connection().execute(
                select(Paragraph.id, Paragraph.article_id, Paragraph.index)
                .where(Paragraph.article_id.in_(missing[start:start + CHUNK // 10]))
                .order_by(Paragraph.article_id, Paragraph.index)):
            ids.setdefault(article_id, []).append(pk)
    now = utcnow()
    rows = [{"paragraph_id": ids[pk][index], "label": label, "confidence": confidence,
             "reason": reason, "model": MODEL, "updated_at": now}
            for pk, index, (label, confidence, reason) in scored]
    add = dialect_insert(session)(SuggestionRow).on_conflict_do_nothing(
        index_elements=["paragraph_id"])
    for offset in range(0, len(rows), CHUNK):
        session.connection().execute(add, rows[offset:offset + CHUNK])
    return len(rows)


def _refresh_older(session: Session, project_id: int, articles: Sequence[Imported],
                   new_ids: set[int], new_count: Counter[tuple[str, str]],
                   total: Counter[tuple[str, str]]) -> int:
    """Raise the cold suggestions of older paragraphs that now repeat on more pages (by
    levels: 2, 4, 8, … other pages, so a footer costs a few rewrites, not one per import) or
    that are a new article's title (`articles`: the new ones of sites that had older ones); a
    suggestion of the project's or an external model, or a stronger cold one, is kept."""
    wanted: dict[str, dict[str, tuple[str, str | None]]] = {}  # site -> key -> why
    for (site, key), new in new_count.items():
        old = total[(site, key)] - new
        if old and _level(old + new - 1) > _level(old - 1):
            wanted.setdefault(site, {})[key] = ("repeats", None)
    for article in articles:
        if fold(article.title):
            wanted.setdefault(article.site, {}).setdefault(
                text_key(article.title), ("teaser", article.title))
    rows = []
    for site, keys in wanted.items():
        listed = list(keys)
        for start in range(0, len(listed), CHUNK):
            for pk, text, key, article_pk, title, model, confidence in session.execute(
                    select(Paragraph.id, Paragraph.text, Paragraph.text_key, Article.id,
                           Article.title, SuggestionRow.model, SuggestionRow.confidence)
                    .join(Article, Article.id == Paragraph.article_id)
                    .outerjoin(SuggestionRow, SuggestionRow.paragraph_id == Paragraph.id)
                    .where(Article.project_id == project_id, Article.site == site,
                           Article.signals_scored,  # one not scored yet will see it all
                           Paragraph.text_key.in_(listed[start:start + CHUNK]))):
                if article_pk in new_ids:
                    continue  # scored in this pass
                folded = fold(text)
                if folded == fold(title):
                    continue  # its own headline
                why, new_title = keys[key]
                if why == "repeats":
                    repeats = total[(site, key)] - 1
                    best = (BOILERPLATE, repetition_confidence(repeats),
                            f"same text on {repeats + 1} pages of {site or 'this project'}")
                elif folded == fold(new_title):
                    best = (BOILERPLATE, TEASER_CONFIDENCE,
                            f"title of another article: {_shown(new_title)}")
                else:
                    continue
                if model is None or (model == MODEL and confidence < best[1]):
                    rows.append({"paragraph_id": pk, "label": best[0], "confidence": best[1],
                                 "reason": best[2][:MAX_REASON_CHARS], "model": MODEL})
    return store_suggestions(session, rows) if rows else 0

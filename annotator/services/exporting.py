"""Export a project as JSONL, streaming: a page of paragraphs at a time, never the whole project."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Row, select, tuple_
from sqlalchemy.orm import Session

from ..models import Annotation, Article, Gold, Paragraph, Project, Suggestion, User, isoformat
from .messages import N_
from .suggestions import score_if_pending, suggestion_json

ARTICLES_PER_BATCH = 500
PARAGRAPHS_PER_PAGE = 1000  # also bounds the ids bound into one IN (...) query
UNITS = ("paragraph", "article")


class ExportError(Exception):
    """An export that cannot start (unknown project or annotator); nothing was written."""


@dataclass(frozen=True)
class ExportOptions:
    unit: str = "paragraph"
    only_labeled: bool = False
    only_resolved: bool = False
    """Only paragraphs with a label (gold, or a strict majority): no ties, nothing unlabeled."""
    annotator: str | None = None
    suggestions: bool = False
    """Add each paragraph's stored suggestion (or null; null everywhere when the project has
    suggestions off), whatever the threshold."""


def resolve_label(annotations: list[dict], gold: str | None) -> tuple[str | None, str | None]:
    """Gold wins; else the label a strict majority of the annotations agree on; else none."""
    if gold is not None:
        return gold, "gold"
    if annotations:
        label, votes = Counter(a["label"] for a in annotations).most_common(1)[0]
        if votes * 2 > len(annotations):
            return label, "majority"
    return None, None


@dataclass
class Tally:
    """What an export found on its way, filled in as its lines are read."""

    unresolved: int = 0
    """Paragraphs with annotations but no label (a tie, no gold), exported or left out."""


@dataclass(frozen=True)
class Line:
    """One exported JSONL line, with the article it belongs to, and the labels and paragraph
    texts it carries."""

    article_pk: int
    data: bytes
    labels: tuple[str | None, ...]
    texts: tuple[str, ...] = ()


def export_lines(session: Session, project_name: str, options: ExportOptions = ExportOptions(),
                 tally: Tally | None = None) -> Iterator[bytes]:
    """Check the request, then return a generator of JSONL lines (bytes ending in \\n)."""
    return (line.data for line in export_records(session, project_name, options, tally))


def export_records(session: Session, project_name: str,
                   options: ExportOptions = ExportOptions(),
                   tally: Tally | None = None) -> Iterator[Line]:
    """Check the request, then return a generator of Lines (for splitting into datasets);
    `tally` is filled in as the lines are read."""
    if options.unit not in UNITS:
        raise ExportError(N_("unknown unit %(unit)s: use paragraph or article",
                             unit=repr(options.unit)))
    project_id, suggestions_enabled = session.execute(
        select(Project.id, Project.suggestions_enabled).where(Project.name == project_name)
    ).first() or (None, False)
    if project_id is None:
        raise ExportError(N_("no project named %(name)s", name=repr(project_name)))
    annotator_id = None
    if options.annotator is not None:
        annotator_id = session.scalar(select(User.id).where(User.username == options.annotator))
        if annotator_id is None:
            raise ExportError(N_("no user named %(name)s", name=repr(options.annotator)))
    suggestions = None
    if options.suggestions:
        suggestions = "stored" if suggestions_enabled else "off"
        if suggestions_enabled:  # a large import's cold suggestions, if still pending
            score_if_pending(session, project_id)
    return _lines(session, project_name, project_id, options, annotator_id, suggestions,
                  tally if tally is not None else Tally())


def _lines(session: Session, project_name: str, project_id: int, options: ExportOptions,
           annotator_id: int | None, suggestions: str | None, tally: Tally) -> Iterator[Line]:
    """Render each batch of articles as paragraph lines or article lines."""
    for articles in _article_batches(session, project_id):
        items = _items(session, [article.id for article in articles], annotator_id,
                       options, suggestions, tally)
        heads = {article.id: {"project": project_name, "article_id": article.article_id,
                              "title": article.title, "url": article.url,
                              "meta": article.meta or {}, "source": _source(article)}
                 for article in articles}
        if options.unit == "article":
            yield from _article_lines(articles, heads, items,
                                      options.only_labeled or options.only_resolved)
            continue
        for article_pk, item in items:
            line = {**heads[article_pk], "paragraph_index": item.pop("index"), **item}
            yield Line(article_pk, _dump(line), (item["label"],), (item["text"],))


def _article_lines(articles: Sequence[Row], heads: dict[int, dict],
                   items: Iterator[tuple[int, dict]], only_labeled: bool) -> Iterator[Line]:
    """Merge the batch's articles with their paragraphs (both in import order), one line each."""
    pending = next(items, None)
    for article in articles:
        paragraphs = []
        while pending is not None and pending[0] == article.id:
            paragraphs.append(pending[1])
            pending = next(items, None)
        if paragraphs or not only_labeled:
            yield Line(article.id, _dump({**heads[article.id], "paragraphs": paragraphs}),
                       tuple(paragraph["label"] for paragraph in paragraphs),
                       tuple(paragraph["text"] for paragraph in paragraphs))


def _article_batches(session: Session, project_id: int) -> Iterator[Sequence[Row]]:
    """Keyset-paginate the project's articles in import order."""
    last_id = 0
    while True:
        articles = session.execute(
            select(Article.id, Article.article_id, Article.title, Article.url, Article.meta,
                   Article.source_file, Article.source_line)
            .where(Article.project_id == project_id, Article.id > last_id)
            .order_by(Article.id).limit(ARTICLES_PER_BATCH)).all()
        if not articles:
            return
        last_id = articles[-1].id
        yield articles


def _source(article: Row) -> dict | None:
    """Where the article was imported from, {"file", "line"} (line: jsonl only), or None for
    articles imported before the app kept it."""
    if article.source_file is None:
        return None
    return {"file": article.source_file, "line": article.source_line}


def _items(session: Session, article_ids: list[int], annotator_id: int | None,
           options: ExportOptions, suggestions: str | None, tally: Tally
           ) -> Iterator[tuple[int, dict]]:
    """The articles' paragraphs in order as (article pk, item), with annotations and label,
    and with suggestions "stored" or "off", each one's suggestion (null when off)."""
    for page in _paragraph_pages(session, article_ids):
        ids = [row.id for row in page]
        annotations = _annotations(session, ids, annotator_id)
        gold = dict(session.execute(
            select(Gold.paragraph_id, Gold.label).where(Gold.paragraph_id.in_(ids))).all())
        suggested = {}
        if suggestions == "stored":
            suggested = {paragraph_id: suggestion_json(label, confidence, reason)
                         for paragraph_id, label, confidence, reason in session.execute(
                             select(Suggestion.paragraph_id, Suggestion.label,
                                    Suggestion.confidence, Suggestion.reason)
                             .where(Suggestion.paragraph_id.in_(ids)))}
        for paragraph_id, article_pk, index, text in page:
            found = annotations.get(paragraph_id, [])
            if options.only_labeled and not found:
                continue
            label, source = resolve_label(found, gold.get(paragraph_id))
            if found and label is None:
                tally.unresolved += 1
            if options.only_resolved and label is None:
                continue
            item = {"index": index, "text": text, "annotations": found,
                    "label": label, "label_source": source}
            if suggestions is not None:
                item["suggestion"] = suggested.get(paragraph_id)
            yield article_pk, item


def _paragraph_pages(session: Session, article_ids: list[int]) -> Iterator[Sequence[Row]]:
    """Keyset-paginate the articles' paragraphs by (article, index): no sort, an index walk."""
    key = (article_ids[0], -1)
    while True:
        page = session.execute(
            select(Paragraph.id, Paragraph.article_id, Paragraph.index, Paragraph.text)
            .where(Paragraph.article_id.in_(article_ids),
                   tuple_(Paragraph.article_id, Paragraph.index) > key)
            .order_by(Paragraph.article_id, Paragraph.index)
            .limit(PARAGRAPHS_PER_PAGE)).all()
        if not page:
            return
        yield page
        if len(page) < PARAGRAPHS_PER_PAGE:
            return
        key = (page[-1].article_id, page[-1].index)


def _annotations(session: Session, paragraph_ids: Iterable[int],
                 annotator_id: int | None) -> dict[int, list[dict]]:
    """Current annotations of the paragraphs, each list sorted by username (code point order)."""
    query = (select(Annotation.paragraph_id, User.username, Annotation.label,
                    Annotation.note, Annotation.source, Annotation.updated_at)
             .join(User, User.id == Annotation.user_id)
             .where(Annotation.paragraph_id.in_(list(paragraph_ids))))
    if annotator_id is not None:
        query = query.where(Annotation.user_id == annotator_id)
    annotations: dict[int, list[dict]] = defaultdict(list)
    for paragraph_id, username, label, note, source, updated_at in session.execute(query):
        annotations[paragraph_id].append({"annotator": username, "label": label, "note": note,
                                          "source": source, "updated_at": isoformat(updated_at)})
    for found in annotations.values():  # in Python: a database collation may order otherwise
        found.sort(key=lambda annotation: annotation["annotator"])
    return annotations


def _dump(obj: dict) -> bytes:
    """One JSONL line; falls back to the json module for what orjson refuses in `meta`."""
    try:
        return orjson.dumps(obj) + b"\n"
    except orjson.JSONEncodeError:  # integers beyond 64 bits, very deep nesting, lone surrogates
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        # each lone surrogate as its JSON escape (`\ud800`), which reads back as the same
        # string: UTF-8 cannot encode it, and outside strings JSON has none
        return text.encode("utf-8", "backslashreplace") + b"\n"

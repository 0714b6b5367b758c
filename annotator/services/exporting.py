"""Export a project as JSONL, streaming: one joined SELECT per batch of articles, read in pages."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

import orjson
from sqlalchemy import Connection, Row, Select, bindparam, select
from sqlalchemy.orm import Session

from ..models import (
    Annotation,
    Article,
    Gold,
    Paragraph,
    Project,
    Suggestion,
    User,
    isoformat,
)
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
    if len(annotations) <= 2:  # the usual case, without a Counter: all must agree
        labels = {annotation["label"] for annotation in annotations}
        return (labels.pop(), "majority") if len(labels) == 1 else (None, None)
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
    connection = session.connection()
    for articles in _article_batches(connection, project_id, options.only_labeled):
        heads = {article.id: {"project": project_name, "article_id": article.article_id,
                              "title": article.title, "url": article.url,
                              "meta": article.meta or {}, "source": _source(article)}
                 for article in articles}
        items = _items(connection, project_id, (articles[0].id, articles[-1].id), annotator_id,
                       options, suggestions, tally)
        if options.unit == "article":
            yield from _article_lines(articles, heads, items,
                                      options.only_labeled or options.only_resolved)
            continue
        for article_pk, index, item in items:
            line = {**heads[article_pk], "paragraph_index": index, **item}
            yield Line(article_pk, _dump(line), (item["label"],), (item["text"],))


def _article_lines(articles: Sequence[Row], heads: dict[int, dict],
                   items: Iterator[tuple[int, int, dict]], only_labeled: bool) -> Iterator[Line]:
    """Merge the batch's articles with their paragraphs (both in import order), one line each."""
    pending = next(items, None)
    for article in articles:
        paragraphs = []
        while pending is not None and pending[0] == article.id:
            paragraphs.append({"index": pending[1], **pending[2]})
            pending = next(items, None)
        if paragraphs or not only_labeled:
            yield Line(article.id, _dump({**heads[article.id], "paragraphs": paragraphs}),
                       tuple(paragraph["label"] for paragraph in paragraphs),
                       tuple(paragraph["text"] for paragraph in paragraphs))


def _article_batches(connection: Connection, project_id: int,
                     only_labeled: bool) -> Iterator[Sequence[Row]]:
    """Keyset-paginate the project's articles in import order (with --only-labeled, those with
    a labeled paragraph: the article.labeled_count counter)."""
    query = (select(Article.id, Article.article_id, Article.title, Article.url, Article.meta,
                    Article.source_file, Article.source_line)
             .where(Article.project_id == project_id, Article.id > bindparam("last_id"))
             .order_by(Article.id).limit(ARTICLES_PER_BATCH))
    if only_labeled:
        query = query.where(Article.labeled_count > 0)
    last_id = 0
    while True:
        articles = connection.execute(query, {"last_id": last_id}).all()
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


def _items(connection: Connection, project_id: int, article_range: tuple[int, int],
           annotator_id: int | None, options: ExportOptions, suggestions: str | None,
           tally: Tally) -> Iterator[tuple[int, int, dict]]:
    """The paragraphs of the project's articles in article_range (first and last pk), in order,
    as (article pk, index, item), with annotations, label and, with suggestions "stored" or
    "off", each one's suggestion (null when off): one streamed joined SELECT, a row per
    annotation, grouped here."""
    stored = suggestions == "stored"
    for _, group in groupby(connection.execute(
            _paragraphs_query(project_id, article_range, annotator_id, options.only_labeled,
                              stored).execution_options(yield_per=PARAGRAPHS_PER_PAGE)),
            itemgetter(1)):
        rows = list(group)  # columns: see _paragraphs_query
        article_pk, _, index, text = rows[0][:4]
        found = [{"annotator": row[4], "label": row[5], "note": row[6], "source": row[7],
                  "updated_at": row[8]} for row in rows if row[4] is not None]
        if not found and options.only_labeled:
            continue  # another annotator's label, with --annotator
        if len(found) > 1:  # in Python: a database collation may order otherwise
            found.sort(key=_annotator_of)
        label, source = resolve_label(found, rows[0][9])
        if found and label is None:
            tally.unresolved += 1
        if options.only_resolved and label is None:
            continue
        item = {"text": text, "annotations": found, "label": label, "label_source": source}
        if suggestions is not None:
            item["suggestion"] = (suggestion_json(*rows[0][10:13])
                                  if stored and rows[0][10] is not None else None)
        yield article_pk, index, item


def _paragraphs_query(project_id: int, article_range: tuple[int, int], annotator_id: int | None,
                      only_labeled: bool, stored_suggestions: bool) -> Select:
    """Paragraph, annotation (outer, maybe one annotator's), user, gold and maybe suggestion,
    ordered by (article, index): an index walk."""
    on_annotation = Annotation.paragraph_id == Paragraph.id
    if annotator_id is not None:
        on_annotation &= Annotation.user_id == annotator_id
    columns = [Paragraph.article_id, Paragraph.id, Paragraph.index, Paragraph.text,
               User.username, Annotation.label, Annotation.note, Annotation.source,
               Annotation.updated_at, Gold.label]
    if stored_suggestions:
        columns += [Suggestion.label, Suggestion.confidence, Suggestion.reason]
    query = (select(*columns)
             .join(Article, Article.id == Paragraph.article_id)
             .outerjoin(Annotation, on_annotation)
             .outerjoin(User, User.id == Annotation.user_id)
             .outerjoin(Gold, Gold.paragraph_id == Paragraph.id)
             .where(Article.project_id == project_id,
                    Paragraph.article_id.between(*article_range))
             .order_by(Article.id, Paragraph.index))  # by article.id: no sort in SQLite
    if stored_suggestions:
        query = query.outerjoin(Suggestion, Suggestion.paragraph_id == Paragraph.id)
    if only_labeled:  # the counters: only labeled articles' labeled paragraphs are read
        query = query.where(Article.labeled_count > 0, Paragraph.annotation_count > 0)
    return query


def _annotator_of(annotation: dict) -> str:
    return annotation["annotator"]


_ORJSON = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS
"""Stored timestamps (naive UTC) as isoformat() does them: seconds, then Z."""


def _dump(obj: dict) -> bytes:
    """One JSONL line; falls back to the json module for what orjson refuses in `meta`."""
    try:
        return orjson.dumps(obj, option=_ORJSON) + b"\n"
    except orjson.JSONEncodeError:  # integers beyond 64 bits, very deep nesting, lone surrogates
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=isoformat)
        # each lone surrogate as its JSON escape (`\ud800`), which reads back as the same
        # string: UTF-8 cannot encode it, and outside strings JSON has none
        return text.encode("utf-8", "backslashreplace") + b"\n"

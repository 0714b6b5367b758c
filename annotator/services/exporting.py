"""Export a project as JSONL, streaming: one joined SELECT per batch of articles, read in pages,
and beside it the batch's spans (and, for article lines, links) in the same order, merged."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter

import orjson
from sqlalchemy import (
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from ..choices import UNITS
from ..models import (
    Annotation,
    Article,
    Gold,
    Link,
    Paragraph,
    Project,
    Span,
    Suggestion,
    User,
    isoformat,
)
from .messages import N_
from .suggestions import score_if_pending, suggestion_json

ARTICLES_PER_BATCH = 500
PARAGRAPHS_PER_PAGE = 1000  # also bounds the ids bound into one IN (...) query


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
    guideline_versions: Counter = field(default_factory=Counter)
    """Exported annotations by the guideline version they were made under (None: before
    versions were kept, or an entry of spans only)."""


@dataclass(frozen=True)
class Line:
    """One exported JSONL line, with the article it belongs to, and the labels and paragraph
    texts it carries."""

    article_pk: int
    data: bytes
    labels: tuple[str | None, ...]
    texts: tuple[str, ...] = ()
    spans: tuple[tuple[bool, str], ...] = ()
    """(gold, label) of every span it carries."""
    links: tuple[tuple[bool, str], ...] = ()
    """(gold, relation) of every link it carries (article lines only)."""


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
    # any spans or links at all (of any project: a project's own would cost a walk of it)
    has_spans, has_links = (session.scalar(select(exists().select_from(table)))
                            for table in (Span, Link))
    scope = _Scope(project_id, annotator_id, has_spans,
                   has_links and options.unit == "article")
    return _lines(session, project_name, scope, options, suggestions,
                  tally if tally is not None else Tally())


@dataclass(frozen=True)
class _Scope:
    """What an export reads: the project, maybe one annotator, and whether the database holds
    any spans or (for article lines) links at all (else those queries are skipped)."""

    project_id: int
    annotator_id: int | None
    spans: bool
    links: bool


def _lines(session: Session, project_name: str, scope: _Scope, options: ExportOptions,
           suggestions: str | None, tally: Tally) -> Iterator[Line]:
    """Render each batch of articles as paragraph lines or article lines."""
    connection = session.connection()
    for articles in _article_batches(connection, scope, options.only_labeled):
        heads = {article.id: {"project": project_name, "article_id": article.article_id,
                              "title": article.title, "url": article.url,
                              "meta": article.meta or {}, "source": _source(article)}
                 for article in articles}
        article_range = (articles[0].id, articles[-1].id)
        items = _items(connection, scope, article_range, options, suggestions, tally)
        if options.unit == "article":
            yield from _article_lines(connection, scope, article_range, articles, heads, items,
                                      options.only_labeled or options.only_resolved)
            continue
        for article_pk, index, item, span_keys in items:
            line = {**heads[article_pk], "paragraph_index": index, **item}
            yield Line(article_pk, _dump(line), (item["label"],), (item["text"],), span_keys)


def _article_lines(connection: Connection, scope: _Scope, article_range: tuple[int, int],
                   articles: Sequence[Row], heads: dict[int, dict],
                   items: Iterator[tuple[int, int, dict, tuple]],
                   only_labeled: bool) -> Iterator[Line]:
    """Merge the batch's articles with their paragraphs and links (all in import order), one
    line each. Each paragraph is written to JSON as it comes, so an article is held as bytes,
    not as a tree of dicts: the line is `_dump` of {**head, "paragraphs", "links",
    "gold_links"}, spliced."""
    links = _Merge(_links(connection, scope, article_range) if scope.links else iter(()))
    try:
        pending = next(items, None)
        for article in articles:
            parts = [_dump(heads[article.id])[:-2], b',"paragraphs":[']  # head without "}\n"
            labels, texts, span_keys = [], [], []
            while pending is not None and pending[0] == article.id:
                _, index, item, keys = pending
                parts += (_dump({"index": index, **item})[:-1], b",")
                labels.append(item["label"])
                texts.append(item["text"])
                span_keys += keys
                pending = next(items, None)
            if not labels and only_labeled:
                continue
            if labels:
                parts.pop()  # the last comma
            own, gold = _article_links(links.take((article.id,)))
            parts += (b'],"links":', _dump(own)[:-1], b',"gold_links":', _dump(gold)[:-1],
                      b"}\n")
            yield Line(article.id, b"".join(parts), tuple(labels), tuple(texts), tuple(span_keys),
                       (*((False, link["relation"]) for link in own),
                        *((True, link["relation"]) for link in gold)))
    finally:
        links.close()


def _article_batches(connection: Connection, scope: _Scope,
                     only_labeled: bool) -> Iterator[Sequence[Row]]:
    """Keyset-paginate the project's articles in import order (with --only-labeled, those with
    a labeled paragraph, by the article.labeled_count counter, or with an annotator's span)."""
    query = (select(Article.id, Article.article_id, Article.title, Article.url, Article.meta,
                    Article.source_file, Article.source_line)
             .where(Article.project_id == scope.project_id, Article.id > bindparam("last_id"),
                    ~Article.calibration)  # teaching material, not data (calibration.py)
             .order_by(Article.id).limit(ARTICLES_PER_BATCH))
    if only_labeled:
        query = query.where(_labeled_article(scope))
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


def _items(connection: Connection, scope: _Scope, article_range: tuple[int, int],
           options: ExportOptions, suggestions: str | None,
           tally: Tally) -> Iterator[tuple[int, int, dict, tuple]]:
    """The paragraphs of the project's articles in article_range (first and last pk), in order,
    as (article pk, index, item, (gold, label) of its spans), with annotations, label, spans
    and, with suggestions "stored" or "off", each one's suggestion (null when off): one
    streamed joined SELECT, a row per annotation, grouped here, merged with the spans'
    streamed SELECT."""
    stored = suggestions == "stored"
    spans = _Merge(_spans(connection, scope, article_range, options.only_labeled)
                   if scope.spans else iter(()))
    try:
        for _, group in groupby(connection.execute(
                _paragraphs_query(scope, article_range, options.only_labeled, stored)
                .execution_options(yield_per=PARAGRAPHS_PER_PAGE)), itemgetter(1)):
            rows = list(group)  # columns: see _paragraphs_query
            article_pk, _, index, text = rows[0][:4]
            found = [{"annotator": row[4], "label": row[5], "note": row[6], "source": row[7],
                      "updated_at": row[8], "guideline_version": row[-1], "spans": []}
                     for row in rows if row[4] is not None]
            labeled, gold_spans, span_keys = found, [], ()
            span_rows = spans.take((article_pk, index)) if scope.spans else None
            if span_rows:
                gold_spans = _add_spans(found, span_rows, text)
                span_keys = tuple((row[3], row[6]) for row in span_rows)
                if any(entry["label"] is None for entry in found):  # spans, no label
                    labeled = [entry for entry in found if entry["label"] is not None]
            if not found and options.only_labeled:
                continue  # another annotator's label, with --annotator
            if len(found) > 1:  # in Python: a database collation may order otherwise
                found.sort(key=_annotator_of)
            label, source = resolve_label(labeled, rows[0][9])
            if labeled and label is None:
                tally.unresolved += 1
            if options.only_resolved and label is None:
                continue
            tally.guideline_versions.update(entry["guideline_version"] for entry in labeled)
            item = {"text": text, "annotations": found, "label": label, "label_source": source,
                    "gold_spans": gold_spans}
            if suggestions is not None:
                item["suggestion"] = (suggestion_json(*rows[0][10:13])
                                      if stored and rows[0][10] is not None else None)
            yield article_pk, index, item, span_keys
    finally:
        spans.close()


def _paragraphs_query(scope: _Scope, article_range: tuple[int, int], only_labeled: bool,
                      stored_suggestions: bool) -> Select:
    """Paragraph, annotation (outer, maybe one annotator's), user, gold and maybe suggestion,
    ordered by (article, index): an index walk."""
    on_annotation = Annotation.paragraph_id == Paragraph.id
    if scope.annotator_id is not None:
        on_annotation &= Annotation.user_id == scope.annotator_id
    columns = [Paragraph.article_id, Paragraph.id, Paragraph.index, Paragraph.text,
               User.username, Annotation.label, Annotation.note, Annotation.source,
               Annotation.updated_at, Gold.label]
    if stored_suggestions:
        columns += [Suggestion.label, Suggestion.confidence, Suggestion.reason]
    columns.append(Annotation.guideline_version)  # last: row[-1]
    query = (select(*columns)
             .join(Article, Article.id == Paragraph.article_id)
             .outerjoin(Annotation, on_annotation)
             .outerjoin(User, User.id == Annotation.user_id)
             .outerjoin(Gold, Gold.paragraph_id == Paragraph.id)
             .where(Article.project_id == scope.project_id, ~Article.calibration,
                    Paragraph.article_id.between(*article_range))
             .order_by(Article.id, Paragraph.index))  # by article.id: no sort in SQLite
    if stored_suggestions:
        query = query.outerjoin(Suggestion, Suggestion.paragraph_id == Paragraph.id)
    if only_labeled:  # the counters: only labeled articles' labeled paragraphs are read
        labeled = and_(Article.labeled_count > 0, Paragraph.annotation_count > 0)
        if scope.spans:  # and the paragraphs with an annotator's spans
            labeled = or_(labeled, Paragraph.id.in_(
                select(Span.paragraph_id).where(_own_spans(scope))))
        query = query.where(labeled)
    return query


def _labeled_article(scope: _Scope):
    """The condition on Article for --only-labeled: a labeled paragraph (the labeled_count
    counter), or an annotator's span."""
    if not scope.spans:
        return Article.labeled_count > 0
    return or_(Article.labeled_count > 0, Article.id.in_(
        select(Paragraph.article_id).join(Span, Span.paragraph_id == Paragraph.id)
        .where(_own_spans(scope))))


def _own_spans(scope: _Scope):
    """The condition on Span for an annotator's spans (the one named by --annotator)."""
    if scope.annotator_id is not None:
        return and_(Span.user_id == scope.annotator_id, Span.gold == false())
    return Span.gold == false()


def _spans(connection: Connection, scope: _Scope, article_range: tuple[int, int],
           only_labeled: bool) -> Iterator[tuple[tuple[int, int], list[Row]]]:
    """The spans (annotators' or the named one's, and gold) of the paragraphs in article_range
    (with --only-labeled, of the articles it keeps), grouped per paragraph as ((article pk,
    index), rows): one streamed SELECT in the order of _paragraphs_query."""
    query = (select(Paragraph.article_id, Paragraph.index, User.username, Span.gold,
                    Span.start, Span.end, Span.label, Span.created_at)
             .join(Article, Article.id == Paragraph.article_id)
             .join(Span, Span.paragraph_id == Paragraph.id)
             .outerjoin(User, User.id == Span.user_id)
             .where(Article.project_id == scope.project_id,
                    Paragraph.article_id.between(*article_range))
             .order_by(Article.id, Paragraph.index))
    if scope.annotator_id is not None:
        query = query.where(or_(Span.gold, Span.user_id == scope.annotator_id))
    if only_labeled:
        query = query.where(_labeled_article(scope))
    result = connection.execute(query.execution_options(yield_per=PARAGRAPHS_PER_PAGE))
    try:
        for key, rows in groupby(result, itemgetter(0, 1)):
            yield key, list(rows)
    finally:
        result.close()


def _add_spans(found: list[dict], rows: list[Row], text: str) -> list[dict]:
    """Put each annotator's spans into their entry of `found` (a new entry, label null, for
    one with spans and no label), sorted; returns the gold spans."""
    gold, by_annotator = [], {entry["annotator"]: entry for entry in found}
    for _, _, annotator, is_gold, start, end, label, created_at in rows:
        span = {"start": start, "end": end, "label": label, "text": text[start:end]}
        if is_gold:
            gold.append(span)
            continue
        entry = by_annotator.get(annotator)
        if entry is None:
            entry = by_annotator[annotator] = {
                "annotator": annotator, "label": None, "note": None, "source": None,
                "updated_at": created_at, "guideline_version": None, "spans": []}
            found.append(entry)
        elif entry["label"] is None and created_at > entry["updated_at"]:
            entry["updated_at"] = created_at  # the newest span's time
        entry["spans"].append(span)
    for entry in found:
        if len(entry["spans"]) > 1:
            entry["spans"].sort(key=_span_order)
    gold.sort(key=_span_order)
    return gold


def _span_order(span: dict) -> tuple[int, int, str]:
    return span["start"], span["end"], span["label"]


def _links(connection: Connection, scope: _Scope,
           article_range: tuple[int, int]) -> Iterator[tuple[tuple[int], list[Row]]]:
    """The links (annotators' or the named one's, and gold) of the articles in article_range,
    each end as (paragraph index, span start, span end), grouped per article as
    ((article pk,), rows): one streamed SELECT, by article."""
    ends, columns = [], []
    for paragraph_column, span_column in ((Link.from_paragraph_id, Link.from_span_id),
                                          (Link.to_paragraph_id, Link.to_span_id)):
        paragraph, span, span_paragraph = aliased(Paragraph), aliased(Span), aliased(Paragraph)
        ends.append((paragraph, paragraph.id == paragraph_column))
        ends.append((span, span.id == span_column))
        ends.append((span_paragraph, span_paragraph.id == span.paragraph_id))
        columns += [func.coalesce(paragraph.index, span_paragraph.index), span.start, span.end]
    query = (select(Link.article_id, User.username, Link.gold, Link.relation, *columns)
             .join(Article, Article.id == Link.article_id)
             .outerjoin(User, User.id == Link.user_id))
    for target, on in ends:
        query = query.outerjoin(target, on)
    query = query.where(Article.project_id == scope.project_id,
                        Link.article_id.between(*article_range)).order_by(Link.article_id)
    if scope.annotator_id is not None:
        query = query.where(or_(Link.gold, Link.user_id == scope.annotator_id))
    result = connection.execute(query.execution_options(yield_per=PARAGRAPHS_PER_PAGE))
    try:
        for key, rows in groupby(result, itemgetter(0)):
            yield (key,), list(rows)
    finally:
        result.close()


def _article_links(rows: list[Row]) -> tuple[list[dict], list[dict]]:
    """An article's links as exported, the annotators' and the gold ones, each sorted by
    (annotator,) from, to, relation; a span end (p, start, end) sorts after its paragraph."""
    own, gold = [], []
    for row in sorted(rows, key=_link_order):
        link = {"from": _end(*row[4:7]), "to": _end(*row[7:10]), "relation": row[3]}
        if row[2]:
            gold.append(link)
        else:
            own.append({"annotator": row[1], **link})
    return own, gold


def _link_order(row: Row) -> tuple:
    return (row[2], row[1] or "", *(-1 if value is None else value for value in row[4:10]),
            row[3])


def _end(index: int, start: int | None, end: int | None) -> dict:
    """A link's end: {"paragraph_index"}, and {"span": {"start", "end"}} for a span."""
    if start is None:
        return {"paragraph_index": index}
    return {"paragraph_index": index, "span": {"start": start, "end": end}}


class _Merge:
    """A stream of (key, rows) in ascending key order, taken from key by key: `take(key)`
    returns the rows of `key` (or []), passing over keys below it (paragraphs or articles
    the export leaves out)."""

    def __init__(self, stream: Iterator[tuple[tuple, list]]) -> None:
        self.stream = stream
        self.pending = next(stream, None)

    def take(self, key: tuple) -> list:
        if self.pending is None or self.pending[0] > key:  # the usual case: nothing for key
            return []
        while self.pending is not None and self.pending[0] < key:
            self.pending = next(self.stream, None)
        if self.pending is None or self.pending[0] != key:
            return []
        rows, self.pending = self.pending[1], next(self.stream, None)
        return rows

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


def _annotator_of(annotation: dict) -> str:
    return annotation["annotator"]


_ORJSON = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS
"""Stored timestamps (naive UTC) as isoformat() does them: seconds, then Z."""


def _dump(obj: dict | list) -> bytes:
    """One JSONL line; falls back to the json module for what orjson refuses in `meta`."""
    try:
        return orjson.dumps(obj, option=_ORJSON) + b"\n"
    except orjson.JSONEncodeError:  # integers beyond 64 bits, very deep nesting, lone surrogates
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=isoformat)
        # each lone surrogate as its JSON escape (`\ud800`), which reads back as the same
        # string: UTF-8 cannot encode it, and outside strings JSON has none
        return text.encode("utf-8", "backslashreplace") + b"\n"

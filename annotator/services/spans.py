"""Spans inside paragraphs and links between the units of an article: checking and storing
them for one owner (an annotator, or gold), and reading them back for the article view.

Offsets count code points of the stored `paragraph.text`, `end` exclusive (Python's `str`
indexing). The same rules hold for an annotator's spans and links and for gold ones: only the
owner differs (`Owner`). Every check runs before the first write, so a refused request
stores nothing."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from sqlalchemy import and_, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from ..models import Article, Link, Paragraph, Relation, Span, SpanLabel, utcnow

MAX_SPANS: Final = 1000  # one owner's spans in one paragraph
MAX_LINKS: Final = 5000  # one owner's links in one article
MAX_KEY_CHARS: Final = 32  # span label and relation keys match [a-z0-9_-]{1,32}
MAX_ID: Final = 2**31 - 1  # ids are int4 columns on PostgreSQL
ENDS: Final = ("paragraph_id", "span_id")


class SpanError(ValueError):
    """Bad spans or links: the message names the entry and the problem (an API 400)."""


class NotFound(LookupError):
    """No paragraph or article has that id (an API 404)."""


@dataclass(frozen=True)
class Owner:
    """Whose spans and links: an annotator's own, or the gold ones (`user_id` is then the
    reviewer who sets them; any reviewer's gold rows are the same gold)."""

    user_id: int
    gold: bool = False

    def owns(self, model):
        """A condition on Span or Link: the row is this owner's."""
        if self.gold:
            return model.gold.is_(True)
        return and_(model.user_id == self.user_id, model.gold.is_(False))


@dataclass(frozen=True)
class SpanInput:
    start: int
    end: int
    label: str


@dataclass(frozen=True)
class LinkInput:
    from_end: tuple[str, int]  # ("paragraph_id" or "span_id", id)
    to_end: tuple[str, int]
    relation: str | None  # None: the project's first relation


# --- reading request bodies (no database) -------------------------------------------------


def _whole_number(value: Any) -> bool:
    return type(value) is int  # bool is a subclass of int: true is not 1 here


def _key(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_KEY_CHARS


def _entries(body: Any, name: str, limit: int) -> list[dict]:
    if not isinstance(body, dict):
        raise SpanError("the body must be a JSON object")
    entries = body.get(name)
    if not isinstance(entries, list):
        raise SpanError(f'"{name}" must be a list')
    if len(entries) > limit:
        raise SpanError(f'"{name}" has {len(entries)} entries; the limit is {limit}')
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise SpanError(f"{name}[{index}] must be an object")
    return entries


def parse_spans(body: Any) -> list[SpanInput]:
    """The spans of a `{"spans": [{"start", "end", "label"}]}` body, checked for shape only
    (SpanError naming the entry otherwise); `check_spans` checks them against the text."""
    spans = []
    for index, entry in enumerate(_entries(body, "spans", MAX_SPANS)):
        for field in ("start", "end", "label"):
            if field not in entry:
                raise SpanError(f'spans[{index}] has no "{field}"')
        for field in ("start", "end"):
            if not _whole_number(entry[field]):
                raise SpanError(f'spans[{index}]: "{field}" must be a whole number')
        if not _key(entry["label"]):
            raise SpanError(f'spans[{index}]: "label" must be a span label key')
        spans.append(SpanInput(entry["start"], entry["end"], entry["label"]))
    return spans


def _end(entry: dict, index: int, side: str) -> tuple[str, int]:
    end = entry.get(side)
    where = f'links[{index}].{side}'
    if not isinstance(end, dict) or len(end) != 1 or next(iter(end)) not in ENDS:
        raise SpanError(f'{where} must be {{"paragraph_id": ID}} or {{"span_id": ID}}')
    kind, value = next(iter(end.items()))
    if not _whole_number(value) or not 0 < value <= MAX_ID:
        raise SpanError(f'{where}: "{kind}" must be an id')
    return kind, value


def parse_links(body: Any) -> list[LinkInput]:
    """The links of a `{"links": [{"from", "to", "relation"?}]}` body, checked for shape
    only; `replace_links` checks them against the article."""
    links = []
    for index, entry in enumerate(_entries(body, "links", MAX_LINKS)):
        relation = entry.get("relation")
        if relation is not None and not _key(relation):
            raise SpanError(f'links[{index}]: "relation" must be a relation key')
        links.append(LinkInput(_end(entry, index, "from"), _end(entry, index, "to"), relation))
    return links


# --- checks against the stored text and sets ----------------------------------------------


def check_spans(spans: list[SpanInput], text: str, labels: Iterable[str]) -> None:
    """SpanError for the first span that is out of range, empty, of a label outside the
    project's span label set, or overlapping another of the same label."""
    keys, length = set(labels), len(text)
    for index, span in enumerate(spans):
        where = f"spans[{index}]"
        if span.start < 0:
            raise SpanError(f"{where}: start {span.start} is before the paragraph's start (0)")
        if span.end > length:
            raise SpanError(f"{where}: end {span.end} is past the paragraph's {length} "
                            "characters")
        if span.start >= span.end:
            raise SpanError(f"{where} is empty: start {span.start} is not before end {span.end}")
        if span.label not in keys:
            raise SpanError(f"{where}: unknown span label {span.label!r} for this project")
    by_label = sorted(range(len(spans)), key=lambda i: (spans[i].label, spans[i].start, i))
    for before, after in pairwise(by_label):
        first, second = spans[before], spans[after]
        if first.label == second.label and second.start < first.end:
            raise SpanError(f"spans[{after}] overlaps spans[{before}]: both are "
                            f"{first.label!r} ({second.start}-{second.end} and "
                            f"{first.start}-{first.end})")
    # Sorted by start, any overlap shows between neighbours: if spans i < j overlap, then
    # start(i+1) <= start(j) < end(i), so i and i+1 do too.


def hold_span_labels(session: Session) -> None:
    """Call in a write transaction before checking the span labels it writes (see
    annotations.hold_label_set): PostgreSQL's ROW EXCLUSIVE on span, which a span label set
    change (`change_span_labels`) waits for; SQLite's write lock already serializes."""
    _lock(session, "span", "ROW EXCLUSIVE")


def hold_relations(session: Session) -> None:
    """`hold_span_labels` for links and the relation set."""
    _lock(session, "link", "ROW EXCLUSIVE")


def change_span_labels(session: Session) -> None:
    """Call before a span label or relation set change reads what uses each key."""
    _lock(session, "span", "SHARE ROW EXCLUSIVE")
    _lock(session, "link", "SHARE ROW EXCLUSIVE")


def _lock(session: Session, table: str, mode: str) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"LOCK TABLE {table} IN {mode} MODE")


_SPANS_OF_PARAGRAPH, _LINKS_OF_ARTICLE = 0x5350, 0x4C4B  # advisory lock classes: "SP", "LK"


def _one_at_a_time(session: Session, kind: int, target_id: int) -> None:
    """PostgreSQL: wait for any other replace of the same paragraph's spans (or article's
    links) to commit, so two saves at once (a retry, two tabs) never both add the same span;
    SQLite's write lock already serializes them."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(kind, target_id)))


# --- storing --------------------------------------------------------------------------------


def replace_spans(session: Session, paragraph_id: int, owner: Owner,
                  spans: list[SpanInput]) -> int:
    """Make `spans` the owner's spans of the paragraph, after checking them all (SpanError):
    a span already stored with the same (start, end, label) keeps its id and its links, the
    others go (their links with them), the new ones are added. The caller commits (then
    `paragraph_spans` reads them back). Returns the paragraph's article id."""
    hold_span_labels(session)
    _one_at_a_time(session, _SPANS_OF_PARAGRAPH, paragraph_id)
    row = session.execute(select(Paragraph.text, Article.project_id, Article.id)
                          .join(Article, Article.id == Paragraph.article_id)
                          .where(Paragraph.id == paragraph_id)).first()
    if row is None:
        raise NotFound(f"no paragraph {paragraph_id}")
    text, project_id, article_id = row
    check_spans(spans, text, session.scalars(
        select(SpanLabel.key).where(SpanLabel.project_id == project_id)))
    wanted = {(span.start, span.end, span.label) for span in spans}
    kept: set[tuple[int, int, str]] = set()
    gone = []
    for span_id, *key in session.execute(
            select(Span.id, Span.start, Span.end, Span.label)
            .where(Span.paragraph_id == paragraph_id, owner.owns(Span))):
        key = tuple(key)
        if key in wanted and key not in kept:
            kept.add(key)
        else:
            gone.append(span_id)
    if gone:  # their links go by ON DELETE CASCADE (SQLite runs with foreign_keys=ON)
        session.execute(delete(Span).where(Span.id.in_(gone)))
    now = utcnow()
    added = [{"paragraph_id": paragraph_id, "user_id": owner.user_id, "gold": owner.gold,
              "start": start, "end": end, "label": label, "source": "human", "created_at": now}
             for start, end, label in sorted(wanted - kept)]
    if added:
        session.execute(insert(Span), added)
    return article_id


def replace_links(session: Session, article_id: int, owner: Owner,
                  links: list[LinkInput]) -> int:
    """Make `links` the owner's links in the article, after checking every end is a paragraph
    of the article or one of the owner's spans in it, no link goes from a unit to itself, none
    is given twice and every relation is in the project's set (SpanError otherwise). A link
    already stored keeps its id. The caller commits (then `article_links` reads them back).
    Returns the article id."""
    hold_relations(session)
    _one_at_a_time(session, _LINKS_OF_ARTICLE, article_id)
    project_id = session.scalar(select(Article.project_id).where(Article.id == article_id))
    if project_id is None:
        raise NotFound(f"no article {article_id}")
    relations = list(session.scalars(select(Relation.key).where(Relation.project_id == project_id)
                                      .order_by(Relation.position, Relation.id)))
    named = {kind: {end[1] for link in links for end in (link.from_end, link.to_end)
                    if end[0] == kind} for kind in ENDS}
    known = {
        "paragraph_id": set(session.scalars(select(Paragraph.id).where(
            Paragraph.article_id == article_id, Paragraph.id.in_(named["paragraph_id"]))))
        if named["paragraph_id"] else set(),
        "span_id": set(session.scalars(
            select(Span.id).join(Paragraph, Paragraph.id == Span.paragraph_id)
            .where(Paragraph.article_id == article_id, Span.id.in_(named["span_id"]),
                   owner.owns(Span))
            # a span removed by a save in flight is waited for and then not found (a 400),
            # not found now and gone at the INSERT (a foreign key error)
            .with_for_update(read=True, key_share=True, of=Span)))
        if named["span_id"] else set(),
    }
    whose = "the gold" if owner.gold else "your"
    rows: dict[tuple, int] = {}
    for index, link in enumerate(links):
        for side, (kind, value) in (("from", link.from_end), ("to", link.to_end)):
            if value not in known[kind]:
                raise SpanError(
                    f"links[{index}].{side}: paragraph {value} is not in article {article_id}"
                    if kind == "paragraph_id" else
                    f"links[{index}].{side}: span {value} is not one of {whose} spans "
                    f"in article {article_id}")
        if link.from_end == link.to_end:
            raise SpanError(f"links[{index}] goes from a unit to itself")
        if not relations:
            raise SpanError("this project has no relations: an admin adds them in its settings")
        relation = relations[0] if link.relation is None else link.relation
        if relation not in relations:
            raise SpanError(f"links[{index}]: unknown relation {relation!r} for this project")
        key = (*_columns(link.from_end), *_columns(link.to_end), relation)
        if key in rows:
            raise SpanError(f"links[{index}] repeats links[{rows[key]}]")
        rows[key] = index
    kept: set[tuple] = set()
    gone = []
    for link_id, *key in session.execute(
            select(Link.id, Link.from_paragraph_id, Link.from_span_id, Link.to_paragraph_id,
                   Link.to_span_id, Link.relation)
            .where(Link.article_id == article_id, owner.owns(Link))):
        key = tuple(key)
        if key in rows and key not in kept:
            kept.add(key)
        else:
            gone.append(link_id)
    if gone:
        session.execute(delete(Link).where(Link.id.in_(gone)))
    now = utcnow()
    added = [{"article_id": article_id, "user_id": owner.user_id, "gold": owner.gold,
              "from_paragraph_id": key[0], "from_span_id": key[1], "to_paragraph_id": key[2],
              "to_span_id": key[3], "relation": key[4], "created_at": now}
             for key, _index in sorted(rows.items(), key=lambda item: item[1])
             if key not in kept]
    if added:
        session.execute(insert(Link), added)
    return article_id


def _columns(end: tuple[str, int]) -> tuple[int | None, int | None]:
    """An end as (paragraph id, span id), one of them None."""
    kind, value = end
    return (value, None) if kind == "paragraph_id" else (None, value)


# --- reading --------------------------------------------------------------------------------


def span_json(span_id: int, start: int, end: int, label: str) -> dict:
    return {"id": span_id, "start": start, "end": end, "label": label}


def link_json(link_id: int, from_paragraph: int | None, from_span: int | None,
              to_paragraph: int | None, to_span: int | None, relation: str) -> dict:
    return {"id": link_id, "from": _end_json(from_paragraph, from_span),
            "to": _end_json(to_paragraph, to_span), "relation": relation}


def _end_json(paragraph_id: int | None, span_id: int | None) -> dict:
    return {"paragraph_id": paragraph_id} if span_id is None else {"span_id": span_id}


# The article view reads these on every page load: Core statements built once, per kind of
# owner, run with bound values on the session's connection.
_spans, _links, _paragraphs = Span.__table__, Link.__table__, Paragraph.__table__


def _owned(table, gold: bool):
    if gold:
        return table.c.gold.is_(True)
    return and_(table.c.user_id == bindparam("uid"), table.c.gold.is_(False))


_SPAN_ROW = (_spans.c.start, _spans.c.end, _spans.c.label, _spans.c.id)
# Spans by the article's paragraphs (one probe of ix_span_paragraph_user each), not by the
# user's spans anywhere (which grow with everything they marked), sorted here, not in SQL.
_ARTICLE_SPANS = {gold: select(_spans.c.paragraph_id, *_SPAN_ROW).where(
    _spans.c.paragraph_id.in_(select(_paragraphs.c.id)
                              .where(_paragraphs.c.article_id == bindparam("article"))
                              .scalar_subquery()), _owned(_spans, gold))
    for gold in (False, True)}
_PARAGRAPH_SPANS = {gold: select(*_SPAN_ROW).where(
    _spans.c.paragraph_id == bindparam("paragraph"), _owned(_spans, gold))
    for gold in (False, True)}
_ARTICLE_LINKS = {gold: select(
    _links.c.id, _links.c.from_paragraph_id, _links.c.from_span_id, _links.c.to_paragraph_id,
    _links.c.to_span_id, _links.c.relation).where(
    _links.c.article_id == bindparam("article"), _owned(_links, gold)).order_by(_links.c.id)
    for gold in (False, True)}


def _values(owner: Owner, **values) -> dict:
    return values if owner.gold else {**values, "uid": owner.user_id}


def paragraph_spans(session: Session, paragraph_id: int, owner: Owner) -> list[dict]:
    """The owner's spans of one paragraph, by offset."""
    rows = session.connection().execute(_PARAGRAPH_SPANS[owner.gold],
                                        _values(owner, paragraph=paragraph_id))
    return [span_json(span_id, start, end, label)
            for start, end, label, span_id in sorted(map(tuple, rows.all()))]


def article_spans(session: Session, article_id: int, owner: Owner) -> dict[int, list[dict]]:
    """The owner's spans in the article by paragraph id (each list by offset), one query."""
    found: dict[int, list[dict]] = {}
    rows = session.connection().execute(_ARTICLE_SPANS[owner.gold],
                                        _values(owner, article=article_id)).all()
    for paragraph_id, start, end, label, span_id in sorted(map(tuple, rows)):  # plain tuples
        # sort faster than Row objects
        found.setdefault(paragraph_id, []).append(span_json(span_id, start, end, label))
    return found


def article_links(session: Session, article_id: int, owner: Owner) -> list[dict]:
    """The owner's links in the article, in the order they were stored, one query."""
    return [link_json(*row) for row in session.connection().execute(
        _ARTICLE_LINKS[owner.gold], _values(owner, article=article_id)).all()]

"""Adjudication: the paragraphs to review (where annotators disagree), a page at a time."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import case, func, or_, select, tuple_
from sqlalchemy.orm import Session

from ..models import Annotation, Article, Gold, Label, Paragraph, Span, User
from .messages import N_
from .review_spans import differing_paragraphs

PAGE_SIZE = 50
ONLY = ("disagreements", "no-gold", "all-labeled")


class ReviewError(ValueError):
    """A filter that names no label or user of this project."""


@dataclass(frozen=True)
class ReviewFilters:
    """Which paragraphs to review.

    only: "disagreements" (two or more different labels, or spans or links that differ:
    review_spans.differing_paragraphs), "no-gold" (disagreements without gold yet, neither a
    gold label nor a gold span: what is left to do) or "all-labeled" (every paragraph with an annotation,
    to set gold on agreed ones too). label_pair (a, b): some annotator chose a and another b
    (a == b: two annotators chose a; b None: some annotator chose a). annotator: a username
    who labeled the paragraph.
    article: an article's primary key.
    """

    only: str = "disagreements"
    label_pair: tuple[str, str | None] | None = None
    annotator: str | None = None
    article: int | None = None


@dataclass(frozen=True)
class Vote:
    annotator: str
    label: str
    note: str | None


@dataclass(frozen=True)
class ReviewItem:
    """One paragraph to review, with its neighbours for context and every annotator's label."""

    article_pk: int
    article_id: str
    title: str
    paragraph_id: int
    index: int
    text: str
    before: str | None
    after: str | None
    gold: str | None
    annotations: list[Vote] = field(default_factory=list)


@dataclass(frozen=True)
class ReviewPage:
    items: list[ReviewItem]
    next_after: int | None
    """The paragraph id to pass as `after` for the next page; None on the last page."""


@dataclass(frozen=True)
class ReviewCounts:
    disagreements: int
    remaining: int
    """Disagreements without gold (neither a gold label nor a gold span)."""


def review_page(session: Session, project_id: int, filters: ReviewFilters = ReviewFilters(), *,
                after: int = 0, limit: int = PAGE_SIZE) -> ReviewPage:
    """One page of paragraphs to review, in import order, starting after paragraph id `after`
    (keyset pagination: a page costs the same wherever it is, and setting gold on the
    "no-gold" list never makes the next page skip a paragraph)."""
    if filters.only not in ONLY:
        raise ReviewError(N_("unknown filter %(only)s: use one of %(choices)s",
                             only=repr(filters.only), choices=", ".join(ONLY)))
    query = _matching_ids(session, project_id, filters).where(Paragraph.id > after)
    ids = list(session.scalars(query.order_by(Paragraph.id).limit(limit + 1)))
    more = len(ids) > limit
    ids = ids[:limit]
    return ReviewPage(_details(session, ids), ids[-1] if more else None)


def review_counts(session: Session, project_id: int) -> ReviewCounts:
    """How many paragraphs of the project are disagreements (as the list counts them), and
    how many lack gold (a label or a span): one pass over the project's annotations, gold
    looked up for the disagreeing ones only."""
    disagreeing = _matching_ids(session, project_id, ReviewFilters()).subquery()
    total, without_gold = session.execute(
        select(func.count(), func.count(case((~_has_gold(disagreeing.c.id), 1))))
        .select_from(disagreeing)).one()
    return ReviewCounts(disagreements=total, remaining=without_gold)


def _has_gold(paragraph_id):
    """The paragraph has gold: a gold label, or gold spans (a disagreement on spans alone is
    settled by them)."""
    return or_(select(Gold.paragraph_id).where(Gold.paragraph_id == paragraph_id).exists(),
               select(Span.id).where(Span.paragraph_id == paragraph_id,
                                     Span.gold.is_(True)).exists())


def _disagreeing(query, project_id: int):
    """Keep the groups (paragraphs) whose annotations carry two or more different labels, or
    whose annotators' spans or links differ."""
    return query.having(or_(func.count(Annotation.label.distinct()) > 1,
                            Paragraph.id.in_(differing_paragraphs(project_id))))


def _matching_ids(session: Session, project_id: int, filters: ReviewFilters):
    """SELECT paragraph.id ... GROUP BY paragraph HAVING the filters: over the annotations of
    the project's paragraphs, one pass, no per-paragraph query."""
    query = (select(Paragraph.id)
             .join(Article, Article.id == Paragraph.article_id)
             .join(Annotation, Annotation.paragraph_id == Paragraph.id)
             .where(Article.project_id == project_id)
             .group_by(Paragraph.id))
    if filters.only != "all-labeled":
        query = _disagreeing(query, project_id)
    if filters.only == "no-gold":
        query = query.where(~_has_gold(Paragraph.id))
    if filters.article is not None:
        query = query.where(Paragraph.article_id == filters.article)
    if filters.label_pair is not None:
        first, second = filters.label_pair
        known = set(session.scalars(select(Label.key).where(Label.project_id == project_id)))
        for key in (first, second):
            if key is not None and key not in known:
                raise ReviewError(N_("unknown label %(key)s for this project", key=repr(key)))
        if second is None:
            query = query.having(_votes_for(first) >= 1)
        elif first == second:
            query = query.having(_votes_for(first) >= 2)
        else:
            query = query.having(_votes_for(first) >= 1).having(_votes_for(second) >= 1)
    if filters.annotator is not None:
        user_id = session.scalar(select(User.id).where(User.username == filters.annotator))
        if user_id is None:
            raise ReviewError(N_("no user named %(name)s", name=repr(filters.annotator)))
        query = query.having(func.sum(case((Annotation.user_id == user_id, 1), else_=0)) >= 1)
    return query


def _votes_for(label: str):
    return func.sum(case((Annotation.label == label, 1), else_=0))


def _details(session: Session, ids: list[int]) -> list[ReviewItem]:
    """The page's paragraphs with article, gold, neighbours and annotations: three queries."""
    if not ids:
        return []
    rows = session.execute(
        select(Paragraph.id, Paragraph.article_id, Paragraph.index, Paragraph.text,
               Article.article_id.label("external_id"), Article.title, Gold.label.label("gold"))
        .join(Article, Article.id == Paragraph.article_id)
        .outerjoin(Gold, Gold.paragraph_id == Paragraph.id)
        .where(Paragraph.id.in_(ids))).all()
    wanted = {(row.article_id, row.index + step) for row in rows for step in (-1, 1)}
    wanted = sorted(key for key in wanted if key[1] >= 0)
    neighbours = dict(((article, index), text) for article, index, text in session.execute(
        select(Paragraph.article_id, Paragraph.index, Paragraph.text)
        .where(tuple_(Paragraph.article_id, Paragraph.index).in_(wanted))))
    votes: dict[int, list[Vote]] = defaultdict(list)
    for paragraph_id, username, label, note in session.execute(
            select(Annotation.paragraph_id, User.username, Annotation.label, Annotation.note)
            .join(User, User.id == Annotation.user_id)
            .where(Annotation.paragraph_id.in_(ids))):
        votes[paragraph_id].append(Vote(username, label, note))
    by_id = {}
    for row in rows:
        by_id[row.id] = ReviewItem(
            article_pk=row.article_id, article_id=row.external_id, title=row.title,
            paragraph_id=row.id, index=row.index, text=row.text,
            before=neighbours.get((row.article_id, row.index - 1)),
            after=neighbours.get((row.article_id, row.index + 1)),
            gold=row.gold,
            annotations=sorted(votes[row.id], key=lambda vote: vote.annotator))
    return [by_id[paragraph_id] for paragraph_id in ids]

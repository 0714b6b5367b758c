"""Stored suggestions: writing them (the rules, the project model, external models) and
reading what a page or the API shows. Nothing here computes one (see annotator/suggest/;
score_if_pending has a large import's pending ones computed before they are read)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from ..database import DatabaseBusy, dialect_insert
from ..models import Annotation, Article, Paragraph, Project, Suggestion, utcnow

APP_MODELS = frozenset({"signals", "model"})  # the app's own; an external model has another name
MAX_REASON_CHARS = 200
_CHUNK = 1000  # rows per upsert statement


def store_suggestions(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Upsert suggestions, one per paragraph: each row has paragraph_id, label, confidence,
    reason and model, and replaces the paragraph's stored one. The caller checks the rows and
    commits. Returns how many rows were written."""
    now = utcnow()
    table = Suggestion.__table__
    insert_into = dialect_insert(session)
    written, chunk = 0, []

    def flush() -> None:
        statement = insert_into(table).values(chunk)
        session.execute(statement.on_conflict_do_update(
            index_elements=[table.c.paragraph_id],
            set_={name: statement.excluded[name]
                  for name in ("label", "confidence", "reason", "model", "updated_at")}))

    for row in rows:
        chunk.append({"paragraph_id": row["paragraph_id"], "label": row["label"],
                      "confidence": float(row["confidence"]),
                      "reason": (row.get("reason") or "")[:MAX_REASON_CHARS],
                      "model": row["model"], "updated_at": now})
        if len(chunk) == _CHUNK:
            flush()
            written, chunk = written + len(chunk), []
    if chunk:
        flush()
        written += len(chunk)
    return written


def suggestion_json(label: str, confidence: float, reason: str) -> dict[str, Any]:
    """A suggestion as the API and the export show it."""
    return {"label": label, "confidence": round(confidence, 4), "reason": reason}


def shown_threshold(session: Session, article: Article) -> float | None:
    """The confidence from which the article's suggestions are shown; None when its project
    has suggestions off."""
    project = session.get(Project, article.project_id)
    if project is None or not project.suggestions_enabled:
        return None
    return project.suggestion_threshold


def paragraphs_with_suggestions(session: Session, article: Article
                                ) -> Iterator[tuple[int, int, str, dict[str, Any] | None]]:
    """The article's paragraphs in order as (id, index, text, the suggestion shown or None),
    in one query: the paragraphs outer-joined to their suggestions (the article page and
    its API)."""
    threshold = shown_threshold(session, article)
    if threshold is not None and not article.signals_scored:
        score_if_pending(session, article.project_id, [article.id])
    rows = session.execute(_PARAGRAPHS if threshold is None else _PARAGRAPHS_SUGGESTED,
                           {"article": article.id, "threshold": threshold})
    for paragraph_id, index, text, *suggestion in rows:
        yield (paragraph_id, index, text,
               None if not suggestion or suggestion[0] is None else suggestion_json(*suggestion))


def score_if_pending(session: Session, project_id: int,
                     article_ids: Sequence[int] | None = None) -> int:
    """Write the cold suggestions of the project's articles (or of `article_ids`) that a
    large import left pending, before they are read; when the database stays busy they stay
    pending and what is stored is read. Returns how many were written."""
    from ..suggest.signals import score_pending  # it stores through this module
    try:
        return score_pending(session, project_id, article_ids)
    except DatabaseBusy:
        session.rollback()
        return 0


def suggestions_for_article(session: Session, article_id: int,
                            threshold: float = 0.0) -> dict[int, dict[str, Any]]:
    """The article's stored suggestions with a confidence of at least `threshold`, by
    paragraph id (whatever the project's switch: see shown_threshold)."""
    rows = session.execute(_ARTICLE_SUGGESTIONS, {"article": article_id, "threshold": threshold})
    return {paragraph_id: suggestion_json(label, confidence, reason)
            for paragraph_id, label, confidence, reason in rows}


# Core tables, not ORM entities: for a 2,000-paragraph article the ORM's row handling cost
# more than the query (the article API reads this on every view).
_suggestions, _paragraphs = Suggestion.__table__, Paragraph.__table__
_ARTICLE_SUGGESTIONS = (
    select(_suggestions.c.paragraph_id, _suggestions.c.label, _suggestions.c.confidence,
           _suggestions.c.reason)
    .join(_paragraphs, _paragraphs.c.id == _suggestions.c.paragraph_id)
    .where(_paragraphs.c.article_id == bindparam("article"),
           _suggestions.c.confidence >= bindparam("threshold")))
_PARAGRAPHS = (select(_paragraphs.c.id, _paragraphs.c.index, _paragraphs.c.text)
               .where(_paragraphs.c.article_id == bindparam("article"))
               .order_by(_paragraphs.c.index))
_PARAGRAPHS_SUGGESTED = (
    select(_paragraphs.c.id, _paragraphs.c.index, _paragraphs.c.text, _suggestions.c.label,
           _suggestions.c.confidence, _suggestions.c.reason)
    .select_from(_paragraphs.outerjoin(_suggestions, and_(
        _suggestions.c.paragraph_id == _paragraphs.c.id,
        _suggestions.c.confidence >= bindparam("threshold"))))
    .where(_paragraphs.c.article_id == bindparam("article"))
    .order_by(_paragraphs.c.index))


def suggestion_outcomes(session: Session, project_id: int) -> dict[str, tuple[int, int, int]]:
    """Per suggested label: how many current annotations accepted the suggestion (source
    "suggestion"), typed the same label by hand, or overrode it with another label. One
    aggregate over the project's suggested paragraphs that someone labeled."""
    outcomes: dict[str, list[int]] = {}
    for suggested, source, same, count in session.execute(
            select(Suggestion.label, Annotation.source, Annotation.label == Suggestion.label,
                   func.count())
            .join(Annotation, Annotation.paragraph_id == Suggestion.paragraph_id)
            .join(Paragraph, Paragraph.id == Suggestion.paragraph_id)
            .join(Article, Article.id == Paragraph.article_id)
            .where(Article.project_id == project_id)
            .group_by(Suggestion.label, Annotation.source, Annotation.label == Suggestion.label)):
        row = outcomes.setdefault(suggested, [0, 0, 0])
        row[0 if source == "suggestion" else 1 if same else 2] += count
    return {label: (accepted, confirmed, overridden)
            for label, (accepted, confirmed, overridden) in sorted(outcomes.items())}

"""Changing a project's label set without orphaning what uses a label: how often each key is
used, and every use of one key relabeled as another in the caller's transaction."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import DateTime, Integer, String, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from ..database import dialect_insert
from ..models import (Annotation, AnnotationHistory, Article, Gold, LabelCount, Paragraph,
                      Suggestion, utcnow)


@dataclass(frozen=True)
class LabelUse:
    """What uses a label key in a project."""

    annotations: int = 0
    gold: int = 0
    suggestions: int = 0

    @property
    def in_use(self) -> bool:
        """Labels people gave: removing the key would orphan them (a suggestion is a guess
        and is dropped with it)."""
        return bool(self.annotations or self.gold)


def _in_project(project_id: int):
    return (select(Paragraph.id).join(Article, Article.id == Paragraph.article_id)
            .where(Article.project_id == project_id))


def label_uses(session: Session, project_id: int) -> dict[str, LabelUse]:
    """Every key used in the project (by annotations, gold labels or suggestions), label set
    or not. Annotations are read from the counters every save keeps (models.LabelCount)."""
    annotations = dict(session.execute(
        select(LabelCount.label, func.sum(LabelCount.count))
        .where(LabelCount.project_id == project_id).group_by(LabelCount.label)
        .having(func.sum(LabelCount.count) > 0)).all())
    gold = dict(session.execute(
        select(Gold.label, func.count()).where(Gold.paragraph_id.in_(_in_project(project_id)))
        .group_by(Gold.label)).all())
    suggestions = dict(session.execute(
        select(Suggestion.label, func.count())
        .where(Suggestion.paragraph_id.in_(_in_project(project_id)))
        .group_by(Suggestion.label)).all())
    return {key: LabelUse(int(annotations.get(key, 0)), gold.get(key, 0), suggestions.get(key, 0))
            for key in sorted({*annotations, *gold, *suggestions})}


def relabel(session: Session, project_id: int, old: str, new: str, changed_by: int | None) -> int:
    """Give every annotation, gold label and suggestion with key `old` in the project the key
    `new`: each annotation's earlier value kept in the history (replaced by `changed_by`),
    the label counters moved with them. The caller commits; returns the annotations moved."""
    now = utcnow()
    paragraphs = _in_project(project_id)
    mine = (Annotation.label == old, Annotation.paragraph_id.in_(paragraphs))
    session.execute(insert(AnnotationHistory).from_select(
        ["paragraph_id", "user_id", "label", "note", "source", "guideline_version",
         "valid_from", "replaced_at", "replaced_by_id"],
        select(Annotation.paragraph_id, Annotation.user_id, Annotation.label, Annotation.note,
               Annotation.source, Annotation.guideline_version, Annotation.updated_at,
               literal(now, DateTime),
               literal(changed_by, Integer)).where(*mine)))
    moved = session.execute(update(Annotation).where(*mine).values(label=new, updated_at=now)
                            .execution_options(synchronize_session=False)).rowcount
    # the counters: each (user, day) row of `old` added to the same row of `new`, then gone
    counted = dialect_insert(session)(LabelCount).from_select(
        ["project_id", "user_id", "label", "day", "count"],
        select(LabelCount.project_id, LabelCount.user_id, literal(new, String), LabelCount.day,
               LabelCount.count)
        .where(LabelCount.project_id == project_id, LabelCount.label == old))
    session.execute(counted.on_conflict_do_update(
        index_elements=list(LabelCount.__table__.primary_key.columns),
        set_={"count": LabelCount.count + counted.excluded["count"]}))
    session.execute(delete(LabelCount).where(LabelCount.project_id == project_id,
                                             LabelCount.label == old)
                    .execution_options(synchronize_session=False))
    session.execute(update(Gold).where(Gold.label == old, Gold.paragraph_id.in_(paragraphs))
                    .values(label=new, updated_at=now)
                    .execution_options(synchronize_session=False))
    session.execute(update(Suggestion)
                    .where(Suggestion.label == old, Suggestion.paragraph_id.in_(paragraphs))
                    .values(label=new).execution_options(synchronize_session=False))
    return moved


def drop_suggestions(session: Session, project_id: int, key: str) -> None:
    """Remove the project's suggestions of a key that is leaving its label set."""
    session.execute(delete(Suggestion).where(
        Suggestion.label == key, Suggestion.paragraph_id.in_(_in_project(project_id)))
        .execution_options(synchronize_session=False))

"""Setting and clearing labels: an annotator's own, and the adjudicated gold one."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.orm import Session

from ..database import dialect_insert
from ..models import Annotation, AnnotationHistory, Article, Gold, Label, Paragraph, utcnow

KEEP: Final = object()  # "leave the note as it is"


class LabelError(ValueError):
    """A label key that is not in the paragraph's project."""


class ParagraphMissing(LookupError):
    """No paragraph has that id."""


def paragraph_for_label(session: Session, paragraph_id: int, label: str) -> int:
    """Check in one query that the paragraph exists and the label is in its project;
    returns the paragraph's article id."""
    row = session.execute(
        select(Paragraph.article_id, Label.id)
        .join(Article, Article.id == Paragraph.article_id)
        .outerjoin(Label, and_(Label.project_id == Article.project_id, Label.key == label))
        .where(Paragraph.id == paragraph_id)).first()
    if row is None:
        raise ParagraphMissing(f"no paragraph {paragraph_id}")
    if row[1] is None:
        raise LabelError(f"unknown label {label!r} for this project")
    return row[0]


def _keep_history(session: Session, annotation: Annotation, changed_by: int) -> None:
    session.add(AnnotationHistory(
        paragraph_id=annotation.paragraph_id, user_id=annotation.user_id,
        label=annotation.label, note=annotation.note, valid_from=annotation.updated_at,
        replaced_by_id=changed_by))


def _current(session: Session, paragraph_id: int, user_id: int) -> Annotation | None:
    """The annotation, locked for update (PostgreSQL) and read fresh from the database."""
    return session.scalar(
        select(Annotation).where(Annotation.paragraph_id == paragraph_id,
                                 Annotation.user_id == user_id)
        .with_for_update().execution_options(populate_existing=True))


@dataclass(frozen=True)
class Saved:
    """An annotation as stored by a save."""

    paragraph_id: int
    label: str
    note: str | None
    updated_at: datetime


def _current_row(session: Session, paragraph_id: int, user_id: int):
    return session.execute(
        select(Annotation.id, Annotation.label, Annotation.note, Annotation.updated_at)
        .where(Annotation.paragraph_id == paragraph_id, Annotation.user_id == user_id)
        .with_for_update()).first()


def save_annotation(session: Session, paragraph_id: int, user_id: int, label: str,
                    note: str | None | object = KEEP, *, changed_by: int | None = None,
                    checked: bool = False) -> Saved:
    """Set a user's label (and note) on a paragraph, keeping the earlier value in the history.
    Safe when the same user saves the same paragraph from two places at once; plain SQL
    statements, since this is the hottest path of the app."""
    if not checked:
        paragraph_for_label(session, paragraph_id, label)
    now = utcnow()
    row = _current_row(session, paragraph_id, user_id)
    if row is None:
        new_note = None if note is KEEP else note
        inserted = session.execute(
            dialect_insert(session)(Annotation)
            .values(paragraph_id=paragraph_id, user_id=user_id, label=label, note=new_note,
                    created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=[Annotation.paragraph_id, Annotation.user_id]))
        if inserted.rowcount == 1:
            session.commit()
            return Saved(paragraph_id, label, new_note, now)
        row = _current_row(session, paragraph_id, user_id)  # another save won the race
    new_note = row.note if note is KEEP else note
    updated_at = row.updated_at
    if (row.label, row.note) != (label, new_note):
        session.execute(insert(AnnotationHistory).values(
            paragraph_id=paragraph_id, user_id=user_id, label=row.label, note=row.note,
            valid_from=row.updated_at, replaced_at=now, replaced_by_id=changed_by or user_id))
        session.execute(update(Annotation).where(Annotation.id == row.id)
                        .values(label=label, note=new_note, updated_at=now))
        updated_at = now
    session.commit()
    return Saved(paragraph_id, label, new_note, updated_at)


def set_annotation(session: Session, paragraph: Paragraph, user_id: int, label: str,
                   note: str | None = None, *, changed_by: int | None = None) -> Saved:
    """Set a user's label and note on a paragraph (the note replaced, None clearing it)."""
    return save_annotation(session, paragraph.id, user_id, label, note, changed_by=changed_by)


def clear_annotation(session: Session, paragraph: Paragraph, user_id: int, *,
                     changed_by: int | None = None) -> bool:
    """Remove a user's label from a paragraph (kept in the history); False if there was none."""
    annotation = _current(session, paragraph.id, user_id)
    if annotation is None:
        session.commit()
        return False
    _keep_history(session, annotation, changed_by or user_id)
    session.delete(annotation)
    session.commit()
    return True


def set_gold(session: Session, paragraph: Paragraph, label: str, user_id: int) -> Gold:
    """Set the adjudicated label of a paragraph."""
    paragraph_for_label(session, paragraph.id, label)
    now = utcnow()
    session.execute(
        dialect_insert(session)(Gold)
        .values(paragraph_id=paragraph.id, label=label, user_id=user_id, updated_at=now)
        .on_conflict_do_update(index_elements=[Gold.paragraph_id],
                               set_={"label": label, "user_id": user_id, "updated_at": now}))
    session.commit()
    return session.scalars(select(Gold).where(Gold.paragraph_id == paragraph.id)
                           .execution_options(populate_existing=True)).one()


def clear_gold(session: Session, paragraph: Paragraph) -> bool:
    """Remove the gold label of a paragraph; False if there was none."""
    deleted = session.execute(delete(Gold).where(Gold.paragraph_id == paragraph.id)).rowcount
    session.commit()
    return bool(deleted)

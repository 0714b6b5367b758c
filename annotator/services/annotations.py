"""Setting and clearing labels: an annotator's own, and the adjudicated gold one."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import Date, Integer, String, and_, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..database import Prepared, dialect_insert
from ..models import (Annotation, AnnotationHistory, Article, Gold, Label, LabelCount, Paragraph,
                      Project, utcnow)

KEEP: Final = object()  # "leave the note as it is"
SOURCES: Final = ("human", "suggestion")  # typed by hand; an accepted suggestion


class LabelError(ValueError):
    """A label key that is not in the paragraph's project."""


class ParagraphMissing(LookupError):
    """No paragraph has that id."""


# The hot path (every label save) runs these statements compiled once (database.Prepared) on
# the session's connection: building a statement per call, or going through SQLAlchemy's
# execution layer, would cost more than the SQL.
_paragraphs, _articles, _labels = Paragraph.__table__, Article.__table__, Label.__table__
_annotations, _history = Annotation.__table__, AnnotationHistory.__table__

_PARAGRAPH_AND_LABEL = Prepared(
    select(_paragraphs.c.article_id, _labels.c.id)
    .select_from(_paragraphs.join(_articles, _articles.c.id == _paragraphs.c.article_id)
                 .outerjoin(_labels, and_(_labels.c.project_id == _articles.c.project_id,
                                          _labels.c.key == bindparam("label"))))
    .where(_paragraphs.c.id == bindparam("paragraph_id")))
# The guideline version in force in paragraph `version_of`'s project: a subquery of the save's
# own statements, not a query of its own.
_projects = Project.__table__
_VERSION_NOW = (
    select(_projects.c.guideline_version)
    .select_from(_paragraphs.join(_articles, _articles.c.id == _paragraphs.c.article_id)
                 .join(_projects, _projects.c.id == _articles.c.project_id))
    .where(_paragraphs.c.id == bindparam("version_of", type_=Integer)).scalar_subquery())
_CURRENT_ROW = (
    select(_annotations.c.id, _annotations.c.label, _annotations.c.note,
           _annotations.c.source, _annotations.c.created_at, _annotations.c.updated_at,
           _annotations.c.guideline_version)
    .where(_annotations.c.paragraph_id == bindparam("paragraph_id"),
           _annotations.c.user_id == bindparam("user_id"))
    .with_for_update())
_UPDATE_ROW = (update(_annotations).where(_annotations.c.id == bindparam("row_id"))
               .values(label=bindparam("new_label"), note=bindparam("new_note"),
                       source=bindparam("new_source"), updated_at=bindparam("now"),
                       guideline_version=_VERSION_NOW))
_INSERT_HISTORY = insert(_history)

# The counters progress and the dashboard read (see models.LabelCount): one annotation more or
# fewer on a paragraph, and one label more or fewer for a user, label and day.
_label_counts = LabelCount.__table__
_STEP = bindparam("step", type_=Integer)
_COUNT_PARAGRAPH = Prepared(
    update(_paragraphs).where(_paragraphs.c.id == bindparam("paragraph_pk"))
    .values(annotation_count=_paragraphs.c.annotation_count + _STEP)
    .returning(_paragraphs.c.annotation_count, _paragraphs.c.article_id))
_COUNT_ARTICLE = Prepared(update(_articles).where(_articles.c.id == bindparam("article_pk"))
                  .values(labeled_count=_articles.c.labeled_count + _STEP))
def _new_annotation(insert_into):
    """INSERT an annotation of the paragraph, if it exists and the label is its project's,
    unless the user has one: the paragraph and label check and the write in one statement.
    A row comes back only if this one inserted it."""
    columns = ("user_id", "note", "source", "created_at", "updated_at")
    checked = (
        select(_paragraphs.c.id, _labels.c.key,
               *(bindparam(name, type_=_annotations.c[name].type) for name in columns),
               _projects.c.guideline_version)
        .select_from(_paragraphs.join(_articles, _articles.c.id == _paragraphs.c.article_id)
                     .join(_projects, _projects.c.id == _articles.c.project_id)
                     .join(_labels, and_(_labels.c.project_id == _articles.c.project_id,
                                         _labels.c.key == bindparam("label"))))
        .where(_paragraphs.c.id == bindparam("paragraph_id")))  # (SQLite needs the WHERE
    return insert_into(_annotations).from_select(  # before ON CONFLICT)
        ["paragraph_id", "label", *columns, "guideline_version"], checked
    ).on_conflict_do_nothing(
        index_elements=[_annotations.c.paragraph_id, _annotations.c.user_id]
    ).returning(_annotations.c.id)


_NEW_ANNOTATION = Prepared(_new_annotation)


def _label_count(insert_into):
    """Add `step` to a user's count of a label on a day, in the paragraph's project."""
    counted = insert_into(_label_counts).from_select(
        ["project_id", "user_id", "label", "day", "count"],
        select(_articles.c.project_id, bindparam("uid", type_=Integer),
               bindparam("label_key", type_=String), bindparam("day_key", type_=Date), _STEP)
        .select_from(_paragraphs.join(_articles, _articles.c.id == _paragraphs.c.article_id))
        .where(_paragraphs.c.id == bindparam("paragraph_pk")))
    return counted.on_conflict_do_update(
        index_elements=list(_label_counts.primary_key.columns),
        set_={"count": _label_counts.c["count"] + counted.excluded["count"]})


_LABEL_COUNT = Prepared(_label_count)


def _count_label(connection: Connection, paragraph_id: int, user_id: int, label: str,
                 day: date, step: int) -> None:
    """One more (step 1) or one fewer (step -1) of the user's labels `label` first set on
    `day`, in the paragraph's project: one atomic upsert, safe under concurrent saves."""
    _LABEL_COUNT.run(connection, {
        "paragraph_pk": paragraph_id, "uid": user_id, "label_key": label, "day_key": day,
        "step": step})


def _count(connection: Connection, paragraph_id: int, user_id: int, label: str, day: date,
           step: int) -> int:
    """Keep the counters right after an annotation was added (step 1) or removed (step -1),
    in the same transaction. Returns the paragraph's article id."""
    (count, article_id), = _COUNT_PARAGRAPH.run(
        connection, {"paragraph_pk": paragraph_id, "step": step}).fetchall()
    if count == (1 if step > 0 else 0):  # the paragraph became labeled, or unlabeled
        _COUNT_ARTICLE.run(connection, {"article_pk": article_id, "step": step})
    _count_label(connection, paragraph_id, user_id, label, day, step)
    return article_id


def hold_label_set(connection: Connection) -> None:
    """Call in a write transaction before checking the labels it writes: the project's label
    set cannot change until it commits, so no save writes a key a settings change just
    removed. SQLite's write lock already serializes every writer; on PostgreSQL this takes
    ROW EXCLUSIVE on annotation, which `change_label_set` waits for and makes wait."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE annotation IN ROW EXCLUSIVE MODE")


def change_label_set(session: Session) -> None:
    """Call before a label set change reads what uses each label: saves in flight commit
    first, later ones wait and then see the new set (see hold_label_set)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE annotation IN SHARE ROW EXCLUSIVE MODE")


def paragraph_for_label(connection: Connection, paragraph_id: int, label: str) -> int:
    """Check in one query that the paragraph exists and the label is in its project;
    returns the paragraph's article id."""
    rows = _PARAGRAPH_AND_LABEL.run(connection,
                                    {"paragraph_id": paragraph_id, "label": label}).fetchall()
    if not rows:
        raise ParagraphMissing(f"no paragraph {paragraph_id}")
    (article_id, label_id), = rows
    if label_id is None:
        raise LabelError(f"unknown label {label!r} for this project")
    return article_id


def _keep_history(session: Session, annotation: Annotation, changed_by: int) -> None:
    session.add(AnnotationHistory(
        paragraph_id=annotation.paragraph_id, user_id=annotation.user_id,
        label=annotation.label, note=annotation.note, source=annotation.source,
        guideline_version=annotation.guideline_version, valid_from=annotation.updated_at,
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
    source: str = "human"
    article_id: int = 0  # the paragraph's


def save_annotation(session: Session, paragraph_id: int, user_id: int, label: str,
                    note: str | None | object = KEEP, *, changed_by: int | None = None,
                    source: str = "human", commit: bool = True) -> Saved:
    """Set a user's label (and note) on a paragraph, keeping the earlier value in the history
    (`store_annotation` on the session's connection). `commit=False` leaves the commit to
    the caller (several saves in one transaction)."""
    session.flush()  # the statements below run on the connection, without autoflush
    connection = session.connection()
    saved = store_annotation(connection, paragraph_id, user_id, label, note,
                             changed_by=changed_by, source=source)
    if commit:
        session.commit()
    return saved


def store_annotation(connection: Connection, paragraph_id: int, user_id: int, label: str,
                     note: str | None | object = KEEP, *, changed_by: int | None = None,
                     source: str = "human") -> Saved:
    """Set a user's label (and note) on a paragraph in the connection's write transaction,
    keeping the earlier value in the history and the counters right; the caller commits.
    Raises ParagraphMissing or LabelError (paragraph_for_label) for a paragraph that does
    not exist or a label its project lacks. `source` is "suggestion" for an accepted
    suggestion; the same label saved again is "human" if either save was (a person
    confirmed it). Safe when the same user saves the same paragraph from two places at
    once."""
    now = utcnow()
    key = {"paragraph_id": paragraph_id, "user_id": user_id}
    new_note = None if note is KEEP else note
    inserted = _NEW_ANNOTATION.run(connection, {
        **key, "label": label, "note": new_note, "source": source, "created_at": now,
        "updated_at": now})  # most saves label a paragraph anew: one statement, no read first
    if inserted.fetchall():
        article_id = _count(connection, paragraph_id, user_id, label, now.date(), 1)
        return Saved(paragraph_id, label, new_note, now, source, article_id)
    # nothing inserted: no such paragraph or label (raised here), or the user's label exists
    article_id = paragraph_for_label(connection, paragraph_id, label)
    row = connection.execute(_CURRENT_ROW, key).first()  # there is one: change it
    new_note = row.note if note is KEEP else note
    if row.label == label and "human" in (row.source, source):
        source = "human"
    updated_at = row.updated_at
    if (row.label, row.note, row.source) != (label, new_note, source):
        connection.execute(_INSERT_HISTORY, {
            **key, "label": row.label, "note": row.note, "source": row.source,
            "guideline_version": row.guideline_version, "valid_from": row.updated_at,
            "replaced_at": now,
            "replaced_by_id": changed_by or user_id})
        connection.execute(_UPDATE_ROW, {"row_id": row.id, "new_label": label,
                                      "new_note": new_note, "new_source": source, "now": now,
                                      "version_of": paragraph_id})
        if row.label != label:  # the label moves, on the day it was first set; the two
            # counter rows are taken in label order, so two changes never wait on each other
            for key, step in sorted(((row.label, -1), (label, 1))):
                _count_label(connection, paragraph_id, user_id, key, row.created_at.date(),
                             step)
        updated_at = now
    return Saved(paragraph_id, label, new_note, updated_at, source, article_id)


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
    session.flush()
    _count(session.connection(), paragraph.id, user_id, annotation.label,
           annotation.created_at.date(), -1)
    session.commit()
    return True


def clear_annotations(session: Session, article_id: int, paragraph_ids: Iterable[int],
                      user_id: int) -> list[int]:
    """Remove a user's labels from those paragraphs of an article in one transaction (each
    kept in the history); returns the ids of the paragraphs that had one."""
    cleared = remove_annotations(session, article_id, paragraph_ids, user_id)
    session.commit()
    return cleared


def remove_annotations(session: Session, article_id: int, paragraph_ids: Iterable[int],
                       user_id: int) -> list[int]:
    """`clear_annotations` inside the caller's transaction (not committed here)."""
    annotations = session.scalars(
        select(Annotation).join(Paragraph, Paragraph.id == Annotation.paragraph_id)
        .where(Paragraph.article_id == article_id, Annotation.user_id == user_id,
               Annotation.paragraph_id.in_(set(paragraph_ids)))
        .order_by(Annotation.paragraph_id)
        .with_for_update(of=Annotation).execution_options(populate_existing=True)).all()
    for annotation in annotations:
        _keep_history(session, annotation, user_id)
        session.delete(annotation)
    session.flush()
    for annotation in annotations:
        _count(session.connection(), annotation.paragraph_id, user_id, annotation.label,
               annotation.created_at.date(), -1)
    return [annotation.paragraph_id for annotation in annotations]


def set_gold(session: Session, paragraph: Paragraph, label: str, user_id: int) -> Gold:
    """Set the adjudicated label of a paragraph."""
    hold_label_set(session.connection())
    paragraph_for_label(session.connection(), paragraph.id, label)
    now = utcnow()
    version = (select(Project.guideline_version).join(Article, Article.project_id == Project.id)
               .where(Article.id == paragraph.article_id).scalar_subquery())
    session.execute(
        dialect_insert(session)(Gold)
        .values(paragraph_id=paragraph.id, label=label, user_id=user_id, updated_at=now,
                guideline_version=version)
        .on_conflict_do_update(index_elements=[Gold.paragraph_id],
                               set_={"label": label, "user_id": user_id, "updated_at": now,
                                     "guideline_version": version}))
    session.commit()
    return session.scalars(select(Gold).where(Gold.paragraph_id == paragraph.id)
                           .execution_options(populate_existing=True)).one()


def clear_gold(session: Session, paragraph: Paragraph) -> bool:
    """Remove the gold label of a paragraph; False if there was none."""
    deleted = session.execute(delete(Gold).where(Gold.paragraph_id == paragraph.id)).rowcount
    session.commit()
    return bool(deleted)

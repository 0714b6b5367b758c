"""Which article an annotator works on next, and their hold on it (started, finished)."""
from __future__ import annotations

import time
import weakref
from datetime import timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from ..database import dialect_insert, write_transaction
from ..models import Article, Assignment, Project, utcnow

DEFAULT_RELEASE_AFTER = timedelta(hours=2)


def release_after(config) -> timedelta:
    """The app's release time for abandoned articles."""
    return timedelta(minutes=float(config["RELEASE_AFTER_MINUTES"]))


def _holding(cutoff):
    """An assignment holds its article if finished, pinned by an admin, or touched since `cutoff`."""
    return or_(Assignment.finished_at.is_not(None), Assignment.pinned,
               Assignment.touched_at > cutoff)


def next_article(session: Session, project: Project, user_id: int,
                 release_after: timedelta = DEFAULT_RELEASE_AFTER) -> int | None:
    """The article to open: one the user holds and has not finished, else the first (in
    import order) that still needs an annotator and that the user does not hold or finish."""
    cutoff = utcnow() - release_after
    held = session.scalar(
        select(Assignment.article_id).join(Article)
        .where(Article.project_id == project.id, Assignment.user_id == user_id,
               Assignment.finished_at.is_(None), _holding(cutoff))
        .order_by(Assignment.pinned.desc(), Assignment.article_id).limit(1))
    if held is not None:
        return held
    holders = (select(func.count(Assignment.id))
               .where(Assignment.article_id == Article.id, _holding(cutoff))
               .scalar_subquery())
    held_by_user = exists().where(and_(Assignment.article_id == Article.id,
                                       Assignment.user_id == user_id, _holding(cutoff)))
    return session.scalar(  # finished_count skips done articles without looking at holders
        select(Article.id)
        .where(Article.project_id == project.id, Article.finished_count < project.overlap,
               ~held_by_user, holders < project.overlap)
        .order_by(Article.id).limit(1))


def claim_next(session: Session, project: Project, user_id: int,
               release_after: timedelta = DEFAULT_RELEASE_AFTER) -> int | None:
    """Choose the user's next article and hold it, one claimant per project at a time, so two
    annotators never both take an article's last slot."""
    with write_transaction(session):
        # PostgreSQL: the project row is the lock; SQLite: the IMMEDIATE transaction is
        session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
        article_id = next_article(session, project, user_id, release_after)
        if article_id is not None:
            touch(session, article_id, user_id)
        session.commit()
    return article_id


def touch(session: Session, article_id: int, user_id: int, *, create: bool = True) -> None:
    """Start (or keep alive) the user's hold on an article; with create=False only keep alive.
    One statement, so concurrent saves on the same article never collide."""
    now = utcnow()
    if create:
        insert = dialect_insert(session)(Assignment).values(
            article_id=article_id, user_id=user_id, started_at=now, touched_at=now, pinned=False)
        session.execute(insert.on_conflict_do_update(
            index_elements=[Assignment.article_id, Assignment.user_id], set_={"touched_at": now}))
    else:
        session.execute(update(Assignment).where(
            Assignment.article_id == article_id, Assignment.user_id == user_id,
            Assignment.finished_at.is_(None)).values(touched_at=now))


_recent_touches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
KEEP_ALIVE_EVERY = 60.0  # seconds; far shorter than any release time


def keep_alive(session: Session, article_id: int, user_id: int) -> None:
    """`touch` for every label save, but at most once a minute per article and user in this
    process: the hold only has to outlive the release time."""
    seen = _recent_touches.setdefault(session.get_bind(), {})
    now = time.monotonic()
    if now - seen.get((article_id, user_id), -KEEP_ALIVE_EVERY) >= KEEP_ALIVE_EVERY:
        touch(session, article_id, user_id)
        seen[(article_id, user_id)] = now


def _assignment(session: Session, article_id: int, user_id: int) -> Assignment:
    return session.scalars(select(Assignment).where(
        Assignment.article_id == article_id, Assignment.user_id == user_id)
        .execution_options(populate_existing=True)).one()


def set_finished(session: Session, article_id: int, user_id: int, finished: bool) -> Assignment:
    """Mark the user's work on an article done, or reopen it."""
    touch(session, article_id, user_id)
    assignment = _assignment(session, article_id, user_id)  # locked by touch until commit
    if finished != (assignment.finished_at is not None):
        session.execute(update(Article).where(Article.id == article_id).values(
            finished_count=Article.finished_count + (1 if finished else -1)))
    assignment.finished_at = utcnow() if finished else None
    session.commit()
    return assignment


def assign(session: Session, article_ids: list[int], user_id: int) -> int:
    """Pin articles to an annotator (an admin's choice): held until finished or unassigned."""
    count = 0
    for article_id in article_ids:
        touch(session, article_id, user_id)
        assignment = _assignment(session, article_id, user_id)
        if not assignment.pinned and assignment.finished_at is None:
            assignment.pinned = True
            count += 1
    session.commit()
    return count


def unassign(session: Session, assignment_id: int) -> None:
    """Release a hold that is not finished (finished work is kept)."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is not None and assignment.finished_at is None:
        session.delete(assignment)
        session.commit()

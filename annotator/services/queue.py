"""Which article an annotator works on next, and their hold on it (started, finished)."""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..database import Prepared, write_transaction
from ..models import Article, Assignment, Project, ProjectMember, User, utcnow
from . import calibration


@dataclass(frozen=True)
class HoldTimes:
    """How long an unfinished hold that no admin pinned lasts without activity."""

    release_after: timedelta = timedelta(hours=2)
    """Once its annotator labeled in the article."""
    claim_for: timedelta = timedelta(minutes=10)
    """Before their first label (Start pressed, the article merely opened): never longer
    than release_after."""

    @property
    def claim(self) -> timedelta:
        return min(self.claim_for, self.release_after)


DEFAULT_HOLD = HoldTimes()


def hold_times(config) -> HoldTimes:
    """The app's hold times (RELEASE_AFTER_MINUTES, CLAIM_MINUTES)."""
    return HoldTimes(release_after=timedelta(minutes=float(config["RELEASE_AFTER_MINUTES"])),
                     claim_for=timedelta(minutes=float(config["CLAIM_MINUTES"])))


def _holding(project: Project, hold: HoldTimes, now: datetime | None = None):
    """An assignment holds its article if finished, or if its annotator still works on the
    project (active, and a member if it is members-only) and it is pinned by an admin or
    touched lately: within the release time once they labeled in the article, within the
    shorter claim time before. A deactivated user's or a former member's hold never blocks."""
    now = now or utcnow()
    workers = select(User.id).where(User.active)
    if project.members_only:
        workers = workers.where(or_(User.role == "admin", User.id.in_(
            select(ProjectMember.user_id).where(ProjectMember.project_id == project.id))))
    active = Assignment.user_id.in_(workers)
    return or_(Assignment.finished_at.is_not(None), and_(active, or_(
        Assignment.pinned, Assignment.touched_at > now - hold.claim,
        and_(Assignment.labeled_at.is_not(None), Assignment.touched_at > now - hold.release_after))))


def holds(assignment: Assignment, works_on_project: bool, hold: HoldTimes,
          now: datetime | None = None) -> bool:
    """`_holding` for one loaded assignment (the admin's list of holds)."""
    now = now or utcnow()
    if assignment.finished_at is not None:
        return True
    idle = now - assignment.touched_at
    return works_on_project and (assignment.pinned or idle < hold.claim or (
        assignment.labeled_at is not None and idle < hold.release_after))


def next_article(session: Session, project: Project, user_id: int,
                 hold: HoldTimes = DEFAULT_HOLD) -> int | None:
    """The article to open: a calibration article the user still has to do (calibration.py),
    else one the user holds and has not finished, else a hidden check if one is due, else the
    first ordinary article (in import order) that still needs an annotator and that the user
    does not hold or finish."""
    found = _next(session, project, user_id, hold)
    return found and found[0]


def _next(session: Session, project: Project, user_id: int,
          hold: HoldTimes) -> tuple[int, str | None] | None:
    """`next_article` with the round it starts: (id, "calibration" | "check" | None)."""
    due = calibration.calibration_due(session, project, user_id)
    if due is not None:
        return due, calibration.CALIBRATION
    holding = _holding(project, hold)
    held = session.scalar(
        select(Assignment.article_id).join(Article)
        .where(Article.project_id == project.id, Assignment.user_id == user_id,
               Assignment.finished_at.is_(None), holding)
        .order_by(Assignment.pinned.desc(), Assignment.article_id).limit(1))
    if held is not None:
        return held, None
    check = calibration.check_due(session, project, user_id)
    if check is not None:
        return check, calibration.CHECK
    holders = (select(func.count(Assignment.id))
               .where(Assignment.article_id == Article.id, holding)
               .scalar_subquery())
    held_by_user = exists().where(and_(Assignment.article_id == Article.id,
                                       Assignment.user_id == user_id, holding))
    ordinary = session.scalar(  # finished_count skips done articles without looking at holders
        select(Article.id)
        .where(Article.project_id == project.id, Article.finished_count < project.overlap,
               ~Article.calibration, ~held_by_user, holders < project.overlap)
        .order_by(Article.id).limit(1))
    return None if ordinary is None else (ordinary, None)


@dataclass(frozen=True)
class QueueState:
    """What the user's queue holds: the next article, and if none, why."""

    next_id: int | None
    articles: int = 0
    """In the project."""
    waiting: int = 0
    """Articles that still need annotators and that the user has not finished, but that
    others hold (all of them when next_id is None)."""
    free_at: datetime | None = None
    """When the first hold by someone else on such an article runs out if left idle (None:
    an admin pinned every one of them)."""

    @property
    def reason(self) -> str | None:
        """None (an article is there), "empty" (no articles), "held" (the rest are held by
        others) or "done" (every article is finished by the user or by enough others)."""
        if self.next_id is not None:
            return None
        if not self.articles:
            return "empty"
        return "held" if self.waiting else "done"


def queue_state(session: Session, project: Project, user_id: int,
                hold: HoldTimes = DEFAULT_HOLD) -> QueueState:
    """The next article the user's queue gives, claiming nothing; if none, why not."""
    next_id = next_article(session, project, user_id, hold)
    if next_id is not None:
        return QueueState(next_id)
    articles = session.scalar(select(func.count(Article.id))
                              .where(Article.project_id == project.id))
    finished_by_user = exists().where(and_(Assignment.article_id == Article.id,
                                           Assignment.user_id == user_id,
                                           Assignment.finished_at.is_not(None)))
    open_articles = (select(Article.id).where(
        Article.project_id == project.id, Article.finished_count < project.overlap,
        ~Article.calibration, ~finished_by_user))
    waiting = session.scalar(select(func.count()).select_from(open_articles.subquery()))
    free_at = None
    if waiting:
        now = utcnow()
        timed = (select(func.min(Assignment.touched_at)).where(
            Assignment.article_id.in_(open_articles), Assignment.user_id != user_id,
            Assignment.finished_at.is_(None), ~Assignment.pinned, _holding(project, hold, now)))
        claimed = session.scalar(timed.where(Assignment.labeled_at.is_(None)))
        labeled = session.scalar(timed.where(Assignment.labeled_at.is_not(None)))
        ends = [moment + span for moment, span in ((claimed, hold.claim),
                                                   (labeled, hold.release_after)) if moment]
        free_at = min(ends, default=None)
    return QueueState(None, articles, waiting, free_at)


def claim_next(session: Session, project: Project, user_id: int,
               hold: HoldTimes = DEFAULT_HOLD) -> int | None:
    """Choose the user's next article and hold it, one claimant per project at a time, so two
    annotators never both take an article's last slot."""
    with write_transaction(session):
        # PostgreSQL: the project row is the lock; SQLite: the IMMEDIATE transaction is
        session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
        found = _next(session, project, user_id, hold)
        if found is not None:
            touch(session, found[0], user_id)
            if found[1] is not None:  # a calibration round or a hidden check starts with it
                calibration.begin(session, project, found[0], user_id, found[1])
        session.commit()
    return found and found[0]


def _touch_statement(insert_into, labeled: bool):
    table = Assignment.__table__
    now = bindparam("now", type_=table.c.touched_at.type)
    changes = {"touched_at": now}
    if labeled:
        changes["labeled_at"] = func.coalesce(table.c.labeled_at, now)
    return insert_into(table).values(
        article_id=bindparam("article_pk"), user_id=bindparam("uid"), started_at=now,
        touched_at=now, pinned=False, labeled_at=now if labeled else None,
    ).on_conflict_do_update(index_elements=[table.c.article_id, table.c.user_id], set_=changes)


_TOUCH_CLAIMED = Prepared(lambda insert_into: _touch_statement(insert_into, labeled=False))
_TOUCH_LABELED = Prepared(lambda insert_into: _touch_statement(insert_into, labeled=True))


def touch(session: Session, article_id: int, user_id: int, *, labeled: bool = False) -> None:
    """Start (or keep alive) the user's hold on an article; `labeled` (a label saved in it)
    turns a short claim into a hold for the release time. One prebuilt statement, so
    concurrent saves on the same article never collide."""
    _touch(session.connection(), article_id, user_id, labeled)


def _touch(connection: Connection, article_id: int, user_id: int, labeled: bool) -> None:
    (_TOUCH_LABELED if labeled else _TOUCH_CLAIMED).run(
        connection, {"article_pk": article_id, "uid": user_id, "now": utcnow()})


_recent_touches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
KEEP_ALIVE_EVERY = 60.0  # seconds; far shorter than any release time


def keep_alive(connection: Connection, article_id: int, user_id: int) -> None:
    """`touch` for every label save, in its write transaction, but at most once a minute per
    article and user in this process (the first save included): the hold only has to
    outlive the release time."""
    seen = _recent_touches.setdefault(connection.engine, {})
    now = time.monotonic()
    if now - seen.get((article_id, user_id), -KEEP_ALIVE_EVERY) >= KEEP_ALIVE_EVERY:
        _touch(connection, article_id, user_id, labeled=True)
        seen[(article_id, user_id)] = now


def _assignment(session: Session, article_id: int, user_id: int) -> Assignment:
    return session.scalars(select(Assignment).where(
        Assignment.article_id == article_id, Assignment.user_id == user_id)
        .execution_options(populate_existing=True)).one()


def set_finished(session: Session, article_id: int, user_id: int, finished: bool) -> Assignment:
    """Mark the user's work on an article done, or reopen it; done freezes the results of a
    round on a gold article (calibration.freeze)."""
    touch(session, article_id, user_id)
    assignment = _assignment(session, article_id, user_id)  # locked by touch until commit
    if finished != (assignment.finished_at is not None):
        session.execute(update(Article).where(Article.id == article_id).values(
            finished_count=Article.finished_count + (1 if finished else -1)))
    assignment.finished_at = utcnow() if finished else None
    if finished:
        calibration.freeze(session, article_id, user_id)
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

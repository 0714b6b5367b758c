"""A project's progress for the admin dashboard: articles, paragraphs, and each annotator's
output, labels per day and label distribution, in a few aggregate queries."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from .suggestions import suggestion_outcomes
from ..models import (Annotation, AnnotationHistory, Article, Assignment, LabelCount, Paragraph,
                      Project, User, utcnow)


@dataclass
class AnnotatorStats:
    """One annotator's work in the project."""

    user_id: int
    username: str
    paragraphs: int  # paragraphs they labeled (their current annotations)
    articles_finished: int  # articles they marked done
    per_day: list[int]  # labels created per day, aligned with Dashboard.days
    labels: dict[str, int]  # label key -> their paragraphs with that label

    @property
    def recent(self) -> int:
        """Labels created in the dashboard's window of days."""
        return sum(self.per_day)


@dataclass
class LabelInfo:
    key: str
    name: str
    color: str


@dataclass
class Dashboard:
    """Where a project stands; every count is exact as of `counted_at`."""

    project_id: int
    overlap: int
    articles: int
    finished: int  # articles finished by at least `overlap` annotators
    in_progress: int  # started (held or labeled) but not finished by enough annotators
    untouched: int  # no assignment and no annotation
    paragraphs: int
    labeled_any: int  # paragraphs with at least one annotation
    labeled_full: int  # paragraphs with at least `overlap` annotations
    days: list[date]  # the window, oldest first, ending today (UTC)
    labels: list[LabelInfo]  # the project's label set, in order, then unknown keys seen
    counted_at: datetime  # when the counts were read (naive UTC)
    annotators: list[AnnotatorStats] = field(default_factory=list)
    # suggested label -> (accepted, typed the same by hand, overridden with another label)
    suggestion_outcomes: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def per_day_total(self) -> list[int]:
        """Labels created per day by everyone."""
        return [sum(day) for day in zip(*(a.per_day for a in self.annotators))] or \
            [0] * len(self.days)

    @property
    def label_totals(self) -> dict[str, int]:
        totals = {label.key: 0 for label in self.labels}
        for annotator in self.annotators:
            for key, count in annotator.labels.items():
                totals[key] = totals.get(key, 0) + count
        return totals


@dataclass(frozen=True)
class Counts:
    """The raw aggregates a dashboard is drawn from, for any window of days."""

    overlap: int
    articles: int
    paragraphs: int
    finished: int
    touched: int  # articles with an assignment or an annotation
    labeled_any: int
    labeled_full: int
    by_user_label_day: list[tuple[int, str, date, int]]  # (user id, label, day, labels created)
    finished_by_user: dict[int, int]
    counted_at: datetime
    suggestion_outcomes: dict[str, tuple[int, int, int]] = field(default_factory=dict)


def project_dashboard(session: Session, project: Project, *, days: int = 14,
                      today: date | None = None) -> Dashboard:
    """Where the project stands now, with labels per day over the last `days` days."""
    return build_dashboard(session, project, read_counts(session, project), days=days,
                           today=today)


def read_counts(session: Session, project: Project) -> Counts:
    """Read the project's progress from the counters every save keeps (see
    models.LabelCount): a few aggregate queries over articles, assignments and one row per
    (annotator, label, day), never a count of the annotations themselves."""
    overlap = max(project.overlap, 1)
    in_project = Article.project_id == project.id
    has_assignment = exists().where(Assignment.article_id == Article.id)
    articles, paragraphs, labeled_any, touched, finished = session.execute(select(
        select(func.count(Article.id)).where(in_project).scalar_subquery(),
        select(func.coalesce(func.sum(Article.paragraph_count), 0)).where(in_project)
        .scalar_subquery(),
        select(func.coalesce(func.sum(Article.labeled_count), 0)).where(in_project)
        .scalar_subquery(),
        select(func.count(Article.id))
        .where(in_project, or_(Article.labeled_count > 0, has_assignment)).scalar_subquery(),
        select(func.count(Article.id)).where(in_project, Article.finished_count >= overlap)
        .scalar_subquery())).one()
    labeled_full = session.scalar(  # along the (article, annotation_count) index
        select(func.count()).select_from(Paragraph)
        .join(Article, Article.id == Paragraph.article_id)
        .where(in_project, Paragraph.annotation_count >= overlap))
    by_user = [(user_id, label, _as_date(day), count) for user_id, label, day, count in
               session.execute(
                   select(LabelCount.user_id, LabelCount.label, LabelCount.day, LabelCount.count)
                   .where(LabelCount.project_id == project.id, LabelCount.count > 0))]
    finished_by_user = dict(session.execute(
        select(Assignment.user_id, func.count())
        .join(Article, Article.id == Assignment.article_id)
        .where(in_project, Assignment.finished_at.is_not(None))
        .group_by(Assignment.user_id)).all())
    return Counts(overlap=overlap, articles=articles, paragraphs=paragraphs, finished=finished,
                  touched=touched, labeled_any=labeled_any, labeled_full=labeled_full,
                  by_user_label_day=by_user, finished_by_user=finished_by_user,
                  counted_at=utcnow(),
                  suggestion_outcomes=suggestion_outcomes(session, project.id))


def build_dashboard(session: Session, project: Project, counts: Counts, *, days: int = 14,
                    today: date | None = None) -> Dashboard:
    """Lay the counts out for a window of days ending today (UTC), with the current usernames
    and label set."""
    if days < 1:
        raise ValueError("days must be 1 or more")
    today = today or utcnow().date()
    window = [today - timedelta(days=days - 1 - n) for n in range(days)]
    position = {moment: n for n, moment in enumerate(window)}

    labels = [LabelInfo(label.key, label.name, label.color) for label in project.labels]
    known = {label.key for label in labels}
    for key in sorted({row[1] for row in counts.by_user_label_day} - known):  # since removed
        labels.append(LabelInfo(key, key, "#868e96"))

    user_ids = {row[0] for row in counts.by_user_label_day} | set(counts.finished_by_user)
    names = dict(session.execute(select(User.id, User.username)
                                 .where(User.id.in_(user_ids))).all()) if user_ids else {}
    stats = {user_id: AnnotatorStats(user_id, names.get(user_id, f"#{user_id}"), 0,
                                     counts.finished_by_user.get(user_id, 0), [0] * days, {})
             for user_id in user_ids}
    for user_id, label, when, count in counts.by_user_label_day:  # (user, label, day) rows
        entry = stats[user_id]
        entry.paragraphs += count
        entry.labels[label] = entry.labels.get(label, 0) + count
        slot = position.get(when)
        if slot is not None:
            entry.per_day[slot] += count

    return Dashboard(
        project_id=project.id, overlap=counts.overlap, articles=counts.articles,
        finished=counts.finished, in_progress=counts.touched - counts.finished,
        untouched=counts.articles - counts.touched, paragraphs=counts.paragraphs,
        labeled_any=counts.labeled_any, labeled_full=counts.labeled_full, days=window,
        labels=labels, counted_at=counts.counted_at,
        annotators=sorted(stats.values(), key=lambda a: (-a.paragraphs, a.username)),
        suggestion_outcomes=counts.suggestion_outcomes)


def change_stamp(session: Session) -> tuple:
    """A cheap fingerprint of everything the counts depend on: equal stamps mean equal counts.
    New annotations raise the highest id; a changed or removed one leaves a history row;
    finishing, reopening and assigning touch an assignment; releasing one removes it."""
    return tuple(session.execute(select(
        select(func.max(Annotation.id)).scalar_subquery(),
        select(func.count()).select_from(Annotation).scalar_subquery(),
        select(func.max(AnnotationHistory.id)).scalar_subquery(),
        select(func.count()).select_from(Assignment).scalar_subquery(),
        select(func.max(Assignment.touched_at)).scalar_subquery(),
        select(func.count()).select_from(Article).scalar_subquery(),
        select(func.max(Article.id)).scalar_subquery())).one())


def _as_date(value: date | str) -> date:
    """SQLite's date() gives 'YYYY-MM-DD' text, PostgreSQL a date."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(value)

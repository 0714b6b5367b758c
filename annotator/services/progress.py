"""How far a project is: paragraphs labeled and articles finished, overall or per annotator."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from ..database import day_of
from ..models import Annotation, Article, Assignment, LabelCount, Paragraph, Project


@dataclass
class Progress:
    paragraphs: int
    labeled: int
    articles: int
    finished: int

    @property
    def percent(self) -> int:
        return round(100 * self.labeled / self.paragraphs) if self.paragraphs else 0


def project_progress(session: Session, project: Project, user_id: int | None = None) -> Progress:
    """A user's own progress, or (user_id None) the project's: paragraphs with any label and
    articles finished by as many annotators as the overlap asks for. Labeled paragraphs come
    from the counters every save keeps, so this never counts the annotations themselves."""
    articles, paragraphs, labeled, finished = session.execute(
        select(func.count(Article.id), func.coalesce(func.sum(Article.paragraph_count), 0),
               func.coalesce(func.sum(Article.labeled_count), 0),
               func.count(Article.id).filter(Article.finished_count >= max(project.overlap, 1)))
        .where(Article.project_id == project.id)).one()
    if user_id is not None:
        labeled = session.scalar(select(func.coalesce(func.sum(LabelCount.count), 0)).where(
            LabelCount.project_id == project.id, LabelCount.user_id == user_id))
        finished = session.scalar(
            select(func.count(Assignment.id)).join(Article)
            .where(Article.project_id == project.id, Assignment.user_id == user_id,
                   Assignment.finished_at.is_not(None)))
    return Progress(paragraphs=paragraphs, labeled=labeled, articles=articles, finished=finished)


# The counters from the annotations themselves: the same statements as migration 0003.
RECOUNT = (
    update(Paragraph).values(annotation_count=select(func.count()).where(
        Annotation.paragraph_id == Paragraph.id).scalar_subquery()),
    update(Article).values(labeled_count=select(func.count()).where(
        Paragraph.article_id == Article.id, Paragraph.annotation_count > 0).scalar_subquery()),
    update(Article).values(finished_count=select(func.count()).where(
        Assignment.article_id == Article.id, Assignment.finished_at.is_not(None))
        .scalar_subquery()),
    delete(LabelCount),
    insert(LabelCount).from_select(
        ["project_id", "user_id", "label", "day", "count"],
        select(Article.project_id, Annotation.user_id, Annotation.label,
               day_of(Annotation.created_at), func.count())
        .join(Paragraph, Paragraph.id == Annotation.paragraph_id)
        .join(Article, Article.id == Paragraph.article_id)
        .group_by(Article.project_id, Annotation.user_id, Annotation.label,
                  day_of(Annotation.created_at))),
)


def recount(session: Session) -> None:
    """Set every label counter from the annotations, for databases written around the app
    (a bulk load with plain SQL); the app itself keeps them right on every save."""
    for statement in RECOUNT:
        session.execute(statement)
    session.commit()

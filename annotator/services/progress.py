"""How far a project is: paragraphs labeled and articles finished, overall or per annotator."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from ..models import Annotation, Article, Assignment, Paragraph, Project


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
    articles finished by as many annotators as the overlap asks for."""
    articles, paragraphs = session.execute(
        select(func.count(Article.id), func.coalesce(func.sum(Article.paragraph_count), 0))
        .where(Article.project_id == project.id)).one()
    labeled_query = (select(func.count(distinct(Annotation.paragraph_id)))
                     .join(Paragraph, Paragraph.id == Annotation.paragraph_id)
                     .join(Article, Article.id == Paragraph.article_id)
                     .where(Article.project_id == project.id))
    finished_query = (select(Assignment.article_id).join(Article)
                      .where(Article.project_id == project.id,
                             Assignment.finished_at.is_not(None)))
    if user_id is not None:
        labeled = session.scalar(labeled_query.where(Annotation.user_id == user_id))
        finished = session.scalar(select(func.count()).select_from(
            finished_query.where(Assignment.user_id == user_id).subquery()))
    else:
        labeled = session.scalar(labeled_query)
        finished = session.scalar(select(func.count()).select_from(
            finished_query.group_by(Assignment.article_id)
            .having(func.count(Assignment.id) >= project.overlap).subquery()))
    return Progress(paragraphs=paragraphs, labeled=labeled, articles=articles, finished=finished)

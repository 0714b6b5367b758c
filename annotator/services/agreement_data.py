"""The items agreement is measured on, read from the database: one per paragraph that two or
more annotators labeled."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import Project
from . import agreement_report


def agreement_items(session: Session, project: Project, *,
                    min_annotations: int = 2) -> list[tuple[int, dict[str, str]]]:
    """(article id, {username: label}) per paragraph with at least `min_annotations`
    annotations, in paragraph order. One query (agreement_report.agreement_items: the project's
    annotations joined with their users, ordered by paragraph), grouped in Python.

    The agreement page and `flask agreement` pass every annotated paragraph to the report
    (min_annotations=1), because Gwet's AC1 counts single labels in its label frequencies."""
    items = agreement_report.agreement_items(session, project)
    return [item for item in items if len(item[1]) >= min_annotations]

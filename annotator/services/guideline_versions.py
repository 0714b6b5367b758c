"""Guideline versions: a project's guidelines and label set numbered 1, 2, ... each time
either changes, who made each and when, a diff between any two, and what a user has not
seen since their last label."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..models import Annotation, Article, GuidelineVersion, Paragraph, Project, User, utcnow


def label_snapshot(project: Project) -> list[dict[str, Any]]:
    """What a version keeps of the label set: each label's key, name and description, in
    the set's order (colours and hotkeys are how a label looks, not what it means)."""
    return [{"key": label.key, "name": label.name, "description": label.description or ""}
            for label in sorted(project.labels, key=lambda label: label.position)]


@event.listens_for(Project, "after_insert")
def _first_version(_mapper, connection: Connection, project: Project) -> None:
    """Every new project, however made, starts at version 1: its guidelines and labels as
    created (in the same flush: the project and its version are stored together)."""
    connection.execute(insert(GuidelineVersion.__table__).values(
        project_id=project.id, number=1, guidelines=project.guidelines or "",
        labels=label_snapshot(project), created_at=utcnow()))


def latest(session: Session, project_id: int) -> GuidelineVersion | None:
    return session.scalar(select(GuidelineVersion).where(GuidelineVersion.project_id == project_id)
                          .order_by(GuidelineVersion.number.desc()).limit(1))


def record_version(session: Session, project: Project, created_by: int | None
                   ) -> GuidelineVersion | None:
    """Call after changing a project's guidelines or labels, before the commit: the next
    version if either differs from the newest one (None if neither does), and the project's
    `guideline_version` moved to it."""
    session.flush()
    newest = latest(session, project.id)
    guidelines, labels = project.guidelines or "", label_snapshot(project)
    if newest is not None and (newest.guidelines, newest.labels) == (guidelines, labels):
        return None
    version = GuidelineVersion(project_id=project.id, number=newest.number + 1 if newest else 1,
                               guidelines=guidelines, labels=labels, created_by_id=created_by,
                               created_at=utcnow())
    session.add(version)
    project.guideline_version = version.number
    return version


@dataclass(frozen=True)
class VersionRow:
    """A version as the list shows it."""

    number: int
    created_at: Any
    created_by: str | None
    labels: int
    """Annotations whose current label was made under it."""


def versions(session: Session, project_id: int) -> list[VersionRow]:
    """Every version of the project, newest first, with who made it and how many current
    annotations were made under it."""
    counts = dict(session.execute(
        select(Annotation.guideline_version, func.count())
        .join(Paragraph, Paragraph.id == Annotation.paragraph_id)
        .join(Article, Article.id == Paragraph.article_id)
        .where(Article.project_id == project_id).group_by(Annotation.guideline_version)).all())
    rows = session.execute(
        select(GuidelineVersion.number, GuidelineVersion.created_at, User.username)
        .outerjoin(User, User.id == GuidelineVersion.created_by_id)
        .where(GuidelineVersion.project_id == project_id)
        .order_by(GuidelineVersion.number.desc())).all()
    return [VersionRow(number, created_at, username, counts.get(number, 0))
            for number, created_at, username in rows]


def numbered(session: Session, project_id: int, number: int) -> GuidelineVersion | None:
    """The project's version `number`, or None."""
    return session.scalar(select(GuidelineVersion).where(
        GuidelineVersion.project_id == project_id, GuidelineVersion.number == number))


def as_text(version: GuidelineVersion) -> list[str]:
    """A version as the lines a diff compares: the guidelines, then the label set."""
    lines = version.guidelines.splitlines()
    lines += ["", "## Labels", ""]
    lines += [f"- {label['key']}: {label['name']}"
              + (f" — {label['description']}" if label["description"] else "")
              for label in version.labels]
    return lines


def diff_lines(old: GuidelineVersion, new: GuidelineVersion) -> list[tuple[str, str]]:
    """A unified diff of two versions as (kind, line): kind is "+" (added in `new`), "-"
    (removed), " " (kept, for context) or "@" (where a hunk starts). The lines are text:
    the page escapes them."""
    lines = []
    for line in difflib.unified_diff(as_text(old), as_text(new), f"version {old.number}",
                                     f"version {new.number}", lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        kind = line[:1] if line[:1] in "+- @" else " "
        lines.append((kind, line))
    return lines


def last_label_version(session: Session, project_id: int, user_id: int) -> int | None:
    """The guideline version of the user's newest label in the project (None: no label)."""
    return session.scalar(
        select(Annotation.guideline_version)
        .join(Paragraph, Paragraph.id == Annotation.paragraph_id)
        .join(Article, Article.id == Paragraph.article_id)
        .where(Article.project_id == project_id, Annotation.user_id == user_id)
        .order_by(Annotation.updated_at.desc()).limit(1))


def card_lines(session: Session, project_id: int, counts: dict[int | None, int]) -> list[str]:
    """The dataset card's section on guideline versions: each version the exported
    annotations were made under, when it was saved, and how many (`counts`: an export's
    Tally.guideline_versions)."""
    saved = dict(session.execute(select(GuidelineVersion.number, GuidelineVersion.created_at)
                                 .where(GuidelineVersion.project_id == project_id)).all())
    lines = ["## Guideline versions", "",
             "Each entry of `annotations` has the `guideline_version` in force when its label "
             "was set (the guidelines and label set are numbered 1, 2, ... each time an admin "
             "changes them; null in an entry of spans only, or for a label set before the app "
             "kept versions). The exported annotations by version:", "",
             "| version | saved | annotations |", "|---|---|---|"]
    for number in sorted((n for n in counts if n is not None)):
        when = saved.get(number)
        lines.append(f"| {number} | {when.strftime('%Y-%m-%dT%H:%M:%SZ') if when else '?'} | "
                     f"{counts[number]} |")
    if counts.get(None):
        lines.append(f"| (none) | | {counts[None]} |")
    if len(lines) == 6:
        lines.append("| (no annotations) | | 0 |")
    return [*lines, ""]

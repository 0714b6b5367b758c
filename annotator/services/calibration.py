"""Calibration rounds and hidden checks: annotators' rounds on gold articles, scored against gold.

- A *calibration article* (Article.calibration, set by an admin on an article with gold
  labels) is served by the queue before ordinary work to whoever has no done round on it
  (under the version in force, when the project asks to recalibrate). Its annotators'
  labels are kept apart from the dataset: no export, agreement or quality-from-annotations
  reader takes them (they skip calibration articles); marking it done freezes the round's
  labels against gold (GoldResult), which feedback and quality read. A later round starts
  from the annotator's labels on it cleared.
- A *hidden check*: at the project's check_rate, the queue serves an adjudicated article
  the annotator has not seen yet as ordinary work; marking it done freezes its results too.
  Its labels are real labels of a real article and stay in the dataset and in agreement.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import and_, case, delete, exists, func, select, update
from sqlalchemy.orm import Session

from ..models import (Annotation, Article, Assignment, Gold, GoldAttempt, GoldResult,
                      GuidelineVersion, Paragraph, Project, User, utcnow)
from .annotations import remove_annotations
from .messages import N_

CALIBRATION, CHECK = "calibration", "check"
MAX_CHECK_RATE = 1.0


class CalibrationError(ValueError):
    """Bad input from an admin (messages.Text: English in the CLI, translated on a page)."""


def check_rate_problem(rate: object):
    """Why a hidden-check rate is refused (a messages.Text), or None."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) \
            or not 0 <= rate <= MAX_CHECK_RATE:
        return N_("The hidden-check rate must be a number from 0 to 1 (0.05: one article in "
                  "20), not %(value)s.", value=str(rate))
    return None


def set_calibration(session: Session, project: Project, article_ids: list[int],
                    on: bool) -> int:
    """Mark (or unmark) articles of the project as calibration articles (the caller commits);
    an article to mark needs a gold label. Returns how many change; none does on an error."""
    rows = session.execute(select(Article.id, Article.calibration).where(
        Article.project_id == project.id, Article.id.in_(article_ids))).all()
    missing = set(article_ids) - {row.id for row in rows}
    if missing:
        raise CalibrationError(N_("No article %(ids)s in this project.",
                                  ids=", ".join(map(str, sorted(missing)))))
    changing = [row.id for row in rows if row.calibration != on]
    if on and changing:
        with_gold = set(session.scalars(select(Paragraph.article_id).join(
            Gold, Gold.paragraph_id == Paragraph.id).where(Paragraph.article_id.in_(changing))))
        without = sorted(set(changing) - with_gold)
        if without:
            raise CalibrationError(N_(
                "A calibration article needs gold labels: article %(ids)s has none (set them "
                "on its review page first).", ids=", ".join(map(str, without))))
    if changing:
        session.execute(update(Article).where(Article.id.in_(changing)).values(calibration=on))
    return len(changing)


def _done_calibration(project: Project, user_id: int):
    """The condition on Article: the user has a done calibration round on it that counts
    (under the version in force, if the project asks to recalibrate)."""
    condition = and_(GoldAttempt.article_id == Article.id, GoldAttempt.user_id == user_id,
                     GoldAttempt.kind == CALIBRATION, GoldAttempt.done_at.is_not(None))
    if project.recalibrate:
        condition &= GoldAttempt.guideline_version == project.guideline_version
    return exists().where(condition)


def _takes_rounds(session: Session, user_id: int) -> bool:
    """Admins write the gold: the queue serves them no calibration or checks."""
    return session.scalar(select(User.role).where(User.id == user_id)) != "admin"


def calibration_due(session: Session, project: Project, user_id: int) -> int | None:
    """The first calibration article (in import order) the user still has to do, or None."""
    if not _takes_rounds(session, user_id):
        return None
    return session.scalar(
        select(Article.id).where(Article.project_id == project.id, Article.calibration,
                                 ~_done_calibration(project, user_id))
        .order_by(Article.id).limit(1))


def calibration_left(session: Session, project: Project, user_id: int) -> int:
    """How many calibration articles the user still has to do."""
    if not _takes_rounds(session, user_id):
        return 0
    return session.scalar(select(func.count(Article.id)).where(
        Article.project_id == project.id, Article.calibration,
        ~_done_calibration(project, user_id)))


def check_due(session: Session, project: Project, user_id: int) -> int | None:
    """A gold article to serve as a hidden check, if one is due: count-based, so the share of
    checks among the articles the user was served (calibration aside) stays at the rate
    (floor(rate * served) checks after `served` articles); the first adjudicated article, not
    a calibration one, that the user never held. None when none is due or left."""
    if project.check_rate <= 0 or not _takes_rounds(session, user_id):
        return None
    served = session.scalar(
        select(func.count(Assignment.id)).join(Article, Article.id == Assignment.article_id)
        .where(Article.project_id == project.id, Assignment.user_id == user_id,
               ~Article.calibration))
    checks = session.scalar(select(func.count(GoldAttempt.id)).where(
        GoldAttempt.project_id == project.id, GoldAttempt.user_id == user_id,
        GoldAttempt.kind == CHECK))
    if math.floor(project.check_rate * (served + 1) + 1e-9) <= checks:
        return None
    seen = exists().where(Assignment.article_id == Article.id, Assignment.user_id == user_id)
    has_gold = exists().where(Paragraph.article_id == Article.id,
                              Gold.paragraph_id == Paragraph.id)
    return session.scalar(
        select(Article.id).where(Article.project_id == project.id, ~Article.calibration,
                                 has_gold, ~seen)
        .order_by(Article.id).limit(1))


def begin(session: Session, project: Project, article_id: int, user_id: int,
          kind: str) -> GoldAttempt:
    """Start the user's round on a gold article the queue is giving them, in the claim's
    write transaction (the caller commits). A calibration round under a version they already
    did it under goes on; a round under a newer one starts from their labels on it cleared
    and the article reopened."""
    version = project.guideline_version
    attempt = session.scalar(select(GoldAttempt).where(
        GoldAttempt.user_id == user_id, GoldAttempt.article_id == article_id,
        GoldAttempt.kind == kind, GoldAttempt.guideline_version == version))
    if attempt is not None:
        return attempt
    if kind == CALIBRATION and session.scalar(select(GoldAttempt.id).where(
            GoldAttempt.user_id == user_id, GoldAttempt.article_id == article_id,
            GoldAttempt.kind == CALIBRATION).limit(1)) is not None:
        paragraphs = session.scalars(select(Paragraph.id).where(Paragraph.article_id == article_id))
        remove_annotations(session, article_id, list(paragraphs), user_id)
        reopened = session.execute(
            update(Assignment).where(Assignment.article_id == article_id,
                                     Assignment.user_id == user_id,
                                     Assignment.finished_at.is_not(None))
            .values(finished_at=None)).rowcount
        if reopened:
            session.execute(update(Article).where(Article.id == article_id).values(
                finished_count=Article.finished_count - 1))
    attempt = GoldAttempt(project_id=project.id, user_id=user_id, article_id=article_id,
                          kind=kind, guideline_version=version)
    session.add(attempt)
    return attempt


def freeze(session: Session, article_id: int, user_id: int) -> GoldAttempt | None:
    """On "mark done" (not committed here): a calibration article's round (started now if the
    user opened it without the queue), or the user's open hidden check on the article, is
    done, its gold paragraphs' results stored as they are now. None for any other article."""
    article = session.get(Article, article_id)
    if article.calibration:
        project = session.get(Project, article.project_id)
        attempt = session.scalar(select(GoldAttempt).where(
            GoldAttempt.user_id == user_id, GoldAttempt.article_id == article_id,
            GoldAttempt.kind == CALIBRATION,
            GoldAttempt.guideline_version == project.guideline_version))
        if attempt is None:
            attempt = GoldAttempt(project_id=project.id, user_id=user_id, article_id=article_id,
                                  kind=CALIBRATION, guideline_version=project.guideline_version)
            session.add(attempt)
    else:
        attempt = session.scalar(select(GoldAttempt).where(
            GoldAttempt.user_id == user_id, GoldAttempt.article_id == article_id,
            GoldAttempt.kind == CHECK, GoldAttempt.done_at.is_(None)))
        if attempt is None:
            return None
    session.flush()
    session.execute(delete(GoldResult).where(GoldResult.attempt_id == attempt.id))
    mine = and_(Annotation.paragraph_id == Paragraph.id, Annotation.user_id == user_id)
    rows = session.execute(
        select(Paragraph.id, Annotation.label, Gold.label)
        .join(Gold, Gold.paragraph_id == Paragraph.id).outerjoin(Annotation, mine)
        .where(Paragraph.article_id == article_id)).all()
    session.add_all(GoldResult(attempt_id=attempt.id, paragraph_id=paragraph, label=label,
                               gold_label=gold) for paragraph, label, gold in rows)
    attempt.done_at = utcnow()
    return attempt


@dataclass(frozen=True)
class FeedbackRow:
    """One gold paragraph of a done round: its text, the annotator's label and gold's, and,
    where they differ, what the guidelines said about gold's label then."""
    index: int
    text: str
    label: str | None
    gold_label: str
    excerpt: list[str]

    @property
    def agrees(self) -> bool:
        return self.label == self.gold_label


def latest_calibration(session: Session, article_id: int, user_id: int) -> GoldAttempt | None:
    """The user's newest done calibration round on the article (a hidden check has none to
    show: it is unannounced)."""
    return session.scalar(select(GoldAttempt).where(
        GoldAttempt.user_id == user_id, GoldAttempt.article_id == article_id,
        GoldAttempt.kind == CALIBRATION, GoldAttempt.done_at.is_not(None))
        .order_by(GoldAttempt.guideline_version.desc()).limit(1))


def feedback(session: Session, attempt: GoldAttempt) -> list[FeedbackRow]:
    """The round's results in paragraph order, each disagreement with its excerpt from the
    guideline version the round was made under."""
    version = session.scalar(select(GuidelineVersion).where(
        GuidelineVersion.project_id == attempt.project_id,
        GuidelineVersion.number == attempt.guideline_version))
    rows = session.execute(
        select(Paragraph.index, Paragraph.text, GoldResult.label, GoldResult.gold_label)
        .join(Paragraph, Paragraph.id == GoldResult.paragraph_id)
        .where(GoldResult.attempt_id == attempt.id).order_by(Paragraph.index)).all()
    return [FeedbackRow(index, text, label, gold,
                        [] if label == gold else guideline_excerpt(version, gold))
            for index, text, label, gold in rows]


def guideline_excerpt(version: GuidelineVersion | None, label: str) -> list[str]:
    """What a guideline version says about a label, as plain-text passages: its description
    in the label set, then the guidelines' paragraphs that name it (by key or name); of a
    list, only the items that name it; of a table, only the rows with a cell that is its name
    or key (the label set's table has a row per label, each naming the others in passing)."""
    if version is None:
        return []
    entry = next((item for item in version.labels if item.get("key") == label), {})
    names = {label.lower(), (entry.get("name") or "").lower()} - {""}
    words = {word for name in names for word in re.findall(r"\w+", name) if len(word) > 2}

    def names_it(text: str) -> bool:
        if text.startswith("|"):
            cells = {_plain(cell.strip()).lower() for cell in text.strip("|").split("|")}
            return bool(names & cells)
        return bool(words & set(re.findall(r"\w+", text.lower())))

    found = [entry["description"]] if entry.get("description") else []
    for block in re.split(r"\n\s*\n", version.guidelines or ""):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if lines and LISTED.match(lines[0]):  # each row or item (with its continuation lines)
            items: list[list[str]] = []
            for line in lines:
                if LISTED.match(line) or not items:
                    items.append([])
                items[-1].append(line)
            found += [_plain(" ".join(item)) for item in items if names_it(" ".join(item))]
        elif names_it(block):
            found.append(_plain(" ".join(lines)))
    return list(dict.fromkeys(found))[:MAX_PASSAGES]


LISTED = re.compile(r"(\||[-*+] |\d+[.)] )")  # a table row or a list item
MAX_PASSAGES = 6


def _plain(text: str) -> str:
    """Markdown's emphasis and table borders taken off (the page shows text, escaped)."""
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    if text.startswith("|"):
        text = " · ".join(cell.strip() for cell in text.strip("|").split("|"))
    return text


def scored_results(session: Session, project: Project) -> list[tuple]:
    """Every labeled result of the project's done rounds, as (paragraph id, article id, user
    id, label, gold label, kind, guideline version): quality.Test's fields. A paragraph left
    unlabeled is not scored, as in the other sources."""
    return [tuple(row) for row in session.execute(
        select(GoldResult.paragraph_id, GoldAttempt.article_id, GoldAttempt.user_id,
               GoldResult.label, GoldResult.gold_label, GoldAttempt.kind,
               GoldAttempt.guideline_version)
        .join(GoldAttempt, GoldAttempt.id == GoldResult.attempt_id)
        .where(GoldAttempt.project_id == project.id, GoldAttempt.done_at.is_not(None),
               GoldResult.label.is_not(None)))]


@dataclass(frozen=True)
class Round:
    """One of a user's rounds, for their list (and an admin's)."""
    article_id: int
    title: str
    kind: str
    guideline_version: int
    done_at: object
    agreed: int
    scored: int


def rounds(session: Session, project: Project, user_id: int, *,
           kinds: tuple[str, ...] = (CALIBRATION,)) -> list[Round]:
    """The user's rounds in the project, newest first: how many of the gold paragraphs they
    labeled agree with gold (a paragraph left unlabeled is not scored)."""
    agreed = func.sum(case((GoldResult.label == GoldResult.gold_label, 1), else_=0))
    return [Round(*row) for row in session.execute(
        select(GoldAttempt.article_id, Article.title, GoldAttempt.kind,
               GoldAttempt.guideline_version, GoldAttempt.done_at,
               func.coalesce(agreed, 0), func.count(GoldResult.label))  # labeled ones
        .join(Article, Article.id == GoldAttempt.article_id)
        .outerjoin(GoldResult, GoldResult.attempt_id == GoldAttempt.id)
        .where(GoldAttempt.project_id == project.id, GoldAttempt.user_id == user_id,
               GoldAttempt.kind.in_(kinds))
        .group_by(GoldAttempt.id, Article.title)
        .order_by(GoldAttempt.started_at.desc(), GoldAttempt.id.desc()))]



def people(session: Session, project: Project) -> list[tuple[int, str, int, int]]:
    """Everyone with a round in the project: (user id, username, calibration rounds done,
    hidden checks done), by name."""
    done = GoldAttempt.done_at.is_not(None)
    return [tuple(row) for row in session.execute(
        select(User.id, User.username,
               func.sum(case((and_(done, GoldAttempt.kind == CALIBRATION), 1), else_=0)),
               func.sum(case((and_(done, GoldAttempt.kind == CHECK), 1), else_=0)))
        .join(GoldAttempt, GoldAttempt.user_id == User.id)
        .where(GoldAttempt.project_id == project.id)
        .group_by(User.id, User.username).order_by(User.username))]

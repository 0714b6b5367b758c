"""Keeping a project's model and its suggestions up to date, off the request path.

- `train_project`: learn from the project's human labels and write the predictions for the
  paragraphs still to be labeled (the CLI and the background thread call it). It reads in a
  read transaction, trains with no transaction open and writes in short batches, so saves
  never wait long behind it (SQLite has one writer).
- The lease (`suggestion_model.lease_until`): one trainer per project at a time, across every
  process that shares the database.
- `propagate`: a label given to a repeated paragraph becomes the suggestion of its copies on
  the site's other articles (a burst of saves on the same text propagates once).
- `saved`: the hook on the save path. It only notes the save in memory; a daemon thread of
  this process hands the human saves of repeated texts to the propagation queue (one short
  write for the saves of PROPAGATE_GATHER), and one thread of all the processes, the holder
  of the "propagation" background lease, propagates what the queue holds, every
  PROPAGATE_EVERY seconds at most and no sooner than PROPAGATE_PACE times its last round's
  CPU after it. Every CHECK_EVERY_SAVES saves (or CHECK_EVERY_SECONDS) the thread checks
  whether a project's human labels grew enough to retrain, at the pace `too_soon` allows; a
  training yields RETRAIN_PACE times its CPU between batches while saves are arriving.
  While many saves arrive (MANY_SAVES a second in the process) the saves keep the CPU:
  propagation gathers for PROPAGATE_BUSY seconds and paces its rounds at PROPAGATE_BUSY_PACE
  (round_gap), a retraining waits for them to slow down (RETRAIN_HOLD at most).
"""
from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections import defaultdict
from datetime import timedelta
from functools import partial
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (DateTime, Float, Integer, String, and_, bindparam, delete, func, insert,
                        or_, select, update)
from sqlalchemy.orm import Session

from ..database import Prepared, dialect_insert, for_backend, write_transaction
from ..extensions import db
from ..models import (Annotation, Article, BackgroundLease, Gold, LabelCount, Paragraph, Project,
                      PropagationQueue, Suggestion, SuggestionModel, utcnow)
from ..progress_report import ProgressCallback, no_progress
from ..services.suggestions import APP_MODELS, MAX_REASON_CHARS
from .model import (Example, ProjectModel, TooFewLabels, cross_validate, fit_matrix,
                    majority_label, paragraph_signals, stack, vectorize)
from . import signals

LEASE = timedelta(minutes=5)
ARTICLES_PER_BATCH = 100  # articles read, predicted and written at a time
RETRAIN_AFTER = 20  # new human labels before retraining: this many, or 10% more if larger
CHECK_EVERY_SAVES = 20
CHECK_EVERY_SECONDS = 30.0
# the background trains a project at most once a minute, and leaves at least nine times a
# training's CPU between two: on a busy team server retraining takes a tenth of a core at most
MIN_RETRAIN_SECONDS = 60.0
RETRAIN_PACE = 10.0
PROPAGATED_CONFIDENCE = 0.97
STORE_CHUNK = 500  # rows per upsert statement
MAX_COPIES = 5000  # copies of one paragraph given its label at once
# propagation: each process queues its human saves of PROPAGATE_GATHER seconds in one write;
# the lease holder propagates the queue every PROPAGATE_EVERY seconds at most, and leaves at
# least PROPAGATE_PACE times a round's CPU before the next (a burst of saves on boilerplate
# rewrites its copies a few times, not on every save), in write transactions of about
# PROPAGATE_HOLD seconds (saves wait for the writer's lock no longer than that)
PROPAGATE_GATHER = 0.5
PROPAGATE_EVERY = 0.5
PROPAGATE_PACE = 10.0
PROPAGATE_HOLD = 0.005
PROPAGATION_LEASE = timedelta(seconds=10)
QUEUE_ROUND = 20000  # queued saves propagated in one round at most
SAVES_ARRIVING = 1.0  # a save noted this recently: the process is busy saving
# many saves (about MANY_SAVES a second or more in this process): the saves keep the CPU.
# Saves are gathered for PROPAGATE_BUSY seconds and the rounds leave PROPAGATE_BUSY_PACE
# times their CPU between them, up to PROPAGATE_BUSY_MAX seconds (never less than
# PROPAGATE_PACE times it), so a copy gets its label seconds after the save, not half a
# second; a due retraining waits until they slow down, RETRAIN_HOLD seconds at most
MANY_SAVES = 3.0
PROPAGATE_BUSY = 2.0
PROPAGATE_BUSY_PACE = 30.0
PROPAGATE_BUSY_MAX = 10.0
RETRAIN_HOLD = 30.0
HOLD_LOOK = 0.5

log = logging.getLogger(__name__)


class LeaseHeld(RuntimeError):
    """Another trainer (this process or another) is training this project."""


# -- the lease ------------------------------------------------------------------------------

def take_lease(session: Session, project_id: int) -> bool:
    """Take the project's training lease for LEASE if nobody holds it: one atomic UPDATE, so
    of two trainers at once exactly one gets it."""
    now = utcnow()
    with write_transaction(session):
        session.execute(dialect_insert(session)(SuggestionModel)
                        .values(project_id=project_id, trained_on=0, human_labels_seen=0)
                        .on_conflict_do_nothing(index_elements=[SuggestionModel.project_id]))
        taken = session.execute(
            update(SuggestionModel)
            .where(SuggestionModel.project_id == project_id,
                   or_(SuggestionModel.lease_until.is_(None), SuggestionModel.lease_until < now))
            .values(lease_until=now + LEASE)).rowcount
        session.commit()
    return taken == 1


def _extend_lease(session: Session, project_id: int) -> None:
    session.execute(update(SuggestionModel).where(SuggestionModel.project_id == project_id)
                    .values(lease_until=utcnow() + LEASE))


def release_lease(session: Session, project_id: int) -> None:
    session.rollback()
    with write_transaction(session):
        session.execute(update(SuggestionModel).where(SuggestionModel.project_id == project_id)
                        .values(lease_until=None))
        session.commit()


# -- reading the project --------------------------------------------------------------------

def human_label_count(session: Session, project_id: int) -> int:
    """Annotations typed by people (accepted suggestions and calibration rounds left out) in
    the project."""
    return session.scalar(
        select(func.count(Annotation.id)).join(Paragraph, Paragraph.id == Annotation.paragraph_id)
        .join(Article, Article.id == Paragraph.article_id)
        .where(Article.project_id == project_id, Annotation.source == "human",
               ~Article.calibration)) or 0


def label_total(session: Session, project_id: int) -> int:
    """Every current label in the project, whatever its source, from the label counters."""
    return session.scalar(select(func.coalesce(func.sum(LabelCount.count), 0))
                          .where(LabelCount.project_id == project_id)) or 0


def _repeats(session: Session, project_id: int) -> dict[tuple[str, str], int]:
    """(site, text_key) -> articles of the site that hold that text, where more than one."""
    articles = func.count(func.distinct(Paragraph.article_id))
    return {(site, key): count for site, key, count in session.execute(
        select(Article.site, Paragraph.text_key, articles)
        .join(Article, Article.id == Paragraph.article_id)
        .where(Article.project_id == project_id, Paragraph.text_key.is_not(None))
        .group_by(Article.site, Paragraph.text_key).having(articles > 1))}


_PARAGRAPH_COLUMNS = (Paragraph.id, Paragraph.article_id, Paragraph.index, Paragraph.text,
                      Paragraph.text_key, Paragraph.features, Paragraph.annotation_count,
                      Article.paragraph_count, Article.site)


def _examples(rows: list, repeats: dict[tuple[str, str], int]) -> list[Example]:
    """Whole articles' paragraph rows (in order) as examples: each paragraph's own signals,
    how often its site repeats it, and its shape within its article (signals.vectors)."""
    examples: list[Example] = []
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and rows[end].article_id == rows[start].article_id:
            end += 1
        article = rows[start:end]
        copies = [repeats.get((row.site, row.text_key), 1) for row in article]
        seen = [signals.Seen(row.text, row.features, count - 1)
                for row, count in zip(article, copies)]
        shapes = signals.vectors(seen)
        first = [signals.shape_probability(shape, False)[0] for shape in shapes]
        if any(row.features for row in article):  # HTML: the second stage, as the import's
            running = signals.running_text(seen)
            first = [p if body and not out else second for p, body, out, (second, _) in zip(
                first, running, signals.outside_run(running),
                signals.context_probabilities(first, running))]
        for row, count, shape, p in zip(article, copies, shapes, first):
            own = paragraph_signals(row.index, row.paragraph_count, row.text, count,
                                    row.features)
            # the cold scorer's verdict (log-odds): what carries over to a site never labeled
            cold = min(max(p, 1e-6), 1 - 1e-6)
            examples.append(Example(row.text, {**own, "cold": math.log(cold / (1 - cold)),
                                               **{f"shape.{name}": value
                                                  for name, value in shape.items()}}))
        start = end
    return examples


def _article_batches(session: Session, article_ids: list[int]):
    """The paragraph rows of the articles, ARTICLES_PER_BATCH articles at a time, in order;
    each batch read in a transaction of its own, ended before it is handed over."""
    for start in range(0, len(article_ids), ARTICLES_PER_BATCH):
        rows = session.execute(
            select(*_PARAGRAPH_COLUMNS).join(Article, Article.id == Paragraph.article_id)
            .where(Paragraph.article_id.in_(article_ids[start:start + ARTICLES_PER_BATCH]))
            .order_by(Paragraph.article_id, Paragraph.index)).all()
        session.rollback()
        yield rows


def training_data(session: Session, project_id: int, progress: ProgressCallback = no_progress
                  ) -> tuple[Any, list[str], list[int], dict]:
    """The project's human-labeled paragraphs as a feature matrix (vectorized a batch at a
    time: the examples of 50k paragraphs would take hundreds of MB), each with its majority human label
    (its gold label when one is set) and its article (the group for cross-validation); and
    the repetition counts, for predicting."""
    repeats = _repeats(session, project_id)
    votes: dict[int, list[str]] = defaultdict(list)
    articles: set[int] = set()
    for paragraph_id, article_id, label in session.execute(
            select(Annotation.paragraph_id, Paragraph.article_id, Annotation.label)
            .join(Paragraph, Paragraph.id == Annotation.paragraph_id)
            .join(Article, Article.id == Paragraph.article_id)
            .where(Article.project_id == project_id, Annotation.source == "human",
                   ~Article.calibration)):  # calibration labels are kept out of the data
        votes[paragraph_id].append(label)
        articles.add(article_id)
    gold = {}
    for paragraph_id, article_id, label in session.execute(
            select(Gold.paragraph_id, Paragraph.article_id, Gold.label)
            .join(Paragraph, Paragraph.id == Gold.paragraph_id)
            .join(Article, Article.id == Paragraph.article_id)
            .where(Article.project_id == project_id)):
        gold[paragraph_id] = label
        articles.add(article_id)
    session.rollback()
    matrices, labels, groups = [], [], []
    for batch, rows in enumerate(_article_batches(session, sorted(articles))):
        progress("labeled articles read", min(batch * ARTICLES_PER_BATCH, len(articles)),
                 len(articles))
        wanted = [(row, example) for row, example in zip(rows, _examples(rows, repeats))
                  if row.id in votes or row.id in gold]
        matrices.append(vectorize([example for _, example in wanted]))
        labels += [majority_label(votes.get(row.id, ()), gold.get(row.id)) for row, _ in wanted]
        groups += [row.article_id for row, _ in wanted]
    progress("labeled articles read", len(articles), len(articles))
    return stack(matrices), labels, groups, repeats


# -- training and predicting ----------------------------------------------------------------

def train_project(session: Session, project: Project,
                  progress: ProgressCallback = no_progress) -> dict[str, Any]:
    """Fit the project's model on its human labels, store it, and write its predictions for
    every paragraph that still needs a label (reading and predicting reported to `progress`). Raises LeaseHeld when another trainer is at it,
    TooFewLabels when there is not enough to learn from. Returns the metrics stored."""
    project_id = project.id
    if not take_lease(session, project_id):
        raise LeaseHeld(f"project {project.name!r} is being trained by another process")
    try:
        started = time.thread_time()  # this thread's CPU: requests run beside it
        seen = human_label_count(session, project_id)
        matrix, labels, _groups, repeats = training_data(session, project_id, progress)
        model = fit_matrix(matrix, labels)  # no transaction open meanwhile
        metrics = {"trained_on": len(labels), "labels": sorted(set(labels)),
                   "train_cpu_seconds": round(time.thread_time() - started, 2)}
        with write_transaction(session):
            session.execute(update(SuggestionModel)
                            .where(SuggestionModel.project_id == project_id)
                            .values(trained_at=utcnow(), trained_on=len(labels),
                                    human_labels_seen=seen, blob=model.dumps(), metrics=metrics,
                                    lease_until=utcnow() + LEASE))
            session.commit()
        metrics["suggestions"] = predict_project(session, project_id, model, repeats, progress)
        metrics["cpu_seconds"] = round(time.thread_time() - started, 2)
        return metrics
    finally:
        release_lease(session, project_id)


def predict_project(session: Session, project_id: int, model: ProjectModel,
                    repeats: dict[tuple[str, str], int],
                    progress: ProgressCallback = no_progress) -> int:
    """Write the model's suggestion for every paragraph fewer annotators labeled than the
    project asks, a batch of articles at a time: read, predict with no transaction open,
    write. Returns the number written."""
    overlap = session.scalar(select(Project.overlap).where(Project.id == project_id)) or 1
    article_ids = list(session.scalars(
        select(Article.id).where(Article.project_id == project_id,
                                 Article.labeled_count < Article.paragraph_count * overlap)
        .order_by(Article.id)))
    reason = f"model trained on {model.trained_on} labels: "
    written = 0
    for batch, rows in enumerate(_article_batches(session, article_ids)):
        progress("articles predicted", min(batch * ARTICLES_PER_BATCH, len(article_ids)),
                 len(article_ids))
        wanted = [(row, example) for row, example in zip(rows, _examples(rows, repeats))
                  if row.annotation_count < overlap]
        predictions = model.predict([example for _, example in wanted])
        now = utcnow()
        with write_transaction(session):
            written += store_app_suggestions(session, [
                {"paragraph_id": row.id, "label": label, "confidence": confidence,
                 "reason": f"{reason}{confidence:.2f}", "model": "model", "updated_at": now}
                for (row, _), (label, confidence) in zip(wanted, predictions)], replaces="model")
            _extend_lease(session, project_id)
            session.commit()
    progress("articles predicted", len(article_ids), len(article_ids))
    return written


def _app_suggestion_upsert(insert_into, replaces: str):
    """A row replaces an earlier one of the same kind (`replaces`), and another of the app's
    own only with a higher confidence; an external model's suggestion stays. A stored row
    that already says the same (label, confidence, reason, model) is left as it is."""
    return _on_conflict(insert_into(Suggestion.__table__), replaces)


def _on_conflict(insert, replaces: str):
    """`_app_suggestion_upsert`'s conflict rule on an INSERT into suggestion."""
    table = Suggestion.__table__
    excluded = insert.excluded
    said = ("label", "confidence", "reason", "model")
    return insert.on_conflict_do_update(
        index_elements=[table.c.paragraph_id],
        set_={name: excluded[name] for name in (*said, "updated_at")},
        where=and_(or_(table.c.model == replaces,
                       and_(or_(*(table.c.model == name for name in sorted(APP_MODELS))),
                            table.c.confidence < excluded.confidence)),
                   or_(*(table.c[name].is_distinct_from(excluded[name]) for name in said))),
    ).returning(table.c.paragraph_id)  # rowcount is -1 for this on psycopg


# built once per backend and kind, run with bound rows: a statement built from each call's
# values was compiled anew every time (most of a label's propagation to its copies)
_UPSERTS = {replaces: partial(_app_suggestion_upsert, replaces=replaces)
            for replaces in ("signals", "model")}


def store_app_suggestions(session: Session, rows: list[dict], replaces: str) -> int:
    """Upsert the app's suggestions (rows with every column but the id; see
    `_app_suggestion_upsert`). The caller commits. Returns how many were written (new or
    changed)."""
    connection = session.connection()
    statement = for_backend(connection, _UPSERTS[replaces])
    stored = 0
    for start in range(0, len(rows), STORE_CHUNK):
        stored += len(connection.execute(statement, rows[start:start + STORE_CHUNK]).all())
    return stored


def evaluate_project(session: Session, project: Project) -> dict[str, Any]:
    """Cross-validation by article of the model on the project's human labels (raises
    TooFewLabels)."""
    matrix, labels, groups, _ = training_data(session, project.id)
    return cross_validate(matrix, labels, groups)


def stored_count(session: Session, project_id: int) -> int:
    """Suggestions stored for the project's paragraphs, of every kind."""
    count = session.scalar(
        select(func.count(Suggestion.paragraph_id))
        .join(Paragraph, Paragraph.id == Suggestion.paragraph_id)
        .join(Article, Article.id == Paragraph.article_id)
        .where(Article.project_id == project_id)) or 0
    session.rollback()
    return count


def summary_text(summary: dict[str, Any]) -> str:
    """`flask suggest`'s summary (the dict its --json prints) as lines for people."""
    lines = [f"{summary['project']}: " + (
        f"model trained on {summary['trained_on']} human-labeled paragraphs in "
        f"{summary['cpu_seconds']} s of CPU; {summary['written']} suggestions written"
        if summary["trained"] else summary["message"])]
    if summary.get("cold"):
        lines.append(f"{summary['cold']} cold suggestions written for articles still unscored")
    lines.append(f"{summary['stored']} suggestions stored in all")
    evaluation = summary.get("evaluation")
    if evaluation:
        lines += ["", f"cross-validation by article ({evaluation['folds']} folds, "
                  f"{evaluation['paragraphs']} paragraphs in {evaluation['articles']} articles):",
                  f"{'label':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}"]
        for label, row in evaluation["labels"].items():
            lines.append(f"{label:<20} {row['precision']:>9.3f} {row['recall']:>7.3f} "
                         f"{row['f1']:>6.3f} {row['support']:>8}")
        baseline = evaluation["majority_baseline"]
        lines.append(f"accuracy {evaluation['accuracy']:.3f} (always {baseline['label']!r}: "
                     f"{baseline['accuracy']:.3f}); macro F1 {evaluation['macro_f1']:.3f}")
        prelabel = evaluation["prelabel"]
        lines.append(
            f"pre-labeled at precision >= {prelabel['target_precision']}: "
            f"{100 * prelabel['share']:.1f}% of paragraphs (confidence >= {prelabel['threshold']})"
            if prelabel["threshold"] is not None else
            f"no confidence threshold reaches precision >= {prelabel['target_precision']}")
    return "\n".join(lines)


# -- propagation ----------------------------------------------------------------------------

def propagate(session: Session, saves: list[tuple[int, str]]) -> int:
    """Suggest each saved label (saves in the order they were made: paragraph id, label) for
    the copies of its paragraph (same text_key) on its site's other articles that still need
    a label, over any cold suggestion (a person's label says more).

    A burst is coalesced per repeated text (project, site, text_key): its copies get what
    the saves one by one would have left them, the last save's label, and in that save's own
    article the last label saved in another; one read for the saved paragraphs, then a read
    and a short write transaction per text. Returns the suggestions written."""
    groups: dict[tuple, tuple[Any, list[tuple[int, str]]]] = {}
    ids = list(dict.fromkeys(paragraph_id for paragraph_id, _ in saves))
    found = {}
    copy = Paragraph.__table__.alias("copy")
    repeated = (select(copy.c.id).where(copy.c.text_key == Paragraph.text_key,
                                        copy.c.id != Paragraph.id).exists())
    for start in range(0, len(ids), STORE_CHUNK):
        found.update((row.id, row) for row in session.execute(
            select(Paragraph.id, Paragraph.text_key, Paragraph.article_id, Article.site,
                   Article.project_id, Project.overlap)
            .join(Article, Article.id == Paragraph.article_id)
            .join(Project, Project.id == Article.project_id)
            .where(Paragraph.id.in_(ids[start:start + STORE_CHUNK]),
                   Paragraph.text_key.is_not(None), Project.suggestions_enabled,
                   repeated)))  # a text found once has no copies to propagate to
    session.rollback()
    for paragraph_id, label in saves:
        row = found.get(paragraph_id)
        if row is not None:
            groups.setdefault((row.project_id, row.site, row.text_key), (row, []))[1].append(
                (row.article_id, label))
    steps = []
    for text, made in groups.values():
        last_article, label = made[-1]
        steps.append((text, label, last_article, False))
        elsewhere = [saved for article, saved in made if article != last_article]
        if elsewhere:  # the copies in the last save's article had the last label of another
            steps.append((text, elsewhere[-1], last_article, True))
    stored, done = 0, 0
    while done < len(steps):  # a write transaction holds the lock for about PROPAGATE_HOLD
        with write_transaction(session):
            began = time.perf_counter()
            while done < len(steps) and time.perf_counter() - began < PROPAGATE_HOLD:
                stored += _propagate_label(session, *steps[done])
                done += 1
            session.commit()
    return stored


def _propagation(insert_into, same_article: bool):
    """Upsert the propagated suggestion of every copy of a text (text_key) on its site's
    articles, the saved paragraph's own article (`same_article`) or the others, that still
    needs a label: one INSERT ... SELECT, the copies never leave the database."""
    paragraphs, articles = Paragraph.__table__, Article.__table__
    article = bindparam("article", type_=Integer)
    copies = (
        select(paragraphs.c.id, bindparam("label", type_=String),
               bindparam("confidence", type_=Float), bindparam("reason", type_=String),
               bindparam("model", type_=String), bindparam("now", type_=DateTime))
        .select_from(paragraphs.join(articles, articles.c.id == paragraphs.c.article_id))
        .where(paragraphs.c.text_key == bindparam("text_key", type_=String),
               articles.c.project_id == bindparam("project", type_=Integer),
               articles.c.site.is_not_distinct_from(bindparam("site", type_=String)),
               paragraphs.c.article_id == article if same_article
               else paragraphs.c.article_id != article,
               paragraphs.c.annotation_count < bindparam("overlap", type_=Integer))
        .limit(MAX_COPIES))
    return _on_conflict(insert_into(Suggestion.__table__).from_select(
        ["paragraph_id", "label", "confidence", "reason", "model", "updated_at"], copies),
        "signals")


_PROPAGATIONS = {same: Prepared(partial(_propagation, same_article=same)) for same in (False, True)}


def _propagate_label(session: Session, text, label: str, article_id: int,
                     same_article: bool) -> int:
    """Suggest `label` for the copies of `text` (a saved paragraph's row) in the article
    (`same_article`) or in its site's other articles, that still need a label (in the
    caller's write transaction)."""
    where = f"another page of {text.site}" if text.site else "another page of this project"
    return len(_PROPAGATIONS[same_article].run(session.connection(), {
        "text_key": text.text_key, "project": text.project_id, "site": text.site,
        "article": article_id, "overlap": text.overlap, "label": label,
        "confidence": PROPAGATED_CONFIDENCE, "model": "signals", "now": utcnow(),
        "reason": f"labeled {label} on {where}"[:MAX_REASON_CHARS]}).fetchall())


# -- the propagation queue and its one writer ------------------------------------------------

def _queue_repeated():
    """Queue a save (paragraph_id, label) if its paragraph's text has copies (another
    paragraph of the same text_key): a text found once has nothing to propagate to."""
    saved, copy = Paragraph.__table__.alias("saved"), Paragraph.__table__.alias("copy")
    paragraph = bindparam("paragraph_id", type_=Integer)
    copies = (select(copy.c.id).select_from(saved.join(copy, copy.c.text_key == saved.c.text_key))
              .where(saved.c.id == paragraph, copy.c.id != saved.c.id).exists())
    return insert(PropagationQueue.__table__).from_select(
        ["paragraph_id", "label"], select(paragraph, bindparam("label", type_=String)).where(copies))


_QUEUE = _queue_repeated()


def _lease_row(insert_into):
    """The "propagation" lease's row, if missing."""
    return insert_into(BackgroundLease.__table__).values(
        name="propagation", holder="", until=None).on_conflict_do_nothing(index_elements=["name"])


_TAKE = (update(BackgroundLease.__table__)
         .where(BackgroundLease.name == "propagation",
                or_(BackgroundLease.holder == bindparam("holder"),
                    BackgroundLease.until.is_(None), BackgroundLease.until < bindparam("now")))
         .values(holder=bindparam("holder"), until=bindparam("until")))


def queue_and_lead(session: Session, saves: list[tuple[int, str]], holder: str,
                   first: bool = True) -> bool:
    """Add the saves (paragraph id, label, in order) of repeated texts to the propagation
    queue and take or renew the "propagation" lease for `holder` if it is free, run out or
    its own (`first`: create its row if missing): one write transaction. Returns whether
    `holder` holds it."""
    now = utcnow()
    with write_transaction(session):
        connection = session.connection()
        if saves:
            latest = dict(saves)  # a paragraph saved again: its last label, at its last place
            ordered = list({paragraph: None for paragraph, _ in reversed(saves)})[::-1]
            connection.execute(_QUEUE, [{"paragraph_id": paragraph, "label": latest[paragraph]}
                                        for paragraph in ordered])
        if first:
            connection.execute(for_backend(connection, _lease_row))
        held = connection.execute(_TAKE, {"holder": holder, "now": now,
                                          "until": now + PROPAGATION_LEASE}).rowcount
        session.commit()
    return held == 1


def propagate_queued(session: Session) -> tuple[int, int]:
    """Propagate the queue's saves (QUEUE_ROUND at most, oldest first) and remove them once
    done (a holder that dies midway leaves them to the next, and propagating twice writes
    nothing new). Returns (saves taken, suggestions written)."""
    rows = session.execute(select(PropagationQueue.id, PropagationQueue.paragraph_id,
                                  PropagationQueue.label)
                           .order_by(PropagationQueue.id).limit(QUEUE_ROUND)).all()
    session.rollback()
    if not rows:
        return 0, 0
    stored = propagate(session, [(row.paragraph_id, row.label) for row in rows])
    ids = [row.id for row in rows]  # not a range: on PostgreSQL a lower id may commit later
    with write_transaction(session):
        for start in range(0, len(ids), STORE_CHUNK):
            session.execute(delete(PropagationQueue)
                            .where(PropagationQueue.id.in_(ids[start:start + STORE_CHUNK])))
        session.commit()
    return len(rows), stored


def release_propagation(session: Session, holder: str) -> None:
    """Give the "propagation" lease up, if `holder` has it."""
    session.rollback()
    with write_transaction(session):
        session.execute(update(BackgroundLease)
                        .where(BackgroundLease.name == "propagation",
                               BackgroundLease.holder == holder)
                        .values(holder="", until=None))
        session.commit()


def queue_empty(session: Session) -> bool:
    empty = session.scalar(select(PropagationQueue.id).limit(1)) is None
    session.rollback()
    return empty


# -- the background thread ------------------------------------------------------------------

def background_wanted(app: Flask) -> bool:
    """Whether this app runs background work (ANNOTATOR_SUGGEST_IN_BACKGROUND; off by default
    under TESTING)."""
    enabled = app.config.get("SUGGEST_IN_BACKGROUND")
    return not app.testing if enabled is None else bool(enabled)


def saved(paragraph_id: int, label: str, source: str = "human") -> None:
    """Call after a label save commits: costs a lock and an append (no query). A no-op where
    background work is off."""
    app = current_app._get_current_object()
    if background_wanted(app):
        background(app).note(paragraph_id, label, source == "human")


def init_app(app: Flask) -> None:
    """Start the background thread with the server's first request (not in CLI commands), so
    it writes the cold suggestions a large import left pending soon after the start."""
    if not background_wanted(app):
        return

    @app.before_request
    def _start_background() -> None:
        worker = app.extensions.get("suggest_background")
        if worker is None or worker.pid != os.getpid():
            background(app)


_STARTING = threading.Lock()


def background(app: Flask) -> Background:
    """This process's background worker for the app (a new one after a fork)."""
    worker = app.extensions.get("suggest_background")
    if worker is None or worker.pid != os.getpid():
        with _STARTING:
            worker = app.extensions.get("suggest_background")
            if worker is None or worker.pid != os.getpid():
                worker = app.extensions["suggest_background"] = Background(app)
    return worker


def stop_background(app: Flask) -> None:
    """Stop this process's background worker for the app, if it runs."""
    worker = app.extensions.pop("suggest_background", None)
    if worker is not None and worker.pid == os.getpid():
        worker.stop()


def round_gap(spent: float, many_saves: bool) -> float:
    """Seconds from a propagation round that took `spent` s of CPU to the next."""
    if many_saves:
        return max(PROPAGATE_BUSY, min(PROPAGATE_BUSY_PACE * spent, PROPAGATE_BUSY_MAX),
                   PROPAGATE_PACE * spent)
    return max(PROPAGATE_EVERY, PROPAGATE_PACE * spent)


def too_soon(trained_at, metrics: dict[str, Any] | None) -> bool:
    """Whether a retrain now would come sooner than the pace allows after the last one."""
    if trained_at is None:
        return False
    cpu = float((metrics or {}).get("cpu_seconds") or 0)
    wait = max(MIN_RETRAIN_SECONDS, RETRAIN_PACE * cpu)
    return (utcnow() - trained_at).total_seconds() < wait


class Background:
    """One daemon thread per process: queues the human saves for propagation and, while it
    holds the "propagation" lease (one thread of all the processes), propagates the queue;
    writes the cold suggestions of articles a large import left pending (at its start, when an
    import of this process wakes it, and every CHECK_EVERY_SECONDS); checks now and then
    whether a project should be retrained, and trains it in a thread of its own."""

    def __init__(self, app: Flask):
        self.app, self.pid = app, os.getpid()
        self.holder = f"{socket.gethostname()}:{self.pid}:{id(self):x}"
        self.lock, self.wake = threading.Lock(), threading.Event()
        self.to_propagate: list[tuple[int, str]] = []
        self.first_noted = 0.0  # when the oldest save of to_propagate came
        self.last_noted = -SAVES_ARRIVING  # when the last save came
        self.rate = 0.0  # saves noted, each weighing exp(-its age in seconds): about saves/s
        self.recent: set[int] = set()  # paragraphs saved since the last check (a sample)
        self.saves, self.last_check = 0, time.monotonic()
        self.last_pending: float | None = None  # when pending articles were last looked for
        self.look_pending = True  # look at once (at the start, after an import)
        self.leading = False  # this thread holds the propagation lease
        self.lease_row = False  # the lease's row is known to exist
        self.renew_at = self.next_round = self.queue_seen = 0.0
        self.busy = False
        self.stopped = False
        self.training: set[int] = set()
        self.thread = threading.Thread(target=self._run, name="annotator-suggestions",
                                       daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """End the thread after the work in hand (an app torn down: tests, a shut-down)."""
        with self.lock:
            self.stopped = True
        self.wake.set()
        self.thread.join(timeout)

    def note(self, paragraph_id: int, label: str, human: bool) -> None:
        with self.lock:
            first = human and not self.to_propagate
            if first:
                self.first_noted = time.monotonic()
            if human:
                self.to_propagate.append((paragraph_id, label))
            self.saves += 1
            now = time.monotonic()
            self.rate = self.rate * math.exp(self.last_noted - now) + 1
            self.last_noted = now
            if len(self.recent) < 1000:
                self.recent.add(paragraph_id)
        if first or self.saves == CHECK_EVERY_SAVES:  # else the thread knows when to look
            self.wake.set()

    def saving(self) -> bool:
        """Whether saves are arriving in this process (one in the last SAVES_ARRIVING s)."""
        return time.monotonic() - self.last_noted < SAVES_ARRIVING

    def many_saves(self) -> bool:
        """Whether saves are arriving at MANY_SAVES a second or more in this process."""
        return self.rate * math.exp(self.last_noted - time.monotonic()) >= MANY_SAVES

    def _gather(self) -> float:
        return PROPAGATE_BUSY if self.many_saves() else PROPAGATE_GATHER

    def idle(self) -> bool:
        with self.lock:
            return not (self.to_propagate or self.busy or self.training or self.look_pending)

    def pending_added(self) -> None:
        """An import left articles pending: write their cold suggestions now."""
        with self.lock:
            self.look_pending = True
        self.wake.set()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is noted, queued for propagation (by any process), running or
        training (for tests and benches)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.idle():
                with self.app.app_context():
                    try:
                        if queue_empty(db.session):
                            return True
                    finally:
                        db.session.remove()
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def _run(self) -> None:
        while True:
            with self.lock:
                if self.stopped:
                    break
                self.wake.clear()
                now = time.monotonic()
                jobs: list[tuple[int, str]] = []
                if self.to_propagate and now - self.first_noted >= self._gather():
                    jobs, self.to_propagate = self.to_propagate, []
                due = self.saves >= CHECK_EVERY_SAVES or (
                    self.saves and now - self.last_check >= CHECK_EVERY_SECONDS)
                recent = self.recent if due else set()
                if due:
                    self.recent, self.saves, self.last_check = set(), 0, now
                pending = self.look_pending or (
                    now - (self.last_pending or 0) >= CHECK_EVERY_SECONDS)
                if pending:
                    self.look_pending, self.last_pending = False, now
                lead = self.leading and now >= min(self.next_round, self.renew_at)
                self.busy = bool(jobs or recent or pending or lead)
            if self.busy:
                self._work(jobs, recent, pending)
            self.wake.wait(self._timeout())
        if self.leading:  # stopped: the next process to queue a save takes the lease at once
            try:
                with self.app.app_context():
                    try:
                        release_propagation(db.session, self.holder)
                    finally:
                        db.session.remove()
            except Exception:
                log.exception("suggestions: giving the propagation lease up failed")

    def _timeout(self) -> float:
        """Until the next thing to do: gathered saves to queue, the leader's next round."""
        with self.lock:
            now, wait = time.monotonic(), CHECK_EVERY_SECONDS
            if self.to_propagate:
                wait = min(wait, self.first_noted + self._gather() - now)
            if self.leading:
                wait = min(wait, self.next_round - now, self.renew_at - now)
            return max(wait, 0.0)

    def _work(self, jobs: list[tuple[int, str]], recent: set[int], pending: bool) -> None:
        try:
            with self.app.app_context():
                try:
                    self._propagation(db.session, jobs, pending)
                    if pending:
                        self._score_pending(db.session)
                    if recent:
                        self._check(db.session, recent)
                finally:
                    db.session.remove()
        except Exception:  # never let the thread die: log, try again with the next save
            log.exception("suggestions: background work failed")
        finally:
            with self.lock:
                self.busy = False

    def _propagation(self, session: Session, jobs: list[tuple[int, str]], look: bool) -> None:
        """Queue the gathered saves (and take the lease if free); as the leader, renew it and
        propagate the queue when its round is due, and let the lease go once the queue has
        stayed empty for half of it. On a periodic look (`look`), take a lease whose holder
        stopped while saves wait."""
        now = time.monotonic()
        if jobs or (self.leading and now >= self.renew_at) or (
                look and not self.leading and not queue_empty(session)):
            taken = queue_and_lead(session, jobs, self.holder, first=not self.lease_row)
            self.lease_row = True
            if taken and not self.leading:
                self.queue_seen = now
            self.leading = taken
            self.renew_at = now + PROPAGATION_LEASE.total_seconds() / 2
        if not self.leading or now < self.next_round:
            return
        started = time.thread_time()
        taken, written = propagate_queued(session)
        now = time.monotonic()
        if taken:
            spent = time.thread_time() - started
            self.queue_seen = now
            self.next_round = now + round_gap(spent, self.many_saves())
            log.debug("suggestions: %s saves propagated, %s suggestions written in %.3f s",
                      taken, written, spent)
        else:
            self.next_round = now + PROPAGATE_EVERY
            if now - self.queue_seen >= PROPAGATION_LEASE.total_seconds() / 2:
                release_propagation(session, self.holder)
                self.leading = False

    def _score_pending(self, session: Session) -> None:
        """Write the cold suggestions of every project's pending articles, each project under
        its lease (one process at a time; a held one is tried again at the next look)."""
        for project_id in signals.pending_projects(session):
            if project_id in self.training or not take_lease(session, project_id):
                with self.lock:
                    self.look_pending = True  # try again later
                continue
            try:
                written = signals.score_pending(session, project_id)
                log.info("suggestions: project %s: %s cold suggestions written", project_id,
                         written)
            finally:
                release_lease(session, project_id)

    def _check(self, session: Session, recent: set[int]) -> None:
        """Start training each project of the recent saves whose human labels grew enough."""
        projects = session.scalars(
            select(Article.project_id).distinct().join(Paragraph)
            .join(Project, Project.id == Article.project_id)
            .where(Paragraph.id.in_(recent), Project.suggestions_enabled)).all()
        for project_id in projects:
            if project_id in self.training:
                continue
            stored = session.execute(
                select(SuggestionModel.human_labels_seen, SuggestionModel.trained_at,
                       SuggestionModel.metrics, SuggestionModel.lease_until)
                .where(SuggestionModel.project_id == project_id)).first()
            if stored is not None and (too_soon(stored.trained_at, stored.metrics) or (
                    stored.lease_until is not None and stored.lease_until > utcnow())):
                continue  # trained a moment ago, or being trained (by any process)
            seen = stored.human_labels_seen if stored is not None else 0
            wanted = max(RETRAIN_AFTER, seen + max(RETRAIN_AFTER, seen // 10))
            # every label (of any source) is at least every human one: a few counter rows
            # tell when the exact count is not worth running
            if label_total(session, project_id) < wanted:
                continue
            if human_label_count(session, project_id) >= wanted:
                with self.lock:
                    self.training.add(project_id)
                threading.Thread(target=self._train, args=(project_id,), daemon=True,
                                 name=f"annotator-train-{project_id}").start()
        session.rollback()

    def _paced(self) -> ProgressCallback:
        """A training's progress callback (called between its batches) that yields
        RETRAIN_PACE times the CPU the batch before took while saves are arriving: a burst
        of saves keeps its CPU, and the model comes after it."""
        last = time.thread_time()

        def pace(_stage: str, _done: int, _total: int) -> None:
            nonlocal last
            if self.saving() and not self.stopped:
                time.sleep(RETRAIN_PACE * (time.thread_time() - last))
            last = time.thread_time()

        return pace

    def _hold(self, session: Session, project_id: int) -> None:
        """Wait while many saves arrive, RETRAIN_HOLD at most: in this process, or in any
        (the project's labels grow by MANY_SAVES a second, read every HOLD_LOOK seconds)."""
        deadline = time.monotonic() + RETRAIN_HOLD
        seen = label_total(session, project_id)
        session.rollback()
        while time.monotonic() < deadline and not self.stopped:
            busy = self.many_saves()
            time.sleep(HOLD_LOOK)
            total = label_total(session, project_id)
            session.rollback()
            if not busy and total - seen < MANY_SAVES * HOLD_LOOK:
                return
            seen = total

    def _train(self, project_id: int) -> None:
        try:
            with self.app.app_context():
                try:
                    self._hold(db.session, project_id)  # the model comes after the saves
                    project = db.session.get(Project, project_id)
                    if project is not None:
                        metrics = train_project(db.session, project, self._paced())
                        log.info("suggestions: trained project %s: %s", project_id, metrics)
                except (LeaseHeld, TooFewLabels) as reason:
                    log.info("suggestions: project %s not trained: %s", project_id, reason)
                finally:
                    db.session.remove()
        except Exception:
            log.exception("suggestions: training project %s failed", project_id)
        finally:
            with self.lock:
                self.training.discard(project_id)

"""Migration in: import the labeled texts of a Label Studio, doccano or Prodigy export (text
classification). Each distinct text becomes an article (its paragraphs the text split as a
txt body is), and each of its labels becomes that annotator's label on every paragraph of
it. Everything is checked first (labels against the project's set, after --map; annotator
names); then the articles, the users and the labels are stored in one transaction, or
nothing is. The label counters are kept exact as the app's own saves keep them."""
from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..database import dialect_insert, write_transaction
from ..models import (DEFAULT_LABELS, Annotation, AnnotationHistory, Article, LabelCount,
                      Paragraph, Project, User, utcnow)
from ..progress_report import ProgressCallback, no_progress
from ..security import hash_password
from .formats.records import Invalid, Record, checked
from .importing import SCORE_AT_IMPORT, ImportReport, Spooled, _store, after_store, content_hash
from .text import SPLITTERS, normalise, text_key
from .users import UserError, check_username

TITLE_LENGTH = 100  # characters of the first line a title keeps, when the record has none


@dataclass
class Vote:
    """One annotator's label on a text, as the tool exported it."""

    annotator: str
    label: str
    at: datetime | None  # when it was made, if the export says


@dataclass
class Labeled:
    """A text of the export and its labels (several records of one text merged)."""

    where: str  # FILE:LINE of its first record
    article_id: str
    title: str
    text: str
    meta: dict[str, Any]
    votes: list[Vote] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)  # set once checked
    digest: str = ""
    source_file: str = ""  # the name the article keeps, as a plain import names it


@dataclass
class LabelImportReport(ImportReport):
    """ImportReport, plus what happened to the labels."""

    labels: int = 0  # annotations stored
    labels_kept: int = 0  # already there (same annotator and paragraph): left as they were
    not_labels: int = 0  # records without a label to store: rejected, ignored, cancelled, empty
    users_created: list[str] = field(default_factory=list)

    def label_summary(self) -> str:
        created = (f"; users created (inactive): {', '.join(self.users_created)}"
                   if self.users_created else "")
        return (f"labels: {self.labels} stored, {self.labels_kept} already present, "
                f"{self.not_labels} records without a label{created}")


def parse_mapping(pairs: Iterable[str], what: str = "--map") -> dict[str, str]:
    """`old=new` pairs as a dict; a pair without `=` or with an empty side is an error."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ValueError(f"{what} {pair!r}: expected OLD=NEW")
        mapping[old.strip()] = new.strip()
    return mapping


# --- reading each tool's export -----------------------------------------------------------

def _when(value: Any) -> datetime | None:
    """A timestamp of an export (ISO 8601, or Unix seconds) as naive UTC, or None."""
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, UTC)
        else:
            moment = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        raise Invalid(f"unreadable timestamp {value!r}") from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _one(labels: Any, what: str) -> str | None:
    """The single label of a list (None for none); several are an error (one label a paragraph)."""
    if isinstance(labels, str):
        return labels
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise Invalid(f"{what} is not a list of labels")
    if len(labels) > 1:
        raise Invalid(f"{what} has {len(labels)} labels ({', '.join(labels)}); annotator "
                      "keeps one label a paragraph: split or choose them first")
    return labels[0] if labels else None


def _label_studio(path: Path, annotator: str | None, report: LabelImportReport
                  ) -> Iterator[Labeled]:
    """A Label Studio JSON export: a list of tasks with data.text and annotations[].result."""
    try:
        tasks = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise Invalid(f"not a Label Studio JSON export: {error}") from None
    if not isinstance(tasks, list):
        raise Invalid("not a Label Studio JSON export (expected a list of tasks)")
    for number, task in enumerate(tasks, 1):
        where = f"{path}:{number}"  # the task's position in the list
        try:
            if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
                raise Invalid("a task needs a \"data\" object")
            data = task["data"]
            labeled = _labeled(where, f"label-studio-{task['id']}" if "id" in task else None,
                               data.get("text"), data.get("title"), {
                                   key: value for key, value in (task.get("meta") or {}).items()
                               } if isinstance(task.get("meta"), dict) else {})
            for entry in task.get("annotations") or []:
                if entry.get("was_cancelled"):
                    report.not_labels += 1
                    continue
                choices = [result["value"]["choices"] for result in entry.get("result") or []
                           if result.get("type") == "choices"]
                if len(choices) > 1:
                    raise Invalid("an annotation with several choices results")
                label = _one(choices[0], "choices") if choices else None
                if label is None:
                    report.not_labels += 1
                    continue
                labeled.votes.append(Vote(annotator or _ls_user(entry.get("completed_by")),
                                          label, _when(entry.get("updated_at")
                                                       or entry.get("created_at"))))
        except Invalid as error:
            report.errors.append(f"{where}: {error.reason}")
            continue
        except (KeyError, TypeError, AttributeError):
            report.errors.append(f"{where}: not a Label Studio task of the JSON export")
            continue
        yield labeled


def _ls_user(completed_by: Any) -> str:
    """Label Studio's annotator: an object with an email, else its user id."""
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or f"label-studio-{completed_by.get('id')}")
    if completed_by is None:
        raise Invalid("an annotation without completed_by: pass --annotator")
    return f"label-studio-{completed_by}"


def _jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each non-blank line of a JSONL file as (FILE:LINE, object)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except (ValueError, UnicodeDecodeError) as error:
                yield where, {"__error__": f"invalid JSON: {error}"}
                continue
            yield where, obj if isinstance(obj, dict) else {"__error__": "not a JSON object"}


def _doccano(path: Path, annotator: str | None, report: LabelImportReport) -> Iterator[Labeled]:
    """A doccano text-classification JSONL export: text, label (a list); one file per user,
    named after the user (admin.jsonl), unless --annotator says who."""
    user = annotator or path.stem
    for where, obj in _jsonl(path):
        try:
            if "__error__" in obj:
                raise Invalid(obj["__error__"])
            labeled = _labeled(where, f"doccano-{obj['id']}" if "id" in obj else None,
                               obj.get("text"), obj.get("title"), {})
            label = _one(obj.get("label", []), "label")
            if label is None:
                report.not_labels += 1
            else:
                labeled.votes.append(Vote(user, label, None))
        except Invalid as error:
            report.errors.append(f"{where}: {error.reason}")
            continue
        yield labeled


def _prodigy(path: Path, annotator: str | None, report: LabelImportReport) -> Iterator[Labeled]:
    """A Prodigy db-out JSONL: text, answer, and label (classification) or accept (choice)."""
    for where, obj in _jsonl(path):
        try:
            if "__error__" in obj:
                raise Invalid(obj["__error__"])
            labeled = _labeled(where, f"prodigy-{obj['_input_hash']}"
                               if "_input_hash" in obj else None,
                               obj.get("text"), (obj.get("meta") or {}).get("title")
                               if isinstance(obj.get("meta"), dict) else None, {})
            answer = obj.get("answer")
            if answer not in ("accept", "reject", "ignore"):
                raise Invalid(f"answer {answer!r} is not accept, reject or ignore")
            label = (_one(obj["accept"], "accept") if "accept" in obj
                     else obj.get("label"))
            if answer != "accept" or label is None:  # a rejected label says what it is not
                report.not_labels += 1
            else:
                user = annotator or obj.get("_annotator_id") or obj.get("_session_id")
                if not user:
                    raise Invalid("no _annotator_id or _session_id: pass --annotator")
                labeled.votes.append(Vote(str(user), str(label), _when(obj.get("_timestamp"))))
        except Invalid as error:
            report.errors.append(f"{where}: {error.reason}")
            continue
        yield labeled


READERS = {"label-studio": _label_studio, "doccano": _doccano, "prodigy": _prodigy}


def _labeled(where: str, article_id: str | None, text: Any, title: Any,
             meta: dict[str, Any]) -> Labeled:
    if not isinstance(text, str) or not normalise(text):
        raise Invalid("no text (a string) to import")
    if article_id is not None and len(article_id) > 255:
        raise Invalid("the record's id is over 255 characters")
    body = normalise(text)
    first = body.partition("\n")[0]
    title = normalise(title) if isinstance(title, str) and normalise(title) else (
        first if len(first) <= TITLE_LENGTH else first[:TITLE_LENGTH - 1] + "…")
    return Labeled(where, article_id or "", title, body, meta)


# --- the import ---------------------------------------------------------------------------

def import_labels(session: Session, project_name: str, paths: Sequence[Path], tool: str, *,
                  mapping: dict[str, str] | None = None,
                  user_mapping: dict[str, str] | None = None, annotator: str | None = None,
                  split: str = "line", progress: ProgressCallback = no_progress
                  ) -> LabelImportReport:
    """Read the exports, check every text, label and annotator, then store the articles, the
    users not yet known (inactive annotators) and the labels in one transaction, reporting
    each stage to `progress`."""
    session.commit()
    report = LabelImportReport()
    mapping, user_mapping = mapping or {}, user_mapping or {}
    texts: dict[str, Labeled] = {}
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                       ) if path.is_dir() else [path]
        if not files:
            report.errors.append(f"{path}:1: no files to import in this directory")
        for file in files:
            source_file = (str(PurePosixPath(path.resolve().name, *file.relative_to(path).parts))
                           if path.is_dir() else file.name)
            try:
                for labeled in READERS[tool](file, annotator, report):
                    labeled.source_file = source_file
                    _merge(texts, labeled, split, report)
                    progress("texts read", len(texts), None)
            except Invalid as error:
                report.errors.append(f"{file}:1: {error.reason}")
            except OSError as error:
                report.errors.append(f"{file}:1: cannot read: {error.strerror or error}")
    project = session.scalar(select(Project).where(Project.name == project_name))
    keys = ({label.key for label in project.labels} if project
            else {key for key, *_ in DEFAULT_LABELS})
    unknown = Counter(mapping.get(vote.label, vote.label) for labeled in texts.values()
                      for vote in labeled.votes
                      if mapping.get(vote.label, vote.label) not in keys)
    if unknown:
        report.errors.append(
            "unknown labels (not in the project's label set "
            f"{', '.join(sorted(keys))}; map them with --map OLD=NEW): "
            + ", ".join(f"{label} ({count})" for label, count in sorted(unknown.items())))
    names = {user_mapping.get(vote.annotator, vote.annotator)
             for labeled in texts.values() for vote in labeled.votes}
    for name in sorted(names):
        try:
            check_username(name)
        except UserError as error:
            report.errors.append(f"annotator {name!r}: {error} (map it with --map-user OLD=NEW)")
    _check_present(session, project, texts, report)
    if report.errors:
        return report
    session.commit()
    with write_transaction(session):
        try:
            project_id, suggest, imported = _store(
                session, project_name, _batches(list(texts.values())),
                sum(len(labeled.paragraphs) for labeled in texts.values()), SCORE_AT_IMPORT,
                report, progress)
            users = _users(session, names, report)
            _store_labels(session, project_id, texts.values(), mapping, user_mapping, users,
                          report, progress)
            session.commit()
        except Invalid as error:  # a concurrent import stored another text under an id
            session.rollback()
            report.errors.append(error.reason)
            report.added = report.skipped = report.paragraphs = 0
            return report
        except BaseException:
            session.rollback()
            raise
    return after_store(session, report, project_id, suggest, imported)


def _merge(texts: dict[str, Labeled], labeled: Labeled, split: str,
           report: LabelImportReport) -> None:
    """Add a record, its paragraphs split and checked; records of one text (the same id, or
    the same text without one) are one article with all their votes."""
    try:
        record = checked(Record(labeled.where, labeled.title,
                                SPLITTERS[split](labeled.text) or [labeled.text]))
    except Invalid as error:
        report.errors.append(f"{labeled.where}: {error.reason}")
        return
    labeled.title = record.title
    labeled.paragraphs = record.paragraphs
    labeled.digest = content_hash(record.title, record.paragraphs)
    labeled.article_id = labeled.article_id or labeled.digest[:16]
    earlier = texts.get(labeled.article_id)
    if earlier is None:
        texts[labeled.article_id] = labeled
    elif earlier.paragraphs != labeled.paragraphs:
        report.errors.append(f"{labeled.where}: id {labeled.article_id} has another text "
                             f"at {earlier.where}")
    else:
        earlier.votes += labeled.votes


def _chunks(items: Sequence, size: int = 500) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _check_present(session: Session, project: Project | None, texts: dict[str, Labeled],
                   report: LabelImportReport) -> None:
    """A text whose id the project already holds must be that article's text (its labels go
    onto it); another text under that id is an error."""
    if project is None:
        return
    for ids in _chunks(sorted(texts)):
        present: dict[str, list[str]] = {}
        for article_id, text in session.execute(
                select(Article.article_id, Paragraph.text)
                .join(Paragraph, Paragraph.article_id == Article.id)
                .where(Article.project_id == project.id, Article.article_id.in_(ids))
                .order_by(Article.id, Paragraph.index)).all():
            present.setdefault(article_id, []).append(text)
        for article_id, paragraphs in present.items():
            if paragraphs != texts[article_id].paragraphs:
                report.errors.append(f"{texts[article_id].where}: id {article_id} is already "
                                     "in the project with another text")


def _batches(texts: list[Labeled]) -> Iterator[list[Spooled]]:
    """The texts as the article import stores them, a few hundred at a time."""
    for chunk in _chunks(texts):
        yield _spooled(chunk)


def _spooled(texts: Iterable[Labeled]) -> list[Spooled]:
    return [Spooled(labeled.source_file, int(labeled.where.rpartition(":")[2]),
                    labeled.title, labeled.paragraphs, [text_key(text) for text in
                                                        labeled.paragraphs],
                    labeled.article_id, None, labeled.meta, None, labeled.digest)
            for labeled in texts]


def _users(session: Session, names: set[str], report: LabelImportReport) -> dict[str, int]:
    """The annotators' user ids by name; those not known are created as inactive annotators
    (an admin activates them and sets a password to let them sign in)."""
    users = dict(session.execute(select(User.username, User.id)
                                 .where(User.username.in_(names))).all())
    for name in sorted(names - users.keys()):
        user = User(username=name, password_hash=hash_password(secrets.token_urlsafe(32)),
                    role="annotator", active=False)
        session.add(user)
        session.flush()
        users[name] = user.id
        report.users_created.append(name)
    return users


def _store_labels(session: Session, project_id: int, texts: Iterable[Labeled],
                  mapping: dict[str, str], user_mapping: dict[str, str],
                  users: dict[str, int], report: LabelImportReport,
                  progress: ProgressCallback = no_progress) -> None:
    """Each annotator's latest vote on a text becomes their label on its paragraphs (earlier
    ones their history); a paragraph the annotator already labeled keeps its label. Then the
    counters of what was added: paragraph, article and label_count. A few hundred texts a
    round trip: one INSERT of their labels, returning those it added."""
    connection = session.connection()
    now = utcnow()
    table = Annotation.__table__
    add = (dialect_insert(session)(table)
           .on_conflict_do_nothing(index_elements=["paragraph_id", "user_id"])
           .returning(table.c.paragraph_id, table.c.user_id, table.c.label, table.c.created_at))
    labeled_paragraphs: set[int] = set()
    articles: set[int] = set()
    counts: Counter[tuple[int, str, Any]] = Counter()
    voted = [labeled for labeled in texts if labeled.votes]
    for done, chunk in enumerate(_chunks(voted)):
        progress("texts labeled", done * 500, len(voted))
        pks = dict(connection.execute(select(Article.article_id, Article.id).where(
            Article.project_id == project_id,
            Article.article_id.in_([labeled.article_id for labeled in chunk]))).all())
        stored: dict[int, list[tuple[int, str]]] = {}
        for article_pk, paragraph_pk, text in connection.execute(
                select(Paragraph.article_id, Paragraph.id, Paragraph.text)
                .where(Paragraph.article_id.in_(list(pks.values())))
                .order_by(Paragraph.article_id, Paragraph.index)):
            stored.setdefault(article_pk, []).append((paragraph_pk, text))
        rows: list[dict[str, Any]] = []
        history: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for labeled in chunk:
            paragraphs = stored.get(pks[labeled.article_id], [])
            if [text for _, text in paragraphs] != labeled.paragraphs:
                raise Invalid(f"{labeled.where}: id {labeled.article_id} is already in the "
                              "project with another text")
            by_user: dict[int, list[Vote]] = {}
            for vote in labeled.votes:
                by_user.setdefault(users[user_mapping.get(vote.annotator, vote.annotator)],
                                   []).append(vote)
            for user_id, votes in by_user.items():
                votes.sort(key=lambda vote: vote.at or now)
                label, at = mapping.get(votes[-1].label, votes[-1].label), votes[-1].at or now
                created = votes[0].at or at
                changes = [(mapping.get(earlier.label, earlier.label), earlier.at or at,
                            later.at or at) for earlier, later in pairwise(votes)
                           if mapping.get(earlier.label, earlier.label)
                           != mapping.get(later.label, later.label)]
                for paragraph_id, _ in paragraphs:
                    rows.append({"paragraph_id": paragraph_id, "user_id": user_id,
                                 "label": label, "note": None, "source": "human",
                                 "created_at": created, "updated_at": at})
                    history[(paragraph_id, user_id)] = [{
                        "paragraph_id": paragraph_id, "user_id": user_id, "label": old,
                        "note": None, "source": "human", "valid_from": since,
                        "replaced_at": until, "replaced_by_id": user_id}
                        for old, since, until in changes]
        added = connection.execute(add, rows).all() if rows else []
        report.labels += len(added)
        report.labels_kept += len(rows) - len(added)
        kept_history = []
        for paragraph_id, user_id, label, created_at in added:
            labeled_paragraphs.add(paragraph_id)
            counts[(user_id, label, created_at.date())] += 1
            kept_history += history[(paragraph_id, user_id)]
        articles.update(article_pk for article_pk, paragraphs in stored.items()
                        if any(paragraph in labeled_paragraphs for paragraph, _ in paragraphs))
        if kept_history:
            connection.execute(AnnotationHistory.__table__.insert(), kept_history)
    progress("texts labeled", len(voted), len(voted))
    _recount(session, project_id, labeled_paragraphs, articles, counts)


def _recount(session: Session, project_id: int, paragraphs: set[int], articles: set[int],
             counts: Counter[tuple[int, str, Any]]) -> None:
    """The counters the saves keep (see annotations._count), for the labels just added."""
    for chunk in _chunks(sorted(paragraphs)):
        session.execute(update(Paragraph).where(Paragraph.id.in_(chunk)).values(
            annotation_count=select(func.count()).where(
                Annotation.paragraph_id == Paragraph.id).scalar_subquery()))
    for chunk in _chunks(sorted(articles)):
        session.execute(update(Article).where(Article.id.in_(chunk)).values(
            labeled_count=select(func.count()).where(
                Paragraph.article_id == Article.id, Paragraph.annotation_count > 0)
            .scalar_subquery()))
    if counts:
        counted = dialect_insert(session)(LabelCount).values([
            {"project_id": project_id, "user_id": user_id, "label": label, "day": day,
             "count": count} for (user_id, label, day), count in sorted(counts.items())])
        session.execute(counted.on_conflict_do_update(
            index_elements=list(LabelCount.__table__.primary_key.columns),
            set_={"count": LabelCount.__table__.c["count"] + counted.excluded["count"]}))

"""Import articles: read and check every record first (no transaction open), spooling them to
a temporary file, then store all of them in one transaction or none. Memory stays flat in the
file's size: a jsonl file is read a line at a time and written a batch at a time."""
from __future__ import annotations

import hashlib
import json
import logging
import marshal
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path, PurePosixPath
from typing import IO, Any, NamedTuple

import orjson
from flask import current_app, has_request_context
from sqlalchemy import Connection, Index, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..database import DatabaseBusy, dialect_insert, refresh_statistics, write_transaction
from ..models import (DEFAULT_LABELS, Article, Label, Paragraph, Project, default_relations,
                      default_span_labels, utcnow)
from ..progress_report import ProgressCallback, no_progress
from ..suggest.signals import Imported, suggest_imported
from .formats import EXTENSIONS, FORMATS, Problem, Skipped, format_for_name, read_records
from .messages import N_
from .text import plural, site_of, text_key

BATCH = 5000  # rows per INSERT round trip; paragraphs held at once while storing
KEY_CACHE = 10_000  # distinct paragraph texts whose text_key is remembered (furniture repeats)
SCORE_AT_IMPORT = 20_000  # paragraphs: a smaller import writes its cold suggestions at once
REBUILD_KEY_INDEX = 50_000  # paragraphs (SQLite): see _store


@dataclass
class ImportReport:
    """What an import did, or why it stored nothing."""

    added: int = 0
    skipped: int = 0
    paragraphs: int = 0
    suggested: int = 0  # cold suggestions written (new articles and older ones refreshed)
    pending: int = 0  # articles whose cold suggestions are left to write (a large import)
    errors: list[str] = field(default_factory=list)
    path_errors: int = 0  # of `errors`: paths not read (missing, unreadable, no files in them)
    stored: bool = False
    warc_skipped: dict[str, int] = field(default_factory=dict)  # formats.warc.SKIPPED: count

    def summary(self) -> str:
        """The SPEC's summary line, a fixed format for scripts (counts not inflected)."""
        return (f"imported: {self.added} articles added, {self.skipped} skipped "
                f"(already present), {self.paragraphs} paragraphs")

    def warc_summary(self) -> str | None:
        """The WARC records not imported, by why (a line on stderr beside the summary)."""
        if not self.warc_skipped:
            return None
        count = self.warc_skipped.get
        return (f"warc: {sum(self.warc_skipped.values())} records skipped "
                f"({count('not_html', 0)} not HTML, {count('not_200', 0)} not 200, "
                f"{count('duplicate', 0)} duplicates, {count('not_response', 0)} not responses)")

    def failure(self) -> str:
        """Why nothing was stored: how many records were invalid, how many paths unread."""
        invalid = len(self.errors) - self.path_errors
        parts = [plural(invalid, "invalid record")] if invalid else []
        if self.path_errors:
            parts.append(plural(self.path_errors, "path", "paths") + " not read")
        return "; ".join(parts) + "; nothing was imported"


@dataclass
class Source:
    """Bytes to import, or the file holding them, and the name errors give them (a path, or
    `<body>` for an upload)."""

    name: str
    data: bytes | Path  # a file is read as the import goes (a jsonl file: a line at a time)
    fmt: str
    source_file: str | None = None
    """The file name its articles keep (Article.source_file), if not `name`: a path relative
    to the folder given, starting with that folder's name, or the file's name."""


def content_hash(title: str, paragraphs: Sequence[str]) -> str:
    """A stable digest of an article's text: the id of articles imported without one. The
    JSON is json.dumps's compact, non-ASCII form, byte for byte (tested); orjson writes it in
    a third of the time."""
    return hashlib.sha256(orjson.dumps([title, list(paragraphs)])).hexdigest()


def sources_from_paths(paths: Iterable[Path], fmt: str = "auto") -> tuple[list[Source], list[str]]:
    """Read files and walk directories (sorted, hidden files left out), naming unreadable ones."""
    sources: list[Source] = []
    errors: list[str] = []
    for path in map(Path, paths):
        if not path.exists():
            errors.append(f"{path}:1: the path does not exist")
            continue
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if fmt == "auto":  # a folder may hold notes or images beside the articles
                files = [p for p in files if format_for_name(p.name)]
            if not files:
                looked_for = ", ".join(sorted(EXTENSIONS)) if fmt == "auto" else "any file"
                errors.append(f"{path}:1: no files to import in this directory "
                              f"(looked for {looked_for})")
        else:
            files = [path]
        folder = path.resolve() if path.is_dir() else None  # `.` gets its name too
        for file in files:
            file_fmt = fmt if fmt != "auto" else format_for_name(file.name)
            if file_fmt is None:
                errors.append(f"{file}:1: cannot tell the format from the extension "
                              f"{file.suffix or '(none)'!r}; use --format")
                continue
            try:
                source_file = (PurePosixPath(folder.name, *file.relative_to(path).parts)
                               if folder else PurePosixPath(file.name))
                file.open("rb").close()  # readable now; read by the import itself
                sources.append(Source(str(file), file, file_fmt, str(source_file)))
            except OSError as error:
                errors.append(f"{file}:1: cannot read: {error.strerror or error}")
    return sources, errors


def import_sources(session: Session, project_name: str, sources: Sequence[Source], *,
                   encoding: str | None = None, split: str = "line",
                   skip_invalid: bool = False, errors: Sequence[str] = (),
                   score_now: bool | None = None, in_server: bool | None = None,
                   progress: ProgressCallback = no_progress) -> ImportReport:
    """Parse and check every record (spooled to a temporary file, no transaction open), then
    store the new ones in one transaction (or nothing on error), reporting both stages to
    `progress`. Their cold suggestions are written right after (`score_now`; by default
    when the import has fewer than
    SCORE_AT_IMPORT paragraphs), else left pending: the server's background thread, the
    article's first view and `flask suggest` write them (suggest.signals). `in_server`: this
    process is a server whose background scorer takes the pending ones (default: in a
    request; a background import job says so itself)."""
    session.commit()  # end the caller's reads: no transaction stays open while files are parsed
    report = ImportReport(errors=list(errors), path_errors=len(errors))
    keep = float("inf") if score_now else SCORE_AT_IMPORT if score_now is None else 0
    with tempfile.TemporaryFile() as spool:
        adding = _spool(sources, spool, report, encoding, split, skip_invalid, progress)
        if report.errors and not skip_invalid:
            return report
        spool.seek(0)
        with write_transaction(session):
            try:
                project_id, suggest, imported = _store(session, project_name, _unspool(spool),
                                                       adding, keep, report, progress)
                session.commit()
            except BaseException:
                session.rollback()
                raise
    return after_store(session, report, project_id, suggest, imported, in_server)


def after_store(session: Session, report: ImportReport, project_id: int, suggest: bool,
                imported: list[Imported] | None, in_server: bool | None = None) -> ImportReport:
    """What follows a committed import: cold suggestions for what `_store` kept (else left
    pending), fresh planner statistics, and, in a server (`in_server`, by default: in a
    request), the pending articles announced to its background scorer."""
    report.stored = True
    if suggest and imported is not None:
        report.suggested = _suggest(session, project_id, imported)
    elif suggest:
        report.pending = report.added
    refresh_statistics(session.get_bind())  # the project may be many times larger now
    if in_server is None:
        in_server = has_request_context()
    if report.pending and in_server:  # this server's background scorer writes them now
        from ..suggest.training import background, background_wanted
        if background_wanted(current_app):
            background(current_app).pending_added()
    return report


class Spooled(NamedTuple):
    """A checked record as the spool holds it, with its origin (file, jsonl line), its
    paragraphs' text keys and its content hash, all worked out before the write lock."""

    source_file: str
    source_line: int | None
    title: str
    paragraphs: list[str]
    keys: list[str]
    article_id: str | None
    url: str | None
    meta: dict[str, Any]
    features: list[dict[str, Any]] | None
    digest: str


def _spool(sources: Sequence[Source], spool: IO[bytes], report: ImportReport,
           encoding: str | None, split: str, skip_invalid: bool,
           progress: ProgressCallback = no_progress) -> int:
    """Read every source, writing its valid records to `spool` (each its size in 4 bytes, then
    marshal's bytes: marshal.load of a file reads it in small pieces) and its problems to
    the report; once one is refused (without skip_invalid) the rest are only checked.
    Returns the paragraphs spooled."""
    keys: dict[str, str] = {}  # furniture repeats: each distinct text keyed once
    seen: set[bytes] = set()  # the WARC records' URLs taken: a duplicate is skipped
    spooled = records = 0
    for source in sources:
        if source.fmt not in FORMATS:
            report.errors.append(f"{source.name}:1: unknown format {source.fmt!r}")
            continue
        for item in read_records(source.data, source.name, source.fmt,
                                 encoding=encoding, split=split, seen=seen):
            records += 1
            progress("records read", records, None)
            if isinstance(item, Skipped):
                report.warc_skipped[item.why] = report.warc_skipped.get(item.why, 0) + 1
                continue
            if isinstance(item, Problem):
                report.errors.append(item.message())
                continue
            if report.errors and not skip_invalid:
                continue
            if len(keys) > KEY_CACHE:
                keys.clear()
            line = int(item.source.rpartition(":")[2]) if source.fmt == "jsonl" else None
            data = marshal.dumps(tuple(Spooled(
                source.source_file or source.name, line, item.title, item.paragraphs,
                [keys.get(text) or keys.setdefault(text, text_key(text))
                 for text in item.paragraphs],
                item.article_id, item.url, item.meta, item.features,
                content_hash(item.title, item.paragraphs))))
            spool.write(len(data).to_bytes(4, "little") + data)
            spooled += len(item.paragraphs)
    progress("records read", records, records)
    return spooled


def _unspool(spool: IO[bytes]) -> Iterator[list[Spooled]]:
    """The spooled records, in batches of about BATCH paragraphs."""
    batch: list[Spooled] = []
    size = 0
    while size_of := spool.read(4):
        record = Spooled(*marshal.loads(spool.read(int.from_bytes(size_of, "little"))))
        batch.append(record)
        size += len(record.paragraphs)
        if size >= BATCH:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _suggest(session: Session, project_id: int, imported: list[Imported]) -> int:
    """The cold suggestions of a stored import. They are derived data: when the database
    stays busy past the write wait, the import still stands and its articles stay pending
    (scored later, as a large import's are)."""
    try:
        return suggest_imported(session, project_id, imported)
    except DatabaseBusy as error:
        session.rollback()
        logging.getLogger(__name__).warning("import stored, suggestions not written: %s",
                                            error.message)
        return 0


def import_paths(session: Session, project_name: str, paths: Iterable[Path | str], *,
                 fmt: str = "auto", encoding: str | None = None, split: str = "line",
                 skip_invalid: bool = False,
                 progress: ProgressCallback = no_progress) -> ImportReport:
    """`flask import`: read the files, then import them as one."""
    sources, errors = sources_from_paths(map(Path, paths), fmt)
    return import_sources(session, project_name, sources, encoding=encoding, split=split,
                          skip_invalid=skip_invalid, errors=errors, progress=progress)


def project_name_problem(name: str) -> str | None:
    """Why a project name cannot be used, or None: 1-100 characters, not only spaces."""
    if not name.strip() or len(name) > 100:
        return N_("a project name is 1 to 100 characters, not only spaces")
    return None


def get_or_create_project(session: Session, name: str) -> Project:
    """The named project, created with the default label, span label and relation sets if it
    does not exist."""
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        project = Project(name=name, labels=[
            Label(key=key, name=label_name, color=color, hotkey=hotkey,
                  description=description, position=position)
            for position, (key, label_name, color, hotkey, description)
            in enumerate(DEFAULT_LABELS)],
            span_labels=default_span_labels(), relations=default_relations())
        try:
            with session.begin_nested():  # PostgreSQL: another import may create it meanwhile
                session.add(project)
        except IntegrityError:
            project = session.scalars(select(Project).where(Project.name == name)).one()
    return project


def _store(session: Session, project_name: str, batches: Iterable[list[Spooled]],
           adding: int, keep: float, report: ImportReport,
           progress: ProgressCallback = no_progress
           ) -> tuple[int, bool, list[Imported] | None]:
    """Store the new records, a batch at a time (`adding` paragraphs at most); returns the
    project's id, whether it takes suggestions, and the articles stored while fewer than
    `keep` paragraphs were (None past it: too many to score at once)."""
    project = get_or_create_project(session, project_name)
    # an article a concurrent import stored after the reads below is skipped (PostgreSQL;
    # SQLite's imports take turns), so imports of the same file end as one adding, others skipping
    articles = Article.__table__  # Core, like the paragraphs: the ORM's bulk path costs more
    add_new = (dialect_insert(session)(articles)
               .on_conflict_do_nothing(index_elements=["project_id", "article_id"])
               .returning(articles.c.id, articles.c.article_id))
    connection = session.connection()
    # the DB-API's executemany with tuples: SQLAlchemy's per-row handling cost more than
    # SQLite's own work; features as JSON text, SQL NULL for none (not JSON null)
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    add_paragraphs = (f"INSERT INTO paragraph (article_id, "
                      f"{connection.dialect.identifier_preparer.quote('index')}, text, "
                      f"text_key, features) VALUES ({', '.join([mark] * 5)})")
    key_index = _drop_key_index(connection, adding)
    imported: list[Imported] | None = [] if keep > 0 else None
    now = utcnow()
    walked = 0
    for batch in batches:
        progress("paragraphs stored", walked, adding)
        walked += sum(len(record.paragraphs) for record in batch)
        new = _new_records(connection, project.id, batch, report)
        if not new:
            continue
        sites = [site_of(record.meta, record.url) for _, record in new]
        stored = {article_id: pk for pk, article_id in connection.execute(add_new, [{
            "project_id": project.id, "article_id": article_id, "title": record.title,
            "url": record.url, "meta": record.meta, "content_hash": record.digest,
            "site": site, "paragraph_count": len(record.paragraphs), "created_at": now,
            "source_file": record.source_file, "source_line": record.source_line,
        } for (article_id, record), site in zip(new, sites)])}
        report.added += len(stored)
        report.skipped += len(new) - len(stored)
        batch_imported = [
            Imported(stored[article_id], site, record.title, record.paragraphs, record.keys,
                     record.features)
            for (article_id, record), site in zip(new, sites) if article_id in stored]
        rows = [(article.pk, index, text, key,
                 json.dumps(features[index]) if features else None)
                for article in batch_imported
                for index, (text, key, features) in enumerate(zip(
                    article.texts, article.keys, repeat(article.features)))]
        if rows:  # none when a concurrent import stored every one of the batch's articles
            connection.exec_driver_sql(add_paragraphs, rows)
        report.paragraphs += len(rows)
        if imported is not None:
            imported += batch_imported
            if report.paragraphs >= keep:
                imported = None
    progress("paragraphs stored", walked, walked)
    if key_index is not None:
        key_index.create(connection)
    return project.id, project.suggestions_enabled, imported


def _new_records(connection: Connection, project_id: int, batch: list[Spooled],
                 report: ImportReport) -> list[tuple[str, Spooled]]:
    """The batch's records to add, with their article ids: not already in the project (by
    id; by content for a record without one; earlier batches are in it) nor earlier in the
    batch. The others count as skipped."""
    ids = [record.article_id or record.digest[:16] for record in batch]
    seen_ids = set(connection.scalars(select(Article.article_id).where(
        Article.project_id == project_id, Article.article_id.in_(set(ids)))))
    seen_hashes = set(connection.scalars(select(Article.content_hash).where(
        Article.project_id == project_id, Article.content_hash.in_(
            {record.digest for record in batch if record.article_id is None}))))
    new: list[tuple[str, Spooled]] = []
    for article_id, record in zip(ids, batch):
        if article_id in seen_ids or (record.article_id is None and record.digest in seen_hashes):
            report.skipped += 1
            continue
        seen_ids.add(article_id)
        seen_hashes.add(record.digest)
        new.append((article_id, record))
    return new


def _drop_key_index(connection: Connection, adding: int) -> Index | None:
    """SQLite, an import of REBUILD_KEY_INDEX paragraphs or more into a table holding fewer:
    drop the repetition index (paragraph.text_key) to build it again once the rows are in (a
    sort, a fifth of the cost of updating it row by row; measured in bench/README.md). All in
    the import's transaction: readers keep seeing the index. Returns the index to rebuild."""
    if connection.dialect.name != "sqlite" or adding < REBUILD_KEY_INDEX:
        return None
    if (connection.scalar(select(func.max(Paragraph.id))) or 0) > adding:
        return None
    index = next(index for index in Paragraph.__table__.indexes
                 if [column.name for column in index.columns] == ["text_key"])
    index.drop(connection)
    return index

"""Web imports in the background: the upload is kept on disk, a job row recorded and the
request answered at once; a thread of the same server process runs the same atomic import
(importing.import_sources), writing its progress and outcome to the row. Several processes
share one database, so the row is the truth: a job whose process stopped (no heartbeat for
STALE_SECONDS, or its process gone on this host) is marked failed when it is next read
(`settle`)."""
from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path, PosixPath
from typing import Any

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..database import DatabaseBusy, write_transaction
from ..models import ImportJob, Project, isoformat, utcnow
from .importing import ImportReport, Source, import_sources
from .messages import from_json, to_json

HEARTBEAT_SECONDS = 2.0  # how often a running job's row gets its progress and a heartbeat
STALE_SECONDS = 600  # no heartbeat this long: the job's process stopped (or is stuck)
MAX_ERRORS = 1000  # FILE:LINE: reason lines kept on a failed job's row
MAX_WAITING = 4  # jobs queued or running at once (all processes): more is refused
UNFINISHED = ("queued", "running")
HOST = socket.gethostname()
KEEP_DIR = "annotator-imports"  # under the system's temporary folder
log = logging.getLogger(__name__)


class TooManyJobs(Exception):
    """MAX_WAITING imports are queued or running already."""


def owner() -> str:
    """This process, as job rows name it: host:pid."""
    return f"{HOST}:{os.getpid()}"


def start(app: Flask, session: Session, project: Project, user_id: int | None, upload: Path,
          name: str, fmt: str, options: dict[str, Any]) -> ImportJob:
    """Keep the upload (a hard link to the request's temporary file, else a copy), record
    its job and hand it to this process's runner; raises TooManyJobs past MAX_WAITING."""
    unfinished = list(session.scalars(select(ImportJob).where(ImportJob.state.in_(UNFINISHED))))
    waiting = [job for job in unfinished if not is_stale(job)]
    settle(session, unfinished)
    if len(waiting) >= MAX_WAITING:
        raise TooManyJobs(len(waiting))
    folder = Path(tempfile.gettempdir(), KEEP_DIR)
    folder.mkdir(mode=0o700, exist_ok=True)
    kept = Path(tempfile.mkdtemp(dir=folder), "upload")
    try:
        os.link(upload, kept)
    except OSError:
        shutil.copyfile(upload, kept)
    job = ImportJob(project_id=project.id, user_id=user_id, file_name=name[:255], format=fmt,
                    options=options, path=str(kept), owner=owner(),
                    bytes_total=kept.stat().st_size)
    with write_transaction(session):
        session.add(job)
        session.commit()
    runner(app).submit(job.id)
    return job


def is_stale(job: ImportJob) -> bool:
    """Whether an unfinished job's process stopped: no heartbeat for STALE_SECONDS, or its
    owner on this host is no running process."""
    if job.state not in UNFINISHED:
        return False
    host, _, pid = job.owner.rpartition(":")
    if host == HOST and pid.isdigit() and not _alive(int(pid)):
        return True
    return job.heartbeat_at <= utcnow() - timedelta(seconds=STALE_SECONDS)


def settle(session: Session, jobs: list[ImportJob]) -> None:
    """Mark the stale ones of `jobs` failed (committed, in a write transaction)."""
    stale = [job.id for job in jobs if is_stale(job)]
    if not stale:
        return
    with write_transaction(session):
        for job in session.scalars(select(ImportJob).where(ImportJob.id.in_(stale))):
            if is_stale(job):  # still, as read in the write transaction
                job.state, job.finished_at = "failed", utcnow()
                job.error = (f"the server process running this import stopped (last seen "
                             f"{isoformat(job.heartbeat_at)}); nothing of it was stored: "
                             "upload the file again (articles present are skipped)")
                _remove(job)
        session.commit()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(job: ImportJob) -> None:
    """Delete the job's kept upload, if this host has it."""
    if job.path:
        shutil.rmtree(Path(job.path).parent, ignore_errors=True)
        job.path = None


def job_json(job: ImportJob) -> dict[str, Any]:
    """A job as the API answers it."""
    return {"id": job.id, "project_id": job.project_id, "file_name": job.file_name,
            "format": job.format, "state": job.state, "stage": job.stage,
            "records_read": job.records_read, "bytes_read": job.bytes_read,
            "bytes_total": job.bytes_total, "added": job.added, "skipped": job.skipped,
            "paragraphs": job.paragraphs, "warc_skipped": job.warc_skipped or {},
            "error": job.error, "errors": [str(from_json(line)) for line in job.errors or []],
            "error_count": job.error_count,
            "created_at": isoformat(job.created_at), "started_at": isoformat(job.started_at),
            "heartbeat_at": isoformat(job.heartbeat_at),
            "finished_at": isoformat(job.finished_at)}


def fresh(session: Session, job: ImportJob) -> ImportJob:
    """The job as its row stands, a stale one marked failed (committed)."""
    settle(session, [job])
    return job


def recent(session: Session, project_id: int | None = None, limit: int = 20) -> list[ImportJob]:
    """The latest jobs (of one project), newest first, stale ones marked failed."""
    query = select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)
    if project_id is not None:
        query = query.where(ImportJob.project_id == project_id)
    jobs = list(session.scalars(query))
    settle(session, jobs)
    return jobs


class _Watched(PosixPath):
    """The kept upload's path: remembers the file the import opens from it, whose position
    is the bytes read so far."""

    opened = None

    def open(self, *args, **kwargs):  # read_bytes opens through it too
        self.opened = super().open(*args, **kwargs)
        return self.opened

    def position(self) -> int | None:
        try:
            return self.opened.tell() if self.opened is not None else None
        except (ValueError, OSError):  # closed
            return None


class Runner:
    """This process's import thread: runs its jobs one at a time (imports into SQLite take
    turns anyway) and ends when none is left; a second thread writes progress and
    heartbeats to their rows."""

    def __init__(self, app: Flask):
        self.app = app
        self.jobs: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.progress: dict[str, Any] = {}  # the running job's: stage, records, bytes
        self.path: _Watched | None = None
        self.pid = os.getpid()

    def submit(self, job_id: int) -> None:
        with self.lock:
            self.jobs.put(job_id)
            if self.thread is None:
                self.thread = threading.Thread(target=self._work, name="annotator-import",
                                               daemon=True)
                self.thread.start()

    def wait(self, timeout: float = 60) -> None:
        """Until no job is left (tests)."""
        thread = self.thread
        if thread is not None:
            thread.join(timeout)

    def _work(self) -> None:
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(stop,), name="annotator-import-beat",
                                daemon=True)
        beat.start()
        try:
            while True:
                with self.lock:
                    if self.jobs.empty():
                        self.thread = None
                        return
                    job_id = self.jobs.get()
                with self.app.app_context():
                    self._run(job_id)
        finally:
            stop.set()
            beat.join()

    def _run(self, job_id: int) -> None:
        from ..extensions import db

        session = db.session
        job = session.get(ImportJob, job_id)
        if job is None or job.state != "queued" or not job.path:
            return
        self.path = path = _Watched(job.path)
        self.progress = {"stage": "", "records_read": 0}
        with write_transaction(session):
            job.state, job.started_at, job.heartbeat_at = "running", utcnow(), utcnow()
            session.commit()
        options, project, name = job.options, job.project_id, job.file_name
        fmt = job.format
        try:
            project_name = session.get(Project, project).name
            report = import_sources(session, project_name, [Source(name, path, fmt)],
                                    encoding=options.get("encoding") or None,
                                    split=options.get("split") or "line",
                                    skip_invalid=bool(options.get("skip_invalid")),
                                    in_server=True, progress=self._progress)
            error = None if report.stored else report.failure()
        except DatabaseBusy as busy:
            session.rollback()
            report, error = ImportReport(), busy.message
        except Exception as failure:  # the job must end, whatever the import raised
            session.rollback()
            log.exception("import job %s failed", job_id)
            report, error = ImportReport(), f"the import stopped on an error: {failure!r}"
        self.path = None
        self._finish(session, job_id, report, error)

    def _progress(self, stage: str, done: int, total: int | None) -> None:
        self.progress = {"stage": stage, "records_read": done if stage == "records read"
                         else self.progress.get("records_read", 0),
                         "done": done, "total": total}

    def _finish(self, session: Session, job_id: int, report: ImportReport,
                error: str | None) -> None:
        job = session.get(ImportJob, job_id)
        for attempt in range(30):  # the outcome must reach the row: retry a busy database
            try:
                with write_transaction(session):
                    session.refresh(job)
                    job.state = "done" if report.stored else "failed"
                    job.stage, job.error, job.finished_at = "", error, utcnow()
                    job.heartbeat_at = job.finished_at
                    job.added, job.skipped = report.added, report.skipped
                    job.paragraphs, job.warc_skipped = report.paragraphs, report.warc_skipped
                    job.records_read = self.progress.get("records_read", job.records_read)
                    job.bytes_read = job.bytes_total
                    job.errors = [to_json(line) for line in report.errors[:MAX_ERRORS]]
                    job.error_count = len(report.errors)
                    _remove(job)
                    session.commit()
                return
            except DatabaseBusy:
                session.rollback()
                time.sleep(1)
        log.error("import job %s: its outcome could not be written", job_id)

    def _beat(self, stop: threading.Event) -> None:
        """Every HEARTBEAT_SECONDS: this process's unfinished jobs are alive, the running one
        has read this far. A busy database skips a beat (SQLite while the import stores)."""
        from ..extensions import db

        with self.app.app_context():
            while not stop.wait(HEARTBEAT_SECONDS):
                progress, path = self.progress, self.path
                try:
                    with write_transaction(db.session):
                        now = utcnow()
                        db.session.execute(update(ImportJob).where(
                            ImportJob.owner == owner(), ImportJob.state.in_(UNFINISHED))
                            .values(heartbeat_at=now))
                        if path is not None:
                            values = {"stage": progress.get("stage", "")[:64],
                                      "records_read": progress.get("records_read", 0)}
                            if (position := path.position()) is not None:
                                values["bytes_read"] = position
                            db.session.execute(update(ImportJob).where(
                                ImportJob.path == str(path), ImportJob.state == "running")
                                .values(**values))
                        db.session.commit()
                except Exception as failure:  # noqa: BLE001 (a missed beat; the next one tries again)
                    db.session.rollback()
                    log.debug("import heartbeat skipped: %r", failure)


_runners: dict[int, Runner] = {}
_runners_lock = threading.Lock()


def runner(app: Flask) -> Runner:
    """This process's runner for `app` (after a fork, a new one: threads do not survive it)."""
    key = id(app)
    with _runners_lock:
        found = _runners.get(key)
        if found is None or found.pid != os.getpid():
            found = _runners[key] = Runner(app)
        return found

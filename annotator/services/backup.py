"""Consistent copies of a live SQLite database (the online backup API), and restoring one."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import Engine


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


def sqlite_path(engine: Engine) -> Path:
    """The database file behind a SQLite engine, or a BackupError naming what to use instead."""
    if engine.dialect.name != "sqlite":
        url = engine.url.render_as_string(hide_password=True)
        raise BackupError(
            f"the database is {engine.dialect.name} ({url}): back it up with the server's own "
            "tools, e.g. `pg_dump --format=custom --file=annotator.dump DBNAME` and restore with "
            "`pg_restore --clean --dbname=DBNAME annotator.dump`")
    if not engine.url.database or engine.url.database == ":memory:":
        raise BackupError("the database is in memory: there is nothing to back up")
    return Path(engine.url.database)


def backup(engine: Engine, target: Path) -> int:
    """Copy the live database to `target` while others keep writing; returns its size in bytes.

    All pages are copied in one step of SQLite's backup API, inside one read transaction: a
    copy made a few pages at a time starts over whenever another connection writes, and never
    finishes while people label. The copy is written beside the target as TARGET.partial and
    renamed only once complete; on any failure the partial file is removed."""
    source_path = sqlite_path(engine)
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a directory: create it first, or choose "
                          "another place for the backup")
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "xb"):  # claims the name: two backups never write one file
            pass
    except FileExistsError:
        raise BackupError(f"{partial} exists: another backup is running, or one was "
                          "interrupted (then remove that file)") from None
    except OSError as error:
        raise BackupError(f"cannot write {partial}: {error.strerror}") from None
    try:
        source = sqlite3.connect(source_path, timeout=30)
        try:
            destination = sqlite3.connect(partial)
            try:
                source.backup(destination, pages=-1)
                destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                destination.close()
        finally:
            source.close()
        partial.replace(target)
    except BaseException as error:
        _remove(partial, partial.with_name(partial.name + "-journal"))
        if isinstance(error, (sqlite3.Error, OSError)):
            raise BackupError(f"backup to {target} failed ({error}); nothing was written") from None
        raise
    return target.stat().st_size


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def restore(engine: Engine, backup_file: Path) -> None:
    """Replace the live database's content with a backup's, checking the backup first.

    A healthy live database is overwritten in place (other processes see the new content); a
    damaged one, which SQLite cannot write into, is replaced as a file."""
    target_path = sqlite_path(engine)
    if not backup_file.is_file():
        raise BackupError(f"{backup_file}: no such file")
    source = None
    try:
        try:
            source = _open_read_only(backup_file)
            check = source.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{backup_file}: not a SQLite database ({error})") from None
        if check != "ok":
            raise BackupError(f"{backup_file}: damaged ({check})")
        if not {"alembic_version", "article", "paragraph"} <= tables:
            raise BackupError(f"{backup_file}: not an annotator database")
        engine.dispose()
        try:
            if unusable_reason(target_path) is None:
                destination = sqlite3.connect(target_path, timeout=30)
                try:
                    source.backup(destination)
                finally:
                    destination.close()
            else:
                _replace_file(source, target_path)
        except (sqlite3.Error, OSError) as error:
            raise BackupError(f"restoring into {target_path} failed ({error})") from None
    finally:
        if source is not None:
            source.close()


def unusable_reason(path: Path) -> str | None:
    """Why SQLite cannot use the database file at `path` (e.g. "file is not a database"), or
    None when it can, or when there is no file yet (the first start creates it)."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        connection = _open_read_only(path)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        if error.sqlite_errorname in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            return str(error)
        raise
    return None


def _open_read_only(path: Path) -> sqlite3.Connection:
    # as_uri() percent-encodes `?`, `#` and `%`: in a raw "file:" URI they would cut the file
    # name short, and SQLite would create an empty file under the shorter name
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def _replace_file(source: sqlite3.Connection, target_path: Path) -> None:
    """Write the backup beside the damaged database, then rename it over the damaged file."""
    fresh = target_path.with_name(target_path.name + ".restoring")
    _remove(fresh)
    try:
        destination = sqlite3.connect(fresh)
        try:
            source.backup(destination)
            destination.execute("PRAGMA journal_mode=DELETE")
        finally:
            destination.close()
        # the damaged database's log would be replayed onto the restored file: drop it first
        _remove(target_path.with_name(target_path.name + "-wal"),
                target_path.with_name(target_path.name + "-shm"))
        fresh.replace(target_path)
    except BaseException:
        _remove(fresh, fresh.with_name(fresh.name + "-journal"))
        raise

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
    """Copy the live database to `target` page by page while others keep writing; returns bytes."""
    source_path = sqlite_path(engine)
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file name")
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(source_path)
    destination = sqlite3.connect(partial)
    try:
        source.backup(destination, pages=1024)
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        destination.close()
        source.close()
    partial.replace(target)
    return target.stat().st_size


def restore(engine: Engine, backup_file: Path) -> None:
    """Replace the live database's content with a backup's, checking the backup first."""
    target_path = sqlite_path(engine)
    if not backup_file.is_file():
        raise BackupError(f"{backup_file}: no such file")
    try:
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        check = source.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{backup_file}: not a SQLite database ({error})") from None
    if check != "ok":
        source.close()
        raise BackupError(f"{backup_file}: damaged ({check})")
    if not {"alembic_version", "article", "paragraph"} <= tables:
        source.close()
        raise BackupError(f"{backup_file}: not an annotator database")
    engine.dispose()
    destination = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()

"""Which database a test runs on: a fresh SQLite file, or PostgreSQL when
ANNOTATOR_TEST_DATABASE_URL names a server (emptied before every test).

Under pytest-xdist each worker (gw0, gw1, ...) has a database of its own on that server,
`<name>_gw0`, ...: create_worker_database makes it when missing."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "" outside pytest-xdist
BASE_DATABASE_URL = os.environ.get("ANNOTATOR_TEST_DATABASE_URL", "")
ON_POSTGRES = BASE_DATABASE_URL.startswith("postgresql")


def _worker_url(url: str) -> str:
    if not (ON_POSTGRES and WORKER):
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{WORKER}").render_as_string(hide_password=False)


TEST_DATABASE_URL = _worker_url(BASE_DATABASE_URL)
SQLITE_SUFFIXES = ("", "-wal", "-shm")


def database_url(tmp_path: Path, name: str = "test.db") -> str:
    """A URL for an empty database: the PostgreSQL test server, reset, or a new SQLite file."""
    if ON_POSTGRES:
        reset_postgres(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path / name}"


def migrated_database_url(tmp_path: Path, template: Path | None) -> str:
    """Like database_url, but on SQLite a copy of `template`, a database already migrated to
    the newest schema (copying it is a few ms; migrating a new file is some 300 ms)."""
    if ON_POSTGRES or template is None:
        return database_url(tmp_path)
    target = tmp_path / "test.db"
    for suffix in SQLITE_SUFFIXES:
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, target.with_name(target.name + suffix))
    return f"sqlite:///{target}"


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema, so the next app migrates from scratch."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def create_worker_database() -> None:
    """Create this xdist worker's PostgreSQL database (TEST_DATABASE_URL) if it is missing,
    connected to the one named by ANNOTATOR_TEST_DATABASE_URL; one worker at a time."""
    if TEST_DATABASE_URL == BASE_DATABASE_URL:
        return
    name = make_url(TEST_DATABASE_URL).database
    engine = create_engine(BASE_DATABASE_URL, poolclass=NullPool,
                           isolation_level="AUTOCOMMIT")  # CREATE DATABASE: no transaction
    try:
        with engine.connect() as connection:
            # Concurrent CREATE DATABASEs copying template1 can refuse each other: serialise.
            connection.exec_driver_sql("SELECT pg_advisory_lock(7243311)")
            try:
                exists = connection.exec_driver_sql(
                    "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}).first()
                if exists is None:
                    quoted = connection.dialect.identifier_preparer.quote_identifier(name)
                    connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
            finally:
                connection.exec_driver_sql("SELECT pg_advisory_unlock(7243311)")
    finally:
        engine.dispose()

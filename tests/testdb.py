"""Which database a test runs on: a fresh SQLite file, or PostgreSQL when
ANNOTATOR_TEST_DATABASE_URL names a server (emptied before every test)."""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

TEST_DATABASE_URL = os.environ.get("ANNOTATOR_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


def database_url(tmp_path: Path, name: str = "test.db") -> str:
    """A URL for an empty database: the PostgreSQL test server, reset, or a new SQLite file."""
    if ON_POSTGRES:
        reset_postgres(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path / name}"


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema, so the next app migrates from scratch."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()

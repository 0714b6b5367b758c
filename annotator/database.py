"""Engine settings per backend, and migrations applied automatically on first use."""
from __future__ import annotations

import fcntl
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, current_app, request
from flask_migrate import upgrade
from sqlalchemy import Date, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from .extensions import db

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
WRITE_INTENT: ContextVar[bool] = ContextVar("write_intent", default=False)


def sqlite_engine_options(app: Flask) -> None:
    """Give SQLite connections the busy timeout before the engine is built."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})  # never the shared default
        timeout_s = int(app.config["SQLITE_BUSY_TIMEOUT_MS"]) / 1000
        options["connect_args"] = {"timeout": timeout_s, **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def configure_sqlite(app: Flask) -> None:
    """Turn on WAL, foreign keys and a busy timeout on every SQLite connection, and begin
    write transactions IMMEDIATE so concurrent writers queue instead of failing."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    timeout = int(app.config["SQLITE_BUSY_TIMEOUT_MS"])

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun by _begin below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={timeout}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        # A deferred transaction that reads and then writes fails at once with "database is
        # locked" when another writer committed in between; IMMEDIATE waits its turn.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if WRITE_INTENT.get() else "BEGIN")

    @app.before_request
    def _writes_begin_immediate() -> None:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not getattr(
                app.view_functions.get(request.endpoint), "reads_first", False):
            WRITE_INTENT.set(True)

    @app.teardown_request
    def _reset_write_intent(_error=None) -> None:
        WRITE_INTENT.set(False)


def reads_first(view):
    """Mark a view that does its reads (and its caller's authentication) first and then its
    writes inside `write_transaction`: its request does not take SQLite's write lock from the
    first query, so writers hold the lock only while they write."""
    view.reads_first = True
    return view


@contextmanager
def write_transaction(session: Session) -> Iterator[None]:
    """Run a read-then-write as one transaction that holds the write lock from its start
    (SQLite: BEGIN IMMEDIATE); the caller commits inside."""
    session.commit()
    token = WRITE_INTENT.set(True)
    try:
        yield
    finally:
        WRITE_INTENT.reset(token)


def dialect_insert(session: Session):
    """The backend's INSERT construct, which offers ON CONFLICT (SQLite and PostgreSQL alike)."""
    return {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[session.get_bind().dialect.name]


class day_of(FunctionElement):
    """The UTC calendar day of a stored (naive UTC) timestamp, in SQL.

    `CAST(x AS DATE)` is right on PostgreSQL, but SQLite casts to NUMERIC affinity and turns
    '2026-11-28 10:00:00' into 2026, so SQLite gets its `date(x)` function instead."""

    type = Date()
    inherit_cache = True
    name = "day_of"


@compiles(day_of)
def _day_of_default(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(day_of, "sqlite")
def _day_of_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)})"


def database_is_current() -> bool:
    """True when the database is at the newest migration."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def upgrade_database() -> None:
    """Create or migrate the database to the newest schema; one process at a time."""
    if database_is_current():
        return
    lock_path = Path(current_app.instance_path) / "migrate.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not database_is_current():
            upgrade(directory=str(MIGRATIONS_DIR))

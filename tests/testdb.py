"""Which database a test runs on: a fresh SQLite file, or PostgreSQL when
ANNOTATOR_TEST_DATABASE_URL names a server (emptied before every test).

Under pytest-xdist each worker (gw0, gw1, ...) has a database of its own on that server,
`<name>_gw0`, ...: create_worker_database makes it when missing."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import DBAPIError
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
    """A URL for an empty database already at the newest schema: on SQLite a copy of
    `template`, a file migrated once (a few ms; migrating a new file is some 300 ms); on
    PostgreSQL the test database, emptied by empty_postgres."""
    if ON_POSTGRES:
        empty_postgres(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    if template is None:
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


_MIGRATED: dict[str, str] = {}  # url -> the fingerprint of its schema as migrated to the head

_FINGERPRINT = """
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
  SELECT 'c ' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(string_agg(
           a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text
           || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ',' ORDER BY a.attnum), '')
  FROM pg_class c
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  WHERE c.relnamespace = 'public'::regnamespace GROUP BY c.relname, c.relkind
  UNION ALL SELECT 'k ' || conrelid::regclass::text || ' ' || conname || ' '
                   || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 'i ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT 't ' || tgrelid::regclass::text || ' ' || tgname
  FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'f ' || oid::regprocedure::text FROM pg_proc
  WHERE pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'y ' || typname || ' ' || coalesce((SELECT string_agg(enumlabel, ','
                   ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = pg_type.oid), '')
  FROM pg_type WHERE typnamespace = 'public'::regnamespace
  UNION ALL SELECT 'v ' || version_num FROM alembic_version
) items(item)
"""


def _schema_fingerprint(connection) -> str | None:
    """A digest of the public schema (tables, columns, constraints, indexes, triggers,
    functions, types) and its Alembic version; None before any migration."""
    if connection.exec_driver_sql("SELECT to_regclass('public.alembic_version')").scalar() is None:
        return None
    return connection.exec_driver_sql(_FINGERPRINT).scalar()


def _delete_all_rows(connection) -> None:
    """Every table's rows but alembic_version's deleted, and the sequences restarted.
    DELETE with the foreign keys' triggers off (a superuser's session_replication_role) is
    some 10x faster than TRUNCATE on small tables; without the right, TRUNCATE."""
    tables = connection.exec_driver_sql(
        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'alembic_version'").scalars().all()
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    except DBAPIError:
        connection.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        return
    for table in tables:
        connection.exec_driver_sql(f"DELETE FROM {table}")
    connection.exec_driver_sql(
        "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass,"
        " start_value, false) FROM pg_sequences WHERE schemaname = 'public'")


def empty_postgres(url: str) -> None:
    """Empty a PostgreSQL test database, leaving it at the newest schema: when its schema is
    still the one migrated last here (no test changed it), its rows are deleted (some
    10 ms); otherwise it is reset and migrated again (some 400 ms), as the app would."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            if _MIGRATED.get(url) is not None and _schema_fingerprint(connection) == _MIGRATED[url]:
                _delete_all_rows(connection)
                return
        reset_postgres(url)
        from annotator import create_app  # migrates the empty database to the head
        from annotator.extensions import db
        app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            with db.engine.connect() as connection:
                _MIGRATED[url] = _schema_fingerprint(connection)
            db.engine.dispose()
    finally:
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

"""Copy every row of one annotator database into another (SQLite to PostgreSQL, say)."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine

from ..extensions import db

BATCH = 5000


class CopyError(Exception):
    """A copy that cannot start; nothing was written."""


def copy_database(source: Engine, target: Engine,
                  progress: Callable[[str, int], None] = lambda table, rows: None) -> dict[str, int]:
    """Copy all tables, parents first, keeping ids, in one target transaction; the target must
    be migrated and empty. Returns rows copied per table."""
    tables = [table for table in db.metadata.sorted_tables]
    with target.connect() as check:
        for table in tables:
            if check.scalar(select(func.count()).select_from(table)):
                raise CopyError(f"the target database is not empty (table {table.name!r} has rows)")
    copied: dict[str, int] = {}
    with source.connect() as reader, target.begin() as writer:
        for table in tables:
            rows = 0
            result = reader.execution_options(stream_results=True, yield_per=BATCH).execute(
                select(table).order_by(*table.primary_key.columns))
            for batch in result.mappings().partitions(BATCH):
                writer.execute(insert(table), [dict(row) for row in batch])
                rows += len(batch)
            copied[table.name] = rows
            progress(table.name, rows)
        if target.dialect.name == "postgresql":
            _reset_sequences(writer, tables)
    return copied


def _reset_sequences(connection, tables) -> None:
    """Ids were copied as they were: move each serial sequence past the largest id."""
    for table in tables:
        columns = list(table.primary_key.columns)
        if len(columns) == 1 and columns[0].type.python_type is int:
            name = columns[0].name  # setval(NULL, ...) is a no-op for keys without a sequence
            connection.execute(text(
                f'SELECT setval(pg_get_serial_sequence(:table, :column), '
                f'COALESCE((SELECT MAX("{name}") FROM "{table.name}"), 0) + 1, false)'),
                {"table": f'"{table.name}"', "column": name})

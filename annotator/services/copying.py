"""Copy every row of one annotator database into another (SQLite to PostgreSQL, say)."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine

from ..extensions import db
from ..progress_report import ProgressCallback, no_progress
from .text import plural

BATCH = 5000


class CopyError(Exception):
    """A copy that cannot start or finish; nothing was written."""


def copy_database(source: Engine, target: Engine,
                  progress: Callable[[str, int], None] = lambda table, rows: None, *,
                  strip_nul: bool = False,
                  warn: Callable[[str], None] = lambda message: None,
                  rows_copied: ProgressCallback = no_progress) -> dict[str, int]:
    """Copy all tables, parents first, keeping ids, in one target transaction; the target must
    be migrated and empty. Returns rows copied per table; `progress` hears of each table once
    copied, `rows_copied` of every batch of rows (of all the tables' rows).

    PostgreSQL cannot store a NUL character, which SQLite can: text holding one stops the copy
    with every such value named (nothing written), or, with `strip_nul`, is copied without its
    NULs, each one reported through `warn`."""
    tables = [table for table in db.metadata.sorted_tables]
    with target.connect() as check:
        for table in tables:
            if check.scalar(select(func.count()).select_from(table)):
                raise CopyError(f"the target database is not empty (table {table.name!r} has rows)")
    copied: dict[str, int] = {}
    nul_values: list[str] = []
    with source.connect() as reader, target.begin() as writer:
        total = sum(reader.scalar(select(func.count()).select_from(table)) for table in tables)
        done = 0
        rows_copied("rows copied", 0, total)
        for table in tables:
            rows = 0
            result = reader.execution_options(stream_results=True, yield_per=BATCH).execute(
                select(table).order_by(*table.primary_key.columns))
            for batch in result.mappings().partitions(BATCH):
                values = [dict(row) for row in batch]
                if target.dialect.name == "postgresql":
                    nul_values += _without_nul(table, values)
                writer.execute(insert(table), values)
                rows += len(batch)
                done += len(batch)
                rows_copied("rows copied", done, total)
            copied[table.name] = rows
            progress(table.name, rows)
        if nul_values and not strip_nul:
            shown = "\n".join(nul_values[:20]) + (
                f"\n... and {len(nul_values) - 20} more" if len(nul_values) > 20 else "")
            raise CopyError(  # leaving the block rolls the whole copy back
                f"{plural(len(nul_values), 'text value')} "
                f"{'holds' if len(nul_values) == 1 else 'hold'} a NUL character, which PostgreSQL cannot "
                f"store; nothing was copied:\n{shown}\n"
                "run again with --strip-nul to copy them without their NUL characters")
        for where in nul_values:
            warn(f"removed NUL characters: {where}")
        if target.dialect.name == "postgresql":
            _reset_sequences(writer, tables)
    return copied


def _without_nul(table, rows: list[dict]) -> list[str]:
    """Remove NUL characters from the rows' text in place; returns where each one was, as
    `table row ID: column`. (JSON columns escape it as \\u0000, which PostgreSQL's json keeps.)"""
    found = []
    for row in rows:
        for column, value in row.items():
            if isinstance(value, str) and "\x00" in value:
                row[column] = value.replace("\x00", "")
                key = ", ".join(str(row[c.name]) for c in table.primary_key.columns)
                found.append(f"{table.name} row {key}: {column}")
    return found


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

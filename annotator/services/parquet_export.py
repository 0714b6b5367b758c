"""Parquet export: the JSONL export's records under a declared pyarrow schema (the dataset
card's features), written in bounded row groups, so memory stays flat whatever the project's
size. pyarrow is an optional dependency: `pip install 'annotator[parquet]'`."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import IO

import orjson

from .exporting import ExportError, ExportOptions, _dump

ROWS_PER_GROUP = 10_000
BYTES_PER_GROUP = 32 << 20  # of JSON held before a row group is written (long article lines)
COMPRESSION = "zstd"  # read by pyarrow, pandas, DuckDB, Spark and `datasets`
INSTALL = "pip install 'annotator[parquet]'"
TIMESTAMP = "timestamp[us, tz=UTC]"
_LONG_NUMBER = re.compile(rb"\d{19}")  # maybe an integer beyond 64 bits, which orjson rounds


def pyarrow():
    """The pyarrow module, or an ExportError saying how to install it."""
    try:
        import pyarrow
        import pyarrow.parquet  # the writer
    except ImportError:
        raise ExportError(f"Parquet export needs pyarrow: {INSTALL}") from None
    return pyarrow


def schema(options: ExportOptions, *, timestamps: bool = True):
    """The pyarrow schema of the export's lines: the card's features (`line_features`), `meta`
    a JSON string. With timestamps False, `updated_at` is a string (what is built, then cast)."""
    from .dataset import line_features  # not at the top: dataset imports this module

    pa = pyarrow()

    def arrow(dtype):
        if isinstance(dtype, str):
            if dtype == TIMESTAMP:
                return pa.timestamp("us", tz="UTC") if timestamps else pa.string()
            return pa.string() if dtype == "json" else pa.type_for_alias(dtype)
        kind, fields = dtype
        struct = pa.struct([pa.field(name, arrow(inner)) for name, inner in fields])
        return pa.list_(struct) if kind == "list" else struct
    return pa.schema([pa.field(name, arrow(dtype)) for name, dtype in line_features(options)])


class ParquetSink:
    """A Parquet file being written from JSONL lines (bytes), a row group at a time."""

    def __init__(self, where: str | IO[bytes], options: ExportOptions) -> None:
        pa = pyarrow()
        self._pa, self._built, self._schema = pa, schema(options, timestamps=False), \
            schema(options)
        self._writer = pa.parquet.ParquetWriter(where, self._schema, compression=COMPRESSION)
        self._rows: list[dict] = []
        self._bytes = 0

    def write(self, line: bytes) -> None:
        row = _parse(line)
        row["meta"] = _dump(row["meta"])[:-1].decode()  # as in the JSONL line
        self._rows.append(row)
        self._bytes += len(line)
        if len(self._rows) >= ROWS_PER_GROUP or self._bytes >= BYTES_PER_GROUP:
            self._flush()

    def close(self) -> None:
        """Write what is held and the file's footer (an empty file still has the schema)."""
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if self._rows:
            table = self._pa.Table.from_pylist(self._rows, schema=self._built)
            self._writer.write_table(table.cast(self._schema), row_group_size=len(self._rows))
            self._rows, self._bytes = [], 0


def _parse(line: bytes) -> dict:
    """A JSONL line as Python objects, exactly: the json module for what orjson would round
    (integers beyond 64 bits) or refuse (a lone surrogate's escape, kept in `meta`)."""
    if _LONG_NUMBER.search(line) is None:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
    return json.loads(line)


def write_parquet(where: str | IO[bytes], lines: Iterable[bytes],
                  options: ExportOptions) -> int:
    """Write the export's lines as one Parquet file; returns the rows written."""
    sink, rows = ParquetSink(where, options), 0
    try:
        for line in lines:
            sink.write(line)
            rows += 1
    finally:
        sink.close()
    return rows

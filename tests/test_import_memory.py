"""The import's memory stays flat in the file's size (importing.py: records are read a line at
a time and spooled, then stored a batch at a time), and it stays all or nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from annotator.models import Article, Paragraph

from servers import ROOT
from testdb import database_url

MB = 1024
# `flask import` in a child process that reports its own peak RSS (KB on Linux) on stderr
_MEASURED = ("import resource, sys\nfrom flask.cli import main\ntry:\n    main()\nfinally:\n"
             "    print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
             "file=sys.stderr)")


def _import(tmp_path: Path, workload: Path, name: str
            ) -> tuple[subprocess.CompletedProcess, int, str]:
    """Run the import; what it printed, its peak RSS and its database's URL."""
    url = database_url(tmp_path, f"{name}.db")
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": url, "ANNOTATOR_SECRET_KEY": "memory-test"}
    done = subprocess.run([sys.executable, "-c", _MEASURED, "--app", "annotator", "import",
                           str(workload), "--project", name], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    peak = int(done.stderr.rpartition("maxrss ")[2].split()[0])
    return done, peak, url


def _workload(tmp_path: Path, articles: int) -> Path:
    path = tmp_path / f"w{articles}.jsonl"
    subprocess.run([sys.executable, "bench/workload.py", str(articles), str(path), "25"],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    return path


def _counts(url: str) -> tuple[int, int]:
    """Articles and paragraphs stored."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        counts = tuple(connection.scalar(select(func.count()).select_from(table))
                       for table in (Article, Paragraph))
    engine.dispose()
    return counts


def test_peak_memory_of_an_import_does_not_grow_with_the_file(tmp_path):
    small, large = _workload(tmp_path, 1000), _workload(tmp_path, 4000)  # 25k, 100k paragraphs
    done_small, peak_small, _ = _import(tmp_path, small, "small")
    assert done_small.returncode == 0 and "25000 paragraphs" in done_small.stdout, done_small.stderr
    done_large, peak_large, url = _import(tmp_path, large, "large")
    assert done_large.returncode == 0, done_large.stderr
    assert "4000 articles added, 0 skipped (already present), 100000 paragraphs" in done_large.stdout
    # 4 times the file (23 MB of jsonl): holding every record, as the import did before its
    # spool, grew by 81 MB (104 -> 185 MB); flat, 92 -> 95 MB (allocator, SQLite's cache)
    assert peak_large - peak_small < 10 * MB, (peak_small, peak_large)
    assert _counts(url) == (4000, 100_000)


def test_a_bad_line_at_the_end_of_a_large_file_stores_nothing(tmp_path):
    """The spool keeps the import atomic: every line is checked before anything is written,
    the last one too, and the error names its line."""
    workload = _workload(tmp_path, 1000)
    with workload.open("ab") as out:
        out.write(b'{"title": "broken", "paragraphs": [1]}\n')
    done, _, url = _import(tmp_path, workload, "broken")
    assert done.returncode != 0
    assert f"{workload}:1001: \"paragraphs\" must be a list of strings" in done.stderr
    assert _counts(url) == (0, 0)

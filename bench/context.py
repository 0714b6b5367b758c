"""A run's sizes, work directory, databases and the shared gunicorn, built when first needed."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import fixtures
from common import Row
from server import Server


@dataclass(frozen=True)
class Sizes:
    imports: tuple[int, ...]  # paragraphs per import run
    main: int  # paragraphs of the database the server benchmarks use
    big: int  # paragraphs of the long article
    agreement: int  # doubly-labeled paragraphs
    load_seconds: float  # per concurrent-save run
    baseline_seconds: float  # per raw save loop
    sequential: int  # requests per latency measurement ...
    sequential_seconds: float  # ... or fewer, once this long has passed (at least MIN_SAMPLES)


FULL = Sizes(imports=(50_000, 500_000), main=500_000, big=2000, agreement=100_000,
             load_seconds=15, baseline_seconds=5, sequential=250,
             sequential_seconds=30)
QUICK = Sizes(imports=(5_000,), main=5_000, big=2000, agreement=5_000,
              load_seconds=3, baseline_seconds=2, sequential=50,
              sequential_seconds=10)


@dataclass
class Context:
    workdir: Path
    sizes: Sizes
    use_wrk: bool = True
    workers: int | None = None
    _main: fixtures.MainDB | None = None
    _server: Server | None = None

    def main(self) -> fixtures.MainDB:
        if self._main is None:
            self._main = fixtures.main_db(self.workdir, self.sizes.main, self.sizes.big)
        return self._main

    def server(self) -> Server:
        """One gunicorn on the main database for the HTTP benchmarks; started once."""
        if self._server is None:
            db = self.main()
            self._server = Server(Path(db.path), self.workdir / "gunicorn.log", self.workers)
            self._server.start()
            self._server.wait_for_workers()
        return self._server

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@dataclass(frozen=True)
class Benchmark:
    """`measure(ctx, run)` does one repeat (annotator and baseline) and returns numbers;
    `rows(medians, ctx)` turns the medians into table rows."""

    name: str
    description: str
    measure: Callable[[Context, int], dict[str, float]]
    rows: Callable[[dict[str, float], Context], list[Row]]
    available: Callable[[], str | None] = field(default=lambda: None)  # why not, or None

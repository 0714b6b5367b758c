"""Progress of long commands on stderr: a bar with rate and time left on a terminal, else a
plain line every ANNOTATOR_PROGRESS_EVERY seconds (default 5; a stage that lasted that long
prints its last count too, a quicker one prints nothing), nothing at all with --quiet. Services take
its instance as a plain callback, `progress(stage, done, total)`, and know nothing of it."""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

import click

ProgressCallback = Callable[[str, int, "int | None"], None]
"""`progress(stage, done, total)`: `done` of `total` (None: not known) in `stage`, a short
phrase naming what is counted, such as "paragraphs stored"."""

BAR_WIDTH = 24
REDRAW = 0.2  # seconds between redraws of a terminal's bar
EVERY = 5.0  # seconds between plain lines


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The services' default: report nothing."""


def duration(seconds: float) -> str:
    """1:02:03, 2:03 or 3 s: short enough for a line that is redrawn."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02}:{secs:02}"
    return f"{minutes}:{secs:02}" if minutes else f"{secs} s"


class ProgressReport:
    """Call it with each stage's count as the work goes; `close()` ends the last stage's
    line. A stage ends when another starts or when its count reaches its total."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False,
                 tty: bool | None = None, every: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = REDRAW if self.tty else every if every is not None else _every()
        self.clock = clock
        self.lines = 0  # plain lines printed in this stage
        self.stage: str | None = None
        self.started = self.shown = 0.0
        self.done, self.total = 0, None
        self.ended: str | None = None  # the stage just ended (a repeated final count)

    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        if self.quiet or stage == self.ended:
            return
        now = self.clock()
        if stage != self.stage:
            self._end()
            self.ended = None
            self.stage, self.started, self.shown, self.lines = stage, now, now, 0
        self.done, self.total = done, total
        if total is not None and done >= total:
            self._end()
        elif now - self.shown >= self.every:
            self.shown = now
            self._show(now)

    def close(self) -> None:
        """End the current stage's line (called once the work is over, or has failed)."""
        if not self.quiet:
            self._end()

    def clear(self) -> None:
        """Take a terminal's bar off its line, before printing another there (it comes back
        at the next count)."""
        if self.tty and self.stage is not None and not self.quiet:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = 0.0

    def line(self, now: float) -> str:
        """The stage's state: count, percent, rate and time left where they are known."""
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.stage}: {self.done:,}" + (f"/{self.total:,}" if self.total else "")]
        if self.total:
            parts.append(f"{100 * self.done / self.total:.0f}%")
        if rate:
            parts.append(f"{rate:,.0f}/s")
        if self.total and rate and self.done < self.total:
            parts.append(f"{duration((self.total - self.done) / rate)} left")
        else:
            parts.append(f"{duration(elapsed)}")
        return ", ".join(parts)

    def _show(self, now: float) -> None:
        if not self.tty:
            print(self.line(now), file=self.stream, flush=True)
            self.lines += 1
            return
        bar = ""
        if self.total:
            filled = min(BAR_WIDTH, BAR_WIDTH * self.done // self.total)
            bar = "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "] "
        self.stream.write("\r\x1b[K" + bar + self.line(now))
        self.stream.flush()

    def _end(self) -> None:
        """Show the finished stage's last count: the bar's, kept on its line; a plain line if
        the stage printed any or lasted the interval."""
        if self.stage is None:
            return
        now = self.clock()
        if self.tty or self.lines or now - self.started >= self.every:
            self._show(now)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
        self.stage, self.ended = None, self.stage


def _every() -> float:
    """ANNOTATOR_PROGRESS_EVERY: seconds between plain lines (0: at every count)."""
    value = os.environ.get("ANNOTATOR_PROGRESS_EVERY", "").strip()
    try:
        every = float(value) if value else EVERY
    except ValueError:
        every = -1.0
    if not every >= 0:
        raise click.UsageError(f"ANNOTATOR_PROGRESS_EVERY must be a number of seconds, not {value!r}")
    return every


def progress_option(command):
    """The `--quiet` flag of the commands that report progress."""
    return click.option("--quiet", is_flag=True,
                        help="No progress report on standard error.")(command)

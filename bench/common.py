"""What every benchmark module shares: paths, the app's environment, timed child processes,
percentiles and the table row."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository root
BENCH = ROOT / "bench"
# The repository's virtualenv, else the running Python's (e.g. a `git worktree` without one).
VENV_BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin").is_dir() else Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
FLASK = str(VENV_BIN / "flask")
GUNICORN = str(VENV_BIN / "gunicorn")
SECRET_KEY = "bench-secret-key-not-for-production"
PASSWORD = "bench-password-123"
LABELS = ("claim", "evidence", "boilerplate", "other")


def app_env(db_path: Path, **extra: str) -> dict[str, str]:
    """The environment a `flask` or `gunicorn` child gets: its own database and secret key."""
    env = dict(os.environ)
    env.update(ANNOTATOR_DATABASE_URL=f"sqlite:///{Path(db_path).resolve()}",
               ANNOTATOR_SECRET_KEY=SECRET_KEY, FLASK_APP="annotator", PYTHONUNBUFFERED="1",
               # this tree's annotator, not whatever the editable install points at
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    env.update(extra)
    return env


@dataclass
class Timed:
    """A finished child process: wall time, its own peak RSS, exit status and output."""

    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0
    """User and system CPU time of the child (wait4's rusage): on a shared, busy machine a
    fairer comparison than the wall time."""


def run_timed(cmd: list[str], env: dict[str, str] | None = None, stdin: str | None = None,
              cwd: Path = ROOT) -> Timed:
    """Run a command to the end, with its peak RSS: the child's VmHWM (/proc/PID/status),
    polled every few ms until it exits. Not wait4()'s ru_maxrss: Linux carries the forking
    parent's RSS into the child's ru_maxrss at exec, so every child of this (large) process
    would report at least this process's size. Output goes through temporary files, so
    nothing but this loop reaps the child."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, cwd=cwd, text=True, stdout=out, stderr=err,
                                 stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        if stdin is not None:
            child.stdin.write(stdin)
            child.stdin.close()
        peak_kb = 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _high_water_kb(child.pid))
            time.sleep(0.003)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak_mb = peak_kb / 1024 if peak_kb else usage.ru_maxrss / 1024
        return Timed(seconds, peak_mb, child.returncode, out.read(), err.read(),
                     usage.ru_utime + usage.ru_stime)


def _high_water_kb(pid: int) -> int:
    """The process's peak resident set so far (VmHWM), 0 if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def check(result: Timed, what: str) -> Timed:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def flask(db_path: Path, *args: str, stdin: str | None = None) -> Timed:
    """Run a `flask` command of the app on the given database (from the repository root)."""
    return check(run_timed([FLASK, *args], app_env(db_path), stdin), "flask " + " ".join(args))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the nearest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: list[float], prefix: str = "") -> dict[str, float]:
    """p50/p95/p99 in milliseconds, with the sample count."""
    ms = [s * 1000 for s in seconds]
    return {f"{prefix}p50_ms": percentile(ms, 50), f"{prefix}p95_ms": percentile(ms, 95),
            f"{prefix}p99_ms": percentile(ms, 99), f"{prefix}n": len(ms)}


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median of each metric over the repeats (metrics missing in a run are skipped);
    error counts (keys ending in `_err`) are summed instead: one bad run is not hidden."""
    keys = {key for run in runs for key in run}
    return {key: (sum if key.endswith("_err") else statistics.median)(
        [run[key] for run in runs if key in run]) for key in keys}


@dataclass
class Row:
    """One line of the result table. `ratio` is annotator speed as a fraction of raw speed."""

    benchmark: str
    annotator: str
    baseline: str
    ratio: float | None
    target: str
    met: bool | None

    def cells(self) -> list[str]:
        ratio = "—" if self.ratio is None else f"{self.ratio:.2f}"
        met = {True: "yes", False: "**NO**", None: "—"}[self.met]
        return [self.benchmark, self.annotator, self.baseline, ratio, self.target, met]


def rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}"


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 1 else f"{value:.1f}" if value < 100 else f"{value:.0f}"

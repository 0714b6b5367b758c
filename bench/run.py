"""Run every benchmark (annotator and its raw sqlite3 + json baseline, in the same run) and
print a Markdown table of the medians.

    .venv/bin/python bench/run.py [--quick] [--only NAME[,NAME]] [--repeat N] [--workdir DIR]
                                  [--json OUT] [--workers N] [--no-wrk]

Benchmarks, in the order they run: import, export, agreement, start, saves, pages, queue."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import batch
import serving
from common import PYTHON, ROOT, Row, app_env, medians
from context import FULL, QUICK, Context

BENCHMARKS = {b.name: b for b in [*batch.BENCHMARKS, *serving.BENCHMARKS]}
HEADER = ["benchmark", "annotator", "raw baseline (sqlite3 + json)", "ratio", "target", "met?"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--only", default=None, metavar="NAME[,NAME]",
                        help="run only these: " + ", ".join(BENCHMARKS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per benchmark (median)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep data and databases here (reused); default a temp dir")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT",
                        help="also write every run's numbers and the table as JSON")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python load client")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.names = [name for name in BENCHMARKS if name in names]
    return args


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |"
              for row in rows]
    return "\n".join(lines)


def environment(args: argparse.Namespace, ctx: Context) -> dict:
    wrk = shutil.which("wrk") and not args.no_wrk
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "sqlite": __import__("sqlite3").sqlite_version,
            "load_client": (subprocess.run(["wrk", "-v"], capture_output=True, text=True)
                            .stdout.split("[")[0].strip() if wrk else "python processes"),
            "sizes": ctx.sizes.__dict__, "repeat": args.repeat, "quick": args.quick,
            "code": code_under_test(),
            "workers": args.workers or int(os.environ.get("ANNOTATOR_WORKERS",
                                                          min(2 * os.cpu_count() + 1, 8)))}


def _write_json(path: Path | None, env: dict, results: dict, rows: list[Row]) -> None:
    """Written after every benchmark, so an interrupted run keeps what it measured."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"environment": env, "results": results,
                                    "rows": [row.__dict__ for row in rows]}, indent=1,
                                   ensure_ascii=False))


def _print_logs(workdir: Path, lines: int = 30) -> None:
    """The end of the servers' logs, which go away with a temporary work dir."""
    for log in sorted(workdir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last {len(tail)} lines of {log.name}:", *tail, sep="\n", file=sys.stderr)


def code_under_test() -> dict:
    """Which annotator the run measures: the commit, files changed since it, where it imports."""
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else "?"
    imported = subprocess.run([PYTHON, "-c", "import annotator; print(annotator.__file__)"],
                              cwd=ROOT, env=app_env(ROOT / "instance" / "unused.db"),
                              capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "changed": git("status", "--porcelain", "--", "annotator", "templates", "static",
                           "gunicorn.conf.py").splitlines(),
            "annotator_imported_from": str(Path(imported).parent) if imported else "?"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="annotator-bench-")) if temporary else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = Context(workdir.resolve(), QUICK if args.quick else FULL, use_wrk=not args.no_wrk,
                  workers=args.workers)
    env = environment(args, ctx)
    print(f"# annotator benchmarks, {env['date']}: {env['cpus']} CPUs, Python {env['python']}, "
          f"SQLite {env['sqlite']}, {env['load_client']}, {env['workers']} gunicorn workers, "
          f"median of {args.repeat}; work dir {workdir}", file=sys.stderr, flush=True)
    code = env["code"]
    print(f"# code under test: commit {code['commit']}"
          f"{', changed since: ' + ', '.join(code['changed']) if code['changed'] else ', clean'}; "
          f"annotator imported from {code['annotator_imported_from']}", file=sys.stderr, flush=True)
    rows: list[Row] = []
    results: dict[str, dict] = {}
    try:
        for name in args.names:
            benchmark = BENCHMARKS[name]
            missing = benchmark.available()
            if missing:
                print(f"{name}: {missing}", file=sys.stderr, flush=True)
                rows.append(Row(name, missing, "—", None, "—", None))
                results[name] = {"available": False, "reason": missing}
                continue
            runs = []
            try:
                for run in range(args.repeat):
                    began = time.perf_counter()
                    print(f"{name}: run {run + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
                    runs.append(benchmark.measure(ctx, run))
                    print(f"{name}: run {run + 1} took {time.perf_counter() - began:.0f} s",
                          file=sys.stderr, flush=True)
                median = medians(runs)
                new_rows = benchmark.rows(median, ctx)
            except Exception as error:  # one broken benchmark must not lose the others' figures
                traceback.print_exc()
                _print_logs(workdir)
                reason = f"FAILED in run {len(runs) + 1}: {type(error).__name__}: {error}"
                new_rows = [Row(name, reason.splitlines()[0][:200], "—", None, "—", False)]
                results[name] = {"runs": runs, "error": traceback.format_exc()}
            else:
                results[name] = {"runs": runs, "median": median}
            rows += new_rows
            print(markdown(new_rows).split("\n", 2)[2], file=sys.stderr, flush=True)
            _write_json(args.json, env, results, rows)
    finally:
        ctx.close()
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(f"Environment: {env['date']}, {env['cpus']} CPUs, Python {env['python']}, SQLite "
          f"{env['sqlite']}, load client {env['load_client']}, {env['workers']} gunicorn workers × "
          f"{os.environ.get('ANNOTATOR_THREADS', 4)} threads; medians of {args.repeat} runs"
          f"{' (--quick sizes)' if args.quick else ''}; commit {code['commit']}"
          f"{' + uncommitted changes' if code['changed'] else ''}. Ratio = annotator speed ÷ raw speed "
          f"(rates: annotator/raw; latencies: raw p50/annotator p50).")
    print()
    print(markdown(rows))
    _write_json(args.json, env, results, rows)
    return 0 if all(row.met is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""`flask export` against the raw baselines, whole processes, alternating, in one run:

    python bench/export_speed.py DB [--before TREE] [--rounds N] [--only-labeled]
                                 [--unit paragraph|article] [--spans N] [--format parquet]

DB holds project "bench" (bench/fixtures.py builds one); TREE is another checkout (a
`git worktree` of an earlier commit) whose annotator is timed too. `--spans N` times the
export of a copy of DB holding N spans (and a link per article between two of them) against
the export of DB itself; `--format parquet` times `flask export --format parquet` beside the
JSONL export. Prints, per variant, the best wall time and CPU time of N rounds, the peak RSS
(VmHWM) and the size of the file written."""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
from pathlib import Path

from baselines import now_text
from common import BENCH, PYTHON, ROOT, app_env, check, flask, run_timed


def with_spans(db: Path, copy: Path, spans: int) -> None:
    """Copy DB (migrated to the current schema) and add `spans` spans to project "bench",
    spread evenly over its paragraphs (bulk-a's, a stretch of up to 12 code points; every
    third one evidence), and per article a link from its second span to its first."""
    shutil.copy(db, copy)
    flask(copy, "export", "--project", "bench", "--annotator", "bulk-a", "--only-labeled",
          "-o", "/dev/null")  # migrates the copy
    conn = sqlite3.connect(copy, isolation_level=None)
    (user,) = conn.execute("SELECT id FROM user WHERE username = 'bulk-a'").fetchone()
    paragraphs = conn.execute(
        "SELECT p.id, p.article_id, length(p.text) FROM paragraph p JOIN article a "
        "ON a.id = p.article_id JOIN project ON project.id = a.project_id "
        "WHERE project.name = 'bench' ORDER BY p.id").fetchall()
    step = max(1, len(paragraphs) // spans)
    now = now_text()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO span (paragraph_id, user_id, gold, start, \"end\", label, source, "
        "created_at) VALUES (?, ?, 0, ?, ?, ?, 'human', ?)",
        [(pid, user, 0, min(length, 12), "evidence" if n % 3 == 2 else "claim", now)
         for n, (pid, _, length) in enumerate(paragraphs[::step][:spans])])
    conn.execute(
        "INSERT INTO link (article_id, user_id, gold, from_span_id, to_span_id, relation, "
        "created_at) SELECT p.article_id, ?, 0, max(s.id), min(s.id), 'supports', ? "
        "FROM span s JOIN paragraph p ON p.id = s.paragraph_id GROUP BY p.article_id "
        "HAVING count(*) > 1", (user, now))
    conn.execute("COMMIT")
    conn.close()


def export_command(out: Path, flags: list[str]) -> list[str]:
    """`flask export` of project "bench" to `out`, as a whole process."""
    return [PYTHON, "-m", "flask", "export", "--project", "bench", *flags, "-o", str(out)]


def raw_variants(db: Path, out: Path) -> dict[str, tuple[Path, list[str], Path]]:
    """The raw sqlite3 + json and + orjson exports of DB's project "bench"."""
    return {f"raw {name}": (ROOT, [PYTHON, str(BENCH / "baselines.py"), name, str(db), "bench",
                                   str(out)], db) for name in ("export", "export-orjson")}


def best_of(variants: dict[str, tuple[Path, list[str], Path]],
            rounds: int) -> tuple[dict[str, tuple[float, float, float]], dict[str, int]]:
    """Run each variant (tree, command, database) `rounds` times, alternating: per variant the
    best wall and CPU seconds and the largest peak RSS (MB), and the size of the file written."""
    best: dict[str, tuple[float, float, float]] = {}
    sizes: dict[str, int] = {}
    for _ in range(rounds):
        for name, (tree, cmd, db) in variants.items():
            env = app_env(db, PYTHONPATH=str(tree))
            result = check(run_timed(cmd, env, cwd=tree), name)
            written = cmd[cmd.index("-o") + 1] if "-o" in cmd else cmd[-1]
            sizes[name] = Path(written).stat().st_size
            seconds, cpu, rss = best.get(name, (float("inf"), float("inf"), 0.0))
            best[name] = (min(seconds, result.seconds), min(cpu, result.cpu_seconds),
                          max(rss, result.max_rss_mb))
    return best, sizes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--before", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only-labeled", action="store_true")
    parser.add_argument("--unit", choices=("paragraph", "article"), default="paragraph")
    parser.add_argument("--spans", type=int, default=0)
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl")
    args = parser.parse_args()
    flags = [*(["--only-labeled"] if args.only_labeled else []), "--unit", args.unit]
    with tempfile.TemporaryDirectory(dir=args.db.parent) as work:
        out = Path(work) / "out.jsonl"
        export = export_command(out, flags)
        variants = {"annotator": (ROOT, export, args.db)}
        if args.format == "parquet":
            parquet = [*export[:-1], str(Path(work) / "out.parquet"), "--format", "parquet"]
            variants["annotator, parquet"] = (ROOT, parquet, args.db)
        if args.spans:
            spans_db = Path(work) / "spans.db"
            with_spans(args.db, spans_db, args.spans)
            variants[f"annotator, {args.spans:,} spans"] = (ROOT, export, spans_db)
        if args.before:
            variants["before"] = (args.before, export, args.db)
        if not args.only_labeled and args.unit == "paragraph" and not args.spans:
            variants.update(raw_variants(args.db, out))
        best, sizes = best_of(variants, args.rounds)
        print("| variant | wall | CPU (user + system) | peak RSS | file |")
        for name, (seconds, cpu, rss) in best.items():
            print(f"| {name} | {seconds:.2f} s | {cpu:.2f} s | {rss:.0f} MB | "
                  f"{sizes[name] / 1e6:.1f} MB |")


if __name__ == "__main__":
    main()

"""`flask export` against the raw baselines, whole processes, alternating, in one run:

    python bench/export_speed.py DB [--before TREE] [--rounds N] [--only-labeled]

DB holds project "bench" (bench/fixtures.py builds one); TREE is another checkout (a
`git worktree` of an earlier commit) whose annotator is timed too. Prints, per variant, the
best wall time of N rounds and the peak RSS (VmHWM)."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import BENCH, PYTHON, ROOT, app_env, check, run_timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--before", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only-labeled", action="store_true")
    args = parser.parse_args()
    flags = ["--only-labeled"] if args.only_labeled else []
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "out.jsonl"
        variants = {"annotator": (ROOT, [PYTHON, "-m", "flask", "export", "--project", "bench",
                                         *flags, "-o", str(out)])}
        if args.before:
            variants["before"] = (args.before, variants["annotator"][1])
        if not args.only_labeled:
            for name in ("export", "export-orjson"):
                variants[f"raw {name}"] = (ROOT, [PYTHON, str(BENCH / "baselines.py"), name,
                                                  str(args.db), "bench", str(out)])
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for name, (tree, cmd) in variants.items():
                env = app_env(args.db, PYTHONPATH=str(tree))
                result = check(run_timed(cmd, env, cwd=tree), name)
                seconds, rss = best.get(name, (float("inf"), 0.0))
                best[name] = (min(seconds, result.seconds), max(rss, result.max_rss_mb))
        for name, (seconds, rss) in best.items():
            print(f"| {name} | {seconds:.2f} s | {rss:.0f} MB |")


if __name__ == "__main__":
    main()

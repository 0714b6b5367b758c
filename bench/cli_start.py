"""The command line's start-up (issue 11): CPU time (user + system) and wall time of `flask`
commands that do next to nothing, best of N, on a migrated SQLite database.

    .venv/bin/python bench/cli_start.py [--tree PATH]... [--repeat N]

Each `--tree` (default: this one; a `git worktree` of an older commit to compare) runs with
PYTHONPATH set to it. CPU time is the figure to compare on a shared machine: wall time also
counts the time other processes hold the cores.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from common import FLASK, ROOT, SECRET_KEY

COMMANDS = ["--help", "create-user --help", "backup --help", "db current", "create-token nobody"]


def measure(tree: Path, command: str, env: dict[str, str], repeat: int) -> tuple[float, float]:
    """The best (CPU seconds, wall seconds) of `repeat` runs."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run([FLASK, *command.split()], env=env, cwd=tree, capture_output=True)
        wall, after = time.perf_counter() - began, resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        best = min(best, (cpu, wall))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| tree | command | CPU | wall |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for number, tree in enumerate(tree.resolve() for tree in args.tree or [ROOT]):
            env = dict(os.environ, FLASK_APP="annotator", ANNOTATOR_SECRET_KEY=SECRET_KEY,
                       ANNOTATOR_DATABASE_URL=f"sqlite:///{workdir}/start-{number}.db",
                       PYTHONPATH=str(tree))
            subprocess.run([FLASK, "db", "upgrade"], env=env, cwd=tree, capture_output=True,
                           check=True)
            head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True).stdout.strip()
            for command in COMMANDS:
                cpu, wall = measure(tree, command, env, args.repeat)
                print(f"| {tree.name}@{head} | `flask {command}` | {cpu:.2f} s | {wall:.2f} s |")


if __name__ == "__main__":
    main()

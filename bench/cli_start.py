"""The command line's start-up (issue 11): CPU time (user + system) and wall time of `flask`
commands that do next to nothing, median of N, on a migrated SQLite database.

    .venv/bin/python bench/cli_start.py [--tree PATH]... [--repeat N]

Each `--tree` (default: this one; a `git worktree` of an older commit to compare) runs with
PYTHONPATH set to it; the trees and commands alternate within each repeat, so a busy moment
on the machine falls on all of them. Each command runs twice: with Python's bytecode cache
(as an installed app runs: `pip install` compiles it, a checkout writes `__pycache__` on its
first run; here kept in the work directory, written by a warm-up run) and compiling every
module on each run (PYTHONDONTWRITEBYTECODE=1, as some sandboxes and containers set). CPU
time is the figure to compare on a shared machine: wall time also counts the time other
processes hold the cores.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import FLASK, ROOT, SECRET_KEY

COMMANDS = ["--help", "create-user --help", "backup --help", "export --help", "db current",
            "create-token nobody"]
MODES = ("cached", "compiled")


def measure(tree: Path, command: str, env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run."""
    before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([FLASK, *command.split()], env=env, cwd=tree, capture_output=True)
    wall, after = time.perf_counter() - began, resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def environments(tree: Path, number: int, workdir: str) -> dict[str, dict[str, str]]:
    """The tree's environment in each mode, its database migrated and its cache written."""
    base = {key: value for key, value in os.environ.items()
            if key not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    base.update(FLASK_APP="annotator", ANNOTATOR_SECRET_KEY=SECRET_KEY, PYTHONPATH=str(tree),
                ANNOTATOR_DATABASE_URL=f"sqlite:///{workdir}/start-{number}.db")
    envs = {"cached": dict(base, PYTHONPYCACHEPREFIX=f"{workdir}/pycache-{number}"),
            "compiled": dict(base, PYTHONDONTWRITEBYTECODE="1")}
    subprocess.run([FLASK, "db", "upgrade"], env=envs["cached"], cwd=tree, capture_output=True,
                   check=True)
    for command in COMMANDS:  # the warm-up: every module any command imports is cached
        subprocess.run([FLASK, *command.split()], env=envs["cached"], cwd=tree,
                       capture_output=True)
    return envs


def measure_all(trees: list[Path], repeat: int, workdir: str,
                commands: list[str] = COMMANDS) -> dict[tuple, list[tuple[float, float]]]:
    """(CPU, wall) of every run, keyed (tree, command, mode); trees, commands and modes
    alternate within each repeat."""
    envs = [environments(tree, number, workdir) for number, tree in enumerate(trees)]
    runs: dict[tuple, list[tuple[float, float]]] = {}
    for _ in range(repeat):
        for tree, env in zip(trees, envs):
            for command in commands:
                for mode in MODES:
                    runs.setdefault((tree, command, mode), []).append(
                        measure(tree, command, env[mode]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.tree or [ROOT]]
    with tempfile.TemporaryDirectory() as workdir:
        runs = measure_all(trees, args.repeat, workdir)
        print("| tree | command | CPU, cached | wall, cached | CPU, compiled each run | "
              "wall, compiled |\n|---|---|---|---|---|---|")
        for tree in trees:
            head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True).stdout.strip()
            for command in COMMANDS:
                cells = []
                for mode in MODES:
                    cpu, wall = zip(*runs[(tree, command, mode)])
                    cells += [f"{statistics.median(cpu):.2f} s", f"{statistics.median(wall):.2f} s"]
                print(f"| {tree.name}@{head} | `flask {command}` | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()

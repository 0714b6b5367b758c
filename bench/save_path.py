"""The label save against its floor (issue 11), side by side in one run.

    .venv/bin/python bench/save_path.py [--tree PATH]... [--seconds S] [--repeat N] [--workdir DIR]

Builds the medium tier once (2,000 articles of bench/workload.py, `flask import`, then `flask
suggest` for the cold suggestions the import leaves to the server; annotators
ann01..ann08 with `flask create-user` and `flask create-token`), then for each repeat runs,
one after the other, the floor (bench/floor_server.py) and the annotator of each `--tree`
(default: this one; pass a `git worktree` of an older commit to compare), each under
`gunicorn -c gunicorn.conf.py` on its own copy of the database. Each server gets 1 and then 8
client threads (one keep-alive connection and token each) putting a random label on a random
paragraph for S seconds. Measured: saves/s, p50/p99 latency, and server CPU per save (user +
system time of the gunicorn workers, from /proc before and after, over the saves).

With --in-process N, each server instead takes N saves through Flask's test client in a child
process (background work off): CPU per save (best of 3) and Python function calls per save
(cProfile's count, which the machine's load does not change).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import sqlite3
import subprocess
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import BENCH, GUNICORN, LABELS, ROOT, SECRET_KEY, flask, percentile
from fixtures import create_users, workload_file
from server import Server

ARTICLES, PER_ARTICLE = 2000, 27  # the medium tier: 54,000 paragraphs
CLIENTS = (1, 8)
TICKS = os.sysconf("SC_CLK_TCK")


def build(workdir: Path, articles: int = ARTICLES) -> dict:
    """The medium-tier database (or one of `articles` articles) and its annotators' tokens,
    built once per work directory."""
    name = "medium" if articles == ARTICLES else f"medium-{articles}"
    meta = workdir / f"{name}.json"
    if meta.exists():
        return json.loads(meta.read_text())
    path = workdir / f"{name}.db"
    for leftover in workdir.glob(f"{name}.db*"):
        leftover.unlink()
    flask(path, "import", str(workload_file(workdir, articles * PER_ARTICLE, PER_ARTICLE)),
          "--project", "bench")
    # the cold suggestions a large import leaves to the server, written once here: else each
    # server's background writes all of them while it is measured (not a save's cost)
    flask(path, "suggest", "--project", "bench")
    tokens = create_users(path, {f"ann{n:02d}": "annotator" for n in range(1, 9)},
                          [f"ann{n:02d}" for n in range(1, 9)])
    conn = sqlite3.connect(path)
    lo, hi = conn.execute("SELECT min(id), max(id) FROM paragraph").fetchone()
    conn.close()
    info = {"path": str(path), "lo": lo, "hi": hi, "tokens": list(tokens.values())}
    meta.write_text(json.dumps(info))
    return info


class TreeServer(Server):
    """gunicorn -c gunicorn.conf.py, from `tree` (its annotator, or the floor's app)."""

    def __init__(self, tree: Path | None, db_path: Path, log_path: Path, env: dict[str, str]):
        super().__init__(db_path, log_path)
        self.tree, self.env = tree, env  # tree None: the floor

    def start(self, limit: float = 60.0) -> float:
        env = dict(os.environ, ANNOTATOR_BIND=f"127.0.0.1:{self.port}", PYTHONUNBUFFERED="1",
                   **self.env)
        cmd = [GUNICORN, "-c", "gunicorn.conf.py"]
        if self.tree is None:
            cmd += ["--chdir", str(BENCH), "floor_server:create()"]
            env.update(FLOOR_DATABASE=str(self.db_path))
            cwd = ROOT
        else:
            env.update(ANNOTATOR_DATABASE_URL=f"sqlite:///{self.db_path}",
                       ANNOTATOR_SECRET_KEY=SECRET_KEY, PYTHONPATH=str(self.tree))
            cwd = self.tree
        return self.launch(cmd, cwd, env, limit)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def client(port: int, token: str, lo: int, hi: int, stop: threading.Event, seed: int,
           latencies: list[float], errors: list[int]) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    while not stop.is_set():
        body = json.dumps({"label": rng.choice(LABELS)})
        began = time.perf_counter()
        conn.request("PUT", f"/api/paragraphs/{rng.randint(lo, hi)}/annotation", body, headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - began)
        if response.status != 200:
            errors.append(response.status)


def load(server: TreeServer, info: dict, clients: int, seconds: float, seed: int) -> dict:
    """`clients` threads saving for `seconds` (after a 1 s warm-up)."""
    pids = server.worker_pids()
    warm = threading.Event()
    threads = [threading.Thread(target=client, args=(server.port, info["tokens"][n], info["lo"],
                                                     info["hi"], warm, seed + n, [], []))
               for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    warm.set()
    for thread in threads:
        thread.join()
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[int] = []
    threads = [threading.Thread(target=client, args=(server.port, info["tokens"][n], info["lo"],
                                                     info["hi"], stop, seed + 100 + n,
                                                     latencies[n], errors))
               for n in range(clients)]
    cpu_before, began = cpu_seconds(pids), time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - began, cpu_seconds(pids) - cpu_before
    flat = [value * 1000 for values in latencies for value in values]
    return {"saves_per_s": len(flat) / elapsed, "p50_ms": percentile(flat, 50),
            "p99_ms": percentile(flat, 99), "cpu_ms": 1000 * cpu / len(flat),
            "n": len(flat), "errors": len(errors)}


IN_PROCESS = """
import cProfile, json, os, pstats, random, sys, time
db, tokens, lo, hi, n = sys.argv[1], json.loads(sys.argv[2]), *map(int, sys.argv[3:6])
if os.environ.get("FLOOR_DATABASE"):
    import floor_server
    app = floor_server.create()
else:
    from annotator import create_app
    app = create_app()
client, rng = app.test_client(), random.Random(1)
headers = {"Authorization": "Bearer " + tokens[0]}
def run(count):
    for _ in range(count):
        response = client.put(f"/api/paragraphs/{rng.randint(lo, hi)}/annotation",
                              json={"label": rng.choice(%r)}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
run(200)
cpu = []
for _ in range(3):
    began = time.process_time()
    run(n)
    cpu.append((time.process_time() - began) / n * 1000)
profile = cProfile.Profile()
profile.enable()
run(500)
profile.disable()
print(json.dumps({"cpu_ms": min(cpu), "calls": pstats.Stats(profile).total_calls / 500}))
""" % (LABELS,)


def in_process(servers: list, info: dict, workdir: Path, saves: int) -> None:
    """N saves through the test client of each server, in a child process of its own."""
    print("| server | CPU per save, test client (best of 3) | Python calls per save |")
    print("|---|---|---|")
    floor = None
    for number, (name, tree, env) in enumerate(servers):
        if env:
            continue  # background work is off in every one of these
        copy = workdir / f"inproc-{number}.db"
        for leftover in workdir.glob(copy.name + "*"):
            leftover.unlink()
        shutil.copy(info["path"], copy)
        child_env = dict(os.environ, ANNOTATOR_SUGGEST_IN_BACKGROUND="0",
                         ANNOTATOR_SECRET_KEY=SECRET_KEY,
                         ANNOTATOR_DATABASE_URL=f"sqlite:///{copy}",
                         PYTHONPATH=str(BENCH if tree is None else tree))
        if tree is None:
            child_env["FLOOR_DATABASE"] = str(copy)
        out = subprocess.run([sys.executable, "-c", IN_PROCESS, str(copy),
                              json.dumps(info["tokens"]), str(info["lo"]), str(info["hi"]),
                              str(saves)], env=child_env, cwd=tree or ROOT, check=True,
                             capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        floor = floor or result
        print(f"| {name} | {result['cpu_ms']:.2f} ms ({result['cpu_ms'] / floor['cpu_ms']:.2f}×) "
              f"| {result['calls']:.0f} ({result['calls'] / floor['calls']:.2f}×) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", type=Path,
                        help="an annotator tree to measure (repeatable; default this one)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--in-process", type=int, metavar="N",
                        help="N saves through the test client of each server instead")
    parser.add_argument("--without-background", action="store_true",
                        help="also run each tree with ANNOTATOR_SUGGEST_IN_BACKGROUND=0 (the "
                             "request path alone, without the suggestions' background work)")
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.tree or [ROOT]]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-save-"))
    workdir.mkdir(parents=True, exist_ok=True)
    info = build(workdir)
    servers: list[tuple[str, Path | None, dict]] = [("floor", None, {})]
    for tree in trees:
        servers.append((f"{tree.name}@{git_head(tree)}", tree, {}))
        if args.without_background:
            servers.append((f"{tree.name}@{git_head(tree)}, no background", tree,
                            {"ANNOTATOR_SUGGEST_IN_BACKGROUND": "0"}))
    if args.in_process:
        in_process(servers, info, workdir, args.in_process)
        return
    names = [name for name, _, _ in servers]
    results = measure(servers, info, workdir, args.seconds, args.repeat)
    table(results, names, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def measure(servers: list[tuple[str, Path | None, dict]], info: dict, workdir: Path,
            seconds: float, repeats: int) -> dict[str, dict[int, list[dict]]]:
    """Each repeat, each server (name, tree or None for the floor, extra environment) under
    gunicorn on its own copy of the database, loaded by 1 and then 8 clients: per server and
    client count, one `load` result a repeat."""
    results: dict[str, dict[int, list[dict]]] = {name: {n: [] for n in CLIENTS}
                                                 for name, _, _ in servers}
    for repeat in range(repeats):
        for number, (name, tree, env) in enumerate(servers):
            copy = workdir / f"run-{number}.db"
            for leftover in workdir.glob(copy.name + "*"):
                leftover.unlink()
            shutil.copy(info["path"], copy)
            server = TreeServer(tree, copy, workdir / f"{number}.log", env)
            server.start()
            server.wait_for_workers()
            try:
                for clients in CLIENTS:
                    result = load(server, info, clients, seconds, 1000 * repeat)
                    results[name][clients].append(result)
                    print(f"  {repeat + 1}/{repeats} {name:36} {clients} client(s): "
                          + ", ".join(f"{k} {v:.2f}" for k, v in result.items()),
                          file=sys.stderr, flush=True)
            finally:
                server.stop()
    return results


def git_head(tree: Path) -> str:
    return subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "?"


def table(results: dict, names: list[str], repeats: int) -> None:
    def med(name, clients, key):
        return statistics.median(run[key] for run in results[name][clients])

    print(f"medians of {repeats} repeats; ratios against the floor of the same run\n")
    print("| server | 1 client p50 / p99 | server CPU per save (1 / 8 clients) "
          "| 8 clients saves/s | 8 clients p50 / p99 | errors |")
    print("|---|---|---|---|---|---|")
    for name in names:
        errors = sum(run["errors"] for n in CLIENTS for run in results[name][n])
        cells = [f"{med(name, 1, 'p50_ms'):.1f} / {med(name, 1, 'p99_ms'):.1f} ms",
                 f"{med(name, 1, 'cpu_ms'):.2f} / {med(name, 8, 'cpu_ms'):.2f} ms",
                 f"{med(name, 8, 'saves_per_s'):.0f}",
                 f"{med(name, 8, 'p50_ms'):.1f} / {med(name, 8, 'p99_ms'):.1f} ms"]
        if name != "floor":
            cells[1] += f" ({med(name, 8, 'cpu_ms') / med('floor', 8, 'cpu_ms'):.2f}×)"
            cells[2] += f" ({med(name, 8, 'saves_per_s') / med('floor', 8, 'saves_per_s'):.2f}×)"
            cells[3] += f" (p99 {med(name, 8, 'p99_ms') / med('floor', 8, 'p99_ms'):.2f}×)"
        print(f"| {name} | " + " | ".join(cells) + f" | {errors} |")


if __name__ == "__main__":
    main()

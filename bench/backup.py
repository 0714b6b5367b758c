"""`flask backup` while annotators save: how long the backup of a SQLite database takes under
16 concurrent saving clients (gunicorn -c gunicorn.conf.py, as deployed), whether it finishes
within a limit at all, what it leaves behind, and whether the copy is whole. `backup_s` is the
whole `flask backup` process (start-up included), `copy_s` the copy alone, timed in a second
backup under the same load.

    python bench/backup.py [--paragraphs N] [--clients 16] [--limit 90] [--workdir DIR]

Measures the annotator of the tree it sits in (see bench/README.md for measuring a commit in a
`git worktree`)."""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import FLASK, LABELS, PYTHON, ROOT, app_env, flask
from fixtures import workload_file
from server import Server

_MAKE_USERS = """
import sys
from annotator import create_app
from annotator.extensions import db
from annotator.services.users import create_token, create_user
app = create_app()
with app.app_context():
    for n in range(int(sys.argv[1])):
        user = create_user(db.session, f"saver{n:02d}", "bench-password-123", "annotator")
        print(create_token(db.session, user, "bench"))
"""


def build(workdir: Path, paragraphs: int, clients: int) -> tuple[Path, list[str], int, int]:
    """A database of the workload plus one annotator (and token) per client."""
    db = workdir / f"backup-{paragraphs}.db"
    flask(db, "import", str(workload_file(workdir, paragraphs)), "--project", "bench")
    made = subprocess.run([PYTHON, "-c", _MAKE_USERS, str(clients)], env=app_env(db), cwd=ROOT,
                          capture_output=True, text=True, check=True)
    tokens = made.stdout.split()
    with sqlite3.connect(db) as conn:
        lo, hi = conn.execute("SELECT min(id), max(id) FROM paragraph").fetchone()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db, tokens, lo, hi


def save_until_stopped(port: int, token: str, lo: int, hi: int, seed: int, stop,
                       counts, slot: int) -> None:
    """One annotator saving random labels on one keep-alive connection until `stop` is set;
    counts[slot], counts[slot + 1] = saves, failed saves."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        try:
            conn.request("PUT", f"/api/paragraphs/{rng.randint(lo, hi)}/annotation",
                         json.dumps({"label": rng.choice(LABELS)}), headers)
            response = conn.getresponse()
            response.read()
            counts[slot + (response.status != 200)] += 1
        except OSError:
            counts[slot + 1] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)


_TIMED_BACKUP = """
import sys, time
from pathlib import Path
from sqlalchemy import create_engine
from annotator.services.backup import backup
engine = create_engine("sqlite:///" + sys.argv[1])
began = time.perf_counter()
backup(engine, Path(sys.argv[2]))
print(time.perf_counter() - began)
"""


def _time_backup_call(db: Path, target: Path, limit: float) -> float | None:
    """Seconds of the copy alone (the backup service, without the command's start-up)."""
    try:
        done = subprocess.run([PYTHON, "-c", _TIMED_BACKUP, str(db), str(target)],
                              env=app_env(db), cwd=ROOT, capture_output=True, text=True,
                              timeout=limit, check=True)
    except subprocess.TimeoutExpired:
        return None
    return round(float(done.stdout), 2)


def measure(workdir: Path, paragraphs: int, clients: int, limit: float) -> dict:
    db, tokens, lo, hi = build(workdir, paragraphs, clients)
    size_mb = db.stat().st_size / 1e6
    server = Server(db, workdir / "server.log")
    server.start()
    server.wait_for_workers()
    stop = multiprocessing.Event()
    counts = multiprocessing.Array("l", 2 * clients, lock=False)
    savers = [multiprocessing.Process(target=save_until_stopped,
                                      args=(server.port, tokens[n], lo, hi, n, stop, counts, 2 * n))
              for n in range(clients)]
    target = workdir / "copy.db"
    try:
        for saver in savers:
            saver.start()
        time.sleep(3)  # every client saving
        saved_before = sum(counts[0::2])
        began = time.perf_counter()
        try:
            done = subprocess.run([FLASK, "backup", str(target)], env=app_env(db), cwd=ROOT,
                                  capture_output=True, text=True, timeout=limit)
            seconds, finished, output = time.perf_counter() - began, done.returncode == 0, (
                done.stdout + done.stderr).strip()
        except subprocess.TimeoutExpired:
            seconds, finished, output = time.perf_counter() - began, False, f"killed after {limit:g} s"
        saved_during = sum(counts[0::2]) - saved_before
        copy_s = _time_backup_call(db, workdir / "copy-2.db", limit) if finished else None
    finally:
        stop.set()
        for saver in savers:
            saver.join()
        server.stop()
    result = {"database_mb": round(size_mb, 1), "clients": clients, "finished": finished,
              "backup_s": round(seconds, 2), "copy_s": copy_s, "saves_per_s_during": round(saved_during / seconds, 1),
              "failed_saves": sum(counts[1::2]), "output": output,
              "left_behind": sorted(p.name for p in workdir.glob("copy.db*") if p.name != "copy.db")}
    if finished:
        with sqlite3.connect(target) as copy:
            result["copy_integrity"] = copy.execute("PRAGMA integrity_check").fetchone()[0]
            result["copy_paragraphs"] = copy.execute("SELECT count(*) FROM paragraph").fetchone()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=200_000,
                        help="workload size (200,000 paragraphs: a 60 MB database)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--limit", type=float, default=90, help="seconds the backup may take")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        result = measure(Path(workdir), args.paragraphs, args.clients, args.limit)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    print(json.dumps({"commit": commit, **result}, indent=1))
    sys.exit(0 if result["finished"] else 1)


if __name__ == "__main__":
    main()

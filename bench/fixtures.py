"""The databases the benchmarks run on, built once per work directory and described in a JSON
file beside them (so `--workdir DIR` reuses them).

main.db: project "bench" (the workload, 25 paragraphs per article) and project "big" (one
article of 2,000 paragraphs); users created with `flask create-user`, tokens with
`flask create-token`; every paragraph labeled by two annotators (bulk-a, bulk-b, inserted with
sqlite3), who have also finished the first half of the articles: a project midway through.

agree.db: project "agree", every paragraph labeled by two of three annotators (the pair
rotating per article)."""
from __future__ import annotations

import json
import random
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import workload
from baselines import now_text
from common import LABELS, PASSWORD, PYTHON, app_env, flask

PER_ARTICLE = 25
ANNOTATORS = [f"ann{n:02d}" for n in range(1, 17)]  # the concurrent annotators of the saves
ROLES = {"bench-admin": "admin", "bulk-a": "annotator", "bulk-b": "annotator",
         "queue-user": "annotator", "raw-saves": "annotator", "raw-queue": "annotator",
         **{name: "annotator" for name in ANNOTATORS}}
TOKENS = [*ANNOTATORS, "queue-user", "bulk-a"]


def workload_file(workdir: Path, paragraphs: int, per_article: int = PER_ARTICLE,
                  seed: int = 7) -> Path:
    """The deterministic workload as jsonl, written once per size."""
    path = workdir / "data" / f"workload-{paragraphs}-{per_article}-{seed}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        workload.write(max(1, paragraphs // per_article), partial, seed, per_article)
        partial.replace(path)
    return path


@dataclass
class MainDB:
    path: str
    paragraphs: int
    project_id: int
    big_article: int
    lo: int  # the "bench" project's paragraph ids are lo..hi
    hi: int
    users: dict[str, int]
    tokens: dict[str, str]


def main_db(workdir: Path, paragraphs: int, big: int = 2000) -> MainDB:
    """The 500k-paragraph database (or the --quick size), built unless already there."""
    meta = workdir / f"main-{paragraphs}.json"
    if meta.exists():
        return MainDB(**json.loads(meta.read_text()))
    db = workdir / f"main-{paragraphs}.db"
    for leftover in workdir.glob(f"{db.name}*"):
        leftover.unlink()
    print(f"  building {db.name}: {paragraphs:,} paragraphs + one of {big:,}", flush=True)
    flask(db, "import", str(workload_file(workdir, paragraphs)), "--project", "bench")
    flask(db, "import", str(workload_file(workdir, big, big, seed=11)), "--project", "big")
    tokens = create_users(db, ROLES, TOKENS)
    conn = sqlite3.connect(db, isolation_level=None)
    users = dict(conn.execute("SELECT username, id FROM user"))
    (project_id,) = conn.execute("SELECT id FROM project WHERE name = 'bench'").fetchone()
    lo, hi = conn.execute("SELECT min(p.id), max(p.id) FROM paragraph p JOIN article a "
                          "ON a.id = p.article_id WHERE a.project_id = ?", (project_id,)).fetchone()
    (big_article,) = conn.execute("SELECT a.id FROM article a JOIN project p ON p.id = a.project_id "
                                  "WHERE p.name = 'big'").fetchone()
    label_everything(conn, [(users["bulk-a"], users["bulk-b"])], seed=3)
    finish_first_half(conn, project_id, [users["bulk-a"], users["bulk-b"]])
    conn.close()
    recount(db)
    result = MainDB(str(db), paragraphs, project_id, big_article, lo, hi, users, tokens)
    meta.write_text(json.dumps(asdict(result), indent=1))
    return result


def agreement_db(workdir: Path, paragraphs: int) -> Path:
    """Every paragraph of project "agree" labeled by two of three annotators."""
    db = workdir / f"agree-{paragraphs}.db"
    done = workdir / f"agree-{paragraphs}.done"
    if done.exists():
        return db
    for leftover in workdir.glob(f"{db.name}*"):
        leftover.unlink()
    print(f"  building {db.name}: {paragraphs:,} paragraphs, two labels each", flush=True)
    flask(db, "import", str(workload_file(workdir, paragraphs)), "--project", "agree")
    names = ["agree-x", "agree-y", "agree-z"]
    create_users(db, {name: "annotator" for name in names}, [])
    conn = sqlite3.connect(db, isolation_level=None)
    ids = dict(conn.execute("SELECT username, id FROM user"))
    x, y, z = (ids[name] for name in names)
    label_everything(conn, [(x, y), (y, z), (x, z)], seed=5)
    conn.close()
    recount(db)
    done.touch()
    return db


def recount(db: Path) -> None:
    """Set the app's label counters from the annotations written here with plain SQL, as
    anything that writes around the app must (annotator.services.progress.recount)."""
    subprocess.run([PYTHON, "-c", "from annotator import create_app; "
                    "from annotator.extensions import db; "
                    "from annotator.services.progress import recount; "
                    "app = create_app(); app.app_context().push(); recount(db.session)"],
                   env=app_env(db), check=True, capture_output=True)


def create_users(db: Path, roles: dict[str, str], token_for: list[str]) -> dict[str, str]:
    """`flask create-user --password-stdin`, then `flask create-token`, one at a time: two
    concurrent `flask create-user` runs can fail with "database is locked" (the CLI's session
    reads, then writes, in a deferred transaction)."""
    for username, role in roles.items():
        flask(db, "create-user", username, "--role", role, "--password-stdin",
              stdin=PASSWORD + "\n")
    return {name: flask(db, "create-token", name, "--name", "bench").stdout.strip().splitlines()[-1]
            for name in token_for}


def label_everything(conn: sqlite3.Connection, pairs: list[tuple[int, int]], seed: int) -> None:
    """Two annotations per paragraph, straight into `annotation`: the furniture at both ends of
    an article mostly boilerplate, the body mostly other/claim/evidence; the second annotator
    agrees with the first 80% of the time. Article k goes to pairs[k % len(pairs)]."""
    rng = random.Random(seed)
    now = now_text()
    rows = []
    for paragraph_id, article_pk, index, count in conn.execute(
            'SELECT p.id, p.article_id, p."index", a.paragraph_count FROM paragraph p '
            "JOIN article a ON a.id = p.article_id ORDER BY p.id"):
        first, second = pairs[article_pk % len(pairs)]
        furniture = index < 2 or index >= count - 6
        label = ("boilerplate" if furniture and rng.random() < 0.9 else
                 rng.choices(LABELS, weights=(2, 2, 1, 5))[0])
        other = label if rng.random() < 0.8 else rng.choice(LABELS)
        rows += [(paragraph_id, first, label, now, now), (paragraph_id, second, other, now, now)]
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO annotation (paragraph_id, user_id, label, note, created_at, "
                     "updated_at) VALUES (?, ?, ?, NULL, ?, ?)", rows)
    conn.execute("COMMIT")


def finish_first_half(conn: sqlite3.Connection, project_id: int, user_ids: list[int]) -> None:
    """Finished assignments on the first half of the articles: the queue has to skip them."""
    ids = [row[0] for row in conn.execute("SELECT id FROM article WHERE project_id = ? ORDER BY id",
                                          (project_id,))]
    stamp = now_text()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO assignment (article_id, user_id, started_at, touched_at, "
                     "finished_at, pinned) VALUES (?, ?, ?, ?, ?, 0)",
                     [(article, user, stamp, stamp, stamp)
                      for article in ids[:len(ids) // 2] for user in user_ids])
    conn.execute("COMMIT")

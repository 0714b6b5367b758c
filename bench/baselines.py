"""The raw baselines: the same work as each benchmark in plain `sqlite3` + `json`, the practical
limit the annotator's figures are divided by. Same pragmas as the app (WAL, synchronous=NORMAL,
foreign keys, busy timeout); no validation beyond what the data needs.

Whole-process ones are run as `python bench/baselines.py import DB JSONL`,
`... export DB PROJECT OUT` and `... serve DB PORT`; the rest are called in-process."""
from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

LABELS = ("claim", "evidence", "boilerplate", "other")

SCHEMA = """
CREATE TABLE project (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL UNIQUE);
CREATE TABLE article (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES project (id) ON DELETE CASCADE,
    article_id VARCHAR(255) NOT NULL, title TEXT NOT NULL, url TEXT, meta JSON NOT NULL,
    content_hash VARCHAR(64) NOT NULL, paragraph_count INTEGER NOT NULL,
    created_at DATETIME NOT NULL, UNIQUE (project_id, article_id));
CREATE INDEX ix_article_project_content ON article (project_id, content_hash);
CREATE TABLE paragraph (
    id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES article (id) ON DELETE CASCADE,
    "index" INTEGER NOT NULL, text TEXT NOT NULL, UNIQUE (article_id, "index"));
"""


def connect(db_path: Path | str) -> sqlite3.Connection:
    """A connection set up as the app sets up its own; transactions are begun explicitly."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def now_text() -> str:
    """Now in UTC, as SQLAlchemy stores a DateTime in SQLite."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def iso(stored: str | None) -> str | None:
    return None if stored is None else stored[:19].replace(" ", "T") + "Z"


# --- 1. import ------------------------------------------------------------------------------

def import_jsonl(db_path: Path, jsonl: Path) -> int:
    """Read the jsonl with json, insert articles and paragraphs with executemany, one
    transaction; returns the paragraph count."""
    conn = connect(db_path)
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO project (id, name) VALUES (1, 'bench')")
    now = now_text()
    articles, paragraphs = [], []
    with open(jsonl, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            record = json.loads(line)
            title = record["title"].strip()
            texts = [text for text in (p.strip() for p in record["paragraphs"]) if text]
            digest = hashlib.sha256(json.dumps([title, texts], ensure_ascii=False,
                                               separators=(",", ":")).encode()).hexdigest()
            articles.append((number, 1, record["id"], title, record.get("url"),
                             json.dumps(record.get("meta") or {}, ensure_ascii=False), digest,
                             len(texts), now))
            paragraphs.extend((number, index, text) for index, text in enumerate(texts))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO article VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", articles)
    conn.executemany('INSERT INTO paragraph (article_id, "index", text) VALUES (?, ?, ?)',
                     paragraphs)
    conn.execute("COMMIT")
    conn.close()
    return len(paragraphs)


# --- 2. label save --------------------------------------------------------------------------

UPSERT = ("INSERT INTO annotation (paragraph_id, user_id, label, note, created_at, updated_at) "
          "VALUES (?, ?, ?, NULL, ?, ?) ON CONFLICT (paragraph_id, user_id) "
          "DO UPDATE SET label = excluded.label, updated_at = excluded.updated_at")


def saves(db_path: Path, user_id: int, lo: int, hi: int, seconds: float,
          seed: int = 1) -> tuple[int, float, list[float]]:
    """Parse a JSON body, upsert the annotation, commit, in a loop for `seconds`:
    (saves, elapsed seconds, per-save latencies)."""
    conn = connect(db_path)
    rng = random.Random(seed)
    latencies = []
    begin = time.perf_counter()
    deadline = begin + seconds
    while time.perf_counter() < deadline:
        paragraph_id = rng.randint(lo, hi)
        body = json.dumps({"label": rng.choice(LABELS)}).encode()  # what the client sends
        start = time.perf_counter()
        label = json.loads(body)["label"]
        now = now_text()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(UPSERT, (paragraph_id, user_id, label, now, now))
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - start)
    elapsed = time.perf_counter() - begin
    conn.close()
    return len(latencies), elapsed, latencies


# --- 3. article page ------------------------------------------------------------------------

def article_reads(db_path: Path, article_pk: int, user_id: int, count: int) -> list[float]:
    """SELECT the article's paragraphs with the user's annotations, json.dumps the API shape."""
    conn = connect(db_path)
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        pk, article_id, project_id, title, url = conn.execute(
            "SELECT id, article_id, project_id, title, url FROM article WHERE id = ?",
            (article_pk,)).fetchone()
        paragraphs = [{"id": pid, "index": index, "text": text,
                       "annotation": None if label is None else
                       {"label": label, "note": note, "updated_at": iso(updated_at)}}
                      for pid, index, text, label, note, updated_at in conn.execute(
                          'SELECT p.id, p."index", p.text, a.label, a.note, a.updated_at '
                          "FROM paragraph p LEFT JOIN annotation a "
                          "ON a.paragraph_id = p.id AND a.user_id = ? "
                          'WHERE p.article_id = ? ORDER BY p."index"', (user_id, article_pk))]
        json.dumps({"id": pk, "article_id": article_id, "project_id": project_id, "title": title,
                    "url": url, "paragraphs": paragraphs}, ensure_ascii=False)
        latencies.append(time.perf_counter() - start)
    conn.close()
    return latencies


# --- 4. export ------------------------------------------------------------------------------

EXPORT_QUERY = """
SELECT a.article_id, a.title, a.url, p.id, p."index", p.text,
       u.username, an.label, an.note, an.updated_at, g.label
FROM article a JOIN paragraph p ON p.article_id = a.id
LEFT JOIN annotation an ON an.paragraph_id = p.id
LEFT JOIN user u ON u.id = an.user_id
LEFT JOIN gold g ON g.paragraph_id = p.id
WHERE a.project_id = ? ORDER BY a.id, p."index"
"""


def export_jsonl(db_path: Path, project: str, out: Path, fast: bool = False) -> int:
    """One joined SELECT, grouped per paragraph, json.dumps (fast: orjson.dumps) per line;
    returns the line count."""
    if fast:
        import orjson
        dumps = orjson.dumps
    else:
        def dumps(obj: dict) -> bytes:
            return json.dumps(obj, ensure_ascii=False).encode("utf-8")
    conn = connect(db_path)
    (project_id,) = conn.execute("SELECT id FROM project WHERE name = ?", (project,)).fetchone()
    lines = 0
    current = None
    head: dict = {}
    annotations: list[dict] = []
    gold = None

    def flush(handle) -> None:
        annotations.sort(key=lambda annotation: annotation["annotator"])
        label, source = (gold, "gold") if gold is not None else (None, None)
        if gold is None and annotations:
            top, votes = Counter(a["label"] for a in annotations).most_common(1)[0]
            if votes * 2 > len(annotations):
                label, source = top, "majority"
        handle.write(dumps({**head, "annotations": annotations, "label": label,
                            "label_source": source}) + b"\n")

    with open(out, "wb") as handle:
        for (article_id, title, url, paragraph_id, index, text, username, label, note,
             updated_at, gold_label) in conn.execute(EXPORT_QUERY, (project_id,)):
            if paragraph_id != current:
                if current is not None:
                    flush(handle)
                    lines += 1
                current, gold, annotations = paragraph_id, gold_label, []
                head = {"project": project, "article_id": article_id, "title": title, "url": url,
                        "paragraph_index": index, "text": text}
            if username is not None:
                annotations.append({"annotator": username, "label": label, "note": note,
                                    "updated_at": iso(updated_at)})
        if current is not None:
            flush(handle)
            lines += 1
    conn.close()
    return lines


# --- 5. queue and progress ------------------------------------------------------------------

HOLDING = "(s.finished_at IS NOT NULL OR s.pinned OR s.touched_at > :cutoff)"
HELD_QUERY = f"""
SELECT s.article_id FROM assignment s JOIN article a ON a.id = s.article_id
WHERE a.project_id = :project AND s.user_id = :user AND s.finished_at IS NULL AND {HOLDING}
ORDER BY s.pinned DESC, s.article_id LIMIT 1"""
NEXT_QUERY = f"""
SELECT a.id FROM article a
WHERE a.project_id = :project AND a.finished_count < :overlap
  AND NOT EXISTS (SELECT 1 FROM assignment s WHERE s.article_id = a.id AND s.user_id = :user
                  AND {HOLDING})
  AND (SELECT count(s.id) FROM assignment s WHERE s.article_id = a.id AND {HOLDING}) < :overlap
ORDER BY a.id LIMIT 1"""
TOUCH = """
INSERT INTO assignment (article_id, user_id, started_at, touched_at, pinned)
VALUES (:article, :user, :now, :now, 0)
ON CONFLICT (article_id, user_id) DO UPDATE SET touched_at = excluded.touched_at"""


def claim_next(conn: sqlite3.Connection, project_id: int, user_id: int, overlap: int,
               release_minutes: float = 120) -> int | None:
    """The queue's SQL: the held article, else the first one that still needs someone; hold it."""
    now = datetime.now(UTC)
    cutoff = datetime.fromtimestamp(now.timestamp() - release_minutes * 60, UTC)
    params = {"project": project_id, "user": user_id, "overlap": overlap,
              "cutoff": cutoff.strftime("%Y-%m-%d %H:%M:%S.%f")}
    conn.execute("BEGIN IMMEDIATE")
    row = conn.execute(HELD_QUERY, params).fetchone() or conn.execute(NEXT_QUERY, params).fetchone()
    if row is not None:
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        conn.execute(TOUCH, {"article": row[0], "user": user_id, "now": stamp})
    conn.execute("COMMIT")
    json.dumps({"article_id": row and row[0]})
    return row and row[0]


def finish(conn: sqlite3.Connection, article_id: int, user_id: int) -> None:
    """Mark done (not timed: the benchmark's "Shift+Enter" between two queue requests)."""
    conn.execute("BEGIN IMMEDIATE")
    changed = conn.execute("UPDATE assignment SET finished_at = ? WHERE article_id = ? "
                           "AND user_id = ? AND finished_at IS NULL",
                           (now_text(), article_id, user_id)).rowcount
    conn.execute("UPDATE article SET finished_count = finished_count + ? WHERE id = ?",
                 (changed, article_id))
    conn.execute("COMMIT")


def queue_claims(db_path: Path, project_id: int, user_id: int, count: int) -> list[float]:
    conn = connect(db_path)
    (overlap,) = conn.execute("SELECT overlap FROM project WHERE id = ?", (project_id,)).fetchone()
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        article_id = claim_next(conn, project_id, user_id, overlap)
        latencies.append(time.perf_counter() - start)
        if article_id is not None:
            finish(conn, article_id, user_id)
    conn.close()
    return latencies


def progress(conn: sqlite3.Connection, project_id: int, overlap: int,
             user_id: int | None) -> dict:
    """The counts of services/progress.py, from the same counters: a user's own, or (None)
    the project's."""
    articles, paragraphs, labeled, finished = conn.execute(
        "SELECT count(id), coalesce(sum(paragraph_count), 0), coalesce(sum(labeled_count), 0), "
        "count(id) FILTER (WHERE finished_count >= ?) FROM article WHERE project_id = ?",
        (max(overlap, 1), project_id)).fetchone()
    if user_id is not None:
        (labeled,) = conn.execute("SELECT coalesce(sum(count), 0) FROM label_count "
                                  "WHERE project_id = ? AND user_id = ?",
                                  (project_id, user_id)).fetchone()
        (finished,) = conn.execute(
            "SELECT count(s.id) FROM assignment s JOIN article a ON a.id = s.article_id "
            "WHERE a.project_id = ? AND s.user_id = ? AND s.finished_at IS NOT NULL",
            (project_id, user_id)).fetchone()
    return {"articles": articles, "paragraphs": paragraphs, "labeled": labeled,
            "finished": finished}


def projects_page(conn: sqlite3.Connection, user_id: int | None) -> str:
    """The project list: every project with its progress (overall for admins: user_id None)."""
    projects = conn.execute("SELECT id, name, overlap FROM project ORDER BY name").fetchall()
    return json.dumps([{"id": pid, "name": name, **progress(conn, pid, overlap, user_id)}
                       for pid, name, overlap in projects], ensure_ascii=False)


def project_page(conn: sqlite3.Connection, project_id: int, user_id: int) -> str:
    """A project's first page of 50 articles with the user's counts, and the user's progress."""
    (overlap,) = conn.execute("SELECT overlap FROM project WHERE id = ?", (project_id,)).fetchone()
    articles = conn.execute("SELECT id, title, paragraph_count FROM article WHERE project_id = ? "
                            "ORDER BY id LIMIT 50", (project_id,)).fetchall()
    ids = [row[0] for row in articles]
    marks = ",".join("?" * len(ids))
    labeled = dict(conn.execute(
        f"SELECT p.article_id, count(an.id) FROM paragraph p JOIN annotation an "
        f"ON an.paragraph_id = p.id WHERE p.article_id IN ({marks}) AND an.user_id = ? "
        f"GROUP BY p.article_id", (*ids, user_id)).fetchall())
    finished = {row[0] for row in conn.execute(
        f"SELECT article_id FROM assignment WHERE article_id IN ({marks}) AND user_id = ? "
        f"AND finished_at IS NOT NULL", (*ids, user_id))}
    return json.dumps({"articles": [[*row, labeled.get(row[0], 0), row[0] in finished]
                                    for row in articles],
                       "progress": progress(conn, project_id, overlap, user_id)},
                      ensure_ascii=False)


def page_reads(db_path: Path, render, count: int, seconds: float | None = None,
               min_samples: int = 20) -> list[float]:
    """Time `render(conn)` `count` times on one connection (fewer once `seconds` have passed,
    but at least `min_samples`), as the HTTP measurements are capped."""
    conn = connect(db_path)
    latencies = []
    deadline = None if seconds is None else time.perf_counter() + seconds
    for _ in range(count):
        if deadline and len(latencies) >= min_samples and time.perf_counter() > deadline:
            break
        start = time.perf_counter()
        render(conn)
        latencies.append(time.perf_counter() - start)
    conn.close()
    return latencies


# --- 6. agreement ---------------------------------------------------------------------------

def agreement(db_path: Path, project: str) -> tuple[float, int, dict]:
    """SELECT the labels, keep paragraphs with two or more, Cohen's kappa per annotator pair:
    (seconds, items, kappas)."""
    start = time.perf_counter()
    conn = connect(db_path)
    items: dict[int, dict[str, str]] = defaultdict(dict)
    for paragraph_id, username, label in conn.execute(
            "SELECT an.paragraph_id, u.username, an.label FROM annotation an "
            "JOIN paragraph p ON p.id = an.paragraph_id JOIN article a ON a.id = p.article_id "
            "JOIN user u ON u.id = an.user_id JOIN project pr ON pr.id = a.project_id "
            "WHERE pr.name = ? ORDER BY an.paragraph_id", (project,)):
        items[paragraph_id][username] = label
    pairable = [labels for labels in items.values() if len(labels) >= 2]
    annotators = sorted({name for labels in pairable for name in labels})
    kappas = {}
    for a, b in combinations(annotators, 2):
        pairs = [(labels[a], labels[b]) for labels in pairable if a in labels and b in labels]
        if pairs:
            kappas[f"{a}/{b}"] = cohen_kappa(pairs)
    conn.close()
    return time.perf_counter() - start, len(pairable), kappas


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    left, right = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(left[label] * right[label] for label in left) / (n * n)
    return None if chance == 1 else (observed - chance) / (1 - chance)


# --- 7. server start ------------------------------------------------------------------------

def serve(db_path: Path, port: int) -> None:
    """The smallest useful server: http.server answering JSON from the database."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            conn = connect(db_path)
            body = json.dumps({"projects": conn.execute("SELECT count(*) FROM project")
                               .fetchone()[0]}).encode()
            conn.close()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "import":
        print(import_jsonl(Path(args[0]), Path(args[1])), "paragraphs")
    elif command in ("export", "export-orjson"):
        print(export_jsonl(Path(args[0]), args[1], Path(args[2]), command == "export-orjson"),
              "lines")
    elif command == "serve":
        serve(Path(args[0]), int(args[1]))
    else:
        sys.exit(f"unknown command {command!r}: import DB JSONL | export[-orjson] DB PROJECT OUT | "
                 "serve DB PORT")

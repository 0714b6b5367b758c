"""Durability under the production server: concurrent writers, SIGKILL mid-save, SIGKILL mid-import."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from annotator import create_app
from annotator.extensions import db
from annotator.models import Article, Paragraph
from annotator.services.importing import Source, import_sources
from annotator.services.users import create_token, create_user

from servers import ROOT, Server
from testdb import database_url

LABELS = ("claim", "evidence", "boilerplate", "other")
WRITERS = 16


def _flask(env: dict, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "annotator", *args], cwd=ROOT,
                            env=env, input=stdin, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "ANNOTATOR_DATABASE_URL": database_url(tmp_path, "durable.db"),
            "ANNOTATOR_SECRET_KEY": "durability-test", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def team(env):
    """A project with a distinct paragraph for every save, and a token per writer."""
    lines = "\n".join(json.dumps({"id": f"a{n}", "title": f"文章 {n}",
                                  "paragraphs": [f"{n}-{i} 段落 text" for i in range(50)]},
                                 ensure_ascii=False) for n in range(60))
    app = create_app({"TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": env["ANNOTATOR_DATABASE_URL"]})
    with app.app_context():
        import_sources(db.session, "durable", [Source("seed.jsonl", lines.encode(), "jsonl")])
        tokens = [create_token(db.session, create_user(db.session, f"writer{n}", "password1"))
                  for n in range(WRITERS)]
        paragraph_ids = db.session.scalars(select(Paragraph.id).order_by(Paragraph.id)).all()
        db.engine.dispose()
    return tokens, paragraph_ids


def _save(url: str, token: str, paragraph_id: int, label: str) -> int:
    request = urllib.request.Request(
        f"{url}/api/paragraphs/{paragraph_id}/annotation", method="PUT",
        data=json.dumps({"label": label}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def _writers(url: str, tokens: list[str], paragraph_ids: list[int], seconds: float):
    """16 threads, each saving its own share of paragraphs once; returns acknowledged saves
    {(writer, paragraph): label}, HTTP errors and connection failures."""
    acknowledged: dict[tuple[int, int], str] = {}
    http_errors: list[str] = []
    refused: list[str] = []
    stop_at = time.monotonic() + seconds

    def run(writer: int) -> None:
        for position, paragraph_id in enumerate(paragraph_ids[writer::len(tokens)]):
            if time.monotonic() > stop_at:
                return
            label = LABELS[(writer + position) % len(LABELS)]
            try:
                status = _save(url, tokens[writer], paragraph_id, label)
            except urllib.error.HTTPError as error:
                http_errors.append(f"{error.code} {error.read()[:200]!r}")
                continue
            except OSError as error:  # the server is gone: this save was never acknowledged
                refused.append(str(error))
                return
            if status == 200:
                acknowledged[(writer, paragraph_id)] = label

    threads = [threading.Thread(target=run, args=(writer,)) for writer in range(len(tokens))]
    for thread in threads:
        thread.start()
    return threads, acknowledged, http_errors, refused


def _stored(env: dict) -> dict[tuple[str, int], str]:
    engine = create_engine(env["ANNOTATOR_DATABASE_URL"], poolclass=NullPool)
    with engine.connect() as connection:
        rows = connection.execute(text(
            'SELECT u.username, a.paragraph_id, a.label FROM annotation a JOIN "user" u ON u.id = a.user_id'))
        stored = {(username, paragraph_id): label for username, paragraph_id, label in rows}
    engine.dispose()
    return stored


def _missing(acknowledged, stored) -> list:
    return [(writer, paragraph, label) for (writer, paragraph), label in acknowledged.items()
            if stored.get((f"writer{writer}", paragraph)) != label]


def test_sixteen_concurrent_writers_get_no_errors_and_keep_every_acknowledged_save(env, team):
    tokens, paragraph_ids = team
    server = Server("gunicorn", env)
    try:
        threads, acknowledged, http_errors, refused = _writers(server.url, tokens, paragraph_ids, 4.0)
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.kill()
    assert http_errors == [] and refused == []
    assert len(acknowledged) > 100
    assert _missing(acknowledged, _stored(env)) == []


def test_sigkill_of_the_server_mid_save_loses_no_acknowledged_save(env, team):
    tokens, paragraph_ids = team
    server = Server("gunicorn", env)
    threads, acknowledged, http_errors, refused = _writers(server.url, tokens, paragraph_ids, 30.0)
    time.sleep(1.5)
    server.kill()  # SIGKILL to master and workers, mid-request
    for thread in threads:
        thread.join(timeout=60)
    assert http_errors == []
    assert refused, "the server was killed while writers were saving"
    assert len(acknowledged) > 20
    assert _missing(acknowledged, _stored(env)) == []


@pytest.mark.parametrize("delay", [0.8, 1.6, 2.4])
def test_sigkill_of_flask_import_leaves_all_of_it_or_none(env, tmp_path, delay):
    path = tmp_path / "big.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for n in range(3000):
            out.write(json.dumps({"id": f"b{n}", "title": f"T{n}",
                                  "paragraphs": [f"{n}/{i} 中文 and English text " * 3 for i in range(25)]},
                                 ensure_ascii=False) + "\n")
    _flask(env, "create-user", "someone", "--password-stdin", stdin="password1\n")  # migrated
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "annotator", "import",
                                str(path), "--project", "big"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    engine = create_engine(env["ANNOTATOR_DATABASE_URL"], poolclass=NullPool)
    with engine.connect() as connection:
        articles = connection.scalar(select(func.count()).select_from(Article.__table__))
        paragraphs = connection.scalar(text("SELECT count(*) FROM paragraph"))
    engine.dispose()
    assert (articles, paragraphs) in ((0, 0), (3000, 75000))

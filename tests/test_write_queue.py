"""The writers' queue is bounded: a writer that cannot have SQLite's write lock within
ANNOTATOR_WRITE_WAIT_SECONDS (or SQLite's own busy timeout, for writers outside the app) gets
a 503 with Retry-After and a clear message, and writes nothing; a command exits 1 with it."""
from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from annotator import create_app
from annotator.extensions import db
from annotator.models import Annotation, Project, User

from helpers import (article_pks, bearer, csrf_headers, import_articles, login, make_user,
                     paragraph_pks)
from testdb import ON_POSTGRES

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's writers' queue")

WAIT = 0.5  # ANNOTATOR_WRITE_WAIT_SECONDS in these tests


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "WRITE_WAIT_SECONDS": WAIT,
                      "SQLITE_BUSY_TIMEOUT_MS": 300,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'queue.db'}"})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def paragraph(app) -> int:
    make_user(app, "ann")
    import_articles(app, "p", [{"id": "a", "title": "t", "paragraphs": ["一", "two"]}])
    return paragraph_pks(app, article_pks(app, "p")[0])[0]


@contextmanager
def writers_lock_held(app):
    """Hold the writers' queue (the flock on DATABASE.write-lock) as another process would."""
    with app.app_context():
        path = db.engine.url.database + ".write-lock"
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _annotations(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Annotation.id)))


def test_a_writer_waiting_past_the_deadline_gets_503_with_retry_after(app, client, paragraph):
    headers = bearer(app, "ann")
    with writers_lock_held(app):
        started = time.monotonic()
        response = client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": "claim"},
                              headers=headers)
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert "database is busy" in response.json["error"]
    assert "ANNOTATOR_WRITE_WAIT_SECONDS" in response.json["error"]
    assert WAIT <= waited < WAIT + 1.5
    assert _annotations(app) == 0
    again = client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": "claim"},
                       headers=headers)
    assert again.status_code == 200 and _annotations(app) == 1


def test_a_web_form_waiting_past_the_deadline_gets_a_503_page(app, client):
    make_user(app, "root", "admin")
    assert login(client, "root").status_code == 302
    headers = csrf_headers(client, "/admin/projects/new")
    with writers_lock_held(app):
        response = client.post("/admin/projects/new", data={"name": "busy"}, headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert "The database is busy with other changes" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Project.id).where(Project.name == "busy")) is None


def test_a_waiting_writer_goes_ahead_as_soon_as_the_lock_is_free(app, client, paragraph):
    headers = bearer(app, "ann")
    release = threading.Event()

    def hold() -> None:
        with writers_lock_held(app):
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    response = client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": "claim"},
                          headers=headers)
    waited = time.monotonic() - started
    holder.join()
    # it waited for the lock, and was let in when the lock went: past its deadline (WAIT) it
    # would have had a 503 (the total time is no measure: a loaded machine adds to it)
    assert response.status_code == 200
    assert waited > 0.15


def test_a_writer_outside_the_app_past_the_busy_timeout_gives_503(app, client, paragraph):
    headers = bearer(app, "ann")
    with app.app_context():
        path = db.engine.url.database
    outsider = sqlite3.connect(path, isolation_level=None)  # a sqlite3 shell: no queue file
    outsider.execute("BEGIN IMMEDIATE")
    try:
        response = client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": "claim"},
                              headers=headers)
    finally:
        outsider.execute("ROLLBACK")
        outsider.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert "ANNOTATOR_SQLITE_BUSY_TIMEOUT_MS" in response.json["error"]
    assert _annotations(app) == 0


def test_an_import_command_waiting_past_the_deadline_exits_with_a_message(app, runner, tmp_path):
    path = tmp_path / "late.jsonl"
    path.write_text('{"id": "late", "title": "t", "paragraphs": ["p"]}\n', encoding="utf-8")
    with writers_lock_held(app):
        result = runner.invoke(args=["import", str(path), "--project", "late"])
    assert result.exit_code == 1
    assert "Error: the database is busy" in result.output
    assert "ANNOTATOR_WRITE_WAIT_SECONDS" in result.output
    assert result.exc_info[0] is SystemExit  # a message, not an exception's traceback
    with app.app_context():
        assert db.session.scalar(select(Project.id).where(Project.name == "late")) is None


def test_a_command_outlasted_by_a_writer_outside_the_app_exits_with_a_message(app, runner):
    with app.app_context():
        path = db.engine.url.database
    outsider = sqlite3.connect(path, isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    try:
        result = runner.invoke(args=["create-user", "late", "--password-stdin"],
                               input="password1\n")
    finally:
        outsider.execute("ROLLBACK")
        outsider.close()
    assert result.exit_code == 1
    assert "Error: the database is busy" in result.output
    assert "ANNOTATOR_SQLITE_BUSY_TIMEOUT_MS" in result.output
    assert result.exc_info[0] is SystemExit
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.username == "late")) is None


def test_an_app_starting_while_a_writer_holds_the_database_starts(app, caplog):
    config = {key: app.config[key] for key in (
        "TESTING", "SECRET_KEY", "WRITE_WAIT_SECONDS", "SQLALCHEMY_DATABASE_URI")}
    with writers_lock_held(app):
        started = create_app(config)  # its statistics refresh waits, gives up, and says so
    with started.app_context():
        db.engine.dispose()
    assert "could not refresh SQLite statistics" in caplog.text


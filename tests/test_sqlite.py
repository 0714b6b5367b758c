"""What SQLite needs beyond the SQL: writers queue on a file lock beside the database
(WriterQueueConnection), held from BEGIN IMMEDIATE to COMMIT or ROLLBACK, never by readers,
and released when a writer fails; the query planner gets statistics at start and after an
import."""
from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from sqlalchemy import select, text

from annotator import create_app
from annotator.database import write_transaction
from annotator.extensions import db
from annotator.models import Project

from helpers import import_articles
from testdb import ON_POSTGRES

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's writers' lock")


def lock_is_free(path: str) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the lock if we took it
    return True


@pytest.fixture
def lock_path(app):
    with app.app_context():
        return db.engine.url.database + ".write-lock"


def test_a_write_transaction_holds_the_lock_until_it_commits(app, session, lock_path):
    with write_transaction(session):
        session.add(Project(name="one"))
        session.flush()  # BEGIN IMMEDIATE and the INSERT
        assert not lock_is_free(lock_path)
        session.commit()
    assert lock_is_free(lock_path)
    assert session.scalar(select(Project.name)) == "one"


def test_a_rolled_back_or_failed_write_releases_the_lock(app, session, lock_path):
    with write_transaction(session):
        session.add(Project(name="gone"))
        session.flush()
        assert not lock_is_free(lock_path)
        session.rollback()
    assert lock_is_free(lock_path)
    with write_transaction(session):
        with pytest.raises(Exception):
            session.execute(text("INSERT INTO no_such_table VALUES (1)"))
        session.rollback()
    assert lock_is_free(lock_path)
    assert session.scalar(select(Project.name)) is None


def test_readers_never_take_the_lock(app, session, lock_path):
    session.scalar(select(Project.id))  # a read transaction is open now
    assert lock_is_free(lock_path)
    session.commit()


def test_a_second_writer_waits_for_the_first_to_commit(app, lock_path):
    """Two threads write at once: the second's transaction begins only once the first has
    committed, and both writes are there."""
    events: list[tuple[str, float]] = []
    first_holds = threading.Event()

    def write(name: str, hold: float) -> None:
        with app.app_context():
            with write_transaction(db.session):
                db.session.add(Project(name=name))
                db.session.flush()
                events.append((f"{name} began", time.monotonic()))
                if hold:
                    first_holds.set()
                    time.sleep(hold)
                db.session.commit()
                events.append((f"{name} committed", time.monotonic()))

    first = threading.Thread(target=write, args=("first", 0.3))
    first.start()
    assert first_holds.wait(10)
    second = threading.Thread(target=write, args=("second", 0))
    second.start()
    first.join(10), second.join(10)
    order = [name for name, _ in sorted(events, key=lambda event: event[1])]
    assert order == ["first began", "first committed", "second began", "second committed"]
    with app.app_context():
        assert sorted(db.session.scalars(select(Project.name))) == ["first", "second"]


def _statistics(session) -> dict[str, int]:
    """Rows the planner believes each table has, from sqlite_stat1."""
    rows = session.execute(text("SELECT tbl, stat FROM sqlite_stat1")).all()
    return {table: int(stat.split()[0]) for table, stat in rows if stat}


def test_an_import_gives_the_planner_fresh_statistics(app, session):
    import_articles(app, "big", [{"title": f"T{n}", "paragraphs": [f"p{n}-{i}" for i in range(30)]}
                                 for n in range(20)])
    session.expire_all()
    assert _statistics(session)["paragraph"] == 600
    assert _statistics(session)["article"] == 20


def test_a_start_gives_the_planner_statistics(app, session):
    session.add(Project(name="one"))
    session.execute(text("DELETE FROM sqlite_stat1"))
    session.commit()
    restarted = create_app({"TESTING": True, "SECRET_KEY": "test",
                            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    with restarted.app_context():
        tables = {row[0] for row in db.session.execute(text("SELECT tbl FROM sqlite_stat1"))}
        db.session.remove()
        db.engine.dispose()
    assert "project" in tables

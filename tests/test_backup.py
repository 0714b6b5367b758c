"""`flask backup` and `flask restore` on a real SQLite file: a backup finishes while people
save labels, a failed one leaves nothing behind, awkward paths work, and a damaged database
at start is a clear message that names `flask restore`."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from annotator import UnusableDatabase, create_app
from annotator.extensions import db
from annotator.models import Paragraph
from annotator.services import backup

from helpers import bearer, import_articles, make_user
from testdb import ON_POSTGRES

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="backup and restore are for SQLite files")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _articles(count: int, paragraphs: int = 20) -> list[dict]:
    return [{"id": f"a{n}", "title": f"文章 {n}",
             "paragraphs": [f"第 {n}.{i} 段：" + "一些中文和 some English text. " * 8
                            for i in range(paragraphs)]}
            for n in range(count)]


def _database_file(app) -> Path:
    with app.app_context():
        return Path(db.engine.url.database)


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _flask(args: list[str], database: Path, cwd: Path, timeout: float = 60):
    """Run a real `flask` process on the database file."""
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": f"sqlite:///{database}",
           "ANNOTATOR_SECRET_KEY": "test", "FLASK_APP": "annotator",
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([str(BIN / "flask"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


_SAVE_UNTIL_STOPPED = """
import sys
from pathlib import Path
from annotator import create_app
database, token, stop, first, count = sys.argv[1:]
app = create_app({"TESTING": True, "SECRET_KEY": "test",
                  "SQLALCHEMY_DATABASE_URI": "sqlite:///" + database})
client, labels, saves = app.test_client(), ("claim", "evidence", "boilerplate", "other"), 0
while not Path(stop).exists():
    paragraph = int(first) + (saves * 7919) % int(count)
    response = client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": labels[saves % 4]},
                          headers={"Authorization": "Bearer " + token})
    assert response.status_code == 200, response.get_data(as_text=True)
    saves += 1
    if saves == 1:
        print("saving", flush=True)
print(saves, flush=True)
"""


def test_backup_finishes_while_annotators_keep_saving(app, tmp_path):
    import_articles(app, "news", _articles(12_000))  # about 85 MB
    with app.app_context():
        first, last = db.session.execute(select(func.min(Paragraph.id), func.max(Paragraph.id))).one()
    database, stop = _database_file(app), tmp_path / "stop"
    writers = []
    for n in range(3):  # annotators saving from processes of their own, as gunicorn's workers do
        make_user(app, f"u{n}")
        token = bearer(app, f"u{n}")["Authorization"].removeprefix("Bearer ")
        writers.append(subprocess.Popen(
            [sys.executable, "-c", _SAVE_UNTIL_STOPPED, str(database), token, str(stop),
             str(first), str(last - first + 1)], cwd=ROOT, stdout=subprocess.PIPE, text=True))
    target = tmp_path / "backups" / "copy.db"
    target.parent.mkdir()
    result: dict = {}

    def run_backup() -> None:
        try:
            with app.app_context():
                result["size"] = backup.backup(db.engine, target)
        except Exception as error:  # reported below, in the test's thread
            result["error"] = error

    backing_up = threading.Thread(target=run_backup)
    try:
        for writer in writers:
            assert writer.stdout.readline() == "saving\n"
        started = time.monotonic()
        backing_up.start()
        backing_up.join(timeout=30)
        finished = not backing_up.is_alive()
        elapsed = time.monotonic() - started
    finally:
        stop.touch()
        saves = [int(writer.communicate(timeout=60)[0]) for writer in writers]
        if backing_up.is_alive():
            backing_up.join()
    assert all(writer.returncode == 0 for writer in writers)
    assert finished, f"the backup did not finish within 30 s while annotators saved ({saves})"
    assert "error" not in result, result.get("error")
    print(f"backup of {result['size'] / 1e6:.1f} MB in {elapsed:.2f} s; saves {saves}")
    assert result["size"] > 70_000_000
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("SELECT count(*) FROM article").fetchone()[0] == 12_000
        assert copy.execute("SELECT count(*) FROM paragraph").fetchone()[0] == 240_000
        assert copy.execute("SELECT count(*) FROM annotation").fetchone()[0] >= 3
    assert [path.name for path in target.parent.iterdir()] == ["copy.db"]


_BACKUP_WITH_FILE_SIZE_LIMIT = """
import resource, signal, sys
from pathlib import Path
from sqlalchemy import create_engine
from annotator.services.backup import BackupError, backup
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
try:
    backup(create_engine("sqlite:///" + sys.argv[1]), Path(sys.argv[2]))
except BackupError as error:
    sys.exit(f"BackupError: {error}")
"""


def test_a_backup_failing_midway_leaves_no_partial_file(app, tmp_path):
    import_articles(app, "news", _articles(400))  # more than the 1 MB a write may reach
    source = _database_file(app)
    with sqlite3.connect(source) as connection:
        assert connection.execute("PRAGMA page_count").fetchone()[0] * 4096 > 1_500_000
    target = tmp_path / "backups" / "copy.db"
    target.parent.mkdir()
    done = subprocess.run([sys.executable, "-c", _BACKUP_WITH_FILE_SIZE_LIMIT, str(source),
                           str(target)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "BackupError: backup to" in done.stderr and "nothing was written" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert list(target.parent.iterdir()) == []


def test_backup_into_a_missing_directory_is_a_clear_error(runner, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "copy.db"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 1
    assert f"{target.parent} is not a directory" in result.output
    assert not (tmp_path / "no").exists()


def test_backup_to_an_existing_file_or_over_an_interrupted_one_is_refused(runner, tmp_path):
    (tmp_path / "taken.db").write_bytes(b"keep me")
    result = runner.invoke(args=["backup", str(tmp_path / "taken.db")])
    assert result.exit_code == 1 and "exists: choose a new file name" in result.output
    assert (tmp_path / "taken.db").read_bytes() == b"keep me"
    (tmp_path / "other.db.partial").write_bytes(b"")
    result = runner.invoke(args=["backup", str(tmp_path / "other.db")])
    assert result.exit_code == 1 and "another backup is running" in result.output
    assert not (tmp_path / "other.db").exists()


@pytest.mark.parametrize("name", ["a#b.db", "what?.db", "100%?x=1#y.db"])
def test_backup_and_restore_a_path_with_uri_characters(app, runner, tmp_path, name):
    import_articles(app, "news", _articles(3, paragraphs=2))
    folder = tmp_path / "backups"
    folder.mkdir()
    result = runner.invoke(args=["backup", str(folder / name)])
    assert result.exit_code == 0, result.output
    assert [path.name for path in folder.iterdir()] == [name]
    import_articles(app, "news", [{"id": "later", "title": "Later", "paragraphs": ["x"]}])
    result = runner.invoke(args=["restore", "--yes", str(folder / name)])
    assert result.exit_code == 0, result.output
    assert _count(_database_file(app), "article") == 3
    assert [path.name for path in folder.iterdir()] == [name]  # no stray empty file


def test_restore_accepts_a_vacuum_into_copy(app, runner, tmp_path):
    import_articles(app, "news", _articles(5, paragraphs=3))
    copy = tmp_path / "vacuumed.db"
    with sqlite3.connect(_database_file(app)) as connection:
        connection.execute("VACUUM INTO ?", (str(copy),))
    import_articles(app, "news", [{"id": "later", "title": "Later", "paragraphs": ["x"]}])
    result = runner.invoke(args=["restore", "--yes", str(copy)])
    assert result.exit_code == 0, result.output
    assert _count(_database_file(app), "article") == 5
    assert sorted(path.name for path in tmp_path.iterdir() if "vacuumed" in path.name) == [
        "vacuumed.db"]


def test_restore_refuses_a_file_that_is_not_a_backup_and_changes_nothing(app, runner, tmp_path):
    import_articles(app, "news", _articles(2, paragraphs=2))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(8192))
    result = runner.invoke(args=["restore", "--yes", str(garbage)])
    assert result.exit_code == 1 and "not a SQLite database" in result.output
    assert _count(_database_file(app), "article") == 2


def _corrupt(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 1000)


def test_a_corrupt_database_at_start_names_the_file_and_flask_restore(app, tmp_path):
    database = _database_file(app)
    with app.app_context():
        db.engine.dispose()
    _corrupt(database)
    with pytest.raises(UnusableDatabase) as raised:
        create_app({"TESTING": True, "SECRET_KEY": "test",
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    assert str(raised.value) == (f"{database} is not a usable SQLite database (file is not a "
                                 "database): restore a backup with `flask restore FILE`")
    done = _flask(["export", "--project", "news"], database, cwd=tmp_path)
    assert done.returncode == 1
    assert "is not a usable SQLite database (file is not a database)" in done.stderr
    assert "flask restore FILE" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_gunicorn_refuses_to_start_on_a_corrupt_database(tmp_path):
    database = tmp_path / "annotator.db"
    _corrupt(database)
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": f"sqlite:///{database}",
           "ANNOTATOR_SECRET_KEY": "test", "ANNOTATOR_WORKERS": "1",
           "ANNOTATOR_BIND": "127.0.0.1:0", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "is not a usable SQLite database (file is not a database)" in done.stderr, done.stderr
    assert "flask restore FILE" in done.stderr and "Traceback" not in done.stderr


def test_flask_restore_replaces_a_corrupt_database(app, runner, tmp_path):
    import_articles(app, "news", _articles(4, paragraphs=2))
    copy = tmp_path / "copy.db"
    assert runner.invoke(args=["backup", str(copy)]).exit_code == 0
    database = _database_file(app)
    with app.app_context():
        db.engine.dispose()
    _corrupt(database)
    done = _flask(["restore", "--yes", str(copy)], database, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    done = _flask(["export", "--project", "news"], database, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 8
    assert not Path(str(database) + ".restoring").exists()

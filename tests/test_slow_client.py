"""A real server (`flask run` and gunicorn) facing slow and oversized request bodies: a client
that trickles a body holds no transaction (so no save waits for it), and a chunked body over
the limit is refused whole."""
from __future__ import annotations

import fcntl
import http.cookiejar
import json
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from annotator import create_app
from annotator.extensions import db
from annotator.models import Paragraph, Project
from annotator.services.importing import Source, import_sources
from annotator.services.users import create_token, create_user

from servers import Server
from testdb import database_url

PASSWORD = "password1"
UPLOAD_MB = 0.01  # ANNOTATOR_MAX_UPLOAD_MB for the server: oversized bodies stay small
UPLOAD_LIMIT = int(UPLOAD_MB * 1024 * 1024)  # 10,485 bytes
RECORD_SIZE = 233  # bytes per JSONL record in the chunked uploads: 45 fill the limit exactly
TRICKLE_SECONDS = 3.0
SLOW_BODY = 10_000  # the Content-Length a slow client announces: within every limit


@pytest.fixture(scope="module", params=["flask", "gunicorn"])
def server(request, tmp_path_factory):
    """A server on a database with one article, an annotator who signs in with a password,
    and an admin with a token."""
    url = database_url(tmp_path_factory.mktemp("slow"), "slow.db")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANNOTATOR_", "FLASK_"))}
    env.update(ANNOTATOR_DATABASE_URL=url, ANNOTATOR_SECRET_KEY="slow-client",
               ANNOTATOR_MAX_UPLOAD_MB=str(UPLOAD_MB), PYTHONUNBUFFERED="1")
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        record = {"id": "a", "title": "慢", "paragraphs": [f"段落 {n}" for n in range(40)]}
        import_sources(db.session, "slow",
                       [Source("seed.jsonl", json.dumps(record).encode(), "jsonl")])
        create_user(db.session, "slowpoke", PASSWORD)
        token = create_token(db.session, create_user(db.session, "boss", PASSWORD, "admin"))
        paragraphs = db.session.scalars(select(Paragraph.id).order_by(Paragraph.id)).all()
        project_id = db.session.scalar(select(Project.id))
        db.engine.dispose()
    running = Server(request.param, env)
    running.database_url, running.token, running.paragraphs = url, token, paragraphs
    running.project_id = project_id
    yield running
    running.kill()


def _session_cookie(server) -> str:
    """Sign in through the login form; the Cookie header of the signed-in session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(server.url + "/login").read().decode()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    opener.open(server.url + "/login",
                data=f"csrf_token={csrf}&username=slowpoke&password={PASSWORD}".encode())
    assert any(cookie.name == "session" for cookie in jar)
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def _save(server, paragraph_id: int) -> tuple[int, float]:
    """Label one paragraph with the admin's token; the status and the seconds it took."""
    request = urllib.request.Request(
        f"{server.url}/api/paragraphs/{paragraph_id}/annotation", method="PUT",
        data=json.dumps({"label": "claim"}).encode(),
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, time.perf_counter() - started


def _no_transaction_open(database_url: str) -> bool:
    """True when no connection of the server holds a transaction: SQLite's write lock and the
    writers' queue are free; on PostgreSQL no session is idle in a transaction."""
    if database_url.startswith("postgresql"):
        engine = create_engine(database_url, poolclass=NullPool)
        with engine.connect() as connection:
            idle = connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"))
        engine.dispose()
        return idle == 0
    path = database_url.removeprefix("sqlite:///")
    with open(path + ".write-lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(lock, fcntl.LOCK_UN)
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def _trickle(server, head: str) -> tuple[socket.socket, threading.Event]:
    """Send a request's head, then its body one byte at a time (every 0.1 s, for at most
    TRICKLE_SECONDS); set the event to stop early."""
    connection = socket.create_connection(("127.0.0.1", server.port))
    connection.sendall(head.encode())
    stop = threading.Event()

    def run() -> None:
        deadline = time.monotonic() + TRICKLE_SECONDS
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                connection.sendall(b"a")
            except OSError:
                return
            stop.wait(0.1)

    threading.Thread(target=run, daemon=True).start()
    return connection, stop


def _still_sending(connection: socket.socket) -> bool:
    """True when the server has not answered the trickled request: it is still reading it."""
    try:
        connection.recv(1, socket.MSG_DONTWAIT)  # an answer, or b"" for a closed connection
    except BlockingIOError:
        return True
    return False


SLOW_REQUESTS = {
    # the case: a session-cookie write on /api loads the user before reading the form
    "cookie DELETE annotation": lambda server: (
        f"DELETE /api/paragraphs/{server.paragraphs[0]}/annotation HTTP/1.1\r\nHost: x\r\n"
        f"Cookie: {_session_cookie(server)}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {SLOW_BODY}\r\n\r\n"),
    # a bearer-token write that reads a JSON body
    "token PUT gold": lambda server: (
        f"PUT /api/paragraphs/{server.paragraphs[1]}/gold HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {SLOW_BODY}\r\n\r\n"),
    # an import upload
    "token POST import": lambda server: (
        f"POST /api/projects/{server.project_id}/import HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {server.token}\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {SLOW_BODY}\r\n\r\n"),
}


def _quiet_within(database_url: str, seconds: float) -> bool:
    """True when, at some moment within `seconds`, no transaction is open. A transaction held
    while the slow body is read would stay open all along; the server's own short writes (the
    suggestions' background propagating the saves just made) come and go."""
    deadline = time.monotonic() + seconds
    while not _no_transaction_open(database_url):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("kind", SLOW_REQUESTS)
def test_a_client_trickling_a_body_holds_up_no_save(server, kind):
    connection, stop = _trickle(server, SLOW_REQUESTS[kind](server))
    try:
        time.sleep(0.5)  # the server has the head and is waiting for the body
        timings = [_save(server, paragraph_id) for paragraph_id in server.paragraphs[10:13]]
        quiet = _quiet_within(server.database_url, seconds=1.0)
        assert _still_sending(connection), "the slow request must still be in progress"
    finally:
        stop.set()
        connection.close()
    assert [status for status, _ in timings] == [200, 200, 200]
    assert max(seconds for _, seconds in timings) < 1.0, timings
    assert quiet, "a transaction was open while the server read the slow client's body"


def test_a_raw_upload_without_credentials_is_refused_before_its_body_arrives(server):
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        connection.sendall((f"POST /api/projects/{server.project_id}/import HTTP/1.1\r\n"
                            "Host: x\r\nContent-Type: application/x-ndjson\r\n"
                            f"Content-Length: {UPLOAD_LIMIT}\r\n\r\n").encode())
        answer = connection.recv(200)  # the body is never sent
    finally:
        connection.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer


def _chunked_post(server, path: str, body: bytes, content_type: str) -> tuple[int, dict]:
    """POST `body` with Transfer-Encoding: chunked (4 KiB chunks, no Content-Length)."""
    request = urllib.request.Request(
        server.url + path, method="POST",
        data=(body[start:start + 4096] for start in range(0, len(body), 4096)),
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": content_type,
                 "Transfer-Encoding": "chunked"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _records(count: int, prefix: str) -> bytes:
    """`count` JSONL records of exactly RECORD_SIZE bytes each (newline included)."""
    lines = []
    for n in range(count):
        line = json.dumps({"id": f"{prefix}{n:04d}", "title": "", "paragraphs": ["x"]})
        padding = "t" * (RECORD_SIZE - len(line) - 1)
        lines.append(line.replace('"title": ""', f'"title": "{padding}"') + "\n")
    assert {len(line) for line in lines} == {RECORD_SIZE}
    return "".join(lines).encode()


def _article_count(server) -> int:
    engine = create_engine(server.database_url, poolclass=NullPool)
    with engine.connect() as connection:
        count = connection.scalar(text("SELECT count(*) FROM article"))
    engine.dispose()
    return count


def test_a_chunked_upload_over_the_limit_is_413_and_stores_nothing(server):
    # The limit falls exactly between two records: a body cut there would import cleanly.
    assert UPLOAD_LIMIT % RECORD_SIZE == 0
    body = _records(UPLOAD_LIMIT // RECORD_SIZE + 20, "over")
    before = _article_count(server)
    status, answer = _chunked_post(server, f"/api/projects/{server.project_id}/import", body,
                                   "application/x-ndjson")
    assert status == 413, answer
    assert "0.01 MB" in answer["error"] and "ANNOTATOR_MAX_UPLOAD_MB" in answer["error"]
    assert _article_count(server) == before


def test_a_chunked_upload_of_exactly_the_limit_is_imported_whole(server):
    body = _records(UPLOAD_LIMIT // RECORD_SIZE, f"{server.process.pid}-")
    assert len(body) == UPLOAD_LIMIT
    status, answer = _chunked_post(server, f"/api/projects/{server.project_id}/import", body,
                                   "application/x-ndjson")
    assert status == 200, answer
    assert answer["added"] == UPLOAD_LIMIT // RECORD_SIZE

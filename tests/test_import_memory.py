"""The import's memory stays flat in the file's size (importing.py: records are read a line at
a time and spooled, then stored a batch at a time), and it stays all or nothing. A web upload
is written to a temporary file as it arrives and imported from there, never held whole."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from annotator import create_app
from annotator.extensions import db
from annotator.models import Article, Paragraph, Project
from annotator.services.importing import get_or_create_project
from annotator.services.users import create_token, create_user

from servers import ROOT, Server
from testdb import database_url

MB = 1024
# `flask import` in a child process that reports its own peak RSS (KB on Linux) on stderr
_MEASURED = ("import resource, sys\nfrom flask.cli import main\ntry:\n    main()\nfinally:\n"
             "    print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
             "file=sys.stderr)")


def _import(tmp_path: Path, workload: Path, name: str
            ) -> tuple[subprocess.CompletedProcess, int, str]:
    """Run the import; what it printed, its peak RSS and its database's URL."""
    url = database_url(tmp_path, f"{name}.db")
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": url, "ANNOTATOR_SECRET_KEY": "memory-test"}
    done = subprocess.run([sys.executable, "-c", _MEASURED, "--app", "annotator", "import",
                           str(workload), "--project", name], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    peak = int(done.stderr.rpartition("maxrss ")[2].split()[0])
    return done, peak, url


def _workload(tmp_path: Path, articles: int) -> Path:
    path = tmp_path / f"w{articles}.jsonl"
    subprocess.run([sys.executable, "bench/workload.py", str(articles), str(path), "25"],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    return path


def _counts(url: str) -> tuple[int, int]:
    """Articles and paragraphs stored."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        counts = tuple(connection.scalar(select(func.count()).select_from(table))
                       for table in (Article, Paragraph))
    engine.dispose()
    return counts


@pytest.mark.slow
def test_peak_memory_of_an_import_does_not_grow_with_the_file(tmp_path):
    small, large = _workload(tmp_path, 1000), _workload(tmp_path, 4000)  # 25k, 100k paragraphs
    done_small, peak_small, _ = _import(tmp_path, small, "small")
    assert done_small.returncode == 0 and "25000 paragraphs" in done_small.stdout, done_small.stderr
    done_large, peak_large, url = _import(tmp_path, large, "large")
    assert done_large.returncode == 0, done_large.stderr
    assert "4000 articles added, 0 skipped (already present), 100000 paragraphs" in done_large.stdout
    # 4 times the file (23 MB of jsonl): holding every record, as the import did before its
    # spool, grew by 81 MB (104 -> 185 MB); flat, 92 -> 95 MB (allocator, SQLite's cache)
    assert peak_large - peak_small < 10 * MB, (peak_small, peak_large)
    assert _counts(url) == (4000, 100_000)


def test_a_bad_line_at_the_end_of_a_large_file_stores_nothing(tmp_path):
    """The spool keeps the import atomic: every line is checked before anything is written,
    the last one too, and the error names its line."""
    workload = _workload(tmp_path, 1000)
    with workload.open("ab") as out:
        out.write(b'{"title": "broken", "paragraphs": [1]}\n')
    done, _, url = _import(tmp_path, workload, "broken")
    assert done.returncode != 0
    assert f"{workload}:1001: \"paragraphs\" must be a list of strings" in done.stderr
    assert _counts(url) == (0, 0)


def _peak_rss_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in KB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.partition("VmHWM:")[2].split()[0])


def _post_file(server: Server, path: str, token: str, file: Path, *, multipart: bool) -> dict:
    """POST the file from disk, a block at a time (http.client), as the raw body or as a
    multipart `file`; the JSON answer."""
    headers = {"Authorization": f"Bearer {token}"}
    if multipart:
        boundary = "annotator-test-boundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{file.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        size = len(head) + file.stat().st_size + len(tail)

        def body():
            yield head
            with file.open("rb") as handle:
                while block := handle.read(64 * 1024):
                    yield block
            yield tail
        data = body()
    else:
        headers["Content-Type"] = "application/x-ndjson"
        size, data = file.stat().st_size, None
    headers["Content-Length"] = str(size)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    try:
        if data is None:
            with file.open("rb") as handle:
                connection.request("POST", path, body=handle, headers=headers)
                response = connection.getresponse()
        else:
            connection.request("POST", path, body=data, headers=headers)
            response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200, answer
        return answer
    finally:
        connection.close()


def test_a_large_web_upload_is_imported_without_holding_it_in_memory(tmp_path):
    """A 32 MB file (one article's line, 3,000 times: cheap to store) uploaded to the API
    as a raw body and as a multipart file: the server's peak memory grows far less than the
    file (+6 MB raw, +0 as a file, measured). Before, the body was read whole (get_data,
    upload.read()): +77 MB for the raw body."""
    url = database_url(tmp_path, "upload.db")
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    line = json.dumps({"id": "same", "title": "Same article",
                       "paragraphs": [f"paragraph {n} " + "x" * 100 for n in range(100)]})
    with app.app_context():
        token = create_token(db.session, create_user(db.session, "boss", "password1", "admin"))
        get_or_create_project(db.session, "news")
        db.session.commit()
        project = db.session.scalar(select(Project.id))
        db.engine.dispose()
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_text(line + "\n")
    large.write_text((line + "\n") * 3000)
    assert large.stat().st_size > 32 * MB * 1024
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANNOTATOR_", "FLASK_"))}
    temporary = tmp_path / "tmp"  # the server's temporary files
    temporary.mkdir()
    env.update(ANNOTATOR_DATABASE_URL=url, ANNOTATOR_SECRET_KEY="upload-memory",
               ANNOTATOR_SUGGEST_IN_BACKGROUND="0", TMPDIR=str(temporary))
    server = Server("flask", env)
    path = f"/api/projects/{project}/import"
    try:
        first = _post_file(server, path, token, small, multipart=False)
        assert first["added"] == 1
        _post_file(server, path, token, small, multipart=True)  # both ways warm
        before = _peak_rss_kb(server.process.pid)
        raw = _post_file(server, path, token, large, multipart=False)
        after_raw = _peak_rss_kb(server.process.pid)
        form = _post_file(server, path, token, large, multipart=True)
        after_form = _peak_rss_kb(server.process.pid)
        assert not list(temporary.glob("annotator-upload-*"))  # removed with each request
    finally:
        server.kill()
    assert raw == form == {"added": 0, "skipped": 3000, "paragraphs": 0, "errors": []}
    assert after_raw - before < 12 * MB, (before, after_raw)
    assert after_form - after_raw < 12 * MB, (after_raw, after_form)

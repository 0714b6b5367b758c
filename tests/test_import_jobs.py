"""Background web imports (services/import_jobs.py): the upload is answered at once, a
thread of the server runs the same atomic import and the job row tells its progress and
outcome; a job whose process stopped is shown failed."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from datetime import timedelta

import requests
from lxml import html as lxml_html
from sqlalchemy import func, select

from annotator.extensions import db
from annotator.openapi import build_openapi
from annotator.models import Article, ImportJob, utcnow
from annotator.services import import_jobs
from annotator.services.importing import get_or_create_project
from helpers import bearer, hidden_csrf_token, jsonl, login, make_user, project_id
from servers import Server
from test_openapi import assert_matches
from test_warc_import import page, response, write_warc

RECORDS = [{"title": "One", "paragraphs": ["first", "second"]},
           {"title": "Two", "paragraphs": ["third"]}]


def _project(app, name: str = "news") -> int:
    with app.app_context():
        get_or_create_project(db.session, name)
        db.session.commit()
    return project_id(app, name)


def _admin(app, client):
    make_user(app, "boss", "admin")
    login(client, "boss")


def _upload(client, project: int, data: bytes, name: str, **fields):
    url = f"/admin/projects/{project}/import"
    token = hidden_csrf_token(client.get(url).get_data(as_text=True))
    return client.post(url, content_type="multipart/form-data", data={
        "csrf_token": token, "fmt": "auto", "split": "line", "file": (io.BytesIO(data), name),
        **fields})


def _articles(app, project: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Article).where(
            Article.project_id == project))


def test_the_admin_form_imports_in_the_background_and_the_job_page_shows_the_counts(app, client):
    _admin(app, client)
    project = _project(app)
    answer = _upload(client, project, jsonl(RECORDS), "up.jsonl", background="y")
    assert answer.status_code == 302 and "/admin/import-jobs/" in answer.location
    import_jobs.runner(app).wait()
    shown = lxml_html.fromstring(client.get(answer.location).get_data(as_text=True)).text_content()
    assert "Imported: 2 articles added, 0 skipped (already present), 3 paragraphs." in shown
    job = client.get(answer.location.replace("/admin/", "/api/")).get_json()
    assert (job["state"], job["added"], job["paragraphs"], job["records_read"]) == ("done", 2, 3, 2)
    assert job["bytes_read"] == job["bytes_total"] == len(jsonl(RECORDS))
    assert _articles(app, project) == 2
    listed = client.get(f"/admin/projects/{project}/import").get_data(as_text=True)
    assert "Background imports" in listed and "up.jsonl" in listed
    with app.app_context():  # the kept upload is gone with the job's end
        assert db.session.scalar(select(ImportJob.path)) is None


def test_a_large_upload_goes_to_the_background_by_itself(app, client):
    app.config["BACKGROUND_IMPORT_MB"] = 0.0001  # about 100 bytes
    _admin(app, client)
    project = _project(app)
    small = _upload(client, project, jsonl(RECORDS[:1]), "small.jsonl")
    assert small.status_code == 200 and "1 article added" in small.get_data(as_text=True)
    large = _upload(client, project, jsonl([{"title": f"T{n}", "paragraphs": ["x" * 50]}
                                            for n in range(5)]), "large.jsonl")
    assert large.status_code == 302 and "/admin/import-jobs/" in large.location
    import_jobs.runner(app).wait()
    assert _articles(app, project) == 6


def test_a_bad_file_fails_its_job_with_the_line_and_stores_nothing(app, client):
    _admin(app, client)
    project = _project(app)
    bad = jsonl(RECORDS) + b'{"title": "", "paragraphs": ["x"]}\n'
    answer = _upload(client, project, bad, "bad.jsonl", background="y")
    import_jobs.runner(app).wait()
    job = client.get(answer.location.replace("/admin/", "/api/")).get_json()
    assert job["state"] == "failed" and job["error"].endswith("nothing was imported")
    assert job["error_count"] == 1 and job["errors"][0].startswith("bad.jsonl:3: ")
    assert _articles(app, project) == 0
    shown = lxml_html.fromstring(client.get(answer.location).get_data(as_text=True)).text_content()
    assert "Nothing was imported" in shown and "bad.jsonl:3: " in shown


def test_the_api_imports_in_the_background_when_asked_and_reports_warc_skips(app, client, tmp_path):
    make_user(app, "boss", "admin")
    project = _project(app)
    crawl = write_warc(tmp_path / "c.warc.gz", [
        response("http://example.com/a", page("A", "Alpha text.").encode()),
        response("http://example.com/a", page("A", "Alpha text.").encode()),
        response("http://example.com/s.css", b"p {}", content_type="text/css"),
        response("http://example.com/404", page("No", "x").encode(), status="404 Not Found")])
    url = f"/api/projects/{project}/import"
    for ask in ({"query_string": {"background": "1"}}, {"headers": {"Prefer": "respond-async"}}):
        headers = {**bearer(app, "boss"), **ask.get("headers", {})}
        answer = client.post(url, headers=headers, query_string=ask.get("query_string"),
                             content_type="multipart/form-data",
                             data={"file": (io.BytesIO(crawl.read_bytes()), "c.warc.gz")})
        assert answer.status_code == 202, answer.get_data(as_text=True)
        assert answer.headers["Location"] == answer.get_json()["url"]
        assert answer.get_json()["state"] == "queued"
        document = build_openapi(app.config)
        assert_matches(document, "/api/projects/{project_id}/import", "post", answer)
        import_jobs.runner(app).wait()
        status = client.get(answer.headers["Location"], headers=bearer(app, "boss"))
        assert_matches(document, "/api/import-jobs/{job_id}", "get", status)
        job = status.get_json()
        assert job["state"] == "done"
        assert job["warc_skipped"] == {"duplicate": 1, "not_html": 1, "not_200": 1,
                                       "not_response": 1}  # the warcinfo record
    assert _articles(app, project) == 1  # the second import skipped the article


def test_the_api_import_answer_counts_the_warc_records_skipped(app, client, tmp_path):
    make_user(app, "boss", "admin")
    project = _project(app)
    crawl = write_warc(tmp_path / "c.warc.gz", [
        response("http://example.com/a", page("A", "Alpha text.").encode()),
        response("http://example.com/a", page("A", "Alpha again.").encode()),
        response("http://example.com/s.css", b"p {}", content_type="text/css"),
        response("http://example.com/404", page("No", "x").encode(), status="404 Not Found")])
    answer = client.post(f"/api/projects/{project}/import", headers=bearer(app, "boss"),
                         content_type="multipart/form-data",
                         data={"file": (io.BytesIO(crawl.read_bytes()), "c.warc.gz")})
    body = answer.get_json()
    assert (answer.status_code, body["added"], body["skipped"], body["paragraphs"]) == (200, 1, 0, 1)
    assert body["warc_skipped"] == {"not_html": 1, "not_200": 1, "duplicate": 1,
                                    "not_response": 1}  # the warcinfo record
    assert_matches(build_openapi(app.config), "/api/projects/{project_id}/import", "post", answer)
    jsonl_answer = client.post(f"/api/projects/{project}/import", headers=bearer(app, "boss"),
                               content_type="application/x-ndjson", data=jsonl(RECORDS))
    assert "warc_skipped" not in jsonl_answer.get_json()


def test_a_raw_jsonl_body_imports_in_the_background_and_a_bad_line_reaches_the_job(app, client):
    make_user(app, "boss", "admin")
    project = _project(app)
    body = jsonl(RECORDS) + b"[1]\n"
    answer = client.post(f"/api/projects/{project}/import?skip_invalid=1", data=body,
                         headers={**bearer(app, "boss"), "Prefer": "respond-async"},
                         content_type="application/x-ndjson")
    assert answer.status_code == 202 and answer.get_json()["file_name"] == "<body>"
    import_jobs.runner(app).wait()
    job = client.get(answer.headers["Location"], headers=bearer(app, "boss")).get_json()
    assert (job["state"], job["added"], job["error_count"]) == ("done", 2, 1)
    assert job["errors"][0].startswith("<body>:3: ")
    assert _articles(app, project) == 2


def _job(app, project: int, **values) -> int:
    with app.app_context():
        job = ImportJob(project_id=project, file_name="gone.jsonl", format="jsonl",
                        state="running", **values)
        db.session.add(job)
        db.session.commit()
        return job.id


def test_a_job_whose_process_stopped_is_shown_failed(app, client):
    make_user(app, "boss", "admin")
    project = _project(app)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = _job(app, project, owner=f"{import_jobs.HOST}:{ended.stdout.strip()}")
    silent = _job(app, project, owner="elsewhere:1",
                  heartbeat_at=utcnow() - timedelta(seconds=import_jobs.STALE_SECONDS + 5))
    alive = _job(app, project, owner="elsewhere:1", heartbeat_at=utcnow())
    here = _job(app, project, owner=import_jobs.owner())
    states = {job: client.get(f"/api/import-jobs/{job}", headers=bearer(app, "boss")).get_json()
              for job in (dead, silent, alive, here)}
    assert [states[job]["state"] for job in (dead, silent, alive, here)] == [
        "failed", "failed", "running", "running"]
    assert "server process running this import stopped" in states[dead]["error"]
    with app.app_context():  # the row itself now says so, for every process
        assert db.session.get(ImportJob, silent).state == "failed"


def test_a_real_server_answers_a_large_upload_before_its_import_ends(app, tmp_path):
    make_user(app, "boss", "admin")
    project = _project(app)
    records = [{"title": f"Story {n}", "paragraphs": [f"Paragraph {k} of story {n}, long "
                                                      "enough to be a sentence." for k in range(8)]}
               for n in range(6000)]
    data = jsonl(records)
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "ANNOTATOR_SECRET_KEY": "jobs-test", "ANNOTATOR_BACKGROUND_IMPORT_MB": "1"}
    server = Server("flask", env)
    try:
        browser = requests.Session()
        token = hidden_csrf_token(browser.get(server.url + "/login").text)
        browser.post(server.url + "/login", data={"csrf_token": token, "username": "boss",
                                                  "password": "correct horse battery"})
        form_url = f"{server.url}/admin/projects/{project}/import"
        token = hidden_csrf_token(browser.get(form_url).text)
        assert len(data) > 2**20  # over ANNOTATOR_BACKGROUND_IMPORT_MB: no box to tick
        answer = browser.post(form_url, allow_redirects=False, files={
            "file": ("big.jsonl", data)}, data={"csrf_token": token, "fmt": "auto",
                                                "split": "line"})
        answered = time.monotonic()
        stored_then = _articles(app, project)
        assert answer.status_code == 302, answer.text[:500]
        job_page = server.url + answer.headers["Location"]
        status_url = job_page.replace("/admin/", "/api/")
        seen = []
        deadline = time.monotonic() + 240
        while (job := browser.get(status_url).json())["state"] in ("queued", "running"):
            seen.append((job["state"], job["records_read"]))
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        finished = time.monotonic()
    finally:
        server.kill()
    assert stored_then == 0 and finished > answered  # answered while the import went on
    assert job["state"] == "done", job
    assert (job["added"], job["paragraphs"]) == (6000, 48000)
    assert any(state == "running" for state, _ in seen)
    assert _articles(app, project) == 6000

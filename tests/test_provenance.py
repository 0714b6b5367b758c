"""Provenance: every imported article keeps the file it came from (and a jsonl record its
line), and both export units carry it with the article's meta."""
from __future__ import annotations

import io
import json

from annotator.extensions import db
from annotator.models import Article

from helpers import bearer, csrf_token, login, make_user, project_id


def _tree(root):
    """scrape/ with a txt, an html and an md page in site folders, and a jsonl of two records."""
    (root / "site-a").mkdir(parents=True)
    (root / "site-b").mkdir()
    (root / "site-a" / "x.txt").write_text("X title\nx body\n", encoding="utf-8")
    (root / "site-b" / "y.html").write_text(
        "<title>Y</title><p>y body</p>", encoding="utf-8")
    (root / "z.md").write_text("# Z\n\nz body\n", encoding="utf-8")
    (root / "dump.jsonl").write_text(
        json.dumps({"id": "j1", "title": "J1", "text": "j1 body", "meta": {"crawl": 7}}) + "\n\n"
        + json.dumps({"id": "j2", "title": "J2", "text": "j2 body"}) + "\n", encoding="utf-8")
    return root


def _export(runner, *args):
    result = runner.invoke(args=["export", "--project", "news", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_folder_import_keeps_each_files_path_below_the_folder(runner, tmp_path):
    scrape = _tree(tmp_path / "deep" / "scrape")
    result = runner.invoke(args=["import", str(scrape), "--project", "news"])
    assert result.exit_code == 0, result.output
    lines = {line["title"]: line for line in _export(runner)}
    assert {title: line["source"] for title, line in lines.items()} == {
        "J1": {"file": "scrape/dump.jsonl", "line": 1},
        "J2": {"file": "scrape/dump.jsonl", "line": 3},  # physical lines: the blank one counts
        "X title": {"file": "scrape/site-a/x.txt", "line": None},
        "Y": {"file": "scrape/site-b/y.html", "line": None},
        "Z": {"file": "scrape/z.md", "line": None}}
    # meta is as SPEC has it: the record's own, {} when none was given, html's encoding
    assert lines["J1"]["meta"] == {"crawl": 7} and lines["J2"]["meta"] == {}
    assert lines["X title"]["meta"] == {} and lines["Y"]["meta"] == {"encoding": "utf-8"}
    articles = {a["title"]: a for a in _export(runner, "--unit", "article")}
    assert articles["Y"]["source"] == lines["Y"]["source"]
    assert articles["J1"]["meta"] == {"crawl": 7}


def test_the_current_folder_and_a_single_file_are_named_without_the_machines_path(
        runner, tmp_path, monkeypatch):
    scrape = _tree(tmp_path / "scrape")
    monkeypatch.chdir(scrape / "site-a")
    assert runner.invoke(args=["import", ".", "--project", "news"]).exit_code == 0
    assert runner.invoke(args=["import", str(scrape / "z.md"), "--project", "news"]).exit_code == 0
    assert {line["title"]: line["source"]["file"] for line in _export(runner)} == {
        "X title": "site-a/x.txt", "Z": "z.md"}


def test_an_upload_keeps_the_uploaded_files_name(app, client):
    make_user(app, "boss", "admin")
    login(client, "boss")
    client.post("/admin/projects/new", data={"csrf_token": csrf_token(client, "/admin/projects/new"),
                                             "name": "news", "overlap": "1"})
    url = f"/admin/projects/{project_id(app, 'news')}/import"
    response = client.post(url, content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, url), "fmt": "auto", "split": "line", "encoding": "",
        "file": (io.BytesIO("标题\n正文\n".encode()), "新闻 1.txt")})
    assert response.status_code == 200
    raw = client.post(f"/api/projects/{project_id(app, 'news')}/import",
                      data=b'{"title": "raw", "text": "r"}\n', headers={
                          **bearer(app, "boss"), "Content-Type": "application/x-ndjson"})
    assert raw.status_code == 200, raw.get_json()
    runner = app.test_cli_runner()
    assert {line["title"]: line["source"] for line in _export(runner)} == {
        "标题": {"file": "新闻 1.txt", "line": None}, "raw": {"file": "<body>", "line": 1}}


def test_articles_imported_before_the_source_was_kept_export_it_as_null(app, runner, tmp_path):
    (tmp_path / "a.txt").write_text("A\nbody\n", encoding="utf-8")
    assert runner.invoke(args=["import", str(tmp_path / "a.txt"), "--project", "news"]).exit_code == 0
    with app.app_context():
        db.session.execute(db.update(Article).values(source_file=None))
        db.session.commit()
    assert [line["source"] for line in _export(runner)] == [None]

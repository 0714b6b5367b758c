"""`flask import` of WARC files (issue 14): each HTML response with status 200 is an article,
read as an .html file is; other records are skipped and counted; a truncated file is an error
at the record's byte offset, and nothing is stored. The archives are written here with warcio's
writer, each record its own gzip member as crawls store them."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from annotator.models import Article, Paragraph
from helpers import bearer, login, make_user, project_id
from servers import ROOT
from test_import import articles, counts, run_import, summary
from testdb import database_url

DATE = "2026-11-30T08:15:00Z"


def page(title: str, *paragraphs: str, head: str = "") -> str:
    body = "".join(f"<p>{text}</p>" for text in paragraphs)
    return f"<html><head>{head}<title>{title}</title></head><body>{body}</body></html>"


def response(url: str, body: bytes, content_type: str = "text/html; charset=utf-8",
             status: str = "200 OK", record_type: str = "response") -> tuple:
    return url, body, content_type, status, record_type


def write_warc(path: Path, records: list[tuple], *, gzip: bool = True) -> Path:
    """A WARC file (a warcinfo record first, as crawlers write one) of response records given
    as response() tuples; a "request" or "revisit" record_type writes that kind instead."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        for url, body, content_type, status, record_type in records:
            headers = {"WARC-Date": DATE}
            if record_type == "request":
                http = StatusAndHeaders(f"GET {url} HTTP/1.1", [("Host", "example.com")],
                                        is_http_request=True)
                record = writer.create_warc_record(url, "request", payload=io.BytesIO(b""),
                                                   http_headers=http, warc_headers_dict=headers)
            elif record_type == "revisit":
                http = StatusAndHeaders(status, [("Content-Type", content_type)],
                                        protocol="HTTP/1.1")
                record = writer.create_revisit_record(url, "sha1:AAAA", url, DATE,
                                                      http_headers=http)
            else:
                http = StatusAndHeaders(status, [("Content-Type", content_type),
                                                 ("Content-Length", str(len(body)))],
                                        protocol="HTTP/1.1")
                record = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                   http_headers=http, warc_headers_dict=headers)
            writer.write_record(record)
    return path


def test_html_responses_become_articles_with_url_site_date_and_status(app, runner, tmp_path):
    crawl = write_warc(tmp_path / "crawl.warc.gz", [
        response("https://www.example.com/news/one", page("One", "First.", "Second.").encode()),
        response("https://blog.example.org/two", page("Two", "Only.").encode(),
                 content_type="application/xhtml+xml"),
    ])
    result = run_import(runner, crawl, "--project", "news")
    assert result.exit_code == 0, result.output
    assert result.stdout == summary(2, 0, 3) + "\n"
    assert result.stderr == "warc: 1 records skipped (0 not HTML, 0 not 200, 0 duplicates, " \
                            "1 not responses)\n"  # the warcinfo record
    one, two = articles(app)
    assert one == {"article_id": one["article_id"], "title": "One",
                   "url": "https://www.example.com/news/one",
                   "meta": {"site": "www.example.com", "fetched_at": DATE, "status": 200,
                            "encoding": "utf-8"},
                   "paragraphs": ["First.", "Second."]}
    assert (two["url"], two["meta"]["site"], two["paragraphs"]) == (
        "https://blog.example.org/two", "blog.example.org", ["Only."])
    with app.app_context():
        from annotator.extensions import db
        stored = db.session.scalars(select(Article).order_by(Article.id)).all()
        assert [(a.site, a.source_file) for a in stored] == [
            ("example.com", "crawl.warc.gz"), ("blog.example.org", "crawl.warc.gz")]
    again = run_import(runner, crawl, "--project", "news")  # importing twice is safe
    assert again.stdout == summary(0, 2, 0) + "\n"


def test_an_uncompressed_warc_imports_the_same(app, runner, tmp_path):
    crawl = write_warc(tmp_path / "crawl.warc", [
        response("http://example.com/a", page("A", "Text.").encode())], gzip=False)
    result = run_import(runner, crawl, "--project", "news")
    assert result.stdout == summary(1, 0, 1) + "\n", result.output
    assert articles(app)[0]["url"] == "http://example.com/a"


def test_a_gbk_page_with_its_charset_only_in_the_http_header(app, runner, tmp_path):
    """The header's charset wins over a <meta> that names another (windows-1252 decodes any
    bytes: were the page's declaration read first, the text would be mojibake)."""
    text = "中文新闻的第一段，讲的是天气。"
    crawl = write_warc(tmp_path / "gbk.warc.gz", [
        response("http://news.example.cn/1", page("新闻", text).encode("gbk"),
                 content_type="text/html; charset=GBK"),
        response("http://news.example.cn/2", page("天气", text + "二",
                                                  head='<meta charset="windows-1252">')
                 .encode("gbk"), content_type='text/html;charset="gbk"'),
    ])
    result = run_import(runner, crawl, "--project", "news")
    assert result.exit_code == 0, result.output
    first, second = articles(app)
    assert (first["title"], first["paragraphs"], first["meta"]["encoding"]) == (
        "新闻", [text], "gb18030")
    assert (second["title"], second["paragraphs"], second["meta"]["encoding"]) == (
        "天气", [text + "二"], "gb18030")


def test_a_gbk_page_with_its_charset_only_in_a_meta_tag(app, runner, tmp_path):
    text = "这是只在页面里声明编码的文章。"
    crawl = write_warc(tmp_path / "meta.warc.gz", [
        response("http://news.example.cn/3",
                 page("页面", text, head='<meta http-equiv="Content-Type" '
                                         'content="text/html; charset=gb2312">').encode("gbk"),
                 content_type="text/html")])
    result = run_import(runner, crawl, "--project", "news")
    assert result.exit_code == 0, result.output
    stored = articles(app)[0]
    assert (stored["title"], stored["paragraphs"], stored["meta"]["encoding"]) == (
        "页面", [text], "gb18030")


def test_non_html_non_200_duplicates_and_other_records_are_skipped_and_counted(app, runner,
                                                                               tmp_path):
    crawl = write_warc(tmp_path / "mixed.warc.gz", [
        response("http://example.com/a", b"", record_type="request"),
        response("http://example.com/a", page("A", "Kept.").encode()),
        response("http://example.com/a", page("A again", "Refetched.").encode()),  # duplicate
        response("http://example.com/a", b"", record_type="revisit"),
        response("http://example.com/style.css", b"p { color: red }", content_type="text/css"),
        response("http://example.com/logo.png", b"\x89PNG\r\n\x1a\n", content_type="image/png"),
        response("http://example.com/gone", page("Gone", "404 page.").encode(),
                 status="404 Not Found"),
        response("http://example.com/moved", page("Moved", "Moved.").encode(),
                 status="301 Moved Permanently"),
        response("http://example.com/b", page("B", "Also kept.").encode(),
                 content_type="TEXT/HTML; charset=UTF-8"),
    ])
    result = run_import(runner, crawl, "--project", "news")
    assert result.exit_code == 0, result.output
    assert result.stdout == summary(2, 0, 2) + "\n"
    assert result.stderr == ("warc: 8 records skipped (2 not HTML, 2 not 200, 1 duplicates, "
                             "3 not responses)\n")  # warcinfo, request, revisit
    assert [a["title"] for a in articles(app)] == ["A", "B"]


def test_a_duplicate_url_across_the_files_of_one_import_is_skipped(app, runner, tmp_path):
    folder = tmp_path / "crawls"
    folder.mkdir()
    write_warc(folder / "1.warc.gz", [response("http://example.com/a", page("A", "x").encode())])
    write_warc(folder / "2.warc.gz", [response("http://example.com/a", page("A2", "y").encode())])
    result = run_import(runner, folder, "--project", "news")
    assert result.stdout == summary(1, 0, 1) + "\n", result.output
    assert "1 duplicates" in result.stderr


def test_a_directory_with_several_warc_files(app, runner, tmp_path):
    folder = tmp_path / "crawl"
    (folder / "2026").mkdir(parents=True)
    write_warc(folder / "a.warc.gz", [response("http://a.example/1", page("A1", "a").encode())])
    write_warc(folder / "2026" / "b.warc", [response("http://b.example/1", page("B1", "b")
                                                     .encode())], gzip=False)
    write_warc(folder / "c.warc.gz", [response("http://c.example/1", page("C1", "c").encode()),
                                      response("http://c.example/2", page("C2", "d").encode())])
    (folder / "notes.gz").write_bytes(b"not an archive")  # not a .warc.gz: left out
    result = run_import(runner, folder, "--project", "news")
    assert result.exit_code == 0, result.output
    assert result.stdout == summary(4, 0, 4) + "\n"
    assert [a["title"] for a in articles(app)] == ["B1", "A1", "C1", "C2"]  # files by path


@pytest.mark.parametrize("gzip", [True, False], ids=["gzip", "plain"])
def test_a_truncated_file_is_an_error_at_the_record_offset_and_nothing_is_stored(
        app, runner, tmp_path, gzip):
    whole = write_warc(tmp_path / "whole.warc", [
        response(f"http://example.com/{n}", page(f"T{n}", "x" * 500).encode()) for n in range(3)],
        gzip=gzip)
    from warcio.archiveiterator import ArchiveIterator
    with whole.open("rb") as file:
        archive = ArchiveIterator(file)
        offsets = [archive.get_record_offset() for _ in archive]
    data = whole.read_bytes()
    cut = tmp_path / ("cut.warc.gz" if gzip else "cut.warc")
    cut.write_bytes(data[:offsets[-1] + (len(data) - offsets[-1]) // 2])  # half the last record
    before = counts(app)
    result = run_import(runner, cut, "--project", "news")
    assert result.exit_code != 0
    assert f"{cut}:{offsets[-1]}: the file ends inside this WARC record (truncated?)\n" \
        in result.stderr
    assert "Traceback" not in result.output
    assert "nothing was imported" in result.stderr
    assert counts(app) == before  # not even the project
    kept = run_import(runner, cut, "--project", "news", "--skip-invalid")  # the records before
    assert kept.exit_code == 0 and kept.stdout == summary(2, 0, 2) + "\n", kept.output
    assert f"{cut}:{offsets[-1]}: the file ends inside this WARC record" in kept.stderr


def test_every_cut_of_a_small_file_is_an_error_or_whole_records(tmp_path):
    """Cut anywhere, a file gives a Problem (never an exception), unless the cut falls between
    whole records (where a WARC file can end)."""
    from annotator.services.formats import Problem, Record, read_records

    for gzip in (True, False):
        whole = write_warc(tmp_path / "w.warc", [
            response(f"http://example.com/{n}", page(f"T{n}", "text").encode())
            for n in range(2)], gzip=gzip).read_bytes()
        complete = [item for item in read_records(whole, "w", "warc")
                    if isinstance(item, Record)]
        assert len(complete) == 2
        errors = 0
        for end in range(1, len(whole)):
            items = list(read_records(whole[:end], "w", "warc"))
            problems = [item for item in items if isinstance(item, Problem)]
            errors += bool(problems)
            assert len(problems) <= 1 and (not problems or items[-1] is problems[0])
        assert errors > len(whole) * 0.95, (gzip, errors, len(whole))


def test_a_file_that_is_no_warc_is_an_error(app, runner, tmp_path):
    bad = tmp_path / "bad.warc"
    bad.write_text("<html><p>an html file named .warc</p></html>")
    result = run_import(runner, bad, "--project", "news")
    assert result.exit_code != 0
    assert f"{bad}:0: not a WARC file: it starts with neither WARC/ nor a gzip header\n" \
        in result.stderr
    assert "Traceback" not in result.output
    gzipped = tmp_path / "notes.warc.gz"
    gzipped.write_bytes(__import__("gzip").compress(b"just some notes\n" * 10))
    result = run_import(runner, gzipped, "--project", "news")
    assert result.exit_code != 0
    assert f"{gzipped}:0: not a readable WARC record (" in result.stderr
    whole = tmp_path / "whole.warc.gz"  # one gzip stream, not a member per record
    whole.write_bytes(__import__("gzip").compress(write_warc(tmp_path / "w.warc", [
        response(f"http://example.com/{n}", page("T", "x").encode()) for n in range(2)],
        gzip=False).read_bytes()))
    result = run_import(runner, whole, "--project", "news")
    assert f"{whole}:0: the file is gzipped whole, not a gzip member per record" in result.stderr
    assert "Traceback" not in result.output


def test_a_bad_page_in_a_warc_names_its_offset(app, runner, tmp_path):
    crawl = write_warc(tmp_path / "c.warc.gz", [
        response("http://example.com/ok", page("Ok", "fine").encode()),
        response("http://example.com/empty", b"<html><body></body></html>")])
    result = run_import(runner, crawl, "--project", "news")
    assert result.exit_code != 0
    line = next(line for line in result.stderr.splitlines() if "no paragraphs" in line)
    offset = int(line.split(":")[1])
    with crawl.open("rb") as file:
        file.seek(offset)
        from warcio.archiveiterator import ArchiveIterator
        record = next(iter(ArchiveIterator(file)))
        assert record.rec_headers.get_header("WARC-Target-URI") == "http://example.com/empty"


def test_the_web_upload_takes_a_warc_gz(app, client, tmp_path):
    make_user(app, "boss", "admin")
    crawl = write_warc(tmp_path / "up.warc.gz", [
        response("http://example.com/u", page("Up", "Uploaded.").encode()),
        response("http://example.com/u.css", b"p{}", content_type="text/css")])
    with app.app_context():
        from annotator.extensions import db
        from annotator.services.importing import get_or_create_project
        get_or_create_project(db.session, "news")
        db.session.commit()
    response_ = client.post(f"/api/projects/{project_id(app, 'news')}/import",
                            headers=bearer(app, "boss"), content_type="multipart/form-data",
                            data={"file": (io.BytesIO(crawl.read_bytes()), "up.warc.gz")})
    assert response_.status_code == 200, response_.get_data(as_text=True)
    assert (response_.get_json()["added"], response_.get_json()["paragraphs"]) == (1, 1)
    assert articles(app)[0]["url"] == "http://example.com/u"


def test_the_admin_import_form_takes_a_warc_and_says_what_it_skipped(app, client, tmp_path):
    from lxml import html as lxml_html

    make_user(app, "boss", "admin")
    login(client, "boss")
    with app.app_context():
        from annotator.extensions import db
        from annotator.services.importing import get_or_create_project
        get_or_create_project(db.session, "news")
        db.session.commit()
    crawl = write_warc(tmp_path / "form.warc.gz", [
        response("http://example.com/f", page("Form", "By the &lt;form&gt;.").encode()),
        response("http://example.com/f", b"", record_type="request"),
        response("http://example.com/404", page("No", "x").encode(), status="404 Not Found")])
    url = f"/admin/projects/{project_id(app, 'news')}/import"
    form = lxml_html.fromstring(client.get(url).get_data(as_text=True))
    assert "warc" in form.xpath("//select[@name='fmt']/option/@value")
    done = client.post(url, content_type="multipart/form-data", follow_redirects=True, data={
        "csrf_token": form.xpath("//input[@name='csrf_token']/@value")[0], "fmt": "auto",
        "split": "line", "file": (io.BytesIO(crawl.read_bytes()), "form.warc.gz")})
    text = lxml_html.fromstring(done.get_data(as_text=True)).text_content()
    assert done.status_code == 200 and "1 article added" in text
    assert ("3 WARC records skipped (0 not HTML, 1 not status 200, 0 duplicate URLs, "
            "2 not responses)") in text
    assert articles(app)[0]["paragraphs"] == ["By the <form>."]


# --- memory -----------------------------------------------------------------------------

_MEASURED = ("import resource, sys\nfrom flask.cli import main\ntry:\n    main()\nfinally:\n"
             "    print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
             "file=sys.stderr)")


def _generated(path: Path, pages: int) -> Path:
    subprocess.run([sys.executable, "bench/warc_import.py", "--write", str(path),
                    "--pages", str(pages), "--script-kb", "8"], cwd=ROOT, check=True,
                   capture_output=True, timeout=600)
    return path


def _import_measured(tmp_path: Path, crawl: Path, name: str):
    url = database_url(tmp_path, f"{name}.db")
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": url, "ANNOTATOR_SECRET_KEY": "warc-test"}
    done = subprocess.run([sys.executable, "-c", _MEASURED, "--app", "annotator", "import",
                           str(crawl), "--project", name], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    peak = int(done.stderr.rpartition("maxrss ")[2].split()[0])
    return done, peak, url


@pytest.mark.slow
def test_peak_memory_of_a_warc_import_does_not_grow_with_the_file(tmp_path):
    small = _generated(tmp_path / "small.warc.gz", 1000)
    large = _generated(tmp_path / "large.warc.gz", 5000)  # 46 MB, gzipped per record
    done_small, peak_small, _ = _import_measured(tmp_path, small, "small")
    assert done_small.returncode == 0, done_small.stderr
    done_large, peak_large, url = _import_measured(tmp_path, large, "large")
    assert done_large.returncode == 0, done_large.stderr
    assert "5000 articles added" in done_large.stdout
    assert peak_large - peak_small < 10 * 1024, (peak_small, peak_large)  # KB
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Article)) == 5000
        assert connection.scalar(select(func.count()).select_from(Paragraph)) == 5000 * 26
    engine.dispose()

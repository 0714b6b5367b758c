"""Hostile import files (issue 8): parse budgets, codec names that are no text encoding,
records no database can store or export, what lxml would silently drop, concurrent imports."""
from __future__ import annotations

import json
import threading
import time
import zlib

import pytest
from sqlalchemy import func, select

from annotator.extensions import db
from annotator.models import Article, Project
from annotator.services.formats import Problem, Record, read_records
from annotator.services.importing import Source, import_sources

from helpers import bearer, make_user, project_id
from test_import import articles, assert_ok, assert_rejected, only_article, run_import


def problems(data: bytes, name: str, fmt: str, **options) -> list[str]:
    items = list(read_records(data, name, fmt, **options))
    return [str(item) for item in items if isinstance(item, Problem)]


# --- parse budget ----------------------------------------------------------------------

def test_markdown_that_parses_slowly_is_refused_within_its_budget():
    """`![` repeated costs markdown-it-py ~13 us a byte: 1 MB would take 13 s of CPU."""
    started = time.thread_time()
    found = problems(b"![" * 500_000, "slow.md", "md", parse_seconds=0.3)
    spent = time.thread_time() - started
    assert found == ["slow.md:1: the Markdown is too complex to parse (more than 0.3 s of CPU "
                     "time); split or simplify the file"]
    assert spent < 2, spent


def test_ordinary_markdown_is_well_inside_the_default_budget():
    article = "# Title\n\n" + "A paragraph with *emphasis*, a [link](http://x) and `code`.\n\n" * 5000
    started = time.thread_time()
    records = list(read_records(article.encode(), "big.md", "md"))
    assert isinstance(records[0], Record) and len(records[0].paragraphs) == 5001
    assert time.thread_time() - started < 10


def test_a_jsonl_record_over_its_budget_is_invalid_at_its_line_and_the_others_import():
    """The budget is per record: a big file of ordinary records is never refused for its size."""
    small = json.dumps({"title": "t", "html": "<p>x</p>"}).encode() + b"\n"
    heavy = json.dumps({"title": "t", "html": "<p>x <b>y</b></p>" * 100_000}).encode() + b"\n"
    items = list(read_records(small * 3 + heavy + small * 2000, "many.jsonl", "jsonl",
                              parse_seconds=0.05))
    assert [str(item) for item in items if isinstance(item, Problem)] == [
        "many.jsonl:4: the JSONL record is too complex to parse (more than 0.05 s of CPU "
        "time); split or simplify the file"]
    assert sum(isinstance(item, Record) for item in items) == 2003


def test_html_over_its_budget_is_refused():
    page = b"<html><title>t</title><body>" + b"<p>x <b>y</b></p>" * 200_000 + b"</body></html>"
    assert problems(page, "big.html", "html", parse_seconds=0.05) == [
        "big.html:1: the HTML is too complex to parse (more than 0.05 s of CPU time); "
        "split or simplify the file"]


# --- encodings: text encodings only ----------------------------------------------------

NOT_TEXT = ["zlib", "base64", "hex", "uu", "rot13", "quopri", "undefined", "bz2",
            "unicode_escape", "utf-7", "bogus"]


@pytest.mark.parametrize("codec", NOT_TEXT)
def test_a_declared_charset_that_is_no_text_encoding_is_ignored(app, runner, tmp_path, codec):
    path = tmp_path / "page.html"
    path.write_bytes(f'<meta charset="{codec}"><title>Plain</title><p>plain text</p>'.encode())
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 1)
    article = only_article(app)
    assert (article["title"], article["paragraphs"]) == ("Plain", ["plain text"])
    assert article["meta"] == {"encoding": "utf-8"}


def test_a_zlib_bomb_declared_as_charset_is_never_inflated(app, runner, tmp_path):
    """6.7 MB of zlib stream (no NUL byte) once inflated to GBs: now it is just bytes."""
    stream = zlib.compress(b"A" * 50_000_000, 9).replace(b"\x00", b"\x01")  # NUL is refused
    path = tmp_path / "bomb.html"
    path.write_bytes(b'<meta charset="zlib"><title>Bomb</title><p>' + stream + b"</p>")
    result = run_import(runner, path, "--project", "news")
    assert result.exit_code == 0, result.output
    article = only_article(app)
    assert article["title"] == "Bomb"
    assert sum(map(len, article["paragraphs"])) < 2 * len(stream)  # nothing was inflated


@pytest.mark.parametrize("codec", NOT_TEXT)
def test_encoding_option_must_name_a_text_encoding(app, runner, tmp_path, codec):
    paths = [tmp_path / f"a{suffix}" for suffix in (".html", ".jsonl", ".md", ".txt")]
    for path in paths:
        path.write_text('{"title": "t", "text": "x"}\n' if path.suffix == ".jsonl" else "T\nbody\n")
    reason = f"unknown encoding {codec!r}: give the name of a text encoding"
    assert_rejected(app, run_import(runner, *paths, "--project", "news", "--encoding", codec),
                    *[(f"{path}:1", reason) for path in paths])


def test_whatwg_labels_are_accepted_as_encoding_option(app, runner, tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("Titre\nUn café à 2 €\n".encode("cp1252"))
    assert_ok(run_import(runner, path, "--project", "news", "--encoding", " Latin1 "), 1, 0, 1)
    assert only_article(app)["paragraphs"] == ["Un café à 2 €"]  # latin1 is windows-1252 (WHATWG)


def test_api_import_with_an_unknown_encoding_is_400_naming_it(app, client):
    make_user(app, "root", "admin")
    headers = bearer(app, "root") | {"Content-Type": "application/x-ndjson"}
    with app.app_context():
        db.session.add(Project(name="news"))
        db.session.commit()
    response = client.post(f"/api/projects/{project_id(app, 'news')}/import?encoding=bogus",
                           data=b'{"title": "t", "text": "x"}\n', headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["errors"] == [
        "<body>:1: unknown encoding 'bogus': give the name of a text encoding, such as utf-8, "
        "gb18030, windows-1252 or shift_jis"]


# --- records no database can store or export -------------------------------------------

GOOD = json.dumps({"id": "good", "title": "Good", "paragraphs": ["fine"]})

BAD_RECORDS = [
    pytest.param('{"title": "t", "text": "x", "meta": {"k": "\\ud800"}}', '"meta" contains a lone '
                 "surrogate (U+D800)", id="surrogate-meta-value"),
    pytest.param('{"title": "t", "text": "x", "meta": {"\\udfff": 1}}', "lone surrogate (U+DFFF)",
                 id="surrogate-meta-key"),
    pytest.param('{"title": "t", "text": "x", "meta": {"a": [{"b": ["\\ud83d"]}]}}',
                 '"meta" contains a lone surrogate (U+D83D)', id="surrogate-deep-in-meta"),
    pytest.param('{"title": "t", "text": "x", "url": "http://x/\\ud800"}',
                 '"url" contains a lone surrogate', id="surrogate-url"),
    pytest.param('{"id": "a\\udc00", "title": "t", "text": "x"}', '"id" contains a lone surrogate',
                 id="surrogate-id"),
    pytest.param('{"title": "t\\ud800", "text": "x"}', '"title" contains a lone surrogate',
                 id="surrogate-title"),
    pytest.param('{"id": "a\\u0000b", "title": "t", "text": "x"}', '"id" contains a NUL',
                 id="nul-id"),
    pytest.param('{"title": "t", "text": "x", "meta": {"k": "\\u0000"}}', '"meta" contains a NUL',
                 id="nul-meta"),
    pytest.param('{"title": "t", "text": "x", "url": "http://[not-an-ipv6/page"}',
                 '"url" is not a valid URL (Invalid IPv6 URL)', id="url-bad-ipv6"),
    pytest.param('{"title": "t", "text": "x", "meta": {"n": ' + "9" * 5000 + "}}",
                 "a number has 5000 digits (4300 at most)", id="int-5000-digits"),
    pytest.param('{"title": "t", "text": "x", "meta": {"n": 1e999}}', "a number is too large (1e999)",
                 id="float-infinite"),
    pytest.param('{"title": "t", "text": "x", "meta": {"n": -1e999}}', "a number is too large",
                 id="float-minus-infinite"),
    pytest.param('{"title": "t", "text": "x", "meta": ' + "[" * 100_000 + "]" * 100_000 + "}",
                 "nests deeper than 100 levels", id="nesting-100k"),
    pytest.param('{"title": "t", "text": "x", "meta": {"a": ' + "[" * 150 + "]" * 150 + "}}",
                 '"meta" nests deeper than 100 levels', id="nesting-150"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_RECORDS)
def test_a_record_no_database_can_hold_is_invalid_at_its_line(app, runner, tmp_path, line, reason):
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{GOOD}\n{line}\n" + GOOD.replace("good", "good2") + "\n", encoding="utf-8")
    assert_rejected(app, run_import(runner, path, "--project", "news"), (f"{path}:2", reason))
    result = run_import(runner, path, "--project", "news", "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert f"{path}:2: " in result.stderr and "Traceback" not in result.output
    assert [a["article_id"] for a in articles(app)] == ["good", "good2"]


def test_meta_within_the_limits_is_stored_as_given(app, runner, tmp_path):
    meta = {"n": int("9" * 4300), "f": 1e308, "deep": json.loads("[" * 99 + "]" * 99),
            "pair": "\U0001f600 \\ud800 kept as text", "k\u00e9": None}
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps({"id": "a", "title": "t", "text": "x", "meta": meta,
                                "url": "http://[::1]/page"}) + "\n", encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 1)
    article = only_article(app)
    assert article["meta"] == meta and article["url"] == "http://[::1]/page"


def test_surrogates_anywhere_never_reach_the_export(app, runner, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(GOOD + '\n{"id": "b", "title": "t", "text": "x", "meta": {"k": "\\ud800"}}\n')
    assert run_import(runner, path, "--project", "news", "--skip-invalid").exit_code == 0
    exported = runner.invoke(args=["export", "--project", "news", "--unit", "article"])
    assert exported.exit_code == 0, exported.output
    assert [json.loads(line)["article_id"] for line in exported.stdout.splitlines()] == ["good"]


# --- HTML that lxml would drop silently ------------------------------------------------

def test_deeply_nested_unclosed_replies_keep_every_reply(app, runner, tmp_path):
    """130 unclosed <p><font> replies nest 260 deep: lxml's default stops at 255."""
    page = "<html><title>Thread</title><body>" + "".join(
        f"<p><font>reply {number} " for number in range(130)) + "</body></html>"
    path = tmp_path / "thread.html"
    path.write_text(page, encoding="utf-8")
    assert run_import(runner, path, "--project", "news").exit_code == 0
    assert only_article(app)["paragraphs"] == [f"reply {number}" for number in range(130)]


def test_a_huge_text_node_and_attribute_are_kept(app, runner, tmp_path):
    big = "x" * 10_100_000  # past libxml2's 10,000,000-byte limit, within the page limit
    with_attribute = tmp_path / "attribute.html"
    with_attribute.write_text(f"<html><title>Attribute</title><body><p title='{big}'>after the "
                              "attribute</p><p>last</p></body></html>", encoding="utf-8")
    with_text = tmp_path / "text.html"
    with_text.write_text(f"<html><title>Text</title><body><p>{big} end of text</p><p>last</p>"
                         "</body></html>", encoding="utf-8")
    assert run_import(runner, with_attribute, with_text, "--project", "news").exit_code == 0
    with app.app_context():
        stored = {article.title: [p.text for p in article.paragraphs]
                  for article in db.session.scalars(select(Article))}
    assert stored == {"Attribute": ["after the attribute", "last"],
                      "Text": [big + " end of text", "last"]}


def test_a_page_over_the_size_limit_is_refused_naming_its_size(app, runner, tmp_path):
    path = tmp_path / "huge.html"
    path.write_text("<html><title>Huge</title><body><p>" + "x" * (11 * 2**20) + "</p></body></html>",
                    encoding="utf-8")
    result = run_import(runner, path, "--project", "news")
    assert_rejected(app, result, (f"{path}:1", "the HTML page is 11.0 MB; pages over 10 MB are refused"))


def test_nesting_past_what_the_parser_reads_is_reported_not_dropped(app, runner, tmp_path):
    page = "<html><title>Deep</title><body>" + "<div>" * 3000 + "deep" + "</div>" * 3000
    path = tmp_path / "deep.html"
    path.write_text(page + "<p>after</p></body></html>", encoding="utf-8")
    result = run_import(runner, path, "--project", "news")
    assert_rejected(app, result, (f"{path}:1", "the HTML cannot be read whole (line 1, column"))
    assert "Excessive depth in document: 2048" in result.stderr


# --- concurrent imports ----------------------------------------------------------------

@pytest.mark.parametrize(("existing", "with_ids"), [(False, True), (True, True), (True, False)],
                         ids=["new-project", "existing-project", "articles-without-ids"])
def test_concurrent_imports_of_one_file_add_it_once_and_skip_it_elsewhere(app, existing,
                                                                          with_ids):
    """Six threads, one file: one adds every article, the rest skip them (on PostgreSQL
    this was 5 x UniqueViolation, on the project's name or on the articles' ids)."""
    body = "".join(json.dumps({"id" if with_ids else "x": f"a{number}", "title": f"T{number}",
                               "paragraphs": [f"p{number}", "q"]}) + "\n"
                   for number in range(300)).encode()
    if existing:
        with app.app_context():
            import_sources(db.session, "news", [Source("other.jsonl", b'{"title": "o", '
                                                       b'"text": "other"}', "jsonl")])
    barrier = threading.Barrier(6)
    reports, failures = [], []

    def run():
        try:
            with app.app_context():
                barrier.wait()
                reports.append(import_sources(db.session, "news",
                                              [Source("same.jsonl", body, "jsonl")]))
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert sorted((r.added, r.skipped) for r in reports) == [(0, 300)] * 5 + [(300, 0)]
    assert sum(r.paragraphs for r in reports) == 600
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Article).join(Project)
                                  .where(Project.name == "news"))
        projects = db.session.scalar(select(func.count()).select_from(Project)
                                     .where(Project.name == "news"))
    assert (count, projects) == (300 + existing, 1)

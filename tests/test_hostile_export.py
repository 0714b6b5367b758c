"""Every export completes whatever is already stored: rows written straight into the database
with SQL (as an older version or a hand edit could leave them), not through the import's checks.

A lone surrogate in `meta` is written as its JSON escape (`\\ud800`), which reads back as the
same string; a URL that does not parse has no host, so `--group-by site` keeps its article in
a group of its own, like an article without a URL."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from annotator.extensions import db
from annotator.services.text import site_of

from helpers import bearer, import_articles, make_user, project_id

BAD_URL = "http://[not-an-ipv6/page"


@pytest.fixture
def hostile(app):
    """Project `news`: five articles on two sites, the second with lone surrogates in its meta
    (stored as the escapes the JSON column keeps), the fourth with a URL that does not parse."""
    import_articles(app, "news", [
        {"id": f"a{n}", "title": f"标题 {n}", "url": f"https://site{n % 2}.example/{n}",
         "paragraphs": [f"第 {n} 篇第一段。", "Second paragraph."]} for n in range(5)])
    with app.app_context():
        db.session.execute(text("UPDATE article SET meta = :meta WHERE article_id = 'a1'"),
                           {"meta": '{"note": "half an emoji: \\ud83d!", "tail": "\\udc00"}'})
        db.session.execute(text("UPDATE article SET url = :url WHERE article_id = 'a3'"),
                           {"url": BAD_URL})
        db.session.commit()
    return app


def _lines(data: bytes) -> list[dict]:
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


@pytest.mark.parametrize("unit", ["paragraph", "article"])
def test_cli_export_completes_with_a_lone_surrogate_in_meta(hostile, runner, tmp_path, unit):
    out = tmp_path / "out.jsonl"
    result = runner.invoke(args=["export", "--project", "news", "--unit", unit, "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = _lines(out.read_bytes())
    assert [line["article_id"] for line in lines] == (
        ["a0", "a1", "a2", "a3", "a4"] if unit == "article" else
        ["a0", "a0", "a1", "a1", "a2", "a2", "a3", "a3", "a4", "a4"])
    if unit == "article":
        assert lines[1]["meta"] == {"note": "half an emoji: \ud83d!", "tail": "\udc00"}
        assert b'"half an emoji: \\ud83d!"' in out.read_bytes()
        assert lines[3]["url"] == BAD_URL
    assert "标题 1" in out.read_text("utf-8")  # the rest still written as itself
    assert not (tmp_path / "out.jsonl.partial").exists()
    result = runner.invoke(args=["export", "--project", "news", "--unit", unit])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == out.read_bytes()


def test_http_export_streams_to_the_end_with_a_lone_surrogate_in_meta(hostile, client, runner):
    make_user(hostile, "boss", "admin")
    response = client.get(f"/api/projects/{project_id(hostile, 'news')}/export.jsonl?unit=article",
                          headers=bearer(hostile, "boss"))
    assert response.status_code == 200
    body = response.get_data()
    assert len(_lines(body)) == 5
    assert body == runner.invoke(args=["export", "--project", "news", "--unit", "article"]).stdout_bytes


@pytest.mark.parametrize("unit", ["paragraph", "article"])
def test_split_by_site_completes_with_a_url_that_does_not_parse(hostile, runner, tmp_path, unit):
    out = tmp_path / "dataset"
    result = runner.invoke(args=["export", "--project", "news", "--unit", unit, "--split",
                                 "train=0.5,test=0.5", "--group-by", "site", "-o", str(out)])
    assert result.exit_code == 0, result.output
    files = {name: _lines((out / f"{name}.jsonl").read_bytes()) for name in ("train", "test")}
    exported = sorted(line["article_id"] for lines in files.values() for line in lines)
    assert exported == sorted(["a0", "a1", "a2", "a3", "a4"] * (2 if unit == "paragraph" else 1))
    site0 = {name for name, lines in files.items() for line in lines
             if line["article_id"] in ("a0", "a2", "a4")}
    assert len(site0) == 1
    card = (out / "README.md").read_text("utf-8")
    assert "| train |" in card and "| test |" in card
    assert sorted(path.name for path in out.iterdir()) == ["README.md", "test.jsonl", "train.jsonl"]


@pytest.mark.parametrize(("url", "meta", "site"), [
    (BAD_URL, {}, ""),
    ("http://[::1]:80/x", None, "::1"),
    ("https://Example.COM/a", ["not", "an", "object"], "example.com"),
    ("https://example.com/a", {"site": 7}, "example.com"),
    ("https://example.com/a", {"site": " News "}, "news"),
    (None, "text", ""),
])
def test_site_of_takes_what_is_stored(url, meta, site):
    assert site_of(meta, url) == site

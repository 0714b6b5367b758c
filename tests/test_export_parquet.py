"""Parquet export (`flask export --format parquet`): the same rows as the JSONL export, under a
declared schema (also on an empty project), in bounded row groups, loadable by `datasets`,
and the split export in Parquet with its card."""
from __future__ import annotations

import json
import sys
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Article, Link, Paragraph, Project, Span
from annotator.services import parquet_export
from annotator.services.annotations import set_annotation, set_gold
from annotator.services.exporting import ExportOptions
from annotator.services.importing import Source, import_sources
from annotator.services.users import create_user

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq

TEXTS = ["家庭 \U0001F469\u200d\U0001F469\u200d\U0001F467 在这里。", "扩展B区的字𠀋在句中。",
         "Plain English, with a \"quote\" and a tab\t.", "笔者认为：电池回收必须立法！"]


@pytest.fixture
def project(app):
    """Two articles (CJK, emoji, an Extension B character) with labels, a tie, a gold label,
    spans (an annotator's and gold) and links; a third article nobody touched."""
    with app.app_context():
        session = db.session
        data = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in [
            {"id": "a1", "title": "标题一 🎉", "url": "https://例子.example/1",
             "meta": {"site": "例子", "tags": ["x", 1, None], "deep": {"n": 1.5}},
             "paragraphs": TEXTS[:2]},
            {"id": "a2", "title": "Two", "paragraphs": TEXTS[2:]},
            {"id": "a3", "title": "Untouched", "paragraphs": ["nobody labeled this"]}])
        report = import_sources(session, "news", [Source("t.jsonl", data.encode(), "jsonl")])
        assert report.stored and not report.errors
        amy, bob = (create_user(session, name, "password123", "annotator").id
                    for name in ("amy", "bob"))
        paragraphs = session.scalars(select(Paragraph).join(Article).join(Project)
                                     .where(Project.name == "news")
                                     .order_by(Article.id, Paragraph.index)).all()
        first, second, third = paragraphs[:3]
        set_annotation(session, first, amy, "claim", "看这里 ✓")
        set_annotation(session, first, bob, "claim")
        set_annotation(session, second, amy, "claim")
        set_annotation(session, second, bob, "evidence")  # a tie
        set_gold(session, third, "evidence", amy)
        start = TEXTS[0].index("\U0001F469")
        spans = [Span(paragraph_id=first.id, user_id=amy, start=start, end=start + 5,
                      label="claim", gold=False),
                 Span(paragraph_id=second.id, user_id=bob, start=6, end=7, label="evidence",
                      gold=False),  # bob: spans in a paragraph
                 Span(paragraph_id=first.id, user_id=None, start=0, end=2, label="claim",
                      gold=True)]
        session.add_all(spans)
        session.flush()
        session.add_all([
            Link(article_id=first.article_id, user_id=amy, relation="supports", gold=False,
                 from_paragraph_id=second.id, to_span_id=spans[0].id),
            Link(article_id=first.article_id, user_id=None, relation="supports", gold=True,
                 from_span_id=spans[1].id, to_paragraph_id=first.id)])
        session.commit()
    return "news"


def _export(runner, out: Path, *extra: str) -> None:
    result = runner.invoke(args=["export", "--project", "news", "-o", str(out), *extra])
    assert result.exit_code == 0, result.output


def _as_jsonl(value):
    """A row read from Parquet as the JSONL line has it: meta parsed, timestamps as text, no
    `span` in a link's paragraph end (a struct has all its fields: there it is null)."""
    if isinstance(value, dict):
        return {key: (json.loads(item) if key == "meta" else _as_jsonl(item))
                for key, item in value.items() if not (key == "span" and item is None)}
    if isinstance(value, list):
        return [_as_jsonl(item) for item in value]
    if hasattr(value, "tzinfo"):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


@pytest.mark.parametrize("extra", [
    (), ("--unit", "article"), ("--only-labeled",), ("--only-labeled", "--unit", "article"),
    ("--annotator", "bob", "--only-labeled"), ("--suggestions",), ("--only-resolved",)])
def test_the_parquet_rows_are_the_jsonl_rows(runner, project, tmp_path, extra):
    _export(runner, tmp_path / "out.jsonl", *extra)
    _export(runner, tmp_path / "out.parquet", "--format", "parquet", *extra)
    lines = [json.loads(line) for line in
             (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    table = pq.read_table(tmp_path / "out.parquet")
    assert [_as_jsonl(row) for row in table.to_pylist()] == lines
    assert table.num_rows > 0
    if "--only-labeled" not in extra and "--only-resolved" not in extra:  # what was checked
        flat = json.dumps(lines, ensure_ascii=False)
        assert "\U0001F469\u200d\U0001F469\u200d\U0001F467" in flat and "𠀋" in flat
        assert '"gold_spans": [{"start": 0' in flat
        if "article" in extra:
            assert '"gold_links": [{"from"' in flat


def test_the_schema_is_declared_and_the_same_for_an_empty_project(runner, app, project,
                                                                  tmp_path):
    with app.app_context():
        db.session.add(Project(name="empty"))
        db.session.commit()
    for unit in ("paragraph", "article"):
        full, none = tmp_path / f"full-{unit}.parquet", tmp_path / f"none-{unit}.parquet"
        _export(runner, full, "--format", "parquet", "--unit", unit)
        result = runner.invoke(args=["export", "--project", "empty", "--format", "parquet",
                                     "--unit", unit, "-o", str(none)])
        assert result.exit_code == 0, result.output
        declared = parquet_export.schema(ExportOptions(unit=unit))
        assert pq.read_schema(none).remove_metadata() == declared
        assert pq.read_schema(full).remove_metadata() == declared
        assert pq.read_metadata(none).num_rows == 0
    paragraph = parquet_export.schema(ExportOptions())
    annotation = paragraph.field("annotations").type.value_type
    assert annotation.field("updated_at").type == pa.timestamp("us", tz="UTC")
    assert annotation.field("note").type == pa.string()  # never typed null
    assert annotation.field("spans").type == pa.list_(pa.struct([
        ("start", pa.int64()), ("end", pa.int64()), ("label", pa.string()),
        ("text", pa.string())]))
    assert paragraph.field("meta").type == pa.string()


def test_row_groups_are_bounded(runner, app, tmp_path, monkeypatch):
    with app.app_context():
        data = "".join(json.dumps({"id": f"a{n}", "title": "T",
                                   "paragraphs": [f"p{n}.{i} 段落" for i in range(5)]}) + "\n"
                       for n in range(10))
        report = import_sources(db.session, "news", [Source("t.jsonl", data.encode(), "jsonl")])
        assert report.added == 10, report.errors
        db.session.commit()
    monkeypatch.setattr(parquet_export, "ROWS_PER_GROUP", 7)
    _export(runner, tmp_path / "out.parquet", "--format", "parquet")
    metadata = pq.read_metadata(tmp_path / "out.parquet")
    sizes = [metadata.row_group(n).num_rows for n in range(metadata.num_row_groups)]
    assert sizes == [7] * 7 + [1]  # 50 rows: held and written 7 at a time
    monkeypatch.setattr(parquet_export, "ROWS_PER_GROUP", 10_000)
    monkeypatch.setattr(parquet_export, "BYTES_PER_GROUP", 1)  # a group per long line
    _export(runner, tmp_path / "articles.parquet", "--format", "parquet", "--unit", "article")
    assert pq.read_metadata(tmp_path / "articles.parquet").num_row_groups == 10


def test_the_parquet_file_loads_in_datasets(runner, project, tmp_path):
    datasets = pytest.importorskip("datasets")
    _export(runner, tmp_path / "out.parquet", "--format", "parquet")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "out.parquet"),
                               cache_dir=str(tmp_path / "cache"))["train"]
    assert ds.num_rows == 5
    assert ds[0]["text"] == TEXTS[0] and json.loads(ds[0]["meta"])["site"] == "例子"
    assert ds[0]["annotations"][0]["updated_at"].tzinfo is not None
    assert ds[0]["annotations"][0]["spans"][0]["text"] == "\U0001F469\u200d\U0001F469\u200d\U0001F467"


def test_the_parquet_file_loads_in_pandas(runner, project, tmp_path):
    pandas = pytest.importorskip("pandas")  # only where installed: no dependency of ours
    _export(runner, tmp_path / "out.parquet", "--format", "parquet")
    frame = pandas.read_parquet(tmp_path / "out.parquet")
    lines = _export_lines(runner, tmp_path)
    assert len(frame) == len(lines) == 5
    assert list(frame["text"]) == [line["text"] for line in lines]
    assert json.loads(frame["meta"][0])["site"] == "例子"
    assert frame["annotations"][0][0]["spans"][0]["text"] == TEXTS[0][
        TEXTS[0].index("\U0001F469"):][:5]


def test_the_parquet_file_loads_in_duckdb(runner, project, tmp_path):
    duckdb = pytest.importorskip("duckdb")  # only where installed: no dependency of ours
    _export(runner, tmp_path / "out.parquet", "--format", "parquet")
    rows = duckdb.sql(f"SELECT text, meta FROM read_parquet('{tmp_path / 'out.parquet'}')"
                      ).fetchall()
    assert [text for text, _ in rows] == [line["text"] for line in _export_lines(runner, tmp_path)]
    assert json.loads(rows[0][1])["site"] == "例子"


def _export_lines(runner, tmp_path) -> list[dict]:
    _export(runner, tmp_path / "out.jsonl")
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]


def test_the_split_export_writes_parquet_with_a_card_that_loads(runner, project, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "dataset"
    _export(runner, out, "--format", "parquet", "--split", "train=0.5,test=0.5", "--seed", "1")
    assert sorted(path.name for path in out.iterdir()) == ["README.md", "test.parquet",
                                                           "train.parquet"]
    card = (out / "README.md").read_text("utf-8")
    assert "    path: train.parquet" in card and "load_dataset(\"parquet\"" in card
    rows = sum(pq.read_metadata(out / f"{name}.parquet").num_rows for name in ("train", "test"))
    assert rows == 5
    features = datasets.load_dataset_builder(str(out), cache_dir=str(tmp_path / "c1")).info.features
    ds = datasets.load_dataset("parquet", data_files={name: str(out / f"{name}.parquet")
                                                      for name in ("train", "test")},
                               features=features, cache_dir=str(tmp_path / "c2"))
    assert ds["train"].num_rows + ds["test"].num_rows == 5
    assert ds["train"].features == ds["test"].features == features
    loaded = ds["train"].num_rows and ds["train"][0]
    assert isinstance(loaded["meta"], dict)  # the card types meta as JSON: decoded
    again = runner.invoke(args=["export", "--project", "news", "--split", "train=0.5,test=0.5",
                                "-o", str(out)])  # a jsonl export replaces the parquet one
    assert again.exit_code == 0, again.output
    assert sorted(path.name for path in out.iterdir()) == ["README.md", "test.jsonl",
                                                           "train.jsonl"]


def test_parquet_needs_an_output_file_and_pyarrow(runner, project, tmp_path, monkeypatch):
    result = runner.invoke(args=["export", "--project", "news", "--format", "parquet"])
    assert result.exit_code != 0 and "-o FILE" in result.output
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    result = runner.invoke(args=["export", "--project", "news", "--format", "parquet",
                                 "-o", str(tmp_path / "out.parquet")])
    assert result.exit_code != 0 and "pip install 'annotator[parquet]'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.parquet").exists()


def test_the_export_page_downloads_parquet_and_a_parquet_dataset(app, client, project):
    import io
    import zipfile

    from helpers import login, make_user, project_id
    make_user(app, "boss", "admin")
    login(client, "boss")
    pid = project_id(app, "news")
    page = client.get(f"/admin/projects/{pid}/export").get_data(as_text=True)
    assert f'formaction="/admin/projects/{pid}/export.parquet"' in page
    assert '<option value="parquet"' in page
    query = "unit=article&only_labeled=1"
    jsonl = client.get(f"/api/projects/{pid}/export.jsonl?{query}").get_data().splitlines()
    response = client.get(f"/admin/projects/{pid}/export.parquet?{query}")
    assert response.status_code == 200
    assert 'filename="news-article.parquet"' in response.headers["Content-Disposition"]
    table = pq.read_table(pa.BufferReader(response.get_data()))
    assert [_as_jsonl(row) for row in table.to_pylist()] == [json.loads(line) for line in jsonl]
    bad = client.get(f"/admin/projects/{pid}/export.parquet?unit=sentence")
    assert bad.status_code == 400 and "unknown unit" in bad.get_data(as_text=True)
    response = client.get(f"/admin/projects/{pid}/export/dataset?split=train%3D0.5%2Ctest%3D0.5"
                          "&format=parquet&seed=1")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.get_data())).namelist()
    assert sorted(name.split("/")[1] for name in names) == ["README.md", "test.parquet",
                                                           "train.parquet"]
    make_user(app, "ann")
    other = app.test_client()
    login(other, "ann")
    assert other.get(f"/admin/projects/{pid}/export.parquet").status_code == 403


def test_meta_is_exact_with_lone_surrogates_and_integers_beyond_64_bits(app, runner, project,
                                                                      tmp_path):
    from sqlalchemy import text
    with app.app_context():
        db.session.execute(text("UPDATE article SET meta = :meta WHERE article_id = 'a2'"),
                           {"meta": '{"note": "half an emoji: \\ud83d!", "big": '
                                    '123456789012345678901234567890, "n": 9007199254740993}'})
        db.session.commit()
    _export(runner, tmp_path / "out.jsonl", "--unit", "article")
    _export(runner, tmp_path / "out.parquet", "--unit", "article", "--format", "parquet")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert lines[1]["meta"] == {"note": "half an emoji: \ud83d!",
                                "big": 123456789012345678901234567890, "n": 9007199254740993}
    assert [_as_jsonl(row) for row in rows] == lines
    assert '"half an emoji: \\ud83d!"' in rows[1]["meta"]  # the escape, as in the JSONL line

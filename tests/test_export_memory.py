"""Export streams (SPEC "Export"): peak memory stays far below the size of what is exported."""
from __future__ import annotations

import json
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from annotator.models import (Annotation, Article, Gold, Link, Paragraph, Project, Span, User,
                              utcnow)
from annotator.services.exporting import ExportOptions, export_lines
from annotator.services.importing import Source, import_sources
from annotator.services.users import create_user

MB = 1024 * 1024
ZH = "数据标注平台用于构建训练集，每段文字都要被准确地标记为主张、证据、广告或者其他正文内容。"


def paragraph_text(article: int, index: int) -> str:
    """About 120 characters of mixed Chinese and English, different for every paragraph."""
    return (f"第{article}篇第{index}段：{ZH[(article + index) % 12:]} The annotator reads "
            f"paragraph {index} of article {article} and labels it 👍.")


def build_project(session, name: str, articles: int, per_article: int) -> list[int]:
    """Import the project through the import service; its paragraph ids in export order."""
    data = "".join(
        json.dumps({"id": f"art-{a:05d}", "title": f"标题 {a}: Title {a}",
                    "url": f"https://example.org/{a}" if a % 2 else None,
                    "paragraphs": [paragraph_text(a, i) for i in range(per_article)]},
                   ensure_ascii=False) + "\n"
        for a in range(articles)).encode("utf-8")
    report = import_sources(session, name, [Source(f"{name}.jsonl", data, "jsonl")])
    assert report.stored and report.added == articles
    assert report.paragraphs == articles * per_article
    return list(session.scalars(
        select(Paragraph.id).join(Article).join(Project).where(Project.name == name)
        .order_by(Article.id, Paragraph.index)))


def annotate_in_bulk(session, paragraph_ids: list[int]) -> Counter:
    """Label every 4th paragraph by two annotators, every 8th by a third, gold every 100th.

    Returns the label_source counts the export must show.
    """
    amy, bob, cy, admin = (create_user(session, name, "password123", role).id for name, role in
                           (("amy", "annotator"), ("bob", "annotator"), ("cy", "annotator"),
                            ("admin", "admin")))
    now = utcnow()
    rows, gold, expected = [], [], Counter()
    for n, paragraph_id in enumerate(paragraph_ids):
        votes = []
        if n % 4 == 0:
            votes += [(amy, "claim"), (bob, "claim" if n % 12 else "evidence")]
        if n % 8 == 0:
            votes.append((cy, "evidence"))
        rows += [{"paragraph_id": paragraph_id, "user_id": user_id, "label": label,
                  "note": None, "created_at": now, "updated_at": now} for user_id, label in votes]
        if n % 100 == 0:
            gold.append({"paragraph_id": paragraph_id, "label": "other", "user_id": admin,
                         "updated_at": now})
            expected["gold"] += 1
        elif votes and Counter(label for _, label in votes).most_common(1)[0][1] * 2 > len(votes):
            expected["majority"] += 1
        else:
            expected[None] += 1
    session.execute(insert(Annotation), rows)  # executemany
    session.execute(insert(Gold), gold)
    session.commit()
    return expected


def mark_spans(session, paragraph_ids: list[int], every: int = 5) -> int:
    """A span of amy's on every `every`-th paragraph (its first 6 code points) and a link from
    each such span to the one before it in the same article; returns the number of spans."""
    amy = session.scalar(select(User.id).where(User.username == "amy"))
    now = utcnow()
    marked = paragraph_ids[::every]
    session.execute(insert(Span), [
        {"paragraph_id": paragraph_id, "user_id": amy, "gold": False, "start": 0, "end": 6,
         "label": "claim", "source": "human", "created_at": now} for paragraph_id in marked])
    spans = session.execute(select(Span.id, Paragraph.article_id).join(
        Paragraph, Paragraph.id == Span.paragraph_id).order_by(Span.id)).all()
    session.execute(insert(Link), [
        {"article_id": article, "user_id": amy, "gold": False, "from_span_id": span,
         "to_span_id": before, "relation": "supports", "created_at": now}
        for (before, before_article), (span, article) in zip(spans, spans[1:])
        if article == before_article])
    session.commit()
    return len(marked)


def traced_export(session, project: str, path: Path, **options) -> tuple[int, int, float]:
    """Write the export to a file under tracemalloc: (lines, bytes, peak traced bytes)."""
    tracemalloc.start()
    try:
        lines = 0
        with open(path, "wb") as handle:
            for line in export_lines(session, project, ExportOptions(**options)):
                handle.write(line)
                lines += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, path.stat().st_size, peak


@pytest.mark.slow
def test_exporting_200k_paragraphs_streams(session, tmp_path):
    paragraph_ids = build_project(session, "big", articles=8000, per_article=25)
    expected_sources = annotate_in_bulk(session, paragraph_ids)

    # speed, without tracemalloc slowing every allocation down
    out = tmp_path / "big.jsonl"
    started = time.perf_counter()
    with open(out, "wb") as handle:
        handle.writelines(export_lines(session, "big"))
    seconds = time.perf_counter() - started
    size = out.stat().st_size
    print(f"\nexport of 200,000 paragraphs: {size / MB:.1f} MiB in {seconds:.2f} s, "
          f"{200_000 / seconds:,.0f} paragraphs/s, {size / MB / seconds:.1f} MiB/s")

    # every line is there, in order, with the labels resolved
    sources, lines = Counter(), 0
    with open(out, "rb") as handle:
        for number, raw in enumerate(handle):
            line = json.loads(raw)
            a, i = divmod(number, 25)
            assert (line["article_id"], line["paragraph_index"]) == (f"art-{a:05d}", i)
            sources[line["label_source"]] += 1
            lines += 1
    assert line["text"] == paragraph_text(7999, 24)
    assert lines == 200_000
    assert sources == expected_sources

    lines, traced_size, peak = traced_export(session, "big", tmp_path / "traced.jsonl")
    assert (lines, traced_size) == (200_000, size)
    print(f"paragraph unit: peak {peak / MB:.1f} MiB traced for {size / MB:.1f} MiB exported")
    assert peak < size / 4
    assert peak < 60 * MB


@pytest.mark.slow
def test_exporting_few_huge_articles_streams(session, tmp_path):
    """Memory is bounded by paragraphs, not articles: 20 articles of 5,000 paragraphs each."""
    paragraph_ids = build_project(session, "books", articles=20, per_article=5000)
    annotate_in_bulk(session, paragraph_ids)
    assert mark_spans(session, paragraph_ids) == 20_000  # and 19,980 links: spans stream too

    lines, size, peak = traced_export(session, "books", tmp_path / "paragraphs.jsonl")
    assert lines == 100_000
    print(f"\n20 x 5,000 paragraphs, paragraph unit: peak {peak / MB:.1f} MiB traced "
          f"for {size / MB:.1f} MiB exported")
    assert peak < size / 4
    assert peak < 60 * MB

    # an article line holds its whole article, but only one article is held at a time
    articles, article_size, article_peak = traced_export(
        session, "books", tmp_path / "articles.jsonl", unit="article")
    assert articles == 20
    print(f"20 x 5,000 paragraphs, article unit: peak {article_peak / MB:.1f} MiB traced "
          f"for {article_size / MB:.1f} MiB exported")
    assert article_peak < article_size / 2  # all 20 articles at once would be several times it
    assert article_peak < 60 * MB
    last = json.loads((tmp_path / "articles.jsonl").read_bytes().split(b"\n")[-2])
    assert [p["index"] for p in last["paragraphs"]] == list(range(5000))
    assert last["paragraphs"][-1]["text"] == paragraph_text(19, 4999)
    assert sum(bool(p["annotations"]) for p in last["paragraphs"]) == 1250 + 750  # spans only
    assert sum(len(a["spans"]) for p in last["paragraphs"] for a in p["annotations"]) == 1000
    assert len(last["links"]) == 999


@pytest.fixture(autouse=True)
def _no_leftover_tracing():
    """A failing assertion inside a traced export must not leave tracemalloc running."""
    yield
    assert not tracemalloc.is_tracing()

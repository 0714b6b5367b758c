"""Spans and links in the export (SPEC "Spans and links", Export): exact code-point offsets in
every script, links in the article unit, gold, --annotator, --only-labeled, the split export
and its dataset card. Data is stored through the models, as the spans API stores it (and, in
the last test, through that API)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from annotator.models import Article, Link, Paragraph, Project, Span
from annotator.services import exporting
from annotator.services.annotations import set_annotation, set_gold
from annotator.services.exporting import ExportOptions, export_lines
from annotator.services.importing import Source, import_sources
from annotator.services.users import create_user

from helpers import article_pks, bearer, import_articles, make_user, paragraph_pks

# (paragraph text, the substring marked): offsets are code points, as Python indexes a str
TRICKY = [
    ("家庭 \U0001F469\u200d\U0001F469\u200d\U0001F467 在这里。", "\U0001F469\u200d\U0001F469\u200d\U0001F467"),  # ZWJ emoji
    ("Cafe\u0301 and re\u0301sume\u0301 are combined", "re\u0301sume\u0301"),  # combining marks
    ("扩展B区的字𠀋在句中，𠀋𠀋也是。", "𠀋𠀋也是"),  # CJK Extension B: one code point each
    ("\u202bשָׁלוֹם עוֹלָם\u202c and العَرَبِيَّة text", "שָׁלוֹם עוֹלָם"),  # RTL, points, embedding
    ("笔者认为：电池回收必须立法！（全角标点）", "电池回收必须立法！"),  # full-width punctuation
]


def _import(session, project: str, articles: list[list[str]],
            first: int = 0) -> list[list[Paragraph]]:
    """Import one article per list of paragraph texts (ids a<first>, a<first + 1>, ...); the
    project's paragraphs, per article."""
    data = "".join(json.dumps({"id": f"a{n}", "title": f"T{n}", "paragraphs": texts},
                              ensure_ascii=False) + "\n"
                   for n, texts in enumerate(articles, start=first))
    report = import_sources(session, project, [Source("t.jsonl", data.encode(), "jsonl")])
    assert report.stored and not report.errors, report.errors
    rows = session.scalars(select(Paragraph).join(Article).join(Project)
                           .where(Project.name == project).order_by(Article.id, Paragraph.index))
    grouped: dict[int, list[Paragraph]] = {}
    for paragraph in rows:
        grouped.setdefault(paragraph.article_id, []).append(paragraph)
    return list(grouped.values())


def _users(session, *names: str) -> dict[str, int]:
    return {name: create_user(session, name, "password123", "annotator").id for name in names}


def _span(session, paragraph: Paragraph, user_id: int, start: int, end: int, label: str = "claim",
          gold: bool = False) -> Span:
    span = Span(paragraph_id=paragraph.id, user_id=user_id, start=start, end=end, label=label,
                gold=gold)
    session.add(span)
    session.flush()
    return span


def _link(session, article_pk: int, user_id: int, source, target, relation: str = "supports",
          gold: bool = False) -> Link:
    """A link between two ends, each a Paragraph or a Span."""
    ends = {}
    for side, end in (("from", source), ("to", target)):
        kind = "span" if isinstance(end, Span) else "paragraph"
        ends[f"{side}_{kind}_id"] = end.id
    link = Link(article_id=article_pk, user_id=user_id, relation=relation, gold=gold, **ends)
    session.add(link)
    session.flush()
    return link


def _export(session, project: str = "news", **options) -> list[dict]:
    return [json.loads(line) for line in export_lines(session, project, ExportOptions(**options))]


def test_span_text_is_the_paragraph_text_sliced_by_code_points_in_every_script(session):
    articles = _import(session, "news", [[text for text, _ in TRICKY]])
    amy = _users(session, "amy")["amy"]
    for paragraph, (text, marked) in zip(articles[0], TRICKY):
        assert paragraph.text == text
        start = text.index(marked)
        _span(session, paragraph, amy, start, start + len(marked), "evidence")
        set_annotation(session, paragraph, amy, "claim")
    session.commit()
    for unit in ("paragraph", "article"):
        lines = _export(session, unit=unit)
        exported = lines if unit == "paragraph" else lines[0]["paragraphs"]
        assert len(exported) == len(TRICKY)
        for paragraph, (text, marked) in zip(exported, TRICKY):
            (span,) = paragraph["annotations"][0]["spans"]
            assert span["text"] == marked == paragraph["text"][span["start"]:span["end"]]
            assert span["end"] - span["start"] == len(marked)  # code points, not UTF-16 units
    # the ZWJ family is 5 code points (8 UTF-16 units); 𠀋𠀋也是 is 4 (6 units)
    assert [len(marked) for _, marked in TRICKY[::2]] == [5, 4, 9]


def test_spans_are_sorted_and_an_annotator_with_spans_but_no_label_does_not_count(session):
    (paragraphs,) = _import(session, "news", [["主张：电池回收必须立法，证据见下。"]])
    (paragraph,) = paragraphs
    ids = _users(session, "amy", "bob")
    set_annotation(session, paragraph, ids["amy"], "claim")
    _span(session, paragraph, ids["amy"], 3, 11, "evidence")
    _span(session, paragraph, ids["amy"], 3, 8, "claim")
    _span(session, paragraph, ids["amy"], 0, 2, "claim")
    _span(session, paragraph, ids["amy"], 3, 8, "evidence")  # same stretch, another label
    _span(session, paragraph, ids["bob"], 12, 16, "evidence")  # bob: spans, no label
    session.commit()
    (line,) = _export(session)
    amy, bob = line["annotations"]
    assert [(s["start"], s["end"], s["label"]) for s in amy["spans"]] == [
        (0, 2, "claim"), (3, 8, "claim"), (3, 8, "evidence"), (3, 11, "evidence")]
    assert amy["label"] == "claim" and amy["source"] == "human"
    assert bob["annotator"] == "bob" and bob["label"] is None and bob["note"] is None
    assert bob["source"] is None and bob["updated_at"].endswith("Z")
    assert bob["spans"] == [{"start": 12, "end": 16, "label": "evidence", "text": "证据见下"}]
    # amy's label alone: a majority of one, not a tie with bob's missing label
    assert (line["label"], line["label_source"]) == ("claim", "majority")
    assert line["gold_spans"] == []


def test_links_are_in_the_article_unit_with_paragraph_and_span_ends_sorted(session):
    (paragraphs,) = _import(session, "news", [["Claim: recycling pays.", "Evidence one.",
                                               "Evidence two, and a rebuttal."]])
    ids = _users(session, "amy", "bob")
    article_pk = paragraphs[0].article_id
    claim = _span(session, paragraphs[0], ids["amy"], 7, 21, "claim")
    rebuttal = _span(session, paragraphs[2], ids["amy"], 14, 28, "evidence")
    _link(session, article_pk, ids["amy"], rebuttal, claim, "attacks")
    _link(session, article_pk, ids["amy"], paragraphs[1], claim)
    _link(session, article_pk, ids["bob"], paragraphs[2], paragraphs[0])
    _link(session, article_pk, ids["amy"], paragraphs[2], claim)
    session.commit()
    (article,) = _export(session, unit="article")
    to_claim = {"paragraph_index": 0, "span": {"start": 7, "end": 21}}
    assert article["links"] == [
        {"annotator": "amy", "from": {"paragraph_index": 1}, "to": to_claim,
         "relation": "supports"},
        {"annotator": "amy", "from": {"paragraph_index": 2}, "to": to_claim,
         "relation": "supports"},
        {"annotator": "amy", "from": {"paragraph_index": 2, "span": {"start": 14, "end": 28}},
         "to": to_claim, "relation": "attacks"},
        {"annotator": "bob", "from": {"paragraph_index": 2}, "to": {"paragraph_index": 0},
         "relation": "supports"}]
    assert article["gold_links"] == []
    span_text = article["paragraphs"][2]["annotations"][0]["spans"][0]["text"]
    assert span_text == "and a rebuttal" == paragraphs[2].text[14:28]
    assert all("links" not in line for line in _export(session))  # not in the paragraph unit


def test_gold_spans_and_links_in_both_units_and_annotator_keeps_only_theirs(session):
    (paragraphs,) = _import(session, "news", [["电池回收必须立法。", "因为污染严重。"]])
    ids = _users(session, "amy", "bob")
    reviewer = create_user(session, "rev", "password123", "admin").id
    article_pk = paragraphs[0].article_id
    for name in ("amy", "bob"):
        set_annotation(session, paragraphs[0], ids[name], "claim")
        _span(session, paragraphs[1], ids[name], 2, 6, "evidence")
    _link(session, article_pk, ids["amy"], paragraphs[1], paragraphs[0])
    _link(session, article_pk, ids["bob"], paragraphs[1], paragraphs[0], "attacks")
    gold_claim = _span(session, paragraphs[0], reviewer, 0, 4, "claim", gold=True)
    gold_evidence = _span(session, paragraphs[1], reviewer, 2, 6, "evidence", gold=True)
    _link(session, article_pk, reviewer, gold_evidence, gold_claim, gold=True)
    set_gold(session, paragraphs[1], "evidence", reviewer)
    session.commit()

    first, second = _export(session)
    assert first["gold_spans"] == [{"start": 0, "end": 4, "label": "claim", "text": "电池回收"}]
    assert second["gold_spans"] == [{"start": 2, "end": 6, "label": "evidence",
                                     "text": "污染严重"}]
    assert [a["annotator"] for a in second["annotations"]] == ["amy", "bob"]
    assert "rev" not in {a["annotator"] for line in (first, second) for a in line["annotations"]}
    (article,) = _export(session, unit="article")
    assert [p["gold_spans"] for p in article["paragraphs"]] == [first["gold_spans"],
                                                                second["gold_spans"]]
    assert article["gold_links"] == [{"from": {"paragraph_index": 1,
                                               "span": {"start": 2, "end": 6}},
                                      "to": {"paragraph_index": 0,
                                             "span": {"start": 0, "end": 4}},
                                      "relation": "supports"}]
    assert [(link["annotator"], link["relation"]) for link in article["links"]] == [
        ("amy", "supports"), ("bob", "attacks")]

    (article,) = _export(session, unit="article", annotator="bob")
    assert [(link["annotator"], link["relation"]) for link in article["links"]] == [
        ("bob", "attacks")]
    assert len(article["gold_links"]) == 1  # gold stays, as the gold label does
    second = article["paragraphs"][1]
    assert [a["annotator"] for a in second["annotations"]] == ["bob"]
    assert second["annotations"][0]["label"] is None and second["label_source"] == "gold"
    assert second["gold_spans"][0]["text"] == "污染严重"


def test_only_labeled_keeps_paragraphs_and_articles_with_spans(session):
    articles = _import(session, "news", [["labeled", "spans only", "gold span only", "bare"],
                                         ["nothing here"], ["only bob's spans here"]])
    ids = _users(session, "amy", "bob")
    reviewer = create_user(session, "rev", "password123", "admin").id
    set_annotation(session, articles[0][0], ids["amy"], "claim")
    _span(session, articles[0][1], ids["amy"], 0, 5)
    _span(session, articles[0][2], reviewer, 0, 4, gold=True)
    _span(session, articles[2][0], ids["bob"], 0, 4, "evidence")
    session.commit()
    lines = _export(session, only_labeled=True)
    assert [(line["article_id"], line["text"]) for line in lines] == [
        ("a0", "labeled"), ("a0", "spans only"), ("a2", "only bob's spans here")]
    assert lines[1]["annotations"][0]["spans"][0]["text"] == "spans"
    assert lines[1]["label"] is None and lines[1]["label_source"] is None
    assert [a["article_id"] for a in _export(session, unit="article", only_labeled=True)] == [
        "a0", "a2"]
    amy_only = _export(session, only_labeled=True, annotator="amy")
    assert [line["text"] for line in amy_only] == ["labeled", "spans only"]


def test_spans_and_links_land_on_their_paragraphs_across_batches_and_pages(session,
                                                                           monkeypatch):
    """The spans' and links' streams are merged with the paragraphs' batch by batch: with
    small batches and pages, and --only-labeled leaving paragraphs out between them."""
    monkeypatch.setattr(exporting, "ARTICLES_PER_BATCH", 2)
    monkeypatch.setattr(exporting, "PARAGRAPHS_PER_PAGE", 3)
    articles = _import(session, "news", [[f"文章{a}段{i}：内容" for i in range(4)]
                                         for a in range(7)])
    amy = _users(session, "amy")["amy"]
    for a, paragraphs in enumerate(articles):
        for i, paragraph in enumerate(paragraphs):
            if (a + i) % 3 == 0:
                _span(session, paragraph, amy, 2, 3 + i % 2)
            if (a + i) % 4 == 1:
                set_annotation(session, paragraph, amy, "other")
        if a % 2:
            _link(session, paragraphs[0].article_id, amy, paragraphs[3], paragraphs[a % 3])
    session.commit()
    for only_labeled in (False, True):
        for article in _export(session, unit="article", only_labeled=only_labeled):
            a = int(article["article_id"][1:])
            for paragraph in article["paragraphs"]:
                i = paragraph["index"]
                spans = [s for e in paragraph["annotations"] for s in e["spans"]]
                assert [s["text"] for s in spans] == ([paragraph["text"][2:3 + i % 2]]
                                                     if (a + i) % 3 == 0 else [])
            assert [(link["from"], link["to"]) for link in article["links"]] == (
                [({"paragraph_index": 3}, {"paragraph_index": a % 3})] if a % 2 else [])
        lines = _export(session, only_labeled=only_labeled)
        assert sum(bool(e["spans"]) for line in lines for e in line["annotations"]) == sum(
            (a + i) % 3 == 0 for a in range(7) for i in range(4))


@pytest.fixture
def argued(app, session):
    """Six short articles, each with a claim span, an evidence span linking to it, and a
    gold claim span on the first three."""
    articles = _import(session, "news", [[f"论点{n}：必须回收。", f"证据{n}：污染 \U0001F469\u200d\U0001F467 严重。"]
                                         for n in range(6)])
    ids = _users(session, "amy")
    reviewer = create_user(session, "rev", "password123", "admin").id
    for n, (claim_paragraph, evidence_paragraph) in enumerate(articles):
        set_annotation(session, claim_paragraph, ids["amy"], "claim")
        claim = _span(session, claim_paragraph, ids["amy"], 4, 8, "claim")
        evidence = _span(session, evidence_paragraph, ids["amy"], 4, 10, "evidence")
        _link(session, claim_paragraph.article_id, ids["amy"], evidence, claim)
        if n < 3:
            _span(session, claim_paragraph, reviewer, 4, 8, "claim", gold=True)
    session.commit()
    return "news"


def _split(runner, out, *extra):
    result = runner.invoke(args=["export", "--project", "news", "--split", "train=0.5,test=0.5",
                                 "--seed", "1", "-o", str(out), "--force", *extra])
    assert result.exit_code == 0, result.output
    return (out / "README.md").read_text("utf-8")


def test_the_card_counts_spans_per_label_and_links_per_relation(runner, argued, tmp_path):
    card = _split(runner, tmp_path / "out", "--unit", "article")
    assert ("Spans: 12 (`claim` 6, `evidence` 6) marked by annotators, 3 (`claim` 3, "
            "`evidence` 0) gold. Links: 6 (`supports` 6, `attacks` 0) by annotators, "
            "0 (`supports` 0, `attacks` 0) gold.") in card
    card = _split(runner, tmp_path / "out")
    assert "Spans: 12 (`claim` 6, `evidence` 6) marked by annotators" in card
    assert "Links are in the article unit only" in card


def test_the_cards_features_load_spans_and_links_in_datasets(runner, argued, tmp_path):
    pytest.importorskip("datasets", minversion="4.7")
    from datasets import load_dataset, load_dataset_builder
    out, cache = tmp_path / "out", tmp_path / "cache"
    for unit in ("paragraph", "article"):
        _split(runner, out, "--unit", unit)
        features = load_dataset_builder(str(out), cache_dir=str(cache)).info.features
        ds = load_dataset("json", data_files={n: str(out / f"{n}.jsonl") for n in ("train", "test")},
                          features=features, cache_dir=str(cache / unit))
        rows = [*ds["train"], *ds["test"]]
        paragraphs = (rows if unit == "paragraph"
                      else [p for row in rows for p in row["paragraphs"]])
        spans = [s for p in paragraphs for a in p["annotations"] for s in a["spans"]]
        assert sorted(s["text"] for s in spans) == sorted(
            [f"必须回收"] * 6 + ["污染 \U0001F469\u200d\U0001F467"] * 6)
        assert sum(len(p["gold_spans"]) for p in paragraphs) == 3
        if unit == "article":
            links = [link for row in rows for link in row["links"]]
            assert [(link["from"], link["to"]) for link in links] == [
                ({"paragraph_index": 1, "span": {"start": 4, "end": 10}},
                 {"paragraph_index": 0, "span": {"start": 4, "end": 8}})] * 6


def test_another_projects_spans_and_links_never_leak_into_an_export(session):
    """Articles of two projects interleave in id order: a batch's spans and links (its range
    of article ids holds the other project's article) are the exported project's only."""
    first = _import(session, "news", [["news one"]])
    other = _import(session, "blogs", [["blog one", "blog two"]])
    last = _import(session, "news", [["news two"]], first=1)[-1]
    amy = _users(session, "amy")["amy"]
    assert first[0][0].article_id < other[0][0].article_id < last[0].article_id
    span = _span(session, other[0][0], amy, 0, 4)
    _link(session, other[0][0].article_id, amy, other[0][1], span)
    _span(session, last[0], amy, 5, 8, "evidence")
    session.commit()
    news = _export(session, unit="article")
    assert [a["article_id"] for a in news] == ["a0", "a1"]
    assert [[s["text"] for p in a["paragraphs"] for e in p["annotations"] for s in e["spans"]]
            for a in news] == [[], ["two"]]
    assert [a["links"] for a in news] == [[], []]
    (blog,) = _export(session, "blogs", unit="article")
    assert blog["links"][0]["to"] == {"paragraph_index": 0, "span": {"start": 0, "end": 4}}


def test_spans_without_a_label_make_no_tie_and_only_resolved_keeps_the_label(runner, session):
    (paragraphs,) = _import(session, "news", [["主张：电池回收必须立法。"]])
    ids = _users(session, "amy", "bob")
    set_annotation(session, paragraphs[0], ids["amy"], "claim")
    _span(session, paragraphs[0], ids["bob"], 3, 7)
    session.commit()
    result = runner.invoke(args=["export", "--project", "news", "--only-resolved"])
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(raw) for raw in result.stdout.splitlines()]
    assert (line["label"], line["label_source"]) == ("claim", "majority")
    assert [e["annotator"] for e in line["annotations"]] == ["amy", "bob"]
    assert result.stderr.startswith("0 unresolved ties"), result.stderr


def test_spans_and_links_put_through_the_api_export_with_the_same_offsets(app, client, runner):
    """The whole path: PUT spans and links as the article page does (bearer token), then
    `flask export --unit article`: every span's text is the API text sliced by its offsets."""
    import_articles(app, "news", [{"id": "a1", "title": "T",
                                   "paragraphs": [text for text, _ in TRICKY]}])
    make_user(app, "li")
    headers = bearer(app, "li")
    (article_pk,) = article_pks(app, "news")
    pids = paragraph_pks(app, article_pk)
    span_ids = []
    for pid, (text, marked) in zip(pids, TRICKY):
        start = text.index(marked)
        response = client.put(f"/api/paragraphs/{pid}/spans", headers=headers, json={
            "spans": [{"start": start, "end": start + len(marked), "label": "evidence"}]})
        assert response.status_code == 200, response.get_json()
        span_ids.append(response.get_json()["spans"][0]["id"])
    response = client.put(f"/api/articles/{article_pk}/links", headers=headers, json={"links": [
        {"from": {"span_id": span_ids[1]}, "to": {"span_id": span_ids[0]}},
        {"from": {"paragraph_id": pids[4]}, "to": {"span_id": span_ids[2]},
         "relation": "attacks"}]})
    assert response.status_code == 200, response.get_json()
    result = runner.invoke(args=["export", "--project", "news", "--unit", "article"])
    assert result.exit_code == 0, result.output
    (article,) = [json.loads(raw) for raw in result.stdout.splitlines()]
    for paragraph, (text, marked) in zip(article["paragraphs"], TRICKY):
        (span,) = paragraph["annotations"][0]["spans"]
        assert span["text"] == marked == text[span["start"]:span["end"]]
        assert paragraph["annotations"][0]["label"] is None  # spans only, no paragraph label
    start = [TRICKY[n][0].index(TRICKY[n][1]) for n in range(3)]
    assert article["links"] == [
        {"annotator": "li", "from": {"paragraph_index": 1, "span": {
            "start": start[1], "end": start[1] + len(TRICKY[1][1])}},
         "to": {"paragraph_index": 0, "span": {"start": start[0],
                                               "end": start[0] + len(TRICKY[0][1])}},
         "relation": "supports"},  # the project's first relation, by default
        {"annotator": "li", "from": {"paragraph_index": 4},
         "to": {"paragraph_index": 2, "span": {"start": start[2],
                                               "end": start[2] + len(TRICKY[2][1])}},
         "relation": "attacks"}]

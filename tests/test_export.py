"""`flask export` (SPEC "Export"): round trip, fields, order, label resolution, options, errors."""
from __future__ import annotations

import json
import os
import re
import stat
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from annotator.models import AnnotationHistory, Article, Paragraph, Project
from annotator.services import exporting
from annotator.services.annotations import (clear_annotation, clear_gold, set_annotation,
                                            set_gold)
from annotator.services.exporting import ExportError, ExportOptions, export_lines
from annotator.services.importing import Source, import_sources
from annotator.services.users import create_user

PARAGRAPH_KEYS = {"project", "article_id", "title", "url", "paragraph_index", "text",
                  "annotations", "label", "label_source",
                  "meta", "source", "gold_spans"}  # beyond SPEC: meta, source file, gold spans
ARTICLE_KEYS = {"project", "article_id", "title", "url", "meta", "paragraphs", "links",
                "source", "gold_links"}  # beyond SPEC: source, gold links
ARTICLE_PARAGRAPH_KEYS = {"index", "text", "annotations", "label", "label_source", "gold_spans"}
ANNOTATION_KEYS = {"annotator", "label", "note", "source", "updated_at", "guideline_version",
                   "spans"}
UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")

# --- helpers ---------------------------------------------------------------------------


def jsonl(*records: dict) -> bytes:
    """Records as JSONL bytes, non-ASCII written as itself."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()


def import_records(session, project: str, *records: dict) -> None:
    """Import records through the real import service, asserting they were stored."""
    report = import_sources(session, project, [Source("test.jsonl", jsonl(*records), "jsonl")])
    assert report.stored and not report.errors, report.errors


def export(runner, project: str = "news", *args: str):
    """Invoke `flask export --project PROJECT ARGS...`."""
    return runner.invoke(args=["export", "--project", project, *args])


def parse(raw: bytes) -> list[dict]:
    """Strict JSONL: UTF-8, every line ends in \\n, one JSON object per line, no NaN."""
    if not raw:
        return []
    assert raw.endswith(b"\n")
    text = raw.decode("utf-8")  # strict: raises on invalid UTF-8
    objects = []
    for line in text[:-1].split("\n"):
        obj = json.loads(line, parse_constant=_reject_constant)
        assert isinstance(obj, dict)
        objects.append(obj)
    return objects


def _reject_constant(name: str):
    raise AssertionError(f"{name} is not JSON")


def exported(runner, project: str = "news", *args: str) -> list[dict]:
    """Export through the CLI: exit 0, nothing on stderr (but the count of ties that
    --only-labeled reports), parsed lines."""
    result = export(runner, project, *args)
    assert result.exit_code == 0, result.output
    assert result.stderr == "" or re.fullmatch(r"\d+ unresolved ties? [^\n]*\n", result.stderr)
    return parse(result.stdout_bytes)


def direct(session, project: str = "news", **options) -> list[dict]:
    """Export through export_lines, each item a whole line."""
    lines = list(export_lines(session, project, ExportOptions(**options)))
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    return parse(b"".join(lines))


def paragraphs(session, project: str = "news") -> list[Paragraph]:
    """The project's paragraphs in import order."""
    return list(session.scalars(
        select(Paragraph).join(Article).join(Project).where(Project.name == project)
        .order_by(Article.id, Paragraph.index)))


def users(session, *names: str, role: str = "annotator") -> dict[str, int]:
    """Create users through the real service; name -> id."""
    return {name: create_user(session, name, "password123", role).id for name in names}


def labels_of(lines: list[dict]) -> list[tuple]:
    return [(line["label"], line["label_source"]) for line in lines]


# --- round trip ------------------------------------------------------------------------

FAMILY = "\U0001F469\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"  # 👩‍👩‍👧‍👦
TRICKY = [
    # (as imported, as stored and exported)
    (f"Family {FAMILY} and flag \U0001F1F9\U0001F1FC, skin tone \U0001F44D\U0001F3FD",
     f"Family {FAMILY} and flag \U0001F1F9\U0001F1FC, skin tone \U0001F44D\U0001F3FD"),
    ("Cafe\u0301 re\u0301sume\u0301 (combining acute)", "Cafe\u0301 re\u0301sume\u0301 (combining acute)"),
    ("Tiếng Việt: Việt Nam (precomposed)", "Tiếng Việt: Việt Nam (precomposed)"),
    ("Tie\u0302\u0301ng Vie\u0323\u0302t (decomposed)", "Tie\u0302\u0301ng Vie\u0323\u0302t (decomposed)"),
    ("العربية: هذا نص من اليمين إلى اليسار 123", "العربية: هذا نص من اليمين إلى اليسار 123"),
    ("עברית: זהו טקסט מימין לשמאל, with English inside", "עברית: זהו טקסט מימין לשמאל, with English inside"),
    ("\u202bembedding\u202c and \u2067isolate\u2069 marks", "\u202bembedding\u202c and \u2067isolate\u2069 marks"),
    ("\u3000\u3000全角空格开头的中文段落，结尾也有。\u3000", "全角空格开头的中文段落，结尾也有。"),
    ("零宽\u200b空格\u200b在中间", "零宽\u200b空格\u200b在中间"),
    ("\u200b edges are not whitespace \u200b", "\u200b edges are not whitespace \u200b"),
    ("inner\ufeffBOM stays", "inner\ufeffBOM stays"),
    (" \t\u00a0\u2003padded with ASCII, NBSP and em space\u2003\u00a0 \n", "padded with ASCII, NBSP and em space"),
    ("line one\r\nline two\rline three\nline four", "line one\nline two\nline three\nline four"),
    ("tab\tinside, quote \" and backslash \\ and slash /", "tab\tinside, quote \" and backslash \\ and slash /"),
    ("line\u2028separator, paragraph\u2029separator, NEL\u0085end", "line\u2028separator, paragraph\u2029separator, NEL\u0085end"),
    ("𠀀𪚥 astral CJK and 𝕄𝕒𝕥𝕙", "𠀀𪚥 astral CJK and 𝕄𝕒𝕥𝕙"),
    ("\u3000 \u3000", None),  # whitespace only: dropped, the next paragraph takes its index
    ("<p>not &amp; html</p> stays literal", "<p>not &amp; html</p> stays literal"),
]


def test_round_trip_gives_back_every_character(runner, tmp_path):
    source = tmp_path / "tricky.jsonl"
    title = "\u3000标题 Title \u0627\u0644\u0639\u0646\u0648\u0627\u0646 " + FAMILY + "\u3000"
    source.write_bytes(jsonl({"id": "t1", "title": title, "paragraphs": [raw for raw, _ in TRICKY]}))
    result = runner.invoke(args=["import", str(source), "--project", "news"])
    assert result.exit_code == 0, result.output

    result = export(runner)
    assert result.exit_code == 0, result.output
    raw = result.stdout_bytes
    lines = parse(raw)
    expected = [stored for _, stored in TRICKY if stored is not None]
    assert [line["text"] for line in lines] == expected
    assert [line["paragraph_index"] for line in lines] == list(range(len(expected)))
    assert {line["title"] for line in lines} == {"标题 Title العنوان " + FAMILY}
    # one line per paragraph even though texts hold \n, U+2028, U+2029 and U+0085
    assert raw.count(b"\n") == len(expected)
    # non-ASCII is written as itself, never as a \u escape
    assert b"\\u" not in raw
    for text in (FAMILY, "Cafe\u0301", "Vie\u0323\u0302t", "اليمين", "מימין", "零宽\u200b空格",
                 "inner\ufeffBOM", "line\u2028separator", "𠀀𪚥"):
        assert json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8") in raw, text

    articles = exported(runner, "news", "--unit", "article")
    assert len(articles) == 1
    assert [p["text"] for p in articles[0]["paragraphs"]] == expected
    assert articles[0]["title"] == "标题 Title العنوان " + FAMILY


def test_hundred_thousand_character_paragraph_round_trips(runner, session):
    unit = "长段落 long paragraph 👩‍👩‍👧‍👦 é Việt عربي "
    text = (unit * (100_000 // len(unit) + 1))[:99_999] + "末"
    assert len(text) == 100_000
    import_records(session, "news", {"id": "long", "title": "Long",
                                     "paragraphs": ["short one", text, "short two"]})
    lines = exported(runner)
    assert [len(line["text"]) for line in lines] == [9, 100_000, 9]
    assert lines[1]["text"] == text
    article = exported(runner, "news", "--unit", "article")[0]
    assert article["paragraphs"][1]["text"] == text
    assert direct(session)[1]["text"] == text


@pytest.mark.parametrize("unit", ["paragraph", "article"])
def test_output_file_holds_the_same_bytes_as_stdout(runner, session, tmp_path, unit):
    import_records(session, "news",
                   {"id": "a1", "title": "标题", "url": "https://例子.中国/a?x=1",
                    "meta": {"来源": "网站", "n": [1, 2.5, None, True]},
                    "paragraphs": ["第一段。", FAMILY, "Third."]},
                   {"id": "a2", "title": "Two", "paragraphs": ["عربي", "עברית"]})
    amy = users(session, "amy")["amy"]
    set_annotation(session, paragraphs(session)[0], amy, "claim", "笔记 note")

    to_stdout = export(runner, "news", "--unit", unit)
    assert to_stdout.exit_code == 0, to_stdout.output
    target = tmp_path / "out" / "export.jsonl"
    target.parent.mkdir()
    to_file = export(runner, "news", "--unit", unit, "-o", str(target))
    assert to_file.exit_code == 0, to_file.output

    assert to_file.stdout_bytes == b""
    assert target.read_bytes() == to_stdout.stdout_bytes
    assert len(parse(target.read_bytes())) == (5 if unit == "paragraph" else 2)
    assert sorted(p.name for p in target.parent.iterdir()) == ["export.jsonl"]  # no leftovers
    assert b"".join(export_lines(session, "news", ExportOptions(unit=unit))) == target.read_bytes()


def test_empty_project_exports_nothing(runner, session):
    report = import_sources(session, "empty", [Source("bad.jsonl", b'{"title": ""}\n', "jsonl")],
                            skip_invalid=True)
    assert report.stored and report.added == 0
    for unit in ("paragraph", "article"):
        result = export(runner, "empty", "--unit", unit)
        assert result.exit_code == 0, result.output
        assert result.stdout_bytes == b""


# --- fields, order, timestamps ---------------------------------------------------------


def test_paragraph_unit_has_exactly_the_spec_fields_and_meta(runner, session):
    import_records(session, "news",
                   {"id": "a1", "title": "First", "paragraphs": ["p0", "p1"]},
                   {"title": "No id, with url", "url": "https://example.org/x", "paragraphs": ["q0"]})
    amy = users(session, "amy")["amy"]
    set_annotation(session, paragraphs(session)[1], amy, "evidence")

    lines = exported(runner)  # --unit paragraph is the default
    assert lines == exported(runner, "news", "--unit", "paragraph")
    assert all(set(line) == PARAGRAPH_KEYS for line in lines)
    assert [line["project"] for line in lines] == ["news"] * 3
    assert [(line["article_id"], line["paragraph_index"], line["text"]) for line in lines] == [
        ("a1", 0, "p0"), ("a1", 1, "p1"), (lines[2]["article_id"], 0, "q0")]
    assert re.fullmatch(r"[0-9a-f]{16}", lines[2]["article_id"])  # derived from the content
    assert [line["url"] for line in lines] == [None, None, "https://example.org/x"]
    assert lines[0]["annotations"] == [] and labels_of(lines)[0] == (None, None)
    assert [set(a) for a in lines[1]["annotations"]] == [ANNOTATION_KEYS]
    assert lines[1]["annotations"][0]["annotator"] == "amy"
    assert lines[1]["annotations"][0]["label"] == "evidence"
    assert lines[1]["annotations"][0]["note"] is None
    assert labels_of(lines)[1] == ("evidence", "majority")
    assert lines == direct(session)


def test_article_unit_has_exactly_the_spec_fields(runner, session):
    meta = {"来源": "新华网", "tags": ["经济", "AI"], "nested": {"n": 1, "x": None, "f": 0.5}}
    import_records(session, "news",
                   {"id": "a1", "title": "With meta", "url": "https://example.org/a1",
                    "meta": meta, "paragraphs": ["p0", "p1"]},
                   {"id": "a2", "title": "Without meta", "paragraphs": ["q0"]},
                   {"id": "a3", "title": "Empty meta", "meta": {}, "text": "line 1\nline 2"})
    amy = users(session, "amy")["amy"]
    set_annotation(session, paragraphs(session)[0], amy, "claim", "why")

    articles = exported(runner, "news", "--unit", "article")
    assert all(set(article) == ARTICLE_KEYS for article in articles)
    assert [a["article_id"] for a in articles] == ["a1", "a2", "a3"]
    assert [a["project"] for a in articles] == ["news"] * 3
    assert [a["url"] for a in articles] == ["https://example.org/a1", None, None]
    assert [a["meta"] for a in articles] == [meta, {}, {}]
    assert all(set(p) == ARTICLE_PARAGRAPH_KEYS for a in articles for p in a["paragraphs"])
    assert [[(p["index"], p["text"]) for p in a["paragraphs"]] for a in articles] == [
        [(0, "p0"), (1, "p1")], [(0, "q0")], [(0, "line 1"), (1, "line 2")]]
    first = articles[0]["paragraphs"][0]
    assert [(a["annotator"], a["label"], a["note"]) for a in first["annotations"]] == [
        ("amy", "claim", "why")]
    assert (first["label"], first["label_source"]) == ("claim", "majority")
    assert articles[0]["paragraphs"][1]["annotations"] == []
    assert (articles[0]["paragraphs"][1]["label"], articles[0]["paragraphs"][1]["label_source"]) == (None, None)
    assert articles == direct(session, unit="article")


def test_meta_that_orjson_refuses_still_exports_valid_json(runner, session):
    """JSON allows integers beyond 64 bits in an imported `meta`; orjson does not."""
    nan = b'{"id": "nan", "title": "T", "paragraphs": ["p"], "meta": {"score": NaN}}\n'
    refused = import_sources(session, "news", [Source("n.jsonl", nan, "jsonl")])
    assert refused.errors == ["n.jsonl:1: not valid JSON (NaN is not a JSON value)"]
    data = (b'{"id": "big", "title": "T", "paragraphs": ["p"], '
            b'"meta": {"id": 123456789012345678901234567890, "ok": 1}}\n')
    report = import_sources(session, "news", [Source("m.jsonl", data, "jsonl")])
    assert report.stored, report.errors
    articles = exported(runner, "news", "--unit", "article")
    assert articles[0]["meta"] == {"id": 123456789012345678901234567890, "ok": 1}
    assert [line["text"] for line in exported(runner)] == ["p"]



def test_a_line_orjson_refuses_keeps_its_timestamps_format(runner, session):
    """The json fallback writes an annotation's time as the usual path does (seconds, Z)."""
    data = b'{"id": "big", "title": "T", "paragraphs": ["p"], "meta": {"id": 123456789012345678901234567890}}\n'
    assert import_sources(session, "news", [Source("m.jsonl", data, "jsonl")]).stored
    import_records(session, "news", {"id": "small", "title": "T", "paragraphs": ["q"]})
    amy = users(session, "amy")["amy"]
    for paragraph in paragraphs(session):
        set_annotation(session, paragraph, amy, "claim")
    big, small = exported(runner)
    assert big["meta"]["id"] == 123456789012345678901234567890 and "id" not in small["meta"]
    stamps = [line["annotations"][0]["updated_at"] for line in (big, small)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp) for stamp in stamps), stamps

@pytest.mark.parametrize("small_batches", [False, True], ids=["default-batches", "tiny-batches"])
def test_order_is_import_order(runner, session, monkeypatch, small_batches):
    if small_batches:  # cross every batch and page boundary with a small project
        monkeypatch.setattr(exporting, "ARTICLES_PER_BATCH", 2)
        monkeypatch.setattr(exporting, "PARAGRAPHS_PER_PAGE", 3)
    import_records(session, "news",
                   {"id": "z", "title": "Z", "paragraphs": [f"z{i}" for i in range(5)]},
                   {"id": "a", "title": "A", "paragraphs": ["a0"]})
    import_records(session, "other", {"id": "o", "title": "O", "paragraphs": ["o0", "o1"]})
    import_records(session, "news",
                   {"id": "m", "title": "M", "paragraphs": ["m0", "m1", "m2", "m3"]},
                   {"id": "b", "title": "B", "paragraphs": ["b0", "b1"]})
    import_records(session, "other", {"id": "o2", "title": "O2", "paragraphs": ["o2"]})
    import_records(session, "news", {"id": "c", "title": "C", "paragraphs": ["c0"]})
    order = [(a, f"{a}{i}") for a, n in (("z", 5), ("a", 1), ("m", 4), ("b", 2), ("c", 1))
             for i in range(n)]

    lines = exported(runner)
    assert [(line["article_id"], line["text"]) for line in lines] == order
    assert [line["paragraph_index"] for line in lines] == [int(t[1:]) for _, t in order]
    articles = exported(runner, "news", "--unit", "article")
    assert [a["article_id"] for a in articles] == ["z", "a", "m", "b", "c"]
    assert [p["text"] for a in articles for p in a["paragraphs"]] == [t for _, t in order]
    assert [line["text"] for line in exported(runner, "other")] == ["o0", "o1", "o2"]


def test_timestamps_are_utc_iso_8601_ending_in_z(runner, session):
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0"]})
    ids = users(session, "amy", "bob")
    before = datetime.now(UTC).replace(microsecond=0)
    for name, label in (("amy", "claim"), ("bob", "evidence")):
        set_annotation(session, paragraphs(session)[0], ids[name], label)
    after = datetime.now(UTC)

    for annotations in (exported(runner)[0]["annotations"],
                        exported(runner, "news", "--unit", "article")[0]["paragraphs"][0]["annotations"]):
        assert len(annotations) == 2
        for annotation in annotations:
            stamp = annotation["updated_at"]
            assert UTC_Z.fullmatch(stamp), stamp
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            assert before - timedelta(seconds=1) <= moment <= after + timedelta(seconds=1)


# --- label resolution ------------------------------------------------------------------

LABEL_CASES = {
    # name: (annotations as (annotator, label), gold, expected label, expected source)
    "unlabeled": ((), None, None, None),
    "single": ((("amy", "claim"),), None, "claim", "majority"),
    "two-agree": ((("amy", "evidence"), ("bob", "evidence")), None, "evidence", "majority"),
    "two-disagree": ((("amy", "claim"), ("bob", "evidence")), None, None, None),
    "two-of-three": ((("amy", "claim"), ("bob", "other"), ("cy", "claim")), None, "claim", "majority"),
    "one-each-of-three": ((("amy", "claim"), ("bob", "evidence"), ("cy", "other")), None, None, None),
    "two-two-tie": ((("amy", "claim"), ("bob", "claim"), ("cy", "other"), ("dee", "other")),
                    None, None, None),
    "three-of-four": ((("amy", "boilerplate"), ("bob", "boilerplate"), ("cy", "other"),
                       ("dee", "boilerplate")), None, "boilerplate", "majority"),
    "plurality-is-not-majority": ((("amy", "claim"), ("bob", "claim"), ("cy", "other"),
                                   ("dee", "evidence")), None, None, None),
    "gold-over-majority": ((("amy", "claim"), ("bob", "claim")), "evidence", "evidence", "gold"),
    "gold-breaks-tie": ((("amy", "claim"), ("bob", "other")), "other", "other", "gold"),
    "gold-alone": ((), "boilerplate", "boilerplate", "gold"),
}


@pytest.mark.parametrize("case", LABEL_CASES)
def test_label_resolution(runner, session, case):
    votes, gold, label, source = LABEL_CASES[case]
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0", "p1"]})
    ids = users(session, "admin", role="admin") | users(session, *[name for name, _ in votes])
    target, bystander = paragraphs(session)
    for name, key in votes:
        set_annotation(session, target, ids[name], key)
    if gold:
        set_gold(session, target, gold, ids["admin"])

    line, other = exported(runner)
    assert (line["label"], line["label_source"]) == (label, source)
    assert [(a["annotator"], a["label"]) for a in line["annotations"]] == sorted(votes)
    assert (other["label"], other["label_source"], other["annotations"]) == (None, None, [])
    article = exported(runner, "news", "--unit", "article")[0]
    assert (article["paragraphs"][0]["label"], article["paragraphs"][0]["label_source"]) == (label, source)
    assert article["paragraphs"][0]["annotations"] == line["annotations"]


def test_clearing_gold_falls_back_to_the_majority(runner, session):
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0"]})
    ids = users(session, "admin", role="admin") | users(session, "amy", "bob")
    paragraph = paragraphs(session)[0]
    set_annotation(session, paragraph, ids["amy"], "claim")
    set_annotation(session, paragraph, ids["bob"], "claim")
    set_gold(session, paragraph, "evidence", ids["admin"])
    set_gold(session, paragraph, "other", ids["admin"])  # changing gold: the new value wins
    assert labels_of(exported(runner)) == [("other", "gold")]
    assert clear_gold(session, paragraph)
    assert labels_of(exported(runner)) == [("claim", "majority")]


def test_annotations_are_sorted_by_username_with_their_notes(runner, session):
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0"]})
    names = ["zoe", "李雷", "Bob", "o'neil", "amy", "Émile"]
    ids = users(session, *names)
    paragraph = paragraphs(session)[0]
    notes = {"zoe": "z", "李雷": "笔记：广告", "Bob": None, "o'neil": "quote \" and \\", "amy": "",
             "Émile": "é"}
    for name in names:
        set_annotation(session, paragraph, ids[name], "claim" if name != "Bob" else "other",
                       notes[name])

    annotations = exported(runner)[0]["annotations"]
    assert [a["annotator"] for a in annotations] == ["Bob", "amy", "o'neil", "zoe", "Émile", "李雷"]
    assert [a["annotator"] for a in annotations] == sorted(names)
    assert all(set(a) == ANNOTATION_KEYS for a in annotations)
    assert {a["annotator"]: a["note"] for a in annotations} == notes
    assert {a["annotator"]: a["label"] for a in annotations}["Bob"] == "other"


def test_changed_annotation_exports_its_new_value_and_keeps_the_old_one(runner, session):
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0"]})
    ids = users(session, "admin", role="admin") | users(session, "amy")
    paragraph = paragraphs(session)[0]
    first = set_annotation(session, paragraph, ids["amy"], "claim", "first thought")
    first_updated = first.updated_at
    set_annotation(session, paragraph, ids["amy"], "claim", "first thought")  # no change: no history
    assert session.scalars(select(AnnotationHistory)).all() == []

    set_annotation(session, paragraph, ids["amy"], "evidence", "on reflection")
    set_annotation(session, paragraph, ids["amy"], "boilerplate", None, changed_by=ids["admin"])

    line = exported(runner)[0]
    assert [(a["annotator"], a["label"], a["note"]) for a in line["annotations"]] == [
        ("amy", "boilerplate", None)]
    assert (line["label"], line["label_source"]) == ("boilerplate", "majority")
    history = session.scalars(select(AnnotationHistory).order_by(AnnotationHistory.id)).all()
    assert [(h.paragraph_id, h.user_id, h.label, h.note, h.replaced_by_id) for h in history] == [
        (paragraph.id, ids["amy"], "claim", "first thought", ids["amy"]),
        (paragraph.id, ids["amy"], "evidence", "on reflection", ids["admin"])]
    assert history[0].valid_from == first_updated
    assert all(h.replaced_at >= h.valid_from for h in history)


def test_cleared_annotation_leaves_the_export_and_stays_in_history(runner, session):
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0"]})
    ids = users(session, "amy", "bob")
    paragraph = paragraphs(session)[0]
    set_annotation(session, paragraph, ids["amy"], "claim")
    set_annotation(session, paragraph, ids["bob"], "evidence")
    assert labels_of(exported(runner)) == [(None, None)]
    assert clear_annotation(session, paragraph, ids["bob"])
    assert not clear_annotation(session, paragraph, ids["bob"])

    line = exported(runner)[0]
    assert [a["annotator"] for a in line["annotations"]] == ["amy"]
    assert (line["label"], line["label_source"]) == ("claim", "majority")
    history = session.scalars(select(AnnotationHistory)).all()
    assert [(h.user_id, h.label, h.replaced_by_id) for h in history] == [
        (ids["bob"], "evidence", ids["bob"])]


# --- --only-labeled and --annotator ----------------------------------------------------


@pytest.fixture
def labeled(session):
    """Three articles: a1 partly labeled, a2 with gold only, a3 labeled by bob alone."""
    import_records(session, "news",
                   {"id": "a1", "title": "One", "paragraphs": ["a1-0", "a1-1", "a1-2", "a1-3"]},
                   {"id": "a2", "title": "Two", "paragraphs": ["a2-0", "a2-1"]},
                   {"id": "a3", "title": "Three", "paragraphs": ["a3-0"]})
    ids = users(session, "admin", role="admin") | users(session, "amy", "bob")
    p = {paragraph.text: paragraph for paragraph in paragraphs(session)}
    set_annotation(session, p["a1-0"], ids["amy"], "claim", "amy's note")
    set_annotation(session, p["a1-0"], ids["bob"], "evidence")
    set_annotation(session, p["a1-2"], ids["amy"], "other")
    set_gold(session, p["a1-2"], "boilerplate", ids["admin"])
    set_annotation(session, p["a1-3"], ids["bob"], "claim")
    set_gold(session, p["a2-1"], "evidence", ids["admin"])
    set_annotation(session, p["a3-0"], ids["bob"], "boilerplate")
    return ids


def test_only_labeled_paragraph_unit(runner, session, labeled):
    lines = exported(runner, "news", "--only-labeled")
    assert [(line["article_id"], line["paragraph_index"], line["text"]) for line in lines] == [
        ("a1", 0, "a1-0"), ("a1", 2, "a1-2"), ("a1", 3, "a1-3"), ("a3", 0, "a3-0")]
    assert labels_of(lines) == [(None, None), ("boilerplate", "gold"), ("claim", "majority"),
                                ("boilerplate", "majority")]
    assert all(line["annotations"] for line in lines)
    assert len(exported(runner)) == 7  # without the flag every paragraph is there
    assert lines == direct(session, only_labeled=True)


def test_only_labeled_article_unit_leaves_out_articles_with_nothing_labeled(runner, session, labeled):
    articles = exported(runner, "news", "--unit", "article", "--only-labeled")
    assert [a["article_id"] for a in articles] == ["a1", "a3"]  # a2 has gold but no annotation
    assert [[(p["index"], p["text"]) for p in a["paragraphs"]] for a in articles] == [
        [(0, "a1-0"), (2, "a1-2"), (3, "a1-3")], [(0, "a3-0")]]
    assert [a["meta"] for a in articles] == [{}, {}]
    everything = exported(runner, "news", "--unit", "article")
    assert [len(a["paragraphs"]) for a in everything] == [4, 2, 1]
    assert articles == direct(session, unit="article", only_labeled=True)


def test_annotator_exports_as_if_they_were_the_only_annotator(runner, session, labeled):
    lines = exported(runner, "news", "--annotator", "amy")
    assert len(lines) == 7
    by_text = {line["text"]: line for line in lines}
    assert all(a["annotator"] == "amy" for line in lines for a in line["annotations"])
    assert [(a["label"], a["note"]) for a in by_text["a1-0"]["annotations"]] == [
        ("claim", "amy's note")]
    # amy alone says claim: bob's disagreement no longer matters
    assert (by_text["a1-0"]["label"], by_text["a1-0"]["label_source"]) == ("claim", "majority")
    assert (by_text["a1-2"]["label"], by_text["a1-2"]["label_source"]) == ("boilerplate", "gold")
    # bob's label is not amy's: nothing, unless gold is set
    assert (by_text["a1-3"]["annotations"], by_text["a1-3"]["label"]) == ([], None)
    assert (by_text["a3-0"]["annotations"], by_text["a3-0"]["label"]) == ([], None)
    assert (by_text["a2-1"]["label"], by_text["a2-1"]["label_source"]) == ("evidence", "gold")

    bob = exported(runner, "news", "--annotator", "bob")
    assert [(line["text"], line["label"]) for line in bob if line["annotations"]] == [
        ("a1-0", "evidence"), ("a1-3", "claim"), ("a3-0", "boilerplate")]


def test_annotator_with_only_labeled_keeps_what_they_labeled(runner, session, labeled):
    lines = exported(runner, "news", "--annotator", "amy", "--only-labeled")
    assert [(line["text"], line["label"], line["label_source"]) for line in lines] == [
        ("a1-0", "claim", "majority"), ("a1-2", "boilerplate", "gold")]
    articles = exported(runner, "news", "--unit", "article", "--annotator", "amy",
                        "--only-labeled")
    assert [a["article_id"] for a in articles] == ["a1"]
    assert [[a["annotator"] for a in p["annotations"]] for p in articles[0]["paragraphs"]] == [
        ["amy"], ["amy"]]
    bob = exported(runner, "news", "--unit", "article", "--annotator", "bob", "--only-labeled")
    assert [(a["article_id"], [p["text"] for p in a["paragraphs"]]) for a in bob] == [
        ("a1", ["a1-0", "a1-3"]), ("a3", ["a3-0"])]


def test_annotator_name_in_any_script(runner, session):
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0", "p1"]})
    ids = users(session, "李雷", "amy")
    first, second = paragraphs(session)
    set_annotation(session, first, ids["李雷"], "evidence")
    set_annotation(session, second, ids["amy"], "claim")
    lines = exported(runner, "news", "--annotator", "李雷", "--only-labeled")
    assert [(line["text"], [a["annotator"] for a in line["annotations"]]) for line in lines] == [
        ("p0", ["李雷"])]


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["--unit", "article"], ["--only-labeled"]])
def test_unknown_annotator_is_an_error_and_writes_nothing(runner, session, tmp_path, args):
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0"]})
    users(session, "amy")
    result = export(runner, "news", "--annotator", "nobody-here", *args)
    assert result.exit_code != 0
    assert "nobody-here" in result.stderr
    assert result.stdout_bytes == b""

    out = tmp_path / "out"  # tmp_path also holds the database
    out.mkdir()
    result = export(runner, "news", "--annotator", "nobody-here", "-o", str(out / "x.jsonl"), *args)
    assert result.exit_code != 0 and "nobody-here" in result.stderr
    assert list(out.iterdir()) == []  # no file, no partial file
    with pytest.raises(ExportError, match="nobody-here"):
        export_lines(session, "news", ExportOptions(annotator="nobody-here"))


def test_unknown_project_is_an_error_naming_it(runner, session, tmp_path):
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0"]})
    for unit in ("paragraph", "article"):
        result = export(runner, "no such 项目", "--unit", unit)
        assert result.exit_code != 0
        assert "no such 项目" in result.stderr
        assert result.stdout_bytes == b""

    out = tmp_path / "out"  # tmp_path also holds the database
    out.mkdir()
    target = out / "x.jsonl"
    result = export(runner, "no such 项目", "-o", str(target))
    assert result.exit_code != 0 and "no such 项目" in result.stderr
    assert not target.exists()
    assert list(out.iterdir()) == []  # no partial file either
    with pytest.raises(ExportError, match="no such 项目"):
        export_lines(session, "no such 项目")
    with pytest.raises(ExportError, match="unit"):
        export_lines(session, "news", ExportOptions(unit="sentence"))


def test_project_names_are_matched_exactly(runner, session):
    import_records(session, "News Room", {"id": "a1", "title": "T", "paragraphs": ["p0"]})
    assert [line["project"] for line in exported(runner, "News Room")] == ["News Room"]
    for near in ("news room", "News Room ", "News"):
        result = export(runner, near)
        assert result.exit_code != 0 and result.stdout_bytes == b"", near


# --- the caller's session --------------------------------------------------------------


def test_export_leaves_the_callers_objects_usable(session):
    """The web UI exports inside a request that keeps using its session afterwards."""
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0", "p1"]})
    amy_id = users(session, "amy")["amy"]
    first, second = paragraphs(session)
    set_annotation(session, first, amy_id, "claim")  # commits: loaded objects expire
    assert len(direct(session)) == 2
    assert len(direct(session, unit="article")) == 1
    assert (first.text, second.text) == ("p0", "p1")  # reloads: still in the session
    set_annotation(session, second, amy_id, "other")
    assert labels_of(direct(session)) == [("claim", "majority"), ("other", "majority")]


# --- --only-resolved --------------------------------------------------------------------


def test_only_resolved_leaves_out_ties_and_the_tie_count_is_on_stderr(runner, session, labeled):
    result = export(runner, "news", "--only-labeled")
    assert result.exit_code == 0
    assert result.stderr.startswith("1 unresolved tie ") and "--only-resolved" in result.stderr
    assert [l["text"] for l in parse(result.stdout_bytes) if l["label"] is None] == ["a1-0"]
    result = export(runner, "news", "--only-resolved")
    assert result.exit_code == 0 and result.stderr.startswith("1 unresolved tie ")
    lines = parse(result.stdout_bytes)
    assert [line["text"] for line in lines] == ["a1-2", "a1-3", "a2-1", "a3-0"]
    assert all(line["label"] is not None for line in lines)
    assert lines == direct(session, only_resolved=True)
    articles = exported(runner, "news", "--unit", "article", "--only-resolved")
    assert [[p["index"] for p in a["paragraphs"]] for a in articles] == [[2, 3], [1], [0]]


def test_only_resolved_over_http_is_the_same_bytes(client, runner, session, labeled, app):
    from helpers import login
    login(client, "admin", "password123")
    project = session.scalar(select(Project.id).where(Project.name == "news"))
    response = client.get(f"/api/projects/{project}/export.jsonl?only_resolved=1")
    assert response.status_code == 200
    assert response.get_data() == export(runner, "news", "--only-resolved").stdout_bytes
    assert b'"a1-0"' not in response.get_data() and b'"a1-3"' in response.get_data()


def test_an_output_in_a_missing_folder_or_a_folder_is_a_message_not_a_traceback(runner, session,
                                                                               tmp_path):
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p"]})
    missing = export(runner, "news", "-o", str(tmp_path / "nowhere" / "x.jsonl"))
    assert missing.exit_code == 1 and isinstance(missing.exception, SystemExit)
    assert f"{tmp_path / 'nowhere'} is not a folder: create it first" in missing.stderr
    (tmp_path / "out").mkdir()
    folder = export(runner, "news", "-o", str(tmp_path / "out"))
    assert folder.exit_code == 1 and "is a folder: -o names a file" in folder.stderr
    assert list((tmp_path / "out").iterdir()) == [] and not (tmp_path / "nowhere").exists()



def test_only_labeled_reads_the_labeled_rows_not_the_project(runner, session):
    """--only-labeled's cost follows the labeled paragraphs: measured in SQLite virtual machine
    steps (the database's own work), 5 labeled of 6,000 paragraphs read far less than all."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("counts SQLite's virtual machine steps")
    connection = session.connection().connection.driver_connection
    import_records(session, "news", *({"id": f"a{n}", "title": "T",
                                       "paragraphs": [f"p{n}-{i}" for i in range(30)]}
                                      for n in range(200)))
    amy = users(session, "amy")["amy"]
    for paragraph in paragraphs(session)[::1201]:
        set_annotation(session, paragraph, amy, "claim")
    session.commit()

    def steps(**options) -> tuple[int, int]:
        count = [0]

        def step() -> int:
            count[0] += 1
            return 0
        connection.set_progress_handler(step, 100)
        try:
            lines = sum(1 for _ in export_lines(session, "news", ExportOptions(**options)))
        finally:
            connection.set_progress_handler(None, 100)
        return lines, count[0]

    (all_lines, everything), (labeled_lines, labeled) = steps(), steps(only_labeled=True)
    assert (all_lines, labeled_lines) == (6000, 5)
    assert labeled * 10 < everything, (labeled, everything)  # before the counters: equal


def test_export_into_a_pipe_writes_through_it_and_leaves_it_a_pipe(runner, session, tmp_path):
    """-o naming a FIFO (or a device such as /dev/null) is written to as it is: the rename
    that makes a file export atomic would replace the pipe with a plain file."""
    import_records(session, "news", {"id": "a1", "title": "T", "paragraphs": ["p0", "李雷"]})
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = export(runner, "news", "-o", str(fifo))
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [json.loads(line)["text"] for line in received[0].splitlines()] == ["p0", "李雷"]
    assert not (tmp_path / "pipe.partial").exists()

"""The dataset card of a split export: Hugging Face metadata in its front matter (license,
languages told from the text, task, files, features), one H1 with the guidelines nested
under their own section, and figures that `datasets` reads back."""
from __future__ import annotations

import json
import re

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Project
from annotator.services.dataset import language_of, languages_of, nest_headings

from helpers import import_articles

GUIDELINES = """# How to label

Read the whole article first.

## Claims

A claim argues.

Evidence
--------

```
# a comment in a code block, not a heading
```
"""


@pytest.fixture
def mixed(app):
    """12 Chinese articles and 8 English ones, with guidelines that open with an H1."""
    records = [{"id": f"zh-{n}", "title": f"标题{n}", "paragraphs": [f"第{n}段：电池回收的数据。"]}
               for n in range(12)]
    records += [{"id": f"en-{n}", "title": f"Title {n}",
                 "paragraphs": [f"Paragraph {n} says something."]} for n in range(8)]
    import_articles(app, "news", records)
    with app.app_context():
        project = db.session.scalar(select(Project).where(Project.name == "news"))
        project.guidelines = GUIDELINES
        db.session.commit()
    return "news"


def _card(runner, out, *extra):
    result = runner.invoke(args=["export", "--project", "news", "--split", "train=0.5,test=0.5",
                                 "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    return (out / "README.md").read_text("utf-8")


def _front_matter(card: str) -> str:
    assert card.startswith("---\n")
    return card[4:card.index("\n---\n")]


def test_the_front_matter_names_license_languages_and_task(runner, mixed, tmp_path):
    meta = _front_matter(_card(runner, tmp_path / "out"))
    assert "\nlicense: unknown\n" in meta
    assert "\nlanguage:\n- zh\n- en\n" in meta  # most paragraphs first
    assert "\nmultilinguality: multilingual\n" in meta
    assert "\ntask_categories:\n- text-classification\n" in meta
    assert "\nsize_categories:\n- n<1K\n" in meta
    assert 'pretty_name: "news: labeled paragraphs"' in meta


def test_license_is_taken_from_the_option_and_a_bad_one_is_refused(runner, mixed, tmp_path):
    card = _card(runner, tmp_path / "out", "--license", "cc-by-4.0")
    assert "\nlicense: cc-by-4.0\n" in _front_matter(card) and "`cc-by-4.0`" in card
    bad = runner.invoke(args=["export", "--project", "news", "--split", "a=0.5,b=0.5",
                              "-o", str(tmp_path / "bad"), "--license", "CC BY: 4.0\nx: y"])
    assert bad.exit_code != 0 and "bad --license" in bad.output
    assert not (tmp_path / "bad").exists()
    alone = runner.invoke(args=["export", "--project", "news", "--license", "mit"])
    assert alone.exit_code != 0 and "goes with --split" in alone.output


def test_the_unknown_license_is_said_plainly_in_the_card(runner, mixed, tmp_path):
    card = _card(runner, tmp_path / "out")
    assert "License: unknown." in card and "--license" in card


def test_the_card_has_one_h1_and_the_guidelines_nest_under_their_section(runner, mixed, tmp_path):
    card = _card(runner, tmp_path / "out")
    body = card[card.index("\n---\n") + 5:]
    headings = [(token.tag, token.map[0]) for token in MarkdownIt("commonmark").parse(body)
                if token.type == "heading_open"]
    assert [tag for tag, _ in headings].count("h1") == 1 and headings[0][0] == "h1"
    levels = [int(tag[1]) for tag, _ in headings]
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:]))  # no level skipped going down
    assert "\n## Guidelines given to annotators\n\n### How to label\n" in body
    assert "\n#### Claims\n" in body and "\n#### Evidence\n" in body
    assert "\n# a comment in a code block, not a heading\n" in body  # code left alone


def test_nest_headings_shifts_atx_setext_quoted_and_caps_at_six():
    text = "## Top\n\n> # Quoted\n\n###### Deep\n\nPlain\n===\n"
    # the top level is 1 (the quoted one and the setext one): it becomes 3, the others follow
    assert nest_headings(text, under=2) == "#### Top\n\n> ### Quoted\n\n###### Deep\n\n### Plain\n"
    assert nest_headings("No headings here.", under=2) == "No headings here."


@pytest.mark.parametrize("text, language", [
    ("The council should build bike lanes.", "en"),
    ("据《2025年动力电池回收白皮书》测算，全国退役动力电池约为四十二万吨。", "zh"),
    ("相关阅读：点击查看更多 Council news", "zh"),  # 9 Han characters outweigh 11 letters
    ("相关阅读：Council approves budget", "en"),  # 4 do not outweigh 21
    ("© 2026", None),
    ("これは日本語の文章です。", "ja"),
])
def test_language_of_a_paragraph_is_told_by_its_script(text, language):
    assert language_of(text) == language


def test_a_language_on_few_paragraphs_is_not_listed():
    from collections import Counter
    assert languages_of(Counter({"zh": 97, "en": 3})) == ["zh"]
    assert languages_of(Counter()) == []


def test_the_agreement_section_reads_as_sentences(runner, app, mixed, tmp_path):
    card = _card(runner, tmp_path / "out")
    section = card[card.index("## Agreement"):card.index("## How it was made")]
    assert "see its note" not in section
    assert "0 paragraphs labeled by two or more of 0 annotators" in section
    assert "- Fleiss' kappa: undefined because no paragraph has two or more annotations" in section


def test_the_card_features_load_meta_and_source_in_datasets(runner, app, tmp_path):
    pytest.importorskip("datasets", minversion="4.7")
    from datasets import load_dataset, load_dataset_builder
    import_articles(app, "news", [
        {"id": f"a{n}", "title": "t", "paragraphs": [f"p{n}"],
         **({"meta": {"site": "x", "tags": ["a", 1]}} if n % 2 else {})} for n in range(6)])
    out, cache = tmp_path / "out", tmp_path / "cache"
    for unit in ("paragraph", "article"):
        _card(runner, out, "--unit", unit, "--force")
        features = load_dataset_builder(str(out), cache_dir=str(cache)).info.features
        ds = load_dataset("json", data_files={n: str(out / f"{n}.jsonl") for n in ("train", "test")},
                          features=features, cache_dir=str(cache / unit))
        rows = [*ds["train"], *ds["test"]]
        assert sorted(row["article_id"] for row in rows) == [f"a{n}" for n in range(6)]
        by_id = {row["article_id"]: row for row in rows}
        assert by_id["a1"]["meta"] == {"site": "x", "tags": ["a", 1]} and by_id["a0"]["meta"] == {}
        assert by_id["a3"]["source"] == {"file": "test.jsonl", "line": 4}

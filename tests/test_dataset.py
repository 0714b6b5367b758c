"""Split export: by article or site, reproducible for a seed, with a dataset card."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.extensions import db
from annotator.services.importing import Source, import_sources

SITES = ["a.example", "b.example", "c.example", "d.example", "e.example"]


@pytest.fixture
def project(app):
    """60 articles from five sites (half named by meta.site, half only by URL)."""
    records = []
    for n in range(60):
        site = SITES[n % len(SITES)]
        record = {"id": f"art-{n:02d}", "title": f"标题 {n}", "url": f"https://{site}/{n}",
                  "paragraphs": [f"{n}.{i} 第{i}段 paragraph" for i in range(1 + n % 4)]}
        if n % 2:
            record["meta"] = {"site": site.upper()}  # same site, other spelling
        records.append(json.dumps(record, ensure_ascii=False))
    with app.app_context():
        import_sources(db.session, "news", [Source("s.jsonl", "\n".join(records).encode(), "jsonl")])
    return "news"


def _export(runner, out: Path, *extra: str):
    result = runner.invoke(args=["export", "--project", "news", "--split",
                                 "train=0.8,dev=0.1,test=0.1", "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    return {name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text("utf-8").splitlines()]
            for name in ("train", "dev", "test")}


def test_no_article_spans_two_splits_and_every_paragraph_is_exported_once(runner, project, tmp_path):
    splits = _export(runner, tmp_path / "out", "--seed", "1")
    owners: dict[str, set[str]] = {}
    for name, lines in splits.items():
        for line in lines:
            owners.setdefault(line["article_id"], set()).add(name)
    assert all(len(names) == 1 for names in owners.values())
    assert len(owners) == 60
    assert sum(len(lines) for lines in splits.values()) == sum(1 + n % 4 for n in range(60))
    assert len(splits["train"]) > len(splits["dev"]) and len(splits["train"]) > len(splits["test"])


def test_group_by_site_keeps_every_site_in_one_split(runner, project, tmp_path):
    splits = _export(runner, tmp_path / "out", "--seed", "4", "--group-by", "site")
    site_split: dict[str, set[str]] = {}
    for name, lines in splits.items():
        for line in lines:
            site = line["url"].split("/")[2]
            site_split.setdefault(site, set()).add(name)
    assert set(site_split) == set(SITES)
    assert all(len(names) == 1 for names in site_split.values())


def test_the_same_seed_gives_the_same_files_and_another_seed_does_not(runner, project, tmp_path):
    _export(runner, tmp_path / "one", "--seed", "7")
    _export(runner, tmp_path / "two", "--seed", "7")
    _export(runner, tmp_path / "three", "--seed", "8")
    read = lambda d: [(d / f"{n}.jsonl").read_bytes() for n in ("train", "dev", "test")]
    assert read(tmp_path / "one") == read(tmp_path / "two")
    assert read(tmp_path / "one") != read(tmp_path / "three")


def test_the_dataset_card_counts_splits_and_labels_and_names_the_options(runner, project, tmp_path):
    splits = _export(runner, tmp_path / "out", "--seed", "2")
    card = (tmp_path / "out" / "README.md").read_text("utf-8")
    for name, lines in splits.items():
        assert f"| {name} | " in card and f"`{name}.jsonl` | {len(lines)} |" in card
    assert "| (none) | " in card and "`claim`" in card
    assert "seed 2" in card and "load_dataset(\"json\"" in card


@pytest.mark.parametrize("spec, message", [
    ("train=0.8,dev=0.3", "add up to 1.1"),
    ("train=0.5,train=0.5", "differently named"),
    ("train", "NAME=FRACTION"),
    ("train=abc,dev=1", "NAME=FRACTION"),
])
def test_bad_split_specs_are_refused_with_a_reason(runner, project, tmp_path, spec, message):
    result = runner.invoke(args=["export", "--project", "news", "--split", spec, "-o", str(tmp_path / "x")])
    assert result.exit_code != 0 and message in result.output
    assert not (tmp_path / "x").exists()


def test_split_without_an_output_directory_is_refused(runner, project):
    result = runner.invoke(args=["export", "--project", "news", "--split", "a=0.5,b=0.5"])
    assert result.exit_code != 0 and "-o DIR" in result.output

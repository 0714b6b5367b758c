"""Split export: by article or site, reproducible for a seed, with a dataset card."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Article, Paragraph, Project
from annotator.services.annotations import set_annotation
from annotator.services.dataset import assign_splits, parse_split
from annotator.services.importing import Source, import_sources
from annotator.services.users import create_user

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


def _export(runner, out: Path, *extra: str, spec: str = "train=0.8,dev=0.1,test=0.1"):
    result = runner.invoke(args=["export", "--project", "news", "--split", spec, "-o", str(out),
                                 *extra])
    assert result.exit_code == 0, result.output
    return {name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text("utf-8").splitlines()]
            for name in (part.split("=")[0] for part in spec.split(","))}


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
    splits = _export(runner, tmp_path / "out", "--seed", "4", "--group-by", "site",
                     spec="train=0.6,dev=0.2,test=0.2")  # five sites: 0.1 would be empty
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
    assert card.startswith("---\n") and "\nconfigs:\n- config_name: default\n" in card
    assert "  - split: dev\n    path: dev.jsonl\n" in card


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


def _label_all(app, seed: int, noted_split: str, tie_article: str | None = None) -> None:
    """Label every paragraph; notes only in the articles that `seed` puts in `noted_split`
    (null everywhere else), and a tie on each paragraph of `tie_article`."""
    with app.app_context():
        session = db.session
        amy, bob = (create_user(session, name, "password123", "annotator").id
                    for name in ("amy", "bob"))
        project_id = session.scalar(select(Project.id).where(Project.name == "news"))
        split_of, _ = assign_splits(session, project_id, parse_split("train=0.8,dev=0.1,test=0.1"),
                                    seed)
        for paragraph, article_pk, article_id in session.execute(
                select(Paragraph, Article.id, Article.article_id).join(Article)):
            note = "看这里" if split_of[article_pk] == noted_split else None
            set_annotation(session, paragraph, amy, "claim", note)
            if article_id == tie_article:
                set_annotation(session, paragraph, bob, "evidence")


def _load(out: Path, cache: Path, names=("train", "dev", "test")):
    """The README's (and the card's) loading commands, run in `out`'s parent folder."""
    from datasets import load_dataset, load_dataset_builder
    features = load_dataset_builder(str(out), cache_dir=str(cache)).info.features
    return load_dataset("json", data_files={name: str(out / f"{name}.jsonl") for name in names},
                        features=features, cache_dir=str(cache))


def test_the_readme_loading_commands_load_a_split_whose_notes_are_all_null(app, runner, project,
                                                                           tmp_path):
    datasets = pytest.importorskip("datasets")
    _label_all(app, seed=3, noted_split="dev")  # the first split read has null notes only
    out, cache = tmp_path / "dataset", tmp_path / "cache"
    splits = _export(runner, out, "--only-labeled", "--seed", "3")
    assert {a["note"] for line in splits["train"] for a in line["annotations"]} == {None}
    assert {a["note"] for line in splits["dev"] for a in line["annotations"]} == {"看这里"}
    with pytest.raises(datasets.exceptions.DatasetGenerationError) as failed:  # the old README
        datasets.load_dataset("json", data_files={n: str(out / f"{n}.jsonl") for n in splits},
                              cache_dir=str(cache))
    assert "Couldn't cast" in str(failed.value.__cause__)
    ds = _load(out, cache)
    assert {name: ds[name].num_rows for name in ds} == {n: len(v) for n, v in splits.items()}
    assert ds["dev"].features == ds["train"].features
    assert ds["train"][0]["annotations"][0]["note"] is None
    assert ds["dev"][0]["annotations"][0]["note"] == "看这里"
    assert ds["train"][0]["annotations"][0]["updated_at"].tzinfo is not None  # not a bare string
    _export(runner, out, "--seed", "4", "--force")  # a new export into the same folder
    again = _load(out, cache)
    assert sum(again[name].num_rows for name in again) == sum(1 + n % 4 for n in range(60))


def test_the_readme_python_loads_the_readme_split_command_output(app, runner, project, tmp_path,
                                                                 monkeypatch):
    datasets = pytest.importorskip("datasets")
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    command = re.search(r"flask export --project demo --only-resolved --split (\S+)", readme)
    snippet = re.search(r"```python\n( *from datasets import load_dataset, load_dataset_builder\n"
                        r".*?) *```", readme, re.S)
    _label_all(app, seed=13, noted_split="dev", tie_article="art-03")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    splits = _export(runner, Path("dataset"), "--only-resolved", "--seed", "13",
                     "--group-by", "site", spec=command.group(1))
    namespace: dict = {}
    exec(textwrap.dedent(snippet.group(1)), namespace)  # the README's lines, as written
    assert {name: namespace["ds"][name].num_rows for name in namespace["ds"]} == {
        name: len(lines) for name, lines in splits.items()}


def test_the_card_declares_suggestions_when_they_are_exported(app, runner, project, tmp_path):
    pytest.importorskip("datasets")
    _label_all(app, seed=3, noted_split="train")
    out = tmp_path / "dataset"
    _export(runner, out, "--seed", "3", "--suggestions")
    ds = _load(out, tmp_path / "cache")
    assert ds["test"].features["suggestion"]["confidence"].dtype == "float64"


def test_an_empty_split_is_a_warning_and_left_out_of_the_cards_configs(runner, project, tmp_path):
    out = tmp_path / "dataset"
    result = runner.invoke(args=["export", "--project", "news", "--split",
                                 "train=0.8,dev=0.1,test=0.1", "--group-by", "site", "-o", str(out)])
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "split dev is empty" in warning[0]
    assert "--group-by article" in warning[0]
    assert (out / "dev.jsonl").read_bytes() == b""
    card = (out / "README.md").read_text("utf-8")
    configs = card[:card.index("dataset_info:")]
    assert "split: train" in configs and "split: dev" not in configs
    assert '"dev":' not in card  # nor in the loading code


def test_every_split_empty_is_refused_and_nothing_is_written(runner, app, tmp_path):
    with app.app_context():
        import_sources(db.session, "empty", [Source("a.jsonl", json.dumps(
            {"id": "a", "title": "T", "paragraphs": ["p"]}).encode(), "jsonl")])
    out = tmp_path / "dataset"
    result = runner.invoke(args=["export", "--project", "empty", "--only-labeled", "--split",
                                 "train=0.5,dev=0.5", "-o", str(out)])
    assert result.exit_code != 0 and "every split would be empty" in result.output
    assert not out.exists() and not [p for p in tmp_path.iterdir() if "dataset" in p.name]


def test_an_earlier_export_is_replaced_whole_and_other_files_need_force(runner, project,
                                                                       tmp_path):
    out = tmp_path / "dataset"
    _export(runner, out, spec="train=0.4,dev=0.3,test=0.3")
    _export(runner, out, spec="train=0.5,dev=0.5")  # no stale test.jsonl stays behind
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "dev.jsonl", "train.jsonl"]
    (out / "notes.txt").write_text("mine")
    result = runner.invoke(args=["export", "--project", "news", "--split", "train=0.5,dev=0.5",
                                 "-o", str(out)])
    assert result.exit_code != 0 and "holds files no split export wrote" in result.output
    assert "--force" in result.output
    assert (out / "notes.txt").read_text() == "mine"
    _export(runner, out, "--force", spec="train=0.5,dev=0.5")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "dev.jsonl", "train.jsonl"]
    assert [p.name for p in tmp_path.iterdir() if "dataset" in p.name] == ["dataset"]  # no temporary
    (tmp_path / "plain").mkdir()  # the permissions of a folder made as usual
    assert out.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777


def test_an_empty_existing_folder_is_written_into(runner, project, tmp_path):
    out = tmp_path / "dataset"
    out.mkdir()
    splits = _export(runner, out)
    assert sum(map(len, splits.values())) == sum(1 + n % 4 for n in range(60))


def test_a_split_export_says_how_many_ties_it_found_and_only_resolved_leaves_them_out(
        app, runner, project, tmp_path):
    _label_all(app, seed=0, noted_split="train", tie_article="art-03")  # 4 paragraphs, tied
    result = runner.invoke(args=["export", "--project", "news", "--split", "a=0.5,b=0.5",
                                 "-o", str(tmp_path / "all")])
    assert result.exit_code == 0 and result.stderr.startswith("4 unresolved ties")
    result = runner.invoke(args=["export", "--project", "news", "--split", "a=0.5,b=0.5",
                                 "--only-resolved", "-o", str(tmp_path / "resolved")])
    assert result.exit_code == 0 and "4 unresolved ties" in result.stderr
    lines = [json.loads(line) for name in ("a", "b")
             for line in (tmp_path / "resolved" / f"{name}.jsonl").read_text("utf-8").splitlines()]
    assert len(lines) == sum(1 + n % 4 for n in range(60)) - 4
    assert all(line["label"] == "claim" for line in lines)
    assert "only resolved: yes (4 unresolved ties found)" in (
        tmp_path / "resolved" / "README.md").read_text("utf-8")


def test_the_current_folder_as_dir_is_refused_when_not_empty_and_a_file_always(runner, project,
                                                                               tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(args=["export", "--project", "news", "--split", "a=0.5,b=0.5",
                                 "-o", "."])
    assert result.exit_code != 0 and "holds files no split export wrote" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("keep")
    result = runner.invoke(args=["export", "--project", "news", "--split", "a=0.5,b=0.5",
                                 "-o", "file", "--force"])
    assert result.exit_code != 0 and "is a file" in result.output
    assert (tmp_path / "file").read_text() == "keep"

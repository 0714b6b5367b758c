"""Training datasets: an export split by article (or by site) into train/dev/test files with a
dataset card, reproducible for a seed."""
from __future__ import annotations

import random
import re
import secrets
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Article, Project
from .exporting import ExportError, ExportOptions, Tally, export_records
from .text import plural, site_of

SPLIT_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
GROUP_BY = ("article", "site")


@dataclass
class SplitReport:
    """What went where: lines, articles, groups and labels per split."""

    files: dict[str, Path]
    lines: Counter = field(default_factory=Counter)
    articles: Counter = field(default_factory=Counter)
    groups: Counter = field(default_factory=Counter)
    labels: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    tally: Tally = field(default_factory=Tally)
    empty: list[str] = field(default_factory=list)  # splits no line went to

    def empty_warning(self, group_by: str) -> str | None:
        """What to say of empty splits: a loader such as `datasets` refuses an empty split."""
        if not self.empty:
            return None
        return (f"warning: split {', '.join(self.empty)} is empty "
                f"({plural(sum(self.lines.values()), 'line')} in "
                f"{plural(sum(self.articles.values()), 'article')}): "
                "use fewer or larger splits"
                + (", or --group-by article" if group_by == "site" else "")
                + "; the dataset card leaves it out of its configs")


def parse_split(text: str) -> list[tuple[str, float]]:
    """`train=0.8,dev=0.1,test=0.1` -> [(name, fraction)], fractions positive and summing to 1."""
    parts = []
    for chunk in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = chunk.partition("=")
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not sep or not SPLIT_NAME.fullmatch(name.strip()) or not 0 < fraction <= 1:
            raise ExportError(f"bad split {chunk!r}: write NAME=FRACTION, e.g. train=0.8")
        parts.append((name.strip(), fraction))
    names = [name for name, _ in parts]
    if len(parts) < 2 or len(set(names)) != len(names):
        raise ExportError("a split needs two or more differently named parts, e.g. "
                          "train=0.8,dev=0.1,test=0.1")
    if abs(sum(fraction for _, fraction in parts) - 1) > 1e-6:
        raise ExportError(f"the split fractions add up to {sum(f for _, f in parts):g}, not 1")
    return parts


def assign_splits(session: Session, project_id: int, splits: list[tuple[str, float]],
                  seed: int, group_by: str = "article") -> tuple[dict[int, str], dict[str, int]]:
    """Map each article to a split: groups (articles, or sites) are shuffled with the seed and
    cut by cumulative paragraph count, so no group spans two splits."""
    weights: dict[str, int] = defaultdict(int)
    group_of: dict[int, str] = {}
    for article_pk, url, meta, paragraphs in session.execute(
            select(Article.id, Article.url, Article.meta, Article.paragraph_count)
            .where(Article.project_id == project_id).order_by(Article.id)):
        site = site_of(meta, url) if group_by == "site" else None
        key = f"site:{site}" if site else f"article:{article_pk}"
        group_of[article_pk] = key
        weights[key] += paragraphs
    groups = sorted(weights)
    random.Random(seed).shuffle(groups)
    total = sum(weights.values()) or 1
    boundaries, running = [], 0.0
    for name, fraction in splits:
        running += fraction
        boundaries.append((running, name))
    split_of_group: dict[str, str] = {}
    filled = 0
    for key in groups:
        middle = (filled + weights[key] / 2) / total  # where the group's centre falls
        split_of_group[key] = next((name for edge, name in boundaries if middle < edge),
                                   boundaries[-1][1])
        filled += weights[key]
    groups_per_split = Counter(split_of_group.values())
    return {pk: split_of_group[key] for pk, key in group_of.items()}, dict(groups_per_split)


def write_splits(session: Session, project_name: str, directory: Path,
                 splits: list[tuple[str, float]], *, seed: int, group_by: str = "article",
                 options: ExportOptions = ExportOptions(),
                 card: Callable[[SplitReport], str] | None = None,
                 force: bool = False) -> SplitReport:
    """Write DIR/<split>.jsonl for every split (and DIR/README.md from `card`) into a fresh
    folder beside DIR, renamed into place once complete: DIR then holds these files only.
    A non-empty DIR is refused unless `force` (then replaced whole); so is an empty split."""
    if group_by not in GROUP_BY:
        raise ExportError(f"unknown --group-by {group_by!r}: use article or site")
    directory = directory.resolve()  # `.` and `a/..` get a name and a parent to write beside
    _check_target(directory, force)
    report = SplitReport(files={name: directory / f"{name}.jsonl" for name, _ in splits})
    records = export_records(session, project_name, options, report.tally)  # checks names
    project_id = session.scalar(select(Project.id).where(Project.name == project_name))
    split_of, groups = assign_splits(session, project_id, splits, seed, group_by)
    report.groups.update(groups)
    directory.parent.mkdir(parents=True, exist_ok=True)
    fresh = directory.with_name(f".{directory.name}.{secrets.token_hex(6)}.partial")
    fresh.mkdir()  # not mkdtemp: the folder gets the usual permissions, as DIR would
    try:
        _write_files(fresh, records, split_of, report)
        report.empty = [name for name, _ in splits if not report.lines[name]]
        if len(report.empty) == len(splits):
            raise ExportError("every split would be empty: nothing to export; nothing was written")
        if card is not None:
            (fresh / "README.md").write_text(card(report), encoding="utf-8")
        _replace(directory, fresh)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return report


def _check_target(directory: Path, force: bool) -> None:
    """Refuse to write over a file, or into a non-empty folder unless forced."""
    if directory == directory.parent:
        raise ExportError(f"{directory} is a file system root: name a folder inside it")
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"{directory} is a file: -o DIR with --split names a folder")
    if directory.is_dir() and not force and not _holds_only_an_export(directory):
        raise ExportError(f"{directory} holds files no split export wrote: choose a new "
                          "folder, or pass --force to replace it and everything in it")


def _holds_only_an_export(directory: Path) -> bool:
    """Empty, or only what a split export writes (README.md and *.jsonl files): such a folder
    is replaced whole, so no stale split of the earlier export stays behind."""
    return all(path.is_file() and (path.name == "README.md" or path.suffix == ".jsonl")
               for path in directory.iterdir())


def _write_files(folder: Path, records, split_of: dict[int, str], report: SplitReport) -> None:
    """Stream the lines into folder/<split>.jsonl, counting as they go."""
    handles = {name: open(folder / path.name, "wb") for name, path in report.files.items()}
    seen: set[int] = set()
    try:
        for line in records:
            name = split_of[line.article_pk]
            handles[name].write(line.data)
            report.lines[name] += 1
            report.labels[name].update(label or "(none)" for label in line.labels)
            if line.article_pk not in seen:
                seen.add(line.article_pk)
                report.articles[name] += 1
    finally:
        for handle in handles.values():
            handle.close()


def _replace(directory: Path, fresh: Path) -> None:
    """Rename `fresh` to `directory`, moving an old `directory` aside first and then away."""
    old = None
    if directory.exists():
        old = fresh.with_name(fresh.name.removesuffix(".partial") + ".old")
        directory.rename(old)
    fresh.rename(directory)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def dataset_card(project: Project, report: SplitReport, *, options: ExportOptions,
                 splits: list[tuple[str, float]], seed: int, group_by: str,
                 agreement: str | None = None, now: datetime | None = None) -> str:
    """A Markdown dataset card: what the files hold, how they were made, how to load them."""
    now = now or datetime.now(UTC)
    names = [name for name, _ in splits]
    loadable = [name for name in names if name not in report.empty]  # `datasets` refuses empty
    label_keys = [label.key for label in project.labels] + ["(none)"]
    lines = [
        *front_matter(loadable, options), "",
        f"# {project.name}: labeled paragraphs", "",
        project.description or "Paragraphs of web articles labeled by annotators.", "",
        "## Files", "",
        "| split | share | file | lines | articles | groups |", "|---|---|---|---|---|---|",
        *[f"| {name} | {fraction:g} | `{name}.jsonl` | {report.lines[name]} | "
          f"{report.articles[name]} | {report.groups.get(name, 0)} |" for name, fraction in splits],
        "", "## Labels per split", "",
        "| label | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|",
        *[f"| {key} | " + " | ".join(str(report.labels[name][key]) for name in names) + " |"
          for key in label_keys],
        "", "## Label set", "", "| key | name | hotkey | description |", "|---|---|---|---|",
        *[f"| `{label.key}` | {_cell(label.name)} | {_cell(label.hotkey)} | "
          f"{_cell(label.description)} |" for label in project.labels],
        "", "## Agreement", "", agreement or "Not computed.", "",
        "## How it was made", "",
        f"- Exported {now.strftime('%Y-%m-%dT%H:%M:%SZ')} by annotator from project "
        f"`{project.name}` (overlap {project.overlap}).",
        f"- Unit: {options.unit}; only labeled: {'yes' if options.only_labeled else 'no'}; "
        f"only resolved: {'yes' if options.only_resolved else 'no'} "
        f"({plural(report.tally.unresolved, 'unresolved tie')} found); "
        f"annotator: {options.annotator or 'all'}.",
        "- Each entry of `annotations` has a `source`: `\"human\"` (chosen by hand) or "
        "`\"suggestion\"` (a suggestion the annotator accepted).",
        *(["- `suggestion` is the app's stored suggestion for the paragraph (label, confidence, "
           "reason), or null: a guess, not a label."] if options.suggestions else []),
        f"- Split by {group_by} with seed {seed}: "
        + ", ".join(f"{name}={fraction:g}" for name, fraction in splits)
        + (". No article spans two splits." if group_by == "article"
           else ". No site (meta.site, else the URL's host) spans two splits."),
        "- `label` is the gold label if one was set (`label_source: \"gold\"`), else the label "
        "a strict majority of annotators chose (`\"majority\"`), else null.", "",
        "## Loading", "", "The front matter above declares the features: one schema for every "
        "split, whichever values a split happens to hold (a split whose notes are all null "
        "is not typed null). Read them from this card and load the files with them:", "",
        "```python", "from datasets import load_dataset, load_dataset_builder",
        "features = load_dataset_builder(\"path/to/this/folder\").info.features",
        "ds = load_dataset(\"json\", data_files={"
        + ", ".join(f'"{name}": "path/to/this/folder/{name}.jsonl"' for name in loadable)
        + "}, features=features)", "```", "",
        "(`load_dataset(\"path/to/this/folder\")` reads the same card, but `datasets` then "
        "caches by the card alone and may serve an earlier export of the folder.)", "",
        "## Guidelines given to annotators", "", project.guidelines or "None.", "",
    ]
    return "\n".join(lines)


ANNOTATION_FEATURES = [("annotator", "string"), ("label", "string"), ("note", "string"),
                       ("source", "string"), ("updated_at", "timestamp[us, tz=UTC]")]
SUGGESTION_FEATURES = [("label", "string"), ("confidence", "float64"), ("reason", "string")]


def front_matter(names: list[str], options: ExportOptions) -> list[str]:
    """The card's YAML front matter: the split files (`configs`) and, for paragraph lines,
    their features, so that `datasets` never infers a split's types from its values (a split
    whose notes are all null would be typed null and clash with the others)."""
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for name in names:
        lines += [f"  - split: {name}", f"    path: {name}.jsonl"]
    if options.unit == "paragraph":  # an article line's `meta` is free-form: nothing to declare
        def struct(key: str, fields: list[tuple[str, str]]) -> list[str]:
            return [f"    {key}:", *[row for field_name, dtype in fields
                                     for row in (f"    - name: {field_name}",
                                                 f"      dtype: {dtype}")]]
        lines += ["dataset_info:", "  features:"]
        for name, dtype in [("project", "string"), ("article_id", "string"),
                            ("title", "string"), ("url", "string"),
                            ("paragraph_index", "int64"), ("text", "string")]:
            lines += [f"  - name: {name}", f"    dtype: {dtype}"]
        lines += ["  - name: annotations", *struct("list", ANNOTATION_FEATURES)]
        lines += ["  - name: label", "    dtype: string",
                  "  - name: label_source", "    dtype: string"]
        if options.suggestions:
            lines += ["  - name: suggestion", *struct("struct", SUGGESTION_FEATURES)]
    return [*lines, "---"]


def _cell(text: str) -> str:
    """Text that cannot break out of a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def write_dataset(session: Session, project_name: str, directory: Path,
                  splits: list[tuple[str, float]], *, seed: int, group_by: str = "article",
                  options: ExportOptions = ExportOptions(), force: bool = False) -> SplitReport:
    """`flask export --split`: the split files plus README.md, the dataset card."""
    project = session.scalar(select(Project).where(Project.name == project_name))

    def card(report: SplitReport) -> str:
        return dataset_card(project, report, options=options, splits=splits, seed=seed,
                            group_by=group_by, agreement=agreement_summary(session, project))
    return write_splits(session, project_name, directory, splits, seed=seed,
                        group_by=group_by, options=options, card=card, force=force)


def agreement_summary(session: Session, project: Project) -> str:
    """Agreement figures for the card, on human labels only: an accepted suggestion is the
    app's guess, and two annotators accepting it is not two people agreeing."""
    from .agreement_report import as_markdown, project_agreement
    return as_markdown(project_agreement(session, project, human_only=True), human_only=True)

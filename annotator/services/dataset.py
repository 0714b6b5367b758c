"""Training datasets: an export split by article (or by site) into train/dev/test files with a
dataset card, reproducible for a seed."""
from __future__ import annotations

import json
import random
import re
import secrets
import shutil
import tempfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..choices import EXPORT_FORMATS, GROUP_BY
from ..models import Article, Project
from ..progress_report import ProgressCallback, no_progress
from .exporting import ExportError, ExportOptions, Tally, export_records
from .guideline_versions import card_lines
from .messages import N_
from .parquet_export import ParquetSink
from .text import plural, site_of

SPLIT_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
UNKNOWN_LICENSE = "unknown"  # the card's license unless --license says otherwise


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
    languages: Counter = field(default_factory=Counter)  # paragraphs per language_of()
    spans: Counter = field(default_factory=Counter)  # (gold, label) -> spans exported
    links: Counter = field(default_factory=Counter)  # (gold, relation) -> links exported

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
            raise ExportError(N_("bad split %(part)s: write NAME=FRACTION, e.g. train=0.8",
                                 part=repr(chunk)))
        parts.append((name.strip(), fraction))
    names = [name for name, _ in parts]
    if len(parts) < 2 or len(set(names)) != len(names):
        raise ExportError(N_("a split needs two or more differently named parts, e.g. "
                             "train=0.8,dev=0.1,test=0.1"))
    if abs(sum(fraction for _, fraction in parts) - 1) > 1e-6:
        raise ExportError(N_("the split fractions add up to %(sum)s, not 1",
                             sum=f"{sum(f for _, f in parts):g}"))
    return parts


def assign_splits(session: Session, project_id: int, splits: list[tuple[str, float]],
                  seed: int, group_by: str = "article") -> tuple[dict[int, str], dict[str, int]]:
    """Map each article to a split: groups (articles, or sites) are shuffled with the seed and
    cut by cumulative paragraph count, so no group spans two splits."""
    weights: dict[str, int] = defaultdict(int)
    group_of: dict[int, str] = {}
    for article_pk, url, meta, paragraphs in session.execute(
            select(Article.id, Article.url, Article.meta, Article.paragraph_count)
            .where(Article.project_id == project_id, ~Article.calibration).order_by(Article.id)):
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
                 force: bool = False, fmt: str = "jsonl",
                 progress: ProgressCallback = no_progress) -> SplitReport:
    """Write DIR/<split>.jsonl (or .parquet, by `fmt`) for every split (and DIR/README.md
    from `card`) into a fresh folder beside DIR, renamed into place once complete: DIR then
    holds these files only. The articles written are reported to `progress`. A non-empty DIR is refused unless `force` (then replaced whole);
    so is an empty split."""
    if group_by not in GROUP_BY:
        raise ExportError(N_("unknown --group-by %(value)s: use article or site",
                             value=repr(group_by)).on_web(N_(
            "unknown grouping %(value)s: keep each article or each site within one split",
            value=repr(group_by))))
    directory = directory.resolve()  # `.` and `a/..` get a name and a parent to write beside
    _check_target(directory, force)
    if fmt not in EXPORT_FORMATS:
        raise ExportError(N_("unknown format %(format)s: use jsonl or parquet",
                             format=repr(fmt)))
    report = SplitReport(files={name: directory / f"{name}.{fmt}" for name, _ in splits})
    records = export_records(session, project_name, options, report.tally)  # checks names
    project_id = session.scalar(select(Project.id).where(Project.name == project_name))
    split_of, groups = assign_splits(session, project_id, splits, seed, group_by)
    report.groups.update(groups)
    directory.parent.mkdir(parents=True, exist_ok=True)
    fresh = directory.with_name(f".{directory.name}.{secrets.token_hex(6)}.partial")
    fresh.mkdir()  # not mkdtemp: the folder gets the usual permissions, as DIR would
    try:
        _write_files(fresh, records, split_of, report, options if fmt == "parquet" else None,
                     progress)
        report.empty = [name for name, _ in splits if not report.lines[name]]
        if len(report.empty) == len(splits):
            raise ExportError(N_("every split would be empty: nothing to export; nothing "
                                 "was written"))
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
    """Empty, or only what a split export writes (README.md and *.jsonl or *.parquet files):
    such a folder is replaced whole, so no stale split of the earlier export stays behind."""
    return all(path.is_file() and (path.name == "README.md"
                                   or path.suffix in (".jsonl", ".parquet"))
               for path in directory.iterdir())


def _write_files(folder: Path, records, split_of: dict[int, str], report: SplitReport,
                 parquet: ExportOptions | None = None,
                 progress: ProgressCallback = no_progress) -> None:
    """Stream the lines into folder/<split>.jsonl (or, given the options of `parquet`, into
    folder/<split>.parquet), counting as they go."""
    handles = {name: (open(folder / path.name, "wb") if parquet is None
                      else ParquetSink(str(folder / path.name), parquet))
               for name, path in report.files.items()}
    seen: set[int] = set()
    try:
        for line in records:
            name = split_of[line.article_pk]
            handles[name].write(line.data)
            report.lines[name] += 1
            report.labels[name].update(label or "(none)" for label in line.labels)
            report.languages.update(filter(None, map(language_of, line.texts)))
            if line.spans:
                report.spans.update(line.spans)
            if line.links:
                report.links.update(line.links)
            if line.article_pk not in seen:
                seen.add(line.article_pk)
                report.articles[name] += 1
                progress("articles exported", len(seen), len(split_of))
        progress("articles exported", len(split_of), len(split_of))
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
                 agreement: str | None = None, license: str = UNKNOWN_LICENSE,
                 now: datetime | None = None, fmt: str = "jsonl",
                 versions: list[str] = ()) -> str:
    """A Markdown dataset card (the Hugging Face layout: YAML front matter, then Markdown
    whose only H1 is its title): what the files hold, how they were made, how to load them."""
    now = now or datetime.now(UTC)
    names = [name for name, _ in splits]
    loadable = [name for name in names if name not in report.empty]  # `datasets` refuses empty
    label_keys = [label.key for label in project.labels] + ["(none)"]
    languages = languages_of(report.languages)
    title = " ".join(project.name.split())
    lines = [
        *front_matter(loadable, options, pretty_name=f"{title}: labeled paragraphs",
                      license=license, languages=languages,
                      size=sum(report.lines.values()), fmt=fmt), "",
        f"# {title}: labeled paragraphs", "",
        nest_headings(project.description or "Paragraphs of web articles labeled by annotators.",
                      under=1), "",
        "## Languages and license", "",
        _languages_sentence(report.languages, languages), "",
        _license_sentence(license), "",
        "## Files", "",
        "| split | share | file | lines | articles | groups |", "|---|---|---|---|---|---|",
        *[f"| {name} | {fraction:g} | `{report.files[name].name}` | {report.lines[name]} | "
          f"{report.articles[name]} | {report.groups.get(name, 0)} |" for name, fraction in splits],
        "", "## Labels per split", "",
        "| label | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|",
        *[f"| {key} | " + " | ".join(str(report.labels[name][key]) for name in names) + " |"
          for key in label_keys],
        "", "## Label set", "", "| key | name | hotkey | description |", "|---|---|---|---|",
        *[f"| `{label.key}` | {_cell(label.name)} | {_cell(label.hotkey)} | "
          f"{_cell(label.description)} |" for label in project.labels],
        "", "## Spans and links", "", _spans_sentence(project, report, options), "",
        "## Agreement", "", agreement or "Not computed.", "",
        *versions,
        "## How it was made", "",
        f"- Exported {now.strftime('%Y-%m-%dT%H:%M:%SZ')} by annotator from project "
        f"`{project.name}` (overlap {project.overlap}).",
        f"- Unit: {options.unit}; only labeled: {'yes' if options.only_labeled else 'no'}; "
        f"only resolved: {'yes' if options.only_resolved else 'no'} "
        f"({plural(report.tally.unresolved, 'unresolved tie')} found); "
        f"annotator: {options.annotator or 'all'}.",
        "- Each entry of `annotations` has a `source`: `\"human\"` (chosen by hand) or "
        "`\"suggestion\"` (a suggestion the annotator accepted); null in an entry of spans "
        "only (below).",
        *(["- `suggestion` is the app's stored suggestion for the paragraph (label, confidence, "
           "reason), or null: a guess, not a label."] if options.suggestions else []),
        f"- Split by {group_by} with seed {seed}: "
        + ", ".join(f"{name}={fraction:g}" for name, fraction in splits)
        + (". No article spans two splits." if group_by == "article"
           else ". No site (meta.site, else the URL's host) spans two splits."),
        "- `label` is the gold label if one was set (`label_source: \"gold\"`), else the label "
        "a strict majority of annotators chose (`\"majority\"`), else null.",
        "- Each entry of `annotations` has the annotator's `spans` (`start`, `end`: code points "
        "of `text`, end exclusive; `text` is `text[start:end]`); an annotator who marked spans "
        "in a paragraph without labeling it has an entry with `label`, `note` and `source` "
        "null, which `label` does not count. `gold_spans` are the adjudicated spans.",
        *(["- `links` are the annotators' links between paragraphs (`paragraph_index`) and "
           "spans (`span`: its `start` and `end` in that paragraph), `gold_links` the "
           "adjudicated ones."] if options.unit == "article" else []),
        "- `meta` is the article's meta as imported (free-form JSON); `source` is the file it "
        "was imported from (`file`: relative to the folder given to `flask import`, or the "
        "uploaded file's name; `line`: its line, for a jsonl record), or null for articles "
        "imported before the app kept it."
        + (" The Parquet files store `meta` as a JSON string: loaded with this card's "
           "features it is decoded; read otherwise (pyarrow, pandas, DuckDB), `json.loads` "
           "it. A link's paragraph end has `span` null." if fmt == "parquet" else ""), "",
        "## Loading", "", "The front matter above declares the features: one schema for every "
        "split, whichever values a split happens to hold (a split whose notes are all null "
        "is not typed null; `meta` is typed JSON, which needs `datasets` 4.7 or later). Read "
        "them from this card and load the files with them:", "",
        "```python", "from datasets import load_dataset, load_dataset_builder",
        "features = load_dataset_builder(\"path/to/this/folder\").info.features",
        f"ds = load_dataset(\"{'json' if fmt == 'jsonl' else fmt}\", data_files={{"
        + ", ".join(f'"{name}": "path/to/this/folder/{name}.{fmt}"' for name in loadable)
        + "}, features=features)", "```", "",
        "(`load_dataset(\"path/to/this/folder\")` reads the same card, but `datasets` then "
        "caches by the card alone and may serve an earlier export of the folder.)", "",
        "## Guidelines given to annotators", "",
        nest_headings(project.guidelines, under=2) if project.guidelines else "None.", "",
    ]
    return "\n".join(lines)


SPAN_FEATURES = [("start", "int64"), ("end", "int64"), ("label", "string"), ("text", "string")]
ANNOTATION_FEATURES = [("annotator", "string"), ("label", "string"), ("note", "string"),
                       ("source", "string"), ("updated_at", "timestamp[us, tz=UTC]"),
                       ("guideline_version", "int64"), ("spans", ("list", SPAN_FEATURES))]
LINK_END_FEATURES = [("paragraph_index", "int64"),
                     ("span", ("struct", [("start", "int64"), ("end", "int64")]))]
GOLD_LINK_FEATURES = [("from", ("struct", LINK_END_FEATURES)),
                      ("to", ("struct", LINK_END_FEATURES)), ("relation", "string")]
SUGGESTION_FEATURES = [("label", "string"), ("confidence", "float64"), ("reason", "string")]
SOURCE_FEATURES = [("file", "string"), ("line", "int64")]


def front_matter(names: list[str], options: ExportOptions, *, pretty_name: str = "",
                 license: str = UNKNOWN_LICENSE, languages: list[str] = (),
                 size: int = 0, fmt: str = "jsonl") -> list[str]:
    """The card's YAML front matter (Hugging Face dataset card metadata): license, languages,
    task, the split files (`configs`) and the features of every line, so that `datasets`
    never infers a split's types from its values (a split whose notes are all null would be
    typed null and clash with the others). `meta` is free-form JSON (datasets' Json type)."""
    lines = ["---", f"pretty_name: {json.dumps(pretty_name, ensure_ascii=False)}",
             f"license: {license}"]
    if languages:
        lines += ["language:", *[f"- {code}" for code in languages],
                  f"multilinguality: {'multilingual' if len(languages) > 1 else 'monolingual'}"]
    lines += ["task_categories:", "- text-classification", "task_ids:",
              "- multi-class-classification", "size_categories:", f"- {_size_category(size)}",
              "configs:", "- config_name: default", "  data_files:"]
    for name in names:
        lines += [f"  - split: {name}", f"    path: {name}.{fmt}"]
    lines += ["dataset_info:", "  features:"]
    for row in _features(line_features(options)):
        lines.append("  " + row)
    return [*lines, "---"]


def line_features(options: ExportOptions) -> list[tuple[str, object]]:
    """What every exported line holds, as (name, dtype or list of fields) pairs: a dtype is
    a string, ("list", fields) a list of structs, ("struct", fields) one struct."""
    paragraph = [("annotations", ("list", ANNOTATION_FEATURES)),
                 ("label", "string"), ("label_source", "string"),
                 ("gold_spans", ("list", SPAN_FEATURES))]
    if options.suggestions:
        paragraph.append(("suggestion", ("struct", SUGGESTION_FEATURES)))
    head = [("project", "string"), ("article_id", "string"), ("title", "string"),
            ("url", "string"), ("meta", "json"), ("source", ("struct", SOURCE_FEATURES))]
    if options.unit == "article":
        return [*head, ("paragraphs", ("list", [("index", "int64"), ("text", "string"),
                                                *paragraph])),
                ("links", ("list", [("annotator", "string"), *GOLD_LINK_FEATURES])),
                ("gold_links", ("list", GOLD_LINK_FEATURES))]
    return [*head, ("paragraph_index", "int64"), ("text", "string"), *paragraph]


def _features(fields: list[tuple[str, object]]) -> list[str]:
    """Fields as the YAML list of `dataset_info.features`, nested structs and lists included."""
    rows = []
    for name, dtype in fields:
        rows.append(f"- name: {name}")
        if isinstance(dtype, str):
            rows.append(f"  dtype: {dtype}")
        else:
            kind, inner = dtype
            rows += [f"  {kind}:", *["  " + row for row in _features(inner)]]
    return rows


def _spans_sentence(project: Project, report: SplitReport, options: ExportOptions) -> str:
    """How many spans per span label and links per relation the files hold, the annotators'
    and the gold ones."""
    def counts(counter: Counter, keys: list[str], gold: bool) -> str:
        keys = keys + sorted({key for is_gold, key in counter if key not in keys})
        total = sum(n for (is_gold, _), n in counter.items() if is_gold == gold)
        return f"{total} (" + ", ".join(f"`{key}` {counter[gold, key]}" for key in keys) + ")"

    span_keys = [label.key for label in project.span_labels]
    sentence = (f"Spans: {counts(report.spans, span_keys, False)} marked by annotators, "
                f"{counts(report.spans, span_keys, True)} gold.")
    if options.unit != "article":
        return sentence + " Links are in the article unit only (`--unit article`)."
    relation_keys = [relation.key for relation in project.relations]
    return (sentence + f" Links: {counts(report.links, relation_keys, False)} by annotators, "
            f"{counts(report.links, relation_keys, True)} gold.")


def _size_category(lines: int) -> str:
    """The Hugging Face size category of a dataset of `lines` rows."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if lines < limit:
            return name
    return "10M<n<100M"


def language_of(text: str) -> str | None:
    """The language a paragraph is written in, told by its script: `zh` (Han characters),
    `ja` (kana), `ko` (hangul), `en` (Latin letters), or None (digits and punctuation only).
    A Han character counts as much as three Latin letters (about a word against a word)."""
    counts = Counter()
    for char in text:
        code = ord(char)
        if 0x3040 <= code <= 0x30FF:
            counts["ja"] += 3
        elif 0xAC00 <= code <= 0xD7AF:
            counts["ko"] += 3
        elif 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3FFFF:
            counts["zh"] += 3
        elif char.isalpha() and code < 0x250:
            counts["en"] += 1
    if counts["ja"] and counts["zh"]:  # Japanese writes Han characters among its kana
        counts["ja"] += counts.pop("zh")
    return counts.most_common(1)[0][0] if counts else None


LANGUAGE_SHARE = 0.05  # a language on fewer paragraphs than this share is not listed


def languages_of(counts: Counter) -> list[str]:
    """The languages of the card: each on at least LANGUAGE_SHARE of the paragraphs whose
    language was told, most paragraphs first."""
    total = sum(counts.values())
    return [code for code, n in counts.most_common() if total and n / total >= LANGUAGE_SHARE]


LANGUAGE_NAMES = {"zh": "Chinese", "en": "English", "ja": "Japanese", "ko": "Korean"}


def _languages_sentence(counts: Counter, languages: list[str]) -> str:
    total = sum(counts.values())
    if not total:
        return "Language: not told (no paragraph has letters)."
    shares = ", ".join(f"{LANGUAGE_NAMES[code]} (`{code}`) {counts[code] / total:.0%}"
                       for code in languages)
    return (f"Languages, by paragraph: {shares}. Told by script (Han characters against Latin "
            "letters), so Latin-script text counts as English and a paragraph mixing both is "
            "counted once, as the script most of it is in.")


def _license_sentence(license: str) -> str:
    if license == UNKNOWN_LICENSE:
        return ("License: unknown. The paragraphs are text of web pages, whose terms belong "
                "to their sites; the labels are the annotators'. Export with `--license ID` "
                "(a Hugging Face license identifier, e.g. `cc-by-4.0` or `other`) once the "
                "terms are known.")
    return (f"License: `{license}`, as given at export (`--license`). The paragraphs are text "
            "of web pages: check that their sites' terms allow it.")


LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}")


def check_license(license: str) -> str:
    """A license identifier as the card's metadata takes it (`cc-by-4.0`, `mit`, `other`,
    `unknown`), else ExportError."""
    if not LICENSE_ID.fullmatch(license):
        raise ExportError(N_("bad --license %(license)s: give a license identifier in lower "
                             "case, e.g. cc-by-4.0, mit, other or unknown",
                             license=repr(license)).on_web(N_(
            "bad license %(license)s: give a license identifier in lower case, e.g. cc-by-4.0, "
            "mit, other or unknown", license=repr(license))))
    return license


def nest_headings(markdown: str, under: int) -> str:
    """Markdown whose headings sit below a heading of level `under`: the top level found
    becomes `under` + 1, the others keep their depth beneath it (at most 6). Setext headings
    (underlined) become ATX ones; code blocks are left alone."""
    from markdown_it import MarkdownIt  # here: only a dataset card needs it

    lines = markdown.split("\n")
    headings = [token for token in MarkdownIt("commonmark").parse(markdown)
                if token.type == "heading_open" and token.map]
    if not headings:
        return markdown
    shift = under + 1 - min(int(token.tag[1]) for token in headings)
    for token in reversed(headings):  # later lines first: a setext heading loses a line
        start, end = token.map
        level = min(6, max(1, int(token.tag[1]) + shift))
        if token.markup in ("=", "-"):  # text lines, then the underline
            if not _CONTAINER.match(lines[start])[0].strip():  # top level only: no quote, list
                text = " ".join(line.strip() for line in lines[start:end - 1])
                lines[start:end] = [f"{'#' * level} {text}"]
        else:  # the opening run of #, after any quote or list markers
            lines[start] = re.sub(_CONTAINER.pattern + f"({token.markup})(?=\\s|$)",
                                  lambda match: match[1] + "#" * level, lines[start], count=1)
    return "\n".join(lines)


_CONTAINER = re.compile(r"^((?:\s|>|[-*+]\s|\d{1,9}[.)]\s)*)")  # what may precede a heading


def _cell(text: str) -> str:
    """Text that cannot break out of a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def write_dataset(session: Session, project_name: str, directory: Path,
                  splits: list[tuple[str, float]], *, seed: int, group_by: str = "article",
                  options: ExportOptions = ExportOptions(), force: bool = False,
                  license: str = UNKNOWN_LICENSE, fmt: str = "jsonl",
                  progress: ProgressCallback = no_progress) -> SplitReport:
    """`flask export --split`: the split files (jsonl or parquet) plus README.md, the
    dataset card."""
    check_license(license)
    project = session.scalar(select(Project).where(Project.name == project_name))

    def card(report: SplitReport) -> str:
        return dataset_card(project, report, options=options, splits=splits, seed=seed,
                            group_by=group_by, agreement=agreement_summary(session, project),
                            license=license, fmt=fmt, versions=card_lines(
                                session, project.id, report.tally.guideline_versions))
    return write_splits(session, project_name, directory, splits, seed=seed,
                        group_by=group_by, options=options, card=card, force=force, fmt=fmt,
                        progress=progress)


def dataset_zip(session: Session, project_name: str, splits: list[tuple[str, float]], *,
                top: str, **kwargs) -> tuple[IO[bytes], SplitReport]:
    """The split export (write_dataset's files, with its keyword arguments) as a zip whose
    files sit in the folder `top`: an anonymous temporary file, read from its start. The
    files go through the disk, never all in memory."""
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "dataset"
        report = write_dataset(session, project_name, folder, splits, **kwargs)
        archive = tempfile.TemporaryFile()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in [folder / "README.md", *report.files.values()]:
                zipped.write(path, f"{top}/{path.name}")
    archive.seek(0)
    return archive, report


def agreement_summary(session: Session, project: Project) -> str:
    """Agreement figures for the card, on human labels only: an accepted suggestion is the
    app's guess, and two annotators accepting it is not two people agreeing."""
    from .agreement_report import as_markdown, project_agreement
    return as_markdown(project_agreement(session, project, human_only=True), human_only=True)

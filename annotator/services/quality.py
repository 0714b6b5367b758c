"""Each annotator's quality in a project: accuracy and Cohen's kappa against gold, per label and
per guideline version; agreement with the other annotators; time per paragraph; how they used
suggestions; and a flag, with its evidence, for an annotator far below the others.

Gold comes from three sources, reported together and each apart (`per_source`):
adjudicated paragraphs (a mapping paragraph id -> label, `gold_labels`: the Gold table, scored
against the current annotations outside calibration articles), and the frozen results of
calibration rounds and hidden checks (`Test` rows, services/calibration.py: each result is
its own item, so two rounds on one paragraph count twice, and a hidden check's result
replaces that annotator's current label on the paragraph). Calibration labels count against
gold only, never in agreement with the others. The kappas come from agreement.py
(gold is one more rater there, keyed GOLD); the intervals are computed here:

- accuracy, and every other share: the Wilson score interval (95%), defined from n = 1 on;
- kappa against gold: kappa +- 1.96 SE with Cohen's (1960) large-sample approximation
  SE = sqrt(po (1 - po) / (n (1 - pe)^2)), clipped to [-1, 1]; it is too narrow for a small
  n and is zero wide when po is 1, so n is always shown next to it.

Time per paragraph: the gaps between an annotator's consecutive first labels in one article
(Annotation.created_at, so a later change does not count); a gap over BREAK_SECONDS is a
break, left out and counted; the figure is the median of the rest. The first label of each
article has no gap (reading the article is not measured)."""
from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Annotation, Article, Gold, Paragraph, Project, Suggestion, User
from .agreement import PairAgreement, report
from .messages import N_
from .text import plural

Z95 = 1.959963984540054
BREAK_SECONDS = 600  # a longer gap between two labels is a break, not work
GOLD = 0  # gold's key among the raters (user ids start at 1)

# The flags and notes are messages.Text: English in the CLI and JSON, translated on the page.
ACCURACY_FLAG = N_("accuracy against gold %(value)s (%(hits)s of %(n)s, 95 percent interval "
                   "%(low)s to %(high)s) is below the median of the %(others)s others, "
                   "%(median)s").template
AGREEMENT_FLAG = N_("agreement with the others %(value)s (%(hits)s of %(n)s, 95 percent "
                    "interval %(low)s to %(high)s) is below the median of the %(others)s "
                    "others, %(median)s").template
NO_GOLD = N_("no gold paragraph")


class Test(NamedTuple):
    """One frozen result of a round on a gold article (calibration.Scored)."""
    paragraph_id: int
    article_id: int
    user_id: int
    label: str
    gold_label: str
    kind: str  # "calibration" or "check"
    guideline_version: int | None = None


SOURCES = ("adjudicated", "calibration", "check")


class Row(NamedTuple):
    """One annotator's label on one paragraph."""
    paragraph_id: int
    article_id: int
    user_id: int
    label: str
    source: str  # "human" or "suggestion"
    created_at: datetime | None
    guideline_version: int | None = None


@dataclass(frozen=True)
class Rate:
    """hits of n, with the Wilson 95% interval; all None for n = 0."""
    hits: int
    n: int
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa on n paragraphs with its approximate 95% interval; `note` says why not."""
    n: int
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class LabelScore:
    """One label against gold: precision (of the annotator's uses) and recall (of gold's)."""
    label: str
    precision: Rate
    recall: Rate


@dataclass(frozen=True)
class Peer:
    """Agreement with one other annotator on the paragraphs both labeled."""
    username: str
    n: int
    observed: float | None
    kappa: float | None


@dataclass(frozen=True)
class Timing:
    """Median seconds between consecutive labels in an article, over `gaps` gaps."""
    median_seconds: float | None
    gaps: int
    breaks: int  # gaps over BREAK_SECONDS, left out


@dataclass(frozen=True)
class SuggestionUse:
    """On labeled paragraphs that have a suggestion: accepted it, typed it, or another label."""
    suggested: int
    accepted: int
    confirmed: int
    overridden: int
    accepted_share: Rate
    overridden_share: Rate


@dataclass
class AnnotatorQuality:
    """One annotator's figures."""
    user_id: int
    username: str
    labeled: int
    accuracy: Rate  # against gold, on the gold paragraphs they labeled
    kappa: Kappa
    per_label: list[LabelScore]
    per_version: dict[int, Rate]  # guideline version -> accuracy; {} without versions
    per_source: dict[str, Rate]  # SOURCES -> accuracy against that source's gold
    agreement: Rate  # agreements of all (paragraph, other annotator) pairs they share
    agreement_kappa: float | None  # mean of the pairwise kappas, weighted by paragraphs shared
    peers: list[Peer]
    time: Timing
    suggestions: SuggestionUse
    flags: list[str] = field(default_factory=list)


@dataclass
class QualityReport:
    """A project's annotators, sorted by name, with what the figures are based on."""
    project: str
    gold_paragraphs: int
    labels: list[str]
    annotators: list[AnnotatorQuality]
    method: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, lists, numbers and strings, ready for json.dumps."""
        return asdict(self)

    def annotator(self, user_id: int) -> AnnotatorQuality | None:
        return next((a for a in self.annotators if a.user_id == user_id), None)


METHOD = {
    "accuracy": "share of the gold paragraphs they labeled with gold's label; Wilson 95% interval",
    "sources": "gold from adjudicated paragraphs (their current labels outside calibration "
               "articles), calibration rounds and hidden checks (the labels frozen when they "
               "marked the article done; a check's result replaces their current label there)",
    "kappa": "Cohen's kappa against gold; 95% interval kappa +- 1.96 SE, SE = sqrt(po(1-po) / "
             "(n (1-pe)^2)) (Cohen 1960), too narrow for small n",
    "agreement": "observed agreement with each other annotator on shared paragraphs, pooled "
                 "over the pairs (Wilson 95% interval); kappa: the pairwise Cohen's kappas' mean "
                 "weighted by shared paragraphs",
    "time": f"median gap between consecutive first labels in one article; gaps over "
            f"{BREAK_SECONDS} s are breaks, left out",
    "suggestions": "their labels on paragraphs with a (current) suggestion: accepted, typed the "
                   "same label by hand, or overridden",
    "flag": "accuracy's (or, without gold, agreement's) interval upper bound below the median "
            "of the other annotators (two or more with figures)",
}


def wilson(hits: int, n: int, z: float = Z95) -> Rate:
    """hits/n with the Wilson score interval."""
    if n <= 0:
        return Rate(hits, 0, None, None, None)
    p = hits / n
    scale = 1 + z * z / n
    center = (p + z * z / (2 * n)) / scale
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / scale
    return Rate(hits, n, p, max(0.0, center - half), min(1.0, center + half))


def kappa_interval(pair: PairAgreement, z: float = Z95) -> Kappa:
    """The pair's Cohen's kappa with the large-sample interval (see the module's docstring)."""
    kappa, n = pair.kappa, pair.n
    if kappa.value is None:
        return Kappa(n, None, note=kappa.note)
    rows = {x: sum(row.values()) for x, row in pair.confusion.items()}
    columns = Counter()
    for row in pair.confusion.values():
        columns.update(row)
    po = sum(pair.confusion[x][x] for x in pair.confusion) / n
    pe = sum(rows[x] * columns[x] for x in rows) / (n * n)
    se = math.sqrt(po * (1 - po) / (n * (1 - pe) ** 2))
    return Kappa(n, kappa.value, max(-1.0, kappa.value - z * se),
                 min(1.0, kappa.value + z * se))


def gold_labels(session: Session, project: Project) -> dict[int, str]:
    """The project's adjudicated labels: paragraph id -> label."""
    return dict(session.execute(
        select(Gold.paragraph_id, Gold.label).join(Paragraph, Paragraph.id == Gold.paragraph_id)
        .join(Article, Article.id == Paragraph.article_id)
        .where(Article.project_id == project.id)).all())


def annotation_rows(session: Session, project: Project) -> list[Row]:
    """Every current annotation of the project, in one query (copied into Rows: their
    attributes read faster than SQLAlchemy's rows', 1.4 s of CPU against 1.8 s on 200,000)."""
    query = (select(Annotation.paragraph_id, Paragraph.article_id, Annotation.user_id,
                    Annotation.label, Annotation.source, Annotation.created_at,
                    Annotation.guideline_version)
             .join(Paragraph, Paragraph.id == Annotation.paragraph_id)
             .join(Article, Article.id == Paragraph.article_id)
             .where(Article.project_id == project.id, ~Article.calibration))  # results instead
    return [Row(*row) for row in session.execute(query)]


def suggested_labels(session: Session, project: Project) -> dict[int, str]:
    """The current suggestion of every labeled paragraph that has one."""
    return dict(session.execute(
        select(Suggestion.paragraph_id, Suggestion.label)
        .join(Paragraph, Paragraph.id == Suggestion.paragraph_id)
        .join(Article, Article.id == Paragraph.article_id)
        .where(Article.project_id == project.id, Paragraph.annotation_count > 0)).all())


def project_quality(session: Session, project: Project) -> QualityReport:
    """Every annotator's figures, against the adjudicated labels and the rounds' results."""
    from .calibration import scored_results
    rows = annotation_rows(session, project)
    tests = [Test(*result) for result in scored_results(session, project)]
    gold = gold_labels(session, project)
    users = {row.user_id for row in rows} | {test.user_id for test in tests}
    names = dict(session.execute(select(User.id, User.username)
                                 .where(User.id.in_(users))).all()) if users else {}
    return measure(rows, gold, suggested_labels(session, project), names,
                   labels=[label.key for label in project.labels], project=project.name,
                   tests=tests)


def measure(rows: list[Row], gold: Mapping[int, str], suggested: Mapping[int, str],
            names: Mapping[int, str], *, labels: list[str], project: str = "",
            tests: Iterable[Test] = ()) -> QualityReport:
    """The figures from plain rows (no database): see the module's docstring."""
    by_paragraph: dict[int, tuple[int, dict[int, str]]] = {}
    by_user: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_paragraph.setdefault(row.paragraph_id, (row.article_id, {}))[1][row.user_id] = row.label
        by_user[row.user_id].append(row)
    tests = list(tests)
    checked = {(test.user_id, test.paragraph_id) for test in tests if test.kind == "check"}
    scored = [(user, label, gold[paragraph], "adjudicated", version)
              for paragraph, article, user, label, _, _, version in rows
              if paragraph in gold and (user, paragraph) not in checked]
    scored += [(t.user_id, t.label, t.gold_label, t.kind, t.guideline_version) for t in tests]
    users = sorted(set(by_user) | {test.user_id for test in tests},
                   key=lambda u: (names.get(u, ""), u))
    items = [(article, {**{user: label for user, label in ratings.items()
                           if (user, paragraph) not in checked}, GOLD: gold[paragraph]})
             for paragraph, (article, ratings) in by_paragraph.items() if paragraph in gold]
    items += [(t.article_id, {t.user_id: t.label, GOLD: t.gold_label}) for t in tests]
    against_gold = report([item for item in items if len(item[1]) > 1],
                          labels=labels, resamples=0)
    among = report([item for item in by_paragraph.values() if len(item[1]) > 1],
                   labels=labels, resamples=0)
    order = against_gold.labels
    found = []
    for user in users:
        mine = by_user[user]
        vs_gold = against_gold.pair(GOLD, user)
        found.append(AnnotatorQuality(
            user_id=user, username=names.get(user, f"#{user}"), labeled=len(mine),
            accuracy=_accuracy(vs_gold),
            kappa=kappa_interval(vs_gold) if vs_gold else Kappa(0, None, note=NO_GOLD),
            per_label=_per_label(vs_gold, order),
            per_version=_per_version(scored, user),
            per_source=_per_source(scored, user),
            **_with_others(among, user, names),
            time=_timing(mine), suggestions=_suggestions(mine, suggested)))
    _flag(found)
    return QualityReport(project, len(gold), order, found, dict(METHOD))


def _accuracy(pair: PairAgreement | None) -> Rate:
    if pair is None or not pair.n:
        return wilson(0, 0)
    return wilson(sum(pair.confusion[x][x] for x in pair.confusion), pair.n)


def _per_label(pair: PairAgreement | None, labels: list[str]) -> list[LabelScore]:
    """Precision and recall per label; the confusion's rows are gold's (GOLD sorts first)."""
    if pair is None or not pair.n:
        return []
    matrix = pair.confusion
    scores = []
    for label in labels:
        used = sum(matrix[g][label] for g in labels)
        true = sum(matrix[label].values())
        if used or true:
            scores.append(LabelScore(label, wilson(matrix[label][label], used),
                                     wilson(matrix[label][label], true)))
    return scores


def _per_version(scored: list[tuple], user: int) -> dict[int, Rate]:
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for who, label, gold, _, version in scored:
        if who == user and version is not None:
            counts[version][0] += label == gold
            counts[version][1] += 1
    return {version: wilson(*counts[version]) for version in sorted(counts)}


def _per_source(scored: list[tuple], user: int) -> dict[str, Rate]:
    counts = {source: [0, 0] for source in SOURCES}
    for who, label, gold, source, _ in scored:
        if who == user:
            counts[source][0] += label == gold
            counts[source][1] += 1
    return {source: wilson(*counts[source]) for source in SOURCES}


def _with_others(among, user: int, names: Mapping[int, str]) -> dict[str, Any]:
    """Agreement with each other annotator, and pooled over them."""
    peers, agree, shared, weighted, weight = [], 0, 0, 0.0, 0
    for pair in among.pairs:
        if user not in (pair.annotator_a, pair.annotator_b) or not pair.n:
            continue
        other = pair.annotator_b if pair.annotator_a == user else pair.annotator_a
        peers.append(Peer(names.get(other, f"#{other}"), pair.n, pair.observed, pair.kappa.value))
        agree += round(pair.observed * pair.n)
        shared += pair.n
        if pair.kappa.value is not None:
            weighted += pair.kappa.value * pair.n
            weight += pair.n
    return {"agreement": wilson(agree, shared), "peers": peers,
            "agreement_kappa": weighted / weight if weight else None}


def _timing(mine: list[Row]) -> Timing:
    by_article: dict[int, list[datetime]] = defaultdict(list)
    for row in mine:
        if row.created_at is not None:
            by_article[row.article_id].append(row.created_at)
    gaps, breaks = [], 0
    for moments in by_article.values():
        if len(moments) < 2:
            continue
        moments.sort()
        for earlier, later in pairwise(moments):
            gap = (later - earlier).total_seconds()
            if gap > BREAK_SECONDS:
                breaks += 1
            else:
                gaps.append(gap)
    return Timing(statistics.median(gaps) if gaps else None, len(gaps), breaks)


def _suggestions(mine: list[Row], suggested: Mapping[int, str]) -> SuggestionUse:
    accepted = confirmed = overridden = 0
    for row in mine:
        if row.paragraph_id not in suggested:
            continue
        if row.source == "suggestion":
            accepted += 1
        elif row.label == suggested[row.paragraph_id]:
            confirmed += 1
        else:
            overridden += 1
    total = accepted + confirmed + overridden
    return SuggestionUse(total, accepted, confirmed, overridden, wilson(accepted, total),
                         wilson(overridden, total))


def _flag(annotators: list[AnnotatorQuality]) -> None:
    """Flag whoever's interval lies wholly below the others' median (accuracy; agreement for
    those without gold figures), with the evidence."""
    for flag, rate_of in ((ACCURACY_FLAG, lambda a: a.accuracy),
                          (AGREEMENT_FLAG, lambda a: a.agreement)):
        for annotator in annotators:
            mine = rate_of(annotator)
            if mine.n == 0 or (flag is AGREEMENT_FLAG and annotator.accuracy.n):
                continue
            others = [rate_of(a).value for a in annotators
                      if a is not annotator and rate_of(a).n]
            if len(others) < 2:
                continue
            median = statistics.median(others)
            if mine.high < median:
                annotator.flags.append(N_(
                    flag, value=format(mine.value, ".0%"), hits=mine.hits, n=mine.n,
                    low=format(mine.low, ".0%"), high=format(mine.high, ".0%"),
                    others=len(others), median=format(median, ".0%")))


def as_text(result: QualityReport) -> str:
    """A plain-text table, one row per annotator, then the flags and how it is measured."""
    def rate(r: Rate) -> str:
        return "n/a" if r.value is None else f"{r.value:.3f} [{r.low:.3f}, {r.high:.3f}] n={r.n}"

    def number(value: float | None, spec: str = ".3f") -> str:
        return "n/a" if value is None else format(value, spec)

    lines = [(f"{result.project}: {plural(len(result.annotators), 'annotator')}, "
              f"{plural(result.gold_paragraphs, 'gold paragraph')}"), "",
             ("| annotator | labeled | accuracy vs gold | kappa vs gold | agreement with others "
              "| kappa with others | s per paragraph | suggestions accepted | overridden |"),
             "|---" * 9 + "|"]
    for a in result.annotators:
        kappa = "n/a" if a.kappa.value is None else (
            f"{a.kappa.value:.3f} [{a.kappa.low:.3f}, {a.kappa.high:.3f}] n={a.kappa.n}")
        lines.append(
            f"| {a.username} | {a.labeled} | {rate(a.accuracy)} | {kappa} | {rate(a.agreement)} "
            f"| {number(a.agreement_kappa)} | {number(a.time.median_seconds, '.1f')} "
            f"| {a.suggestions.accepted} of {a.suggestions.suggested} "
            f"| {a.suggestions.overridden} of {a.suggestions.suggested} |")
    if any(a.per_source[source].n for a in result.annotators for source in SOURCES[1:]):
        lines += ["", "Accuracy against gold by source:", "",
                  "| annotator | " + " | ".join(SOURCES) + " |", "|---" * 4 + "|",
                  *[f"| {a.username} | " + " | ".join(rate(a.per_source[source])
                                                     for source in SOURCES) + " |"
                    for a in result.annotators]]
    versions = sorted({v for a in result.annotators for v in a.per_version})
    if len(versions) > 1:
        lines += ["", "Accuracy against gold by guideline version:", "",
                  "| annotator | " + " | ".join(f"version {v}" for v in versions) + " |",
                  "|---" * (len(versions) + 1) + "|",
                  *[f"| {a.username} | " + " | ".join(
                      rate(a.per_version.get(v, wilson(0, 0))) for v in versions) + " |"
                    for a in result.annotators]]
    flagged = [(a.username, flag) for a in result.annotators for flag in a.flags]
    if flagged:
        lines += ["", "Flagged:", *[f"- {name}: {flag}" for name, flag in flagged]]
    lines += ["", "How:", *[f"- {key}: {text}" for key, text in result.method.items()]]
    return "\n".join(lines)

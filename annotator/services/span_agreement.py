"""Agreement on spans and links between annotators (issue 12): per span label, character-level
F1, span-level F1 with exact and with overlap matching, and Krippendorff's unitized alpha per
annotator pair; link F1 over (from, to, relation) with span ends matched by overlap.

The measures come first (plain data in, numbers out), then `project_span_agreement`, which reads
a project's spans and links in a few queries. What counts (docs/dashboard.md, "Spans and links"):
- Two annotators are compared on the paragraphs both *saw*: both labeled it or marked a span in
  it. Everyone who marked a span or a link in the project takes part; gold rows never do.
- Character F1: per paragraph, the characters (code points) each covered with the label;
  F1 = 2 |both| / (|a's| + |b's|). Span F1: 2 matched / (a's spans + b's spans), a span matching
  one of the other's with the same (start, end, label) (exact), or with the same label and at
  least one character in common (overlap; one-to-one, the largest overlaps paired first).
- Links: a link of a matches one of b's with the same relation whose ends match: a paragraph end
  the same paragraph, a span end the span the overlap matching paired it with. Only links whose
  two end paragraphs both saw count.
- Pooled figures add up the counts of every pair (micro-averaged); unitized alpha is per pair
  only (Krippendorff's 2004 definition is for two observers of one continuum here: the
  paragraphs both saw, end to end).
"""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from ..models import Annotation, Article, Link, Paragraph, Project, Span, User

Unit = tuple[int, int, int, str]  # one span: (id, start, end, label), offsets in code points
End = tuple[str, int]  # a link end: ("paragraph", paragraph id) or ("span", span id)
LinkRow = tuple[End, End, str]  # (from, to, relation)

MEASURES = ("char", "exact", "overlap")


@dataclass(frozen=True)
class Matched:
    """The counts behind an F1: units (spans, characters or links) marked, counted once per
    annotator, and those matched; F1 = 2 matched / marked, None when nothing was marked."""
    marked: int
    matched: int
    f1: float | None


@dataclass(frozen=True)
class UnitizedAlpha:
    """Krippendorff's unitized alpha of two annotators on one continuum: 1 - observed/expected
    disagreement (Krippendorff 2004, Content Analysis, 2nd ed.); None when there is nothing to
    disagree on (no span of the label)."""
    value: float | None
    observed: float
    expected: float
    length: int  # code points in the continuum


@dataclass(frozen=True)
class SpanMeasures:
    """One span label (or all labels) for a pair, or pooled over every pair."""
    char: Matched
    exact: Matched
    overlap: Matched
    alpha_u: UnitizedAlpha | None = None  # per pair only


@dataclass(frozen=True)
class LinkMeasures:
    """Link F1, over every relation and per relation."""
    all: Matched
    per_relation: dict[str, Matched]


@dataclass(frozen=True)
class SpanPair:
    """Two annotators on the paragraphs both saw."""
    annotator_a: str
    annotator_b: str
    paragraphs: int
    per_label: dict[str, SpanMeasures]
    all: SpanMeasures
    links: LinkMeasures


@dataclass(frozen=True)
class SpanAgreementReport:
    """Span and link agreement of a project's annotators, per pair and pooled."""
    human_only: bool
    suggestions_left_out: int  # pre-marked spans (source "suggestion") not counted
    annotators: list[str]
    labels: list[str]
    relations: list[str]
    paragraphs: int  # paragraphs seen by two or more of the annotators
    per_label: dict[str, SpanMeasures]
    all: SpanMeasures
    links: LinkMeasures
    pairs: list[SpanPair]

    def to_dict(self) -> dict[str, Any]:
        """Return plain dicts, lists, numbers and strings, ready for json.dumps."""
        return asdict(self)


def matched(marked: int, both: int) -> Matched:
    """The F1 of `both` matched among `marked` units (both annotators' together)."""
    return Matched(marked, both, 2 * both / marked if marked else None)


# --- one paragraph ----------------------------------------------------------------------------

def _covered(units: Iterable[Unit]) -> list[tuple[int, int]]:
    """The characters the units cover, as sorted disjoint [start, end) stretches."""
    merged: list[list[int]] = []
    for start, end in sorted((u[1], u[2]) for u in units):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _common_characters(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> int:
    """How many characters two sets of disjoint sorted stretches share."""
    i = j = shared = 0
    while i < len(a) and j < len(b):
        shared += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return shared


def overlap_pairs(a: Sequence[Unit], b: Sequence[Unit]) -> list[tuple[Unit, Unit]]:
    """Pair spans of one label one-to-one by overlap: the largest overlap first (ties: the
    earlier spans first); spans without a character in common are never paired."""
    candidates = sorted(
        ((min(x[2], y[2]) - max(x[1], y[1]), x, y) for x in a for y in b
         if min(x[2], y[2]) > max(x[1], y[1])),
        key=lambda c: (-c[0], c[1][1], c[2][1], c[1][0], c[2][0]))
    used_a, used_b, pairs = set(), set(), []
    for _, x, y in candidates:
        if x[0] not in used_a and y[0] not in used_b:
            used_a.add(x[0])
            used_b.add(y[0])
            pairs.append((x, y))
    return pairs


def _by_label(units: Iterable[Unit]) -> dict[str, list[Unit]]:
    found: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        found[unit[3]].append(unit)
    return found


# --- Krippendorff's unitized alpha --------------------------------------------------------------

def unitized_alpha(length: int, a: Sequence[tuple[int, int]],
                   b: Sequence[tuple[int, int]]) -> UnitizedAlpha:
    """Unitized alpha of one label for two annotators, `a` and `b` their units as [start, end)
    on the continuum [0, length), each annotator's units disjoint.

    Observed: the sum over pairs of sections (a unit or a gap of a, one of b) of their squared
    difference, divided by length²: two overlapping units differ by (start difference)² +
    (end difference)², a unit inside the other's gap by its length², anything else by 0.
    Expected: (2/L) sum over units g [(N-1)(2l³-3l²+l)/3 + l² sum over gaps h with l_h >= l of
    (l_h - l + 1)] / (mL(mL-1) - sum over units l(l-1)), with m = 2 annotators, N units, L the
    length, l the unit's length and the gaps those of both annotators."""
    a, b = sorted(a), sorted(b)
    observed_sum = _observed_sum(a, b)
    units = [end - start for start, end in a + b]
    if not length or not units:
        return UnitizedAlpha(None, 0.0, 0.0, length)
    gaps = sorted(_gaps(length, a) + _gaps(length, b))
    suffix = [0] * (len(gaps) + 1)  # suffix[k]: sum of gaps[k:]
    for k in range(len(gaps) - 1, -1, -1):
        suffix[k] = suffix[k + 1] + gaps[k]
    total = 0
    for unit in units:
        k = bisect_left(gaps, unit)
        within = suffix[k] - (unit - 1) * (len(gaps) - k)  # sum of (l_h - l + 1) over l_h >= l
        total += (len(units) - 1) * unit * (unit - 1) * (2 * unit - 1) // 3 + unit * unit * within
    m = 2
    expected = 2 * total / (length * (m * length * (m * length - 1)
                                      - sum(u * (u - 1) for u in units)))
    observed = observed_sum / length ** 2
    return UnitizedAlpha(1 - observed / expected if expected else None, observed, expected, length)


def pooled_alpha(alphas: Iterable[UnitizedAlpha]) -> UnitizedAlpha | None:
    """The alpha of several labels on one continuum: 1 - sum of observed / sum of expected."""
    alphas = list(alphas)
    if not alphas:
        return None
    observed = sum(a.observed for a in alphas)
    expected = sum(a.expected for a in alphas)
    return UnitizedAlpha(1 - observed / expected if expected else None, observed, expected,
                         alphas[0].length)


def _observed_sum(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> int:
    """The observed disagreement of sorted disjoint units before dividing by length², in one
    sweep: every overlapping pair is met once, and a unit met by none lies in a gap."""
    i = j = 0
    total = 0
    met_a, met_b = [False] * len(a), [False] * len(b)
    while i < len(a) and j < len(b):
        (xs, xe), (ys, ye) = a[i], b[j]
        if min(xe, ye) > max(xs, ys):
            total += (xs - ys) ** 2 + (xe - ye) ** 2
            met_a[i] = met_b[j] = True
        if xe <= ye:
            i += 1
        else:
            j += 1
    total += sum((e - s) ** 2 for (s, e), met in zip(a, met_a) if not met)
    return total + sum((e - s) ** 2 for (s, e), met in zip(b, met_b) if not met)


def _gaps(length: int, units: Sequence[tuple[int, int]]) -> list[int]:
    """The lengths of the stretches between (and around) sorted disjoint units."""
    gaps, at = [], 0
    for start, end in units:
        if start > at:
            gaps.append(start - at)
        at = max(at, end)
    if length > at:
        gaps.append(length - at)
    return gaps


# --- a project's annotators -------------------------------------------------------------------

@dataclass
class SpanData:
    """What the measures need, by annotator: the paragraphs each saw, their spans per paragraph,
    their links; and each compared paragraph's length in code points, in continuum order."""
    seen: dict[Any, set[int]]
    spans: dict[Any, dict[int, list[Unit]]]
    links: dict[Any, list[LinkRow]]
    lengths: dict[int, int]
    span_paragraph: dict[int, int]  # span id -> its paragraph


class _Tally:
    """Marked and matched counts per (measure, key), added up over paragraphs and pairs."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])

    def add(self, measure: str, key: str, marked: int, both: int) -> None:
        count = self.counts[(measure, key)]
        count[0] += marked
        count[1] += both

    def merge(self, other: _Tally) -> None:
        for (measure, key), (marked, both) in other.counts.items():
            self.add(measure, key, marked, both)

    def get(self, measure: str, key: str) -> Matched:
        marked, both = self.counts.get((measure, key), (0, 0))
        return matched(marked, both)

    def total(self, measure: str, keys: Iterable[str]) -> Matched:
        found = [self.counts.get((measure, key), (0, 0)) for key in keys]
        return matched(sum(c[0] for c in found), sum(c[1] for c in found))


def measure(data: SpanData, *, labels: Sequence[str] = (), relations: Sequence[str] = (),
            human_only: bool = True, suggestions_left_out: int = 0) -> SpanAgreementReport:
    """Compare every pair of annotators on the paragraphs both saw, and pool the counts.
    `labels` and `relations` are the project's (their order); others found are added."""
    annotators = sorted(set(data.spans) | set(data.links), key=str)  # who marks spans or links
    label_order = _ordered(labels, {u[3] for by in data.spans.values()
                                    for units in by.values() for u in units})
    relation_order = _ordered(relations, {r for rows in data.links.values() for *_, r in rows})
    viewers: Counter[int] = Counter(p for a in annotators for p in data.seen.get(a, ()))
    pooled, pairs = _Tally(), []
    for a, b in combinations(annotators, 2):
        common = data.seen.get(a, set()) & data.seen.get(b, set())
        if not common:
            continue
        tally, alphas = _Tally(), {}
        alignment = _compare_spans(data, a, b, common, tally, label_order, alphas)
        _compare_links(data, a, b, common, alignment, tally)
        pooled.merge(tally)
        per_label = {label: _measures(tally, label, alphas[label]) for label in label_order}
        alpha_all = pooled_alpha(alphas.values())
        pairs.append(SpanPair(str(a), str(b), len(common), per_label,
                              _all_measures(tally, label_order, alpha_all),
                              _links(tally, relation_order)))
    return SpanAgreementReport(
        human_only=human_only, suggestions_left_out=suggestions_left_out,
        annotators=[str(a) for a in annotators], labels=label_order, relations=relation_order,
        paragraphs=sum(1 for count in viewers.values() if count >= 2),
        per_label={label: _measures(pooled, label) for label in label_order},
        all=_all_measures(pooled, label_order), links=_links(pooled, relation_order),
        pairs=pairs)


def _compare_spans(data: SpanData, a, b, common: set[int], tally: _Tally,
                   labels: Sequence[str], alphas: dict[str, UnitizedAlpha]) -> dict[int, int]:
    """Count the span measures of a and b over the common paragraphs, put each label's unitized
    alpha in `alphas`; return the overlap alignment (a's span id -> b's)."""
    alignment: dict[int, int] = {}
    continuum = {label: ([], []) for label in labels}  # label -> (a's units, b's), shifted
    spans_a, spans_b = data.spans.get(a, {}), data.spans.get(b, {})
    offset = 0
    for paragraph in sorted(common):
        marked_a, marked_b = spans_a.get(paragraph), spans_b.get(paragraph)
        if marked_a or marked_b:
            by_a, by_b = _by_label(marked_a or ()), _by_label(marked_b or ())
            for label in labels:
                xs, ys = by_a.get(label, []), by_b.get(label, [])
                if xs or ys:
                    _compare_label(label, xs, ys, tally, alignment)
                    continuum[label][0].extend((offset + x[1], offset + x[2]) for x in xs)
                    continuum[label][1].extend((offset + y[1], offset + y[2]) for y in ys)
        offset += data.lengths.get(paragraph, 0)
    for label, (units_a, units_b) in continuum.items():
        alphas[label] = unitized_alpha(offset, units_a, units_b)
    return alignment


def _compare_label(label: str, xs: Sequence[Unit], ys: Sequence[Unit], tally: _Tally,
                   alignment: dict[int, int]) -> None:
    """Count one label's spans of a and b in one paragraph; pair them by overlap."""
    if len(xs) == len(ys) == 1:  # the common case, without sorting or sets
        (x_id, x_start, x_end, _), (y_id, y_start, y_end, _) = xs[0], ys[0]
        shared = min(x_end, y_end) - max(x_start, y_start)
        tally.add("char", label, x_end - x_start + y_end - y_start, max(shared, 0))
        tally.add("exact", label, 2, int((x_start, x_end) == (y_start, y_end)))
        tally.add("overlap", label, 2, int(shared > 0))
        if shared > 0:
            alignment[x_id] = y_id
        return
    cover_a, cover_b = _covered(xs), _covered(ys)
    tally.add("char", label, sum(e - s for s, e in cover_a) + sum(e - s for s, e in cover_b),
              _common_characters(cover_a, cover_b))
    tally.add("exact", label, len(xs) + len(ys),
              len({(x[1], x[2]) for x in xs} & {(y[1], y[2]) for y in ys}))
    paired = overlap_pairs(xs, ys)
    tally.add("overlap", label, len(xs) + len(ys), len(paired))
    alignment.update((x[0], y[0]) for x, y in paired)


def _compare_links(data: SpanData, a, b, common: set[int], alignment: Mapping[int, int],
                   tally: _Tally) -> None:
    """Count a's and b's links between paragraphs both saw, and those that match: a's ends
    carried over to b's through the alignment, then looked up among b's (each used once)."""
    def inside(row: LinkRow) -> bool:
        return all(_paragraph_of(end, data) in common for end in row[:2])

    def carried(end: End) -> End | None:
        if end[0] == "paragraph":
            return end
        return ("span", alignment[end[1]]) if end[1] in alignment else None

    rows_a = [row for row in data.links.get(a, ()) if inside(row)]
    rows_b = Counter(row for row in data.links.get(b, ()) if inside(row))
    for relation, count in Counter(r for *_, r in rows_a).items():
        tally.add("links", relation, count, 0)
    for relation, count in Counter(r for *_, r in rows_b.elements()).items():
        tally.add("links", relation, count, 0)
    for source, target, relation in rows_a:
        key = (carried(source), carried(target), relation)
        if None not in key[:2] and rows_b[key] > 0:
            rows_b[key] -= 1
            tally.add("links", relation, 0, 1)


def _paragraph_of(end: End, data: SpanData) -> int | None:
    return end[1] if end[0] == "paragraph" else data.span_paragraph.get(end[1])


def _measures(tally: _Tally, label: str, alpha: UnitizedAlpha | None = None) -> SpanMeasures:
    return SpanMeasures(*(tally.get(m, label) for m in MEASURES), alpha_u=alpha)


def _all_measures(tally: _Tally, labels: Sequence[str],
                  alpha: UnitizedAlpha | None = None) -> SpanMeasures:
    return SpanMeasures(*(tally.total(m, labels) for m in MEASURES), alpha_u=alpha)


def _links(tally: _Tally, relations: Sequence[str]) -> LinkMeasures:
    return LinkMeasures(tally.total("links", relations),
                        {relation: tally.get("links", relation) for relation in relations})


def _ordered(known: Sequence[str], seen: Iterable[str]) -> list[str]:
    """The project's keys in their order, then any other key found, sorted."""
    order = list(dict.fromkeys(known))
    return order + sorted(set(seen) - set(order))


# --- from the database --------------------------------------------------------------------------

def project_span_agreement(session: Session, project: Project, *,
                           human_only: bool = True) -> SpanAgreementReport:
    """Span and link agreement of the project's annotators (gold rows left out; with
    `human_only`, the default, pre-marked suggested spans and the links that touch them too).
    Spans and links are read in one query each; without any, nothing else is read. Then the
    paragraphs each annotator labeled, and the lengths of those two or more saw."""
    in_project = and_(Article.project_id == project.id, ~Article.calibration)  # calibration.py
    connection = session.connection()  # Core rows: no ORM work per row
    spans: dict[int, dict[int, list[Unit]]] = defaultdict(lambda: defaultdict(list))
    seen: dict[int, set[int]] = defaultdict(set)
    span_paragraph: dict[int, int] = {}
    left_out: set[int] = set()
    for span_id, paragraph, user, start, end, label, source in connection.execute(
            select(Span.id, Span.paragraph_id, Span.user_id, Span.start, Span.end, Span.label,
                   Span.source)
            .join(Paragraph, Paragraph.id == Span.paragraph_id)
            .join(Article, Article.id == Paragraph.article_id)
            .where(in_project, Span.gold.is_(False), Span.user_id.is_not(None))
            .order_by(Span.paragraph_id, Span.start)):
        seen[user].add(paragraph)
        span_paragraph[span_id] = paragraph
        if human_only and source != "human":
            left_out.add(span_id)
        else:
            spans[user][paragraph].append((span_id, start, end, label))
    links: dict[int, list[LinkRow]] = defaultdict(list)
    for user, from_p, from_s, to_p, to_s, relation in connection.execute(
            select(Link.user_id, Link.from_paragraph_id, Link.from_span_id, Link.to_paragraph_id,
                   Link.to_span_id, Link.relation)
            .join(Article, Article.id == Link.article_id)
            .where(in_project, Link.gold.is_(False), Link.user_id.is_not(None))):
        if from_s in left_out or to_s in left_out:
            continue
        links[user].append((_end(from_p, from_s), _end(to_p, to_s), relation))
    people = set(seen) | set(links)  # who marked a span (even one left out) or a link
    if people:
        for paragraph, user in connection.execute(
                select(Annotation.paragraph_id, Annotation.user_id)
                .join(Paragraph, Paragraph.id == Annotation.paragraph_id)
                .join(Article, Article.id == Paragraph.article_id)
                .where(in_project, Annotation.user_id.in_(people))):
            seen[user].add(paragraph)
    seen = {user: paragraphs for user, paragraphs in seen.items() if user in people}
    lengths = _lengths(session, project, seen) if len(people) > 1 else {}
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_(people))).all()) \
        if people else {}
    return measure(
        SpanData(seen={names[u]: p for u, p in seen.items()},
                 spans={names[u]: dict(spans.get(u, {})) for u in people},
                 links={names[u]: rows for u, rows in links.items()},
                 lengths=lengths, span_paragraph=span_paragraph),
        labels=[label.key for label in project.span_labels],
        relations=[relation.key for relation in project.relations],
        human_only=human_only, suggestions_left_out=len(left_out))


def _end(paragraph: int | None, span: int | None) -> End:
    return ("paragraph", paragraph) if paragraph is not None else ("span", span)


def _lengths(session: Session, project: Project, seen: Mapping[int, set[int]]) -> dict[int, int]:
    """Code points of each paragraph two or more annotators saw, in one query: the project's
    paragraphs labeled twice or more or holding a span (a superset), kept if needed."""
    needed = {p for p, count in Counter(p for ps in seen.values() for p in ps).items()
              if count >= 2}
    has_span = exists().where(Span.paragraph_id == Paragraph.id, Span.gold.is_(False))
    rows = session.connection().execute(
        select(Paragraph.id, func.length(Paragraph.text))
        .join(Article, Article.id == Paragraph.article_id)
        .where(Article.project_id == project.id,
               or_(Paragraph.annotation_count >= 2, has_span)))
    return {paragraph: length for paragraph, length in rows if paragraph in needed}

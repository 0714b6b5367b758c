"""Inter-annotator agreement on nominal labels, in pure Python (no Flask, no database, no numpy).

Input: one item per annotated paragraph, `(article_key, {annotator: label})`. Items with two or
more annotations are "pairable" and are the ones compared; items with one annotation only count
towards Gwet's AC1 label prevalence (as in Gwet's handbook). The report gives observed agreement
(Fleiss' P-bar), Cohen's kappa per annotator pair, Fleiss' kappa, Krippendorff's alpha (nominal,
missing data allowed) and Gwet's AC1, for all labels together and per label one-vs-rest, with
percentile bootstrap intervals that resample whole articles.

Every coefficient is computed from a few integer sums (the sufficient statistics below), so an
article is a fixed vector of integers and a bootstrap resample is a sum of article vectors. The
vectors are packed into one Python int each (one bit field per statistic), so summing a resample
is one big-int addition per drawn article; articles that are identical are grouped and drawn
with a multinomial instead, which keeps many tiny articles cheap too.

Per item with r ratings of which n_k are label k (fractions are scaled by an integer `scale`,
the lcm of r(r-1) over the rater counts present, so every sum stays exact):
    count_k    = n_k                       (pairable items)
    share_k    = n_k / r                   (pairable items; AC1's prevalence)
    single_k   = 1 if the lone rating is k (items with one rating; AC1's prevalence)
    agree_k    = n_k (n_k - 1) / (r (r-1)) (Fleiss' P_i, summed over k)
    coincide_k = n_k (n_k - 1) / (r - 1)   (the diagonal of Krippendorff's coincidence matrix)
"""
from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

from .messages import COLON, N_, joined, ngettext

Item = tuple[Hashable, Mapping[Hashable, str]]
Ratings = tuple[tuple[Hashable, str], ...]  # one item's (annotator, label) pairs
Matrix = dict[str, dict[str, int]]

NAMES = ("observed", "fleiss", "alpha", "ac1")

# The notes are messages.Text: English here (the CLI, the API, the dataset card), translated
# where the dashboard shows them.
NO_ITEMS = N_("no paragraph has two or more annotations: there is nothing to compare")
TOO_FEW_ITEMS = N_("only one paragraph has two or more annotations: chance-corrected "
                   "coefficients need at least two")
ONE_LABEL = N_("only one label was used: agreement is perfect but chance-corrected coefficients "
               "are undefined")
AC1_ONE_LABEL = N_("only one label was used: agreement is perfect, and AC1 (whose chance "
                   "agreement is then 0) is 1.0; kappa-type coefficients are undefined")
ONE_ARTICLE = N_("all paragraphs are in one article: resampling articles cannot measure "
                 "uncertainty, so there is no interval")
NO_USABLE = N_("no bootstrap resample gave a value, so there is no interval")

HIGH_RAW_AGREEMENT = 0.80  # with a coefficient at or below LOW_COEFFICIENT: the kappa paradox
LOW_COEFFICIENT = 0.40
GROUPED_DRAW_COST = 16  # a multinomial draw per distinct article costs about this many choices()

_HEAD = 3  # items, annotated, values; then five blocks of one field per label


@dataclass(frozen=True)
class Coefficient:
    """A coefficient with its bootstrap interval; None where undefined, and `note` says why."""
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str | None = None
    resamples: int | None = None  # bootstrap resamples that gave a value (the rest were dropped)


@dataclass(frozen=True)
class Coefficients:
    """Observed agreement and the multi-rater coefficients for one view of the labels."""
    observed: Coefficient
    fleiss: Coefficient
    alpha: Coefficient
    ac1: Coefficient


@dataclass(frozen=True)
class PairAgreement:
    """Two annotators on the paragraphs both labeled: Cohen's kappa, overall and per label."""
    annotator_a: Hashable
    annotator_b: Hashable
    n: int
    observed: float | None
    kappa: Coefficient
    per_label: dict[str, Coefficient]
    confusion: Matrix  # rows: annotator_a's label, columns: annotator_b's


@dataclass(frozen=True)
class Interpretation:
    """A Landis & Koch band for a coefficient, with a warning where labels are skewed."""
    band: str
    note: str | None = None


@dataclass(frozen=True)
class BootstrapInfo:
    """How the intervals were made: percentile intervals over resampled articles."""
    resamples: int
    seed: int | None
    confidence: float
    articles: int
    method: str = "percentile bootstrap, articles resampled with replacement"


@dataclass(frozen=True)
class AgreementReport:
    """Agreement among annotators over the paragraphs that two or more of them labeled."""
    n_items: int
    n_single: int
    n_articles: int
    n_annotators: int
    annotators: list[Hashable]
    labels: list[str]
    labels_seen: list[str]
    overall: Coefficients
    per_label: dict[str, Coefficients]
    pairs: list[PairAgreement]
    confusion: Matrix
    interpretation: dict[str, Interpretation]
    bootstrap: BootstrapInfo
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Return plain dicts, lists, numbers and strings, ready for json.dumps."""
        return asdict(self)

    def pair(self, a: Hashable, b: Hashable) -> PairAgreement | None:
        """Return the pair (a, b) in either order, or None for an unknown annotator."""
        for pair in self.pairs:
            if {pair.annotator_a, pair.annotator_b} == {a, b} and a != b:
                return pair
        return None


@dataclass(frozen=True)
class _Counts:
    """Sufficient statistics of a set of items: one article, a resample, or everything."""
    scale: int
    items: int  # pairable items
    annotated: int  # all items, with one rating or more
    values: int  # ratings on pairable items
    count: Sequence[int]
    share: Sequence[int]  # scaled
    single: Sequence[int]
    agree: Sequence[int]  # scaled
    coincide: Sequence[int]  # scaled

    @classmethod
    def from_vector(cls, vector: Sequence[int], labels: int, scale: int) -> _Counts:
        """Read the flat layout written by `_item_vector` (or a sum of such vectors)."""
        blocks = [vector[_HEAD + b * labels:_HEAD + (b + 1) * labels] for b in range(5)]
        return cls(scale, vector[0], vector[1], vector[2], *blocks)


@dataclass(frozen=True)
class _Tables:
    """The items boiled down: how many items have each set of ratings, overall and per article."""
    cells: dict[tuple[Hashable, Ratings], int]  # (article, ratings) -> items
    kinds: Counter[Ratings]  # ratings -> items
    sizes: Counter[Hashable]  # article -> items


def report(items: Iterable[Item], *, labels: Sequence[str] | None = None,
           resamples: int = 1000, seed: int | None = 0,
           confidence: float = 0.95) -> AgreementReport:
    """Measure agreement; `labels` is the project's label set (it fixes AC1's number of
    categories; labels found in the data but not listed are added)."""
    if resamples < 0:
        raise ValueError("resamples must be 0 or more")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    tables = _tabulate(items)
    seen = sorted({label for kind in tables.kinds for _, label in kind})
    order = _label_order(labels, seen)
    index = {label: k for k, label in enumerate(order)}
    raters = {len(kind) for kind in tables.kinds if len(kind) > 1}
    scale = _scale(raters)
    vectors = {kind: _item_vector(kind, index, scale) for kind in tables.kinds}
    width = _field_width(vectors.values(), tables.sizes)
    articles = _article_sums(tables.cells, {kind: _pack(vector, width)
                                            for kind, vector in vectors.items()})
    size = _HEAD + 5 * len(order)
    total = _Counts.from_vector(_unpack(sum(articles), width, size), len(order), scale)
    same_raters = len(raters) == 1
    samples = _bootstrap(articles, width, size, len(order), scale, same_raters, resamples,
                         random.Random(seed))
    info = BootstrapInfo(resamples, seed, confidence, len(articles))
    overall = _coefficients(total, None, raters, samples, info)
    per_label = {label: _coefficients(total, (k, label), raters, samples, info)
                 for k, label in enumerate(order)}
    annotators = _sorted_annotators({a for kind in tables.kinds for a, _ in kind})
    cells = _pair_cells(tables.kinds, annotators)
    return AgreementReport(
        n_items=total.items, n_single=total.annotated - total.items, n_articles=len(articles),
        n_annotators=len(annotators), annotators=annotators, labels=order, labels_seen=seen,
        overall=overall, per_label=per_label, pairs=_pairs(cells, annotators, order),
        confusion=_symmetric_confusion(cells, order),
        interpretation=_interpretations(overall), bootstrap=info,
        notes=_report_notes(total, raters))


def interpret(value: float | None, observed: float | None = None) -> Interpretation:
    """Name the Landis & Koch (1977) band of a kappa-type value, warning of the kappa paradox.
    An undefined value gets no note here: the coefficient's own note says why."""
    if value is None:
        return Interpretation("undefined")
    band = _band(value)
    if observed is not None and observed >= HIGH_RAW_AGREEMENT and value <= LOW_COEFFICIENT:
        return Interpretation(band, N_(
            "raw agreement is high (%(observed)s) but the coefficient is only %(value)s: when "
            "one label dominates, chance agreement is high and kappa-type coefficients fall (the "
            "\"kappa paradox\"); see Gwet's AC1, which is less affected by skewed label "
            "frequencies", observed=format(observed, ".0%"), value=format(value, ".2f")))
    return Interpretation(band)


def _band(value: float) -> str:
    """Return the Landis & Koch band name for a value."""
    if value < 0.0:
        return "poor"
    for upper, name in ((0.20, "slight"), (0.40, "fair"), (0.60, "moderate"),
                        (0.80, "substantial")):
        if value <= upper:
            return name
    return "almost perfect"


# --- collecting -------------------------------------------------------------------------------

def _tabulate(items: Iterable[Item]) -> _Tables:
    """Count the items by (article, ratings) in one cheap pass, then by ratings and by article."""
    cells: dict[tuple[Hashable, Ratings], int] = {}
    for article, ratings in items:
        if ratings:
            cell = (article, tuple(ratings.items()))
            cells[cell] = cells.get(cell, 0) + 1
    kinds: Counter[Ratings] = Counter()
    sizes: Counter[Hashable] = Counter()
    for (article, kind), times in cells.items():
        kinds[kind] += times
        sizes[article] += times
    return _Tables(cells, kinds, sizes)


def _label_order(labels: Sequence[str] | None, seen: Sequence[str]) -> list[str]:
    """Return the project's labels in their order, then any other label seen, sorted."""
    order = list(dict.fromkeys(labels or ()))
    known = set(order)
    return order + [label for label in seen if label not in known]


def _scale(raters: Iterable[int]) -> int:
    """Return lcm of r(r-1): multiplying by it makes every per-item fraction an integer."""
    return math.lcm(1, *(r * (r - 1) for r in raters))


def _item_vector(ratings: Ratings, index: Mapping[str, int], scale: int) -> list[int]:
    """Return one item's statistics in the flat layout [items, annotated, values, 5 blocks]."""
    k, r = len(index), len(ratings)
    vector = [0] * (_HEAD + 5 * k)
    vector[1] = 1
    counts = Counter(label for _, label in ratings)
    if r == 1:
        vector[_HEAD + 2 * k + index[ratings[0][1]]] = 1
        return vector
    vector[0], vector[2] = 1, r
    for label, n in counts.items():
        at = _HEAD + index[label]
        vector[at] = n
        vector[at + k] = n * (scale // r)
        vector[at + 3 * k] = n * (n - 1) * (scale // (r * (r - 1)))
        vector[at + 4 * k] = n * (n - 1) * (scale // (r - 1))
    return vector


def _field_width(vectors: Iterable[Sequence[int]], sizes: Mapping[Hashable, int]) -> int:
    """Return bits per packed field: enough for any sum of len(sizes) articles."""
    largest = max((max(vector) for vector in vectors), default=0)
    return (largest * max(sizes.values(), default=0) * len(sizes)).bit_length() + 1


def _article_sums(cells: Mapping[tuple[Hashable, Ratings], int],
                  packed: Mapping[Ratings, int]) -> list[int]:
    """Return each article's packed statistics, in order of first appearance."""
    articles: dict[Hashable, int] = {}
    for (article, kind), times in cells.items():
        articles[article] = articles.get(article, 0) + times * packed[kind]
    return list(articles.values())


def _sorted_annotators(annotators: Iterable[Hashable]) -> list[Hashable]:
    """Return the annotators sorted (by repr when their keys do not compare)."""
    try:
        return sorted(annotators)  # type: ignore[type-var]
    except TypeError:
        return sorted(annotators, key=repr)


# --- coefficients -----------------------------------------------------------------------------

def _one_vs_rest(c: _Counts, k: int) -> _Counts:
    """Reduce the counts to two labels: k, and everything else."""
    scale, items, values = c.scale, c.items, c.values
    return _Counts(
        scale, items, c.annotated, values,
        count=(c.count[k], values - c.count[k]),
        share=(c.share[k], scale * items - c.share[k]),
        single=(c.single[k], c.annotated - items - c.single[k]),
        # (r-n)(r-n-1)/(r(r-1)) = 1 - 2n/r + n(n-1)/(r(r-1)), and /(r-1) = r - 2n + n(n-1)/(r-1)
        agree=(c.agree[k], scale * items - 2 * c.share[k] + c.agree[k]),
        coincide=(c.coincide[k], scale * (values - 2 * c.count[k]) + c.coincide[k]))


def _one_label_used(c: _Counts) -> bool:
    """Tell whether every rating on pairable items has the same label."""
    return c.items > 0 and sum(n * n for n in c.count) == c.values * c.values


def _ratio(numerator: int, denominator: int) -> float | None:
    """Divide exactly-computed integers, or None for a zero denominator."""
    return numerator / denominator if denominator else None


def _observed(c: _Counts) -> float | None:
    """Return mean pairwise agreement over pairable items (Fleiss' P-bar)."""
    return _ratio(sum(c.agree), c.scale * c.items)


def _fleiss(c: _Counts) -> float | None:
    """Return Fleiss' kappa (the caller checks that every item has the same number of ratings)."""
    if c.items < 2:
        return None
    squares, total = sum(n * n for n in c.count), c.values * c.values
    scaled_items = c.scale * c.items
    # (P - Pe) / (1 - Pe) with P = agree / scaled_items and Pe = squares / total
    return _ratio(sum(c.agree) * total - squares * scaled_items,
                  scaled_items * (total - squares))


def _alpha(c: _Counts) -> float | None:
    """Return Krippendorff's alpha for nominal data from the coincidence matrix."""
    if c.items < 2:
        return None
    n, scale = c.values, c.scale
    expected = n * n - sum(m * m for m in c.count)  # sum over c != k of n_c n_k
    # 1 - (n - 1) * (off-diagonal coincidences) / expected
    return _ratio(scale * expected - (n - 1) * (scale * n - sum(c.coincide)), scale * expected)


def _ac1(c: _Counts) -> float | None:
    """Return Gwet's AC1: pa over pairable items, pe = sum pi_k (1 - pi_k) / (Q - 1)."""
    categories = len(c.count)
    if c.items < 2 or categories < 2:
        return None
    scaled_all = c.scale * c.annotated
    prevalence = [share + c.scale * single for share, single in zip(c.share, c.single)]
    spread = scaled_all * scaled_all - sum(p * p for p in prevalence)  # pe = spread / most
    most = (categories - 1) * scaled_all * scaled_all
    scaled_items = c.scale * c.items
    return _ratio(sum(c.agree) * most - spread * scaled_items, scaled_items * (most - spread))


def _estimates(c: _Counts, same_raters: bool) -> tuple[float | None, ...]:
    """Return observed agreement, Fleiss' kappa, alpha and AC1 for one view of the counts."""
    return (_observed(c), _fleiss(c) if same_raters else None, _alpha(c), _ac1(c))


def _view(c: _Counts, k: int | None) -> _Counts:
    """Return all labels (k None) or label k against the rest."""
    return c if k is None else _one_vs_rest(c, k)


def _explain(c: _Counts, name: str, raters: set[int], label: str | None) -> str | None:
    """Say why a point estimate is undefined, or what is special about it."""
    if c.items == 0:
        return NO_ITEMS
    if name == "observed":
        return N_("based on one paragraph only") if c.items == 1 else None
    if c.items == 1:
        return TOO_FEW_ITEMS
    if name == "fleiss" and len(raters) > 1:
        return N_("paragraphs have between %(low)s and %(high)s annotations: Fleiss' kappa "
                  "needs the same number on every paragraph; Krippendorff's alpha allows missing "
                  "annotations", low=min(raters), high=max(raters))
    if name == "ac1" and len(c.count) < 2:
        return ONE_LABEL
    if _one_label_used(c):
        if label is None:
            return AC1_ONE_LABEL if name == "ac1" else ONE_LABEL
        used = c.count[0] > 0
        what = (N_("every annotation was %(label)s", label=repr(label)) if used else
                N_("%(label)s was not used on any paragraph with two or more annotations",
                   label=repr(label)))
        tail = (N_("agreement on it is perfect, and AC1 is 1.0") if name == "ac1" else
                N_("agreement on it is perfect but chance-corrected coefficients are undefined"))
        return joined(what, tail, separator=COLON)
    return None


# --- bootstrap --------------------------------------------------------------------------------

def _bootstrap(articles: Sequence[int], width: int, size: int, labels: int, scale: int,
               same_raters: bool, resamples: int,
               rng: random.Random) -> dict[tuple[str, int | None], list[float]]:
    """Resample packed articles with replacement; return each coefficient's defined values."""
    samples: dict[tuple[str, int | None], list[float]] = defaultdict(list)
    if resamples == 0 or len(articles) < 2:
        return samples
    draw = _resampler(articles, rng)
    views = (None, *range(labels))
    for _ in range(resamples):
        counts = _Counts.from_vector(_unpack(draw(), width, size), labels, scale)
        for k in views:
            for name, value in zip(NAMES, _estimates(_view(counts, k), same_raters)):
                if value is not None:
                    samples[name, k].append(value)
    return samples


def _pack(vector: Sequence[int], width: int) -> int:
    """Put non-negative fields side by side in one int, `width` bits each."""
    packed = 0
    for value in reversed(vector):
        packed = (packed << width) | value
    return packed


def _unpack(packed: int, width: int, size: int) -> list[int]:
    """Split an int made by `_pack` (or a sum of such ints) back into its fields."""
    mask = (1 << width) - 1
    return [(packed >> (width * j)) & mask for j in range(size)]


def _resampler(packed: Sequence[int], rng: random.Random) -> Callable[[], int]:
    """Return a function drawing len(packed) articles with replacement and summing them."""
    n = len(packed)
    kinds = Counter(packed)
    if len(kinds) * GROUPED_DRAW_COST >= n:
        return lambda: sum(rng.choices(packed, k=n))
    values, weights = list(kinds), list(kinds.values())
    return lambda: sum(times * value for times, value in zip(_multinomial(rng, n, weights), values)
                       if times)


def _multinomial(rng: random.Random, n: int, weights: Sequence[int]) -> list[int]:
    """Draw how many of n picks fall on each kind, picked in proportion to `weights`."""
    counts, left, weight_left = [], n, sum(weights)
    for weight in weights:
        times = left if weight >= weight_left else _binomial(rng, left, weight / weight_left)
        counts.append(times)
        left -= times
        weight_left -= weight
    return counts


def _binomial(rng: random.Random, n: int, p: float) -> int:
    """Draw from Binomial(n, p)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - _binomial(rng, n, 1.0 - p)
    if n * p < 10.0:
        return _binomial_by_gaps(rng, n, p)
    return _binomial_btrs(rng, n, p)


def _binomial_by_gaps(rng: random.Random, n: int, p: float) -> int:
    """Count successes by jumping geometric gaps between them (fast for a small mean)."""
    log_q = math.log1p(-p)
    successes = position = 0
    while log_q:
        position += math.floor(math.log(1.0 - rng.random()) / log_q) + 1
        if position > n:
            break
        successes += 1
    return successes


def _binomial_btrs(rng: random.Random, n: int, p: float) -> int:
    """Draw by Hormann's (1993) transformed rejection with squeeze; needs p <= 0.5, np >= 10."""
    spq = math.sqrt(n * p * (1.0 - p))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / (1.0 - p))
    m = math.floor((n + 1) * p)
    h = math.lgamma(m + 1) + math.lgamma(n - m + 1)
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        if us == 0.0:
            continue
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v *= alpha / (a / (us * us) + b)
        if v > 0.0 and math.log(v) <= (h - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                                       + (k - m) * lpq):
            return k


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Return the q-quantile of sorted values, interpolating linearly between ranks."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _coefficient(value: float | None, note: str | None, samples: list[float],
                 info: BootstrapInfo) -> Coefficient:
    """Attach the percentile interval from the usable resamples, saying how many were dropped."""
    if value is None or info.resamples == 0:
        return Coefficient(value, note=note)
    if info.articles < 2:
        return Coefficient(value, note=_join(note, ONE_ARTICLE))
    if not samples:
        return Coefficient(value, note=_join(note, NO_USABLE), resamples=0)
    ordered = sorted(samples)
    tail = (1.0 - info.confidence) / 2.0
    dropped = info.resamples - len(ordered)
    if dropped:
        note = _join(note, ngettext(
            "%(num)s of %(resamples)s bootstrap resamples was degenerate (the coefficient was "
            "undefined on it) and was left out",
            "%(num)s of %(resamples)s bootstrap resamples were degenerate (the coefficient was "
            "undefined on them) and were left out", dropped, resamples=info.resamples))
    return Coefficient(value, _percentile(ordered, tail), _percentile(ordered, 1.0 - tail),
                       note, len(ordered))


def _join(*notes: str | None) -> str | None:
    """Join the notes that are present."""
    present = [note for note in notes if note]
    return joined(*present) if len(present) > 1 else present[0] if present else None


def _coefficients(total: _Counts, view: tuple[int, str] | None, raters: set[int],
                  samples: Mapping[tuple[str, int | None], list[float]],
                  info: BootstrapInfo) -> Coefficients:
    """Build the four coefficients for all labels (view None) or for one label vs the rest."""
    k, label = view if view else (None, None)
    counts = _view(total, k)
    values = _estimates(counts, len(raters) == 1)
    return Coefficients(*(
        _coefficient(value, _explain(counts, name, raters, label), samples.get((name, k), []),
                     info)
        for name, value in zip(NAMES, values)))


# --- pairs and confusion ----------------------------------------------------------------------

def _pair_cells(kinds: Mapping[Ratings, int], annotators: Sequence[Hashable]
                ) -> dict[tuple[Hashable, Hashable], Counter[tuple[str, str]]]:
    """Count (label_a, label_b) for each annotator pair (a before b in sorted order)."""
    position = {annotator: i for i, annotator in enumerate(annotators)}
    cells: dict[tuple[Hashable, Hashable], Counter[tuple[str, str]]] = defaultdict(Counter)
    for kind, times in kinds.items():
        ordered = sorted(kind, key=lambda rating: position[rating[0]])
        for (a, label_a), (b, label_b) in combinations(ordered, 2):
            cells[a, b][label_a, label_b] += times
    return cells


def _pairs(cells: Mapping[tuple[Hashable, Hashable], Counter[tuple[str, str]]],
           annotators: Sequence[Hashable], labels: Sequence[str]) -> list[PairAgreement]:
    """Return Cohen's kappa for every pair of annotators, in sorted order."""
    return [_pair(a, b, cells.get((a, b)) or Counter(), labels)
            for a, b in combinations(annotators, 2)]


def _pair(a: Hashable, b: Hashable, cells: Counter[tuple[str, str]],
          labels: Sequence[str]) -> PairAgreement:
    """Build one pair's kappa, per-label kappas and confusion matrix."""
    n = sum(cells.values())
    rows: Counter[str] = Counter()
    columns: Counter[str] = Counter()
    for (label_a, label_b), times in cells.items():
        rows[label_a] += times
        columns[label_b] += times
    agree = sum(cells[label, label] for label in labels)
    overall = _cohen(n, agree, sum(rows[x] * columns[x] for x in labels), a, b, ONE_LABEL)
    per_label = {}
    for label in labels:
        row, column, both = rows[label], columns[label], cells[label, label]
        who = {"a": a, "b": b, "label": repr(label)}
        constant = (N_("%(a)s and %(b)s both used %(label)s on every paragraph they share: "
                       "agreement on it is perfect but kappa is undefined", **who) if row else
                    N_("neither %(a)s nor %(b)s used %(label)s on the paragraphs they share: "
                       "agreement on it is perfect but kappa is undefined", **who))
        per_label[label] = _cohen(
            n, n - row - column + 2 * both, row * column + (n - row) * (n - column), a, b,
            constant)
    return PairAgreement(a, b, n, agree / n if n else None, overall, per_label,
                         {x: {y: cells[x, y] for y in labels} for x in labels})


def _cohen(n: int, agree: int, chance: int, a: Hashable, b: Hashable,
           one_label: str) -> Coefficient:
    """Return Cohen's kappa (n*agree - chance) / (n^2 - chance), where chance = sum row*column."""
    if n == 0:
        return Coefficient(None, note=N_("%(a)s and %(b)s annotated no paragraph in common",
                                         a=a, b=b))
    if n == 1:
        return Coefficient(None, note=N_("%(a)s and %(b)s annotated only one paragraph in "
                                         "common: Cohen's kappa needs at least two", a=a, b=b))
    if chance == n * n:  # both annotators used one and the same label throughout
        return Coefficient(None, note=one_label)
    return Coefficient((n * agree - chance) / (n * n - chance))


def _symmetric_confusion(cells: Mapping[tuple[Hashable, Hashable], Counter[tuple[str, str]]],
                         labels: Sequence[str]) -> Matrix:
    """Sum label pairs over all annotator pairs, each pair counted in both orders."""
    matrix = {x: dict.fromkeys(labels, 0) for x in labels}
    for pair in cells.values():
        for (label_a, label_b), times in pair.items():
            matrix[label_a][label_b] += times
            matrix[label_b][label_a] += times
    return matrix


# --- summary ----------------------------------------------------------------------------------

def _interpretations(overall: Coefficients) -> dict[str, Interpretation]:
    """Interpret the overall coefficients; the kappa-paradox check applies to kappa and alpha."""
    observed = overall.observed.value
    return {"fleiss": interpret(overall.fleiss.value, observed),
            "alpha": interpret(overall.alpha.value, observed),
            "ac1": interpret(overall.ac1.value)}


def _report_notes(total: _Counts, raters: set[int]) -> list[str]:
    """Say what was left out and how the data are shaped."""
    notes = []
    single = total.annotated - total.items
    if single:
        notes.append(ngettext(
            "%(num)s paragraph has one annotation only: not compared, but counted in the label "
            "frequencies of Gwet's AC1",
            "%(num)s paragraphs have one annotation only: not compared, but counted in the label "
            "frequencies of Gwet's AC1", single))
    if len(raters) > 1:
        notes.append(N_("paragraphs have between %(low)s and %(high)s annotations",
                        low=min(raters), high=max(raters)))
    return notes

"""Agreement coefficients: checked against statsmodels and krippendorff on random data, against
published worked examples, and on every degenerate case (defined answers, never NaN)."""
from __future__ import annotations

import json
import math
import random
import statistics
import time
from collections import Counter
from itertools import combinations

import krippendorff
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from annotator.services import agreement
from annotator.services.agreement import (
    AC1_ONE_LABEL, NO_ITEMS, ONE_ARTICLE, ONE_LABEL, TOO_FEW_ITEMS, interpret, report)

TOL = 1e-6
LABELS = ["claim", "evidence", "boilerplate", "other"]
SEEDS = [0, 1, 2, 3, 4, 5]


# --- helpers ----------------------------------------------------------------------------------

def random_items(seed: int, *, n_items: int = 120, annotators: int = 4, coverage: float = 0.7,
                 articles: int = 15, accuracy: float = 0.6) -> list:
    """Skewed labels; each annotator labels a paragraph with probability `coverage`."""
    rng = random.Random(seed)
    names = [f"ann{i}" for i in range(annotators)]
    items = []
    for i in range(n_items):
        truth = rng.choices(LABELS, [0.3, 0.2, 0.4, 0.1])[0]
        ratings = {name: truth if rng.random() < accuracy else rng.choice(LABELS)
                   for name in names if rng.random() < coverage}
        if ratings:
            items.append((f"art{i % articles}", ratings))
    return items


def from_columns(columns: dict[str, str], articles: int = 1) -> list:
    """Items from per-coder strings of labels, '.' for missing (one column per unit)."""
    units = len(next(iter(columns.values())).split())
    items = []
    for u in range(units):
        ratings = {coder: row.split()[u] for coder, row in columns.items()
                   if row.split()[u] != "."}
        if ratings:
            items.append((u % articles, ratings))
    return items


def from_table(table: list[list[int]], labels: list[str], articles: int = 1) -> list:
    """Items for two annotators from a contingency table (rows: a's label, columns: b's)."""
    items = []
    for i, row in enumerate(table):
        for j, times in enumerate(row):
            items += [(len(items) % articles, {"a": labels[i], "b": labels[j]})] * times
    return items


def reliability_matrix(items, code=None) -> np.ndarray:
    """Coders x units, np.nan for missing, as krippendorff.alpha wants it."""
    coders = sorted({a for _, ratings in items for a in ratings})
    code = code or {label: float(k) for k, label in enumerate(LABELS)}
    return np.array([[code[r[c]] if c in r else np.nan for _, r in items] for c in coders])


def naive_ac1(items, labels) -> float:
    """Gwet's AC1 straight from the handbook's formula, one item at a time."""
    q = len(labels)
    pairable = [r for _, r in items if len(r) >= 2]
    pa = statistics.fmean(
        sum(n * (n - 1) for n in Counter(r.values()).values()) / (len(r) * (len(r) - 1))
        for r in pairable)
    pi = {k: statistics.fmean(Counter(r.values())[k] / len(r) for _, r in items) for k in labels}
    pe = sum(p * (1 - p) for p in pi.values()) / (q - 1)
    return (pa - pe) / (1 - pe)


def naive_observed(items) -> float:
    """Mean over pairable items of the share of agreeing annotator pairs."""
    shares = []
    for _, r in items:
        pairs = list(combinations(r.values(), 2))
        if pairs:
            shares.append(sum(x == y for x, y in pairs) / len(pairs))
    return statistics.fmean(shares)


def one_vs_rest(items, label):
    """The same items with every label turned into `label` or 'rest'."""
    return [(art, {a: label if v == label else "rest" for a, v in r.items()}) for art, r in items]


def assert_no_nan(value) -> None:
    """Fail on NaN or inf anywhere; the report must also be strict JSON."""
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for item in value.values():
            assert_no_nan(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            assert_no_nan(item)


def check_defined(result) -> dict:
    """Serialise strictly and scan for NaN; returns the dict."""
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert_no_nan(data)
    return data


# --- against statsmodels and krippendorff on random data ---------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_alpha_matches_krippendorff_with_missing_data(seed):
    items = random_items(seed)
    result = report(items, resamples=0)
    expected = krippendorff.alpha(reliability_data=reliability_matrix(items),
                                  level_of_measurement="nominal")
    assert result.overall.alpha.value == pytest.approx(expected, abs=TOL)
    for label in LABELS:
        binary = reliability_matrix(one_vs_rest(items, label), {label: 1.0, "rest": 0.0})
        expected = krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal")
        assert result.per_label[label].alpha.value == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_matches_statsmodels(seed):
    items = random_items(seed, coverage=1.0)
    result = report(items, resamples=0)
    assert {len(r) for _, r in items} == {4}
    table, _ = aggregate_raters([[r[a] for a in sorted(r)] for _, r in items])
    assert result.overall.fleiss.value == pytest.approx(fleiss_kappa(table), abs=TOL)
    for label in LABELS:
        binary, _ = aggregate_raters([[r[a] == label for a in sorted(r)] for _, r in items])
        assert result.per_label[label].fleiss.value == pytest.approx(fleiss_kappa(binary),
                                                                     abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_cohen_matches_statsmodels_for_every_pair(seed):
    items = random_items(seed, coverage=0.75)
    result = report(items, resamples=0)
    assert len(result.pairs) == 6
    for pair in result.pairs:
        both = [r for _, r in items if pair.annotator_a in r and pair.annotator_b in r]
        assert pair.n == len(both)
        table = np.zeros((4, 4))
        for r in both:
            table[LABELS.index(r[pair.annotator_a]), LABELS.index(r[pair.annotator_b])] += 1
        assert pair.kappa.value == pytest.approx(cohens_kappa(table).kappa, abs=TOL)
        assert pair.observed == pytest.approx(np.trace(table) / len(both), abs=TOL)
        for k, label in enumerate(LABELS):
            yes = table[k, k]
            binary = np.array([[yes, table[k].sum() - yes],
                               [table[:, k].sum() - yes, len(both) - table[k].sum()
                                - table[:, k].sum() + yes]])
            assert pair.per_label[label].value == pytest.approx(cohens_kappa(binary).kappa,
                                                                abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_ac1_and_observed_match_the_direct_formulas(seed):
    items = random_items(seed)
    items += [("single", {"ann0": "other"}), ("single", {"ann1": "claim"})]  # AC1 counts these
    result = report(items, labels=LABELS, resamples=0)
    assert result.overall.ac1.value == pytest.approx(naive_ac1(items, LABELS), abs=TOL)
    assert result.overall.observed.value == pytest.approx(naive_observed(items), abs=TOL)
    for label in LABELS:
        binary = one_vs_rest(items, label)
        assert result.per_label[label].ac1.value == pytest.approx(
            naive_ac1(binary, [label, "rest"]), abs=TOL)
        assert result.per_label[label].observed.value == pytest.approx(naive_observed(binary),
                                                                       abs=TOL)


def test_ac1_uses_the_project_label_set_for_its_number_of_categories():
    items = random_items(7)
    with_unused = LABELS + ["unused"]
    assert report(items, labels=with_unused, resamples=0).overall.ac1.value == pytest.approx(
        naive_ac1(items, with_unused), abs=TOL)
    assert report(items, labels=with_unused, resamples=0).labels == with_unused
    assert report(items, labels=["other"], resamples=0).labels == [
        "other", "boilerplate", "claim", "evidence"]  # listed first, then the others found


# --- published worked examples ----------------------------------------------------------------

def test_fleiss_1971_wikipedia_worked_example():
    # Wikipedia "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
    # By hand: P-bar = sum_i sum_j n_ij(n_ij - 1) / (10 * 14 * 13) = 172/455 = 0.378;
    # p_j = (20, 28, 39, 21, 32)/140, P_e = sum p_j^2 = 417/1960 = 0.213;
    # kappa = (172/455 - 417/1960) / (1 - 417/1960) = 4211/20059 = 0.20993 (published: 0.210).
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
             [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
             [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    items = []
    for i, row in enumerate(table):
        labels = [str(j + 1) for j, n in enumerate(row) for _ in range(n)]
        items.append((i, {f"rater{r}": label for r, label in enumerate(labels)}))
    result = report(items, resamples=0)
    assert result.overall.observed.value == pytest.approx(172 / 455, abs=TOL)
    assert result.overall.fleiss.value == pytest.approx(4211 / 20059, abs=TOL)
    assert round(result.overall.fleiss.value, 3) == 0.210


KRIPPENDORFF_2011 = {  # "Computing Krippendorff's alpha-reliability" (2011), nominal, 4 x 12
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}


def test_krippendorff_2011_worked_example_with_missing_data():
    # By hand (Krippendorff 2011): unit 12 has one value and drops out; n = 40 pairable values,
    # n_c = (9, 13, 10, 5, 3); the coincidence diagonal is (7, 10, 8, 4, 3), sum 32; so
    # alpha = 1 - (n - 1) * (40 - 32) / (40^2 - sum n_c^2) = 1 - 39 * 8 / 1216 = 113/152 = 0.743.
    items = from_columns(KRIPPENDORFF_2011)
    result = report(items, resamples=0)
    assert result.n_items == 11 and result.n_single == 1
    assert result.overall.alpha.value == pytest.approx(113 / 152, abs=TOL)
    assert round(result.overall.alpha.value, 3) == 0.743
    assert result.overall.fleiss.value is None  # 2, 3 and 4 raters per unit
    assert "between 2 and 4 annotations" in result.overall.fleiss.note


def test_gwet_handbook_ac1_on_the_same_data():
    # Gwet, Handbook of Inter-Rater Reliability (4th ed., p. 120; irrCAC's cac.raw4raters) uses
    # this data set and publishes pa = 0.818, pe = 0.190, AC1 = 0.775. By hand: pa = 9/11 over
    # the 11 units with two or more ratings; pi_k = mean over all 12 units of r_ik / r_i
    # = (3, 13/4, 7/2, 5/4, 1) / 12; pe = sum pi_k (1 - pi_k) / (5 - 1) = 877/4608 = 0.190;
    # AC1 = (9/11 - 877/4608) / (1 - 877/4608) = 31825/41041 = 0.77544.
    result = report(from_columns(KRIPPENDORFF_2011), resamples=0)
    assert result.overall.observed.value == pytest.approx(9 / 11, abs=TOL)
    assert result.overall.ac1.value == pytest.approx(31825 / 41041, abs=TOL)
    assert round(result.overall.ac1.value, 3) == 0.775


def test_cohen_wikipedia_worked_example():
    # Wikipedia "Cohen's kappa": 50 proposals, yes/yes 20, A yes B no 5, A no B yes 10, no/no 15.
    # p_o = 35/50 = 0.7; p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4.
    result = report(from_table([[20, 5], [10, 15]], ["yes", "no"]), resamples=0)
    (pair,) = result.pairs
    assert (pair.annotator_a, pair.annotator_b, pair.n) == ("a", "b", 50)
    assert pair.kappa.value == pytest.approx(0.4, abs=TOL)
    assert pair.observed == pytest.approx(0.7, abs=TOL)


def test_irrcac_two_rater_table_cohen_ac1_alpha():
    # irrCAC (Gwet's R package) overview vignette, cont3x3abstractors, 100 women x 2 abstractors:
    # Cohen 0.7964094, Gwet's AC1 0.8493305, Krippendorff's alpha 0.7972585, agreement 0.89.
    # AC1 by hand: pa = 89/100; margins rows (13, 27, 60), columns (13, 24, 63);
    # pi = (26, 51, 123)/200 = (0.13, 0.255, 0.615); pe = (0.1131 + 0.189975 + 0.236775) / 2
    # = 0.269925; AC1 = (0.89 - 0.269925) / (1 - 0.269925) = 24803/29203 = 0.8493305.
    labels = ["Ectopic", "AIU", "NIU"]
    result = report(from_table([[13, 0, 0], [0, 20, 7], [0, 4, 56]], labels), resamples=0)
    assert result.pairs[0].kappa.value == pytest.approx(0.7964094, abs=TOL)
    assert result.overall.ac1.value == pytest.approx(24803 / 29203, abs=TOL)
    assert result.overall.ac1.value == pytest.approx(0.8493305, abs=TOL)
    assert result.overall.alpha.value == pytest.approx(0.7972585, abs=TOL)
    assert result.overall.observed.value == pytest.approx(0.89, abs=TOL)


# --- perfect agreement, missing data ----------------------------------------------------------

def test_perfect_agreement_with_several_labels_gives_one_everywhere():
    items = [(i % 4, {"a": label, "b": label, "c": label})
             for i, label in enumerate(LABELS[:3] * 5)]
    result = report(items, resamples=100)
    for name in ("observed", "fleiss", "alpha", "ac1"):
        coefficient = getattr(result.overall, name)
        assert coefficient.value == 1.0 and coefficient.note is None
        assert (coefficient.low, coefficient.high) == (1.0, 1.0)
    for label in LABELS[:3]:
        assert result.per_label[label].alpha.value == 1.0
        assert result.per_label[label].fleiss.value == 1.0
    assert all(pair.kappa.value == 1.0 for pair in result.pairs)
    assert result.interpretation["alpha"].band == "almost perfect"
    check_defined(result)


def test_only_one_label_used_gives_undefined_with_the_reason():
    items = [(i % 3, {"a": "claim", "b": "claim"}) for i in range(9)]
    result = report(items, resamples=100)
    assert result.overall.observed.value == 1.0
    for name in ("fleiss", "alpha", "ac1"):
        coefficient = getattr(result.overall, name)
        assert coefficient.value is None and coefficient.note == ONE_LABEL
        assert coefficient.low is None and coefficient.high is None
    assert result.pairs[0].kappa.value is None and result.pairs[0].kappa.note == ONE_LABEL
    assert result.interpretation["alpha"].band == "undefined"
    check_defined(result)
    # With the project's label set AC1 has two categories; its chance agreement is 0, so 1.0.
    with_set = report(items, labels=["claim", "other"], resamples=100)
    assert with_set.overall.ac1.value == 1.0 and with_set.overall.ac1.note == AC1_ONE_LABEL
    assert with_set.overall.alpha.value is None
    assert "'other' was not used" in with_set.per_label["other"].alpha.note
    assert "every annotation was 'claim'" in with_set.per_label["claim"].fleiss.note
    assert "neither a nor b used 'other'" in with_set.pairs[0].per_label["other"].note
    check_defined(with_set)


def test_missing_data_two_of_three_annotators_per_item():
    rng = random.Random(11)
    items = []
    for i in range(90):
        raters = rng.sample(["x", "y", "z"], 2)
        truth = rng.choice(LABELS)
        items.append((i % 9, {r: truth if rng.random() < 0.7 else rng.choice(LABELS)
                              for r in raters}))
    result = report(items, resamples=200)
    assert result.n_items == 90 and result.n_annotators == 3
    assert sum(pair.n for pair in result.pairs) == 90  # each paragraph feeds exactly one pair
    expected = krippendorff.alpha(reliability_data=reliability_matrix(items),
                                  level_of_measurement="nominal")
    assert result.overall.alpha.value == pytest.approx(expected, abs=TOL)
    table, _ = aggregate_raters([list(r.values()) for _, r in items])  # two ratings each
    assert result.overall.fleiss.value == pytest.approx(fleiss_kappa(table), abs=TOL)
    # One paragraph with all three: Fleiss' kappa becomes undefined, alpha still works.
    items.append((0, {"x": "claim", "y": "claim", "z": "other"}))
    mixed = report(items, resamples=0)
    assert mixed.overall.fleiss.value is None
    assert "Krippendorff's alpha allows missing" in mixed.overall.fleiss.note
    assert mixed.overall.alpha.value == pytest.approx(krippendorff.alpha(
        reliability_data=reliability_matrix(items), level_of_measurement="nominal"), abs=TOL)


# --- degenerate inputs ------------------------------------------------------------------------

def test_no_items():
    for items in ([], [(1, {})], [(1, {"a": "claim"}), (2, {"b": "other"})]):
        result = report(items)
        assert result.n_items == 0
        for name in ("observed", "fleiss", "alpha", "ac1"):
            coefficient = getattr(result.overall, name)
            assert coefficient.value is None and coefficient.note == NO_ITEMS
        check_defined(result)


def test_single_annotations_only_leave_a_pair_with_no_common_items():
    result = report([(1, {"a": "claim"}), (2, {"b": "other"})])
    assert result.n_single == 2 and result.n_annotators == 2
    assert result.pairs[0].n == 0 and result.pairs[0].kappa.value is None
    assert "no paragraph in common" in result.pairs[0].kappa.note
    check_defined(result)


def test_one_item():
    result = report([("art", {"a": "claim", "b": "other"})])
    assert result.overall.observed.value == 0.0
    assert result.overall.observed.low is None and ONE_ARTICLE in result.overall.observed.note
    for name in ("fleiss", "alpha", "ac1"):
        coefficient = getattr(result.overall, name)
        assert coefficient.value is None and coefficient.note == TOO_FEW_ITEMS
    kappa = result.pairs[0].kappa
    assert kappa.value is None and "only one paragraph" in kappa.note
    check_defined(result)


def test_a_pair_with_no_overlap():
    items = [(i % 5, {"a": LABELS[i % 4], "b": LABELS[(i * 7) % 4]}) for i in range(20)]
    items += [(i % 5, {"c": LABELS[i % 3], "d": LABELS[i % 4]}) for i in range(20)]
    result = report(items, resamples=50)
    by_pair = {(p.annotator_a, p.annotator_b): p for p in result.pairs}
    assert len(by_pair) == 6
    assert by_pair["a", "c"].n == 0 and by_pair["a", "c"].kappa.value is None
    assert by_pair["a", "c"].kappa.note == "a and c annotated no paragraph in common"
    assert by_pair["a", "c"].observed is None
    assert by_pair["a", "b"].kappa.value is not None and by_pair["c", "d"].n == 20
    assert result.pair("b", "a") is by_pair["a", "b"] and result.pair("a", "zz") is None
    check_defined(result)


def test_integer_annotator_ids_and_json():
    items = [(i // 4, {7: LABELS[i % 4], 12: LABELS[(i + i // 3) % 4]}) for i in range(40)]
    result = report(items, resamples=50)
    assert result.annotators == [7, 12]
    data = check_defined(result)
    assert data["pairs"][0]["annotator_a"] == 7
    assert set(data["overall"]) == {"observed", "fleiss", "alpha", "ac1"}
    assert set(data["overall"]["alpha"]) == {"value", "low", "high", "note", "resamples"}


def test_arguments_are_checked():
    with pytest.raises(ValueError):
        report([], resamples=-1)
    with pytest.raises(ValueError):
        report([], confidence=1.0)


# --- confusion matrices -----------------------------------------------------------------------

def test_confusion_matrices():
    items = [(1, {"b": "claim", "a": "other"}),
             (1, {"a": "claim", "b": "claim", "c": "evidence"}),
             (2, {"c": "claim", "a": "claim"})]
    result = report(items, resamples=0)
    ab = result.pair("a", "b")
    assert (ab.annotator_a, ab.annotator_b) == ("a", "b")  # rows are a's labels
    assert ab.confusion["other"]["claim"] == 1 and ab.confusion["claim"]["other"] == 0
    assert ab.confusion["claim"]["claim"] == 1 and ab.n == 2
    ac = result.pair("a", "c")
    assert ac.confusion["claim"]["evidence"] == 1 and ac.confusion["claim"]["claim"] == 1
    sym = result.confusion  # 5 annotator pairs on the same paragraph, each in both orders
    assert sum(map(sum, (row.values() for row in sym.values()))) == 2 * 5
    assert all(sym[x][y] == sym[y][x] for x in sym for y in sym)
    assert sym["claim"]["claim"] == 2 * 2 and sym["claim"]["evidence"] == 2
    assert sym["claim"]["other"] == 1


# --- bootstrap --------------------------------------------------------------------------------

def test_bootstrap_is_reproducible_for_a_seed():
    items = random_items(3, n_items=200, articles=30)
    first = report(items, resamples=300, seed=42).to_dict()
    assert report(items, resamples=300, seed=42).to_dict() == first
    other = report(items, resamples=300, seed=43)
    assert other.overall.alpha.low != first["overall"]["alpha"]["low"]
    assert first["bootstrap"]["resamples"] == 300 and first["bootstrap"]["articles"] == 30


def test_interval_contains_the_point_estimate():
    items = random_items(8, n_items=400, articles=40, coverage=1.0)
    result = report(items, resamples=500)
    views = [result.overall, *result.per_label.values()]
    for coefficients in views:
        for name in ("observed", "fleiss", "alpha", "ac1"):
            c = getattr(coefficients, name)
            assert c.low < c.value < c.high, (name, c)
            assert c.resamples == 500


def test_bootstrap_resamples_articles_not_paragraphs():
    # In each article the two annotators either agree on every paragraph or on none, so the
    # paragraphs of an article move together: resampling articles must give a much wider
    # interval than the same paragraphs each in an article of its own.
    rng = random.Random(5)
    clustered, loose = [], []
    for article in range(40):
        agree = article % 2 == 0
        for p in range(25):
            a = rng.choice(LABELS)
            b = a if agree else LABELS[(LABELS.index(a) + 1) % 4]
            clustered.append((article, {"a": a, "b": b}))
            loose.append((f"{article}-{p}", {"a": a, "b": b}))
    c = report(clustered, resamples=500).overall.observed
    item = report(loose, resamples=500).overall.observed
    assert c.value == item.value == 0.5
    assert c.low <= 0.5 <= c.high
    # Articles: the mean of 40 coin flips, 95% width about 4 * 0.079; paragraphs: of 1000.
    assert 0.2 < c.high - c.low < 0.45
    assert 0.03 < item.high - item.low < 0.09
    assert (c.high - c.low) > 3 * (item.high - item.low)


def test_degenerate_resamples_are_dropped_and_counted():
    # Two of three articles use one label only: a resample made of those alone has no
    # variation, so alpha is undefined there (probability (2/3)^3 = 0.30).
    items = ([("x", {"a": "claim", "b": "claim"})] * 5 + [("y", {"a": "claim", "b": "claim"})] * 5
             + [("z", {"a": "other", "b": "other"}), ("z", {"a": "other", "b": "claim"})])
    result = report(items, resamples=1000, seed=1)
    alpha = result.overall.alpha
    assert 0 < alpha.resamples < 1000
    assert 200 < 1000 - alpha.resamples < 400
    assert f"{1000 - alpha.resamples} of 1000 bootstrap resamples were degenerate" in alpha.note
    assert result.overall.observed.resamples == 1000
    check_defined(result)


def test_one_article_has_no_interval_and_zero_resamples_means_none():
    items = random_items(2, articles=1)
    result = report(items, resamples=100)
    assert result.overall.alpha.low is None and ONE_ARTICLE in result.overall.alpha.note
    plain = report(random_items(2), resamples=0)
    assert plain.overall.alpha.low is None and plain.overall.alpha.note is None
    assert plain.overall.alpha.resamples is None


def test_grouped_draws_match_plain_draws(monkeypatch):
    # Many one-paragraph articles collapse into a few kinds, drawn with a multinomial; the
    # interval must agree with drawing article by article.
    rng = random.Random(9)
    items = []
    for i in range(3000):
        a = rng.choices(LABELS, [0.5, 0.2, 0.2, 0.1])[0]
        items.append((i, {"a": a, "b": a if rng.random() < 0.75 else rng.choice(LABELS)}))
    grouped = report(items, resamples=1000, seed=3).overall
    monkeypatch.setattr(agreement, "GROUPED_DRAW_COST", 10 ** 9)
    plain = report(items, resamples=1000, seed=3).overall
    assert grouped.alpha.value == plain.alpha.value
    assert grouped.alpha.low != plain.alpha.low  # really two different samplers
    for name in ("observed", "alpha", "ac1", "fleiss"):
        g, p = getattr(grouped, name), getattr(plain, name)
        width = p.high - p.low
        assert abs(g.low - p.low) < 0.1 * width and abs(g.high - p.high) < 0.1 * width


@pytest.mark.parametrize("n, p", [(5, 0.3), (40, 0.1), (40, 0.4), (1000, 0.02), (1000, 0.3),
                                  (100000, 0.45), (60, 0.8)])
def test_binomial_sampler_has_the_binomial_distribution(n, p):
    rng = random.Random(n)
    draws = [agreement._binomial(rng, n, p) for _ in range(20000)]
    assert min(draws) >= 0 and max(draws) <= n
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    assert abs(statistics.fmean(draws) - mean) < 4 * sd / math.sqrt(len(draws))
    assert statistics.pvariance(draws) == pytest.approx(sd * sd, rel=0.05)
    if n <= 1000:  # chi-square against the exact probabilities, tails pooled
        counts = Counter(draws)
        lo, hi = int(stats.binom.ppf(0.001, n, p)), int(stats.binom.ppf(0.999, n, p))
        observed = [sum(v for k, v in counts.items() if k <= lo),
                    *(counts[k] for k in range(lo + 1, hi)),
                    sum(v for k, v in counts.items() if k >= hi)]
        probs = [stats.binom.cdf(lo, n, p), *(stats.binom.pmf(k, n, p) for k in range(lo + 1, hi)),
                 stats.binom.sf(hi - 1, n, p)]
        expected = [q * len(draws) for q in probs]
        assert stats.chisquare(observed, expected).pvalue > 0.001


def test_multinomial_sums_to_n():
    rng = random.Random(1)
    for _ in range(200):
        weights = [rng.randint(1, 9) for _ in range(rng.randint(1, 12))]
        assert sum(agreement._multinomial(rng, 500, weights)) == 500


# --- interpretation ---------------------------------------------------------------------------

def test_interpret_bands_and_the_kappa_paradox():
    assert [interpret(v).band for v in (-0.1, 0.0, 0.2, 0.21, 0.4, 0.5, 0.6, 0.7, 0.8, 0.81,
                                        1.0)] == [
        "poor", "slight", "slight", "fair", "fair", "moderate", "moderate", "substantial",
        "substantial", "almost perfect", "almost perfect"]
    assert interpret(None).band == "undefined"
    assert interpret(0.75, observed=0.9).note is None
    paradox = interpret(0.2, observed=0.95)
    assert paradox.band == "slight" and "kappa paradox" in paradox.note and "AC1" in paradox.note


def test_skewed_labels_show_the_paradox_in_the_report():
    # Almost every paragraph is boilerplate for both annotators; they rarely agree on a claim.
    items = [(i % 20, {"a": "boilerplate", "b": "boilerplate"}) for i in range(190)]
    items += [(i % 20, {"a": "claim", "b": "boilerplate"}) for i in range(5)]
    items += [(i % 20, {"a": "boilerplate", "b": "claim"}) for i in range(4)]
    items += [(0, {"a": "claim", "b": "claim"})]
    result = report(items, resamples=0)
    assert result.overall.observed.value == pytest.approx(0.955)
    assert result.overall.alpha.value < 0.4 < 0.9 < result.overall.ac1.value
    assert "kappa paradox" in result.interpretation["alpha"].note
    assert result.interpretation["ac1"].band == "almost perfect"


# --- size -------------------------------------------------------------------------------------

def test_performance_100k_paragraphs_two_annotators():
    rng = random.Random(0)
    items = []
    for i in range(100_000):
        a = rng.choices(LABELS, [0.2, 0.2, 0.5, 0.1])[0]
        b = a if rng.random() < 0.8 else rng.choices(LABELS, [0.2, 0.2, 0.5, 0.1])[0]
        items.append((i // 20, {"alice": a, "bob": b}))
    start = time.perf_counter()
    result = report(items, resamples=200)
    elapsed = time.perf_counter() - start
    print(f"\n100k paragraphs x 2 annotators, 5,000 articles, 200 resamples: {elapsed:.2f} s")
    assert result.n_items == 100_000 and result.overall.alpha.resamples == 200
    assert result.overall.alpha.low < result.overall.alpha.value < result.overall.alpha.high
    assert elapsed < 60

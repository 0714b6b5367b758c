"""Span and link agreement (issue 12): hand-computed F1s, Krippendorff's unitized alpha against
his published worked examples, CJK and emoji offsets, links matched through overlapping spans,
and the figures on the agreement page and in `flask agreement --json`."""
from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import event, select

from annotator.extensions import db
from annotator.models import Article, Link, Paragraph, Project, Span
from annotator.services.annotations import set_annotation
from annotator.services.importing import Source, import_sources
from annotator.services.span_agreement import (
    SpanData, measure, pooled_alpha, project_span_agreement, unitized_alpha)
from annotator.services.users import create_user

from helpers import PASSWORD, jsonl, login

XSS = "<b>x</b>"


def _project(session, paragraphs: list[str], annotators=("li", "bo")) -> tuple[Project, list, dict]:
    """A project "spans" with one article of `paragraphs`, the annotators and an admin "boss"."""
    report = import_sources(session, "spans", [Source("s.jsonl", jsonl(
        [{"id": "a1", "title": "Spans", "paragraphs": paragraphs}]), "jsonl")])
    assert report.stored, report.errors
    project = session.scalar(select(Project).where(Project.name == "spans"))
    rows = session.scalars(select(Paragraph).join(Article).where(Article.project_id == project.id)
                           .order_by(Paragraph.index)).all()
    users = {name: create_user(session, name, PASSWORD).id for name in annotators}
    create_user(session, "boss", PASSWORD, "admin")
    return project, rows, users


def _span(session, paragraph, user: int, start: int, end: int, label: str = "claim", *,
          source: str = "human", gold: bool = False) -> Span:
    span = Span(paragraph_id=paragraph.id, user_id=user, start=start, end=end, label=label,
                source=source, gold=gold)
    session.add(span)
    session.flush()
    return span


def _link(session, article_id: int, user: int, source, target, relation="supports") -> None:
    ends = {}
    for side, end in (("from", source), ("to", target)):
        ends[f"{side}_{'span' if isinstance(end, Span) else 'paragraph'}_id"] = end.id
    session.add(Link(article_id=article_id, user_id=user, relation=relation, **ends))
    session.flush()


def _f1(measured) -> tuple:
    return measured.marked, measured.matched, measured.f1


# --- unitized alpha against Krippendorff's published examples --------------------------------

def test_unitized_alpha_reproduces_krippendorff_2004_worked_example():
    """Krippendorff (2004), Content Analysis, 2nd ed., p. 254: two observers i and j unitize a
    continuum from 150 to 450 (L = 300) into categories c and k (here shifted to start at 0).
    The book's figures (as transcribed in DKPro Statistics' Krippendorff2004Test): for c,
    observed 0.0144, expected 0.0532, alpha 0.7286; for k, observed 0, expected 0.0490,
    alpha 1; overall 1 - (0.0144 + 0) / (0.0532 + 0.0490) = 0.8591 (from the rounded figures;
    unrounded 0.8587).

    Observed for c by hand: i's [225,295) meets j's [220,300): 5² + 5² = 50; i's [370,400)
    meets j's [355,375): 15² + 25² = 850; j's [400,420) lies in i's gap [400,450): 20² = 400;
    (50 + 850 + 400) / 300² = 0.01444."""
    b = 150
    c = unitized_alpha(300, [(225 - b, 295 - b), (370 - b, 400 - b)],
                       [(220 - b, 300 - b), (355 - b, 375 - b), (400 - b, 420 - b)])
    k = unitized_alpha(300, [(180 - b, 240 - b), (300 - b, 350 - b)],
                       [(180 - b, 240 - b), (300 - b, 350 - b)])
    assert c.observed == pytest.approx(1300 / 90000)
    assert (round(c.observed, 4), round(c.expected, 4), round(c.value, 4)) == (
        0.0144, 0.0532, 0.7286)
    assert (k.observed, round(k.expected, 4), k.value) == (0.0, 0.0490, 1.0)
    assert pooled_alpha([c, k]).value == pytest.approx(0.8591, abs=0.0005)


def test_unitized_alpha_observed_disagreement_matches_krippendorff_1995():
    """Krippendorff (1995), On the reliability of unitizing contiguous data, p. 57: four pairs
    of observers on a continuum of 24; the observed disagreements 0.03125, 2.26736, 0.02777,
    0.38715 (his expected ones came from an earlier formula, so only these are compared).
    B by hand: John's [0,18) meets each of Jill's seven units: 16² + (2²+15²) + (3²+14²) +
    (4²+13²) + (5²+12²) + (6²+9²) + (9²+8²) = 1306, / 24² = 2.26736."""
    pairs = {
        0.03125: ([(2, 10), (14, 20)], [(4, 8), (15, 17)]),
        2.26736: ([(0, 18)], [(0, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 9), (9, 10)]),
        0.02777: ([(2, 8), (10, 12), (14, 18), (20, 22)],
                  [(0, 2), (4, 8), (10, 14), (16, 18), (20, 22)]),
        0.38715: ([(0, 2), (2, 10), (10, 14), (14, 20), (20, 24)],
                  [(0, 4), (4, 8), (8, 15), (15, 17), (17, 24)]),
    }
    for published, (a, b) in pairs.items():
        assert unitized_alpha(24, a, b).observed == pytest.approx(published, abs=1e-5)


def test_unitized_alpha_of_a_small_case_by_hand():
    """L = 10, a marks [0,4), b marks [2,6). Observed: (0-2)² + (4-6)² = 8, / 10² = 0.08.
    Expected: units 4 and 4 (N = 2); gaps: a's [4,10) = 6, b's [0,2) = 2 and [6,10) = 4.
    Per unit: (N-1)(2·4³ - 3·4² + 4)/3 = 28, plus 4² · ((4-4+1) + (6-4+1)) = 64: 92;
    twice: 184.
    Denominator: 2·10·(2·10 - 1) - 2·4·3 = 356. Expected = (2/10) · 184/356 = 0.103371;
    alpha = 1 - 0.08/0.103371 = 0.226087. Nothing marked: no alpha."""
    alpha = unitized_alpha(10, [(0, 4)], [(2, 6)])
    assert alpha.observed == pytest.approx(0.08)
    assert alpha.expected == pytest.approx(0.2 * 184 / 356)
    assert alpha.value == pytest.approx(1 - 0.08 / (0.2 * 184 / 356))
    assert unitized_alpha(10, [(0, 4)], [(0, 4)]).value == 1.0
    assert unitized_alpha(10, [], []).value is None


def _random_spans(rng: random.Random, length: int, first_id: int) -> list[tuple]:
    """Spans as an annotator may mark them: per label, none overlapping another."""
    spans = []
    for label in ("claim", "evidence"):
        at = rng.randrange(3)
        while at < length - 1 and rng.random() < 0.7:
            end = min(length, at + rng.randrange(1, 6))
            spans.append((first_id + len(spans), at, end, label))
            at = end + rng.randrange(0, 4)
    return spans


@pytest.mark.parametrize("seed", range(20))
def test_char_and_exact_f1_equal_counting_characters_and_spans_one_by_one(seed):
    """On random spans (one span each or several), the character F1 equals 2|A ∩ B| / (|A| +
    |B|) over the sets of (paragraph, label, character), the exact F1 the same over the sets of
    (paragraph, start, end, label), and the overlap matching pairs no span twice."""
    rng = random.Random(seed)
    lengths = {p: rng.randrange(1, 30) for p in range(8)}
    spans = {name: {} for name in ("a", "b")}
    for n, name in enumerate(spans):
        for p, length in lengths.items():
            if rng.random() < 0.8:
                spans[name][p] = _random_spans(rng, length, 1000 * (10 * n + p))
    seen = {name: set(lengths) for name in spans}
    (pair,) = measure(SpanData(seen, spans, {}, lengths, {}), labels=["claim", "evidence"]).pairs

    def characters(name):
        return {(p, u[3], i) for p, units in spans[name].items() for u in units
                for i in range(u[1], u[2])}

    def exact(name):
        return {(p, u[1], u[2], u[3]) for p, units in spans[name].items() for u in units}

    for counted, found in ((characters, pair.all.char), (exact, pair.all.exact)):
        a, b = counted("a"), counted("b")
        assert (found.marked, found.matched) == (len(a) + len(b), len(a & b))
    marked = sum(len(units) for by in spans.values() for units in by.values())
    assert pair.all.overlap.marked == marked and 2 * pair.all.overlap.matched <= marked


# --- spans from the database ------------------------------------------------------------------

def test_char_exact_and_overlap_f1_by_hand(session):
    """li marks claim [0,4), bo claim [2,6): characters 2 shared of 4 + 4: char F1 = 2·2/8 = 0.5;
    no span the same: exact F1 0; the two overlap: overlap F1 = 2·1/2 = 1."""
    project, (p,), users = _project(session, ["abcdefghij"])
    _span(session, p, users["li"], 0, 4)
    _span(session, p, users["bo"], 2, 6)
    session.commit()
    result = project_span_agreement(session, project)
    (pair,) = result.pairs
    claim = pair.per_label["claim"]
    assert (pair.annotator_a, pair.annotator_b, pair.paragraphs) == ("bo", "li", 1)
    assert (_f1(claim.char), _f1(claim.exact), _f1(claim.overlap)) == (
        (8, 2, 0.5), (2, 0, 0.0), (2, 1, 1.0))
    assert claim.alpha_u.value == pytest.approx(unitized_alpha(10, [(0, 4)], [(2, 6)]).value)
    assert pair.per_label["evidence"].char.f1 is None  # neither marked evidence
    assert result.per_label["claim"] == claim.__class__(claim.char, claim.exact, claim.overlap)
    assert result.labels == ["claim", "evidence"] and result.annotators == ["bo", "li"]


def test_only_paragraphs_both_saw_count_and_overlap_is_one_to_one(session):
    """Three paragraphs of 20 characters.
    p0: li claim [0,10) and [12,16); bo claim [0,14) (both saw it).
        char: li 14, bo 14, shared 10 + 2 = 12; exact: 0 of 3; overlap: bo's [0,14) overlaps
        li's [0,10) by 10 and [12,16) by 2: paired with the larger, 1 pair of 3 spans.
    p1: li evidence [5,9); bo only labeled p1 (it saw it, marked nothing): 4 + 0 characters, 0
        shared; 1 span, 0 matched.
    p2: li claim [0,5), bo never saw p2: not compared.
    claim: char 2·12/28 = 0.857; exact 0/3 = 0; overlap 2·1/3 = 0.667.
    evidence: char 0/4 = 0, exact 0, overlap 0.
    all labels: char 2·12/32 = 0.75; exact 0/4; overlap 2·1/4 = 0.5."""
    project, (p0, p1, p2), users = _project(session, ["x" * 20] * 3)
    li, bo = users["li"], users["bo"]
    _span(session, p0, li, 0, 10)
    _span(session, p0, li, 12, 16)
    _span(session, p0, bo, 0, 14)
    _span(session, p1, li, 5, 9, "evidence")
    _span(session, p2, li, 0, 5)
    _span(session, p0, users["li"], 0, 20, gold=True)  # gold rows never count
    session.commit()
    set_annotation(session, p1, bo, "claim")
    set_annotation(session, p1, li, "evidence")
    (pair,) = project_span_agreement(session, project).pairs
    claim, evidence = pair.per_label["claim"], pair.per_label["evidence"]
    assert pair.paragraphs == 2
    assert (_f1(claim.char)[:2], _f1(claim.exact), _f1(claim.overlap)[:2]) == (
        (28, 12), (3, 0, 0.0), (3, 1))
    assert claim.char.f1 == pytest.approx(24 / 28) and claim.overlap.f1 == pytest.approx(2 / 3)
    assert (_f1(evidence.char), _f1(evidence.overlap)) == ((4, 0, 0.0), (1, 0, 0.0))
    assert (_f1(pair.all.char), _f1(pair.all.exact), _f1(pair.all.overlap)) == (
        (32, 12, 0.75), (4, 0, 0.0), (4, 1, 0.5))
    # the continuum is p0 and p1 end to end (40 characters), p2 left out
    assert claim.alpha_u.length == 40
    assert claim.alpha_u.value == pytest.approx(
        unitized_alpha(40, [(0, 10), (12, 16)], [(0, 14)]).value)


def test_three_annotators_pool_their_pairs(session):
    """p0 of 10 characters: li [0,4), bo [0,4), ann [2,6), all claim.
    Pairs: ann/bo: char 2·2/8, ann/li: the same, bo/li: 2·4/8 = 1. Pooled: marked 24, shared
    2 + 2 + 4 = 8: char F1 = 16/24 = 0.667; exact: 0 + 0 + 1 of 6 spans: 2/6 = 0.333."""
    project, (p,), users = _project(session, ["0123456789"], annotators=("li", "bo", "ann"))
    _span(session, p, users["li"], 0, 4)
    _span(session, p, users["bo"], 0, 4)
    _span(session, p, users["ann"], 2, 6)
    session.commit()
    result = project_span_agreement(session, project)
    assert [(x.annotator_a, x.annotator_b, x.per_label["claim"].char.f1) for x in result.pairs] == [
        ("ann", "bo", 0.5), ("ann", "li", 0.5), ("bo", "li", 1.0)]
    assert _f1(result.per_label["claim"].char)[:2] == (24, 8)
    assert result.per_label["claim"].char.f1 == pytest.approx(2 / 3)
    assert result.per_label["claim"].exact.f1 == pytest.approx(1 / 3)
    assert result.per_label["claim"].alpha_u is None  # alpha per pair only
    assert result.paragraphs == 1


def test_offsets_count_code_points_in_cjk_and_emoji(session):
    """"👩‍💻写代码。🇨🇳中文𠀀" is 3 (woman, ZWJ, laptop) + 4 + 2 (two regional
    indicators) + 2 + 1 (CJK Extension B) = 12 code points. li marks the emoji and 写代码
    [0,6) as claim, bo the sentence from 写 [3,7): 3 shared of 6 + 4: char F1 = 6/10 = 0.6.
    Evidence: li [7,12), bo [9,12) (中文𠀀): 3 shared of 5 + 3: 6/8 = 0.75. The continuum is
    12 long on every database (SQL length() counts code points, as Python's len does)."""
    text = "👩\u200d💻写代码。🇨🇳中文𠀀"
    assert len(text) == 12 and text[3:7] == "写代码。" and text[9:12] == "中文𠀀"
    project, (p,), users = _project(session, [text])
    _span(session, p, users["li"], 0, 6)
    _span(session, p, users["bo"], 3, 7)
    _span(session, p, users["li"], 7, 12, "evidence")
    _span(session, p, users["bo"], 9, 12, "evidence")
    session.commit()
    (pair,) = project_span_agreement(session, project).pairs
    assert _f1(pair.per_label["claim"].char) == (10, 3, 0.6)
    assert _f1(pair.per_label["evidence"].char) == (8, 3, 0.75)
    assert pair.per_label["claim"].alpha_u.length == 12
    assert pair.per_label["claim"].alpha_u.value == pytest.approx(
        unitized_alpha(12, [(3, 7)], [(0, 6)]).value)


def test_suggested_spans_are_left_out_by_default(session):
    """bo's pre-marked (suggested) claim [0,4) is not bo's work: by default li's [0,4) meets
    nothing (char F1 0 of 4); with every span counted it matches exactly (F1 1)."""
    project, (p,), users = _project(session, ["abcdefghij"])
    _span(session, p, users["li"], 0, 4)
    _span(session, p, users["bo"], 0, 4, source="suggestion")
    session.commit()
    set_annotation(session, p, users["bo"], "claim")
    human = project_span_agreement(session, project)
    assert human.human_only and human.suggestions_left_out == 1
    assert _f1(human.pairs[0].per_label["claim"].char) == (4, 0, 0.0)
    every = project_span_agreement(session, project, human_only=False)
    assert every.suggestions_left_out == 0 and every.pairs[0].per_label["claim"].exact.f1 == 1.0


# --- links ------------------------------------------------------------------------------------

def test_link_f1_matches_span_ends_by_overlap(session):
    """p0 (claim paragraph), p1 (evidence paragraph), 20 characters each.
    li: claim [0,10) in p0, evidence [0,5) in p1; links evidence -> claim (supports) and
        p1 -> p0 (supports).
    bo: claim [2,12) and [15,18) in p0, evidence [1,6) in p1; links evidence -> claim [2,12)
        (supports), p1 -> p0 (attacks), evidence -> claim [15,18) (supports).
    Overlap pairs: li's claim with bo's [2,12) (8 characters; [15,18) overlaps nothing), the
    evidence spans. li's span link carries over to bo's first link: matched; the paragraph
    links differ in relation: not matched; bo's third link goes to a claim li never marked.
    Links: li 2 + bo 3 = 5 marked, 1 matched: F1 = 2/5 = 0.4; supports: 2 + 2 = 4, 1 matched:
    0.5; attacks: 0 + 1, 0 matched: 0."""
    project, (p0, p1), users = _project(session, ["c" * 20, "e" * 20])
    li, bo = users["li"], users["bo"]
    article = p0.article_id
    li_claim, li_evidence = _span(session, p0, li, 0, 10), _span(session, p1, li, 0, 5, "evidence")
    bo_claim = _span(session, p0, bo, 2, 12)
    bo_other = _span(session, p0, bo, 15, 18)
    bo_evidence = _span(session, p1, bo, 1, 6, "evidence")
    _link(session, article, li, li_evidence, li_claim)
    _link(session, article, li, p1, p0)
    _link(session, article, bo, bo_evidence, bo_claim)
    _link(session, article, bo, p1, p0, "attacks")
    _link(session, article, bo, bo_evidence, bo_other)
    session.commit()
    result = project_span_agreement(session, project)
    links = result.pairs[0].links
    assert _f1(links.all) == (5, 1, 0.4)
    assert _f1(links.per_relation["supports"]) == (4, 1, 0.5)
    assert _f1(links.per_relation["attacks"]) == (1, 0, 0.0)
    assert result.links == links and result.relations == ["supports", "attacks"]


def test_links_into_paragraphs_the_other_did_not_see_are_not_compared(session):
    """li links p1 -> p0 and p2 -> p0; bo saw p0 and p1 only (labeled them) and links p1 -> p0.
    Only links between paragraphs both saw count: 1 + 1 marked, 1 matched: F1 1."""
    project, (p0, p1, p2), users = _project(session, ["a", "b", "c"])
    li, bo = users["li"], users["bo"]
    for p in (p0, p1, p2):
        set_annotation(session, p, li, "claim")
    for p in (p0, p1):
        set_annotation(session, p, bo, "claim")
    _link(session, p0.article_id, li, p1, p0)
    _link(session, p0.article_id, li, p2, p0)
    _link(session, p0.article_id, bo, p1, p0)
    session.commit()
    (pair,) = project_span_agreement(session, project).pairs
    assert pair.paragraphs == 2 and _f1(pair.links.all) == (2, 1, 1.0)
    assert pair.all.char.f1 is None  # no spans at all


def test_span_agreement_reads_a_bounded_number_of_queries(app, session):
    """Spans, links, labels, lengths and names: five statements for 40 paragraphs as for 4."""
    project, rows, users = _project(session, [f"paragraph {n} text" for n in range(40)])
    for n, p in enumerate(rows):
        _span(session, p, users["li"], 0, 9)
        _span(session, p, users["bo"], n % 5, 12, "evidence" if n % 3 else "claim")
        _link(session, p.article_id, users["li"], p, rows[0])
    session.commit()
    assert project.span_labels and project.relations  # loaded: the project is not counted
    statements = []

    def listener(connection, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        result = project_span_agreement(session, project)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert result.pairs[0].paragraphs == 40
    assert len(statements) <= 5, statements


# --- the page and the command -----------------------------------------------------------------

@pytest.fixture
def marked(app):
    """The by-hand example of test_char_exact_and_overlap_f1_by_hand, with an annotator whose
    name needs escaping, and a link each."""
    with app.app_context():
        project, (p0, p1), users = _project(db.session, ["abcdefghij", "第二段"],
                                            annotators=("li", XSS))
        claim = _span(db.session, p0, users["li"], 0, 4)
        other = _span(db.session, p0, users[XSS], 2, 6)
        _span(db.session, p1, users[XSS], 0, 3, "evidence", source="suggestion")
        _link(db.session, p0.article_id, users["li"], p1, claim)
        _link(db.session, p0.article_id, users[XSS], p1, other)
        set_annotation(db.session, p1, users["li"], "evidence")
        set_annotation(db.session, p1, users[XSS], "evidence")
        db.session.commit()
        return project.id


def test_the_agreement_page_shows_span_and_link_agreement(client, marked):
    login(client, "boss")
    page = client.get(f"/admin/projects/{marked}/agreement?resamples=0")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for shown in ('id="spans-claim-heading"', 'id="spans-evidence-heading"',
                  'id="spans-all-heading"', 'id="links-heading"', "Character F1", "Exact F1",
                  "Overlap F1", "Krippendorff", "0.500", "1.000", "2 / 8", "1 / 2",
                  "Human spans only", "1 suggested span left out"):
        assert shown in html, shown
    assert XSS not in html and "&lt;b&gt;x&lt;/b&gt; / li" in html
    assert "style=" not in html


def test_the_page_says_nothing_of_spans_without_any(app, client):
    with app.app_context():
        project_id = _project(db.session, ["one"])[0].id
        db.session.commit()
    login(client, "boss")
    html = client.get(f"/admin/projects/{project_id}/agreement").get_data(as_text=True)
    assert "Nothing to compare yet" in html and 'id="links-heading"' not in html


def test_agreement_json_carries_span_agreement(app, runner, marked):
    result = runner.invoke(args=["agreement", "--project", "spans", "--json", "--resamples", "0"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["human_only"] is False and "overall" in printed and "pairs" in printed
    spans = printed["spans"]
    with app.app_context():
        project = db.session.get(Project, marked)
        assert spans == json.loads(json.dumps(project_span_agreement(db.session, project)
                                              .to_dict(), ensure_ascii=False))
    (pair,) = spans["pairs"]
    assert pair["per_label"]["claim"]["char"] == {"marked": 8, "matched": 2, "f1": 0.5}
    assert pair["links"]["all"] == {"marked": 2, "matched": 1, "f1": 1.0}
    assert spans["human_only"] is True and spans["suggestions_left_out"] == 1

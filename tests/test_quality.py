"""Each annotator's quality (services/quality.py): figures against hand-computed values, tiny
counts, the flag, the CLI's JSON and text, the Quality page's access and escaping."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest
from helpers import PASSWORD, jsonl, login
from sqlalchemy import delete, select, update

from annotator.extensions import db
from annotator.models import Annotation, Article, Paragraph, Project, Suggestion
from annotator.services.annotations import save_annotation, set_gold
from annotator.services.importing import Source, import_sources
from annotator.services.members import set_members
from annotator.services.quality import Row, measure, project_quality, wilson
from annotator.services.users import create_user

XSS = "<script>x</script>"
Z = 1.959963984540054
START = datetime(2026, 11, 30, 9, 0, 0)

# Eight paragraphs in two articles (A: p0-p3, B: p4-p7); gold on p0-p5.
GOLD = ["claim", "claim", "evidence", "other", "claim", "evidence"]
LABELS = {  # annie is right on all 6 gold paragraphs, bobby on 5 (p5), XSS on none
    "annie": ["claim", "claim", "evidence", "other", "claim", "evidence", "other", "other"],
    "bobby": ["claim", "claim", "evidence", "other", "claim", "claim", "other", "other"],
    XSS: ["evidence", "evidence", "claim", "claim", "other", "claim"],
}
# annie's first labels, in seconds from START: gaps in A 10, 20 and a 1,970 s break; in B
# 15, 5, 20; so 5 gaps, median 15, 1 break.
ANNIE_SECONDS = [0, 10, 30, 2000, 5000, 5015, 5020, 5040]


def _build(session) -> dict:
    records = [{"id": name, "title": f"Article {name}",
                "paragraphs": [f"{name}{i} text" for i in range(4)]} for name in ("A", "B")]
    report = import_sources(session, "q", [Source("q.jsonl", jsonl(records), "jsonl")])
    assert report.stored, report.errors
    project = session.scalar(select(Project).where(Project.name == "q"))
    users = {name: create_user(session, name, PASSWORD).id for name in LABELS}
    users["boss"] = create_user(session, "boss", PASSWORD, "admin").id
    users["rita"] = create_user(session, "rita", PASSWORD, "reviewer").id
    paragraphs = session.scalars(select(Paragraph).join(Article)
                                 .where(Article.project_id == project.id)
                                 .order_by(Article.id, Paragraph.index)).all()
    # suggestions on p6 ("other") and p7 ("claim"): annie accepts p6's and overrides p7's;
    # bobby types p6's by hand and overrides p7's
    session.execute(delete(Suggestion))  # the import's cold suggestions: ours instead
    session.add_all([Suggestion(paragraph_id=paragraphs[6].id, label="other", confidence=0.9,
                                model="signals"),
                     Suggestion(paragraph_id=paragraphs[7].id, label="claim", confidence=0.9,
                                model="signals")])
    session.commit()
    for name, labels in LABELS.items():
        for index, label in enumerate(labels):
            source = "suggestion" if name == "annie" and index == 6 else "human"
            save_annotation(session, paragraphs[index].id, users[name], label, source=source)
    for paragraph, label in zip(paragraphs, GOLD):
        set_gold(session, paragraph, label, users["boss"])
    for paragraph, seconds in zip(paragraphs, ANNIE_SECONDS):
        session.execute(update(Annotation).where(
            Annotation.paragraph_id == paragraph.id, Annotation.user_id == users["annie"])
            .values(created_at=START + timedelta(seconds=seconds)))
    session.commit()
    return {"project": project.id, "users": users}


@pytest.fixture
def built(app):
    with app.app_context():
        return _build(db.session)


@pytest.fixture
def result(app, built):
    with app.app_context():
        return project_quality(db.session, db.session.get(Project, built["project"]))


def _close(value, expected):
    return value == pytest.approx(expected, abs=1e-9)


def test_wilson_against_the_formula():
    # 5 of 6: p = 5/6; center (p + z^2/12) / (1 + z^2/6); half z sqrt(p(1-p)/6 + z^2/144) / (..)
    p, scale = 5 / 6, 1 + Z * Z / 6
    center = (p + Z * Z / 12) / scale
    half = Z * math.sqrt(p * (1 - p) / 6 + Z * Z / 144) / scale
    rate = wilson(5, 6)
    assert (rate.hits, rate.n, rate.value) == (5, 6, p)
    assert _close(rate.low, center - half) and _close(rate.high, center + half)
    assert round(rate.low, 4) == 0.4365 and round(rate.high, 4) == 0.9699
    one = wilson(1, 1)  # n = 1: (1 + z^2/2) / (1 + z^2) -+ z sqrt(z^2/4) / (1 + z^2)
    assert round(one.low, 4) == 0.2065 and one.high == 1.0
    assert wilson(0, 0) == wilson(0, 0).__class__(0, 0, None, None, None)


def test_accuracy_and_kappa_against_gold(result):
    by_name = {a.username: a for a in result.annotators}
    assert [a.username for a in result.annotators] == [XSS, "annie", "bobby"]
    assert result.gold_paragraphs == 6
    annie, bobby, xss = by_name["annie"], by_name["bobby"], by_name[XSS]
    assert (annie.accuracy.hits, annie.accuracy.n) == (6, 6)
    assert (bobby.accuracy.hits, bobby.accuracy.n, bobby.accuracy.value) == (5, 6, 5 / 6)
    assert (xss.accuracy.hits, xss.accuracy.n) == (0, 6)
    # bobby vs gold: gold claim 3 (bobby claim 3), evidence 2 (evidence 1, claim 1), other 1.
    # n 6, agree 5; gold rows 3/2/1, bobby columns claim 4, evidence 1, other 1;
    # chance = 3*4 + 2*1 + 1*1 = 15; kappa = (6*5 - 15) / (36 - 15) = 15/21
    assert _close(bobby.kappa.value, 15 / 21) and bobby.kappa.n == 6
    po, pe = 5 / 6, 15 / 36
    se = math.sqrt(po * (1 - po) / (6 * (1 - pe) ** 2))
    assert _close(bobby.kappa.low, 15 / 21 - Z * se)
    assert bobby.kappa.high == 1.0  # 15/21 + 1.96 se = 1.23, clipped
    assert annie.kappa.value == 1.0 and annie.kappa.low == annie.kappa.high == 1.0


def test_per_label_precision_and_recall(result):
    bobby = next(a for a in result.annotators if a.username == "bobby")
    scores = {s.label: s for s in bobby.per_label}
    assert set(scores) == {"claim", "evidence", "other"}  # boilerplate: used by neither
    # claim: bobby used it on p0, p1, p4, p5 (3 right); gold claim on p0, p1, p4
    assert (scores["claim"].precision.hits, scores["claim"].precision.n) == (3, 4)
    assert (scores["claim"].recall.hits, scores["claim"].recall.n) == (3, 3)
    assert (scores["evidence"].precision.hits, scores["evidence"].precision.n) == (1, 1)
    assert (scores["evidence"].recall.hits, scores["evidence"].recall.n) == (1, 2)


def test_agreement_with_the_others(result):
    by_name = {a.username: a for a in result.annotators}
    annie = by_name["annie"]
    # annie-bobby: 8 shared, 7 agree (not p5); annie-XSS: 6 shared, 0 agree
    assert (annie.agreement.hits, annie.agreement.n) == (7, 14)
    # bobby-XSS: 6 shared, 1 agree (p5 claim)
    assert (by_name["bobby"].agreement.hits, by_name["bobby"].agreement.n) == (8, 14)
    assert (by_name[XSS].agreement.hits, by_name[XSS].agreement.n) == (1, 12)
    peers = {p.username: p for p in annie.peers}
    # annie rows claim 3, evidence 2, other 3; bobby claim 4, evidence 1, other 3:
    # chance = 12 + 2 + 9 = 23; kappa = (8*7 - 23) / (64 - 23) = 33/41
    assert peers["bobby"].n == 8 and _close(peers["bobby"].kappa, 33 / 41)
    assert peers[XSS].observed == 0.0


def test_time_per_paragraph_and_suggestions(result):
    by_name = {a.username: a for a in result.annotators}
    annie, bobby = by_name["annie"], by_name["bobby"]
    assert (annie.time.median_seconds, annie.time.gaps, annie.time.breaks) == (15, 5, 1)
    assert (annie.suggestions.suggested, annie.suggestions.accepted,
            annie.suggestions.confirmed, annie.suggestions.overridden) == (2, 1, 0, 1)
    assert (bobby.suggestions.suggested, bobby.suggestions.accepted,
            bobby.suggestions.confirmed, bobby.suggestions.overridden) == (2, 0, 1, 1)
    assert by_name[XSS].suggestions.suggested == 0
    assert by_name[XSS].suggestions.accepted_share.value is None


def test_the_one_far_below_is_flagged_with_the_evidence(result):
    by_name = {a.username: a for a in result.annotators}
    assert by_name["annie"].flags == [] and by_name["bobby"].flags == []
    # XSS: 0 of 6, Wilson upper bound 0.390 < median(1.0, 0.833) = 0.917
    [flag] = by_name[XSS].flags
    assert "0 of 6" in flag and "39%" in flag and "2 others" in flag and "92%" in flag


def _row(paragraph, user, label, version=None, article=1, at=None):
    return Row(paragraph, article, user, label, "human", at, version)


def test_tiny_counts_give_no_division_by_zero():
    names = {1: "one", 2: "none"}
    rows = [_row(10, 1, "claim", at=START), _row(11, 2, "claim")]
    result = measure(rows, {10: "claim"}, {}, names, labels=["claim", "other"])
    one, none = result.annotators[1], result.annotators[0]
    assert one.username == "one"
    assert (one.accuracy.hits, one.accuracy.n, one.accuracy.value) == (1, 1, 1.0)
    assert round(one.accuracy.low, 4) == 0.2065 and one.accuracy.high == 1.0
    assert one.kappa.value is None and "only one paragraph" in one.kappa.note
    assert one.time.median_seconds is None and one.time.gaps == 0
    assert none.accuracy == wilson(0, 0) and none.kappa.value is None
    assert none.agreement.n == 0 and none.agreement_kappa is None and none.peers == []
    assert all(not a.flags for a in result.annotators)
    empty = measure([], {}, {}, {}, labels=["claim"])
    assert empty.annotators == [] and empty.gold_paragraphs == 0


def test_per_guideline_version():
    gold = {1: "claim", 2: "claim", 3: "other"}
    rows = [_row(1, 7, "claim", 1), _row(2, 7, "other", 1), _row(3, 7, "other", 2),
            _row(4, 7, "other", 2)]  # paragraph 4 has no gold: not counted
    [annotator] = measure(rows, gold, {}, {7: "v"}, labels=["claim", "other"]).annotators
    assert {v: (r.hits, r.n) for v, r in annotator.per_version.items()} == {1: (1, 2), 2: (1, 1)}


def test_the_json_shape_and_the_text_table(runner, built):
    printed = runner.invoke(args=["quality", "--project", "q", "--json"])
    assert printed.exit_code == 0, printed.output
    data = json.loads(printed.output)
    assert set(data) == {"project", "gold_paragraphs", "labels", "annotators", "method"}
    annie = next(a for a in data["annotators"] if a["username"] == "annie")
    assert set(annie["accuracy"]) == {"hits", "n", "value", "low", "high"}
    assert annie["accuracy"]["n"] == 6 and annie["time"]["median_seconds"] == 15
    assert {"per_label", "per_version", "peers", "suggestions", "flags", "kappa"} <= set(annie)
    text = runner.invoke(args=["quality", "--project", "q"])
    assert text.exit_code == 0 and "| bobby | 8 | 0.833 [" in text.output
    assert "Flagged:" in text.output and f"- {XSS}: accuracy against gold 0%" in text.output
    missing = runner.invoke(args=["quality", "--project", "nope"])
    assert missing.exit_code == 1 and "no project named 'nope'" in missing.output


def test_admins_see_everyone_escaped(client, built):
    login(client, "boss")
    pid = built["project"]
    html = client.get(f"/projects/{pid}/quality").get_data(as_text=True)
    assert "annie" in html and "bobby" in html and "⚑" in html
    assert XSS not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert f'href="/projects/{pid}/quality"' in client.get(
        f"/admin/projects/{pid}/dashboard").get_data(as_text=True)  # linked from the nav
    one = client.get(f"/projects/{pid}/quality?user={built['users']['bobby']}")
    assert one.status_code == 200
    assert "Agreement with each other annotator" in one.get_data(as_text=True)  # bobby's peers
    assert client.get(f"/projects/{pid}/quality?user=abc").status_code == 400
    assert client.get("/projects/999/quality").status_code == 404
    assert client.get(f"/projects/{pid}/quality?user=99999").status_code == 404


@pytest.mark.parametrize("name", ["annie", "rita"])  # an annotator; a reviewer
def test_others_see_only_their_own_figures(app, client, built, name):
    pid, users = built["project"], built["users"]
    anonymous = client.get(f"/projects/{pid}/quality")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login(client, name)
    assert f'href="/projects/{pid}/quality"' in client.get(f"/projects/{pid}").get_data(
        as_text=True)  # linked from the project's page
    page = client.get(f"/projects/{pid}/quality")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "bobby" not in html and "&lt;script&gt;" not in html and "⚑" not in html
    assert client.get(f"/projects/{pid}/quality?user={users[name]}").status_code == 200
    assert client.get(f"/projects/{pid}/quality?user={users['bobby']}").status_code == 403
    if name == "annie":
        assert "100%" in html and "6/6" in html  # her accuracy
    else:
        assert "No labels in this project yet" in html


def test_a_non_member_gets_403(app, client, built):
    with app.app_context():
        project = db.session.get(Project, built["project"])
        project.members_only = True
        set_members(db.session, project, [built["users"]["bobby"]])
        db.session.commit()
    login(client, "annie")
    assert client.get(f"/projects/{built['project']}/quality").status_code == 403


def test_per_guideline_version_from_the_database(app, built):
    from annotator.services.guideline_versions import record_version
    with app.app_context():
        project = db.session.get(Project, built["project"])
        project.guidelines = "Evidence needs a source."
        assert record_version(db.session, project, built["users"]["boss"]).number == 2
        db.session.commit()
        p5 = db.session.scalars(select(Paragraph).join(Article)
                                .where(Article.project_id == project.id)
                                .order_by(Article.id, Paragraph.index)).all()[5]
        save_annotation(db.session, p5.id, built["users"]["bobby"], "evidence")  # now right
        result = project_quality(db.session, project)
    bobby = next(a for a in result.annotators if a.username == "bobby")
    # version 1: p0-p4, all right; version 2: p5, right
    assert {v: (r.hits, r.n) for v, r in bobby.per_version.items()} == {1: (5, 5), 2: (1, 1)}
    assert (bobby.accuracy.hits, bobby.accuracy.n) == (6, 6)

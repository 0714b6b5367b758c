"""Calibration rounds and hidden checks (services/calibration.py, annotator/calibration.py):
a new annotator gets the calibration articles first and sees feedback; those labels count in
quality but not in export or agreement; a new guideline version with recalibration sends
everyone through again; hidden checks come at the set rate and are scored; access, CSRF and
bad input."""
from __future__ import annotations

import json
import re

import pytest
from helpers import (SETTINGS_FORM, bearer, csrf_token, hidden_csrf_token, import_articles,
                     login, make_user, paragraph_pks, project_id)
from sqlalchemy import func, select

from annotator.extensions import db
from annotator.models import Article, GoldAttempt, GoldResult, GuidelineVersion, Paragraph, Project
from annotator.services import calibration, guideline_versions
from annotator.services.agreement_report import agreement_items
from annotator.services.annotations import set_gold
from annotator.services.exporting import ExportOptions, export_lines
from annotator.services.quality import project_quality
from annotator.suggest import training

XSS = "<script>alert(1)</script>"
GUIDELINES = ("Claim: a position the author argues for.\n\n"
              "Evidence: facts or figures offered in support. <b>Cite</b> them.")
# Two calibration articles (C1, C2), then six ordinary ones (O1-O6); gold on C1, C2 and O1.
GOLD = {"C1": ["claim", "evidence", "other"], "C2": ["claim", "other", "evidence"],
        "O1": ["claim", "claim", "other"]}


def _records(names):
    return [{"id": name, "title": f"Article {name}",
             "paragraphs": [f"{name} para {i} {XSS}" for i in range(3)]} for name in names]


@pytest.fixture
def site(app):
    import_articles(app, "cal", _records(["C1", "C2", "O1", "O2", "O3", "O4", "O5", "O6"]))
    ids = {"boss": make_user(app, "boss", "admin"), "nina": make_user(app, "nina"),
           "omar": make_user(app, "omar")}
    with app.app_context():
        project = db.session.scalar(select(Project).where(Project.name == "cal"))
        project.guidelines = GUIDELINES
        guideline_versions.record_version(db.session, project, ids["boss"])
        db.session.commit()
        articles = dict(db.session.execute(select(Article.article_id, Article.id)
                                           .where(Article.project_id == project.id)).all())
        for name, labels in GOLD.items():
            for paragraph, label in zip(db.session.scalars(
                    select(Paragraph).where(Paragraph.article_id == articles[name])
                    .order_by(Paragraph.index)), labels, strict=True):
                set_gold(db.session, paragraph, label, ids["boss"])
    return {"app": app, "project": project_id(app, "cal"), "articles": articles, "users": ids}


def _admin_post(app, project: int, **form):
    client = app.test_client()
    login(client, "boss")
    url = f"/admin/projects/{project}/calibration"
    token = hidden_csrf_token(client.get(url).get_data(as_text=True))
    return client, client.post(url, data={"csrf_token": token, **form})


def _mark(site, *names, **form):
    shown = [str(site["articles"][name]) for name in ("C1", "C2", "O1")]
    chosen = [str(site["articles"][name]) for name in names]
    form = {"shown": shown, "calibration": chosen, "check_rate": "0", **form}
    client, response = _admin_post(site["app"], site["project"], **form)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _next(client, project: int, headers) -> int | None:
    response = client.post(f"/api/projects/{project}/next", headers=headers)
    assert response.status_code == 200
    return response.get_json()["article_id"]


def _label_and_finish(client, headers, article: int, labels, app) -> None:
    for paragraph, label in zip(paragraph_pks(app, article), labels):
        if label is not None:
            response = client.put(f"/api/paragraphs/{paragraph}/annotation",
                                  json={"label": label}, headers=headers)
            assert response.status_code == 200, response.get_json()
    assert client.put(f"/api/articles/{article}/done", headers=headers).status_code == 200


def _new_version(app, project: int, guidelines: str) -> None:
    client = app.test_client()
    login(client, "boss")
    url = f"/admin/projects/{project}/settings"
    response = client.post(url, data={**SETTINGS_FORM, "guidelines": guidelines,
                                      "csrf_token": csrf_token(client, url)})
    assert response.status_code == 302


def test_a_new_annotator_calibrates_first_then_sees_feedback(site):
    app, project, articles = site["app"], site["project"], site["articles"]
    _mark(site, "C1", "C2")
    api, nina = app.test_client(), bearer(app, "nina")
    first = _next(api, project, nina)
    assert first == articles["C1"]
    _label_and_finish(api, nina, first, ["claim", "claim", "other"], app)  # p1 is evidence
    assert _next(api, project, nina) == articles["C2"]
    _label_and_finish(api, nina, articles["C2"], ["claim", "other", None], app)  # p2 left
    assert _next(api, project, nina) == articles["O1"]  # then ordinary work, in import order

    page = app.test_client()
    login(page, "nina")
    # the article view says it is a calibration article, and Shift+Enter opens the feedback
    view = page.get(f"/articles/{articles['C1']}").get_data(as_text=True)
    assert f'action="/articles/{articles["C1"]}/calibration"' in view
    assert "calibration-banner" in view
    html = page.get(f"/articles/{articles['C1']}/calibration").get_data(as_text=True)
    assert "2 of 3 gold paragraphs agree with gold." in html
    differs = html.split('id="differs-heading"')[1].split("</ol>")[0]  # listed first
    assert differs.count('class="calibration-result differs"') == 1
    assert "Evidence: facts or figures offered in support. &lt;b&gt;Cite&lt;/b&gt; them." in differs
    assert "Claim: a position" not in differs  # only what names gold's label
    assert html.count('class="calibration-result agrees"') == 2  # all of them, folded
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Continue: next article" in html and "autofocus" in html  # Enter goes on
    second = page.get(f"/articles/{articles['C2']}/calibration").get_data(as_text=True)
    assert "not labeled" in second  # a paragraph left unlabeled shows, and is not scored
    rounds = page.get(f"/projects/{project}/calibration").get_data(as_text=True)
    assert "2/3" in rounds and "2/2" in rounds and "0 calibration articles left." in rounds

    with app.app_context():
        quality = project_quality(db.session, db.session.get(Project, project))
        mine = quality.annotator(site["users"]["nina"])
        assert (mine.per_source["calibration"].hits, mine.per_source["calibration"].n) == (4, 5)
        assert mine.accuracy.n == 5 and mine.labeled == 0  # her calibration labels are no data
        # not in the export (nor its split, parquet or card: one reader) nor in agreement
        lines = [json.loads(line) for line in export_lines(db.session, "cal", ExportOptions())]
        assert {line["article_id"] for line in lines} == {"O1", "O2", "O3", "O4", "O5", "O6"}
    omar = bearer(app, "omar")
    assert _next(api, project, omar) == articles["C1"]
    _label_and_finish(api, omar, articles["C1"], ["claim", "evidence", "other"], app)
    with app.app_context():
        assert agreement_items(db.session, db.session.get(Project, project)) == []
        assert training.human_label_count(db.session, project) == 0  # nor trains the model
    result = app.test_cli_runner().invoke(args=["agreement", "--project", "cal", "--json",
                                                "--resamples", "0"])
    assert result.exit_code == 0 and json.loads(result.output)["n_items"] == 0
    result = app.test_cli_runner().invoke(args=["quality", "--project", "cal", "--json"])
    by_name = {a["username"]: a for a in json.loads(result.output)["annotators"]}
    assert by_name["omar"]["per_source"]["calibration"]["hits"] == 3
    text = app.test_cli_runner().invoke(args=["quality", "--project", "cal"]).output
    assert "Accuracy against gold by source:" in text
    assert "| nina | n/a | 0.800 [0.376, 0.964] n=5 | n/a |" in text  # 4 of 5, Wilson
    page.set_cookie("lang", "zh")
    chinese = page.get(f"/articles/{articles['C1']}/calibration").get_data(as_text=True)
    assert "你的标签与金标准对照" in chinese and "不一致" in chinese


def test_feedback_and_rounds_are_the_annotators_own(site):
    app, project, articles = site["app"], site["project"], site["articles"]
    _mark(site, "C1")
    api, nina = app.test_client(), bearer(app, "nina")
    assert _next(api, project, nina) == articles["C1"]
    omar_page = app.test_client()
    login(omar_page, "omar")
    feedback = f"/articles/{articles['C1']}/calibration"
    assert omar_page.get(feedback).status_code == 404  # no round of his: nothing to show
    _next(api, project, bearer(app, "omar"))  # he starts C1 too, and does not finish it
    assert omar_page.get(feedback).status_code == 404  # gold is never shown before done
    _label_and_finish(api, nina, articles["C1"], ["claim", "evidence", "other"], app)
    nina_id = site["users"]["nina"]
    assert omar_page.get(f"{feedback}?user={nina_id}").status_code == 403
    assert omar_page.get(f"/projects/{project}/calibration?user={nina_id}").status_code == 403
    assert omar_page.get(f"{feedback}?user=x").status_code == 400
    boss = app.test_client()
    login(boss, "boss")
    assert "nina against gold" in boss.get(f"{feedback}?user={nina_id}").get_data(as_text=True)
    overview = boss.get(f"/admin/projects/{project}/calibration").get_data(as_text=True)
    row = overview.split(f"?user={nina_id}\">nina</a>")[1].split("</tr>")[0]
    assert re.findall(r'class="num">(\d+)<', row) == ["1", "0"]  # one round, no check
    assert boss.get(f"{feedback}?user=999").status_code == 404
    assert omar_page.get(f"/admin/projects/{project}/calibration").status_code == 403
    # a hidden check has no feedback page: it is unannounced
    assert omar_page.get(f"/articles/{articles['O1']}/calibration").status_code == 404


def test_recalibration_after_a_new_guideline_version(site):
    app, project, articles = site["app"], site["project"], site["articles"]
    _mark(site, "C1")  # C2 is ordinary work here
    api, nina = app.test_client(), bearer(app, "nina")
    assert _next(api, project, nina) == articles["C1"]
    _label_and_finish(api, nina, articles["C1"], ["claim", "claim", "other"], app)
    assert _next(api, project, nina) == articles["C2"]
    _new_version(app, project, GUIDELINES + "\n\nVersion three.")
    assert _next(api, project, nina) == articles["C2"]  # recalibration not asked: on she goes
    _mark(site, "C1", recalibrate="on")
    assert _next(api, project, nina) == articles["C1"]  # asked: the version in force counts
    with app.app_context():  # the new round starts from her labels cleared, the article open
        assert db.session.scalar(select(Article.finished_count)
                                 .where(Article.id == articles["C1"])) == 0
    article = api.get(f"/api/articles/{articles['C1']}", headers=nina).get_json()
    assert [p["annotation"] for p in article["paragraphs"]] == [None, None, None]
    _label_and_finish(api, nina, articles["C1"], ["claim", "evidence", "other"], app)
    assert _next(api, project, nina) == articles["C2"]
    page = app.test_client()
    login(page, "nina")
    rounds = page.get(f"/projects/{project}/calibration").get_data(as_text=True)
    assert "3/3" in rounds and "2/3" in rounds  # both rounds kept, each with its version
    with app.app_context():
        versions = sorted(db.session.scalars(select(GoldAttempt.guideline_version)))
        assert versions == [2, 3]
        mine = project_quality(db.session, db.session.get(Project, project)).annotator(
            site["users"]["nina"])
        assert (mine.per_source["calibration"].hits, mine.per_source["calibration"].n) == (5, 6)
        assert {v: (r.hits, r.n) for v, r in mine.per_version.items()} == {2: (2, 3), 3: (3, 3)}


def test_hidden_checks_come_at_the_rate_and_are_scored(app):
    """12 articles, gold on the last 4 (G1-G4); rate 0.25: the 4th and 8th articles served are
    checks (floor(0.25 * served)), the first gold articles not yet seen, then ordinary work."""
    names = [f"A{i}" for i in range(1, 9)] + [f"G{i}" for i in range(1, 5)]
    import_articles(app, "chk", _records(names))
    boss, cara = make_user(app, "boss", "admin"), make_user(app, "cara")
    project = project_id(app, "chk")
    with app.app_context():
        articles = dict(db.session.execute(select(Article.id, Article.article_id)
                                           .where(Article.project_id == project)).all())
        for paragraph in db.session.scalars(select(Paragraph).join(Article).where(
                Article.project_id == project, Article.article_id.like("G%"))):
            set_gold(db.session, paragraph, "claim", boss)
    _, response = _admin_post(app, project, check_rate="0.25")
    assert response.status_code == 302
    api, headers = app.test_client(), bearer(app, "cara")
    served = []
    for _ in range(8):
        article = _next(api, project, headers)
        served.append(articles[article])
        labels = ["claim", "claim", "other"] if articles[article].startswith("G") else ["other"] * 3
        _label_and_finish(api, headers, article, labels, app)
    assert served == ["A1", "A2", "A3", "G1", "A4", "A5", "A6", "G2"]
    with app.app_context():
        kinds = db.session.scalars(select(GoldAttempt.kind)).all()
        assert kinds == ["check", "check"]
        assert db.session.scalar(select(func.count()).select_from(GoldResult)) == 6
        mine = project_quality(db.session, db.session.get(Project, project)).annotator(cara)
        check = mine.per_source["check"]
        assert (check.hits, check.n) == (4, 6)
        assert mine.per_source["adjudicated"].n == 0  # her labels there count once, as checks
        # check labels are real labels of real articles: they stay in the export
        lines = [json.loads(line) for line in export_lines(db.session, "chk", ExportOptions())]
        g1 = [line for line in lines if line["article_id"] == "G1"]
        assert [entry["label"] for line in g1 for entry in line["annotations"]] == [
            "claim", "claim", "other"]
    # an admin (who writes the gold) is served no checks: the next article that needs someone
    assert articles[_next(api, project, bearer(app, "boss"))] == "A7"


def test_settings_refuse_bad_input_and_need_csrf(site):
    app, project, articles = site["app"], site["project"], site["articles"]
    for rate in ("2", "-0.1", "abc", "nan", ""):
        client, response = _admin_post(app, project, check_rate=rate,
                                       shown=[str(articles["C1"])], calibration=[str(articles["C1"])])
        assert response.status_code == 200, rate
        page = response.get_data(as_text=True)
        assert "The hidden-check rate must be a number from 0 to 1" in page, rate
        with app.app_context():
            assert not db.session.get(Article, articles["C1"]).calibration  # nothing changed
    client, response = _admin_post(app, project, check_rate="0.1",
                                   shown=[str(articles["O2"])], calibration=[str(articles["O2"])])
    assert response.status_code == 200
    assert "A calibration article needs gold labels: article" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Project, project).check_rate == 0  # all or nothing
    response = client.post(f"/admin/projects/{project}/calibration",
                           data={"check_rate": "0.1"})  # no CSRF token
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Project, project).check_rate == 0
    page = client.get(f"/admin/projects/{project}/calibration").get_data(as_text=True)
    assert re.search(r'name="calibration" value="\d+"', page)
    assert "Article O2" not in page  # only articles with gold are offered


def test_the_quality_page_shows_each_source(site):
    app, project, articles = site["app"], site["project"], site["articles"]
    _mark(site, "C1")
    api, nina = app.test_client(), bearer(app, "nina")
    _next(api, project, nina)
    _label_and_finish(api, nina, articles["C1"], ["claim", "claim", "other"], app)
    page = app.test_client()
    login(page, "nina")
    html = page.get(f"/projects/{project}/quality").get_data(as_text=True)
    row = html.split("Calibration rounds</th>")[1].split("</tr>")[0]
    assert "67%" in row and "2/3" in row
    assert "Hidden checks</th>" in html and "Adjudicated paragraphs</th>" in html


def test_the_calibration_command(site):
    app, runner = site["app"], site["app"].test_cli_runner()
    result = runner.invoke(args=["calibration", "--project", "cal", "--mark", "C1", "--mark",
                                 "C2", "--recalibrate", "--check-rate", "0.05"])
    assert result.exit_code == 0, result.output
    assert ("cal: calibration articles: C1, C2; recalibrate after a new guideline version: yes; "
            "hidden-check rate: 0.05") in result.output
    for args, message in ((["--check-rate", "1.5"], "must be a number from 0 to 1"),
                          (["--mark", "O2"], "A calibration article needs gold labels"),
                          (["--mark", "nope"], "no article 'nope' in cal"),
                          (["--unmark", "C1", "--check-rate", "-1"], "from 0 to 1")):
        result = runner.invoke(args=["calibration", "--project", "cal", *args])
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    result = runner.invoke(args=["calibration", "--project", "cal", "--unmark", "C2"])
    assert "calibration articles: C1;" in result.output  # the refused runs changed nothing
    with app.app_context():
        assert db.session.get(Project, site["project"]).check_rate == 0.05


def test_split_export_and_card_leave_calibration_articles_out(site, tmp_path):
    app, project = site["app"], site["project"]
    _mark(site, "C1", "C2")
    api = app.test_client()
    for name in ("nina", "omar"):
        headers = bearer(app, name)
        for _ in range(3):  # C1, C2, then an ordinary article (in the dataset)
            article = _next(api, project, headers)
            _label_and_finish(api, headers, article, ["claim", "evidence", "other"], app)
    out = tmp_path / "dataset"
    result = app.test_cli_runner().invoke(args=["export", "--project", "cal", "-o", str(out),
                                                "--split", "train=0.5,test=0.5"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for split in ("train", "test")
             for line in (out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {line["article_id"] for line in lines} == {"O1", "O2", "O3", "O4", "O5", "O6"}
    labeled = [entry["annotator"] for line in lines for entry in line["annotations"]]
    assert sorted(labeled) == ["nina"] * 3 + ["omar"] * 3  # each one ordinary article
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Article C1" not in card and "C1 para" not in card


def test_the_excerpt_of_a_table_is_the_label_own_row():
    """Of the label set's table only gold's own row; list items and paragraphs that name it."""
    version = GuidelineVersion(number=1, labels=[{"key": "claim", "name": "Claim",
                                                  "description": "A position."}],
                               guidelines="| Label | Use it for |\n|---|---|\n"
                               "| **Claim** | A position argued for. |\n"
                               "| Evidence | Facts in support of a claim. |\n\n"
                               "- A quote of a view is a claim.\n- Figures are evidence.\n\n"
                               "Nothing here names it.")
    assert calibration.guideline_excerpt(version, "claim") == [
        "A position.", "Claim · A position argued for.", "- A quote of a view is a claim."]

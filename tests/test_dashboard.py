"""The admin dashboard: its counts, throughput per day, label distribution, SVG charts, access,
and the agreement page and its items."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from annotator import charts
from annotator.extensions import db
from annotator.models import Annotation, Article, Paragraph, Project, User
from annotator.services import queue
from annotator.services.agreement_data import agreement_items
from annotator.services.annotations import set_annotation
from annotator.services.dashboard import project_dashboard
from annotator.services.importing import Source, import_sources
from annotator.services.progress import recount
from annotator.services.users import create_user

from helpers import PASSWORD, jsonl, login

XSS = "<script>x</script>"
TODAY = date(2026, 11, 28)


def _build(session) -> Project:
    """Five articles, overlap 2: a0 labeled and finished by ann and bo; a1 labeled in part and
    finished by ann only; a2 held by bo, unlabeled; a3 labeled by XSS without a hold; a4 never
    opened. 10 paragraphs, 5 labeled, 3 of them twice."""
    records = [{"id": f"a{n}", "title": f"Article {n}",
                "paragraphs": [f"{n}.{i} 段落" for i in range(size)]}
               for n, size in enumerate((3, 2, 2, 2, 1))]
    report = import_sources(session, "team", [Source("t.jsonl", jsonl(records), "jsonl")])
    assert report.stored, report.errors
    project = session.scalar(select(Project).where(Project.name == "team"))
    project.overlap = 2
    session.commit()
    users = {name: create_user(session, name, PASSWORD).id for name in ("ann", "bo", XSS)}
    create_user(session, "boss", PASSWORD, "admin")
    paragraphs = {article_id: session.scalars(
        select(Paragraph).join(Article).where(Article.article_id == article_id)
        .order_by(Paragraph.index)).all() for article_id in ("a0", "a1", "a2", "a3", "a4")}
    article = {article_id: ps[0].article_id for article_id, ps in paragraphs.items()}
    for paragraph, ann, bo in zip(paragraphs["a0"], ("claim", "evidence", "other"),
                                  ("claim", "claim", "other")):
        set_annotation(session, paragraph, users["ann"], ann)
        set_annotation(session, paragraph, users["bo"], bo)
    queue.set_finished(session, article["a0"], users["ann"], True)
    queue.set_finished(session, article["a0"], users["bo"], True)
    set_annotation(session, paragraphs["a1"][0], users["ann"], "claim")
    queue.set_finished(session, article["a1"], users["ann"], True)
    queue.touch(session, article["a2"], users["bo"])
    session.commit()
    set_annotation(session, paragraphs["a3"][0], users[XSS], "boilerplate")
    return project


def _set_days(session, project: Project) -> None:
    """Spread the labels over days: a0 today, a1 two days ago, bo's first label 20 days ago."""
    noon = datetime.combine(TODAY, datetime.min.time()) + timedelta(hours=12)
    session.execute(update(Annotation).values(created_at=noon))
    a1 = session.scalars(select(Paragraph.id).join(Article).where(Article.article_id == "a1"))
    session.execute(update(Annotation).where(Annotation.paragraph_id.in_(list(a1)))
                    .values(created_at=noon - timedelta(days=2, hours=11, minutes=59)))
    bo = session.scalar(select(User.id).where(User.username == "bo"))
    first = session.scalar(select(Paragraph.id).join(Article).where(Article.article_id == "a0")
                           .order_by(Paragraph.index))
    session.execute(update(Annotation).where(Annotation.user_id == bo,
                                             Annotation.paragraph_id == first)
                    .values(created_at=noon - timedelta(days=20)))
    session.commit()
    recount(session)  # the days were changed around the app, which keeps the counters


def _by_name(dashboard):
    return {annotator.username: annotator for annotator in dashboard.annotators}


def test_article_and_paragraph_counts(session):
    project = _build(session)
    data = project_dashboard(session, project)
    assert (data.articles, data.finished, data.in_progress, data.untouched) == (5, 1, 3, 1)
    assert (data.paragraphs, data.labeled_any, data.labeled_full) == (10, 5, 3)
    assert data.overlap == 2


def test_overlap_one_counts_an_article_finished_by_one(session):
    project = _build(session)
    project.overlap = 1
    session.commit()
    data = project_dashboard(session, project)
    assert (data.finished, data.in_progress, data.untouched) == (2, 2, 1)
    assert data.labeled_full == data.labeled_any == 5


def test_per_annotator_counts_and_label_distribution(session):
    project = _build(session)
    people = _by_name(project_dashboard(session, project))
    assert set(people) == {"ann", "bo", XSS}  # the admin did nothing and is not listed
    assert (people["ann"].paragraphs, people["ann"].articles_finished) == (4, 2)
    assert (people["bo"].paragraphs, people["bo"].articles_finished) == (3, 1)
    assert (people[XSS].paragraphs, people[XSS].articles_finished) == (1, 0)
    assert people["ann"].labels == {"claim": 2, "evidence": 1, "other": 1}
    assert people["bo"].labels == {"claim": 2, "other": 1}
    assert people[XSS].labels == {"boilerplate": 1}
    data = project_dashboard(session, project)
    assert [a.username for a in data.annotators] == ["ann", "bo", XSS]  # most work first
    assert data.label_totals == {"claim": 4, "evidence": 1, "boilerplate": 1, "other": 2}


def test_labels_per_day_by_the_day_each_label_was_first_set(session):
    project = _build(session)
    _set_days(session, project)
    data = project_dashboard(session, project, days=14, today=TODAY)
    assert data.days[0] == TODAY - timedelta(days=13) and data.days[-1] == TODAY
    people = _by_name(data)
    assert people["ann"].per_day[-1] == 3 and people["ann"].per_day[-3] == 1
    assert sum(people["ann"].per_day) == 4
    assert people["bo"].per_day[-1] == 2 and sum(people["bo"].per_day) == 2  # one is 20 days old
    assert people["bo"].paragraphs == 3  # ... but still counts as labeled
    assert data.per_day_total[-1] == 6 and data.per_day_total[-3] == 1
    wider = _by_name(project_dashboard(session, project, days=30, today=TODAY))
    assert wider["bo"].per_day[-21] == 1 and sum(wider["bo"].per_day) == 3


def test_a_changed_label_stays_on_the_day_it_was_first_set(session):
    project = _build(session)
    _set_days(session, project)
    paragraph = session.scalar(select(Paragraph).join(Article).where(Article.article_id == "a1")
                               .order_by(Paragraph.index))
    ann = session.scalar(select(User.id).where(User.username == "ann"))
    set_annotation(session, paragraph, ann, "evidence")
    people = _by_name(project_dashboard(session, project, today=TODAY))
    assert people["ann"].per_day[-3] == 1 and people["ann"].per_day[-1] == 3
    assert people["ann"].labels == {"claim": 1, "evidence": 2, "other": 1}


def test_other_projects_do_not_count(session):
    project = _build(session)
    import_sources(session, "elsewhere", [Source("o.jsonl", jsonl(
        [{"title": "Other", "paragraphs": ["x", "y"]}]), "jsonl")])
    other = session.scalar(select(Project).where(Project.name == "elsewhere"))
    ann = session.scalar(select(User.id).where(User.username == "ann"))
    for paragraph in session.scalars(select(Paragraph).join(Article)
                                     .where(Article.project_id == other.id)):
        set_annotation(session, paragraph, ann, "claim")
    data = project_dashboard(session, project)
    assert (data.paragraphs, data.labeled_any, _by_name(data)["ann"].paragraphs) == (10, 5, 4)
    elsewhere = project_dashboard(session, other)
    assert (elsewhere.articles, elsewhere.in_progress, elsewhere.labeled_any) == (1, 1, 2)
    assert [a.username for a in elsewhere.annotators] == ["ann"]


def test_an_empty_project(session):
    import_sources(session, "empty", [Source("e.jsonl", jsonl(
        [{"title": "Only", "paragraphs": ["one"]}]), "jsonl")])
    project = session.scalar(select(Project).where(Project.name == "empty"))
    data = project_dashboard(session, project, days=7)
    assert (data.articles, data.untouched, data.in_progress, data.finished) == (1, 1, 0, 0)
    assert data.annotators == [] and data.per_day_total == [0] * 7


# --- charts ----------------------------------------------------------------------------------

def test_stacked_bar_shows_its_numbers_and_is_labelled():
    svg = str(charts.stacked_bar([charts.Segment("Finished", 30, "#2f9e44"),
                                  charts.Segment("In progress", 10, "#f59f00"),
                                  charts.Segment("Untouched", 60, "#dee2e6")],
                                 title="Articles"))
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-label="Articles"' in svg
    assert "<title>Articles</title>" in svg
    for shown in ("30 (30%)", "60 (60%)", "Finished: 30", "In progress: 10", "Untouched: 60"):
        assert shown in svg
    assert "style=" not in svg


def test_daily_bars_give_every_day_its_value():
    days = [date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28)]
    svg = str(charts.daily_bars(days, [4, 0, 7], title="Labels per day by ann"))
    for shown in ("2026-11-26: 4", "2026-11-27: 0", "2026-11-28: 7", ">7<", "11-26", "11-28"):
        assert shown in svg
    assert 'role="img"' in svg and "style=" not in svg


def test_charts_escape_text_and_refuse_bad_colours():
    evil = '#fff" onload="alert(1)'
    svg = str(charts.distribution_bars([(XSS, [charts.Segment(XSS, 3, evil),
                                               charts.Segment("ok", 1, "#1971c2")])],
                                       title=f"labels of {XSS}"))
    assert XSS not in svg and "&lt;script&gt;x&lt;/script&gt;" in svg
    assert "onload" not in svg and 'fill="#868e96"' in svg and 'fill="#1971c2"' in svg
    assert ">75%<" in svg and ">4<" in svg  # the share and the row total
    assert charts.safe_color("red") == charts.safe_color(None) == "#868e96"
    plot = str(charts.interval_plot([(XSS, 0.5, 0.25, 0.75), ("none", None, None, None)],
                                    title="k"))
    assert XSS not in plot and "0.50 [0.25, 0.75]" in plot and "n/a" in plot


# --- pages -----------------------------------------------------------------------------------

@pytest.fixture
def built(app):
    with app.app_context():
        return _build(db.session).id


def test_the_dashboard_page_shows_charts_and_numbers(client, built):
    assert login(client, "boss").status_code == 302
    page = client.get(f"/admin/projects/{built}/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('role="img"') >= 5  # articles, paragraphs, everyone, 3 annotators, labels
    assert XSS not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "style=" not in html
    assert "css/dashboard.css" in html
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    articles = svgs[0]
    assert "Finished: 1" in articles and "In progress: 3" in articles and "Untouched: 1" in articles
    table = html[html.index('id="articles-heading"'):html.index('id="paragraphs-heading"')]
    assert re.search(r"Finished</th>\s*<td class=\"num\">1</td>", table)
    assert re.search(r"In progress</th>\s*<td class=\"num\">3</td>", table)


def test_the_days_parameter_is_bounded(client, built):
    login(client, "boss")
    assert client.get(f"/admin/projects/{built}/dashboard?days=7").status_code == 200
    html = client.get(f"/admin/projects/{built}/dashboard?days=100000").get_data(as_text=True)
    assert '<option value="90" selected>' in html


@pytest.mark.parametrize("page", ["dashboard", "agreement"])
def test_only_admins_see_the_pages(app, client, built, page):
    url = f"/admin/projects/{built}/{page}"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login(client, "ann")
    assert client.get(url).status_code == 403
    fresh = app.test_client()
    login(fresh, "boss")
    assert fresh.get(url).status_code == 200
    assert fresh.get(f"/admin/projects/999/{page}").status_code == 404


def test_the_project_list_links_admins_to_the_pages(app, client, built):
    login(client, "ann")
    html = client.get("/").get_data(as_text=True)
    assert f"/admin/projects/{built}/dashboard" not in html
    admin = app.test_client()
    login(admin, "boss")
    html = admin.get("/").get_data(as_text=True)
    assert f"/admin/projects/{built}/dashboard" in html
    assert f"/admin/projects/{built}/agreement" in html


# --- agreement -------------------------------------------------------------------------------

def test_agreement_items_group_paragraphs_labeled_twice(session):
    project = _build(session)
    items = agreement_items(session, project)
    a0 = session.scalar(select(Article.id).where(Article.article_id == "a0"))
    assert items == [(a0, {"ann": "claim", "bo": "claim"}),
                     (a0, {"ann": "evidence", "bo": "claim"}),
                     (a0, {"ann": "other", "bo": "other"})]
    assert len(agreement_items(session, project, min_annotations=1)) == 5


def test_the_agreement_page_reports_pairs_labels_and_confusion(client, built):
    login(client, "boss")
    html = client.get(f"/admin/projects/{built}/agreement?resamples=50").get_data(as_text=True)
    assert "Cohen" in html and "ann / bo" in html
    assert "Krippendorff" in html and "Gwet" in html and "Fleiss" in html
    assert 'class="confusion"' in html and "heat-8 diagonal" in html
    assert "style=" not in html and html.count('role="img"') == 2


def test_the_agreement_page_without_overlap_says_so(app, client):
    with app.app_context():
        import_sources(db.session, "solo", [Source("s.jsonl", jsonl(
            [{"title": "Only", "paragraphs": ["one"]}]), "jsonl")])
        create_user(db.session, "boss", PASSWORD, "admin")
        project_id = db.session.scalar(select(Project.id).where(Project.name == "solo"))
    login(client, "boss")
    page = client.get(f"/admin/projects/{project_id}/agreement")
    assert page.status_code == 200
    assert "Nothing to compare yet" in page.get_data(as_text=True)


def test_the_page_counts_again_after_any_change(app, client, built):
    login(client, "boss")
    url = f"/admin/projects/{built}/dashboard"

    def labeled() -> str:
        html = client.get(url).get_data(as_text=True)
        found = re.search(r"at least one annotator</th>\s*<td class=\"num\">(\d+)", html)
        return found.group(1)

    assert labeled() == "5" and labeled() == "5"  # the second load reuses the counts
    with app.app_context():
        paragraph = db.session.scalar(select(Paragraph).join(Article)
                                      .where(Article.article_id == "a4"))
        ann = db.session.scalar(select(User.id).where(User.username == "ann"))
        set_annotation(db.session, paragraph, ann, "claim")
    assert labeled() == "6"
    with app.app_context():
        paragraph = db.session.scalar(select(Paragraph).join(Article)
                                      .where(Article.article_id == "a4"))
        set_annotation(db.session, paragraph, ann, "other")  # a change: the distribution moves
    html = client.get(url).get_data(as_text=True)
    assert "ann · Other: 2 (40%)" in html
    with app.app_context():
        a1 = db.session.scalar(select(Article.id).where(Article.article_id == "a1"))
        bo = db.session.scalar(select(User.id).where(User.username == "bo"))
        queue.set_finished(db.session, a1, bo, True)  # a1 now has its two finishers
    html = client.get(url).get_data(as_text=True)
    assert "Finished: 2" in html


def test_a_max_age_lets_busy_projects_reuse_counts(app, client, built):
    app.config["DASHBOARD_MAX_AGE_SECONDS"] = 3600
    login(client, "boss")
    url = f"/admin/projects/{built}/dashboard"
    assert "Untouched: 1" in client.get(url).get_data(as_text=True)
    with app.app_context():
        paragraph = db.session.scalar(select(Paragraph).join(Article)
                                      .where(Article.article_id == "a4"))
        ann = db.session.scalar(select(User.id).where(User.username == "ann"))
        set_annotation(db.session, paragraph, ann, "claim")
    assert "Untouched: 1" in client.get(url).get_data(as_text=True)  # an hour may pass first
    app.config["DASHBOARD_MAX_AGE_SECONDS"] = 0
    assert "Untouched: 0" in client.get(url).get_data(as_text=True)

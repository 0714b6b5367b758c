"""Counts and notes read as English: no "1 paragraphs", no note that points at itself."""
from __future__ import annotations

from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Paragraph, User
from annotator.services.agreement import ONE_LABEL, report
from annotator.services.agreement_report import as_markdown
from annotator.services.annotations import set_annotation
from annotator.services.text import plural

from helpers import import_articles, login, make_user, project_id


def test_plural_inflects_by_count():
    assert [plural(n, "article") for n in (0, 1, 2)] == ["0 articles", "1 article", "2 articles"]
    assert plural(1, "path", "paths") == "1 path" and plural(3, "entry", "entries") == "3 entries"


def test_an_undefined_coefficient_says_why_once_and_never_points_at_itself():
    one_label = report([(i % 3, {"a": "claim", "b": "claim"}) for i in range(9)], resamples=10)
    text = as_markdown(one_label)
    assert "see its note" not in text
    assert f"- Fleiss' kappa: undefined because {ONE_LABEL}." in text
    assert text.count(ONE_LABEL) == 3  # kappa, alpha, AC1: each said once


def test_the_agreement_summary_counts_in_the_singular_where_it_is_one():
    text = as_markdown(report([(0, {"a": "claim", "b": "other"})], resamples=10))
    assert "1 paragraph labeled by two or more of 2 annotators" in text
    assert "in 1 article." in text and "1 paragraphs" not in text


def test_the_agreement_page_gives_the_reason_and_not_a_circular_note(app, client):
    make_user(app, "boss", "admin")
    import_articles(app, "news", [{"title": "t", "paragraphs": ["p1", "p2", "p3"]}])
    for name in ("amy", "bob"):
        make_user(app, name)
    with app.app_context():
        for paragraph in db.session.scalars(select(Paragraph)):
            for name in ("amy", "bob"):
                user = db.session.scalar(select(User.id).where(User.username == name))
                set_annotation(db.session, paragraph, user, "claim")
    login(client, "boss")
    page = client.get(f"/admin/projects/{project_id(app, 'news')}/agreement").get_data(as_text=True)
    assert "see its note" not in page
    assert "only one label was used" in page


def test_pages_count_in_the_singular_where_it_is_one(app, client):
    make_user(app, "boss", "admin")
    import_articles(app, "news", [{"title": "t", "paragraphs": ["only one"]}])
    annotators = [make_user(app, name) for name in ("amy", "bob")]
    with app.app_context():
        paragraph = db.session.scalars(select(Paragraph)).one()
        for user in annotators:
            set_annotation(db.session, paragraph, user, "claim")
    login(client, "boss")
    pid = project_id(app, "news")
    pages = {path: client.get(path).get_data(as_text=True)
             for path in ("/", f"/admin/projects/{pid}/agreement", f"/admin/projects/{pid}/dashboard",
                          f"/admin/projects/{pid}/assignments")}
    for path, page in pages.items():
        assert client.get(path).status_code == 200, path
        for wrong in ("1 paragraphs", "1 articles", "1 annotators", "annotator(s)"):
            assert wrong not in page, (path, wrong)
    assert "/ 1 paragraph" in pages["/"] and "/ 1 article done" in pages["/"]
    assert "1 paragraph labeled by two or more of 2 annotators" in pages[
        f"/admin/projects/{pid}/agreement"]
    assert "Each article needs 1 annotator." in pages[f"/admin/projects/{pid}/assignments"]
    one_day = client.get(f"/admin/projects/{pid}/dashboard?days=1").get_data(as_text=True)
    assert "Labels in the last 1 day<" in one_day and "1 days" not in one_day

"""Adjudication: the review service's filters and pages, and the review page (access, escaping)."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import event, select

from annotator.extensions import db
from annotator.models import Article, Paragraph, Project
from annotator.services.annotations import set_annotation, set_gold
from annotator.services.exporting import export_lines
from annotator.services.review import (ReviewError, ReviewFilters, review_counts, review_page)

from helpers import csrf_headers, import_articles, login, make_user, project_id, user_id

EVIL = "<script>alert(1)</script>"

# Article "a1" (paragraphs 0-5) and "a2" (0-2); labels by li, wang, zhao:
LABELS = {
    ("a1", 0): {"li": "boilerplate", "wang": "boilerplate"},           # agreed
    ("a1", 1): {"li": "claim", "wang": "evidence"},                    # claim/evidence
    ("a1", 2): {"li": "claim", "wang": "claim", "zhao": "other"},      # claim/other
    ("a1", 3): {"li": "evidence"},                                     # one annotation
    # ("a1", 4): nobody
    ("a1", 5): {"wang": "other", "zhao": "boilerplate"},               # other/boilerplate, last
    ("a2", 0): {"li": "evidence", "zhao": "claim"},                    # claim/evidence, first
    ("a2", 1): {"li": "other", "wang": "other", "zhao": "other"},      # agreed
    ("a2", 2): {"wang": "claim", "zhao": "claim", "li": "evidence"},   # claim/evidence
}
NOTES = {("a1", 1, "wang"): "cites the council's data", ("a2", 2, "li"): EVIL}


@pytest.fixture
def world(app):
    """Two articles labeled by three annotators, a reviewer and an admin."""
    for name in ("li", "wang", "zhao"):
        make_user(app, name)
    make_user(app, "rev", "reviewer")
    make_user(app, "boss", "admin")
    import_articles(app, "news", [
        {"id": "a1", "title": "First article",
         "paragraphs": ["Home | News", "Bikes are good.", "Counts rose 40%.", "Trips doubled.",
                        "Other text.", "© 2026 Courier"]},
        {"id": "a2", "title": f"Second {EVIL}",
         "paragraphs": [f"Opening {EVIL}", "Middle.", "Closing."]},
        {"id": "a3", "title": "Unlabeled", "paragraphs": ["Nothing here."]},
    ])
    import_articles(app, "other project", [
        {"id": "a1", "title": "Elsewhere", "paragraphs": ["x", "y"]}])
    users = {name: user_id(app, name) for name in ("li", "wang", "zhao")}
    with app.app_context():
        paragraphs = _paragraphs(db.session, "news")
        for (article, index), votes in LABELS.items():
            for name, label in votes.items():
                set_annotation(db.session, paragraphs[(article, index)], users[name], label,
                               NOTES.get((article, index, name)))
        # the other project disagrees too, and must never show up in "news"
        other = _paragraphs(db.session, "other project")
        set_annotation(db.session, other[("a1", 0)], users["li"], "claim")
        set_annotation(db.session, other[("a1", 0)], users["wang"], "other")
    return app


def _paragraphs(session, project: str) -> dict[tuple[str, int], Paragraph]:
    rows = session.execute(
        select(Article.article_id, Paragraph)
        .join(Paragraph, Paragraph.article_id == Article.id)
        .join(Project, Project.id == Article.project_id).where(Project.name == project))
    return {(article_id, paragraph.index): paragraph for article_id, paragraph in rows}


def _keys(page) -> list[tuple[str, int]]:
    return [(item.article_id, item.index) for item in page.items]


def _review(app, **filters):
    with app.app_context():
        return review_page(db.session, project_id(app, "news"), ReviewFilters(**filters))


# --- the service ---------------------------------------------------------------------------

def test_disagreements_in_import_order_with_context_votes_and_gold(world):
    page = _review(world)
    assert _keys(page) == [("a1", 1), ("a1", 2), ("a1", 5), ("a2", 0), ("a2", 2)]
    assert page.next_after is None
    first = page.items[0]
    assert (first.title, first.text, first.before, first.after) == (
        "First article", "Bikes are good.", "Home | News", "Counts rose 40%.")
    assert [(v.annotator, v.label, v.note) for v in first.annotations] == [
        ("li", "claim", None), ("wang", "evidence", "cites the council's data")]
    assert first.gold is None
    last_of_article = page.items[2]
    assert (last_of_article.before, last_of_article.after) == ("Other text.", None)
    first_of_article = page.items[3]
    assert (first_of_article.before, first_of_article.after) == (None, "Middle.")
    assert first_of_article.text == f"Opening {EVIL}"  # the service returns text unchanged
    with world.app_context():
        article_pk = db.session.scalar(select(Article.id).where(Article.article_id == "a2",
                                                                Article.title.like("Second%")))
    assert first_of_article.article_pk == article_pk


def test_only_no_gold_and_all_labeled(world):
    with world.app_context():
        paragraphs = _paragraphs(db.session, "news")
        set_gold(db.session, paragraphs[("a1", 2)], "claim", 1)
        set_gold(db.session, paragraphs[("a2", 1)], "other", 1)  # gold on an agreed paragraph
    assert _keys(_review(world, only="no-gold")) == [("a1", 1), ("a1", 5), ("a2", 0), ("a2", 2)]
    assert _keys(_review(world, only="all-labeled")) == [
        ("a1", 0), ("a1", 1), ("a1", 2), ("a1", 3), ("a1", 5), ("a2", 0), ("a2", 1), ("a2", 2)]
    golds = {(item.article_id, item.index): item.gold for item in _review(world).items}
    assert golds[("a1", 2)] == "claim" and golds[("a1", 1)] is None
    with pytest.raises(ReviewError):
        _review(world, only="everything")


def test_label_pair_means_one_annotator_chose_a_and_another_b(world):
    assert _keys(_review(world, label_pair=("claim", "evidence"))) == [
        ("a1", 1), ("a2", 0), ("a2", 2)]
    assert _keys(_review(world, label_pair=("evidence", "claim"))) == [
        ("a1", 1), ("a2", 0), ("a2", 2)]
    assert _keys(_review(world, label_pair=("boilerplate", "other"))) == [("a1", 5)]
    assert _keys(_review(world, label_pair=("claim", "boilerplate"))) == []
    # the same label twice: two annotators chose it (and, among disagreements, someone else not)
    assert _keys(_review(world, label_pair=("claim", "claim"))) == [("a1", 2), ("a2", 2)]
    assert _keys(_review(world, label_pair=("claim", "claim"), only="all-labeled")) == [
        ("a1", 2), ("a2", 2)]
    # one label: someone chose it
    assert _keys(_review(world, label_pair=("other", None))) == [("a1", 2), ("a1", 5)]
    with pytest.raises(ReviewError, match="unknown label"):
        _review(world, label_pair=("claim", "nonsense"))


def test_annotator_filter(world):
    assert _keys(_review(world, annotator="zhao")) == [("a1", 2), ("a1", 5), ("a2", 0), ("a2", 2)]
    assert _keys(_review(world, annotator="wang")) == [("a1", 1), ("a1", 2), ("a1", 5), ("a2", 2)]
    assert _keys(_review(world, annotator="li", only="all-labeled")) == [
        ("a1", 0), ("a1", 1), ("a1", 2), ("a1", 3), ("a2", 0), ("a2", 1), ("a2", 2)]
    assert _keys(_review(world, annotator="rev")) == []
    with pytest.raises(ReviewError, match="no user"):
        _review(world, annotator="nobody")


def test_article_filter_and_filters_combined(world):
    with world.app_context():
        a2 = db.session.scalar(select(Article.id).where(Article.title.like("Second%")))
    assert _keys(_review(world, article=a2)) == [("a2", 0), ("a2", 2)]
    assert _keys(_review(world, article=a2, only="all-labeled")) == [("a2", 0), ("a2", 1), ("a2", 2)]
    assert _keys(_review(world, article=a2, annotator="wang", label_pair=("claim", "evidence"))) == [
        ("a2", 2)]


def test_pages_are_keyset_paginated_and_never_skip_after_gold_is_set(world):
    with world.app_context():
        session, pid = db.session, project_id(world, "news")
        filters = ReviewFilters(only="no-gold")
        first = review_page(session, pid, filters, limit=2)
        assert _keys(first) == [("a1", 1), ("a1", 2)]
        paragraphs = _paragraphs(session, "news")
        for key in _keys(first):  # resolving the page must not shift the next one
            set_gold(session, paragraphs[key], "claim", 1)
        second = review_page(session, pid, filters, after=first.next_after, limit=2)
        assert _keys(second) == [("a1", 5), ("a2", 0)]
        third = review_page(session, pid, filters, after=second.next_after, limit=2)
        assert _keys(third) == [("a2", 2)] and third.next_after is None
        exact = review_page(session, pid, ReviewFilters(), limit=5)
        assert len(exact.items) == 5 and exact.next_after is None  # no empty last page


def test_counts_of_disagreements_and_those_left_without_gold(world):
    with world.app_context():
        session, pid = db.session, project_id(world, "news")
        counts = review_counts(session, pid)
        assert (counts.disagreements, counts.remaining) == (5, 5)
        paragraphs = _paragraphs(session, "news")
        set_gold(session, paragraphs[("a1", 1)], "evidence", 1)
        set_gold(session, paragraphs[("a2", 1)], "other", 1)  # agreed: not a disagreement
        counts = review_counts(session, pid)
        assert (counts.disagreements, counts.remaining) == (5, 4)
        assert review_counts(session, project_id(world, "other project")).disagreements == 1


def test_a_page_takes_a_fixed_number_of_queries(world):
    """Ids by one GROUP BY query, then the page's details in a few: never one per paragraph."""
    pid = project_id(world, "news")
    with world.app_context():
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            page = review_page(db.session, pid, ReviewFilters(only="all-labeled"))
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert len(page.items) == 8
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) <= 4, selects


def test_gold_wins_in_the_export(world):
    with world.app_context():
        paragraphs = _paragraphs(db.session, "news")
        set_gold(db.session, paragraphs[("a1", 1)], "evidence", 1)
        lines = [json.loads(line) for line in export_lines(db.session, "news")]
    by_key = {(line["article_id"], line["paragraph_index"]): line for line in lines}
    assert (by_key[("a1", 1)]["label"], by_key[("a1", 1)]["label_source"]) == ("evidence", "gold")
    assert (by_key[("a1", 2)]["label"], by_key[("a1", 2)]["label_source"]) == ("claim", "majority")
    assert by_key[("a2", 0)]["label_source"] is None  # a tie, no gold


# --- the page ------------------------------------------------------------------------------

def _page_url(app) -> str:
    return f"/review/projects/{project_id(app, 'news')}"


def test_access_anonymous_goes_to_login_annotator_403_reviewer_and_admin_200(world):
    url = _page_url(world)
    response = world.test_client().get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for name, status in (("li", 403), ("rev", 200), ("boss", 200)):
        client = world.test_client()
        assert login(client, name).status_code == 302
        assert client.get(url).status_code == status, name
    client = world.test_client()
    login(client, "boss")
    assert client.get("/review/projects/999999").status_code == 404


def test_the_page_escapes_article_text_titles_and_notes(world):
    client = world.test_client()
    login(client, "rev")
    response = client.get(_page_url(world) + "?article=a2")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert EVIL not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # title, text, note
    # every script tag is data or a module file: nothing inline runs under the CSP
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'type="application/json"' in tag or " src=" in tag, tag
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_page_lists_cards_with_votes_gold_buttons_and_hotkeys(world):
    client = world.test_client()
    login(client, "boss")
    html = client.get(_page_url(world)).get_data(as_text=True)
    assert html.count('class="review-card"') == 5
    assert "cites the council&#39;s data" in html
    assert '<kbd>1</kbd> Claim' in html and '<kbd>4</kbd> Other' in html
    assert '<strong id="remaining-count">5</strong>' in html and "of 5" in html
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', html, re.S).group(1))
    assert data["labels"] == ["claim", "evidence", "boilerplate", "other"]
    assert data["hotkeys"] == ["1", "2", "3", "4"]
    assert data["nextPageUrl"] is None


def test_the_filter_form_filters(world):
    client = world.test_client()
    login(client, "rev")
    url = _page_url(world)
    def cards(query):
        html = client.get(url + query).get_data(as_text=True)
        return html.count('class="review-card"'), html
    assert cards("?label_a=boilerplate&label_b=other")[0] == 1
    assert cards("?annotator=zhao")[0] == 4
    assert cards("?article=a2&only=all-labeled")[0] == 3
    assert cards("?only=no-gold")[0] == 5
    count, html = cards("?article=missing")
    assert count == 0 and "No article with the id “missing” in this project." in html
    count, html = cards("?label_a=claim&label_b=boilerplate")
    assert count == 0 and "No paragraph matches these filters." in html


def test_setting_gold_through_the_api_updates_the_page(world):
    client = world.test_client()
    login(client, "rev")
    url = _page_url(world)
    with world.app_context():
        paragraph = _paragraphs(db.session, "news")[("a1", 1)].id
    response = client.put(f"/api/paragraphs/{paragraph}/gold", json={"label": "evidence"},
                          headers=csrf_headers(client, url))
    assert response.status_code == 200, response.get_json()
    html = client.get(url).get_data(as_text=True)
    assert '<strong id="remaining-count">4</strong>' in html
    assert re.search(rf'data-paragraph-id="{paragraph}"\s+data-gold="evidence"', html)
    assert client.get(url + "?only=no-gold").get_data(as_text=True).count('class="review-card"') == 4


def test_the_projects_list_links_the_review_page_for_admins_and_reviewers_only(world):
    review = f'href="{_page_url(world)}"'
    for name, sees_review, sees_admin_links in (("li", False, False), ("rev", True, False),
                                                ("boss", True, True)):
        client = world.test_client()
        login(client, name)
        html = client.get("/").get_data(as_text=True)
        assert (review in html) is sees_review, name
        assert ("/admin/projects/" in html) is sees_admin_links, name

"""The project list: each card's progress (the caller's own, and overall for admins) and its
Start button, offered only when the caller's queue has an article, else why not."""
from __future__ import annotations

import re

from annotator.extensions import db
from annotator.models import Project
from annotator.services import queue

from helpers import (article_pks, csrf_headers, import_articles, login, make_user, project_id,
                     user_id)


def _card(html: str, name: str) -> str:
    """The project list's card of the named project."""
    cards = re.findall(r'<li class="card">.*?</li>', html, re.S)
    found = [card for card in cards if f">{name}</a></h2>" in card]
    assert len(found) == 1, cards
    return found[0]


def _set_overlap(app, name: str, overlap: int) -> None:
    with app.app_context():
        db.session.get(Project, project_id(app, name)).overlap = overlap
        db.session.commit()


def test_start_is_offered_only_while_the_queue_has_an_article(app):
    make_user(app, "ann")
    make_user(app, "bo")
    import_articles(app, "news", [{"title": "One", "paragraphs": ["a", "b"]},
                                  {"title": "Two", "paragraphs": ["c"]}])
    first, second = article_pks(app, "news")
    client = app.test_client()
    assert login(client, "bo").status_code == 302
    card = _card(client.get("/").get_data(as_text=True), "news")
    assert "<button type=\"submit\">Start</button>" in card
    with app.app_context():
        project = db.session.get(Project, project_id(app, "news"))
        ann = user_id(app, "ann")
        queue.set_finished(db.session, first, ann, True)
        queue.claim_next(db.session, project, ann)  # holds the second one
    html = client.get("/").get_data(as_text=True)
    card = _card(html, "news")
    assert "<button" not in card
    assert "The article left is being labeled by someone else." in card
    assert "One comes free by" in card
    project_page = client.get(f"/projects/{project_id(app, 'news')}").get_data(as_text=True)
    assert "Start</button>" not in project_page and "being labeled by someone else" in project_page
    with app.app_context():
        queue.set_finished(db.session, second, user_id(app, "ann"), True)
    card = _card(client.get("/").get_data(as_text=True), "news")
    assert "<button" not in card
    assert "Nothing left for you" in card
    pid = project_id(app, "news")
    done = client.post(f"/projects/{pid}/start", headers=csrf_headers(client, "/"))
    assert done.status_code == 200  # a Start from an old page: says why, claims nothing
    assert "All done!" in done.get_data(as_text=True)
    assert "Nothing left for you" in done.get_data(as_text=True)
    _set_overlap(app, "news", 2)  # room for bo again
    card = _card(client.get("/").get_data(as_text=True), "news")
    assert "Start</button>" in card and "Nothing left" not in card


def test_an_admin_card_shows_overall_and_own_progress_each_labeled(app):
    make_user(app, "boss", "admin")
    make_user(app, "ann")
    import_articles(app, "news", [{"title": "One", "paragraphs": ["a", "b"]},
                                  {"title": "Two", "paragraphs": ["c", "d"]}])
    ann = app.test_client()
    assert login(ann, "ann").status_code == 302
    paragraphs = ann.get(f"/api/articles/{article_pks(app, 'news')[0]}").get_json()["paragraphs"]
    headers = {"X-CSRFToken": re.search(r'name="csrf-token" content="([^"]+)"',
                                        ann.get("/").get_data(as_text=True)).group(1)}
    for paragraph in paragraphs:
        assert ann.put(f"/api/paragraphs/{paragraph['id']}/annotation", headers=headers,
                       json={"label": "claim"}).status_code == 200
    boss = app.test_client()
    assert login(boss, "boss").status_code == 302
    card = _card(boss.get("/").get_data(as_text=True), "news")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card))
    assert "Overall progress: 2 / 4 paragraphs" in text
    assert "Your progress: 0 / 4 paragraphs" in text
    assert ">Start</button>" in card  # the admin's own work: none yet
    annotator_card = _card(ann.get("/").get_data(as_text=True), "news")
    assert "Overall progress" not in annotator_card
    assert ">Continue</button>" in annotator_card

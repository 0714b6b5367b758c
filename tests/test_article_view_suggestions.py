"""The article page shows the stored suggestions: from the project's threshold, escaped, and
not at all when the project has suggestions off."""
from __future__ import annotations

import lxml.html
import pytest
from sqlalchemy import delete

from annotator.extensions import db
from annotator.models import Project, Suggestion
from annotator.services.suggestions import store_suggestions

from helpers import (article_pks, csrf_token, import_articles, login, make_user, paragraph_pks,
                     project_id)

REASON = '<img src=x onerror=alert(1)> same text on 3 pages of example.com'


@pytest.fixture
def article(app):
    make_user(app, "ann")
    import_articles(app, "p", [{"id": "a", "title": "A", "paragraphs": ["one", "two", "three"]}])
    pk = article_pks(app, "p")[0]
    first, second, _third = paragraph_pks(app, pk)
    with app.app_context():
        db.session.execute(delete(Suggestion))  # only these, whatever the import suggested
        store_suggestions(db.session, [
            {"paragraph_id": first, "label": "boilerplate", "confidence": 0.97, "reason": REASON,
             "model": "signals"},
            {"paragraph_id": second, "label": "claim", "confidence": 0.5, "reason": "weak",
             "model": "signals"}])
        db.session.commit()
    return pk


def by_class(element, name: str) -> list:
    return element.xpath(f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]")


def page(app, pk: int, headers: dict | None = None):
    client = app.test_client()
    assert login(client, "ann").status_code == 302
    response = client.get(f"/articles/{pk}", headers=headers)
    assert response.status_code == 200
    return lxml.html.fromstring(response.get_data(as_text=True))


def test_a_suggestion_at_the_threshold_shows_in_words_with_its_reason(app, article):
    tree = page(app, article)
    first, second, third = by_class(tree, "para")
    assert first.get("data-suggestion") == "boilerplate"
    chip = by_class(first, "suggestion-chip")[0].text_content()
    assert " ".join(chip.split()) == "suggested: Ads/Boilerplate 0.97 a"
    reason = by_class(first, "suggestion-reason")[0]
    assert reason.text_content() == REASON  # as text: the markup is escaped
    assert reason.get("hidden") is not None  # shown on demand ("i", or the title on hover)
    assert by_class(first, "suggestion")[0].get("title") == f"{REASON} (0.97)"
    assert not tree.xpath("//li//img")
    assert second.get("data-suggestion") is None  # 0.5 is below the project's 0.8
    assert third.get("data-suggestion") is None and not by_class(third, "suggestion")
    assert tree.get_element_by_id("accept-all") is not None


def test_the_chip_is_translated(app, article):
    tree = page(app, article, {"Accept-Language": "zh-CN,zh;q=0.9"})
    chip = by_class(by_class(tree, "para")[0], "suggestion-chip")[0].text_content()
    assert " ".join(chip.split()) == "建议： 广告/模板内容 0.97 a"  # the default label in Chinese too


def test_suggestions_off_shows_none(app, article):
    with app.app_context():
        db.session.get(Project, project_id(app, "p")).suggestions_enabled = False
        db.session.commit()
    tree = page(app, article)
    assert not by_class(tree, "suggestion") and not tree.xpath("//*[@data-suggestion]")
    assert not tree.xpath("//*[@id='accept-all']")


def test_a_lower_threshold_shows_more(app, article):
    with app.app_context():
        db.session.get(Project, project_id(app, "p")).suggestion_threshold = 0.4
        db.session.commit()
    tree = page(app, article)
    assert [p.get("data-suggestion") for p in by_class(tree, "para")] == [
        "boilerplate", "claim", None]


@pytest.mark.parametrize("hotkey", ["a", "A", "u", "i"])
def test_the_suggestion_and_undo_keys_cannot_be_label_hotkeys(app, article, hotkey):
    make_user(app, "boss", "admin")
    project = project_id(app, "p")
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    token = csrf_token(admin, f"/admin/projects/{project}/settings")
    response = admin.post(f"/admin/projects/{project}/settings", data={
        "csrf_token": token, "description": "", "guidelines": "", "overlap": "1",
        "label_key": ["claim", "evidence", "boilerplate", "other"],
        "label_name": ["Claim", "Evidence", "Boilerplate", "Other"],
        "label_color": ["#d9480f", "#1971c2", "#868e96", "#2f9e44"],
        "label_hotkey": ["1", "2", "3", hotkey], "label_description": ["", "", "", ""]})
    assert response.status_code == 200
    assert "the hotkey must be one character that is not a navigation key" in \
        response.get_data(as_text=True)
    with app.app_context():
        assert [label.hotkey for label in db.session.get(Project, project).labels] == [
            "1", "2", "3", "4"]


def test_a_label_name_with_markup_is_shown_as_text_in_the_chip(app, article):
    with app.app_context():
        label = next(label for label in db.session.get(Project, project_id(app, "p")).labels
                     if label.key == "boilerplate")
        label.name = '<script>alert(1)</script>"><b>x</b>'
        db.session.commit()
    tree = page(app, article)
    chip = by_class(by_class(tree, "para")[0], "suggestion-chip")[0]
    assert '<script>alert(1)</script>"><b>x</b>' in chip.text_content()
    assert not tree.xpath("//li//b") and not tree.xpath("//li//script")

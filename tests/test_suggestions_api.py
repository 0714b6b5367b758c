"""Suggestions through the API on a real database: the source of every annotation (single
save, batch, undo, history, export), external suggestions, the project's threshold and off
switch, and the migration that added them."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import delete, func, select, text, update

from annotator import create_app
from annotator.database import migrate_to
from annotator.extensions import db
from annotator.models import (Annotation, AnnotationHistory, Article, LabelCount, Paragraph,
                              Project, Suggestion)
from annotator.services.dashboard import project_dashboard
from annotator.services.suggestions import store_suggestions
from annotator.services.text import site_of, text_key

from helpers import (SETTINGS_FORM, article_pks, bearer, csrf_token, import_articles, login, make_user,
                     paragraph_pks, project_id)
from testdb import database_url

ARTICLES = [
    {"id": "a1", "title": "Rates rise", "url": "https://www.example.org/a1",
     "paragraphs": ["The bank raised rates.", "Inflation was 5%.", "Share this article",
                    "相关文章"]},
    {"id": "a2", "title": "央行加息", "meta": {"site": "example.cn"},
     "paragraphs": ["央行宣布加息。", "上一篇：天气预报"]},
]


@pytest.fixture
def world(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    make_user(app, "wang")
    import_articles(app, "news", ARTICLES)
    with app.app_context():  # only the suggestions each test stores
        db.session.execute(delete(Suggestion))
        db.session.commit()
    first, second = article_pks(app, "news")
    return {"app": app, "project": project_id(app, "news"), "article": first, "second": second,
            "paragraphs": paragraph_pks(app, first), "others": paragraph_pks(app, second),
            "boss": bearer(app, "boss"), "li": bearer(app, "li"), "wang": bearer(app, "wang")}


def error_of(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.get_json()["error"]


def stored(app, user: str = "li") -> dict[int, tuple[str, str]]:
    """The user's annotations: paragraph id -> (label, source)."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT a.paragraph_id, a.label, a.source FROM annotation a "
            "JOIN \"user\" u ON u.id = a.user_id WHERE u.username = :name"), {"name": user})
        return {paragraph_id: (label, source) for paragraph_id, label, source in rows}


def labeled_count(app, article: int) -> int:
    with app.app_context():
        return db.session.get(Article, article).labeled_count


def suggest(app, rows) -> None:
    with app.app_context():
        store_suggestions(db.session, rows)
        db.session.commit()


def test_text_key_equal_for_width_case_whitespace_and_digits():
    assert text_key("上一篇：电池回收 2024") == text_key("上一篇： 电池回收\u30001999")
    assert text_key("ＲＥＬＡＴＥＤ  News 12") == text_key("related news 99")
    assert text_key("related news") != text_key("related views")
    assert len(text_key("x")) == 16


def test_site_of_prefers_meta_then_host_then_nothing():
    assert site_of({"site": "新浪财经"}, "https://finance.sina.com.cn/a") == "新浪财经"
    assert site_of({"site": "  "}, "https://WWW.Example.COM:8080/a?b") == "example.com"
    assert site_of(None, "http://[bad") == ""
    assert site_of({}, None) == ""


def test_the_migration_fills_sites_text_keys_and_sources(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "AUTO_MIGRATE": False,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    with app.app_context():
        migrate_to("0004")
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO \"user\" (id, username, password_hash, role, active, created_at) "
                "VALUES (1, 'ann', 'x', 'annotator', true, '2026-11-01 00:00:00')"))
            connection.execute(text(
                "INSERT INTO project (id, name, description, guidelines, overlap, created_at) "
                "VALUES (1, 'old', '', '', 1, '2026-11-01 00:00:00')"))
            connection.execute(text(
                "INSERT INTO article (id, project_id, article_id, title, url, meta, content_hash,"
                " paragraph_count, created_at) VALUES "
                "(1, 1, 'a', 'A', 'https://www.Example.com/a', :m1, 'h1', 2, '2026-11-01'),"
                "(2, 1, 'b', 'B', 'https://example.com/b', :m2, 'h2', 1, '2026-11-01'),"
                "(3, 1, 'c', 'C', NULL, '{}', 'h3', 0, '2026-11-01')"),
                {"m1": '{}', "m2": '{"site": "新浪"}'})
            connection.execute(text(
                "INSERT INTO paragraph (id, article_id, \"index\", text) VALUES "
                "(1, 1, 0, '相关文章 1'), (2, 1, 1, 'Body.'), (3, 2, 0, '相关文章  2')"))
            connection.execute(text(
                "INSERT INTO annotation (id, paragraph_id, user_id, label, created_at, updated_at)"
                " VALUES (1, 1, 1, 'boilerplate', '2026-11-01', '2026-11-01')"))
            connection.execute(text(
                "INSERT INTO annotation_history (id, paragraph_id, user_id, label, valid_from,"
                " replaced_at) VALUES (1, 1, 1, 'other', '2026-11-01', '2026-11-01')"))
        migrate_to()
        sites = dict(db.session.execute(select(Article.article_id, Article.site)).all())
        assert sites == {"a": "example.com", "b": "新浪", "c": ""}
        keys = dict(db.session.execute(select(Paragraph.id, Paragraph.text_key)).all())
        assert keys == {1: text_key("相关文章 1"), 2: text_key("Body."), 3: text_key("相关文章 2")}
        assert keys[1] == keys[3]
        assert db.session.scalars(select(Annotation.source)).all() == ["human"]
        assert db.session.scalars(select(AnnotationHistory.source)).all() == ["human"]
        # 0008: articles stored before it were scored at their import, none is pending
        assert db.session.scalars(select(Article.signals_scored)).all() == [True] * 3
        db.session.remove()
        db.engine.dispose()


# --- source on a single save and in the history ------------------------------------------


def test_source_round_trip_and_history(client, world):
    app, first = world["app"], world["paragraphs"][0]
    put = client.put(f"/api/paragraphs/{first}/annotation", headers=world["li"],
                     json={"label": "boilerplate", "source": "suggestion"})
    assert put.status_code == 200
    assert put.get_json()["source"] == "suggestion"
    assert stored(app) == {first: ("boilerplate", "suggestion")}
    page = client.get(f"/api/articles/{world['article']}", headers=world["li"]).get_json()
    assert page["paragraphs"][0]["annotation"]["source"] == "suggestion"
    # typing a label over it is an ordinary (human) label; the replaced value keeps its source
    put = client.put(f"/api/paragraphs/{first}/annotation", headers=world["li"],
                     json={"label": "claim"})
    assert put.get_json()["source"] == "human"
    with app.app_context():
        history = db.session.execute(select(AnnotationHistory.label, AnnotationHistory.source)
                                     ).all()
    assert history == [("boilerplate", "suggestion")]
    assert stored(app) == {first: ("claim", "human")}


def test_the_same_label_saved_again_stays_human_if_either_save_was(client, world):
    app, first, second = world["app"], *world["paragraphs"][:2]
    for body in ({"label": "claim"}, {"label": "claim", "source": "suggestion"}):
        assert client.put(f"/api/paragraphs/{first}/annotation", headers=world["li"],
                          json=body).get_json()["source"] == "human"
    for body, source in (({"label": "other", "source": "suggestion"}, "suggestion"),
                         ({"label": "other"}, "human")):
        assert client.put(f"/api/paragraphs/{second}/annotation", headers=world["li"],
                          json=body).get_json()["source"] == source
    assert stored(app) == {first: ("claim", "human"), second: ("other", "human")}


@pytest.mark.parametrize("source", ["model", "", None, 1, ["human"]])
def test_an_unknown_source_is_400_and_stores_nothing(client, world, source):
    first = world["paragraphs"][0]
    error = error_of(client.put(f"/api/paragraphs/{first}/annotation", headers=world["li"],
                                json={"label": "claim", "source": source}), 400)
    assert "source" in error
    assert stored(world["app"]) == {}


# --- POST /api/articles/<id>/annotations: all or nothing ----------------------------------


def test_a_batch_sets_every_label_in_one_request(client, world):
    app, (p0, p1, p2, p3) = world["app"], world["paragraphs"]
    assert client.put(f"/api/paragraphs/{p0}/annotation", headers=world["li"],
                      json={"label": "claim", "note": "kept"}).status_code == 200
    response = client.post(f"/api/articles/{world['article']}/annotations", headers=world["li"],
                           json={"items": [
                               {"paragraph_id": p2, "label": "boilerplate", "source": "suggestion"},
                               {"paragraph_id": p3, "label": "boilerplate", "source": "suggestion",
                                "note": "相关"},
                               {"paragraph_id": p0, "label": "evidence"}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    items = response.get_json()["items"]
    assert [(i["paragraph_id"], i["label"], i["source"], i["note"]) for i in items] == [
        (p2, "boilerplate", "suggestion", None), (p3, "boilerplate", "suggestion", "相关"),
        (p0, "evidence", "human", "kept")]
    assert all(set(i) == {"paragraph_id", "label", "note", "source", "updated_at"}
               for i in items)
    assert stored(app) == {p0: ("evidence", "human"), p2: ("boilerplate", "suggestion"),
                           p3: ("boilerplate", "suggestion")}
    assert labeled_count(app, world["article"]) == 3
    with app.app_context():
        counts = dict(db.session.execute(select(LabelCount.label, func.sum(LabelCount.count))
                                         .group_by(LabelCount.label)).all())
    assert counts == {"boilerplate": 2, "evidence": 1, "claim": 0}


@pytest.mark.parametrize("bad, expected", [
    ({"label": "nope"}, "items[1]: unknown label 'nope'"),
    ({"label": "claim", "source": "robot"}, 'items[1]: "source"'),
    ({"label": 3}, 'items[1]: "label"'),
    ({"label": "claim", "note": 5}, 'items[1]: "note"'),
    ({"label": "claim", "paragraph_id": "x"}, 'items[1]: "paragraph_id"'),
    ({"label": "claim", "paragraph_id": True}, 'items[1]: "paragraph_id"'),
    ({"label": "claim", "paragraph_id": "OTHER"}, "items[1]: paragraph"),
    ({"label": "claim", "paragraph_id": "FIRST"}, "items[1]: paragraph"),
])
def test_one_bad_item_stores_nothing_and_names_the_item(client, world, bad, expected):
    app, (p0, p1, *_rest) = world["app"], world["paragraphs"]
    item = {"paragraph_id": p1, **bad}
    placeholders = {"OTHER": world["others"][0], "FIRST": p0}  # another article's; a repeat
    if item["paragraph_id"] in placeholders:
        item["paragraph_id"] = placeholders[item["paragraph_id"]]
    error = error_of(client.post(
        f"/api/articles/{world['article']}/annotations", headers=world["li"],
        json={"items": [{"paragraph_id": p0, "label": "claim"}, item]}), 400)
    assert error.startswith(expected), error
    assert stored(app) == {}
    assert labeled_count(app, world["article"]) == 0


@pytest.mark.parametrize("body", [{}, {"items": []}, {"items": {}}, {"items": [1]},
                                  {"items": [{"paragraph_id": 1, "label": "claim"}] * 5001}])
def test_a_batch_that_is_not_a_list_of_items_is_400(client, world, body):
    error_of(client.post(f"/api/articles/{world['article']}/annotations", headers=world["li"],
                         json=body), 400)
    assert stored(world["app"]) == {}


def test_a_batch_for_a_missing_article_is_404(client, world):
    error_of(client.post("/api/articles/999999/annotations", headers=world["li"],
                         json={"items": [{"paragraph_id": 1, "label": "claim"}]}), 404)


# --- DELETE /api/articles/<id>/annotations: the undo ---------------------------------------


def test_undo_clears_the_callers_labels_of_those_paragraphs_only(client, world):
    app, (p0, p1, p2, p3) = world["app"], world["paragraphs"]
    url = f"/api/articles/{world['article']}/annotations"
    assert client.post(url, headers=world["li"], json={"items": [
        {"paragraph_id": p, "label": "boilerplate", "source": "suggestion"}
        for p in (p2, p3)]}).status_code == 200
    assert client.put(f"/api/paragraphs/{p0}/annotation", headers=world["li"],
                      json={"label": "claim"}).status_code == 200
    assert client.put(f"/api/paragraphs/{p2}/annotation", headers=world["wang"],
                      json={"label": "other"}).status_code == 200
    response = client.delete(url, headers=world["li"],
                             json={"paragraph_ids": [p2, p3, p1, world["others"][0]]})
    assert response.status_code == 200
    assert sorted(response.get_json()["cleared"]) == sorted([p2, p3])
    assert stored(app) == {p0: ("claim", "human")}
    assert stored(app, "wang") == {p2: ("other", "human")}
    assert labeled_count(app, world["article"]) == 2  # li's p0 and wang's p2
    with app.app_context():
        history = db.session.execute(select(AnnotationHistory.paragraph_id,
                                            AnnotationHistory.source)).all()
        boilerplate = db.session.scalar(select(func.sum(LabelCount.count))
                                        .where(LabelCount.label == "boilerplate"))
    assert sorted(history) == sorted([(p2, "suggestion"), (p3, "suggestion")])
    assert boilerplate == 0


@pytest.mark.parametrize("ids", [None, [], ["1"], [True], [2**31]])
def test_undo_without_paragraph_ids_is_400(client, world, ids):
    error_of(client.delete(f"/api/articles/{world['article']}/annotations", headers=world["li"],
                           json={"paragraph_ids": ids}), 400)


# --- suggestions in GET /api/articles/<id>, external ones, threshold and switch -----------


def test_external_suggestions_are_stored_and_shown_with_their_model(client, world):
    app, (p0, p1, p2, p3) = world["app"], world["paragraphs"]
    response = client.put(f"/api/articles/{world['article']}/suggestions", headers=world["boss"],
                          json={"model": "my-bert", "items": [
                              {"paragraph_id": p2, "label": "boilerplate", "confidence": 0.97,
                               "reason": "share widget"},
                              {"paragraph_id": p3, "label": "boilerplate", "confidence": 1}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["items"][0] == {
        "paragraph_id": p2, "label": "boilerplate", "confidence": 0.97,
        "reason": "my-bert: share widget"}
    page = client.get(f"/api/articles/{world['article']}", headers=world["li"]).get_json()
    assert [p["suggestion"] for p in page["paragraphs"]] == [
        None, None,
        {"label": "boilerplate", "confidence": 0.97, "reason": "my-bert: share widget"},
        {"label": "boilerplate", "confidence": 1.0, "reason": "my-bert"}]
    # a suggestion counts nowhere until accepted
    assert stored(app) == {} and labeled_count(app, world["article"]) == 0
    with app.app_context():
        assert db.session.scalars(select(Suggestion.model)).all() == ["my-bert", "my-bert"]


@pytest.mark.parametrize("change, expected", [
    ({"model": "signals"}, '"model"'),
    ({"model": ""}, '"model"'),
    ({"model": "m" * 65}, '"model"'),
    ({"items": []}, '"items"'),
    ({"items": [{"label": "claim", "confidence": 1.5}]}, 'items[0]: "confidence"'),
    ({"items": [{"label": "claim", "confidence": True}]}, 'items[0]: "confidence"'),
    ({"items": [{"label": "claim", "confidence": "0.9"}]}, 'items[0]: "confidence"'),
    ({"items": [{"label": "nope", "confidence": 0.9}]}, "items[0]: unknown label"),
    ({"items": [{"label": "claim", "confidence": 0.9, "reason": "r" * 201}]},
     'items[0]: "reason"'),
])
def test_bad_external_suggestions_are_400_and_store_nothing(client, world, change, expected):
    body = {"model": "mine", "items": [{"label": "claim", "confidence": 0.9}], **change}
    for item in body["items"]:
        item.setdefault("paragraph_id", world["paragraphs"][0])
    error = error_of(client.put(f"/api/articles/{world['article']}/suggestions",
                                headers=world["boss"], json=body), 400)
    assert error.startswith(expected), error
    with world["app"].app_context():
        assert db.session.scalar(select(func.count()).select_from(Suggestion)) == 0


def test_external_suggestions_need_an_admin_and_the_articles_paragraphs(client, world):
    url = f"/api/articles/{world['article']}/suggestions"
    body = {"model": "mine", "items": [
        {"paragraph_id": world["others"][0], "label": "claim", "confidence": 0.9}]}
    error_of(client.put(url, headers=world["li"], json=body), 403)
    assert "not in article" in error_of(client.put(url, headers=world["boss"], json=body), 400)


def test_threshold_and_off_switch_decide_what_is_shown(client, world):
    app, (p0, p1, p2, p3) = world["app"], world["paragraphs"]
    suggest(app, [
        {"paragraph_id": p2, "label": "boilerplate", "confidence": 0.95, "reason": "x",
         "model": "signals"},
        {"paragraph_id": p3, "label": "boilerplate", "confidence": 0.79, "reason": "y",
         "model": "signals"},
        {"paragraph_id": p0, "label": "claim", "confidence": 0.8, "reason": "z",
         "model": "model"}])

    def shown() -> list:
        page = client.get(f"/api/articles/{world['article']}", headers=world["li"]).get_json()
        return [p["suggestion"] and p["suggestion"]["label"] for p in page["paragraphs"]]

    assert shown() == ["claim", None, "boilerplate", None]  # the default threshold is 0.8
    with app.app_context():
        db.session.execute(update(Project).values(suggestion_threshold=0.9))
        db.session.commit()
    assert shown() == [None, None, "boilerplate", None]
    with app.app_context():
        db.session.execute(update(Project).values(suggestions_enabled=False))
        db.session.commit()
    assert shown() == [None, None, None, None]


def test_a_labeled_paragraph_keeps_its_suggestion_for_the_client(client, world):
    app, p2 = world["app"], world["paragraphs"][2]
    suggest(app, [{"paragraph_id": p2, "label": "boilerplate", "confidence": 0.9,
                   "reason": "x", "model": "signals"}])
    assert client.put(f"/api/paragraphs/{p2}/annotation", headers=world["li"],
                      json={"label": "other"}).status_code == 200
    page = client.get(f"/api/articles/{world['article']}", headers=world["li"]).get_json()
    assert page["paragraphs"][2]["annotation"]["label"] == "other"
    assert page["paragraphs"][2]["suggestion"]["label"] == "boilerplate"


def test_storing_again_replaces_the_paragraphs_suggestion(world):
    app, p2 = world["app"], world["paragraphs"][2]
    suggest(app, [{"paragraph_id": p2, "label": "other", "confidence": 0.5, "reason": "a",
                   "model": "signals"}])
    suggest(app, [{"paragraph_id": p2, "label": "boilerplate", "confidence": 0.9,
                   "reason": "b" * 300, "model": "model"}])
    with app.app_context():
        row = db.session.execute(select(Suggestion.label, Suggestion.confidence,
                                        Suggestion.reason, Suggestion.model)).one()
    assert row == ("boilerplate", 0.9, "b" * 200, "model")


# --- export: source, and --suggestions / suggestions=1 -------------------------------------


def _jsonl(raw: bytes) -> list[dict]:
    return [json.loads(line) for line in raw.decode().splitlines()]


def test_export_carries_source_and_with_suggestions_each_paragraphs_suggestion(client, world):
    app, (p0, p1, p2, p3) = world["app"], world["paragraphs"]
    assert client.post(f"/api/articles/{world['article']}/annotations", headers=world["li"],
                       json={"items": [{"paragraph_id": p0, "label": "claim"},
                                       {"paragraph_id": p2, "label": "boilerplate",
                                        "source": "suggestion"}]}).status_code == 200
    suggest(app, [{"paragraph_id": p2, "label": "boilerplate", "confidence": 0.5,
                   "reason": "same text on 3 pages of example.org", "model": "signals"}])
    runner = app.test_cli_runner()
    plain = _jsonl(runner.invoke(args=["export", "--project", "news"]).stdout_bytes)
    assert [[a["source"] for a in line["annotations"]] for line in plain[:4]] == [
        ["human"], [], ["suggestion"], []]
    assert all("suggestion" not in line for line in plain)
    expected = [None, None, {"label": "boilerplate", "confidence": 0.5,
                             "reason": "same text on 3 pages of example.org"}, None, None, None]
    result = runner.invoke(args=["export", "--project", "news", "--suggestions"])
    assert result.exit_code == 0, result.output
    assert [line["suggestion"] for line in _jsonl(result.stdout_bytes)] == expected
    articles = _jsonl(runner.invoke(args=["export", "--project", "news", "--suggestions",
                                          "--unit", "article"]).stdout_bytes)
    assert [p["suggestion"] for a in articles for p in a["paragraphs"]] == expected
    over_http = client.get(f"/api/projects/{world['project']}/export.jsonl?suggestions=1",
                           headers=world["boss"])
    assert [line["suggestion"] for line in _jsonl(over_http.data)] == expected
    # suggestions off: nothing suggested, in the export too
    with app.app_context():
        db.session.execute(update(Project).values(suggestions_enabled=False))
        db.session.commit()
    off = _jsonl(runner.invoke(args=["export", "--project", "news", "--suggestions"]).stdout_bytes)
    assert [line["suggestion"] for line in off] == [None] * 6


def test_the_dataset_card_says_what_source_and_suggestion_mean(world, tmp_path):
    app = world["app"]
    result = app.test_cli_runner().invoke(args=[
        "export", "--project", "news", "--suggestions", "--split", "train=0.5,test=0.5",
        "-o", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "ds" / "README.md").read_text()
    assert '`"suggestion"` (a suggestion the annotator accepted)' in card
    assert "`suggestion` is the app's stored suggestion" in card


# --- the project settings page -------------------------------------------------------------


def _settings(app, project: int) -> tuple[bool, float]:
    with app.app_context():
        found = db.session.get(Project, project)
        return found.suggestions_enabled, found.suggestion_threshold


def test_settings_turn_suggestions_off_and_set_the_threshold(client, world):
    app, project, p2 = world["app"], world["project"], world["paragraphs"][2]
    suggest(app, [{"paragraph_id": p2, "label": "boilerplate", "confidence": 0.85,
                   "reason": "x", "model": "signals"}])
    assert login(client, "boss").status_code == 302
    url = f"/admin/projects/{project}/settings"
    page = client.get(url).get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*name="suggestions_enabled"|'
                     r'<input[^>]*name="suggestions_enabled"[^>]*checked', page)
    assert re.search(r'name="suggestion_threshold"[^>]*value="0.8"', page)

    def save(**fields):
        return client.post(url, data={**SETTINGS_FORM, **fields, "csrf_token": csrf_token(client, url)})

    def shown():
        article = client.get(f"/api/articles/{world['article']}", headers=world["li"]).get_json()
        return article["paragraphs"][2]["suggestion"]

    assert save(suggestions_enabled="y", suggestion_threshold="0.9").status_code == 302
    assert _settings(app, project) == (True, 0.9)
    assert shown() is None  # 0.85 < 0.9
    assert save(suggestions_enabled="y", suggestion_threshold="0.5").status_code == 302
    assert shown()["label"] == "boilerplate"
    assert save(suggestion_threshold="0.5").status_code == 302  # the box unticked
    assert _settings(app, project) == (False, 0.5)
    assert shown() is None


@pytest.mark.parametrize("threshold", ["1.5", "-0.1", "", "nan", "high"])
def test_a_threshold_outside_0_to_1_is_refused_and_nothing_changes(client, world, threshold):
    app, project = world["app"], world["project"]
    assert login(client, "boss").status_code == 302
    url = f"/admin/projects/{project}/settings"
    response = client.post(url, data={**SETTINGS_FORM, "overlap": "2", "suggestion_threshold": threshold,
                                      "csrf_token": csrf_token(client, url)})
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    assert _settings(app, project) == (True, 0.8)
    with app.app_context():
        assert db.session.get(Project, project).overlap == 1


# --- agreement on human labels only --------------------------------------------------------


def test_agreement_can_leave_out_accepted_suggestions_and_says_so(client, world, tmp_path):
    app, (p0, p1, p2, p3) = world["app"], world["paragraphs"]
    url = f"/api/articles/{world['article']}/annotations"
    for user, middle in (("li", "evidence"), ("wang", "other")):
        assert client.post(url, headers=world[user], json={"items": [
            {"paragraph_id": p0, "label": "claim"}, {"paragraph_id": p1, "label": middle},
            {"paragraph_id": p2, "label": "boilerplate", "source": "suggestion"},
            {"paragraph_id": p3, "label": "boilerplate", "source": "suggestion"}]}
        ).status_code == 200
    runner = app.test_cli_runner()

    def agreement(*flags: str) -> dict:
        result = runner.invoke(args=["agreement", "--project", "news", "--json",
                                     "--resamples", "0", *flags])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    every, human = agreement(), agreement("--human-only")
    assert (every["human_only"], every["n_items"], every["overall"]["observed"]["value"]) == (
        False, 4, 0.75)
    assert (human["human_only"], human["n_items"], human["overall"]["observed"]["value"]) == (
        True, 2, 0.5)
    text_report = runner.invoke(args=["agreement", "--project", "news", "--human-only",
                                      "--resamples", "0"]).stdout
    assert text_report.startswith("Human labels only: accepted suggestions are left out.")
    assert runner.invoke(args=["agreement", "--project", "news", "--resamples", "0"]
                         ).stdout.startswith("Every label, accepted suggestions included.")
    result = runner.invoke(args=["export", "--project", "news", "--split", "train=0.5,test=0.5",
                                 "-o", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "## Agreement\n\nHuman labels only: accepted suggestions are left out.\n\n2 paragraphs" \
        in card


def test_the_dashboard_counts_accepted_confirmed_and_overridden_suggestions(client, world):
    app, (p0, p1, p2, p3) = world["app"], world["paragraphs"]
    suggest(app, [{"paragraph_id": p, "label": label, "confidence": 0.9, "reason": "r",
                   "model": "signals"}
                  for p, label in ((p0, "claim"), (p1, "evidence"), (p2, "boilerplate"),
                                   (p3, "boilerplate"))])
    save = lambda who, p, label, source="human": client.put(  # noqa: E731
        f"/api/paragraphs/{p}/annotation", headers=world[who],
        json={"label": label, "source": source})
    assert save("li", p2, "boilerplate", "suggestion").status_code == 200  # accepted
    assert save("li", p3, "boilerplate", "suggestion").status_code == 200  # accepted
    assert save("wang", p3, "boilerplate").status_code == 200  # typed the same
    assert save("li", p0, "evidence").status_code == 200  # overridden
    assert save("li", p1, "evidence").status_code == 200  # typed the same
    with app.app_context():
        data = project_dashboard(db.session, db.session.get(Project, world["project"]))
    assert data.suggestion_outcomes == {"boilerplate": (2, 1, 0), "claim": (0, 0, 1),
                                        "evidence": (0, 1, 0)}
    browser = app.test_client()
    login(browser, "boss")
    page = browser.get(f"/admin/projects/{world['project']}/dashboard").get_data(as_text=True)
    section = page[page.index('id="suggestions-heading"'):]
    assert re.search(r"Ads/Boilerplate</th>\s*<td class=\"num\">2 <span class=\"share\">67%", section)
    assert "Overridden" in section

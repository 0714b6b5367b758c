"""The project settings page edits the span label set and the relation set: add, rename,
hotkey, colour, remove; a key that spans or links use is never removed (the refusal counts
them). Paragraph label changes leave spans and links alone."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Link, Relation, Span, SpanLabel

from helpers import (SETTINGS_FORM, article_pks, bearer, csrf_headers, import_articles, login,
                     make_user, paragraph_pks, project_id)

SPAN_LABELS = {"span_label_key": ["claim", "evidence", ""],
               "span_label_name": ["Claim", "Evidence", ""],
               "span_label_color": ["#d9480f", "#1971c2", "#7048e8"],
               "span_label_hotkey": ["1", "2", ""]}
RELATIONS = {"relation_key": ["supports", "attacks", ""],
             "relation_name": ["Supports", "Attacks", ""],
             "relation_hotkey": ["s", "x", ""]}


@pytest.fixture
def world(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    make_user(app, "rev", "reviewer")
    import_articles(app, "news", [{"id": "a", "title": "T", "paragraphs": ["央行宣布加息。", "通胀 5%。"]}])
    article = article_pks(app, "news")[0]
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    return {"project": project_id(app, "news"), "article": article,
            "paragraphs": paragraph_pks(app, article), "admin": admin,
            "li": bearer(app, "li"), "rev": bearer(app, "rev")}


def post(world, **fields):
    path = f"/admin/projects/{world['project']}/settings"
    return world["admin"].post(path, data={**SETTINGS_FORM, **SPAN_LABELS, **RELATIONS, **fields},
                               headers=csrf_headers(world["admin"], path))


def span_labels(app):
    with app.app_context():
        return db.session.execute(select(SpanLabel.key, SpanLabel.name, SpanLabel.color,
                                         SpanLabel.hotkey).order_by(SpanLabel.position)).all()


def relations(app):
    with app.app_context():
        return db.session.execute(select(Relation.key, Relation.name, Relation.hotkey)
                                  .order_by(Relation.position)).all()


DEFAULT_SPANS = [("claim", "Claim", "#d9480f", "1"), ("evidence", "Evidence", "#1971c2", "2")]
DEFAULT_RELATIONS = [("supports", "Supports", "s"), ("attacks", "Attacks", "x")]


def mark_and_link(app, client, world):
    """li: a claim span linked from the second paragraph (supports); gold: the same."""
    first, second = world["paragraphs"]
    for headers, prefix in ((world["li"], ""), (world["rev"], "gold/")):
        response = client.put(f"/api/paragraphs/{first}/{prefix}spans", headers=headers,
                              json={"spans": [{"start": 0, "end": 2, "label": "claim"}]})
        span_id = response.get_json()["spans"][0]["id"]
        assert client.put(f"/api/articles/{world['article']}/{prefix}links", headers=headers,
                          json={"links": [{"from": {"paragraph_id": second},
                                           "to": {"span_id": span_id}}]}).status_code == 200


def test_the_page_shows_both_sets_and_a_form_without_them_changes_neither(app, world):
    page = world["admin"].get(f"/admin/projects/{world['project']}/settings")
    text = page.get_data(as_text=True)
    assert 'name="span_label_key" value="claim"' in text and 'name="relation_key" value="attacks"' in text
    path = f"/admin/projects/{world['project']}/settings"
    response = world["admin"].post(path, data=SETTINGS_FORM,
                                   headers=csrf_headers(world["admin"], path))
    assert response.status_code == 302
    assert span_labels(app) == DEFAULT_SPANS and relations(app) == DEFAULT_RELATIONS


def test_add_rename_recolour_rekey_and_reorder(app, client, world):
    response = post(world, span_label_key=["evidence", "claim", "premise"],
                    span_label_name=["Evidence", "Main claim", "Premise"],
                    span_label_color=["#1971c2", "#aa0000", "#2f9e44"],
                    span_label_hotkey=["2", "c", "3"],
                    relation_key=["supports", "attacks", "elaborates"],
                    relation_name=["Supports", "Rebuts", "Elaborates"],
                    relation_hotkey=["s", "r", "e"])
    assert response.status_code == 302, response.get_data(as_text=True)
    assert span_labels(app) == [("evidence", "Evidence", "#1971c2", "2"),
                                ("claim", "Main claim", "#aa0000", "c"),
                                ("premise", "Premise", "#2f9e44", "3")]
    assert relations(app) == [("supports", "Supports", "s"), ("attacks", "Rebuts", "r"),
                              ("elaborates", "Elaborates", "e")]
    project = client.get("/api/projects", headers=world["li"]).get_json()[0]
    assert [label["key"] for label in project["span_labels"]] == ["evidence", "claim", "premise"]
    first = world["paragraphs"][0]
    assert client.put(f"/api/paragraphs/{first}/spans", headers=world["li"], json={
        "spans": [{"start": 0, "end": 2, "label": "premise"}]}).status_code == 200


def test_unused_keys_are_removed_and_then_refused_by_the_api(app, client, world):
    response = post(world, span_label_remove="evidence", relation_remove="attacks")
    assert response.status_code == 302
    assert span_labels(app) == DEFAULT_SPANS[:1] and relations(app) == DEFAULT_RELATIONS[:1]
    first, second = world["paragraphs"]
    refused = client.put(f"/api/paragraphs/{first}/spans", headers=world["li"], json={
        "spans": [{"start": 0, "end": 2, "label": "evidence"}]})
    assert refused.status_code == 400 and "unknown span label 'evidence'" in refused.get_json()["error"]
    refused = client.put(f"/api/articles/{world['article']}/links", headers=world["li"], json={
        "links": [{"from": {"paragraph_id": first}, "to": {"paragraph_id": second},
                   "relation": "attacks"}]})
    assert refused.status_code == 400 and "unknown relation 'attacks'" in refused.get_json()["error"]


def test_keys_in_use_are_not_removed_and_the_refusal_counts_their_uses(app, client, world):
    mark_and_link(app, client, world)
    response = post(world, span_label_remove="claim", relation_remove="supports",
                    description="changed too?")
    assert response.status_code == 200
    text = html.unescape(response.get_data(as_text=True))
    assert "Span label “claim” is in use (1 span, 1 gold span): it stays until they are removed." in text
    assert "Relation “supports” is in use (1 link, 1 gold link)" in text
    assert "1 span, 1 gold span" in text  # the In use column
    assert span_labels(app) == DEFAULT_SPANS and relations(app) == DEFAULT_RELATIONS
    page = world["admin"].get(f"/admin/projects/{world['project']}/settings")
    assert "changed too?" not in page.get_data(as_text=True)  # nothing of that post was saved


@pytest.mark.parametrize("fields, message", [
    ({"span_label_hotkey": ["s", "2", ""]}, "Span label “claim”: the hotkey must be one character, not one of j k s."),
    ({"span_label_hotkey": ["1", "1", ""]}, "Two of the Span label rows share the hotkey “1”."),
    ({"relation_hotkey": ["1", "x", ""]}, "Relation “supports”: the hotkey must be one character"),
    ({"relation_key": ["supports", "attacks", "Bad Key"], "relation_name": ["Supports", "Attacks", "Bad"],
      "relation_hotkey": ["s", "x", "b"]}, "Relation key “Bad Key” must be 1–32 of a-z, 0-9, _ and -."),
    ({"span_label_name": ["", "Evidence", ""]}, "Span label “claim” needs a name"),
    ({"span_label_color": ["red", "#1971c2", "#7048e8"]}, "Span label “claim”: colour must look like #1a2b3c."),
    ({"span_label_key": ["claim", "evidence", "claim"], "span_label_name": ["Claim", "Evidence", "Again"],
      "span_label_hotkey": ["1", "2", "3"]}, "Two of the Span label rows share the key “claim”."),
    ({"relation_name": ["Supports", "Attacks"]}, "The form arrived incomplete"),
])
def test_bad_rows_are_refused_and_nothing_changes(app, world, fields, message):
    response = post(world, **fields)
    assert response.status_code == 200
    assert message in html.unescape(response.get_data(as_text=True))
    assert span_labels(app) == DEFAULT_SPANS and relations(app) == DEFAULT_RELATIONS


def test_paragraph_label_changes_leave_spans_and_links_alone(app, client, world):
    mark_and_link(app, client, world)
    first = world["paragraphs"][0]
    assert client.put(f"/api/paragraphs/{first}/annotation", headers=world["li"],
                      json={"label": "claim"}).status_code == 200
    with app.app_context():
        before = (db.session.execute(select(Span.id, Span.start, Span.end, Span.label)).all(),
                  db.session.execute(select(Link.id, Link.relation)).all())
    # the paragraph label "claim" removed, its uses relabeled as "evidence"; "other" removed
    form = {name: [v for v, key in zip(value, SETTINGS_FORM["label_key"])
                   if key in ("evidence", "boilerplate")] if isinstance(value, list) else value
            for name, value in SETTINGS_FORM.items()}
    path = f"/admin/projects/{world['project']}/settings"
    response = world["admin"].post(path, data={**form, "label_remove": ["claim", "other"],
                                               "relabel_from": "claim", "relabel_to": "evidence"},
                                   headers=csrf_headers(world["admin"], path))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.delete(f"/api/paragraphs/{first}/annotation",
                         headers=world["li"]).status_code == 204
    with app.app_context():
        after = (db.session.execute(select(Span.id, Span.start, Span.end, Span.label)).all(),
                 db.session.execute(select(Link.id, Link.relation)).all())
    assert after == before and len(after[0]) == 2 and len(after[1]) == 2
    assert span_labels(app) == DEFAULT_SPANS


@pytest.mark.parametrize("what", ["span label", "relation"])
def test_a_save_racing_a_removal_never_writes_the_removed_key(app, client, world, what):
    """A span or link save that arrives while a settings change removing its key holds its
    transaction waits for it, and is then checked against the new set: 400, nothing written."""
    import threading
    import time

    from sqlalchemy import delete

    from annotator.database import write_transaction
    from annotator.services.spans import change_span_labels

    first, second = world["paragraphs"]
    holding, answered = threading.Event(), []
    model, key = (SpanLabel, "evidence") if what == "span label" else (Relation, "attacks")

    def remove() -> None:  # what the settings page does, held open for a moment
        with app.app_context(), write_transaction(db.session):
            change_span_labels(db.session)
            db.session.execute(delete(model).where(model.key == key))
            db.session.flush()
            holding.set()
            time.sleep(1.0)
            db.session.commit()

    def save() -> None:
        if what == "span label":
            response = app.test_client().put(f"/api/paragraphs/{first}/spans", headers=world["li"],
                                             json={"spans": [{"start": 0, "end": 2, "label": key}]})
        else:
            response = app.test_client().put(
                f"/api/articles/{world['article']}/links", headers=world["li"],
                json={"links": [{"from": {"paragraph_id": first}, "to": {"paragraph_id": second},
                                 "relation": key}]})
        answered.append((response.status_code, response.get_json()))

    remover = threading.Thread(target=remove)
    remover.start()
    assert holding.wait(10)
    saver = threading.Thread(target=save)
    saver.start()
    remover.join()
    saver.join()
    status, body = answered[0]
    assert status == 400 and f"unknown {what} '{key}'" in body["error"], answered
    with app.app_context():
        assert db.session.scalars(select(Span.id)).all() == []
        assert db.session.scalars(select(Link.id)).all() == []


def test_the_refusal_is_in_the_ui_language(app, client, world):
    mark_and_link(app, client, world)
    world["admin"].set_cookie("lang", "zh")
    response = post(world, span_label_remove="claim")
    text = html.unescape(response.get_data(as_text=True))
    assert "片段标签“claim”正在使用中（1 个片段、1 个金标准片段）" in text
    assert "片段标签" in text and "关系" in text

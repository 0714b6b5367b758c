"""Spans and links through the JSON API (SPEC "Spans and links"): validation (400, nothing
stored), offsets in code points for every script, replace keeping ids and links, gold routes
for reviewers and admins, and each annotator seeing only their own."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from annotator.extensions import db
from annotator.models import Link, Span
from annotator.services import spans as service

from helpers import (article_pks, bearer, csrf_headers, import_articles, login, make_user,
                     paragraph_pks, user_id)

# One paragraph per script that JavaScript and Python count differently, or that a careless
# implementation splits: each with the substring a span must cover exactly.
SCRIPTS = {
    "zwj emoji": ("家庭 👩‍👩‍👧 出行", "👩‍👩‍👧"),
    "combining marks": ("Cafe\u0301 au lait, tre\u0300s bon", "Cafe\u0301"),
    "cjk extension b": ("𠀋𠀌是扩展B区的字", "𠀋𠀌"),
    "hebrew niqqud": ("שָׁלוֹם עוֹלָם", "עוֹלָם"),
    "arabic harakat": ("مَرْحَبًا بِالْعَالَمِ", "بِالْعَالَمِ"),
    "full-width punctuation": ("他说：“加息！”（见附表）。", "“加息！”"),
}


@pytest.fixture
def world(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    make_user(app, "wang")
    make_user(app, "rev", "reviewer")
    import_articles(app, "news", [
        {"id": "a1", "title": "Rates", "paragraphs": [
            "The bank raised rates.", "Inflation was 5% in May.", "央行宣布加息。"]},
        {"id": "a2", "title": "Other", "paragraphs": ["Elsewhere."]},
        {"id": "scripts", "title": "Scripts", "paragraphs": [text for text, _ in SCRIPTS.values()]},
    ])
    a1, a2, scripts = article_pks(app, "news")
    return {"a1": a1, "a2": a2, "scripts": scripts,
            "p": paragraph_pks(app, a1), "q": paragraph_pks(app, a2)[0],
            "s": paragraph_pks(app, scripts),
            "boss": bearer(app, "boss"), "li": bearer(app, "li"), "wang": bearer(app, "wang"),
            "rev": bearer(app, "rev")}


def put_spans(client, headers, paragraph_id, spans, gold=False):
    path = f"/api/paragraphs/{paragraph_id}/{'gold/' if gold else ''}spans"
    return client.put(path, headers=headers, json={"spans": spans})


def put_links(client, headers, article_id, links, gold=False):
    path = f"/api/articles/{article_id}/{'gold/' if gold else ''}links"
    return client.put(path, headers=headers, json={"links": links})


def span(start, end, label="claim"):
    return {"start": start, "end": end, "label": label}


def stored_spans(response):
    assert response.status_code == 200, response.get_json()
    return response.get_json()["spans"]


def error_of(response, status=400) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]
    return body["error"]


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Span)),
                db.session.scalar(select(func.count()).select_from(Link)))


# --- spans: validation ------------------------------------------------------------------------


@pytest.mark.parametrize("spans, message", [
    ([span(3, 3)], "spans[0] is empty: start 3 is not before end 3"),
    ([span(0, 2), span(5, 4)], "spans[1] is empty: start 5 is not before end 4"),
    ([span(-1, 4)], "spans[0]: start -1 is before the paragraph's start (0)"),
    ([span(0, 23)], "spans[0]: end 23 is past the paragraph's 22 characters"),
    ([span(0, 10), span(4, 12)], "spans[1] overlaps spans[0]: both are 'claim' (4-12 and 0-10)"),
    ([span(0, 20), span(2, 3, "evidence"), span(10, 12)], "spans[2] overlaps spans[0]"),
    ([span(0, 4), span(0, 4)], "spans[1] overlaps spans[0]"),
    ([span(0, 4, "boilerplate")], "spans[0]: unknown span label 'boilerplate' for this project"),
    ([{"start": 0, "end": 4}], 'spans[0] has no "label"'),
    ([{"start": True, "end": 4, "label": "claim"}], 'spans[0]: "start" must be a whole number'),
    ([{"start": 0, "end": 4.0, "label": "claim"}], 'spans[0]: "end" must be a whole number'),
    ([{"start": "0", "end": 4, "label": "claim"}], 'spans[0]: "start" must be a whole number'),
    ([{"start": 0, "end": 4, "label": 7}], 'spans[0]: "label" must be a span label key'),
    ([[0, 4, "claim"]], "spans[0] must be an object"),
    ([span(0, 10**30)], "spans[0]: end 1000000000000000000000000000000 is past"),
    ([span(i, i + 1) for i in range(22)] * 46, '"spans" has 1012 entries; the limit is 1000'),
])
def test_bad_spans_are_400_naming_the_problem_and_store_nothing(app, client, world, spans,
                                                                message):
    paragraph = world["p"][0]  # "The bank raised rates.": 22 characters
    before = stored_spans(put_spans(client, world["li"], paragraph, [span(4, 8, "evidence")]))
    assert message in error_of(put_spans(client, world["li"], paragraph, spans))
    assert stored_spans(put_spans(client, world["li"], paragraph,
                                  [span(4, 8, "evidence")])) == before  # still the one, same id
    assert counts(app) == (1, 0)


@pytest.mark.parametrize("body", [{}, {"spans": None}, {"spans": {"start": 0}}, {"span": []}])
def test_a_body_without_a_spans_list_is_400(client, world, body):
    response = client.put(f"/api/paragraphs/{world['p'][0]}/spans", headers=world["li"], json=body)
    assert error_of(response) == '"spans" must be a list'


def test_different_labels_may_overlap_and_nest_and_same_label_spans_may_touch(client, world):
    paragraph = world["p"][0]
    wanted = [span(8, 22), span(0, 8), span(4, 15, "evidence"), span(16, 22, "evidence")]
    stored = stored_spans(put_spans(client, world["li"], paragraph, wanted))
    assert [(s["start"], s["end"], s["label"]) for s in stored] == [
        (0, 8, "claim"), (4, 15, "evidence"), (8, 22, "claim"), (16, 22, "evidence")]
    nested = [span(0, 22), span(4, 10, "evidence"), span(12, 20, "evidence")]
    stored = stored_spans(put_spans(client, world["li"], paragraph, nested))
    assert [(s["start"], s["end"], s["label"]) for s in stored] == [
        (0, 22, "claim"), (4, 10, "evidence"), (12, 20, "evidence")]


def test_an_empty_list_removes_the_callers_spans(app, client, world):
    paragraph = world["p"][0]
    stored_spans(put_spans(client, world["li"], paragraph, [span(0, 3)]))
    assert stored_spans(put_spans(client, world["li"], paragraph, [])) == []
    assert counts(app) == (0, 0)


def test_unknown_paragraph_is_404_and_a_session_needs_the_csrf_token(client, world):
    assert error_of(put_spans(client, world["li"], 999999, [span(0, 1)]), 404)
    login(client, "li")
    path = f"/api/paragraphs/{world['p'][0]}/spans"
    refused = client.put(path, json={"spans": [span(0, 3)]})
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    accepted = client.put(path, json={"spans": [span(0, 3)]}, headers=csrf_headers(client))
    assert [s["end"] for s in stored_spans(accepted)] == [3]


# --- offsets: code points of the stored text ----------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS)
def test_offsets_are_code_points_of_the_stored_text_round_trip(client, world, script):
    index = list(SCRIPTS).index(script)
    text, part = SCRIPTS[script]
    paragraph = world["s"][index]
    start = text.index(part)
    end = start + len(part)  # Python's len: code points
    if script in ("zwj emoji", "cjk extension b"):  # JavaScript's length would be more
        assert len(part.encode("utf-16-le")) // 2 > len(part)
    put = stored_spans(put_spans(client, world["li"], paragraph, [span(start, end)]))
    article = client.get(f"/api/articles/{world['scripts']}", headers=world["li"]).get_json()
    shown = article["paragraphs"][index]
    assert shown["text"] == text
    assert shown["spans"] == put and len(put) == 1
    assert shown["text"][put[0]["start"]:put[0]["end"]] == part
    # the whole text is a valid span; one code point more is not
    assert stored_spans(put_spans(client, world["li"], paragraph, [span(0, len(text))]))
    assert "past the paragraph's" in error_of(
        put_spans(client, world["li"], paragraph, [span(0, len(text) + 1)]))


# --- replace keeps ids; deleting a span removes its links ---------------------------------------


def test_replace_keeps_unchanged_spans_and_their_links(app, client, world):
    first, second, _third = world["p"]
    claim, other = stored_spans(put_spans(client, world["li"], first, [span(0, 8), span(9, 15)]))
    (evidence,) = stored_spans(put_spans(client, world["li"], second, [span(0, 9, "evidence")]))
    links = put_links(client, world["li"], world["a1"], [
        {"from": {"span_id": evidence["id"]}, "to": {"span_id": claim["id"]}},
        {"from": {"paragraph_id": second}, "to": {"span_id": other["id"]},
         "relation": "attacks"}])
    assert links.status_code == 200, links.get_json()
    kept, _dropped = links.get_json()["links"]
    assert kept["relation"] == "supports"  # the project's first relation
    again = stored_spans(put_spans(client, world["li"], first, [span(0, 8), span(16, 22)]))
    assert again[0] == claim and again[1]["id"] not in (claim["id"], other["id"])
    article = client.get(f"/api/articles/{world['a1']}", headers=world["li"]).get_json()
    assert article["links"] == [kept]  # the removed span's link went with it
    assert counts(app) == (3, 1)
    same = put_links(client, world["li"], world["a1"], [
        {"from": {"span_id": evidence["id"]}, "to": {"span_id": claim["id"]},
         "relation": "supports"}])
    assert same.get_json()["links"] == [kept]  # the same link keeps its id


def test_links_replace_the_callers_set(app, client, world):
    first, second, third = world["p"]
    response = put_links(client, world["li"], world["a1"], [
        {"from": {"paragraph_id": second}, "to": {"paragraph_id": first}},
        {"from": {"paragraph_id": third}, "to": {"paragraph_id": first}, "relation": "attacks"}])
    assert [link["from"] for link in response.get_json()["links"]] == [
        {"paragraph_id": second}, {"paragraph_id": third}]
    response = put_links(client, world["li"], world["a1"], [])
    assert response.status_code == 200 and response.get_json() == {
        "article_id": world["a1"], "links": []}
    assert counts(app) == (0, 0)


# --- links: validation ----------------------------------------------------------------------------


def test_bad_links_are_400_naming_the_problem_and_store_nothing(app, client, world):
    first, second, _third = world["p"]
    (mine,) = stored_spans(put_spans(client, world["li"], first, [span(0, 8)]))
    (theirs,) = stored_spans(put_spans(client, world["wang"], first, [span(0, 8)]))
    (gold,) = stored_spans(put_spans(client, world["rev"], first, [span(0, 8)], gold=True))
    (elsewhere,) = stored_spans(put_spans(client, world["li"], world["q"], [span(0, 4)]))
    good = {"from": {"paragraph_id": second}, "to": {"span_id": mine["id"]}}
    assert put_links(client, world["li"], world["a1"], [good]).status_code == 200
    cases = [
        ({"from": {"span_id": theirs["id"]}, "to": {"span_id": mine["id"]}},
         f"links[1].from: span {theirs['id']} is not one of your spans"),
        ({"from": {"span_id": gold["id"]}, "to": {"span_id": mine["id"]}},
         f"links[1].from: span {gold['id']} is not one of your spans"),
        ({"from": {"span_id": elsewhere["id"]}, "to": {"span_id": mine["id"]}},
         f"links[1].from: span {elsewhere['id']} is not one of your spans in article"),
        ({"from": {"paragraph_id": world["q"]}, "to": {"paragraph_id": first}},
         f"links[1].from: paragraph {world['q']} is not in article {world['a1']}"),
        ({"from": {"paragraph_id": first}, "to": {"paragraph_id": first}},
         "links[1] goes from a unit to itself"),
        ({"from": {"span_id": mine["id"]}, "to": {"span_id": mine["id"]}},
         "links[1] goes from a unit to itself"),
        ({**good, "relation": "refutes"}, "links[1]: unknown relation 'refutes' for this project"),
        ({**good, "relation": "supports"}, "links[1] repeats links[0]"),
        ({"from": {"paragraph_id": second, "span_id": mine["id"]}, "to": {"paragraph_id": first}},
         'links[1].from must be {"paragraph_id": ID} or {"span_id": ID}'),
        ({"from": {"paragraph_id": True}, "to": {"paragraph_id": first}},
         'links[1].from: "paragraph_id" must be an id'),
        ({"from": {"paragraph_id": 2**31}, "to": {"paragraph_id": first}},
         'links[1].from: "paragraph_id" must be an id'),
        ({"to": {"paragraph_id": first}}, 'links[1].from must be'),
        ({"from": {"paragraph_id": second}, "to": {"article_id": 1}}, 'links[1].to must be'),
        ({**good, "relation": 3}, 'links[1]: "relation" must be a relation key'),
    ]
    before = client.get(f"/api/articles/{world['a1']}", headers=world["li"]).get_json()["links"]
    for bad, message in cases:
        other = {"from": {"paragraph_id": first}, "to": {"paragraph_id": second}}
        response = put_links(client, world["li"], world["a1"], [other, bad]
                             if "repeats" not in message else [good, bad])
        assert message in error_of(response), bad
        after = client.get(f"/api/articles/{world['a1']}", headers=world["li"]).get_json()
        assert after["links"] == before  # nothing stored, nothing removed
    assert counts(app) == (4, 1)


def test_too_many_links_and_an_unknown_article(client, world):
    first, second, _third = world["p"]
    link = {"from": {"paragraph_id": first}, "to": {"paragraph_id": second}}
    assert error_of(put_links(client, world["li"], world["a1"], [link] * 5001)) == (
        '"links" has 5001 entries; the limit is 5000')
    assert error_of(put_links(client, world["li"], 999999, [link]), 404)


# --- who may do what -----------------------------------------------------------------------------


def test_annotators_never_see_others_spans_or_links(client, world):
    first, second, _third = world["p"]
    (mine,) = stored_spans(put_spans(client, world["li"], first, [span(0, 8)]))
    assert put_links(client, world["li"], world["a1"], [
        {"from": {"paragraph_id": second}, "to": {"span_id": mine["id"]}}]).status_code == 200
    stored_spans(put_spans(client, world["rev"], first, [span(0, 3)], gold=True))
    for name in ("wang", "rev", "boss"):
        article = client.get(f"/api/articles/{world['a1']}", headers=world[name]).get_json()
        assert article["links"] == [] and all(p["spans"] == [] for p in article["paragraphs"])
    # wang's own replace leaves li's alone
    assert stored_spans(put_spans(client, world["wang"], first, [])) == []
    article = client.get(f"/api/articles/{world['a1']}", headers=world["li"]).get_json()
    assert article["paragraphs"][0]["spans"] == [mine] and len(article["links"]) == 1


def test_gold_routes_need_a_reviewer_or_admin(app, client, world):
    first, second, _third = world["p"]
    for headers, status in ((world["li"], 403), ({}, 401)):
        assert error_of(put_spans(client, headers, first, [span(0, 3)], gold=True), status)
        assert error_of(put_links(client, headers, world["a1"], [
            {"from": {"paragraph_id": second}, "to": {"paragraph_id": first}}], gold=True),
            status)
    assert error_of(put_spans(client, {}, first, [span(0, 3)]), 401)
    assert error_of(put_spans(client, {"Authorization": "Bearer nope"}, first, [span(0, 3)]), 401)
    assert counts(app) == (0, 0)
    (by_rev,) = stored_spans(put_spans(client, world["rev"], first, [span(0, 8)], gold=True))
    # an admin's replace of the gold set keeps the reviewer's unchanged span: gold is one set
    both = stored_spans(put_spans(client, world["boss"], first, [span(0, 8), span(9, 15)],
                                  gold=True))
    assert both[0] == by_rev
    gold_link = put_links(client, world["boss"], world["a1"], [
        {"from": {"paragraph_id": second}, "to": {"span_id": by_rev["id"]}}], gold=True)
    assert gold_link.status_code == 200
    # a gold link may not point at an annotator's span, nor an annotator's at a gold one
    (mine,) = stored_spans(put_spans(client, world["li"], first, [span(0, 8)]))
    assert "not one of the gold spans" in error_of(put_links(client, world["rev"], world["a1"], [
        {"from": {"paragraph_id": second}, "to": {"span_id": mine["id"]}}], gold=True))
    with app.app_context():
        golds = db.session.execute(select(Span.user_id, Span.gold).where(Span.gold.is_(True))
                                   .order_by(Span.start)).all()
        assert [gold for _user, gold in golds] == [True, True]
        assert db.session.scalar(select(func.count()).select_from(Link).where(
            Link.gold.is_(True))) == 1


# --- the service's reads --------------------------------------------------------------------------


def test_article_reads_take_a_bounded_number_of_queries(app, client, world):
    from sqlalchemy import event
    for paragraph in world["p"]:
        stored_spans(put_spans(client, world["li"], paragraph, [span(0, 3), span(1, 4, "evidence")]))
    owner = service.Owner(user_id(app, "li"))
    with app.app_context():
        statements = []
        listener = lambda *args: statements.append(args[2])
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            by_paragraph = service.article_spans(db.session, world["a1"], owner)
            service.article_links(db.session, world["a1"], owner)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    assert len([sql for sql in statements if sql.startswith("SELECT")]) == 2
    assert [len(by_paragraph[paragraph]) for paragraph in world["p"]] == [2, 2, 2]


def test_responses_match_the_openapi_document(client, world):
    from test_openapi import assert_matches
    document = client.get("/api/openapi.json", headers=world["li"]).get_json()
    first, second, _third = world["p"]
    for gold, headers in ((False, world["li"]), (True, world["rev"])):
        prefix = "/gold" if gold else ""
        response = put_spans(client, headers, first, [span(0, 8)], gold=gold)
        assert_matches(document, f"/api/paragraphs/{{paragraph_id}}{prefix}/spans", "put",
                       response)
        assert_matches(document, f"/api/paragraphs/{{paragraph_id}}{prefix}/spans", "put",
                       put_spans(client, headers, first, [span(0, 80)], gold=gold))
        links = [{"from": {"paragraph_id": second},
                  "to": {"span_id": response.get_json()["spans"][0]["id"]}}]
        response = put_links(client, headers, world["a1"], links, gold=gold)
        assert response.status_code == 200
        assert_matches(document, f"/api/articles/{{article_id}}{prefix}/links", "put", response)
    assert_matches(document, "/api/paragraphs/{paragraph_id}/gold/spans", "put",
                   put_spans(client, world["li"], first, [], gold=True))
    article = client.get(f"/api/articles/{world['a1']}", headers=world["li"])
    assert article.get_json()["links"] and article.get_json()["paragraphs"][0]["spans"]
    assert_matches(document, "/api/articles/{article_id}", "get", article)
    assert_matches(document, "/api/projects", "get", client.get("/api/projects",
                                                                headers=world["li"]))


# --- saves at the same time ---------------------------------------------------------------------


def _while_held(app, hold, then):
    """Run `hold(session)` in a write transaction kept open for a moment, and `then()` (a
    request) meanwhile; returns what `then` returned."""
    import threading
    import time

    from annotator.database import write_transaction

    holding, answered = threading.Event(), []

    def held() -> None:
        with app.app_context(), write_transaction(db.session):
            hold(db.session)
            db.session.flush()
            holding.set()
            time.sleep(1.0)
            db.session.commit()

    holder = threading.Thread(target=held)
    holder.start()
    assert holding.wait(10)
    other = threading.Thread(target=lambda: answered.append(then()))
    other.start()
    holder.join()
    other.join()
    return answered[0]


def test_two_saves_of_the_same_spans_at_once_store_them_once(app, client, world):
    paragraph, li = world["p"][0], service.Owner(user_id(app, "li"))
    response = _while_held(
        app, lambda session: service.replace_spans(session, paragraph, li,
                                                   [service.SpanInput(0, 3, "claim")]),
        lambda: put_spans(app.test_client(), world["li"], paragraph, [span(0, 3)]))
    stored = stored_spans(response)
    assert [(s["start"], s["end"]) for s in stored] == [(0, 3)]
    assert counts(app) == (1, 0)


def test_a_link_to_a_span_a_save_in_flight_removes_is_400_not_500(app, client, world):
    first, second, _third = world["p"]
    (claim,) = stored_spans(put_spans(client, world["li"], first, [span(0, 3)]))
    li = service.Owner(user_id(app, "li"))
    response = _while_held(
        app, lambda session: service.replace_spans(session, first, li, []),
        lambda: put_links(app.test_client(), world["li"], world["a1"], [
            {"from": {"paragraph_id": second}, "to": {"span_id": claim["id"]}}]))
    assert f"span {claim['id']} is not one of your spans" in error_of(response)
    assert counts(app) == (0, 0)

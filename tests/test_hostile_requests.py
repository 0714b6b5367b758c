"""Hostile requests (issue 8): oversized notes and bodies, JSON nested too deeply, strings no
database can store, numbers too large for an id, and GET requests that would claim work.
Each is a 4xx naming the problem, with nothing written; on both backends."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from annotator import create_app
from annotator.extensions import db
from annotator.inputs import MAX_ID
from annotator.models import Annotation, AnnotationHistory, Assignment, Gold, Project

from helpers import (article_pks, bearer, csrf_headers, import_articles, login, make_user,
                     paragraph_pks, project_id)
from testdb import database_url

NOTE_LIMIT = 50
BODY_LIMIT_KB = 256  # above the 200 KB of the deeply nested bodies below


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test",
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path),
                      "MAX_NOTE_CHARS": NOTE_LIMIT, "MAX_BODY_KB": BODY_LIMIT_KB})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def world(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    import_articles(app, "news", [
        {"id": f"a{n}", "title": f"Article {n}", "paragraphs": ["First.", "Second."]}
        for n in range(3)])
    articles = article_pks(app, "news")
    return {"project": project_id(app, "news"), "articles": articles,
            "paragraphs": paragraph_pks(app, articles[0]),
            "boss": bearer(app, "boss"), "li": bearer(app, "li")}


def error_of(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]
    return body["error"]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def put_raw(client, url: str, body: bytes | str, headers: dict):
    return client.put(url, data=body, headers={**headers, "Content-Type": "application/json"})


# --- notes and body sizes ----------------------------------------------------------------


def test_a_note_over_the_limit_is_refused_and_nothing_is_stored(app, client, world):
    url = f"/api/paragraphs/{world['paragraphs'][0]}/annotation"
    at_limit = client.put(url, headers=world["li"], json={"label": "claim", "note": "笔" * NOTE_LIMIT})
    assert at_limit.status_code == 200 and at_limit.get_json()["note"] == "笔" * NOTE_LIMIT
    message = error_of(client.put(url, headers=world["li"],
                                  json={"label": "other", "note": "x" * (NOTE_LIMIT + 1)}), 400)
    assert message == (f'"note" is {NOTE_LIMIT + 1} characters long; the limit is {NOTE_LIMIT} '
                       "(ANNOTATOR_MAX_NOTE_CHARS)")
    assert count(app, AnnotationHistory) == 0  # the refused change left no trace
    with app.app_context():
        assert db.session.scalar(select(Annotation.label)) == "claim"


def test_the_labeling_page_shows_the_note_limit(app, client, world):
    login(client, "li")
    page = client.get(f"/articles/{world['articles'][0]}").get_data(as_text=True)
    areas = re.findall(r"<textarea[^>]*>", page)
    assert areas and all(f'maxlength="{NOTE_LIMIT}"' in area for area in areas)
    assert f"up to {NOTE_LIMIT} characters" in areas[0]


def test_a_label_save_body_over_the_body_limit_is_413(app, client, world):
    url = f"/api/paragraphs/{world['paragraphs'][0]}/annotation"
    body = '{"label": "claim", "padding": "' + "x" * (BODY_LIMIT_KB * 1024) + '"}'
    message = error_of(put_raw(client, url, body, world["li"]), 413)
    assert message == (f"the request body is larger than the limit of {BODY_LIMIT_KB} KB "
                       "(ANNOTATOR_MAX_BODY_KB)")
    assert count(app, Annotation) == 0


def test_a_chunked_body_over_the_body_limit_is_413(app, client, world):
    """No Content-Length to refuse early: the read itself stops at the limit."""
    url = f"/api/paragraphs/{world['paragraphs'][0]}/annotation"
    body = b'{"label": "claim", "padding": "' + b"x" * (BODY_LIMIT_KB * 1024) + b'"}'
    response = client.put(url, input_stream=io.BytesIO(body),
                          environ_overrides={"wsgi.input_terminated": True},
                          headers={**world["li"], "Content-Type": "application/json",
                                   "Transfer-Encoding": "chunked"})
    error_of(response, 413)
    assert count(app, Annotation) == 0


def test_a_form_body_over_the_body_limit_is_413(client, world):
    response = client.post("/login", data={"username": "li", "password": "x" * (BODY_LIMIT_KB * 1024)})
    assert response.status_code == 413


def test_an_import_may_still_send_more_than_the_body_limit(client, world):
    lines = "".join('{"title": "Big %d", "paragraphs": ["%s"]}\n' % (n, "y" * 20_000)
                    for n in range(20))
    assert len(lines) > BODY_LIMIT_KB * 1024
    response = client.post(f"/api/projects/{world['project']}/import", data=lines.encode(),
                           headers={**world["boss"], "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["added"] == 20


# --- JSON that parses badly or holds what no database stores ------------------------------


def _json_routes(world) -> list[tuple[str, dict]]:
    """Every route with a JSON body, and a caller allowed to use it."""
    paragraph = world["paragraphs"][0]
    return [(f"/api/paragraphs/{paragraph}/annotation", world["li"]),
            (f"/api/paragraphs/{paragraph}/gold", world["boss"])]


def test_json_nested_too_deeply_is_400(app, client, world):
    for url, headers in _json_routes(world):
        for body in ("[" * 100_000 + "]" * 100_000,
                     '{"label": ' + "[" * 100_000 + "]" * 100_000 + "}",
                     '{"label": "claim", "note": ' + "[" * 40 + "]" * 40 + "}"):
            message = error_of(put_raw(client, url, body, headers), 400)
            assert message == "the JSON body is nested too deeply (the limit is 32 levels)"
    assert count(app, Annotation) == count(app, Gold) == 0


def test_invalid_json_is_400_naming_the_problem(client, world):
    for url, headers in _json_routes(world):
        assert error_of(put_raw(client, url, '{"label": ', headers), 400).startswith(
            "the body is not valid JSON (")
        assert error_of(put_raw(client, url, b'{"label": "\xff"}', headers), 400).startswith(
            "the body is not valid JSON (")
        assert error_of(put_raw(client, url, '{"label": ' + "9" * 5000 + "}", headers), 400)
        assert error_of(put_raw(client, url, '["claim"]', headers), 400) == \
            "the body must be a JSON object"


def test_a_label_longer_than_any_key_is_400_and_not_echoed(client, world):
    for url, headers in _json_routes(world):
        response = client.put(url, headers=headers, json={"label": "k" * 200_000})
        assert error_of(response, 400) == '"label" must be a label key'
        assert len(response.get_data()) < 100


@pytest.mark.parametrize("escaped, problem", [
    (r"\ud800", "contains a lone surrogate (U+D800 at character 3): not valid Unicode"),
    (r"\udfff", "contains a lone surrogate (U+DFFF at character 3): not valid Unicode"),
    (r"\u0000", "contains a NUL character (U+0000 at character 3)"),
])
def test_strings_no_database_can_store_are_400_before_any_write(app, client, world, escaped, problem):
    url, gold = _json_routes(world)[0][0], _json_routes(world)[1][0]
    assert client.put(url, headers=world["li"], json={"label": "claim"}).status_code == 200
    cases = [(url, world["li"], '{"label": "claim", "note": "ab%s"}' % escaped, '"note"'),
             (url, world["li"], '{"label": "cl%s"}' % escaped, '"label"'),
             (url, world["li"], '{"label": "claim", "ab%s": 1}' % escaped, "a key in the body"),
             (gold, world["boss"], '{"label": "cl%s"}' % escaped, '"label"')]
    for target, headers, body, field in cases:
        assert error_of(put_raw(client, target, body, headers), 400) == f"{field} {problem}"
    assert count(app, AnnotationHistory) == count(app, Gold) == 0
    with app.app_context():
        assert db.session.scalars(select(Annotation.note)).all() == [None]


def test_nul_in_a_query_parameter_or_form_field_is_400(app, world):
    """PostgreSQL cannot compare or store NUL: every one of these was a 500 there."""
    browser = app.test_client()
    login(browser, "boss")
    headers = csrf_headers(browser, "/")
    project = world["project"]
    for url in (f"/review/projects/{project}?article=a%00", f"/review/projects/{project}?annotator=%00",
                f"/api/projects/{project}/export.jsonl?annotator=%00", f"/projects/{project}?x%00=1"):
        response = browser.get(url)
        assert response.status_code == 400, url
        assert "contains a NUL character (U+0000 at character" in response.get_data(as_text=True)
    message = error_of(browser.get(f"/api/projects/{project}/export.jsonl?annotator=li%00"), 400)
    assert message == "the query parameter 'annotator' contains a NUL character (U+0000 at character 3)"
    for url, data in ((f"/admin/projects/{project}/settings", {"description": "d\x00"}),
                      ("/admin/projects/new", {"name": "n\x00"}),
                      ("/admin/users", {"username": "u\x00", "role": "annotator"})):
        response = browser.post(url, data=data, headers=headers)
        assert response.status_code == 400, url
        assert "the form field" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Project)) == 1


# --- numbers too large for an id, or for paging ------------------------------------------

HUGE = [10**30, 2**63, MAX_ID + 1]  # SQLite's OverflowError; PostgreSQL's int4 and int8


def _routes_with_ids(app):
    """(method, rule) for every route with an <int:...> part in the URL."""
    return [(method, rule.rule) for rule in app.url_map.iter_rules() if "<int:" in rule.rule
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]


def test_an_id_too_large_for_the_database_is_404_on_every_route(app, world):
    routes = _routes_with_ids(app)
    assert len(routes) >= 20 and ("PUT", "/api/paragraphs/<int:paragraph_id>/annotation") in routes
    browser = app.test_client()
    login(browser, "boss")
    headers = csrf_headers(browser, "/")
    for number in [*HUGE, MAX_ID]:  # MAX_ID: in range, no such row
        for method, rule in routes:
            url = re.sub(r"<int:\w+>", str(number), rule)
            response = browser.open(url, method=method, headers=headers, json={"label": "claim"})
            assert response.status_code == 404, (method, url, response.status_code)
            if url.startswith("/api/"):
                assert response.get_json()["error"]


def test_paging_numbers_out_of_range_are_400(app, client, world):
    browser = app.test_client()
    login(browser, "boss")
    for number in HUGE:
        for url in (f"/api/projects/{world['project']}/articles?offset={number}",
                    f"/api/projects/{world['project']}/articles?limit={number}",
                    f"/projects/{world['project']}?page={number}",
                    f"/review/projects/{world['project']}?after={number}"):
            response = browser.get(url)
            assert response.status_code == 400, (url, response.status_code)
            assert "must be a whole number between" in response.get_data(as_text=True)
    for url in (f"/projects/{world['project']}?page=0", f"/projects/{world['project']}?page=x",
                f"/review/projects/{world['project']}?after=-1"):
        assert browser.get(url).status_code == 400, url
    assert browser.get(f"/projects/{world['project']}?page={MAX_ID}").status_code == 200
    assert browser.get(f"/review/projects/{world['project']}?after={MAX_ID}").status_code == 200


# --- GET never claims work ----------------------------------------------------------------


def test_get_requests_claim_nothing_and_the_start_button_posts(app, world):
    browser = app.test_client()
    login(browser, "li")
    project = world["project"]
    start = browser.get(f"/projects/{project}/start")  # a bookmark, a prefetch, a crawler
    assert start.status_code == 302 and start.headers["Location"] == f"/projects/{project}"
    peek = browser.get(f"/api/projects/{project}/next")  # what would be next, unclaimed
    assert peek.status_code == 200 and peek.get_json() == {"article_id": world["articles"][0]}
    assert browser.get(f"/articles/{world['articles'][0]}").status_code == 200
    assert count(app, Assignment) == 0

    page = browser.get(f"/projects/{project}").get_data(as_text=True)
    form = re.search(rf'<form method="post" action="/projects/{project}/start">.*?</form>', page, re.S)
    assert form and 'name="csrf_token"' in form.group(0) and "<button" in form.group(0)
    assert browser.post(f"/projects/{project}/start").status_code == 400  # no CSRF token
    assert count(app, Assignment) == 0
    claimed = browser.post(f"/projects/{project}/start", headers=csrf_headers(browser, "/"))
    assert claimed.status_code == 302
    assert claimed.headers["Location"] == f"/articles/{world['articles'][0]}"
    assert count(app, Assignment) == 1


def test_opening_a_held_article_writes_nothing(app, client, world):
    """The hold is kept alive by label saves and claims; a page view never writes."""
    client.post(f"/api/projects/{world['project']}/next", headers=world["li"])
    with app.app_context():
        before = db.session.scalars(select(Assignment.touched_at)).all()
    assert len(before) == 1
    browser = app.test_client()
    login(browser, "li")
    assert browser.get(f"/articles/{world['articles'][0]}").status_code == 200
    with app.app_context():
        assert db.session.scalars(select(Assignment.touched_at)).all() == before

"""The JSON API (SPEC "JSON API"): the shape and status of every route."""
from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import func, select

from annotator import create_app
from annotator.extensions import db
from annotator.models import Annotation, AnnotationHistory, Article, Gold, Paragraph, Project

from helpers import (article_pks, bearer, csrf_headers, import_articles, jsonl, login,
                     make_user, paragraph_pks, project_id)
from testdb import database_url

UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
NDJSON = "application/x-ndjson"

ARTICLES = [
    {"id": "a1", "title": "Rates rise", "url": "https://example.org/a1",
     "paragraphs": ["The bank raised rates.", "Inflation was 5%.", "Share this article"]},
    {"id": "a2", "title": "央行加息", "meta": {"site": "example.cn"},
     "paragraphs": ["央行宣布加息。", "上一篇：天气预报"]},
    {"title": "No id", "paragraphs": ["only one"]},
]


@pytest.fixture
def world(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    make_user(app, "wang")
    make_user(app, "rev", "reviewer")
    import_articles(app, "news", ARTICLES)
    import_articles(app, "other", [{"id": "o1", "title": "O", "paragraphs": ["o"]}])
    news = project_id(app, "news")
    articles = article_pks(app, "news")
    with app.app_context():  # a label that only the other project has
        other = db.session.get(Project, project_id(app, "other"))
        other.labels[0].key = "only-other"
        db.session.commit()
    return {
        "news": news, "other": project_id(app, "other"), "articles": articles,
        "paragraphs": paragraph_pks(app, articles[0]),
        "boss": bearer(app, "boss"), "li": bearer(app, "li"), "wang": bearer(app, "wang"),
        "rev": bearer(app, "rev"),
    }


def error_of(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return body["error"]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# --- GET /api/projects -------------------------------------------------------------------------


def test_list_projects(client, world):
    response = client.get("/api/projects", headers=world["li"])
    assert response.status_code == 200
    projects = response.get_json()
    assert [p["name"] for p in projects] == ["news", "other"]
    news = projects[0]
    assert set(news) == {"id", "name", "labels", "overlap", "span_labels", "relations"}
    assert news["id"] == world["news"] and news["overlap"] == 1
    assert news["labels"] == [
        {"key": "claim", "name": "Claim", "hotkey": "1", "color": "#d9480f"},
        {"key": "evidence", "name": "Evidence", "hotkey": "2", "color": "#1971c2"},
        {"key": "boilerplate", "name": "Ads/Boilerplate", "hotkey": "3", "color": "#868e96"},
        {"key": "other", "name": "Other", "hotkey": "4", "color": "#2f9e44"},
    ]


# --- GET /api/projects/<id>/articles -------------------------------------------------------------


def test_list_articles_in_import_order_with_total(app, client, world):
    import_articles(app, "news", [{"id": "a0", "title": "Added last", "paragraphs": ["z"]}])
    response = client.get(f"/api/projects/{world['news']}/articles", headers=world["li"])
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"total", "items"}
    assert body["total"] == 4
    assert [item["article_id"] for item in body["items"]][:2] == ["a1", "a2"]
    assert body["items"][3]["article_id"] == "a0"  # import order, not id order
    first = body["items"][0]
    assert set(first) == {"id", "article_id", "title", "url", "paragraph_count"}
    assert first == {"id": world["articles"][0], "article_id": "a1", "title": "Rates rise",
                     "url": "https://example.org/a1", "paragraph_count": 3}
    assert body["items"][1]["url"] is None and body["items"][1]["title"] == "央行加息"
    assert re.fullmatch(r"[0-9a-f]{16}", body["items"][2]["article_id"])  # derived from content


def test_list_articles_pages(client, world):
    url = f"/api/projects/{world['news']}/articles"
    everything = client.get(url, headers=world["li"]).get_json()["items"]
    page = client.get(url + "?offset=1&limit=1", headers=world["li"]).get_json()
    assert page == {"total": 3, "items": [everything[1]]}
    past = client.get(url + "?offset=10", headers=world["li"]).get_json()
    assert past == {"total": 3, "items": []}
    assert client.get(url + "?limit=0", headers=world["li"]).get_json()["items"] == []
    assert len(client.get(url + "?limit=1000", headers=world["li"]).get_json()["items"]) == 3


def test_list_articles_refuses_bad_paging(client, world):
    for query in ("offset=-1", "limit=1001", "limit=x", "offset=1.5", "limit=-5", "offset="):
        error_of(client.get(f"/api/projects/{world['news']}/articles?{query}",
                            headers=world["li"]), 400)


def test_list_articles_of_a_missing_project_is_404(client, world):
    error_of(client.get("/api/projects/999/articles", headers=world["li"]), 404)


# --- GET /api/articles/<id> ------------------------------------------------------------------


def test_get_article_with_only_the_callers_own_annotations(client, world):
    first, second, third = world["paragraphs"]
    assert client.put(f"/api/paragraphs/{first}/annotation", headers=world["li"],
                      json={"label": "claim", "note": "li's note"}).status_code == 200
    assert client.put(f"/api/paragraphs/{second}/annotation", headers=world["wang"],
                      json={"label": "evidence", "note": "wang's"}).status_code == 200
    assert client.put(f"/api/paragraphs/{first}/annotation", headers=world["wang"],
                      json={"label": "other"}).status_code == 200
    response = client.get(f"/api/articles/{world['articles'][0]}", headers=world["li"])
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"id", "article_id", "project_id", "title", "url", "paragraphs",
                         "links"}
    assert (body["id"], body["article_id"], body["project_id"], body["title"], body["url"]) == (
        world["articles"][0], "a1", world["news"], "Rates rise", "https://example.org/a1")
    assert [(p["id"], p["index"], p["text"]) for p in body["paragraphs"]] == [
        (first, 0, "The bank raised rates."), (second, 1, "Inflation was 5%."),
        (third, 2, "Share this article")]
    for paragraph in body["paragraphs"]:
        assert set(paragraph) == {"id", "index", "text", "annotation", "suggestion", "spans"}
    mine = body["paragraphs"][0]["annotation"]
    assert set(mine) == {"label", "note", "source", "updated_at"}
    assert mine["label"] == "claim" and mine["note"] == "li's note"
    assert UTC_Z.match(mine["updated_at"])
    assert body["paragraphs"][1]["annotation"] is None  # wang's label is not shown to li
    assert body["paragraphs"][2]["annotation"] is None
    wang = client.get(f"/api/articles/{world['articles'][0]}", headers=world["wang"]).get_json()
    assert [p["annotation"] and p["annotation"]["label"] for p in wang["paragraphs"]] == [
        "other", "evidence", None]


def test_get_missing_article_is_404(client, world):
    error_of(client.get("/api/articles/999999", headers=world["li"]), 404)


# --- PUT/DELETE /api/paragraphs/<id>/annotation --------------------------------------------------


def test_put_annotation(app, client, world):
    paragraph = world["paragraphs"][0]
    response = client.put(f"/api/paragraphs/{paragraph}/annotation", headers=world["li"],
                          json={"label": "claim", "note": "核心观点"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"paragraph_id", "label", "note", "source", "updated_at"}
    assert body["paragraph_id"] == paragraph and body["label"] == "claim"
    assert body["note"] == "核心观点"
    assert body["updated_at"].endswith("Z") and UTC_Z.match(body["updated_at"])
    # without "note" the note is kept; a new label replaces the old one, kept in the history
    again = client.put(f"/api/paragraphs/{paragraph}/annotation", headers=world["li"],
                       json={"label": "evidence"}).get_json()
    assert (again["label"], again["note"]) == ("evidence", "核心观点")
    cleared = client.put(f"/api/paragraphs/{paragraph}/annotation", headers=world["li"],
                         json={"label": "evidence", "note": None}).get_json()
    assert cleared["note"] is None
    with app.app_context():
        rows = db.session.scalars(select(Annotation)).all()
        assert [(a.paragraph_id, a.label, a.note) for a in rows] == [(paragraph, "evidence", None)]
        assert db.session.scalar(select(func.count()).select_from(AnnotationHistory)) == 2


def test_put_annotation_with_a_session_cookie(app, world):
    client = app.test_client()
    assert login(client, "li").status_code == 302
    response = client.put(f"/api/paragraphs/{world['paragraphs'][0]}/annotation",
                          headers=csrf_headers(client, "/"), json={"label": "other", "note": ""})
    assert response.status_code == 200
    assert response.get_json()["note"] is None  # an empty note is no note


def test_put_annotation_with_an_unknown_label_is_400(app, client, world):
    for label in ("nope", "only-other", "CLAIM", ""):  # only-other: another project's label
        message = error_of(client.put(f"/api/paragraphs/{world['paragraphs'][0]}/annotation",
                                      headers=world["li"], json={"label": label}), 400)
        assert "label" in message, label
    assert count(app, Annotation) == 0
    url = f"/api/paragraphs/{world['paragraphs'][0]}/annotation"
    assert client.put(url, headers=world["li"], json={"label": "claim"}).status_code == 200
    for label in ("nope", "only-other"):  # a label there already: still checked, kept
        assert "label" in error_of(client.put(url, headers=world["li"], json={"label": label}),
                                   400)
    assert client.get(f"/api/articles/{world['articles'][0]}", headers=world["li"]).get_json()[
        "paragraphs"][0]["annotation"]["label"] == "claim"


BAD_BODIES = [
    (b'{"label": "claim"', "application/json"),   # broken JSON
    (b"", "application/json"),
    (b'["claim"]', "application/json"),             # not an object
    (b'"claim"', "application/json"),
    (b"{}", "application/json"),                    # no label
    (b'{"label": 1}', "application/json"),
    (b'{"label": null}', "application/json"),
    (b'{"label": "claim", "note": 5}', "application/json"),
    (b'{"label": "claim", "note": ["x"]}', "application/json"),
    (b'{"label": "claim"}', "text/plain"),          # not declared as JSON
]


def test_put_annotation_with_a_bad_body_is_400(app, client, world):
    for body, content_type in BAD_BODIES:
        try:
            error_of(client.put(f"/api/paragraphs/{world['paragraphs'][0]}/annotation",
                                headers=world["li"], data=body, content_type=content_type), 400)
        except AssertionError as error:
            raise AssertionError(f"{body!r} ({content_type}): {error}") from None
    assert count(app, Annotation) == 0


def test_put_annotation_on_a_missing_paragraph_is_404(client, world):
    error_of(client.put("/api/paragraphs/999999/annotation", headers=world["li"],
                        json={"label": "claim"}), 404)


def test_delete_annotation(app, client, world):
    paragraph = world["paragraphs"][1]
    client.put(f"/api/paragraphs/{paragraph}/annotation", headers=world["li"],
               json={"label": "claim"})
    client.put(f"/api/paragraphs/{paragraph}/annotation", headers=world["wang"],
               json={"label": "other"})
    response = client.delete(f"/api/paragraphs/{paragraph}/annotation", headers=world["li"])
    assert response.status_code == 204
    assert response.get_data() == b""
    article = client.get(f"/api/articles/{world['articles'][0]}", headers=world["li"]).get_json()
    assert article["paragraphs"][1]["annotation"] is None
    with app.app_context():  # only the caller's own annotation went
        assert [(a.label) for a in db.session.scalars(select(Annotation))] == ["other"]
    again = client.delete(f"/api/paragraphs/{paragraph}/annotation", headers=world["li"])
    assert again.status_code == 204  # nothing left to remove is fine
    error_of(client.delete("/api/paragraphs/999999/annotation", headers=world["li"]), 404)


# --- gold --------------------------------------------------------------------------------------


def test_gold_put_and_delete_by_an_admin(app, client, world, runner):
    paragraph = world["paragraphs"][0]
    response = client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["boss"],
                          json={"label": "evidence"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"paragraph_id", "label", "updated_at"}
    assert (body["paragraph_id"], body["label"]) == (paragraph, "evidence")
    assert UTC_Z.match(body["updated_at"])
    changed = client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["boss"],
                         json={"label": "claim"}).get_json()
    assert changed["label"] == "claim"
    first = json.loads(runner.invoke(args=["export", "--project", "news"]).stdout_bytes
                       .split(b"\n")[0])
    assert (first["label"], first["label_source"]) == ("claim", "gold")
    response = client.delete(f"/api/paragraphs/{paragraph}/gold", headers=world["boss"])
    assert response.status_code == 204 and response.get_data() == b""
    assert count(app, Gold) == 0
    assert client.delete(f"/api/paragraphs/{paragraph}/gold",
                         headers=world["boss"]).status_code == 204


def test_gold_by_a_reviewer(app, client, world):
    paragraph = world["paragraphs"][0]
    assert client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["rev"],
                      json={"label": "other"}).status_code == 200
    assert client.delete(f"/api/paragraphs/{paragraph}/gold",
                         headers=world["rev"]).status_code == 204


def test_gold_is_403_for_an_annotator(app, client, world):
    paragraph = world["paragraphs"][0]
    error_of(client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["li"],
                        json={"label": "claim"}), 403)
    assert count(app, Gold) == 0
    client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["boss"], json={"label": "claim"})
    error_of(client.delete(f"/api/paragraphs/{paragraph}/gold", headers=world["li"]), 403)
    assert count(app, Gold) == 1


def test_gold_bad_input(app, client, world):
    paragraph = world["paragraphs"][0]
    error_of(client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["boss"],
                        json={"label": "only-other"}), 400)
    error_of(client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["boss"],
                        data=b"{", content_type="application/json"), 400)
    error_of(client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["boss"],
                        json={"label": 3}), 400)
    error_of(client.put("/api/paragraphs/999999/gold", headers=world["boss"],
                        json={"label": "claim"}), 404)
    error_of(client.delete("/api/paragraphs/999999/gold", headers=world["boss"]), 404)
    assert count(app, Gold) == 0


# --- next and done -------------------------------------------------------------------------------


def test_get_next_shows_the_next_article_and_claims_nothing(client, world):
    url = f"/api/projects/{world['news']}/next"
    first = world["articles"][0]
    assert client.get(url, headers=world["li"]).get_json() == {"article_id": first}
    assert client.get(url, headers=world["wang"]).get_json() == {"article_id": first}  # not held
    assert client.post(url, headers=world["li"]).get_json() == {"article_id": first}
    assert client.get(url, headers=world["wang"]).get_json() == {"article_id": world["articles"][1]}
    error_of(client.get("/api/projects/999/next", headers=world["li"]), 404)


def test_next_and_done(client, world):
    url = f"/api/projects/{world['news']}/next"
    first = client.post(url, headers=world["li"]).get_json()
    assert first == {"article_id": world["articles"][0]}
    assert client.post(url, headers=world["li"]).get_json() == first  # held until done
    done = client.put(f"/api/articles/{first['article_id']}/done", headers=world["li"])
    assert done.status_code == 200
    body = done.get_json()
    assert set(body) == {"article_id", "finished_at"} and UTC_Z.match(body["finished_at"])
    assert client.post(url, headers=world["li"]).get_json() == {"article_id": world["articles"][1]}
    assert client.post(url, headers=world["wang"]).get_json() == {"article_id": world["articles"][2]}
    reopened = client.delete(f"/api/articles/{first['article_id']}/done", headers=world["li"])
    assert reopened.status_code == 200 and reopened.get_json()["finished_at"] is None
    error_of(client.post("/api/projects/999/next", headers=world["li"]), 404)
    error_of(client.put("/api/articles/999999/done", headers=world["li"]), 404)


# --- import --------------------------------------------------------------------------------------


def articles_in(app, project: str) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Article.article_id).join(Project)
                                       .where(Project.name == project).order_by(Article.id)))


def test_import_by_multipart_upload(app, client, world):
    url = f"/api/projects/{world['news']}/import"
    data = jsonl([{"id": "n1", "title": "New", "paragraphs": ["p1", "p2"]},
                  {"id": "a1", "title": "Already there", "paragraphs": ["x"]}])
    response = client.post(url, headers=world["boss"], content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), "batch.jsonl")})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert {key: body[key] for key in ("added", "skipped", "paragraphs")} == {
        "added": 1, "skipped": 1, "paragraphs": 2}
    assert articles_in(app, "news")[-1] == "n1"
    again = client.post(url, headers=world["boss"], content_type="multipart/form-data",
                        data={"file": (io.BytesIO(data), "batch.jsonl")}).get_json()
    assert (again["added"], again["skipped"], again["paragraphs"]) == (0, 2, 0)


def test_import_a_txt_file_by_upload_with_options(app, client, world):
    url = f"/api/projects/{world['news']}/import"
    text = "Title line\n\nfirst\nstill first\n\nsecond\n".encode()
    response = client.post(url, headers=world["boss"], content_type="multipart/form-data",
                           data={"file": (io.BytesIO(text), "story.txt"), "split": "blank"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["paragraphs"] == 2
    gbk = "标题\n正文\n".encode("gbk")
    response = client.post(url, headers=world["boss"], content_type="multipart/form-data",
                           data={"file": (io.BytesIO(gbk), "gbk.txt"), "encoding": "gbk"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert articles_in(app, "news")[-1]  # stored under a content-derived id


def test_import_upload_with_an_unknown_extension_is_400(app, client, world):
    error_of(client.post(f"/api/projects/{world['news']}/import", headers=world["boss"],
                         content_type="multipart/form-data",
                         data={"file": (io.BytesIO(b"x"), "notes.docx")}), 400)
    error_of(client.post(f"/api/projects/{world['news']}/import", headers=world["boss"],
                         json={"title": "not an import"}), 400)
    assert len(articles_in(app, "news")) == 3


def test_import_a_raw_ndjson_body(app, client, world):
    body = jsonl([{"id": "r1", "title": "Raw", "paragraphs": ["one"], "meta": {"k": 1}}])
    response = client.post(f"/api/projects/{world['news']}/import", headers=world["boss"],
                           data=body, content_type=NDJSON)
    assert response.status_code == 200
    assert {k: response.get_json()[k] for k in ("added", "skipped", "paragraphs")} == {
        "added": 1, "skipped": 0, "paragraphs": 1}
    assert articles_in(app, "news")[-1] == "r1"


def test_an_invalid_raw_body_stores_nothing_and_names_every_line(app, client, world):
    body = (b'{"id": "ok1", "title": "Fine", "paragraphs": ["x"]}\n'
            b'\n'
            b'["not an object"]\n'
            b'{"id": "ok2", "title": "Fine too", "paragraphs": ["y"]}\n'
            b'{"title": "", "paragraphs": ["z"]}\n'
            b'{"title": "both", "paragraphs": ["z"], "text": "z"}\n'
            b'{not json\n')
    paragraphs_before = count(app, Paragraph)
    response = client.post(f"/api/projects/{world['news']}/import", headers=world["boss"],
                           data=body, content_type=NDJSON)
    assert response.status_code == 400
    result = response.get_json()
    assert set(result) == {"error", "errors"} and isinstance(result["error"], str)
    assert [error.split(": ", 1)[0] for error in result["errors"]] == [
        "<body>:3", "<body>:5", "<body>:6", "<body>:7"]
    assert all(re.fullmatch(r"<body>:\d+: \S.*", error) for error in result["errors"])
    assert articles_in(app, "news") == ["a1", "a2", articles_in(app, "news")[2]]
    assert count(app, Paragraph) == paragraphs_before


def test_a_failed_import_into_a_fresh_project_leaves_it_empty(app, client, world):
    with app.app_context():
        empty = Project(name="empty")
        db.session.add(empty)
        db.session.commit()
        empty_id = empty.id
    response = client.post(f"/api/projects/{empty_id}/import", headers=world["boss"],
                           data=b"[]\n", content_type=NDJSON)
    assert response.status_code == 400
    assert response.get_json()["errors"][0].startswith("<body>:1: ")
    assert articles_in(app, "empty") == []


def test_import_with_skip_invalid_stores_the_valid_records(app, client, world):
    body = b'{"id": "s1", "title": "ok", "paragraphs": ["x"]}\n42\n'
    response = client.post(f"/api/projects/{world['news']}/import?skip_invalid=1",
                           headers=world["boss"], data=body, content_type=NDJSON)
    assert response.status_code == 200
    result = response.get_json()
    assert result["added"] == 1
    assert [error.split(": ", 1)[0] for error in result["errors"]] == ["<body>:2"]
    assert articles_in(app, "news")[-1] == "s1"


def test_import_is_403_for_annotators_and_404_for_missing_projects(app, client, world):
    body = jsonl([{"title": "x", "paragraphs": ["y"]}])
    error_of(client.post(f"/api/projects/{world['news']}/import", headers=world["li"],
                         data=body, content_type=NDJSON), 403)
    error_of(client.post(f"/api/projects/{world['news']}/import", headers=world["rev"],
                         data=body, content_type=NDJSON), 403)
    error_of(client.post("/api/projects/999/import", headers=world["boss"],
                         data=body, content_type=NDJSON), 404)
    assert len(articles_in(app, "news")) == 3


@pytest.fixture
def small_app(tmp_path):
    """An app whose upload limit is 0.001 MB (1048 bytes)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "MAX_UPLOAD_MB": 0.001,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path, "small.db")})
    yield app
    with app.app_context():
        db.engine.dispose()


def _big_and_small(limit: int) -> tuple[bytes, bytes]:
    line = json.dumps({"title": "t", "paragraphs": ["x" * 100]}).encode() + b"\n"
    small = line
    big = b"".join(json.dumps({"title": f"t{i}", "paragraphs": ["x" * 100]}).encode() + b"\n"
                   for i in range(limit // 100 + 2))
    assert len(small) < limit < len(big)
    return big, small


def test_a_body_over_the_upload_limit_is_413(small_app):
    assert small_app.config["MAX_CONTENT_LENGTH"] == 1048
    make_user(small_app, "boss", "admin")
    import_articles(small_app, "news", [{"id": "a", "title": "t", "paragraphs": ["p"]}])
    news, token = project_id(small_app, "news"), bearer(small_app, "boss")
    client = small_app.test_client()
    big, small = _big_and_small(1048)
    raw = client.post(f"/api/projects/{news}/import", headers=token, data=big,
                      content_type=NDJSON)
    assert "0.001 MB" in error_of(raw, 413)
    upload = client.post(f"/api/projects/{news}/import", headers=token,
                         content_type="multipart/form-data",
                         data={"file": (io.BytesIO(big), "big.jsonl")})
    error_of(upload, 413)
    assert articles_in(small_app, "news") == ["a"]
    # with the session cookie (the CSRF check reads the form first) it is 413 as well
    browser = small_app.test_client()
    assert login(browser, "boss").status_code == 302
    upload = browser.post(f"/api/projects/{news}/import", headers=csrf_headers(browser, "/"),
                          content_type="multipart/form-data",
                          data={"file": (io.BytesIO(big), "big.jsonl")})
    error_of(upload, 413)
    fits = client.post(f"/api/projects/{news}/import", headers=token, data=small,
                       content_type=NDJSON)
    assert fits.status_code == 200 and fits.get_json()["added"] == 1


def test_the_upload_limit_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOTATOR_MAX_UPLOAD_MB", "0.001")
    monkeypatch.setenv("ANNOTATOR_SECRET_KEY", "env-secret")
    monkeypatch.setenv("ANNOTATOR_DATABASE_URL", database_url(tmp_path, "env.db"))
    app = create_app()
    try:
        assert app.config["MAX_CONTENT_LENGTH"] == 1048
        make_user(app, "boss", "admin")
        import_articles(app, "news", [{"id": "a", "title": "t", "paragraphs": ["p"]}])
        big, _small = _big_and_small(1048)
        response = app.test_client().post(f"/api/projects/{project_id(app, 'news')}/import",
                                          headers=bearer(app, "boss"), data=big,
                                          content_type=NDJSON)
        error_of(response, 413)
    finally:
        with app.app_context():
            db.engine.dispose()


def test_the_default_upload_limit_is_64_mb(app):
    assert app.config["MAX_UPLOAD_MB"] == 64
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024 * 1024


# --- export.jsonl ----------------------------------------------------------------------------------


@pytest.fixture
def labeled(client, world):
    first, second, _third = world["paragraphs"]
    for who, paragraph, label in (("li", first, "claim"), ("wang", first, "claim"),
                                  ("li", second, "evidence"), ("wang", second, "other")):
        assert client.put(f"/api/paragraphs/{paragraph}/annotation", headers=world[who],
                          json={"label": label, "note": f"{who} 说"}).status_code == 200
    assert client.put(f"/api/paragraphs/{second}/gold", headers=world["boss"],
                      json={"label": "evidence"}).status_code == 200
    return world


@pytest.mark.parametrize("query,args", [
    ("", []),
    ("?unit=paragraph", ["--unit", "paragraph"]),
    ("?unit=article", ["--unit", "article"]),
    ("?only_labeled=1", ["--only-labeled"]),
    ("?unit=article&only_labeled=1", ["--unit", "article", "--only-labeled"]),
    ("?annotator=wang", ["--annotator", "wang"]),
    ("?unit=article&only_labeled=1&annotator=li", ["--unit", "article", "--only-labeled",
                                                    "--annotator", "li"]),
])
def test_export_jsonl_is_the_same_bytes_as_flask_export(client, runner, labeled, query, args):
    response = client.get(f"/api/projects/{labeled['news']}/export.jsonl{query}",
                          headers=labeled["boss"])
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    assert "attachment" in response.headers["Content-Disposition"]
    api_bytes = response.get_data()
    cli = runner.invoke(args=["export", "--project", "news", *args])
    assert cli.exit_code == 0, cli.output
    assert api_bytes == cli.stdout_bytes
    assert api_bytes.endswith(b"\n") and "说".encode() in api_bytes


def test_export_content(client, labeled):
    lines = client.get(f"/api/projects/{labeled['news']}/export.jsonl",
                       headers=labeled["boss"]).get_data().decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 6  # every paragraph, in import order
    assert [(r["article_id"], r["paragraph_index"]) for r in records[:3]] == [
        ("a1", 0), ("a1", 1), ("a1", 2)]
    assert (records[0]["label"], records[0]["label_source"]) == ("claim", "majority")
    assert (records[1]["label"], records[1]["label_source"]) == ("evidence", "gold")
    assert [a["annotator"] for a in records[0]["annotations"]] == ["li", "wang"]
    assert records[2]["annotations"] == [] and records[2]["label"] is None


def test_export_errors(client, labeled):
    url = f"/api/projects/{labeled['news']}/export.jsonl"
    assert "nobody" in error_of(client.get(url + "?annotator=nobody", headers=labeled["boss"]),
                                400)
    error_of(client.get(url + "?unit=sentence", headers=labeled["boss"]), 400)
    error_of(client.get(url, headers=labeled["li"]), 403)
    error_of(client.get(url, headers=labeled["rev"]), 403)
    error_of(client.get("/api/projects/999/export.jsonl", headers=labeled["boss"]), 404)


def test_export_with_the_session_cookie_as_the_admin_page_does(app, labeled, runner):
    browser = app.test_client()
    assert login(browser, "boss").status_code == 302
    response = browser.get(f"/api/projects/{labeled['news']}/export.jsonl?unit=article")
    assert response.status_code == 200
    assert response.get_data() == runner.invoke(
        args=["export", "--project", "news", "--unit", "article"]).stdout_bytes


# --- errors in general -------------------------------------------------------------------------------


def test_unknown_routes_and_methods_are_json_errors(client, world):
    error_of(client.get("/api/nope", headers=world["li"]), 404)
    error_of(client.post("/api/projects", headers=world["li"], json={}), 405)
    error_of(client.patch(f"/api/paragraphs/{world['paragraphs'][0]}/annotation",
                          headers=world["li"], json={"label": "claim"}), 405)

"""GET /api/openapi.json describes every /api route, and real responses match it."""
from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

from annotator.openapi import build_openapi

from helpers import (article_pks, bearer, import_articles, make_user, paragraph_pks, project_id)

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
RECORDS = [
    {"id": "a1", "title": "First", "url": "https://example.org/1", "paragraphs": ["One.", "Two."]},
    {"id": "a2", "title": "第二篇", "paragraphs": ["三。"]},
]


def openapi_path(rule: str) -> str:
    """/api/articles/<int:article_id> -> /api/articles/{article_id}"""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def api_rules(app) -> dict[str, set[str]]:
    """Every /api rule of the app and its methods (lower case, without HEAD and OPTIONS)."""
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            found.setdefault(openapi_path(rule.rule), set()).update(
                method.lower() for method in rule.methods - {"HEAD", "OPTIONS"})
    return found


def documented(document: dict) -> dict[str, set[str]]:
    return {path: {key for key in item if key in HTTP_METHODS}
            for path, item in document["paths"].items()}


def validator_for(document: dict, schema: dict) -> Draft202012Validator:
    """A validator for a schema inside the document, its $refs resolved against the document."""
    root = {**schema, "components": document["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def response_schema(document: dict, path: str, method: str, status: int,
                    media: str = "application/json") -> dict:
    response = document["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response["content"][media]["schema"]


def assert_matches(document: dict, path: str, method: str, response) -> None:
    """The response's JSON validates against the schema documented for its status."""
    assert response.is_json, response.get_data(as_text=True)
    schema = response_schema(document, path, method, response.status_code)
    errors = sorted(validator_for(document, schema).iter_errors(response.get_json()), key=str)
    assert not errors, "\n".join(error.message for error in errors)


@pytest.fixture
def world(app, client):
    make_user(app, "boss", role="admin")
    make_user(app, "li")
    import_articles(app, "news", RECORDS)
    return {"admin": bearer(app, "boss"), "annotator": bearer(app, "li"),
            "project": project_id(app, "news")}


@pytest.fixture
def document(client, world) -> dict:
    response = client.get("/api/openapi.json", headers=world["annotator"])
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_openapi_3_1_with_valid_schemas(document):
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] and document["info"]["version"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"]["type"] == "apiKey" and schemes["cookieAuth"]["in"] == "cookie"
    assert schemes["cookieAuth"]["name"] == "session"
    assert schemes["csrfToken"] == {**schemes["csrfToken"], "type": "apiKey", "in": "header",
                                    "name": "X-CSRFToken"}
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)  # raises SchemaError if invalid
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]
    assert set(document["components"]["schemas"]["ImportError"]["required"]) == {"error", "errors"}


def test_every_api_rule_is_documented_with_the_same_methods_and_nothing_else(app, document):
    assert documented(document) == api_rules(app)


def test_the_document_names_the_exact_spec_fields(document):
    schemas = document["components"]["schemas"]
    assert set(schemas["Project"]["required"]) == {"id", "name", "labels", "overlap",
                                                  "span_labels", "relations"}
    assert set(schemas["Label"]["required"]) == {"key", "name", "hotkey", "color"}
    assert set(schemas["ArticlePage"]["required"]) == {"total", "items"}
    assert set(schemas["ArticleSummary"]["required"]) == {
        "id", "article_id", "title", "url", "paragraph_count"}
    assert set(schemas["Article"]["required"]) == {
        "id", "article_id", "project_id", "title", "url", "paragraphs", "links"}
    assert set(schemas["Paragraph"]["required"]) == {
        "id", "index", "text", "annotation", "suggestion", "spans"}
    assert set(schemas["OwnAnnotation"]["required"]) == {"label", "note", "source", "updated_at"}
    assert set(schemas["Annotation"]["required"]) == {
        "paragraph_id", "label", "note", "source", "updated_at"}
    assert set(schemas["Suggestion"]["required"]) == {"label", "confidence", "reason"}
    assert set(schemas["Gold"]["required"]) == {"paragraph_id", "label", "updated_at"}
    assert set(schemas["ImportResult"]["required"]) == {"added", "skipped", "paragraphs"}


def test_every_operation_documents_401_and_state_changes_need_csrf_with_the_cookie(document):
    for path, item in document["paths"].items():
        for method in HTTP_METHODS & set(item):
            operation = item[method]
            assert "401" in operation["responses"], (method, path)
            schemes = [set(requirement) for requirement in operation["security"]]
            assert {"bearerAuth"} in schemes, (method, path)
            cookie = {"cookieAuth", "csrfToken"} if method != "get" else {"cookieAuth"}
            assert cookie in schemes, (method, path)
            for parameter in re.findall(r"{([^}]+)}", path):
                declared = [p["$ref"].rsplit("/", 1)[-1] for p in item.get("parameters", [])]
                assert parameter in declared, (path, parameter)


def test_the_document_itself_needs_a_sign_in(client, world):
    response = client.get("/api/openapi.json")
    assert response.status_code == 401
    assert set(response.get_json()) == {"error"}


def test_build_openapi_follows_the_config():
    document = build_openapi({"SESSION_COOKIE_NAME": "ann", "MAX_UPLOAD_MB": 3})
    assert document["components"]["securitySchemes"]["cookieAuth"]["name"] == "ann"
    assert "3 MB" in document["components"]["responses"]["TooLarge"]["description"]


def test_list_projects_matches_its_schema(client, world, document):
    response = client.get("/api/projects", headers=world["annotator"])
    assert response.status_code == 200 and len(response.get_json()) == 1
    assert_matches(document, "/api/projects", "get", response)


def test_list_articles_matches_its_schema(client, world, document):
    response = client.get(f"/api/projects/{world['project']}/articles?limit=1",
                          headers=world["annotator"])
    assert response.status_code == 200
    assert_matches(document, "/api/projects/{project_id}/articles", "get", response)


def test_get_article_matches_its_schema_with_and_without_annotations(app, client, world, document):
    article = article_pks(app, "news")[0]
    first, _second = paragraph_pks(app, article)
    put = client.put(f"/api/paragraphs/{first}/annotation", headers=world["annotator"],
                     json={"label": "claim", "note": "sure"})
    assert put.status_code == 200
    response = client.get(f"/api/articles/{article}", headers=world["annotator"])
    assert response.status_code == 200
    paragraphs = response.get_json()["paragraphs"]
    assert paragraphs[0]["annotation"] is not None and paragraphs[1]["annotation"] is None
    assert_matches(document, "/api/articles/{article_id}", "get", response)


def test_put_annotation_and_gold_match_their_schemas(app, client, world, document):
    paragraph = paragraph_pks(app, article_pks(app, "news")[0])[0]
    response = client.put(f"/api/paragraphs/{paragraph}/annotation", headers=world["annotator"],
                          json={"label": "evidence"})
    assert response.status_code == 200
    assert_matches(document, "/api/paragraphs/{paragraph_id}/annotation", "put", response)
    unknown = client.put(f"/api/paragraphs/{paragraph}/annotation", headers=world["annotator"],
                         json={"label": "nope"})
    assert unknown.status_code == 400
    assert_matches(document, "/api/paragraphs/{paragraph_id}/annotation", "put", unknown)
    gold = client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["admin"],
                      json={"label": "claim"})
    assert gold.status_code == 200
    assert_matches(document, "/api/paragraphs/{paragraph_id}/gold", "put", gold)
    forbidden = client.put(f"/api/paragraphs/{paragraph}/gold", headers=world["annotator"],
                           json={"label": "claim"})
    assert forbidden.status_code == 403
    assert_matches(document, "/api/paragraphs/{paragraph_id}/gold", "put", forbidden)


def test_suggestion_routes_match_their_schemas(app, client, world, document):
    article = article_pks(app, "news")[0]
    first, second = paragraph_pks(app, article)
    stored = client.put(f"/api/articles/{article}/suggestions", headers=world["admin"], json={
        "model": "mine", "items": [{"paragraph_id": second, "label": "claim", "confidence": 0.9,
                                    "reason": "because"}]})
    assert stored.status_code == 200
    assert_matches(document, "/api/articles/{article_id}/suggestions", "put", stored)
    batch = client.post(f"/api/articles/{article}/annotations", headers=world["annotator"],
                        json={"items": [{"paragraph_id": first, "label": "claim",
                                         "source": "suggestion"}]})
    assert batch.status_code == 200
    assert_matches(document, "/api/articles/{article_id}/annotations", "post", batch)
    page = client.get(f"/api/articles/{article}", headers=world["annotator"])
    assert page.get_json()["paragraphs"][1]["suggestion"]["reason"] == "mine: because"
    assert_matches(document, "/api/articles/{article_id}", "get", page)
    bad = client.post(f"/api/articles/{article}/annotations", headers=world["annotator"],
                      json={"items": [{"paragraph_id": first, "label": "nope"}]})
    assert bad.status_code == 400
    assert_matches(document, "/api/articles/{article_id}/annotations", "post", bad)
    undo = client.delete(f"/api/articles/{article}/annotations", headers=world["annotator"],
                         json={"paragraph_ids": [first]})
    assert undo.status_code == 200 and undo.get_json() == {"cleared": [first]}
    assert_matches(document, "/api/articles/{article_id}/annotations", "delete", undo)


def test_next_and_done_match_their_schemas(client, world, document):
    claimed = client.post(f"/api/projects/{world['project']}/next", headers=world["annotator"])
    assert claimed.status_code == 200
    assert_matches(document, "/api/projects/{project_id}/next", "post", claimed)
    article = claimed.get_json()["article_id"]
    for method in ("put", "delete"):
        response = getattr(client, method)(f"/api/articles/{article}/done",
                                           headers=world["annotator"])
        assert response.status_code == 200
        assert_matches(document, "/api/articles/{article_id}/done", method, response)


def test_import_responses_match_their_schemas(client, world, document):
    path = "/api/projects/{project_id}/import"
    url = f"/api/projects/{world['project']}/import"
    bad = client.post(url, headers={**world["admin"], "Content-Type": "application/x-ndjson"},
                      data=b'{"title": "ok", "paragraphs": ["x"]}\n[1]\n')
    assert bad.status_code == 400
    assert "errors" in bad.get_json()
    assert_matches(document, path, "post", bad)
    # the 400 branch is a oneOf: an ImportError must not also pass as a plain Error
    plain = validator_for(document, {"$ref": "#/components/schemas/Error"})
    assert not plain.is_valid(bad.get_json())
    good = client.post(url, headers={**world["admin"], "Content-Type": "application/x-ndjson"},
                       data=b'{"id": "a3", "title": "ok", "paragraphs": ["x"]}\n')
    assert good.status_code == 200
    assert_matches(document, path, "post", good)
    missing = client.get("/api/projects/999/articles", headers=world["admin"])
    assert missing.status_code == 404
    assert_matches(document, "/api/projects/{project_id}/articles", "get", missing)


def test_a_response_with_a_wrong_field_would_fail_validation(document):
    """The schemas are strict enough to catch a renamed or extra field."""
    annotation = validator_for(document, {"$ref": "#/components/schemas/Annotation"})
    good = {"paragraph_id": 1, "label": "claim", "note": None, "source": "human",
            "updated_at": "2026-01-01T00:00:00Z"}
    assert annotation.is_valid(good)
    assert not annotation.is_valid({**good, "extra": 1})
    assert not annotation.is_valid({**good, "updated_at": "2026-01-01T00:00:00+00:00"})
    del good["note"]
    assert not annotation.is_valid(good)

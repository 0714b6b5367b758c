"""CSRF (SPEC "Users and access"): every state change made with the session cookie carries the
token (a form field, or the X-CSRFToken header for the page's fetch calls); bearer tokens need
none, and a bearer request is authenticated by its token alone."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Annotation, User

from helpers import (article_pks, bearer, csrf_headers, csrf_token, import_articles, login,
                     make_user, paragraph_pks, project_id, user_id)


@pytest.fixture
def world(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    import_articles(app, "news", [{"id": "a1", "title": "T", "paragraphs": ["one", "two"]}])
    article = article_pks(app, "news")[0]
    return {"paragraph": paragraph_pks(app, article)[0], "article": article,
            "li": user_id(app, "li")}


@pytest.fixture
def annotator(app, world):
    client = app.test_client()
    assert login(client, "li").status_code == 302
    return client


@pytest.fixture
def admin(app, world):
    client = app.test_client()
    assert login(client, "boss").status_code == 302
    return client


def annotations(app) -> list[tuple[int, str]]:
    with app.app_context():
        return [(a.paragraph_id, a.label) for a in db.session.scalars(select(Annotation))]


def li_is_active(app) -> bool:
    with app.app_context():
        return db.session.scalar(select(User.active).where(User.username == "li"))


def test_put_annotation_with_the_cookie_but_no_token_is_a_400_json_error(app, annotator, world):
    response = annotator.put(f"/api/paragraphs/{world['paragraph']}/annotation",
                             json={"label": "claim"})
    assert response.status_code == 400
    assert response.is_json and response.get_json()["reason"] == "csrf"  # the page keeps its changes
    assert "CSRF" in response.get_json()["error"]
    assert annotations(app) == []


@pytest.mark.parametrize("token", ["wrong", "", "x" * 90])
def test_put_annotation_with_a_wrong_token_is_refused(app, annotator, world, token):
    response = annotator.put(f"/api/paragraphs/{world['paragraph']}/annotation",
                             json={"label": "claim"}, headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert set(response.get_json()) == {"error", "reason"}
    assert annotations(app) == []


def test_a_token_from_another_session_is_refused(app, annotator, world):
    other = app.test_client()
    foreign = csrf_headers(other)
    response = annotator.put(f"/api/paragraphs/{world['paragraph']}/annotation",
                             json={"label": "claim"}, headers=foreign)
    assert response.status_code == 400
    assert annotations(app) == []


def test_put_and_delete_annotation_with_the_right_header_are_accepted(app, annotator, world):
    headers = csrf_headers(annotator, "/")
    response = annotator.put(f"/api/paragraphs/{world['paragraph']}/annotation",
                             json={"label": "claim"}, headers=headers)
    assert response.status_code == 200
    assert annotations(app) == [(world["paragraph"], "claim")]
    assert annotator.delete(f"/api/paragraphs/{world['paragraph']}/annotation").status_code == 400
    assert annotations(app) == [(world["paragraph"], "claim")]
    response = annotator.delete(f"/api/paragraphs/{world['paragraph']}/annotation",
                                headers=headers)
    assert response.status_code == 204
    assert annotations(app) == []


def test_the_token_stays_valid_for_the_whole_session(app, annotator, world):
    """The page reads the token once; later fetch calls reuse it."""
    headers = csrf_headers(annotator, "/")
    annotator.get(f"/articles/{world['article']}")
    annotator.get("/api/projects")
    for label in ("claim", "evidence", "other"):
        response = annotator.put(f"/api/paragraphs/{world['paragraph']}/annotation",
                                 json={"label": label}, headers=headers)
        assert response.status_code == 200, label


def test_admin_form_without_the_token_is_refused(app, admin, world):
    response = admin.post(f"/admin/users/{world['li']}/active")
    assert response.status_code == 400
    assert "text/html" in response.content_type
    assert li_is_active(app)
    response = admin.post(f"/admin/users/{world['li']}/active", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert li_is_active(app)
    response = admin.post("/admin/users", data={"username": "mallory", "role": "admin",
                                                "password": "a long password",
                                                "confirm": "a long password"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.username == "mallory")) is None


def test_admin_form_with_the_token_is_accepted(app, admin, world):
    token = csrf_token(admin, "/admin/users")
    response = admin.post(f"/admin/users/{world['li']}/active", data={"csrf_token": token})
    assert response.status_code == 302
    assert not li_is_active(app)
    response = admin.post(f"/admin/users/{world['li']}/active", headers={"X-CSRFToken": token})
    assert response.status_code == 302
    assert li_is_active(app)


def test_logout_needs_the_token(app, annotator):
    assert annotator.post("/logout").status_code == 400
    assert annotator.get("/").status_code == 200  # still signed in
    assert annotator.post("/logout", headers=csrf_headers(annotator, "/")).status_code == 302
    assert annotator.get("/").status_code == 302


def test_login_form_needs_its_token(app, world):
    client = app.test_client()
    response = client.post("/login", data={"username": "li", "password": "correct horse battery"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_a_bearer_request_needs_no_csrf_token(app, world):
    token = bearer(app, "li")
    client = app.test_client()
    response = client.put(f"/api/paragraphs/{world['paragraph']}/annotation",
                          json={"label": "evidence"}, headers=token)
    assert response.status_code == 200
    assert annotations(app) == [(world["paragraph"], "evidence")]
    assert client.delete(f"/api/paragraphs/{world['paragraph']}/annotation",
                         headers=token).status_code == 204
    assert client.put(f"/api/articles/{world['article']}/done", headers=token).status_code == 200
    admin_token = bearer(app, "boss")
    response = client.post(f"/api/projects/{project_id(app, 'news')}/import", headers=admin_token,
                           data=b'{"id": "a2", "title": "B", "paragraphs": ["x"]}\n',
                           content_type="application/x-ndjson")
    assert response.status_code == 200 and response.get_json()["added"] == 1


def test_a_bearer_request_with_a_session_cookie_but_a_bad_token_is_401(app, annotator, world):
    """The token alone authenticates: a valid session cookie beside a bad token does not help."""
    headers = {**csrf_headers(annotator, "/"), "Authorization": "Bearer not-a-real-token"}
    for method, url, body in (
            ("GET", "/api/projects", None),
            ("PUT", f"/api/paragraphs/{world['paragraph']}/annotation", {"label": "claim"}),
            ("DELETE", f"/api/paragraphs/{world['paragraph']}/annotation", None)):
        response = annotator.open(url, method=method, json=body, headers=headers)
        assert response.status_code == 401, (method, url)
        assert set(response.get_json()) == {"error"}
    assert annotations(app) == []
    assert annotator.get("/api/projects").status_code == 200  # the session itself still works


def test_a_bearer_request_with_an_admin_session_acts_as_the_tokens_owner(app, admin, world):
    """A valid annotator token beside an admin's cookie is the annotator: no admin rights."""
    headers = {**csrf_headers(admin, "/"), **bearer(app, "li")}
    response = admin.put(f"/api/paragraphs/{world['paragraph']}/gold", json={"label": "claim"},
                         headers=headers)
    assert response.status_code == 403
    response = admin.put(f"/api/paragraphs/{world['paragraph']}/annotation",
                         json={"label": "claim"}, headers=headers)
    assert response.status_code == 200
    with app.app_context():
        owner = db.session.scalar(select(Annotation.user_id))
    assert owner == world["li"]


def test_an_empty_or_odd_authorization_header_is_not_a_session(app, annotator, world):
    for header in ("Bearer", "Bearer ", "Basic bGk6cGFzc3dvcmQ="):
        response = annotator.get("/api/projects", headers={"Authorization": header})
        if header.startswith("Basic"):
            assert response.status_code == 200  # not a bearer request: the cookie counts
        else:
            assert response.status_code == 401  # a (blank) bearer token alone authenticates

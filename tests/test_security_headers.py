"""Headers beyond the CSP: HSTS when served over HTTPS, and no caching of a page that shows
a secret (a new API token)."""
from __future__ import annotations

import pytest

from annotator import create_app
from annotator.extensions import db

from helpers import csrf_token, login, make_user
from testdb import database_url


@pytest.fixture
def https_app(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "HTTPS": True,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_https_pages_tell_browsers_to_use_https_only(https_app):
    client = https_app.test_client()
    for response in (client.get("/login", base_url="https://localhost"),
                     client.get("/api/projects", base_url="https://localhost"),
                     client.get("/static/css/app.css", base_url="https://localhost")):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_without_https_there_is_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_the_page_showing_a_new_api_token_is_never_cached(app, client):
    make_user(app, "root", "admin")
    someone = make_user(app, "someone")
    assert login(client, "root").status_code == 302
    response = client.post(f"/admin/users/{someone}/tokens",
                           data={"csrf_token": csrf_token(client, "/admin/users"), "name": "ci"})
    assert response.status_code == 200
    assert "ann_" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"

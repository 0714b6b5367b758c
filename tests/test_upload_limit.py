"""An upload over the limit keeps an admin on the import form, which states the limit and how
an admin raises it; nothing is stored, and nobody else is shown the form."""
from __future__ import annotations

import io
import json

import pytest
from lxml import html

from annotator import create_app
from annotator.extensions import db

from helpers import import_articles, login, make_user, project_id
from testdb import database_url

BIG = b"".join(json.dumps({"title": f"t{i}", "paragraphs": ["x" * 100]}).encode() + b"\n"
               for i in range(30))  # about 3.5 KB


@pytest.fixture
def small_app(tmp_path):
    """An app whose upload limit is 0.002 MB (2097 bytes)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "MAX_UPLOAD_MB": 0.002,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path, "small.db")})
    make_user(app, "boss", "admin")
    make_user(app, "ann")
    import_articles(app, "news", [{"id": "a", "title": "t", "paragraphs": ["p"]}])
    yield app
    with app.app_context():
        db.engine.dispose()


def _upload(client, app, data=BIG):
    url = f"/admin/projects/{project_id(app, 'news')}/import"
    form = html.fromstring(client.get(url).get_data(as_text=True))
    token = form.xpath("//input[@name='csrf_token']/@value")
    return client.post(url, content_type="multipart/form-data", data={
        "csrf_token": token[0] if token else "", "fmt": "auto", "split": "line",
        "file": (io.BytesIO(data), "big.jsonl")})


def test_an_upload_over_the_limit_is_the_import_form_saying_the_limit(small_app):
    client = small_app.test_client()
    login(client, "boss")
    response = _upload(client, small_app)
    assert response.status_code == 413
    page = html.fromstring(response.get_data(as_text=True))
    assert page.xpath("//h1")[0].text_content() == "Import into news"
    alert = page.xpath("//*[@id='too-large' and @role='alert']")[0].text_content()
    assert "0.002 MB" in alert and "ANNOTATOR_MAX_UPLOAD_MB" in alert
    assert page.xpath("//form[@enctype='multipart/form-data']//input[@type='file']")
    assert page.xpath("//form//input[@name='csrf_token']/@value")  # the form can be sent again
    with small_app.app_context():
        from annotator.models import Article
        assert db.session.query(Article).count() == 1  # nothing stored
    fits = _upload(client, small_app, b'{"title": "small", "paragraphs": ["s"]}\n')
    assert fits.status_code == 200 and "1 article added" in fits.get_data(as_text=True)


def test_the_import_form_in_chinese_says_it_in_chinese(small_app):
    client = small_app.test_client()
    client.set_cookie("lang", "zh")
    login(client, "boss")
    alert = html.fromstring(_upload(client, small_app).get_data(as_text=True)).xpath(
        "//*[@id='too-large']")[0].text_content()
    assert "ANNOTATOR_MAX_UPLOAD_MB" in alert and "0.002" in alert
    assert "larger than" not in alert  # translated, not the English message


@pytest.mark.parametrize("who", [None, "ann"])
def test_others_get_the_plain_413_page_not_the_form(small_app, who):
    client = small_app.test_client()
    if who:
        login(client, who)
    response = _upload(client, small_app)
    assert response.status_code == 413
    assert 'id="too-large"' not in response.get_data(as_text=True)
    assert "Import into" not in response.get_data(as_text=True)

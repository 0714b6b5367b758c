"""Static files and labels.css under versioned URLs, cached a year without revalidation (issue
11: no 304 round trip per file on every article page); the plain URLs keep working,
revalidated; a changed file or label colour is a new URL."""
from __future__ import annotations

import re
import shutil

import lxml.html
import pytest
from flask import Flask, url_for

from annotator import ROOT, create_app, web
from annotator.extensions import db
from annotator.models import Project

from helpers import article_pks, import_articles, login, make_user, project_id

YEAR = "max-age=31536000"


@pytest.fixture
def page(app):
    """The article page's HTML, with the signed-in client."""
    make_user(app, "ann")
    import_articles(app, "p", [{"id": "a", "title": "A", "paragraphs": ["one", "two"]}])
    client = app.test_client()
    assert login(client, "ann").status_code == 302
    response = client.get(f"/articles/{article_pks(app, 'p')[0]}")
    assert response.status_code == 200
    return client, response.get_data(as_text=True)


def static_urls(html: str) -> list[str]:
    tree = lxml.html.fromstring(html)
    return [url for url in tree.xpath("//script/@src | //link/@href") if url.startswith("/static/")]


def test_every_static_url_of_a_page_is_versioned_and_cached_a_year(app, page):
    client, html = page
    version = app.config["STATIC_VERSION"]
    urls = static_urls(html)
    assert len(urls) >= 10  # app.css, the favicon, the modules and their preloads
    assert all(url.startswith(f"/static/v/{version}/") for url in urls), urls
    login_page = client.get("/login").get_data(as_text=True)
    assert all(url.startswith(f"/static/v/{version}/") for url in static_urls(login_page))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        cache = response.headers["Cache-Control"]
        assert "public" in cache and YEAR in cache and "immutable" in cache and "no-cache" not in cache
        name = url.removeprefix(f"/static/v/{version}/")
        assert response.data == (ROOT / "static" / name).read_bytes()
        response.close()


def test_plain_and_older_urls_keep_working_revalidated(app, client):
    version = app.config["STATIC_VERSION"]
    plain = client.get("/static/js/annotate.js")
    assert plain.status_code == 200 and plain.headers["Cache-Control"] == "no-cache"
    again = client.get("/static/js/annotate.js", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304
    older = client.get("/static/v/0123456789ab/js/annotate.js")  # a page from before a restart
    assert older.status_code == 200 and older.headers["Cache-Control"] == "no-cache"
    assert older.data == plain.data
    for response in (plain, again, older):
        response.close()
    for missing in (f"/static/v/{version}/js/nothing.js", f"/static/v/{version}/../README.md",
                    f"/static/v/{version}/"):
        assert client.get(missing).status_code == 404, missing


def test_the_version_follows_the_static_files_content(tmp_path):
    """A hash of the tree: the same files, the same version; one byte changed, a new one."""
    def version(folder) -> str:
        app = Flask("probe", static_folder=str(folder))
        web.versioned_static(app)
        with app.test_request_context():
            assert url_for("static", filename="js/a.js") == f"/static/v/{app.config['STATIC_VERSION']}/js/a.js"
        return app.config["STATIC_VERSION"]

    folder = tmp_path / "static"
    shutil.copytree(ROOT / "static", folder)
    first = version(folder)
    assert version(folder) == first
    assert re.fullmatch(r"[0-9a-f]{12}", first)
    with open(folder / "js" / "keys.js", "a", encoding="utf-8") as handle:
        handle.write("\n")
    assert version(folder) != first
    (folder / "js" / "keys.js").rename(folder / "js" / "keys2.js")  # a rename alone, too
    renamed = version(folder)
    assert renamed not in (first, version(tmp_path / "none"))


def test_debug_mode_keeps_plain_urls(tmp_path):
    """A file edited while the development server runs shows at the next load."""
    app = create_app({"TESTING": True, "DEBUG": True, "SECRET_KEY": "test",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'debug.db'}"})
    with app.test_request_context():
        assert url_for("static", filename="css/app.css") == "/static/css/app.css"
    with app.app_context():
        db.engine.dispose()


def test_labels_css_is_versioned_by_its_content(app, page):
    client, html = page
    (url,) = [u for u in lxml.html.fromstring(html).xpath("//link/@href") if "labels.css" in u]
    assert re.fullmatch(r"/projects/\d+/labels\.css\?v=[0-9a-f]{12}", url), url
    cached = client.get(url)
    assert cached.status_code == 200 and cached.mimetype == "text/css"
    cache = cached.headers["Cache-Control"]
    assert "private" in cache and YEAR in cache and "immutable" in cache and "public" not in cache
    assert "#d9480f" in cached.get_data(as_text=True)  # the claim label's colour

    plain = client.get(url.split("?")[0])  # no version: revalidated, 304 while unchanged
    assert plain.headers["Cache-Control"] == "no-cache" and plain.data == cached.data
    assert client.get(url.split("?")[0], headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304

    with app.app_context():  # a label's colour changes: a new URL, the old one revalidated
        project = db.session.get(Project, project_id(app, "p"))
        project.labels[0].color = "#123456"
        db.session.commit()
    pk = article_pks(app, "p")[0]
    new_html = client.get(f"/articles/{pk}").get_data(as_text=True)
    (new_url,) = [u for u in lxml.html.fromstring(new_html).xpath("//link/@href") if "labels.css" in u]
    assert new_url != url and "#123456" in client.get(new_url).get_data(as_text=True)
    stale = client.get(url)
    assert stale.headers["Cache-Control"] == "no-cache" and "#123456" in stale.get_data(as_text=True)
    assert client.get(url.split("?")[0], headers={"If-None-Match": plain.headers["ETag"]}).status_code == 200
    assert app.test_client().get(new_url).status_code == 302  # still needs sign-in

"""Text from imports, annotators and admins is shown as text, never as markup; the CSP forbids
inline script on every page."""
from __future__ import annotations

import io
import json

import lxml.html
import pytest
from markupsafe import escape

from helpers import (article_pks, bearer, csrf_token, import_articles, login, make_user,
                     paragraph_pks, project_id, user_id)

PAYLOADS = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>']
# usernames cannot hold whitespace: the same attacks without spaces
USER_PAYLOADS = ['<script>alert(2)</script>', '"><svg/onload=alert(2)>']
PROJECT = "".join(PAYLOADS)  # 76 characters: a valid project name
TITLE = " ".join(PAYLOADS)
GUIDELINES = ("# Rules\n\n<script>alert(3)</script>\n\n[click me](javascript:alert(3))\n\n"
              "<a href=\"javascript:alert(3)\">raw link</a>\n\n" + "\n\n".join(PAYLOADS))
NOTE = "\n".join(PAYLOADS)
ARTICLE_ID = '<script>alert(4)</script>'
URL = 'https://example.org/"><svg onload=alert(5)>'
LABEL_NAME = '<script>alert(6)</script>'
LABEL_DESCRIPTION = '"><svg onload=alert(7)>'
BAD_UPLOAD = '<img src=x onerror=alert(8)>.jsonl'

ALL_RAW = [*PAYLOADS, *USER_PAYLOADS, ARTICLE_ID, "<svg onload=alert(5)>", LABEL_NAME,
           "<svg onload=alert(7)>", "<img src=x onerror=alert(8)>", "<script>alert(3)</script>"]


@pytest.fixture
def world(app):
    make_user(app, "boss", "admin")
    for name in USER_PAYLOADS:
        make_user(app, name)
    import_articles(app, PROJECT, [
        {"id": ARTICLE_ID, "title": TITLE, "url": URL, "paragraphs": PAYLOADS},
        {"id": "plain", "title": "plain", "paragraphs": ["x"]},
    ])
    project = project_id(app, PROJECT)
    article = article_pks(app, PROJECT)[0]
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    token = csrf_token(admin, f"/admin/projects/{project}/settings")
    response = admin.post(f"/admin/projects/{project}/settings", data={
        "csrf_token": token, "description": TITLE, "guidelines": GUIDELINES, "overlap": "1",
        "label_key": ["claim", "evidence", "boilerplate", "other", "evil"],
        "label_name": ["Claim", "Evidence", "Boilerplate", "Other", LABEL_NAME],
        "label_color": ["#d9480f", "#1971c2", "#868e96", "#2f9e44", "#7048e8"],
        "label_hotkey": ["1", "2", "3", "4", "5"],
        "label_description": ["", "", "", "", LABEL_DESCRIPTION]})
    assert response.status_code == 302, response.get_data(as_text=True)
    victim = USER_PAYLOADS[0]
    note = admin.put(f"/api/paragraphs/{paragraph_pks(app, article)[0]}/annotation",
                     json={"label": "evil", "note": NOTE}, headers={"X-CSRFToken": token})
    assert note.status_code == 200
    annotator = app.test_client()
    assert login(annotator, victim).status_code == 302
    annotator_token = csrf_token(annotator, "/")
    assert annotator.put(f"/api/paragraphs/{paragraph_pks(app, article)[1]}/annotation",
                         json={"label": "claim", "note": NOTE},
                         headers={"X-CSRFToken": annotator_token}).status_code == 200
    return {"admin": admin, "token": token, "annotator": annotator, "project": project,
            "article": article, "victim": user_id(app, victim)}


# --- what a safe page looks like ------------------------------------------------------------


def parse(response) -> lxml.html.HtmlElement:
    assert response.status_code == 200, response.status_code
    assert "text/html" in response.content_type
    return lxml.html.document_fromstring(response.get_data(as_text=True))


def shown(document) -> str:
    """Everything a page shows or holds as text: text nodes and attribute values."""
    parts = [document.text_content()]
    for element in document.iter():
        if isinstance(element.tag, str):
            parts.extend(element.attrib.values())
    return "\n".join(parts)


def assert_safe(response, *texts: str) -> lxml.html.HtmlElement:
    """No raw payload, no script but the app's own files, no event handler, no javascript:
    link; each text is on the page as text, escaped in the HTML source."""
    html = response.get_data(as_text=True)
    for raw in ALL_RAW:
        assert raw not in html, raw
    document = parse(response)
    for script in document.iter("script"):
        if script.get("type") == "application/json":
            json.loads(script.text)  # data, and it parses: no markup broke out of it
            continue
        assert script.get("src", "").startswith("/static/"), lxml.html.tostring(script)
        assert not (script.text or "").strip()
    assert not list(document.iter("svg", "iframe", "object", "embed"))
    for element in document.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "img":
            raise AssertionError(f"an <img> on the page: {lxml.html.tostring(element)!r}")
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name, value)
            if name.lower() in ("href", "src", "action", "formaction"):
                assert not value.strip().lower().startswith(("javascript:", "data:", "vbscript:")), value
    text = shown(document)
    for expected in texts:
        assert expected in text, expected
        assert str(escape(expected)) in html or expected.replace(">", "&gt;").replace(
            "<", "&lt;") in html, expected
    assert_csp(response)
    return document


def assert_csp(response) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives.get("script-src") == ["'self'"], policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives.get("object-src") == ["'none'"], policy
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


# --- every page that shows them ---------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "annotator"])
def test_project_list(world, who):
    assert_safe(world[who].get("/"), PROJECT, TITLE)


@pytest.mark.parametrize("who", ["admin", "annotator"])
def test_project_page(world, who):
    document = assert_safe(world[who].get(f"/projects/{world['project']}"),
                           PROJECT, TITLE, *PAYLOADS, "<script>alert(3)</script>", "click me")
    assert document.xpath("//*[contains(@class, 'markdown')]//h1")  # Markdown is still rendered


def test_article_page(world):
    response = world["annotator"].get(f"/articles/{world['article']}")
    document = assert_safe(response, TITLE, *PAYLOADS, NOTE, ARTICLE_ID, PROJECT, LABEL_NAME,
                           LABEL_DESCRIPTION, "<script>alert(3)</script>", "raw link")
    notes = [area.text for area in document.iter("textarea") if area.text]
    assert notes == [NOTE]  # only the caller's own note, as text
    data = json.loads(document.get_element_by_id("page-data").text)
    assert LABEL_NAME in data["names"]
    link = document.xpath("//p[@class='source']/a")
    assert link and link[0].get("href") == URL


def test_article_page_for_the_admin_shows_only_the_admins_note(world):
    document = assert_safe(world["admin"].get(f"/articles/{world['article']}"), NOTE)
    assert [area.text for area in document.iter("textarea") if area.text] == [NOTE]


def test_all_done_page(app, world):
    annotator = world["annotator"]
    for article in article_pks(app, PROJECT):
        for paragraph in paragraph_pks(app, article):
            annotator.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": "claim"},
                          headers={"X-CSRFToken": csrf_token(annotator, "/")})
        assert annotator.put(f"/api/articles/{article}/done",
                             headers={"X-CSRFToken": csrf_token(annotator, "/")}).status_code == 200
    assert_safe(annotator.post(f"/projects/{world['project']}/start",
                               headers={"X-CSRFToken": csrf_token(annotator, "/")}), PROJECT)


def test_labels_css_holds_only_checked_keys_and_colours(world):
    response = world["annotator"].get(f"/projects/{world['project']}/labels.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    assert "<" not in css and "alert" not in css
    assert '[data-label="evil"]' in css


def test_admin_settings(world):
    document = assert_safe(world["admin"].get(f"/admin/projects/{world['project']}/settings"),
                           PROJECT, TITLE, GUIDELINES, LABEL_NAME, LABEL_DESCRIPTION)
    assert [area.text.strip() for area in document.iter("textarea")
            if area.get("name") == "guidelines"] == [GUIDELINES]


def test_admin_export_page(world):
    assert_safe(world["admin"].get(f"/admin/projects/{world['project']}/export"),
                PROJECT, *USER_PAYLOADS)


def test_admin_import_page_and_its_error_report(world):
    admin = world["admin"]
    url = f"/admin/projects/{world['project']}/import"
    assert_safe(admin.get(url), PROJECT)
    response = admin.post(url, content_type="multipart/form-data", data={
        "csrf_token": world["token"], "fmt": "auto", "split": "line",
        "file": (io.BytesIO(b'{"title": "<script>alert(1)</script>"}\n'), BAD_UPLOAD)})
    document = assert_safe(response, PROJECT, BAD_UPLOAD + ":1:")
    assert document.xpath("//pre[@class='errors']")


def test_admin_users_page(world):
    assert_safe(world["admin"].get("/admin/users"), *USER_PAYLOADS)


def test_admin_assignments_page(world):
    admin = world["admin"]
    url = f"/admin/projects/{world['project']}/assignments"
    response = admin.post(url, data={"csrf_token": world["token"], "username": USER_PAYLOADS[1],
                                     "first": "1", "last": "1"})
    assert response.status_code == 302
    assert_safe(admin.get(url), PROJECT, TITLE, ARTICLE_ID, USER_PAYLOADS[1])


def test_token_page(world):
    response = world["admin"].post(f"/admin/users/{world['victim']}/tokens",
                                   data={"csrf_token": world["token"], "name": PAYLOADS[0]})
    document = assert_safe(response, USER_PAYLOADS[0])
    assert document.get_element_by_id("new-token").text.startswith("ann_")


def test_flash_messages_are_escaped(world):
    admin = world["admin"]
    response = admin.post(f"/admin/users/{world['victim']}/active",
                          data={"csrf_token": world["token"]}, follow_redirects=True)
    assert_safe(response, USER_PAYLOADS[0] + " deactivated.")


def test_error_pages_and_login_page_have_the_csp(app, world):
    for response in (world["admin"].get("/projects/999999"), app.test_client().get("/login"),
                     world["annotator"].get("/admin/users"), world["admin"].get("/api/nope")):
        assert_csp(response)


def test_the_json_api_returns_the_text_unchanged(app, world):
    """Escaping is the page's job: the API and export give back the very characters."""
    headers = bearer(app, USER_PAYLOADS[0])
    article = world["annotator"].get(f"/api/articles/{world['article']}", headers=headers)
    body = article.get_json()
    assert body["title"] == TITLE and body["article_id"] == ARTICLE_ID and body["url"] == URL
    assert [p["text"] for p in body["paragraphs"]] == PAYLOADS
    assert body["paragraphs"][1]["annotation"]["note"] == NOTE
    assert article.headers["Content-Type"].startswith("application/json")
    assert_csp(article)


def test_a_javascript_url_is_not_a_clickable_link(app, world):
    import_articles(app, PROJECT, [{"id": "js", "title": "js", "url": "javascript:alert(9)",
                                    "paragraphs": ["y"]}])
    article = article_pks(app, PROJECT)[-1]
    response = world["annotator"].get(f"/articles/{article}")
    assert_safe(response, "javascript:alert(9)")

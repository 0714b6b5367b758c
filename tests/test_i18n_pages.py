"""Every page in Chinese: no English left in what a zh user reads.

Each GET route of the app (walked from `app.url_map`, with sample ids) is rendered with the
`lang=zh` cookie for an admin, a reviewer and an annotator, and so are the error pages and the
messages of the forms. What the user reads (text, `title`, `aria-label`, `placeholder`,
`alt`, button values and the script's texts of the page-data JSON; not `<code>`, `<kbd>`,
`<script>` or `<style>`) must hold no English word: a word of ASCII letters is allowed only
when it comes from the data (titles, paragraphs, names) or when the Chinese catalog itself
keeps it (its translations write "Shift+Enter", "JSONL", "kappa")."""
from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from annotator.extensions import db
from annotator.i18n import DEFAULT_LABEL_TEXTS, LANGUAGES, SHAPE_PHRASES, label_text, reason_text
from annotator.models import DEFAULT_LABELS, DEFAULT_RELATIONS, DEFAULT_SPAN_LABELS, ImportJob, Paragraph, User
from annotator.services import queue
from annotator.services.annotations import save_annotation, set_gold
from annotator.services import import_jobs
from annotator.services.messages import to_json
from annotator.services.importing import Source, get_or_create_project, import_sources
from annotator.services.users import create_token, create_user
from annotator.suggest.signals import CONTEXT_PHRASES, PHRASES

from helpers import PASSWORD, article_pks, hidden_csrf_token, import_articles, project_id

ZH_PO = Path(__file__).resolve().parent.parent / "annotator/translations/zh/LC_MESSAGES/messages.po"
# two letters or more ("n/a" is not a word), not part of a number or a name (0xb1, AC1, A_B)
WORD = re.compile(r"(?<![\w'’])[A-Za-z][A-Za-z'’]*[A-Za-z](?![\w'’])", re.ASCII)
SHOWN_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
LITERAL = ("code", "kbd", "script", "style", "textarea")
"""Elements holding literal text: keys, commands, editable data."""

# The data: Chinese text with a few English words no UI string uses, so that a data word can
# never hide an untranslated one.
PROJECT = "新闻 Zorblat"
ARTICLES = [
    {"id": "a1", "title": "税收 Quixley 报道", "url": "https://example.com/quixley",
     "paragraphs": ["政府宣布新的税收政策。", "数据显示 Frobnitz 增长。", "版权所有。"]},
    {"id": "a2", "title": "第二篇文章", "paragraphs": ["专家认为政策有效。", "更多阅读。"]},
]
EMPTY_PROJECT = "空项目"
USERS = {"boss": "admin", "审核员甲": "reviewer", "ann_li": "annotator", "ann_wang": "annotator",
         "ann_zhao": "annotator"}
UPLOADS = ("gbk.txt", "x.jsonl", "zh.txt", "en.txt")
SAMPLE_IDS = {"project_id": "project", "article_id": "article", "number": "version",
              "job_id": "job"}


def _catalog_words() -> set[str]:
    """ASCII words the Chinese translations keep on purpose."""
    with ZH_PO.open("rb") as fileobj:
        catalog = read_po(fileobj, locale="zh")
    words = set()
    for message in catalog:
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        for string in strings:
            words.update(WORD.findall(re.sub(r"%\(\w+\)s|\{\w+\}", " ", string)))
    return words


def _data_words() -> set[str]:
    strings = [PROJECT, *USERS, *UPLOADS, *(str(value) for article in ARTICLES for value in article.values())]
    return {word for string in strings for word in WORD.findall(string)}


ALLOWED = _catalog_words() | _data_words() | set(LANGUAGES["en"].split())  # the switcher


class _Reader(HTMLParser):
    """Collects what a reader of the page sees or hears."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.shown: list[str] = []
        self.literal = 0  # depth inside LITERAL elements

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        self.shown += [values[name] for name in SHOWN_ATTRIBUTES if values.get(name)]
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.shown.append(values["value"])
        if tag in LITERAL:
            self.literal += 1

    def handle_endtag(self, tag):
        if tag in LITERAL:
            self.literal -= 1

    def handle_data(self, data):
        if not self.literal:
            self.shown.append(data)


_PAGE_DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)


_QUOTED = re.compile(r"“[^”]{1,80}”|'[^'\s]{1,64}'")


def english_words(page: str) -> list[str]:
    """The English words a reader of the page meets: ASCII words neither from the data nor
    kept by the Chinese catalog, nor quoted (“test”, 'zzz': names of things, literal)."""
    reader = _Reader()
    reader.feed(page)
    shown = reader.shown
    blob = _PAGE_DATA.search(page)
    if blob:  # the texts static/js shows
        texts = json.loads(html.unescape(blob.group(1))).get("text", {}).values()
        shown += [re.sub(r"\{\w+\}", " ", str(text)) for text in texts]  # {count}: the script's
    return [word for text in shown for word in WORD.findall(_QUOTED.sub(" ", text))
            if word not in ALLOWED]


@pytest.fixture
def site(app):
    """A project with two articles, labeled by two annotators (a disagreement, a gold label),
    every role signed in from its own client with the zh cookie."""
    import_articles(app, PROJECT, ARTICLES)
    with app.app_context():
        ids = {name: create_user(db.session, name, PASSWORD, role).id for name, role in USERS.items()}
        create_token(db.session, db.session.get(User, ids["boss"]), "笔记本")
        first = article_pks(app, PROJECT)[0]
        paragraphs = db.session.scalars(select(Paragraph).where(Paragraph.article_id == first)
                                        .order_by(Paragraph.index)).all()
        for paragraph, (li, wang) in zip(paragraphs, [("claim", "claim"), ("evidence", "other"),
                                                      ("boilerplate", "boilerplate")]):
            save_annotation(db.session, paragraph.id, ids["ann_li"], li)
            save_annotation(db.session, paragraph.id, ids["ann_wang"], wang)
        set_gold(db.session, paragraphs[1], "evidence", ids["boss"])
        second = article_pks(app, PROJECT)[1]
        queue.assign(db.session, [second], ids["ann_wang"])  # a pinned hold
        queue.touch(db.session, second, ids["ann_zhao"], labeled=True)  # held by a user now
        db.session.get(User, ids["ann_zhao"]).active = False  # deactivated
        db.session.commit()
        empty = get_or_create_project(db.session, EMPTY_PROJECT).id
        db.session.commit()
        refused = import_sources(db.session, EMPTY_PROJECT, [Source("x.jsonl", b'{"title": 1}\n', "jsonl")])
        jobs = [ImportJob(project_id=project, file_name="x.jsonl", format=fmt, **outcome)
                for project, fmt, outcome in (
                    (empty, "warc", {"state": "done", "added": 2, "paragraphs": 3,
                                     "warc_skipped": {"not_html": 1, "duplicate": 1}}),
                    (empty, "jsonl", {"state": "failed", "error": refused.failure(),
                                      "errors": [to_json(line) for line in refused.errors],
                                      "error_count": 1}),
                    (empty, "jsonl", {"state": "failed", "error": "the server process stopped"}),
                    (empty, "jsonl", {"state": "running", "owner": import_jobs.owner()}))]
        db.session.add_all(jobs)
        db.session.commit()
        job_ids = [job.id for job in jobs]
    first = article_pks(app, PROJECT)[0]
    return {"app": app, "values": [
        {"project": project_id(app, PROJECT), "article": first, "version": 1, "job": job_ids[0]},
        *({"project": empty, "article": first, "version": 1, "job": job} for job in job_ids[1:])]}


def _client(app, username: str):
    client = app.test_client()
    client.set_cookie("lang", "zh")
    page = client.get("/login")
    response = client.post("/login", data={"csrf_token": hidden_csrf_token(page.get_data(as_text=True)),
                                           "username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _page_urls(app, values: dict[str, int]) -> list[str]:
    """Every GET route outside the API and static files, with sample ids filled in."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        missing = [name for name in rule.arguments if name not in SAMPLE_IDS]
        assert not missing, f"{rule.rule}: no sample value for {missing}: add it to SAMPLE_IDS"
        urls.append(rule.build({name: values[SAMPLE_IDS[name]] for name in rule.arguments},
                               append_unknown=False)[1])
    return sorted(urls)


@pytest.mark.parametrize("username", ["boss", "审核员甲", "ann_li"])
def test_every_page_is_chinese(site, username):
    app = site["app"]
    client = _client(app, username)
    found, seen = {}, 0
    for url in sorted({url for values in site["values"] for url in _page_urls(app, values)}):
        response = client.get(url, follow_redirects=True)
        if response.mimetype != "text/html":
            continue
        seen += 1
        page = response.get_data(as_text=True)
        assert '<html lang="zh-CN">' in page, url
        words = english_words(page)
        if words:
            found[f"{url} ({response.status_code})"] = sorted(set(words))
    assert seen >= 16 if username == "boss" else seen >= 6
    assert not found, f"English on the zh pages of {username}: {found}"


def test_error_pages_are_chinese(site):
    app = site["app"]
    annotator = _client(app, "ann_li")
    pages = {
        "403": annotator.get("/admin/users"),
        "404": annotator.get("/projects/999999"),
        "413": annotator.post("/language", data={"language": "zh", "x": "y" * (1100 * 1024)}),
        "400 (CSRF)": annotator.post("/language", data={"language": "zh"}),
        "400 (NUL)": annotator.get(f"/projects/{site['values'][0]['project']}?article=a%00b"),
        "400 (number)": annotator.get(f"/projects/{site['values'][0]['project']}?page=x"),
    }
    found = {}
    for name, response in pages.items():
        assert str(response.status_code) == name.split()[0], name
        words = english_words(response.get_data(as_text=True))
        if words:
            found[name] = sorted(set(words))
    assert not found, f"English on the zh error pages: {found}"


def test_the_check_finds_english_and_lets_data_through():
    """The checker itself: an untranslated string is caught, data and literal text are not."""
    assert english_words("<p>Nothing to compare yet</p>") == ["Nothing", "to", "compare", "yet"]
    assert english_words('<button aria-label="Close">×</button>') == ["Close"]
    assert english_words('<input type="submit" value="Save">') == ["Save"]
    assert english_words(f"<h1>{html.escape(PROJECT)}</h1><p>数据显示 Frobnitz 增长。</p>"
                         "<code>flask import</code><kbd>Shift</kbd> “test” 'zzz'") == []
    assert english_words('<script type="application/json" id="page-data">'
                         '{"text": {"saved": "saved"}}</script>') == ["saved"]


def _post(client, url: str, data: dict, **kwargs):
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": hidden_csrf_token(page), **data}, **kwargs)


def test_import_errors_and_summary_on_the_upload_page(site):
    """The reasons a file is refused, and the summary, in Chinese; a browser user is pointed
    to the form's Encoding field, never to a command-line option."""
    app = site["app"]
    url = f"/admin/projects/{site['values'][0]['project']}/import"
    for language, field, summary in (("zh", "“编码”", "已导入：1 篇文章"), ("en", "Encoding field",
                                                                 "Imported: 1 article added,")):
        client = _client(app, "boss")
        client.set_cookie("lang", language)
        bad = {"file": (BytesIO("标题\n正文".encode("gb18030")), "gbk.txt"), "fmt": "auto",
               "split": "line", "encoding": ""}
        page = _post(client, url, bad, content_type="multipart/form-data").get_data(as_text=True)
        assert "gbk.txt:1:" in page and field in page, page
        assert "--encoding" not in page
        if language == "zh":
            assert not english_words(page), english_words(page)
        for records, problem in ((b'{"title": 1}\n', "title"), (b"\xff\xfe\x00\x00", "UTF-16"),
                                 (b"[1]\n", "JSON")):
            page = _post(client, url, {"file": (BytesIO(records), "x.jsonl"), "fmt": "auto",
                                       "split": "line", "encoding": ""},
                         content_type="multipart/form-data").get_data(as_text=True)
            assert "x.jsonl:1:" in page and problem in page, page
            assert "--encoding" not in page
            if language == "zh":
                assert not english_words(page), english_words(page)
        one = {"file": (BytesIO(f"{language} 标题\n一段。".encode()), f"{language}.txt"),
               "fmt": "auto", "split": "line", "encoding": ""}
        page = _post(client, url, one, content_type="multipart/form-data",
                     follow_redirects=True).get_data(as_text=True)
        assert summary in page, page


def test_refusals_on_the_pages_are_chinese(site):
    """The username rules, a project name, the review page's filters."""
    client = _client(site["app"], "boss")
    pages = {
        "username": _post(client, "/admin/users", {"username": "两 个字", "password": PASSWORD,
                                                   "confirm": PASSWORD, "role": "annotator"}),
        "project name": _post(client, "/admin/projects/new", {"name": " "}, follow_redirects=True),
        "review filter": client.get(f"/review/projects/{site['values'][0]['project']}"
                                    "?label_a=zzz&label_b=claim"),
        "review annotator": client.get(f"/review/projects/{site['values'][0]['project']}"
                                       "?annotator=nobody"),
    }
    texts = {name: html.unescape(page.get_data(as_text=True)) for name, page in pages.items()}
    assert "U+0020" in texts["username"] and "'zzz'" in texts["review filter"]
    assert "'nobody'" in texts["review annotator"]
    found = {name: english_words(text) for name, text in texts.items() if english_words(text)}
    assert not found, found


def test_default_labels_are_shown_in_the_ui_language(app):
    """Stored in English (exports and the API keep them), shown translated while they are the
    defaults; a name an admin wrote is shown as written."""
    assert set(DEFAULT_LABEL_TEXTS) == {text for _key, name, _c, _h, description in DEFAULT_LABELS
                                        for text in (name, description)} | {
        name for _key, name, *_ in DEFAULT_SPAN_LABELS + DEFAULT_RELATIONS}
    with app.test_request_context(headers={"Cookie": "lang=zh"}):
        assert label_text("Claim") == "主张" and label_text("Supports") == "支持"
        assert label_text("Ads/Boilerplate") != "Ads/Boilerplate"
        assert label_text("My own label") == "My own label"
        assert label_text(None) is None
    with app.test_request_context():
        assert label_text("Claim") == "Claim"


def test_the_apps_own_suggestion_reasons_are_shown_translated(app):
    """Stored in English (the API returns them so); shown in the UI's language, each form the
    app writes, and a model's own reason as it came."""
    assert set(SHAPE_PHRASES) == set(PHRASES.values()) | set(CONTEXT_PHRASES.values())
    reasons = ["page shape", "page shape: short line, outside the article's text",
               "page shape: 85% link text, in a block named nav menu",
               "same text on 4 pages of example.com", "same text on 3 pages of this project",
               "title of another article: 政府宣布", "model trained on 840 labels: 0.97",
               "labeled boilerplate on another page of example.com"]
    with app.test_request_context(headers={"Cookie": "lang=zh"}):
        shown = [reason_text(reason) for reason in reasons]
        assert reason_text("my model's hunch") == "my model's hunch"
        assert reason_text("page shape: short line, something new") == (
            "page shape: short line, something new")  # not a form the app writes: as it is
    for reason, text in zip(reasons, shown):
        data = {"example", "com", "nav", "menu", "boilerplate"}
        assert text != reason and not [word for word in WORD.findall(text)
                                       if word not in ALLOWED | data], (reason, text)
    assert "example.com" in shown[3] and "840" in shown[6] and "0.97" in shown[6]
    with app.test_request_context():
        assert [reason_text(reason) for reason in reasons] == reasons

"""The article page's markup per paragraph stays small (issue 11: a 1,500-paragraph article
under 1 MB of HTML): a paragraph holds its number and text, and only what it has (its label
tag and save state, its suggestion, its note)."""
from __future__ import annotations

import gzip
import json
import re

import lxml.html
import pytest

from sqlalchemy import delete

from annotator.extensions import db
from annotator.models import Annotation, Span, Suggestion, User

from helpers import article_pks, import_articles, login, make_user, paragraph_pks

PARAGRAPHS = 200
UNLABELED_BYTES = 210  # markup of an unlabeled paragraph without suggestion (was ~700)
LABELED_BYTES = 400  # with its label tag and save state (was ~800)


@pytest.fixture
def article(app):
    make_user(app, "ann")
    texts = [f"第{i}段 paragraph {i} <b>&amp;</b>" for i in range(PARAGRAPHS)]
    import_articles(app, "p", [{"id": "a", "title": "A", "paragraphs": texts}])
    with app.app_context():
        db.session.execute(delete(Suggestion))  # none, whatever the import suggested
        db.session.commit()
    return article_pks(app, "p")[0], texts


def rendered(app, pk: int) -> str:
    client = app.test_client()
    assert login(client, "ann").status_code == 302
    response = client.get(f"/articles/{pk}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def paragraph_markup(html: str) -> list[str]:
    """Each paragraph's <li>…</li>, as sent."""
    inside = html.split('<ol class="paragraphs" id="paragraphs">', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'<li class="para".*?</li>', inside, re.DOTALL)


def escaped_len(text: str) -> int:
    return len(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode())


def label(app, pk: int, indexes: dict[int, str | None]) -> None:
    """The caller's claims on the given paragraphs, each with the given note."""
    ids = paragraph_pks(app, pk)
    with app.app_context():
        user = db.session.query(User).filter_by(username="ann").one()
        for index, note in indexes.items():
            db.session.add(Annotation(paragraph_id=ids[index], user_id=user.id, label="claim",
                                      note=note, source="human"))
        db.session.commit()


def test_an_unlabeled_paragraph_is_its_text_and_little_more(app, article):
    pk, texts = article
    html = rendered(app, pk)
    items = paragraph_markup(html)
    assert len(items) == PARAGRAPHS
    overhead = [len(item.encode()) - escaped_len(text) for item, text in zip(items, texts)]
    assert max(overhead) <= UNLABELED_BYTES, max(overhead)
    inside = html.split('id="paragraphs">', 1)[1].split("</ol>", 1)[0]
    assert not re.search(r">\s+<", inside)  # no whitespace between the paragraphs' elements
    tree = lxml.html.fromstring(html)
    paragraphs = tree.get_element_by_id("paragraphs")
    assert not paragraphs.find_class("note") and not paragraphs.find_class("para-meta")
    assert [p.find_class("para-text")[0].text for p in tree.find_class("para")] == texts
    assert len(tree.xpath('//template[@id="note-template"]/textarea')) == 1  # drawn on demand


def test_a_labeled_paragraph_shows_its_tag_state_and_note(app, article):
    pk, texts = article
    label(app, pk, {3: None, 7: "why <i>this</i>"})
    tree = lxml.html.fromstring(rendered(app, pk))
    paras = tree.find_class("para")
    for index in (3, 7):
        para = paras[index]
        assert para.get("data-label") == "claim" and para.get("data-state") == "saved"
        assert "Claim" in para.find_class("label-tag")[0].text_content()
        assert para.find_class("save-state")[0].text == "saved"
    assert [area.text for area in tree.iter("textarea") if area.text] == ["why <i>this</i>"]
    assert paras[3].find_class("note") == [] and paras[8].find_class("para-meta") == []
    items = paragraph_markup(rendered(app, pk))
    assert len(items[3].encode()) - escaped_len(texts[3]) <= LABELED_BYTES


def test_the_page_is_sent_gzipped_to_a_browser_that_takes_it(app, article):
    pk, texts = article
    client = app.test_client()
    assert login(client, "ann").status_code == 302
    plain = client.get(f"/articles/{pk}")
    packed = client.get(f"/articles/{pk}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.vary
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.vary
    assert len(packed.data) < len(plain.data) / 3
    page = gzip.decompress(packed.data).decode()
    assert len(paragraph_markup(page)) == PARAGRAPHS and texts[-1].replace("<", "&lt;")[:20] in page
    small = client.get("/", headers={"Accept-Encoding": "gzip"})  # under 32 KB: as it is
    assert small.status_code == 200 and "Content-Encoding" not in small.headers
    # A query string could reflect an attacker's guesses next to the CSRF token (BREACH).
    queried = client.get(f"/articles/{pk}?from=queue", headers={"Accept-Encoding": "gzip"})
    assert queried.status_code == 200 and "Content-Encoding" not in queried.headers


LONG = 120  # paragraphs, with ARTICLE_HTML_PARAGRAPHS = FIRST
FIRST = 50
HOSTILE = "</script><script>alert(1)</script> <!-- <script> \u2028 &amp;"


@pytest.fixture
def long_article(app):
    app.config["ARTICLE_HTML_PARAGRAPHS"] = FIRST
    make_user(app, "ann")
    texts = [f"段落 {i} paragraph {i}" for i in range(LONG)]
    texts[90] = HOSTILE
    import_articles(app, "p", [{"id": "long", "title": "Long", "paragraphs": texts}])
    pk = article_pks(app, "p")[0]
    ids = paragraph_pks(app, pk)
    with app.app_context():
        db.session.execute(delete(Suggestion))
        db.session.add(Suggestion(paragraph_id=ids[100], label="boilerplate", confidence=0.875,
                                  reason="same text on 3 pages of x.example", model="signals"))
        db.session.commit()
    label(app, pk, {10: None, 80: "late <note>"})
    return pk, texts, ids


def test_a_long_article_sends_its_first_paragraphs_as_html_and_the_rest_as_data(app, long_article):
    pk, texts, ids = long_article
    html = rendered(app, pk)
    assert len(paragraph_markup(html)) == FIRST
    tree = lxml.html.fromstring(html)
    assert [p.get("id") for p in tree.find_class("para")] == [f"p{i}" for i in range(FIRST)]
    assert tree.get_element_by_id("p10").get("data-label") == "claim"
    (data,) = tree.xpath('//script[@id="later-paragraphs"]')
    assert data.get("type") == "application/json"
    records = json.loads(data.text)
    assert [record[:3] for record in records] == [
        [ids[i], i, texts[i]] for i in range(FIRST, LONG)]
    by_index = {record[1]: record for record in records}
    assert by_index[80][3:] == ["claim", "human", "late <note>"]
    assert by_index[100][3:6] == [None, None, None] and by_index[100][6] == [
        "boilerplate", "0.88", "same text on 3 pages of x.example"]
    assert all(len(record) == 3 for i, record in by_index.items() if i not in (80, 100))
    # The article text cannot end the script element: "</script>" and "<!--" sent escaped.
    raw = html.split('id="later-paragraphs">', 1)[1].split("</script>", 1)[0]
    assert "<" not in raw and HOSTILE not in raw and json.loads(raw) == records
    assert len(tree.xpath("//script[not(@src)]")) == 2  # page-data and later-paragraphs only


def test_an_article_with_spans_or_links_is_sent_all_as_html(app, long_article):
    pk, texts, ids = long_article
    with app.app_context():
        user = db.session.query(User).filter_by(username="ann").one()
        db.session.add(Span(paragraph_id=ids[5], user_id=user.id, start=0, end=2, label="claim"))
        db.session.commit()
    html = rendered(app, pk)
    assert len(paragraph_markup(html)) == LONG
    assert 'id="later-paragraphs"' not in html
    assert lxml.html.fromstring(html).get_element_by_id("p90").find_class("para-text")[0].text == HOSTILE


@pytest.mark.parametrize(("labeled", "start"), [(70, 60), (115, LONG - FIRST), (LONG, 0)])
def test_the_html_starts_where_the_page_opens(app, long_article, labeled, start):
    """At the first unlabeled paragraph, RESUME_CONTEXT (10) before it, never past the end;
    at the top once all are labeled. The data holds the paragraphs before and after."""
    pk, texts, ids = long_article
    label(app, pk, {i: None for i in range(labeled) if i not in (10, 80)})
    tree = lxml.html.fromstring(rendered(app, pk))
    assert [p.get("id") for p in tree.find_class("para")] == [f"p{i}" for i in range(start, start + FIRST)]
    records = json.loads(tree.get_element_by_id("later-paragraphs").text)
    assert [record[1] for record in records] == [*range(start), *range(start + FIRST, LONG)]
    assert all(record[3] == "claim" for record in records if record[1] < labeled)

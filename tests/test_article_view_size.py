"""The article page's markup per paragraph stays small (issue 11: a 1,500-paragraph article
under 1 MB of HTML): a paragraph holds its number and text, and only what it has (its label
tag and save state, its suggestion, its note)."""
from __future__ import annotations

import gzip
import re

import lxml.html
import pytest

from sqlalchemy import delete

from annotator.extensions import db
from annotator.models import Annotation, Suggestion, User

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

"""The article page hands its script the caller's own spans and links (never another
annotator's or the gold ones), the project's span labels and relations, and span label
colours through labels.css; a span label's name is text in JSON, never markup."""
from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Link, Project, Span

from helpers import article_pks, import_articles, login, make_user, paragraph_pks, project_id

PAGE_DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.DOTALL)


@pytest.fixture
def article(app):
    ann, other = make_user(app, "ann"), make_user(app, "other")
    import_articles(app, "p", [{"id": "a", "title": "A", "paragraphs": ["one two", "three four"]}])
    pk = article_pks(app, "p")[0]
    first, second = paragraph_pks(app, pk)
    with app.app_context():
        project = db.session.get(Project, project_id(app, "p"))
        project.span_labels[0].name = "</script><b>Claim</b>"  # text, even where it looks like markup
        spans = [Span(paragraph_id=first, user_id=ann, start=0, end=3, label="claim"),
                 Span(paragraph_id=second, user_id=ann, start=6, end=10, label="evidence"),
                 Span(paragraph_id=first, user_id=other, start=4, end=7, label="claim"),
                 Span(paragraph_id=second, user_id=ann, gold=True, start=0, end=5, label="claim")]
        db.session.add_all(spans)
        db.session.flush()
        db.session.add_all([
            Link(article_id=pk, user_id=ann, from_span_id=spans[1].id, to_span_id=spans[0].id,
                 relation="supports"),
            Link(article_id=pk, user_id=ann, from_paragraph_id=second, to_paragraph_id=first,
                 relation="attacks"),
            Link(article_id=pk, user_id=other, from_paragraph_id=second, to_span_id=spans[2].id,
                 relation="supports")])
        ids = [span.id for span in spans]
        db.session.commit()
    return pk, first, second, ids


def page_data(app, pk: int) -> tuple[dict, str]:
    client = app.test_client()
    assert login(client, "ann").status_code == 302
    response = client.get(f"/articles/{pk}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    return json.loads(html.unescape(PAGE_DATA.search(text).group(1))), text


def test_the_page_carries_only_the_callers_own_spans_and_links(app, article):
    pk, first, second, (claim, evidence, _other, _gold) = article
    data, _ = page_data(app, pk)
    assert data["spans"] == {
        str(first): [{"id": claim, "start": 0, "end": 3, "label": "claim"}],
        str(second): [{"id": evidence, "start": 6, "end": 10, "label": "evidence"}]}
    assert [(link["from"], link["to"], link["relation"]) for link in data["links"]] == [
        ({"span_id": evidence}, {"span_id": claim}, "supports"),
        ({"paragraph_id": second}, {"paragraph_id": first}, "attacks")]
    assert [label["key"] for label in data["spanLabels"]] == ["claim", "evidence"]
    assert [(r["key"], r["hotkey"]) for r in data["relations"]] == [("supports", "s"), ("attacks", "x")]


def test_a_span_label_name_is_text_and_its_colour_comes_from_labels_css(app, article):
    pk = article[0]
    data, text = page_data(app, pk)
    assert data["spanLabels"][0]["name"] == "</script><b>Claim</b>"
    assert "<b>Claim</b>" not in text  # escaped inside the JSON script, the script not ended
    client = app.test_client()
    login(client, "ann")
    css = client.get(f"/projects/{project_id(app, 'p')}/labels.css").get_data(as_text=True)
    with app.app_context():
        color = db.session.scalar(select(Project).where(Project.name == "p")).span_labels[1].color
    assert f'.span-mark[data-label="evidence"] {{ --span-color: {color}; }}' in css

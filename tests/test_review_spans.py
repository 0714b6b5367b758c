"""Adjudication of spans and links: which paragraphs come up for review because their spans or
links differ, what the review page shows of each annotator's spans and links and of the gold
ones, and who may see and set them."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Link, Span
from annotator.services.annotations import save_annotation
from annotator.services.review import ReviewFilters, review_counts, review_page
from annotator.services.review_spans import review_structure

from helpers import (article_pks, csrf_headers, import_articles, login, make_user,
                     paragraph_pks, project_id, user_id)

EVIL = "<script>alert(1)</script>"
# ¶0 a claim, ¶1 evidence (a CJK Extension B character and an emoji before the span), ¶2 agreed
TEXTS = ["骑车上班的人越来越多，城市应该修更多自行车道。",
         f"𠀋👩‍👩‍👧 数据显示，去年自行车通勤增加了四成。{EVIL}",
         "本文转载自城市日报。"]


@pytest.fixture
def world(app):
    """li and wang agree on every paragraph label of a Chinese article; their spans differ."""
    for name in ("li", "wang", "zhao"):
        make_user(app, name)
    make_user(app, "rev", "reviewer")
    import_articles(app, "news", [{"id": "z1", "title": "自行车道", "paragraphs": TEXTS}])
    article = article_pks(app, "news")[0]
    paragraphs = paragraph_pks(app, article)
    li, wang = user_id(app, "li"), user_id(app, "wang")
    with app.app_context():
        for user in (li, wang):
            for pid, label in zip(paragraphs, ("claim", "evidence", "boilerplate")):
                save_annotation(db.session, pid, user, label, None)
        evidence = TEXTS[1].index("去年")
        spans = {
            # li: a claim span in ¶0, an evidence span in ¶1 linked to it
            "li_claim": Span(paragraph_id=paragraphs[0], user_id=li, start=11, end=22, label="claim"),
            "li_evidence": Span(paragraph_id=paragraphs[1], user_id=li, start=evidence,
                                end=evidence + 13, label="evidence"),
            # wang: the same claim span, a longer evidence span, linked to paragraph ¶0
            "wang_claim": Span(paragraph_id=paragraphs[0], user_id=wang, start=11, end=22,
                               label="claim"),
            "wang_evidence": Span(paragraph_id=paragraphs[1], user_id=wang, start=0,
                                  end=len(TEXTS[1]), label="evidence"),
        }
        db.session.add_all(spans.values())
        db.session.flush()
        db.session.add_all([
            Link(article_id=article, user_id=li, from_span_id=spans["li_evidence"].id,
                 to_span_id=spans["li_claim"].id, relation="supports"),
            Link(article_id=article, user_id=wang, from_span_id=spans["wang_evidence"].id,
                 to_paragraph_id=paragraphs[0], relation="attacks"),
        ])
        db.session.commit()
    app.config["world"] = {"article": article, "paragraphs": paragraphs, "evidence": evidence}
    return app


def _ids(app, **filters) -> list[int]:
    with app.app_context():
        page = review_page(db.session, project_id(app, "news"), ReviewFilters(**filters))
    return [item.paragraph_id for item in page.items]


def _structure(app) -> dict:
    with app.app_context():
        return review_structure(db.session, project_id(app, "news"), app.config["world"]["paragraphs"])


def test_paragraphs_whose_spans_or_links_differ_are_listed_though_their_labels_agree(world):
    p0, p1, p2 = world.config["world"]["paragraphs"]
    # ¶0: the same claim span from both, but wang's link starts in ¶1, li's too: ¶0 agrees
    # ¶1: the evidence spans differ (and the links from them); ¶2: nobody marked anything
    assert _ids(world) == [p1]
    assert _ids(world, only="no-gold") == [p1]
    with world.app_context():
        counts = review_counts(db.session, project_id(world, "news"))
    assert (counts.disagreements, counts.remaining) == (1, 1)
    # zhao labels ¶0 like them but marks no span: now ¶0 differs too (zhao saw it, marked none)
    with world.app_context():
        save_annotation(db.session, p0, user_id(world, "zhao"), "claim", None)
    assert _ids(world) == [p0, p1]


def test_equal_spans_and_links_are_no_disagreement_and_a_link_alone_is_one(world):
    p0, p1, _p2 = world.config["world"]["paragraphs"]
    evidence = world.config["world"]["evidence"]
    with world.app_context():
        wang_evidence = db.session.scalar(select(Span).where(
            Span.paragraph_id == p1, Span.user_id == user_id(world, "wang")))
        wang_evidence.start, wang_evidence.end = evidence, evidence + 13  # now li's span
        db.session.commit()
    assert _ids(world) == [p1]  # the links still differ: to ¶0 "attacks" against to a span
    with world.app_context():
        wang = user_id(world, "wang")
        claim = db.session.scalar(select(Span).where(Span.paragraph_id == p0, Span.user_id == wang))
        link = db.session.scalar(select(Link).where(Link.user_id == wang))
        link.to_paragraph_id, link.to_span_id, link.relation = None, claim.id, "supports"
        db.session.commit()
    assert _ids(world) == []  # same spans, same link by offsets (the span ids differ)
    assert _ids(world, only="all-labeled") == world.config["world"]["paragraphs"]


def test_the_review_data_shows_each_annotators_spans_and_links_with_their_text(world):
    p0, p1, _p2 = world.config["world"]["paragraphs"]
    evidence = world.config["world"]["evidence"]
    structure = _structure(world)
    assert structure["differ"] == [p1]
    card = structure["paragraphs"][p1]
    assert [a["name"] for a in card["annotators"]] == ["li", "wang"]
    li, wang = card["annotators"]
    assert [(s["start"], s["end"], s["label"], s["text"]) for s in li["spans"]] == [
        (evidence, evidence + 13, "evidence", "去年自行车通勤增加了四成。")]
    assert wang["spans"][0]["text"] == TEXTS[1]  # code points: the emoji's ZWJ sequence whole
    (li_link,) = li["links"]
    assert li_link["relation"] == "supports"
    assert li_link["from"] == {"paragraph_id": p1, "index": 1, "span": {
        "id": li["spans"][0]["id"], "start": evidence, "end": evidence + 13, "label": "evidence",
        "text": "去年自行车通勤增加了四成。"}}
    assert li_link["to"]["index"] == 0 and li_link["to"]["span"]["text"] == "城市应该修更多自行车道"
    (wang_link,) = wang["links"]
    assert (wang_link["relation"], wang_link["to"]) == (
        "attacks", {"paragraph_id": p0, "index": 0, "span": None})
    # ¶0's card shows the links into it too; ¶2 nobody marked
    assert [len(a["links"]) for a in structure["paragraphs"][p0]["annotators"]] == [1, 1]
    assert structure["paragraphs"][_p2]["annotators"][0] == {"name": "li", "spans": [], "links": []}
    assert card["gold"] == [] and structure["articles"][world.config["world"]["article"]] == {
        "goldSpans": {}, "goldLinks": []}


def test_gold_spans_and_links_set_through_the_gold_routes_show_on_the_page(world):
    p0, p1, _p2 = world.config["world"]["paragraphs"]
    article = world.config["world"]["article"]
    evidence = world.config["world"]["evidence"]
    client = world.test_client()
    login(client, "rev")
    url = f"/review/projects/{project_id(world, 'news')}"
    headers = csrf_headers(client, url)
    claim = client.put(f"/api/paragraphs/{p0}/gold/spans", headers=headers,
                       json={"spans": [{"start": 11, "end": 22, "label": "claim"}]})
    assert claim.status_code == 200, claim.get_json()
    proof = client.put(f"/api/paragraphs/{p1}/gold/spans", headers=headers,
                       json={"spans": [{"start": evidence, "end": evidence + 13, "label": "evidence"}]})
    assert proof.status_code == 200, proof.get_json()
    claim_id, proof_id = claim.get_json()["spans"][0]["id"], proof.get_json()["spans"][0]["id"]
    # gold spans settle a disagreement on spans: it leaves "without gold" and the count
    assert _ids(world) == [p1] and _ids(world, only="no-gold") == []
    with world.app_context():
        counts = review_counts(db.session, project_id(world, "news"))
    assert (counts.disagreements, counts.remaining) == (1, 0)
    links = client.put(f"/api/articles/{article}/gold/links", headers=headers, json={"links": [
        {"from": {"span_id": proof_id}, "to": {"span_id": claim_id}, "relation": "supports"}]})
    assert links.status_code == 200, links.get_json()

    html = client.get(url).get_data(as_text=True)
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', html, re.S).group(1))
    assert data["paragraphs"][str(p1)]["gold"] == [{"id": proof_id, "start": evidence,
        "end": evidence + 13, "label": "evidence", "text": "去年自行车通勤增加了四成。"}]
    gold = data["articles"][str(article)]
    assert set(gold["goldSpans"]) == {str(p0), str(p1)}  # the whole article's: links need them
    ((link),) = gold["goldLinks"]
    assert (link["from"]["span"]["id"], link["to"]["span"]["id"], link["relation"]) == (
        proof_id, claim_id, "supports")
    assert data["spanLabels"] == {"claim": "Claim", "evidence": "Evidence"}
    assert data["relations"] == {"supports": "Supports", "attacks": "Attacks"}
    # the annotators' lines are unchanged by gold, and the card is still a disagreement
    assert [a["name"] for a in data["paragraphs"][str(p1)]["annotators"]] == ["li", "wang"]
    card = re.search(rf'<li class="review-card"[^>]*data-paragraph-id="{p1}"[^>]*>', html).group(0)
    assert 'data-disagreement="true"' in card and 'data-spans-differ="true"' in card
    assert f'data-article="{article}"' in card


def test_article_text_in_the_spans_is_escaped_in_the_page_data(world):
    client = world.test_client()
    login(client, "rev")
    html = client.get(f"/review/projects/{project_id(world, 'news')}").get_data(as_text=True)
    assert EVIL not in html  # wang's span holds it: tojson writes < as \u003c
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html


def test_annotators_get_403_on_the_review_page_and_the_gold_routes(world):
    p0 = world.config["world"]["paragraphs"][0]
    client = world.test_client()
    login(client, "li")
    assert client.get(f"/review/projects/{project_id(world, 'news')}").status_code == 403
    headers = csrf_headers(client, "/")
    assert client.put(f"/api/paragraphs/{p0}/gold/spans", headers=headers, json={
        "spans": [{"start": 0, "end": 2, "label": "claim"}]}).status_code == 403
    assert client.put(f"/api/articles/{world.config['world']['article']}/gold/links",
                      headers=headers, json={"links": []}).status_code == 403
    with world.app_context():
        assert db.session.scalar(select(Span).where(Span.gold.is_(True))) is None


def test_the_structure_takes_a_fixed_number_of_queries(world):
    from sqlalchemy import event
    with world.app_context():
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            review_structure(db.session, project_id(world, "news"), world.config["world"]["paragraphs"])
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 6, statements

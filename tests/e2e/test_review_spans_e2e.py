"""Adjudicating spans in a real browser: two annotators mark different spans in the Chinese demo
article (their paragraph labels agree), the reviewer takes one side's spans as gold with the
keyboard, its link comes along, a reload shows the gold, and the database holds it with the
annotator's exact code-point offsets."""
from __future__ import annotations

import sqlite3

from servers import bearer_api

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

ZH = "demo-zh-battery-recycling"
CLAIM, EVIDENCE = 5, 7  # paragraph indexes: labeled claim and evidence by both annotators


def _span(text: str, part: str, label: str) -> dict:
    start = text.index(part)  # Python indexes code points, as the server counts offsets
    return {"start": start, "end": start + len(part), "label": label}


def _two_annotators(server, demo) -> dict:
    """ann1 and ann2 label ¶5 claim and ¶7 evidence alike; ann1 marks a claim span in ¶5 and
    an evidence span in ¶7 linked to it (supports), ann2 a longer claim span and nothing more."""
    texts = demo["articles"][ZH]["paragraphs"]
    tokens = {}
    for name in ("ann1", "ann2"):
        server.cli("create-user", name, "--password-stdin", input="annotator password\n")
        tokens[name] = server.cli("create-token", name).strip().split()[-1]
    project = next(p for p in bearer_api(server, tokens["ann1"], "GET", "/api/projects")
                   if p["name"] == "demo")
    items = bearer_api(server, tokens["ann1"], "GET",
                 f"/api/projects/{project['id']}/articles?limit=1000")["items"]
    article = next(item["id"] for item in items if item["article_id"] == ZH)
    ids = {p["index"]: p["id"] for p in
           bearer_api(server, tokens["ann1"], "GET", f"/api/articles/{article}")["paragraphs"]}
    spans = {
        "ann1": {CLAIM: [_span(texts[CLAIM], "必须尽快建立覆盖生产、销售、报废全过程的溯源与责任体系", "claim")],
                 EVIDENCE: [_span(texts[EVIDENCE], "2025年全国退役动力电池约为四十二万吨", "evidence")]},
        "ann2": {CLAIM: [_span(texts[CLAIM], "动力电池回收不能再停留在“谁拆谁收”的自发阶段，必须尽快建立"
                                             "覆盖生产、销售、报废全过程的溯源与责任体系。", "claim")]},
    }
    stored = {}
    for name, token in tokens.items():
        for index, label in ((CLAIM, "claim"), (EVIDENCE, "evidence")):
            bearer_api(server, token, "PUT", f"/api/paragraphs/{ids[index]}/annotation", {"label": label})
        for index, wanted in spans[name].items():
            stored[(name, index)] = bearer_api(server, token, "PUT", f"/api/paragraphs/{ids[index]}/spans",
                                         {"spans": wanted})["spans"]
    bearer_api(server, tokens["ann1"], "PUT", f"/api/articles/{article}/links", {"links": [
        {"from": {"span_id": stored[("ann1", EVIDENCE)][0]["id"]},
         "to": {"span_id": stored[("ann1", CLAIM)][0]["id"]}, "relation": "supports"}]})
    return {"project": project["id"], "ids": ids, "spans": spans, "texts": texts}


def _gold_rows(server) -> list[tuple]:
    with sqlite3.connect(server.database) as connection:
        spans = connection.execute(
            "SELECT paragraph_id, start, \"end\", label FROM span WHERE gold ORDER BY paragraph_id").fetchall()
        links = connection.execute(
            "SELECT f.paragraph_id, t.paragraph_id, link.relation FROM link "
            "JOIN span f ON f.id = link.from_span_id JOIN span t ON t.id = link.to_span_id "
            "WHERE link.gold").fetchall()
    return spans, links


def test_accept_one_annotators_spans_as_gold_by_keyboard_and_reload(admin_page, live_server, demo,
                                                                   helpers):
    page = admin_page
    world = _two_annotators(live_server, demo)
    ids, spans, texts = world["ids"], world["spans"], world["texts"]
    page.goto(f"/review/projects/{world['project']}")
    claim, evidence = page.locator(f"#r{ids[CLAIM]}"), page.locator(f"#r{ids[EVIDENCE]}")
    # labels agree: the cards are there for their spans (ann2 marked no evidence span)
    expect(page.locator(".review-card")).to_have_count(2)
    expect(claim).to_have_attribute("aria-selected", "true")
    expect(claim).to_have_attribute("data-spans-differ", "true")
    lines = claim.locator(".span-annotator")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("ann1")
    claim_text = texts[CLAIM][spans["ann1"][CLAIM][0]["start"]:spans["ann1"][CLAIM][0]["end"]]
    expect(lines.nth(0).locator(".review-mark")).to_have_text(claim_text)
    expect(lines.nth(0).locator(".span-open")).to_have_text("[Claim")  # the label as text
    expect(lines.nth(1).locator(".review-mark")).to_have_text(
        "动力电池回收不能再停留在“谁拆谁收”的自发阶段，必须尽快建立覆盖生产、销售、报废全过程的溯源与责任体系。")
    expect(evidence.locator(".link-list li")).to_have_text(
        "1. Evidence «2025年全国退役动力电池约为四十二万吨» in ¶ 8 Supports Claim «必须尽快建立覆盖生产、"
        "销售、报废全过程的溯源与责任体系» in ¶ 6 Accept as gold")

    remaining = page.locator("#remaining-count")
    expect(remaining).to_have_text("2")
    page.keyboard.press("Shift+1")  # ann1's claim span becomes gold
    expect(claim).to_have_attribute("data-state", "saved")
    expect(remaining).to_have_text("1")  # gold spans settle a disagreement on spans
    expect(claim.locator(".span-gold .review-mark")).to_have_text(claim_text)
    page.keyboard.press("j")
    expect(evidence).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Shift+1")  # ann1's evidence span, and its link now that both ends are gold
    expect(evidence).to_have_attribute("data-state", "saved")
    expect(evidence.locator(".gold-links li")).to_contain_text("Supports")
    expect(evidence.locator('[data-action="accept-link"]')).to_have_attribute("aria-pressed", "true")
    expect(remaining).to_have_text("0")

    page.reload()
    expect(remaining).to_have_text("0")  # the server counts gold spans as gold too
    expect(claim.locator(".span-gold .review-mark")).to_have_text(claim_text)
    expect(evidence.locator(".span-gold .review-mark")).to_have_text("2025年全国退役动力电池约为四十二万吨")
    expect(claim.locator(".gold-links li")).to_contain_text("Evidence «2025年")
    helpers.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(helpers.ARTIFACTS / "review-spans.png"), full_page=True)
    gold_spans, gold_links = _gold_rows(live_server)
    assert gold_spans == [
        (ids[CLAIM], spans["ann1"][CLAIM][0]["start"], spans["ann1"][CLAIM][0]["end"], "claim"),
        (ids[EVIDENCE], spans["ann1"][EVIDENCE][0]["start"], spans["ann1"][EVIDENCE][0]["end"],
         "evidence")]
    assert gold_links == [(ids[EVIDENCE], ids[CLAIM], "supports")]

    # with the mouse: remove the gold link, then accept ann1's link alone
    evidence.locator('.gold-links [data-action="remove-link"]').click()
    expect(evidence).to_have_attribute("data-state", "saved")
    expect(page.locator(".gold-links")).to_have_count(0)  # gone from both cards
    assert _gold_rows(live_server)[1] == []
    accept = evidence.locator('[data-action="accept-link"]')
    expect(accept).to_be_enabled()
    accept.click()
    expect(accept).to_have_attribute("aria-pressed", "true")
    expect(evidence).to_have_attribute("data-state", "saved")
    expect(claim.locator(".gold-links li")).to_have_count(1)
    assert _gold_rows(live_server)[1] == [(ids[EVIDENCE], ids[CLAIM], "supports")]
    page.keyboard.press("k")

    # ann2's claim span instead: the gold link to the old claim span goes with it
    expect(claim).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Shift+2")
    expect(claim).to_have_attribute("data-state", "saved")
    expect(claim.locator(".gold-links")).to_have_count(0)
    expect(evidence.locator('[data-action="accept-link"]')).to_be_disabled()  # its end is not gold
    # and from the keyboard alone: e reaches the gold span's remove button, Enter presses it
    page.keyboard.press("j")
    for _ in range(3):
        page.keyboard.press("e")
        if page.evaluate("document.activeElement.dataset.action") == "remove-span":
            break
    page.keyboard.press("Enter")
    expect(evidence.locator(".span-gold .span-none")).to_be_visible()
    expect(evidence).to_have_attribute("data-state", "saved")
    expect(remaining).to_have_text("1")  # no gold left on ¶8
    gold_spans, gold_links = _gold_rows(live_server)
    assert gold_spans == [(ids[CLAIM], texts[CLAIM].index("动力电池"), len(texts[CLAIM]), "claim")]
    assert gold_links == []


def test_gold_spans_set_while_the_server_is_down_are_retried_and_their_link_follows(
        admin_page, live_server, demo):
    page = admin_page
    world = _two_annotators(live_server, demo)
    ids, spans = world["ids"], world["spans"]
    page.goto(f"/review/projects/{world['project']}")
    claim, evidence = page.locator(f"#r{ids[CLAIM]}"), page.locator(f"#r{ids[EVIDENCE]}")
    expect(claim).to_have_attribute("aria-selected", "true")

    live_server.stop()
    page.keyboard.press("Shift+1")
    page.keyboard.press("j")
    page.keyboard.press("Shift+1")
    for card in (claim, evidence):
        expect(card).to_have_attribute("data-state", "failed")
        expect(card.locator(".save-state")).to_have_text("not saved, retrying")
    expect(page.locator("#review-status")).to_have_text("Some gold labels are not saved yet.")

    live_server.start()  # nothing else: the page retries by itself, the link after its spans
    for card in (claim, evidence):
        expect(card).to_have_attribute("data-state", "saved", timeout=30_000)
    expect(evidence.locator(".gold-links li")).to_contain_text("Supports", timeout=30_000)
    expect(page.locator("#remaining-count")).to_have_text("0")
    gold_spans, gold_links = _gold_rows(live_server)
    assert [(row[1], row[2]) for row in gold_spans] == [
        (spans["ann1"][index][0]["start"], spans["ann1"][index][0]["end"]) for index in (CLAIM, EVIDENCE)]
    assert gold_links == [(ids[EVIDENCE], ids[CLAIM], "supports")]

"""Adjudication in a real browser: an admin resolves disagreements on the review page with the
keyboard only, and the export gives the gold labels back (`label_source: "gold"`)."""
from __future__ import annotations

import json

from servers import bearer_api

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

EN = "demo-en-cycling-lanes"
DISAGREE = (5, 6, 7, 8)  # paragraph indexes of EN that two annotators label differently
OTHER_LABEL = {"claim": "other", "evidence": "claim", "other": "evidence", "boilerplate": "other"}


def _make_disagreements(server, demo) -> tuple[int, dict[int, int]]:
    """Two annotators (made with the CLI) label EN's paragraphs 0-9 through the API, agreeing
    except on DISAGREE; returns the project id and EN's paragraph ids by index."""
    answers = demo["key"][EN]
    tokens = {}
    for name in ("ann1", "ann2"):
        server.cli("create-user", name, "--password-stdin", input="annotator password\n")
        tokens[name] = server.cli("create-token", name).strip().split()[-1]
    project = next(p for p in bearer_api(server, tokens["ann1"], "GET", "/api/projects")
                   if p["name"] == "demo")
    items = bearer_api(server, tokens["ann1"], "GET",
                 f"/api/projects/{project['id']}/articles?limit=1000")["items"]
    article = next(item["id"] for item in items if item["article_id"] == EN)
    paragraphs = {p["index"]: p["id"] for p in
                  bearer_api(server, tokens["ann1"], "GET", f"/api/articles/{article}")["paragraphs"]}
    for index in range(10):
        first = answers[index]
        second = OTHER_LABEL[first] if index in DISAGREE else first
        for name, label in (("ann1", first), ("ann2", second)):
            bearer_api(server, tokens[name], "PUT", f"/api/paragraphs/{paragraphs[index]}/annotation",
                 {"label": label, "note": f"{name} thinks {label}"})
    return project["id"], paragraphs


def test_resolve_three_disagreements_by_keyboard_and_export_them_as_gold(
        admin_page, live_server, demo, helpers):
    page = admin_page
    answers = demo["key"][EN]
    project, paragraphs = _make_disagreements(live_server, demo)
    hotkeys = helpers.labels(page)

    page.goto(f"/review/projects/{project}")
    cards = page.locator(".review-card")
    expect(cards).to_have_count(len(DISAGREE))
    card = {index: page.locator(f"#r{paragraphs[index]}") for index in DISAGREE}
    expect(page.locator("#remaining-count")).to_have_text("4")
    expect(card[5]).to_have_attribute("aria-selected", "true")  # the script runs: first card
    expect(card[5].locator(".vote")).to_have_count(2)
    expect(card[5].locator(".vote").first).to_contain_text("ann1 thinks")
    expect(card[5].locator(".span-block")).to_be_hidden()  # nobody marked spans: no lines

    def gold(index: int) -> None:
        """Press the answer's hotkey on the selected card and wait until the server has it."""
        expect(card[index]).to_have_attribute("aria-selected", "true")
        page.keyboard.press(hotkeys[answers[index]])
        expect(card[index]).to_have_attribute("data-state", "saved")
        expect(card[index]).to_have_attribute("data-gold", answers[index])
        expect(card[index].locator(f'.gold-button[data-label="{answers[index]}"]')
               ).to_have_attribute("aria-pressed", "true")

    gold(5)
    expect(card[6]).to_have_attribute("aria-selected", "true")  # moved on to the next card
    page.keyboard.press("j")  # skip paragraph 6 for now
    gold(7)
    gold(8)
    expect(card[6]).to_have_attribute("aria-selected", "true")  # the one left without gold
    page.keyboard.press(hotkeys[OTHER_LABEL[answers[6]]])  # a slip...
    expect(card[6]).to_have_attribute("data-state", "saved")
    expect(page.locator("#review-status")).to_have_text(
        "Every paragraph on this page has a gold label.")
    page.keyboard.press("k")
    page.keyboard.press("j")
    expect(card[6]).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Backspace")  # ...taken back
    expect(card[6]).to_have_attribute("data-gold", "")
    expect(card[6]).to_have_attribute("data-state", "saved")
    expect(page.locator("#remaining-count")).to_have_text("1")
    expect(page.locator("#review-status")).to_have_text("")

    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()

    helpers.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(helpers.ARTIFACTS / "review.png"), full_page=True)

    page.reload()  # the server has it: the page shows the same after a reload
    expect(page.locator("#remaining-count")).to_have_text("1")
    for index in (5, 7, 8):
        expect(card[index]).to_have_attribute("data-gold", answers[index])

    exported = {line["paragraph_index"]: line for line in map(json.loads, live_server.cli(
        "export", "--project", "demo").splitlines()) if line["article_id"] == EN}
    for index in (5, 7, 8):
        assert (exported[index]["label"], exported[index]["label_source"]) == (
            answers[index], "gold"), index
    assert (exported[6]["label"], exported[6]["label_source"]) == (None, None)  # a tie, no gold
    assert (exported[0]["label"], exported[0]["label_source"]) == (answers[0], "majority")
    assert {a["annotator"] for a in exported[5]["annotations"]} == {"ann1", "ann2"}


def _review_first_disagreement(page, live_server, demo, helpers):
    """The review page of the demo's disagreements, its first card (paragraph 5) selected:
    the answer key, the paragraph ids, the label hotkeys and that card."""
    project, paragraphs = _make_disagreements(live_server, demo)
    hotkeys = helpers.labels(page)
    page.goto(f"/review/projects/{project}")
    first = page.locator(f"#r{paragraphs[5]}")
    expect(first).to_have_attribute("aria-selected", "true")
    return demo["key"][EN], paragraphs, hotkeys, first


def test_gold_set_while_the_server_is_down_is_kept_failed_and_saved_when_it_returns(
        admin_page, live_server, demo, helpers):
    page = admin_page
    answers, paragraphs, hotkeys, first = _review_first_disagreement(page, live_server, demo,
                                                                     helpers)

    live_server.stop()
    page.keyboard.press(hotkeys[answers[5]])
    expect(first).to_have_attribute("data-state", "failed")
    expect(first.locator(".save-state")).to_have_text("not saved, retrying")
    expect(page.locator("#review-status")).to_have_text("Some gold labels are not saved yet.")
    expect(page.locator(f"#r{paragraphs[6]}")).to_have_attribute("aria-selected", "true")

    live_server.start()  # nothing else: the page retries by itself
    expect(first).to_have_attribute("data-state", "saved", timeout=30_000)
    expect(first).to_have_attribute("data-gold", answers[5])
    expect(page.locator("#review-status")).to_have_text("")
    expect(page.locator("#remaining-count")).to_have_text("3")
    exported = {line["paragraph_index"]: line for line in map(json.loads, live_server.cli(
        "export", "--project", "demo").splitlines()) if line["article_id"] == EN}
    assert (exported[5]["label"], exported[5]["label_source"]) == (answers[5], "gold")


def test_gold_set_while_signed_out_says_so_and_is_saved_once_signed_in_elsewhere(
        admin_page, live_server, demo, helpers):
    page = admin_page
    answers, _paragraphs, hotkeys, first = _review_first_disagreement(page, live_server, demo,
                                                                     helpers)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert page.request.post("/logout", headers={"X-CSRFToken": token}).ok

    calls = []
    page.on("request", lambda request: calls.append(request.url) if "/gold" in request.url else None)
    page.keyboard.press(hotkeys[answers[5]])
    expect(first).to_have_attribute("data-state", "signed-out")
    expect(first.locator(".save-state")).to_have_text("not saved: signed out")
    status = page.locator("#review-status")
    expect(status).to_contain_text("You are signed out: sign in again in another tab")
    expect(page.locator("#sign-in-link")).to_have_attribute("target", "_blank")
    page.wait_for_timeout(2500)  # it retried every 1, 2, 4 s before, saying "retrying"
    assert len(calls) == 1, calls

    tab = page.context.new_page()  # what the link opens
    helpers.sign_in(tab)
    tab.close()
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # back to this tab
    expect(first).to_have_attribute("data-state", "saved")  # the CSRF token renewed, sent again
    expect(first).to_have_attribute("data-gold", answers[5])
    expect(status).to_have_text("")

    help_dialog = page.locator("#help")  # and "?" opens and closes the shortcuts
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    page.keyboard.press("?")
    expect(help_dialog).to_be_hidden()

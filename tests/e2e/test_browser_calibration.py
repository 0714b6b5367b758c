"""Calibration in a real browser: a new annotator's Start opens the calibration article first;
they label it from the keyboard, Shift+Enter marks it done and opens the feedback (their labels
against gold, the guidelines on each label they missed); Enter goes on to ordinary work."""
from __future__ import annotations

import re

from servers import bearer_api

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

EN = "demo-en-cycling-lanes"
WRONG = {6: "other", 8: "boilerplate"}  # two paragraphs the newcomer gets wrong


def test_a_newcomer_calibrates_and_reads_the_feedback_by_keyboard(admin_page, live_server, demo,
                                                                  helpers):
    page, server = admin_page, live_server
    answers = demo["key"][EN]
    token = server.cli("create-token", "admin").strip().split()[-1]
    article = helpers.article_pk(page, "demo", EN)
    paragraphs = bearer_api(server, token, "GET", f"/api/articles/{article}")["paragraphs"]
    for paragraph in paragraphs:  # the admin's gold: the answer key
        bearer_api(server, token, "PUT", f"/api/paragraphs/{paragraph['id']}/gold",
             {"label": answers[paragraph["index"]]})
    assert "calibration articles: " + EN in server.cli("calibration", "--project", "demo",
                                                       "--mark", EN)
    hotkeys = helpers.labels(page)
    server.cli("create-user", "newbie", "--password-stdin", input="newbie password\n")
    page.context.clear_cookies()
    helpers.sign_in(page, "newbie", "newbie password")

    project = next(p for p in page.request.get("/api/projects").json() if p["name"] == "demo")
    page.goto(f"/projects/{project['id']}")
    page.get_by_role("button", name=re.compile("Start")).first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/articles/{article}")
    expect(page.locator(".calibration-banner")).to_contain_text("calibration article")

    for paragraph in sorted(paragraphs, key=lambda p: p["index"]):
        label = WRONG.get(paragraph["index"], answers[paragraph["index"]])
        page.keyboard.press(hotkeys[label])
    expect(page.locator("#article-state")).to_contain_text("All labeled")
    page.wait_for_function(  # every save confirmed before the round is marked done
        """async url => (await (await fetch(url)).json()).paragraphs.every(p => p.annotation)""",
        arg=f"/api/articles/{article}")
    page.keyboard.press("Shift+Enter")

    page.wait_for_url(re.compile(rf"/articles/{article}/calibration\??$"))  # a GET form
    expect(page.locator(".calibration-score")).to_contain_text(
        f"{len(paragraphs) - len(WRONG)} of {len(paragraphs)} gold paragraphs agree with gold.")
    differs = page.locator("ol[aria-labelledby=differs-heading] .calibration-result")
    expect(differs).to_have_count(len(WRONG))
    expect(differs.first).to_contain_text("Differs: yours Other, gold Claim")
    excerpt = differs.first.locator(".calibration-excerpt")
    expect(excerpt).to_contain_text("The guidelines on Claim:")
    expect(excerpt).to_contain_text("A position or assertion")  # the label set's row on it
    expect(excerpt).not_to_contain_text("Site furniture")  # not the other labels' rows
    continue_button = page.get_by_role("button", name="Continue: next article")
    expect(continue_button).to_be_focused()
    helpers.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(helpers.ARTIFACTS / "calibration-feedback.png"), full_page=True)
    feedback_url = page.url
    page.context.add_cookies([{"name": "lang", "value": "zh", "url": server.url}])
    page.reload()  # the same feedback in Chinese: headings, verdicts and label names
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_contain_text("你的标签与金标准对照")
    expect(differs.first).to_contain_text("主张")
    page.screenshot(path=str(helpers.ARTIFACTS / "calibration-feedback-zh.png"), full_page=True)
    page.context.add_cookies([{"name": "lang", "value": "en", "url": server.url}])
    page.goto(feedback_url)
    page.get_by_role("button", name="Continue: next article").focus()
    page.keyboard.press("Enter")  # on to ordinary work: the first article that needs someone
    page.wait_for_url(re.compile(r"/articles/\d+$"))
    assert not page.url.endswith(f"/articles/{article}")
    expect(page.locator(".calibration-banner")).to_have_count(0)

"""Labeling from the keyboard in a real browser: saving, surviving a server restart, shortcuts."""
from __future__ import annotations

import json
import re

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

ZH = "demo-zh-battery-recycling"
EN = "demo-en-cycling-lanes"
ARTICLE_URL = re.compile(r"/articles/(\d+)(#p\d+)?$")  # the page keeps #p<index> in the URL
RESTART_TIMEOUT_MS = 30_000  # the page retries after 1, 2, 4, 8 s...: a restart fits well inside


def open_from_project_page(page, demo, article_id: str) -> int:
    """Open an article by clicking its title on the demo project's page; return its id."""
    page.goto("/")
    page.get_by_role("link", name="demo", exact=True).click()
    page.get_by_role("link", name=demo["articles"][article_id]["title"], exact=True).click()
    expect(page).to_have_url(ARTICLE_URL)
    expect(page.locator("#p0")).to_have_attribute("aria-selected", "true")  # the script is running
    return int(ARTICLE_URL.search(page.url).group(1))


def para(page, index: int):
    return page.locator(f"#p{index}")


NAMES = {"claim": "Claim", "evidence": "Evidence", "boilerplate": "Ads/Boilerplate", "other": "Other"}


def expect_label(page, index: int, label: str, state: str = "saved") -> None:
    """The paragraph shows the label (attribute, and a tag with its hotkey and name) and its
    save state."""
    paragraph = para(page, index)
    expect(paragraph).to_have_attribute("data-label", label)
    if state is not None:
        expect(paragraph).to_have_attribute("data-state", state)
    tag = paragraph.locator(".label-tag")
    if label:
        expect(tag).to_be_visible()
        expect(tag).to_have_attribute("data-label", label)
        expect(tag).to_contain_text(NAMES[label])
    else:
        expect(tag).to_be_hidden()


def expect_selected(page, index: int) -> None:
    expect(para(page, index)).to_have_attribute("aria-selected", "true")
    expect(page.locator('.para[aria-selected="true"]')).to_have_count(1)


def stored_labels(page, helpers, pk: int) -> dict[int, str]:
    """index -> label of the signed-in user's annotations, as the server has them."""
    return {p["index"]: p["annotation"]["label"]
            for p in helpers.api_article(page, pk)["paragraphs"] if p["annotation"]}


def test_label_five_paragraphs_with_the_keyboard(admin_page, demo, helpers):
    page = admin_page
    hotkeys = helpers.labels(page)
    answers = demo["key"][ZH]
    pk = open_from_project_page(page, demo, ZH)
    expect(page.locator("html")).to_have_attribute("lang", "en")

    for index in range(5):
        expect_selected(page, index)
        page.keyboard.press(hotkeys[answers[index]])
        expect_label(page, index, answers[index], "saved")
        expect(para(page, index).locator(".save-state")).to_have_text("saved")
    expect_selected(page, 5)  # moved on to the next unlabeled paragraph
    expect(page.locator("#labeled-count")).to_have_text("5")
    assert helpers.pending(page) == {}

    page.reload()
    for index in range(5):
        expect_label(page, index, answers[index], "saved")
    expect_label(page, 5, "", "")
    expect(page.locator("#labeled-count")).to_have_text("5")
    expect_selected(page, 5)  # the URL remembers where the reader was
    assert stored_labels(page, helpers, pk) == {i: answers[i] for i in range(5)}


def test_labels_made_while_the_server_is_down_are_saved_when_it_returns(
        admin_page, live_server, demo, helpers):
    page = admin_page
    hotkeys = helpers.labels(page)
    answers = demo["key"][ZH]
    pk = open_from_project_page(page, demo, ZH)
    for index in range(5):
        page.keyboard.press(hotkeys[answers[index]])
        expect_label(page, index, answers[index], "saved")
    paragraph_ids = [para(page, i).get_attribute("data-paragraph-id") for i in range(8)]

    live_server.stop()
    for index in (5, 6):
        page.keyboard.press(hotkeys[answers[index]])
        expect_label(page, index, answers[index], "failed")
        expect(para(page, index).locator(".save-state")).to_have_text("not saved, retrying")
    banner = page.locator("#save-banner")
    expect(banner).to_have_text("2 changes waiting to be saved; retrying…")
    expect(banner).to_have_attribute("data-kind", "warning")
    waiting = helpers.pending(page)
    assert {key: entry["label"] for key, entry in waiting.items()} == {
        paragraph_ids[5]: answers[5], paragraph_ids[6]: answers[6]}

    live_server.start()  # and nothing else: no key, no click, no reload
    for index in (5, 6):
        expect(para(page, index)).to_have_attribute("data-state", "saved", timeout=RESTART_TIMEOUT_MS)
        expect_label(page, index, answers[index], "saved")
    expect(banner).to_have_text("All changes saved.")
    expect(banner).to_have_attribute("data-kind", "ok")
    assert helpers.pending(page) == {}
    assert stored_labels(page, helpers, pk) == {i: answers[i] for i in range(7)}

    # The database itself, read by the export CLI (its own process, not the server).
    lines = [json.loads(line) for line in live_server.cli(
        "export", "--project", "demo", "--only-labeled", "--annotator", helpers.ADMIN).splitlines()]
    exported = {line["paragraph_index"]: line["label"]
                for line in lines if line["article_id"] == ZH}
    assert exported == {i: answers[i] for i in range(7)}

    # Marking done while the server is down says so, and stays on the article.
    live_server.stop()
    page.keyboard.press("Shift+Enter")
    expect(page.locator("#confirm-done")).to_be_visible()  # paragraphs are unlabeled: it asks
    page.keyboard.press("y")
    expect(banner).to_have_text(re.compile(r"^Could not mark the article done"))
    expect(page).to_have_url(re.compile(rf"/articles/{pk}(#p\d+)?$"))

    # Closing the tab while the server is down loses nothing: the next visit sends the change.
    page.keyboard.press(hotkeys[answers[7]])
    expect_label(page, 7, answers[7], "failed")
    assert set(helpers.pending(page)) == {paragraph_ids[7]}
    context = page.context
    page.close()
    live_server.start()
    page = context.new_page()
    page.goto(f"/articles/{pk}")
    expect_label(page, 7, answers[7], "saved")
    assert helpers.pending(page) == {}
    assert stored_labels(page, helpers, pk) == {i: answers[i] for i in range(8)}


def test_the_other_shortcuts(admin_page, demo, helpers):
    page = admin_page
    hotkeys = helpers.labels(page)
    pk = open_from_project_page(page, demo, EN)

    # Moving: j/k and the arrow keys.
    expect_selected(page, 0)
    page.keyboard.press("j")
    expect_selected(page, 1)
    page.keyboard.press("ArrowDown")
    expect_selected(page, 2)
    page.keyboard.press("k")
    expect_selected(page, 1)
    page.keyboard.press("ArrowUp")
    expect_selected(page, 0)
    page.keyboard.press("k")  # already at the top: stays
    expect_selected(page, 0)

    # "." repeats the previous paragraph's label; "0" (and Backspace) clear.
    page.keyboard.press(hotkeys["claim"])
    expect_label(page, 0, "claim")
    expect_selected(page, 1)
    page.keyboard.press(".")
    expect_label(page, 1, "claim")
    expect_selected(page, 2)
    page.keyboard.press(hotkeys["evidence"])
    expect_label(page, 2, "evidence")
    page.keyboard.press("k")
    page.keyboard.press("k")
    expect_selected(page, 1)
    page.keyboard.press("0")
    expect_label(page, 1, "")
    expect_selected(page, 1)  # clearing does not move on
    expect(page.locator("#labeled-count")).to_have_text("2")
    page.keyboard.press("j")
    page.keyboard.press("Backspace")
    expect_label(page, 2, "")
    assert stored_labels(page, helpers, pk) == {0: "claim"}

    # "?" opens the shortcuts; while it is open label keys do nothing; Escape closes it.
    help_dialog = page.locator("#help")
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Keyboard shortcuts")
    page.keyboard.press(hotkeys["other"])
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    expect_label(page, 2, "")
    expect_selected(page, 2)

    # A note: typing digits and j/k in it labels and moves nothing; it is saved.
    page.keyboard.press("k")
    page.keyboard.press("k")
    expect_selected(page, 0)
    page.keyboard.press("e")
    note = para(page, 0).locator(".note")
    expect(note).to_be_visible()
    expect(note).to_be_focused()
    page.keyboard.type("1234 jk . 0?")
    expect(note).to_have_value("1234 jk . 0?")  # the "e" that opened it is not typed
    expect(help_dialog).to_be_hidden()
    expect_label(page, 0, "claim")
    for index in (1, 2, 3):
        expect_label(page, index, "", None)
    expect_selected(page, 0)
    page.keyboard.press("Escape")
    expect(note).not_to_be_focused()
    expect(para(page, 0)).to_have_attribute("data-state", "saved")
    saved = helpers.api_article(page, pk)["paragraphs"][0]["annotation"]
    assert saved["label"] == "claim" and saved["note"] == "1234 jk . 0?"
    page.keyboard.press("j")  # shortcuts work again once out of the note
    expect_selected(page, 1)
    # "e" on an unlabeled paragraph explains instead of opening a note.
    page.keyboard.press("e")
    expect(para(page, 1).locator(".note")).to_be_hidden()
    expect(page.locator("#save-banner")).to_have_text("Label the paragraph before adding a note.")

    # n / p: next and previous article.
    page.keyboard.press("n")
    expect(page).to_have_url(ARTICLE_URL)
    expect(page.locator("#article-title")).to_have_text(demo["articles"][ZH]["title"])
    expect_selected(page, 0)
    page.keyboard.press("p")
    expect(page).to_have_url(re.compile(rf"/articles/{pk}(#p\d+)?$"))
    expect_label(page, 0, "claim")
    expect(para(page, 0).locator(".note")).to_have_value("1234 jk . 0?")
    expect(page.locator("#mark-done")).to_have_attribute("aria-pressed", "false")

    # Shift+Enter: mark done (after saying how many paragraphs are unlabeled), then open the
    # next article of the queue.
    page.keyboard.press("Shift+Enter")
    expect(page.locator("#confirm-done-text")).to_have_text(re.compile(r"^Not labeled yet: \d+ of \d+"))
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: ARTICLE_URL.search(url) and ARTICLE_URL.search(url).group(1) != str(pk))
    expect(page).to_have_url(ARTICLE_URL)
    expect_selected(page, 0)
    page.goto(f"/articles/{pk}")
    expect(page.locator("#mark-done")).to_have_attribute("aria-pressed", "true")
    page.goto("/")
    page.get_by_role("link", name="demo", exact=True).click()
    row = page.locator("table.articles tr", has=page.get_by_role(
        "link", name=demo["articles"][EN]["title"], exact=True))
    expect(row.locator(".badge.done")).to_be_visible()

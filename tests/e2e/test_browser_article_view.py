"""The article view as a reader meets it: how much text fits on a laptop screen, where the
current paragraph sits, asking before marking an unfinished article done, what the page says
when the article is labeled, finished or the session is gone, the guidelines' table, Chinese
input methods, and the small keys (g remembered, #p<index>, ? to close the help)."""
from __future__ import annotations

import json
import re

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

EN = "demo-en-cycling-lanes"  # 30 paragraphs
ZH = "demo-zh-battery-recycling"
LAPTOP = {"width": 1366, "height": 768}
ONE_LINERS = 200

# Paragraphs wholly on screen, below the sticky article header.
VISIBLE = """() => {
  const top = document.querySelector('.article-head').getBoundingClientRect().bottom;
  return [...document.querySelectorAll('.para')].filter((p) => {
    const r = p.getBoundingClientRect();
    return r.top >= top - 1 && r.bottom <= window.innerHeight + 1;
  }).length;
}"""
# Where the current paragraph is, as a fraction of the room below the header (0 top, 1 bottom).
CURRENT_AT = """() => {
  const top = document.querySelector('.article-head').getBoundingClientRect().bottom;
  const r = document.querySelector('.para[aria-selected="true"]').getBoundingClientRect();
  return [(r.top - top) / (window.innerHeight - top), (r.bottom - top) / (window.innerHeight - top)];
}"""


def open_article(page, pk: int, hash_: str = "") -> None:
    page.goto(f"/articles/{pk}{hash_}")
    expect(page.locator('.para[aria-selected="true"]')).to_have_count(1)  # the script runs


def selected(page, index: int) -> None:
    expect(page.locator(f"#p{index}")).to_have_attribute("aria-selected", "true")


def import_one_liners(live_server, tmp_path) -> None:
    lines = [f"Line {i + 1}: a one-line paragraph." for i in range(ONE_LINERS)]
    path = tmp_path / "one-line.jsonl"
    path.write_text(json.dumps({"id": "one-line", "title": "One-line paragraphs",
                                "paragraphs": lines}) + "\n", encoding="utf-8")
    live_server.cli("import", str(path), "--project", "demo")


def test_a_laptop_screen_shows_many_paragraphs_and_the_current_one_stays_high(
        admin_page, live_server, helpers, tmp_path):
    page = admin_page
    import_one_liners(live_server, tmp_path)
    page.set_viewport_size(LAPTOP)
    pk = helpers.article_pk(page, "demo", "one-line")
    open_article(page, pk)

    visible = page.evaluate(VISIBLE)
    print(f"\none-line paragraphs wholly visible at 1366x768: {visible}")
    assert visible >= 15, visible  # a full button row under each: 6
    # The label buttons are there once, under the current paragraph, not under every one.
    expect(page.locator("#paragraphs .label-button")).to_have_count(4)
    expect(page.locator("#p0 .label-button")).to_have_count(4)

    hotkey = helpers.labels(page)["claim"]
    places = []
    for index in range(40):
        page.keyboard.press(hotkey)
        selected(page, index + 1)
        places.append(page.evaluate(CURRENT_AT))
    print("current paragraph's top and bottom, as a share of the room below the header, "
          f"after 10, 20, 30, 40 labels: {[[round(x, 2) for x in p] for p in places[9::10]]}")
    for top, bottom in places[10:]:  # once the list has scrolled: upper part, lookahead below
        assert 0 <= top and bottom <= 0.6, places

    # Labeled paragraphs say which label in words and hotkey, not by colour alone.
    tag = page.locator("#p3 .label-tag")
    expect(tag).to_have_text("1 Claim")
    expect(tag.locator("kbd")).to_have_text("1")
    expect(page.locator("#p3 .save-state")).to_have_text("saved")
    expect(page.locator("#p3 .label-button")).to_have_count(0)
    page.screenshot(path=str(helpers.ARTIFACTS / "article-density.png"))


def test_mark_done_asks_while_paragraphs_are_unlabeled(admin_page, demo, helpers):
    page = admin_page
    hotkeys = helpers.labels(page)
    pk = helpers.article_pk(page, "demo", EN)
    total = len(demo["articles"][EN]["paragraphs"])
    open_article(page, pk)
    page.keyboard.press(hotkeys["claim"])
    page.keyboard.press(hotkeys["claim"])
    dialog = page.locator("#confirm-done")

    # Shift+Enter asks, with the count; Esc keeps the article open at its first unlabeled one.
    page.keyboard.press("k")
    page.keyboard.press("k")
    selected(page, 0)
    page.keyboard.press("Shift+Enter")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Not labeled yet: {total - 2} of {total} paragraphs.")
    expect(page.locator("#confirm-done-yes")).to_be_focused()
    page.keyboard.press("1")  # a label key does nothing while it asks
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    selected(page, 2)
    expect(page.locator("#p2")).to_have_attribute("data-label", "")
    expect(page.locator("#mark-done")).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Shift+Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("n")  # no: closes it, and is not the "next article" key then
    expect(dialog).to_be_hidden()
    page.wait_for_timeout(300)
    expect(page).to_have_url(re.compile(rf"/articles/{pk}(#p\d+)?$"))
    page.reload()
    expect(page.locator("#mark-done")).to_have_attribute("aria-pressed", "false")  # not done

    # The button asks too; y confirms: done, and the next article opens.
    page.click("#mark-done")
    expect(dialog).to_be_visible()
    page.keyboard.press("y")
    page.wait_for_url(lambda url: f"/articles/{pk}" not in url)
    open_article(page, pk)
    expect(page.locator("#mark-done")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#article-state")).to_have_text("Finished.")  # in words, not a colour


def test_a_fully_labeled_article_says_so_and_finishes_without_asking(admin_page, demo, helpers):
    page = admin_page
    hotkeys = helpers.labels(page)
    pk = helpers.article_pk(page, "demo", ZH)
    open_article(page, pk)
    state = page.locator("#article-state")
    expect(state).to_be_hidden()
    page.keyboard.press(hotkeys["claim"])
    page.keyboard.press(f"Shift+{hotkeys['other']}")  # the rest, to the end
    expect(state).to_have_text("All labeled: Shift+Enter to finish.")
    expect(page.locator('.para:not([data-state="saved"])')).to_have_count(0)

    # After a reload every paragraph still shows its label and that it is saved.
    page.reload()
    expect(state).to_have_text("All labeled: Shift+Enter to finish.")
    count = len(demo["articles"][ZH]["paragraphs"])
    expect(page.locator(".para .save-state", has_text="saved")).to_have_count(count)
    expect(page.locator("#p0 .label-tag")).to_contain_text("Claim")
    expect(page.locator(f"#p{count - 1} .label-tag")).to_contain_text("Other")

    page.keyboard.press("Shift+Enter")
    page.wait_for_url(lambda url: f"/articles/{pk}" not in url)  # no question asked
    open_article(page, pk)
    expect(state).to_have_text("Finished.")
    page.click("#mark-done")  # reopen
    expect(page.locator("#mark-done")).to_have_attribute("aria-pressed", "false")
    expect(state).to_have_text("All labeled: Shift+Enter to finish.")


def test_signed_out_says_so_keeps_the_changes_and_saves_them_after_sign_in(
        admin_page, browser, live_server, demo, helpers):
    page = admin_page
    hotkeys = helpers.labels(page)
    answers = demo["key"][EN]
    pk = helpers.article_pk(page, "demo", EN)
    open_article(page, pk)
    page.keyboard.press(hotkeys[answers[0]])
    expect(page.locator("#p0")).to_have_attribute("data-state", "saved")

    # Signing out on another device ends every session of the user, this page's too.
    other = browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        elsewhere = other.new_page()
        helpers.sign_in(elsewhere)
        elsewhere.click("form[action$='/logout'] button")
        elsewhere.wait_for_url(re.compile(r"/login"))
    finally:
        other.close()

    saves = []
    page.on("request", lambda request: saves.append(request.url) if "/api/" in request.url else None)
    page.keyboard.press(hotkeys[answers[1]])
    first = page.locator("#p1")
    expect(first).to_have_attribute("data-state", "signed-out")
    expect(first.locator(".save-state")).to_have_text("not saved: signed out")
    banner = page.locator("#save-banner")
    expect(banner).to_contain_text("Signed out: sign in again. Unsaved changes kept in this browser: 1")
    page.wait_for_timeout(3500)  # the old page retried every 1, 2, 4 s, saying "retrying"
    assert len(saves) == 1, saves
    expect(banner).not_to_contain_text("retrying")
    paragraph_id = first.get_attribute("data-paragraph-id")
    assert set(helpers.pending(page)) == {paragraph_id}

    # The link signs in and comes back to the article; the kept change is saved then.
    page.locator("#stopped-action").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#username", helpers.ADMIN)
    page.fill("#password", helpers.PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(re.compile(rf"/articles/{pk}(#p\d+)?$"))
    expect(page.locator("#p1")).to_have_attribute("data-state", "saved")
    expect(page.locator("#p1 .label-tag")).to_have_attribute("data-label", answers[1])
    assert helpers.pending(page) == {}
    stored = {p["index"]: p["annotation"]["label"]
              for p in helpers.api_article(page, pk)["paragraphs"] if p["annotation"]}
    assert stored == {0: answers[0], 1: answers[1]}


def test_a_deactivated_annotator_is_told_and_their_changes_wait_for_reactivation(
        admin_page, browser, live_server, helpers):
    admin = admin_page
    live_server.cli("create-user", "ann", "--password-stdin", input="annotator password\n")
    pk = helpers.article_pk(admin, "demo", EN)
    hotkey = helpers.labels(admin)["claim"]
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        page = context.new_page()
        helpers.sign_in(page, "ann", "annotator password")
        open_article(page, pk)
        page.keyboard.press(hotkey)
        expect(page.locator("#p0")).to_have_attribute("data-state", "saved")

        def toggle_ann() -> None:  # the admin's Deactivate / Activate button on the users page
            admin.goto("/admin/users")
            admin.locator("#user-2 form[action$='/active'] button").click()  # ann is user 2

        toggle_ann()
        page.keyboard.press(hotkey)
        expect(page.locator("#p1")).to_have_attribute("data-state", "signed-out")
        expect(page.locator("#save-banner")).to_contain_text("Signed out: sign in again.")
        paragraph_id = page.locator("#p1").get_attribute("data-paragraph-id")
        assert set(helpers.pending(page, user_id=2)) == {paragraph_id}
        toggle_ann()  # active again: signing in brings the article back, and the change is saved
        page.locator("#stopped-action").click()
        page.fill("#username", "ann")
        page.fill("#password", "annotator password")
        page.press("#password", "Enter")
        page.wait_for_url(re.compile(rf"/articles/{pk}(#p\d+)?$"))
        expect(page.locator("#p1")).to_have_attribute("data-state", "saved")
        assert helpers.pending(page, user_id=2) == {}
    finally:
        context.close()


def sign_out_then_in_again_in_another_tab(page, helpers) -> None:
    """Sign out (this page stays open, its CSRF token bound to the old session), label a
    paragraph while signed out, then sign in again in another tab of the same browser."""
    hotkey = helpers.labels(page)["claim"]
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert page.request.post("/logout", headers={"X-CSRFToken": token}).ok
    page.keyboard.press(hotkey)
    expect(page.locator("#p0")).to_have_attribute("data-state", "signed-out")
    tab = page.context.new_page()
    helpers.sign_in(tab)
    tab.close()


def test_signed_in_again_in_another_tab_the_page_saves_without_a_reload(admin_page, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", EN)
    open_article(page, pk)
    sign_out_then_in_again_in_another_tab(page, helpers)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # back to this tab
    # The refused CSRF token is renewed from the new session, and the change is sent again.
    expect(page.locator("#p0")).to_have_attribute("data-state", "saved")
    expect(page.locator("#save-banner")).to_have_text("All changes saved.")
    assert helpers.pending(page) == {}
    assert helpers.api_article(page, pk)["paragraphs"][0]["annotation"]["label"] == "claim"
    # The page's forms have the new token too: Shift+Enter opens the next article.
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("y")
    page.wait_for_url(lambda url: re.search(r"/articles/\d+", url) and f"/articles/{pk}" not in url)
    expect(page.locator('.para[aria-selected="true"]')).to_have_count(1)


def test_a_page_that_cannot_renew_its_token_keeps_its_changes_and_asks_for_a_reload(
        admin_page, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", EN)
    open_article(page, pk)
    sign_out_then_in_again_in_another_tab(page, helpers)
    page.route("**/login", lambda route: route.abort())  # the token cannot be renewed
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    banner = page.locator("#save-banner")
    expect(banner).to_contain_text("This page is out of date")
    paragraph_id = page.locator("#p0").get_attribute("data-paragraph-id")
    assert set(helpers.pending(page)) == {paragraph_id}  # refused, but not dropped
    expect(page.locator("#p0")).to_have_attribute("data-state", "stale-page")
    expect(page.locator("#p0 .save-state")).to_have_text("not saved: reload the page")
    page.unroute("**/login")
    page.locator("#stopped-action").click()  # Reload
    expect(page.locator("#p0")).to_have_attribute("data-state", "saved")
    assert helpers.pending(page) == {}
    assert helpers.api_article(page, pk)["paragraphs"][0]["annotation"]["label"] == "claim"


BROKEN_WORDS = """() => {
  const broken = [];
  for (const cell of document.querySelectorAll('.guidelines-panel .markdown table :is(th, td)')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[A-Za-z]+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""


def test_the_guidelines_table_never_breaks_a_word(admin_page, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", EN)
    for viewport in (LAPTOP, {"width": 1280, "height": 900}, {"width": 800, "height": 900}):
        page.set_viewport_size(viewport)
        open_article(page, pk)
        cells = page.locator(".guidelines-panel .markdown table td")
        expect(cells.first).to_be_visible()
        assert cells.count() >= 8
        assert page.evaluate(BROKEN_WORDS) == [], viewport  # was "Clai/m", "Evi/den/ce"


def cdp_key(client, key: str, code: str, modifiers: int = 0) -> None:
    """A real key press as an active input method sends it: key "Process", keyCode 229."""
    for kind in ("rawKeyDown", "keyUp"):
        client.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": code,
                                               "windowsVirtualKeyCode": 229, "modifiers": modifiers})


def test_keys_work_with_a_chinese_input_method_on_and_the_page_says_it_is_on(admin_page, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", EN)
    open_article(page, pk)
    hint = page.locator("#ime-hint")
    expect(hint).to_be_hidden()
    client = page.context.new_cdp_session(page)

    cdp_key(client, "Process", "KeyJ")  # j
    selected(page, 1)
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Input method on")
    cdp_key(client, "Process", "Digit2")  # 2: evidence
    expect(page.locator("#p1")).to_have_attribute("data-label", "evidence")
    selected(page, 2)
    cdp_key(client, "Process", "KeyK")  # k
    selected(page, 1)
    # Keys of a composition in progress (isComposing) are read by position too.
    page.evaluate("""() => document.body.dispatchEvent(new KeyboardEvent("keydown",
        {key: "j", code: "KeyJ", isComposing: true, bubbles: true}))""")
    selected(page, 2)

    # A composition starting on the page shows the hint (here on a fresh page).
    page.reload()
    expect(hint).to_be_hidden()
    page.evaluate("""() => document.body.dispatchEvent(new CompositionEvent("compositionstart",
        {data: "", bubbles: true}))""")
    expect(hint).to_be_visible()

    # In a note, Esc while composing cancels the composition, not the note.
    page.keyboard.press("1")  # labels p0: the next unlabeled is p2
    selected(page, 2)
    page.keyboard.press("k")
    selected(page, 1)
    page.keyboard.press("e")
    note = page.locator("#p1 .note")
    expect(note).to_be_focused()
    client.send("Input.imeSetComposition", {"text": "zhong", "selectionStart": 5, "selectionEnd": 5})
    note.dispatch_event("keydown", {"key": "Escape", "code": "Escape", "isComposing": True})
    expect(note).to_be_focused()
    client.send("Input.insertText", {"text": "中"})
    expect(note).to_have_value("中")
    page.keyboard.press("Escape")
    expect(note).not_to_be_focused()


def test_g_is_remembered_a_hash_moves_the_selection_and_question_mark_closes_help(
        admin_page, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", EN)
    panel = page.locator("#guidelines")
    open_article(page, pk)
    expect(panel).to_be_visible()
    page.keyboard.press("g")
    expect(panel).to_be_hidden()
    page.keyboard.press("n")  # the next article: still hidden
    page.wait_for_url(lambda url: f"/articles/{pk}" not in url)
    expect(page.locator('.para[aria-selected="true"]')).to_have_count(1)
    expect(panel).to_be_hidden()
    expect(page.locator("#toggle-guidelines")).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("p")
    page.wait_for_url(re.compile(rf"/articles/{pk}"))
    page.reload()
    expect(page.locator('.para[aria-selected="true"]')).to_have_count(1)
    expect(panel).to_be_hidden()
    page.keyboard.press("g")
    expect(panel).to_be_visible()
    page.reload()
    expect(page.locator('.para[aria-selected="true"]')).to_have_count(1)
    expect(panel).to_be_visible()

    # A #p<index> link or address moves the selection, and the page keeps working from there.
    page.evaluate("location.hash = '#p17'")
    selected(page, 17)
    expect(page.locator('.para[aria-selected="true"]')).to_have_count(1)
    page.keyboard.press("j")
    selected(page, 18)
    open_article(page, pk, "#p12")
    selected(page, 12)

    # "?" opens the shortcuts and closes them again.
    help_dialog = page.locator("#help")
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    page.keyboard.press("?")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("j")
    selected(page, 13)


def test_a_second_load_asks_the_server_for_the_page_alone(admin_page, live_server, helpers):
    """The static files and labels.css come from versioned URLs (the modules' own imports
    too) that Chromium keeps without asking again: the next load, in a new tab, requests the
    page and nothing else, and works."""
    page = admin_page
    pk = helpers.article_pk(page, "demo", EN)
    hotkey = helpers.labels(page)["claim"]
    open_article(page, pk)
    page.wait_for_load_state("load")
    requests = lambda log: re.findall(r'"GET (\S+) HTTP', log)  # noqa: E731 - the server's log
    first = requests(live_server.log_path.read_text(encoding="utf-8"))
    loaded = first[first.index(f"/articles/{pk}"):]  # the article page and what it loads
    modules = [url for url in loaded if url.endswith(".js")]
    assert {url.rsplit("/", 1)[1] for url in modules} >= {"annotate.js", "api.js", "spans.js", "paragraph.js"}
    assert not [url for url in loaded if url.startswith("/static/") and not url.startswith("/static/v/")]

    tab = page.context.new_page()
    tab.goto(f"/articles/{pk}", wait_until="load")
    expect(tab.locator('.para[aria-selected="true"]')).to_have_count(1)  # the script runs
    later = requests(live_server.log_path.read_text(encoding="utf-8"))[len(first):]
    assert later == [f"/articles/{pk}"], later
    para = tab.locator(f"#{tab.locator('.para[aria-selected=true]').get_attribute('id')}")
    tab.keyboard.press(hotkey)
    expect(para).to_have_attribute("data-state", "saved")
    assert para.evaluate("p => getComputedStyle(p).getPropertyValue('--label-color')").strip() == "#d9480f"

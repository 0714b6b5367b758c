"""In a real browser: Start claims through a POST form, and a note over the limit is refused
with the server's reason on the page."""
from __future__ import annotations

import re

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

ARTICLE_URL = re.compile(r"/articles/(\d+)(#p\d+)?$")
NOTE_LIMIT = 4000  # the default ANNOTATOR_MAX_NOTE_CHARS


def test_start_is_a_button_that_opens_the_first_article(admin_page, demo, helpers):
    page = admin_page
    page.goto("/")
    start = page.locator("li.card", has=page.get_by_role("link", name="demo", exact=True)) \
        .get_by_role("button", name=re.compile("^(Start|Continue)$"))
    start.click()
    expect(page).to_have_url(ARTICLE_URL)
    first = helpers.article_pk(page, "demo", next(iter(demo["articles"])))
    assert int(ARTICLE_URL.search(page.url).group(1)) == first


def test_a_note_over_the_limit_is_refused_with_the_reason(admin_page, demo, helpers):
    page = admin_page
    page.goto("/")
    page.get_by_role("link", name="demo", exact=True).click()
    page.locator("table.articles a").first.click()
    expect(page.locator("#p0")).to_have_attribute("aria-selected", "true")
    page.keyboard.press(helpers.labels(page)["claim"])
    expect(page.locator("#p0")).to_have_attribute("data-state", "saved")
    note = page.locator("#p0 .note")
    expect(note).to_have_attribute("maxlength", str(NOTE_LIMIT))
    # Typing stops at maxlength; a value set by a script (or kept from before the limit) does not.
    note.evaluate("(area, n) => { area.hidden = false; area.value = 'x'.repeat(n);"
                  " area.dispatchEvent(new Event('input', { bubbles: true })); }", NOTE_LIMIT + 1)
    expect(page.locator("#p0")).to_have_attribute("data-state", "rejected")
    expect(page.locator("#save-banner")).to_have_text(
        f'The server refused a change: "note" is {NOTE_LIMIT + 1} characters long; '
        f"the limit is {NOTE_LIMIT} (ANNOTATOR_MAX_NOTE_CHARS)")

"""In a real browser: the import form shows how much of its file is sent, then the result page
as a plain submit would (flash, errors), from the keyboard, with CSRF."""
from __future__ import annotations

import json

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

MB = 1024 * 1024


def _articles(count: int, size: int) -> bytes:
    """`count` articles of about `size` bytes each, as JSONL."""
    return b"".join(json.dumps({"id": f"big-{n}", "title": f"Big {n}", "paragraphs": [
        f"Paragraph {k} of article {n}: " + "words " * (size // 600) for k in range(100)]}
    ).encode() + b"\n" for n in range(count))


def _import_page(page) -> None:
    project = next(p for p in page.request.get("/api/projects").json() if p["name"] == "demo")
    page.goto(f"/admin/projects/{project['id']}/import")


def test_an_upload_shows_its_progress_then_the_result_page(admin_page):
    page = admin_page
    _import_page(page)
    body = _articles(12, 250_000)  # about 3 MB
    assert len(body) > 2.5 * MB
    cdp = page.context.new_cdp_session(page)  # a slow line: about 1 MB a second up
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": MB})
    status = page.locator("#upload-progress")
    expect(status).to_be_hidden()
    page.set_input_files("input[type=file]", files=[
        {"name": "big.jsonl", "mimeType": "application/x-ndjson", "buffer": body}])
    page.get_by_role("button", name="Import").focus()
    page.keyboard.press("Enter")  # from the keyboard
    expect(status).to_be_visible()
    expect(status).to_contain_text(f"of {len(body) / MB:.1f} MB sent (")
    percent = int(page.locator("#upload-progress progress").get_attribute("value") or 0)
    assert 0 <= percent < 100  # seen while still sending
    expect(page.get_by_role("button", name="Import")).to_be_disabled()
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    expect(page.locator(".flash")).to_contain_text("12 articles added", timeout=60_000)
    expect(page.get_by_role("heading", level=1)).to_have_text("Import into demo")
    expect(page.locator("#upload-progress")).to_be_hidden()  # the new page's, not yet used
    # the page put in place works as a loaded one: a second upload, refused, shows its errors
    page.set_input_files("input[type=file]", files=[
        {"name": "bad.jsonl", "mimeType": "application/x-ndjson", "buffer": b'{"title": 1}\n'}])
    page.get_by_role("button", name="Import").click()
    expect(page.locator("pre.errors")).to_contain_text("bad.jsonl:1:")
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was imported")


def test_without_javascript_the_form_posts_as_before(browser, live_server, admin_page):
    context = browser.new_context(base_url=live_server.url, locale="en-US",
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        page.context.add_cookies(admin_page.context.cookies())  # the admin's session
        _import_page(page)
        page.set_input_files("input[type=file]", files=[
            {"name": "one.jsonl", "mimeType": "application/x-ndjson",
             "buffer": b'{"title": "plain post", "paragraphs": ["p"]}\n'}])
        page.get_by_role("button", name="Import").click()
        expect(page.locator(".flash")).to_contain_text("1 article added")
        expect(page.locator("#upload-progress")).to_be_hidden()
    finally:
        context.close()

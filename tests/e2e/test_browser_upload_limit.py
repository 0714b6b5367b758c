"""In a real browser: a file over the upload limit leaves the admin on the import form, told
the limit and how an admin raises it."""
from __future__ import annotations

import re

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None


def test_a_file_over_the_upload_limit_keeps_the_admin_on_the_import_form(admin_page,
                                                                         live_server):
    live_server.stop()
    live_server.env["ANNOTATOR_MAX_UPLOAD_MB"] = "0.05"
    live_server.start()
    page = admin_page
    project = next(p for p in page.request.get("/api/projects").json() if p["name"] == "demo")
    page.goto(f"/admin/projects/{project['id']}/import")
    big = b'{"title": "t", "paragraphs": ["' + b"x" * (8 * 1024 * 1024) + b'"]}\n'  # 8 MB
    page.set_input_files("input[type=file]", files=[
        {"name": "big.jsonl", "mimeType": "application/x-ndjson", "buffer": big}])
    page.get_by_role("button", name="Import").click()
    alert = page.locator("#too-large")
    expect(alert).to_contain_text("0.05 MB")
    expect(alert).to_contain_text("ANNOTATOR_MAX_UPLOAD_MB")
    expect(page).to_have_url(re.compile(rf"/admin/projects/{project['id']}/import$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Import into demo")
    page.set_input_files("input[type=file]", files=[  # and the form works again at once
        {"name": "small.jsonl", "mimeType": "application/x-ndjson",
         "buffer": b'{"title": "small one", "paragraphs": ["s"]}\n'}])
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".flash")).to_contain_text("1 article added")

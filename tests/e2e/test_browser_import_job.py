"""In a real browser: an upload imported in the background goes to its job page, which polls
the job's status and then shows the outcome (counts, or the FILE:LINE errors)."""
from __future__ import annotations

import json
import re

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None


def _import_page(page) -> None:
    project = next(p for p in page.request.get("/api/projects").json() if p["name"] == "demo")
    page.goto(f"/admin/projects/{project['id']}/import")


def _upload(page, name: str, body: bytes) -> None:
    _import_page(page)
    page.set_input_files("input[type=file]", files=[
        {"name": name, "mimeType": "application/x-ndjson", "buffer": body}])
    page.get_by_label("Import in the background").check()
    page.get_by_role("button", name="Import").focus()
    page.keyboard.press("Enter")


def test_a_background_upload_shows_its_job_then_the_counts(admin_page):
    page = admin_page
    body = b"".join(json.dumps({"id": f"bg-{n}", "title": f"Background {n}", "paragraphs": [
        f"Paragraph {k} of background article {n}." for k in range(20)]}).encode() + b"\n"
        for n in range(3000))
    _upload(page, "background.jsonl", body)
    expect(page).to_have_url(re.compile(r"/admin/import-jobs/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Importing background.jsonl into demo")
    # still running when the page came (60,000 paragraphs take seconds): its progress, then
    # its outcome, which only the page's polling brings (it reloads once the job ends)
    expect(page.locator(".job-text")).to_contain_text("records read")
    expect(page.locator("#job-state")).to_have_text("running")
    expect(page.get_by_role("status").filter(has_text="3000 articles added")).to_be_visible(
        timeout=120_000)
    expect(page.get_by_role("table")).to_contain_text("background.jsonl")
    expect(page.get_by_role("table")).to_contain_text("done")


def test_a_background_upload_of_a_bad_file_shows_its_errors(admin_page):
    page = admin_page
    _upload(page, "bad.jsonl", b'{"title": "fine", "paragraphs": ["p"]}\n{"title": 1}\n')
    expect(page).to_have_url(re.compile(r"/admin/import-jobs/\d+$"))
    expect(page.get_by_role("alert")).to_contain_text("Nothing was imported", timeout=60_000)
    expect(page.locator("pre.errors")).to_contain_text("bad.jsonl:2:")

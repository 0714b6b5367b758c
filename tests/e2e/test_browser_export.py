"""In a real browser: the export page downloads a JSONL file and the split dataset (a zip of
what `flask export --split` writes), named after the project, from the keyboard; a split
that would come out empty is said on the page."""
from __future__ import annotations

import io
import zipfile

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None


def _export_page(page) -> int:
    project = next(p for p in page.request.get("/api/projects").json() if p["name"] == "demo")
    page.goto(f"/admin/projects/{project['id']}/export")
    return project["id"]


def test_the_dataset_zip_downloads_from_the_keyboard(admin_page):
    page = admin_page
    _export_page(page)
    split = page.get_by_label("Splits")
    split.fill("train=0.5,test=0.5")
    page.get_by_label("License (a Hugging Face identifier)").fill("cc-by-4.0")
    with page.expect_download() as started:
        split.press("Enter")  # submits its form
    download = started.value
    assert download.suggested_filename == "demo-dataset.zip"
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    assert sorted(archive.namelist()) == ["demo-dataset/README.md", "demo-dataset/test.jsonl",
                                          "demo-dataset/train.jsonl"]
    assert "\nlicense: cc-by-4.0\n" in archive.read("demo-dataset/README.md").decode()
    with page.expect_download() as started:
        page.get_by_role("button", name="Download JSONL").click()
    assert started.value.suggested_filename == "demo-paragraph.jsonl"


def test_a_split_that_would_be_empty_is_said_on_the_page(admin_page):
    page = admin_page
    pid = _export_page(page)
    page.get_by_label("Splits").fill("a=0.2,b=0.2,c=0.2,d=0.2,e=0.2")  # 4 articles, 5 splits
    page.get_by_role("button", name="Download dataset (zip)").click()
    expect(page.get_by_role("alert")).to_contain_text("would be empty")
    expect(page.get_by_label("Splits")).to_have_value("a=0.2,b=0.2,c=0.2,d=0.2,e=0.2")
    assert f"/admin/projects/{pid}/export/dataset" in page.url

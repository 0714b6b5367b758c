"""The web export page: a JSONL download named after the project (any script), and the
split dataset of `flask export --split` as a zip, with refusals said on the page."""
from __future__ import annotations

import io
import json
import re
import zipfile
from urllib.parse import unquote

import pytest
from lxml import html

from helpers import import_articles, login, make_user, project_id

NAME = "新闻 2026/春"


@pytest.fixture
def admin(app, client):
    make_user(app, "boss", "admin")
    import_articles(app, NAME, [{"id": f"a{n}", "title": f"标题 {n}", "url": f"https://s{n % 3}.example/{n}",
                                 "paragraphs": [f"第{n}段", f"paragraph {n}"]} for n in range(20)])
    login(client, "boss")
    return client


def _filename(response) -> tuple[str, str]:
    """(the ASCII fallback, the RFC 6266 UTF-8 name) of a download's Content-Disposition."""
    header = response.headers["Content-Disposition"]
    fallback = re.search(r'filename="([^"]*)"', header)[1]
    utf8 = unquote(re.search(r"filename\*=UTF-8''(\S+)", header)[1])
    return fallback, utf8


def test_the_jsonl_download_is_named_after_the_project(app, admin):
    pid = project_id(app, NAME)
    response = admin.get(f"/api/projects/{pid}/export.jsonl?unit=article")
    assert response.status_code == 200 and json.loads(response.get_data().splitlines()[0])["project"] == NAME
    assert _filename(response) == (f"project-{pid}-article.jsonl", "新闻 2026-春-article.jsonl")
    import_articles(app, "news", [{"title": "t", "paragraphs": ["p"]}])
    response = admin.get(f"/api/projects/{project_id(app, 'news')}/export.jsonl")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _filename(response) == ("news-paragraph.jsonl", "news-paragraph.jsonl")


def test_the_export_page_offers_both_downloads_and_the_zip_holds_the_cli_folder(app, admin,
                                                                                runner, tmp_path):
    pid = project_id(app, NAME)
    page = html.fromstring(admin.get(f"/admin/projects/{pid}/export").get_data(as_text=True))
    forms = page.xpath("//form[contains(@action, 'export')]")
    assert [form.get("action") for form in forms] == [
        f"/api/projects/{pid}/export.jsonl", f"/admin/projects/{pid}/export/dataset"]
    for form in forms:  # every control has a label (keyboard and screen reader)
        for control in form.xpath(".//select|.//input[not(@type='checkbox')]"):
            assert page.xpath(f"//label[@for='{control.get('id')}']"), control.get("name")
    query = "split=train%3D0.5%2Ctest%3D0.5&seed=3&group_by=site&license=cc-by-4.0&only_resolved="
    response = admin.get(f"/admin/projects/{pid}/export/dataset?{query}")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert _filename(response) == (f"project-{pid}-dataset.zip", "新闻 2026-春-dataset.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    top = "新闻 2026-春-dataset"
    assert sorted(archive.namelist()) == [f"{top}/README.md", f"{top}/test.jsonl",
                                          f"{top}/train.jsonl"]
    result = runner.invoke(args=["export", "--project", NAME, "--split", "train=0.5,test=0.5",
                                 "--seed", "3", "--group-by", "site", "--license", "cc-by-4.0",
                                 "-o", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    for name in ("train.jsonl", "test.jsonl"):  # the same bytes as the CLI's
        assert archive.read(f"{top}/{name}") == (tmp_path / "cli" / name).read_bytes()
    card = archive.read(f"{top}/README.md").decode()
    assert "\nlicense: cc-by-4.0\n" in card and "Split by site with seed 3" in card


@pytest.mark.parametrize("query, message", [
    ("split=train%3D0.7%2Ctest%3D0.7", "add up to 1.4"),
    ("split=train%3D0.5%2Ctest%3D0.5&license=CC+BY", "bad license 'CC BY'"),
    ("split=a%3D0.5%2Cb%3D0.5&group_by=planet", "unknown grouping 'planet'"),
    ("split=a%3D0.5%2Cb%3D0.5&annotator=nobody", "no user named"),
    ("split=a%3D0.25%2Cb%3D0.25%2Cc%3D0.25%2Cd%3D0.25&group_by=site", "would be empty"),
])
def test_a_refused_dataset_export_is_said_on_the_export_page(app, admin, query, message):
    pid = project_id(app, NAME)
    response = admin.get(f"/admin/projects/{pid}/export/dataset?{query}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = html.fromstring(response.get_data(as_text=True))
    alert = page.xpath("//*[@role='alert']")
    assert alert and message in alert[0].text_content()
    assert "--" not in alert[0].text_content()  # a browser user is not told of CLI options
    assert page.xpath("//input[@name='split']")[0].get("value") == unquote(
        query.split("&")[0].removeprefix("split="))  # the form keeps what was typed


def test_only_admins_get_the_dataset_export(app, client, admin):
    make_user(app, "ann")
    other = app.test_client()
    login(other, "ann")
    response = other.get(f"/admin/projects/{project_id(app, NAME)}/export/dataset")
    assert response.status_code == 403


def test_a_refusal_on_the_export_page_is_in_the_ui_language(app, admin):
    admin.set_cookie("lang", "zh")
    pid = project_id(app, NAME)
    response = admin.get(f"/admin/projects/{pid}/export/dataset?split=a%3D0.5%2Cb%3D0.5"
                         "&license=CC+BY")
    alert = html.fromstring(response.get_data(as_text=True)).xpath("//*[@role='alert']")[0]
    assert response.status_code == 400 and "许可证 'CC BY' 有误" in alert.text_content()

"""The Simplified Chinese catalog: complete, compiled, up to date with the source, and used.

Refresh the catalog with the commands in docs/translations.md when a test here fails."""
from __future__ import annotations

import gettext
import json
import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale, gettext as flask_gettext, ngettext as flask_ngettext

from annotator.extensions import db
from annotator.i18n import ROLE_NAMES, STATUS_NAMES
from annotator.models import ROLES
from annotator.services.users import create_user

from helpers import PASSWORD, article_pks, import_articles

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "annotator" / "translations"
POT = TRANSLATIONS / "messages.pot"
ZH_PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
ZH_MO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.mo"
REFRESH = "see docs/translations.md: pybabel extract, update, translate, compile"

ZH_BROWSER = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
_CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]+)"')
_HTML_LANG = re.compile(r'<html lang="([^"]+)">')
_PAGE_DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)


def _read(path: Path, locale: str | None = None):
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=locale)


def _msgid(message) -> str:
    """The singular msgid: plural messages are (singular, plural) tuples."""
    return message.id[0] if isinstance(message.id, (list, tuple)) else message.id


def _ids(catalog) -> set[str]:
    return {_msgid(message) for message in catalog if message.id}


def _extract() -> set[str]:
    """Extract in-process exactly as `pybabel extract -F babel.cfg -k _l -k lazy_gettext .`"""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, filename="babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        found.add(message[0] if isinstance(message, (list, tuple)) else message)
    return found


def _csrf(html: str) -> str:
    """The value of the page's hidden csrf_token input."""
    field = _CSRF_INPUT.search(html)
    assert field, "no csrf_token input on the page"
    value = _VALUE.search(field.group(0))
    assert value, "the csrf_token input has no value"
    return value.group(1)


def _lang(html: str) -> str:
    found = _HTML_LANG.search(html)
    assert found, "no <html lang=...>"
    return found.group(1)


def _sign_in_admin(app, client, headers: dict[str, str]) -> str:
    """Create an admin and sign in through the /login form; returns the projects page."""
    with app.app_context():
        create_user(db.session, "boss", PASSWORD, "admin")
    page = client.get("/login", headers=headers)
    assert page.status_code == 200
    response = client.post("/login", headers=headers, data={
        "csrf_token": _csrf(page.get_data(as_text=True)), "username": "boss", "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    projects = client.get("/", headers=headers)
    assert projects.status_code == 200
    return projects.get_data(as_text=True)


# --- the catalog files --------------------------------------------------------------------


def test_every_msgid_has_a_chinese_translation():
    template, zh = _read(POT), _read(ZH_PO, "zh")
    assert zh.locale and str(zh.locale) == "zh"
    missing = sorted(_ids(template) - _ids(zh))
    assert not missing, f"msgids of messages.pot missing from the zh catalog ({REFRESH}): {missing}"
    untranslated = [message.id for message in zh if message.id and not (
        all(message.string) if isinstance(message.string, (list, tuple)) else message.string.strip())]
    assert not untranslated, f"empty zh translations: {untranslated}"
    fuzzy = [message.id for message in zh if message.id and message.fuzzy]
    assert not fuzzy, f"fuzzy zh entries (check the translation, remove the flag): {fuzzy}"
    obsolete = sorted(zh.obsolete)
    assert not obsolete, f"obsolete (#~) entries left in the zh catalog: {obsolete}"


def test_chinese_translations_keep_their_placeholders():
    """Babel's own checks (python-format placeholders), and `{count}` kept where the source has it."""
    zh = _read(ZH_PO, "zh")
    problems = [(message.id, [str(error) for error in errors]) for message, errors in zh.check()]
    assert not problems, problems
    for message in zh:
        if message.id:
            assert message.string.count("{count}") == _msgid(message).count("{count}"), message.id


def test_compiled_catalog_matches_the_po():
    compiled = BytesIO()
    write_mo(compiled, _read(ZH_PO, "zh"))
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)
    with ZH_MO.open("rb") as fileobj:
        committed = gettext.GNUTranslations(fileobj)
    expected_pairs = set(expected._catalog.items())  # noqa: SLF001 - the pairs themselves
    committed_pairs = set(committed._catalog.items())  # noqa: SLF001
    assert committed_pairs == expected_pairs, (
        f"messages.mo is stale: run pybabel compile ({REFRESH}); differing msgids: "
        f"{sorted({str(pair[0]) for pair in committed_pairs ^ expected_pairs})}")


def test_catalog_is_up_to_date_with_the_source():
    extracted = _extract()
    assert len(extracted) > 100, "extraction found almost nothing: check babel.cfg"
    in_pot, in_po = _ids(_read(POT)), _ids(_read(ZH_PO, "zh"))
    assert not sorted(extracted - in_pot), (
        f"messages.pot is stale ({REFRESH}): {sorted(extracted - in_pot)}")
    assert not sorted(extracted - in_po), (
        f"strings marked in the source but missing from the zh catalog ({REFRESH}): "
        f"{sorted(extracted - in_po)}")


def test_role_and_status_names_are_in_the_catalog():
    """The templates call `_(current_user.role)`, `_(role)`: each stored value is a msgid."""
    assert set(ROLE_NAMES) == set(ROLES)
    zh = _read(ZH_PO, "zh")
    for word in (*ROLE_NAMES, *STATUS_NAMES):
        assert zh.get(word) is not None and zh.get(word).string, word


def test_the_app_loads_the_chinese_catalog(app):
    with app.test_request_context(), force_locale("zh"):
        assert flask_gettext("admin") == "管理员"
        assert flask_gettext("reviewer") == "审核员"
        assert flask_gettext("annotator") == "标注员"
        assert str(ROLE_NAMES["annotator"]) == "标注员"  # lazy strings follow the locale
        assert flask_gettext("Projects") == "项目"
        assert flask_ngettext("%(count)s change waiting to be saved; retrying…",
                              "%(count)s changes waiting to be saved; retrying…", 2,
                              count="{count}") == "{count} 处更改待保存，正在重试…"
    with app.test_request_context(), force_locale("en"):
        assert flask_gettext("admin") == "admin"


# --- the pages ----------------------------------------------------------------------------


def test_login_page_is_chinese_for_a_chinese_browser(app, client):
    with app.app_context():
        create_user(db.session, "boss", PASSWORD, "admin")
    html = client.get("/login", headers=ZH_BROWSER).get_data(as_text=True)
    assert _lang(html) == "zh-CN"
    assert "<h1>登录</h1>" in html
    for word in ("用户名", "密码", "保持登录", "切换"):  # form labels are lazy strings
        assert word in html, word
    assert "Sign in" not in html and "Username" not in html


def test_login_page_is_english_for_other_browsers(app, client):
    with app.app_context():
        create_user(db.session, "boss", PASSWORD, "admin")
    for headers in ({}, {"Accept-Language": "en-US,en;q=0.9"}, {"Accept-Language": "fr-FR"}):
        html = client.get("/login", headers=headers).get_data(as_text=True)
        assert _lang(html) == "en"
        assert "<h1>Sign in</h1>" in html and "登录" not in html


def test_wrong_password_message_is_chinese(app, client):
    with app.app_context():
        create_user(db.session, "boss", PASSWORD, "admin")
    page = client.get("/login", headers=ZH_BROWSER).get_data(as_text=True)
    response = client.post("/login", headers=ZH_BROWSER, data={
        "csrf_token": _csrf(page), "username": "boss", "password": "not the password"})
    assert "用户名或密码错误。" in response.get_data(as_text=True)


def test_language_follows_the_browser_then_the_cookie(app, client):
    html = _sign_in_admin(app, client, ZH_BROWSER)
    assert _lang(html) == "zh-CN"
    assert "<h1>项目</h1>" in html and "新建项目" in html
    assert "管理员" in html  # the role beside the username: _(current_user.role)
    assert "New project" not in html

    response = client.post("/language", headers=ZH_BROWSER,
                           data={"csrf_token": _csrf(html), "language": "en", "next": "/"})
    assert response.status_code == 302
    assert any(header.startswith("lang=en;") for header in response.headers.getlist("Set-Cookie"))
    assert client.get_cookie("lang").value == "en"

    html = client.get("/", headers=ZH_BROWSER).get_data(as_text=True)
    assert _lang(html) == "en"
    assert "<h1>Projects</h1>" in html and "New project" in html and "· admin" in html
    assert "项目" not in html

    response = client.post("/language", headers={"Accept-Language": "en"},
                           data={"csrf_token": _csrf(html), "language": "zh", "next": "/"})
    assert client.get_cookie("lang").value == "zh"
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert _lang(html) == "zh-CN" and "<h1>项目</h1>" in html


def test_unknown_language_is_ignored(app, client):
    html = _sign_in_admin(app, client, ZH_BROWSER)
    response = client.post("/language", headers=ZH_BROWSER,
                           data={"csrf_token": _csrf(html), "language": "fr", "next": "/"})
    assert response.status_code == 302
    assert client.get_cookie("lang") is None
    assert _lang(client.get("/", headers=ZH_BROWSER).get_data(as_text=True)) == "zh-CN"


@pytest.mark.parametrize(("headers", "saved", "allsaved"), [
    (ZH_BROWSER, "已保存", "所有更改均已保存。"),
    ({"Accept-Language": "en"}, "saved", "All changes saved."),
], ids=["zh", "en"])
def test_article_page_texts_for_the_script_are_translated(app, client, headers, saved, allsaved):
    """The JSON blob that static/js/annotate.js reads carries the page's language, `{count}` intact."""
    _sign_in_admin(app, client, headers)
    import_articles(app, "news", [{"title": "A", "paragraphs": ["one", "two"]}])
    html = client.get(f"/articles/{article_pks(app, 'news')[0]}", headers=headers).get_data(as_text=True)
    blob = _PAGE_DATA.search(html)
    assert blob, "no page-data script on the article page"
    data = json.loads(blob.group(1))
    text = data["text"]
    assert text["saved"] == saved and text["allSaved"] == allsaved
    for name, forms in data["counted"].items():  # each count in both plural forms
        assert set(forms) == {"one", "other"}, name
        for form in forms.values():
            assert "{count}" in form and "%(" not in form, (name, form)
    if allsaved == "All changes saved.":  # English: one suggestion, 2 suggestions
        assert data["counted"]["acceptedAll"] == {
            "one": "Accepted {count} suggestion (u to undo).",
            "other": "Accepted {count} suggestions (u to undo)."}

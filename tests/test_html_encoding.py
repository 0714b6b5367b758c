"""Issue 15: real pages import in their right encoding (SPEC "Import", html): a BOM, then
`--encoding`, then valid UTF-8, then a declared charset that decodes the bytes, then
detection; the encoding used is kept in `meta.encoding`; a missing title comes from
`og:title`, then the first heading, then the file name. Text files keep the strict rule."""
from __future__ import annotations

import codecs
import gzip
import json
import time

import pytest

from annotator.services.encodings import CODECS, DETECT_SAMPLE, LABELS, html_encoding

from test_import import assert_ok, assert_rejected, only_article, run_import

CHINESE = ["国务院常务会议今日召开，研究部署进一步稳定经济运行的政策措施。",
           "会议指出，要加大对中小企业的支持力度，保持就业形势总体稳定。",
           "专家认为，这些举措有助于提振市场信心（记者 王明）。"]


def page(title: str, paragraphs: list[str], head: str = "") -> str:
    body = "".join(f"<p>{text}</p>\n" for text in paragraphs)
    return f"<!DOCTYPE html><html><head>{head}<title>{title}</title></head><body>{body}</body></html>"


def test_the_encodings_table_names_each_codec_as_python_does():
    # the table is read without codecs.lookup (which imports each codec at start): its names
    # must be the ones lookup gives, or decoding and detection would miss a codec
    assert {name: codecs.lookup(codec).name for name, codec in CODECS.items()} == CODECS


def assert_ok_any(result) -> None:
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and result.stdout.startswith("imported: 1 articles added")


def imported(app, runner, tmp_path, data: bytes, name: str = "page.html") -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    assert_ok_any(run_import(runner, path, "--project", "news"))
    article = only_article(app)
    everything = article["title"] + "".join(article["paragraphs"])
    assert "\ufffd" not in everything
    return article


def test_gb18030_chinese_without_a_declared_charset_is_detected(app, runner, tmp_path):
    text = CHINESE + ["扩展字符𠀀与欧元符号€只在GB18030中有。"]  # beyond GBK: only GB18030 has them
    article = imported(app, runner, tmp_path, page("稳经济政策出台", text).encode("gb18030"))
    assert (article["title"], article["paragraphs"]) == ("稳经济政策出台", text)
    assert article["meta"] == {"encoding": "gb18030"}


def test_windows_1252_english_with_curly_quotes_is_detected(app, runner, tmp_path):
    text = ["“It’s the economy,” she said — and the café’s naïve résumé proved it.",
            "Prices rose 2½% in a year; the ‘experts’ were wrong… again.",
            "Daniel Müller, Zürich, and François, Besançon, agreed."]
    article = imported(app, runner, tmp_path, page("The “Big” Story", text).encode("cp1252"))
    assert (article["title"], article["paragraphs"]) == ("The “Big” Story", text)
    assert article["meta"] == {"encoding": "windows-1252"}


def test_windows_1250_central_european_page_is_detected(app, runner, tmp_path):
    text = ["Příliš žluťoučký kůň úpěl ďábelské ódy, řekl ředitel školy.",
            "Zażółć gęślą jaźń — powiedział Łukasz w Łodzi.",
            "Vláda schválila nový zákon o ochraně přírody a krajiny."]
    article = imported(app, runner, tmp_path, page("Zprávy", text).encode("cp1250"))
    assert (article["title"], article["paragraphs"]) == ("Zprávy", text)
    assert article["meta"] == {"encoding": "windows-1250"}


def test_a_page_declaring_iso_8859_1_whose_bytes_are_utf8_is_read_as_utf8(app, runner, tmp_path):
    text = ["Le café coûte 2 € à Zürich — “cher”.", *CHINESE[:1]]
    data = page("Café", text, head='<meta http-equiv="Content-Type" '
                'content="text/html; charset=iso-8859-1">').encode("utf-8")
    article = imported(app, runner, tmp_path, data)
    assert (article["title"], article["paragraphs"]) == ("Café", text)  # no "cafÃ©"
    assert article["meta"] == {"encoding": "utf-8"}


def test_a_page_declaring_utf8_whose_bytes_are_gbk_is_detected(app, runner, tmp_path):
    data = page("经济新闻", CHINESE, head='<meta charset="utf-8">').encode("gbk")
    article = imported(app, runner, tmp_path, data)
    assert (article["title"], article["paragraphs"]) == ("经济新闻", CHINESE)
    assert article["meta"] == {"encoding": "gb18030"}


def test_a_declared_charset_that_decodes_the_bytes_is_honoured(app, runner, tmp_path):
    """Short Shift_JIS text is hard to detect: the declaration decides."""
    text = ["東京は晴れ。"]
    data = page("天気", text, head='<meta charset="Shift_JIS">').encode("cp932")
    article = imported(app, runner, tmp_path, data)
    assert (article["title"], article["paragraphs"], article["meta"]) == (
        "天気", text, {"encoding": "shift_jis"})


def test_a_declared_label_browsers_do_not_know_falls_through_to_detection(app, runner, tmp_path):
    data = page("政策", CHINESE, head='<meta charset="x-klingon">').encode("gb18030")
    assert imported(app, runner, tmp_path, data)["meta"] == {"encoding": "gb18030"}


def test_a_utf16_page_with_a_bom_is_read(app, runner, tmp_path):
    article = imported(app, runner, tmp_path, page("标题", CHINESE).encode("utf-16"))
    assert (article["paragraphs"], article["meta"]) == (CHINESE, {"encoding": "utf-16le"})


def test_a_gbk_page_with_one_broken_byte_shows_it_as_u_fffd_not_mojibake(app, runner, tmp_path):
    """Nothing decodes it strictly, and a single-byte encoding would read it all as noise."""
    data = page("新闻", CHINESE).encode("gbk").replace("会议指出".encode("gbk"),
                                                      "会议".encode("gbk") + b"\xff")
    path = tmp_path / "page.html"
    path.write_bytes(data)
    assert_ok_any(run_import(runner, path, "--project", "news"))
    article = only_article(app)
    assert article["paragraphs"] == [CHINESE[0], CHINESE[1].replace("会议指出", "会议\ufffd"),
                                     CHINESE[2]]
    assert (article["title"], article["meta"]) == ("新闻", {"encoding": "gb18030"})


def test_a_utf8_page_with_a_stray_byte_stays_utf8(app, runner, tmp_path):
    text = ["“Choose your own adventure” — she said.", "Price: 5 \ufffd today.", "Ça va."]
    data = page("Café", text, head='<meta charset="utf-8">').encode().replace(
        "\ufffd".encode(), b"\xa3")  # a lone latin-1 pound sign
    path = tmp_path / "page.html"
    path.write_bytes(data)
    assert_ok_any(run_import(runner, path, "--project", "news"))
    article = only_article(app)
    assert (article["title"], article["paragraphs"]) == ("Café", text)
    assert article["meta"] == {"encoding": "utf-8"}


def test_title_falls_back_to_og_title(app, runner, tmp_path):
    data = ('<html><head><meta property="og:title" content="  Open   Graph title "></head>'
            "<body><h2>Sub heading</h2><p>Body.</p></body></html>").encode()
    assert imported(app, runner, tmp_path, data)["title"] == "Open Graph title"


def test_title_falls_back_to_the_first_heading_of_any_level(app, runner, tmp_path):
    data = b"<html><body><p>Intro.</p><h3>A  third-level <em>heading</em></h3><h2>Later</h2></body></html>"
    assert imported(app, runner, tmp_path, data)["title"] == "A third-level heading"


def test_title_falls_back_to_the_file_name(app, runner, tmp_path):
    data = b"<html><body><p>No heading anywhere.</p></body></html>"
    article = imported(app, runner, tmp_path, data, name="2024-05 report.html")
    assert (article["title"], article["paragraphs"]) == ("2024-05 report", ["No heading anywhere."])


def test_an_empty_title_and_h1_do_not_count(app, runner, tmp_path):
    data = b"<html><head><title> </title></head><body><h1></h1><h4>Real</h4></body></html>"
    assert imported(app, runner, tmp_path, data)["title"] == "Real"


def test_jsonl_html_fields_are_text_already_and_keep_the_users_meta(app, runner, tmp_path):
    path = tmp_path / "a.jsonl"
    record = {"title": "标题", "html": '<meta charset="gbk"><p>正文</p>', "meta": {"site": "x"}}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 1)
    article = only_article(app)
    assert (article["paragraphs"], article["meta"]) == (["正文"], {"site": "x"})


@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_text_files_keep_the_strict_rule(app, runner, tmp_path, suffix):
    path = tmp_path / f"gbk{suffix}"
    path.write_bytes(("标题\n\n" + "\n\n".join(CHINESE) + "\n").encode("gbk"))
    failed = run_import(runner, path, "--project", "news")
    assert_rejected(app, failed, (f"{path}:1", "bytes do not decode as utf-8"))
    assert "--encoding" in failed.stderr


def test_binary_files_are_still_refused(app, runner, tmp_path):
    path = tmp_path / "image.html"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)))
    assert_rejected(app, run_import(runner, path, "--project", "news"), (f"{path}:1", "binary"))


@pytest.mark.parametrize("name", ["page.html", "pages.jsonl"])
def test_a_stray_nul_in_a_page_is_dropped_as_a_browser_drops_it(app, runner, tmp_path, name):
    """A real page of the development set holds one NUL byte between its tables: it imported
    as "binary". Browsers ignore a NUL in a page; so does the import, from a file and from a
    jsonl record's "html" alike. Its other text is untouched."""
    html = page("Jewell close to striker move", CHINESE).replace(
        "</p>\n", "</p>\x00\n", 1).replace("国务院", "国务\x00院")
    data = html if name.endswith(".html") else json.dumps({"title": "t", "html": html}) + "\n"
    assert "\x00" in data or "\\u0000" in data
    assert imported(app, runner, tmp_path, data.encode(), name)["paragraphs"] == CHINESE


def test_a_page_made_of_nul_bytes_is_binary_and_text_keeps_refusing_them(app, runner, tmp_path):
    many = tmp_path / "packed.html"  # a compressed page under the wrong name
    many.write_bytes(gzip.compress(page("t", CHINESE * 50).encode(), mtime=0))
    text = tmp_path / "notes.txt"
    text.write_bytes(b"title\npara\x00graph\n")
    record = tmp_path / "records.jsonl"
    record.write_text('{"title": "t", "paragraphs": ["a\\u0000b"], "html_note": "x"}\n')
    assert_rejected(app, run_import(runner, many, text, record, "--project", "news"),
                    (f"{many}:1", "binary"), (f"{text}:1", "binary"),
                    (f"{record}:1", '"paragraphs" contains a NUL'))


def test_detection_looks_at_a_bounded_sample_from_the_first_non_ascii_byte():
    """A long all-ASCII head does not hide the text; a big page costs no more than a small."""
    script = "<script>" + "var x = 1;\n" * 20_000 + "</script>"  # 220 KB before any text
    small = page("政策", CHINESE, head=script).encode("gb18030")
    big = page("政策", CHINESE * 20_000, head=script).encode("gb18030")  # 4 MB
    assert len(big) > 60 * DETECT_SAMPLE
    assert html_encoding(small) == html_encoding(big) == ("gb18030", "strict")
    started = time.thread_time()
    html_encoding(big)
    assert time.thread_time() - started < 1.5


def test_the_label_table_is_whatwgs():
    assert len(LABELS) == 211  # WHATWG's 217 but replacement's 5 and x-user-defined
    assert (LABELS["gb2312"], LABELS["latin1"], LABELS["ascii"], LABELS["sjis"]) == (
        "gb18030", "windows-1252", "windows-1252", "shift_jis")
    assert not {"zlib", "base64", "utf-7", "utf-32", "iso-2022-kr", "x-user-defined"} & set(LABELS)

"""`flask import` (SPEC "Import"): formats, normalisations, de-duplication, errors, atomicity."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from annotator import create_app
from annotator.extensions import db
from annotator.models import Article, Label, Paragraph, Project

# --- helpers ---------------------------------------------------------------------------


def run_import(runner, *args):
    """Invoke `flask import` with the given arguments (paths may be Path objects)."""
    return runner.invoke(args=["import", *map(str, args)])


def summary(added: int, skipped: int, paragraphs: int) -> str:
    return (f"imported: {added} articles added, {skipped} skipped (already present), "
            f"{paragraphs} paragraphs")


def assert_ok(result, added: int, skipped: int, paragraphs: int) -> None:
    """Exit 0, nothing on stderr, and exactly the one summary line on stdout."""
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout == summary(added, skipped, paragraphs) + "\n"


def articles(app, project: str = "news") -> list[dict]:
    """The project's articles in import order, with their paragraph texts by index."""
    with app.app_context():
        rows = db.session.scalars(
            select(Article).join(Project).where(Project.name == project).order_by(Article.id)).all()
        out = []
        for article in rows:
            paragraphs = db.session.scalars(
                select(Paragraph).where(Paragraph.article_id == article.id)
                .order_by(Paragraph.index)).all()
            assert [p.index for p in paragraphs] == list(range(len(paragraphs)))
            out.append({"article_id": article.article_id, "title": article.title,
                        "url": article.url, "meta": article.meta,
                        "paragraphs": [p.text for p in paragraphs]})
        return out


def only_article(app, project: str = "news") -> dict:
    stored = articles(app, project)
    assert len(stored) == 1, stored
    return stored[0]


def counts(app) -> tuple[int, int, int, int]:
    """(projects, labels, articles, paragraphs) in the whole database."""
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (Project, Label, Article, Paragraph))


def assert_rejected(app, result, *expected: tuple[str, str], stored=(0, 0, 0, 0)) -> None:
    """Non-zero exit, no traceback, exactly the expected `FILE:LINE: reason` lines, no change."""
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "imported:" not in result.stdout
    problems = [line for line in result.stderr.splitlines() if not line.startswith("Error: ")]
    assert len(problems) == len(expected), result.stderr
    for line, (location, reason) in zip(problems, expected):
        assert line.startswith(f"{location}: "), line
        assert reason in line[len(location) + 2:], line
    assert "nothing was imported" in result.stderr
    assert counts(app) == stored


def write_jsonl(path: Path, *records, raw: bool = False) -> Path:
    """One record per line; with raw=True the records are already text lines."""
    lines = records if raw else [json.dumps(record, ensure_ascii=False) for record in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fresh_app(db_path: Path):
    return create_app({"TESTING": True, "SECRET_KEY": "test",
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}"})


# --- txt -------------------------------------------------------------------------------

CHINESE_PAGE = (
    "央行宣布下调存款准备金率0.5个百分点\n"
    "　　中国人民银行今日宣布，自下月起下调金融机构存款准备金率0.5个百分点。\n"
    "　　此次降准将释放长期资金约1万亿元，“保持流动性合理充裕”。\u3000\n"
    "\n"
    "　　分析人士认为：这一举措有助于稳定市场预期（记者 王明）。\n"
    "上一篇：股市收盘综述\n"
    "下一篇：楼市新政解读\n"
    "扫一扫，关注我们的微信公众号！\n"
    "版权所有 2024 某某新闻网 京ICP备12345678号\n"
)


def test_chinese_scraped_txt_is_one_paragraph_per_line(app, runner, tmp_path):
    path = tmp_path / "news.txt"
    path.write_text(CHINESE_PAGE, encoding="utf-8")
    result = run_import(runner, path, "--project", "news")
    assert_ok(result, 1, 0, 7)
    article = only_article(app)
    assert article["title"] == "央行宣布下调存款准备金率0.5个百分点"
    assert article["paragraphs"] == [
        "中国人民银行今日宣布，自下月起下调金融机构存款准备金率0.5个百分点。",
        "此次降准将释放长期资金约1万亿元，“保持流动性合理充裕”。",
        "分析人士认为：这一举措有助于稳定市场预期（记者 王明）。",
        "上一篇：股市收盘综述",
        "下一篇：楼市新政解读",
        "扫一扫，关注我们的微信公众号！",
        "版权所有 2024 某某新闻网 京ICP备12345678号",
    ]
    assert article["url"] is None and article["meta"] == {}


def test_title_is_first_non_empty_line(app, runner, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("\n  \n\u3000\n  Title here  \nBody.\n", encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 1)
    assert only_article(app)["title"] == "Title here"


HARD_WRAPPED = (
    "The Long Report\n"
    "\n"
    "It was a bright cold day in April, and the clocks\n"
    "were striking thirteen.\n"
    "\n"
    "\n"
    "   \n"
    "Winston Smith, his chin nuzzled into his breast\n"
    "in an effort to escape the vile wind,\n"
    "slipped quickly through the glass doors.\n"
    "\t\n"
    "Short final paragraph.\n"
)


def test_hard_wrapped_txt_with_split_blank_keeps_inner_line_breaks(app, runner, tmp_path):
    path = tmp_path / "report.txt"
    path.write_text(HARD_WRAPPED, encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news", "--split", "blank"), 1, 0, 3)
    article = only_article(app)
    assert article["title"] == "The Long Report"
    assert article["paragraphs"] == [
        "It was a bright cold day in April, and the clocks\nwere striking thirteen.",
        "Winston Smith, his chin nuzzled into his breast\nin an effort to escape the vile wind,\n"
        "slipped quickly through the glass doors.",
        "Short final paragraph.",
    ]


def test_same_hard_wrapped_txt_split_by_line_gives_a_paragraph_per_line(app, runner, tmp_path):
    path = tmp_path / "report.txt"
    path.write_text(HARD_WRAPPED, encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 6)
    assert only_article(app)["paragraphs"][:2] == [
        "It was a bright cold day in April, and the clocks", "were striking thirteen."]


def test_crlf_and_utf8_bom_are_normalised(app, runner, tmp_path):
    txt = tmp_path / "a.txt"
    txt.write_bytes("\ufeff标题\r\n第一段\r\n\r\n第二段\r第三段\r\n".encode("utf-8"))
    blank = tmp_path / "b.txt"
    blank.write_bytes(b"\xef\xbb\xbfWrapped\r\n\r\nline one\r\nline two\r\n\r\nnext\r\n")
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps(
        {"id": "c1", "title": "T\r\n", "paragraphs": ["a\r\nb", "c\rd"]}).encode() + b"\r\n"
        + json.dumps({"id": "c2", "title": "U", "text": "x\r\ny"}).encode() + b"\r\n")
    assert_ok(run_import(runner, txt, "--project", "news"), 1, 0, 3)
    assert_ok(run_import(runner, blank, "--project", "blank", "--split", "blank"), 1, 0, 2)
    assert_ok(run_import(runner, jsonl, "--project", "jsonl"), 2, 0, 4)
    assert only_article(app) | {"article_id": None} == {
        "article_id": None, "title": "标题", "url": None, "meta": {},
        "paragraphs": ["第一段", "第二段", "第三段"]}
    assert only_article(app, "blank")["paragraphs"] == ["line one\nline two", "next"]
    assert [(a["article_id"], a["title"], a["paragraphs"]) for a in articles(app, "jsonl")] == [
        ("c1", "T", ["a\nb", "c\nd"]), ("c2", "U", ["x", "y"])]


def test_jsonl_with_bare_cr_line_endings(app, runner, tmp_path):
    path = tmp_path / "mac.jsonl"
    path.write_bytes(b'{"id": "m1", "title": "A", "text": "a"}\r\r'
                     b'{"id": "m2", "title": "B", "text": "b"}\r{"title": 3, "text": "c"}\r')
    assert_rejected(app, run_import(runner, path, "--project", "news"),
                    (f"{path}:4", '"title" must be a string'))
    result = run_import(runner, path, "--project", "news", "--skip-invalid")
    assert result.exit_code == 0
    assert result.stdout == summary(2, 0, 2) + "\n"
    assert result.stderr.startswith(f"{path}:4: ")
    assert [a["article_id"] for a in articles(app)] == ["m1", "m2"]


def test_ideographic_spaces_at_ends_stripped_zero_width_space_kept(app, runner, tmp_path):
    txt = tmp_path / "a.txt"
    txt.write_text("\u3000\u3000标题\u3000\n\u3000\u3000正文\u200b第一段\u3000\u3000\n"
                   "\u200b\u3000\n中\u3000间\n", encoding="utf-8")
    assert_ok(run_import(runner, txt, "--project", "news"), 1, 0, 3)
    article = only_article(app)
    assert article["title"] == "标题"
    # a line holding only U+200B is not empty: U+200B is not whitespace
    assert article["paragraphs"] == ["正文\u200b第一段", "\u200b", "中\u3000间"]
    # export gives back the same characters
    result = runner.invoke(args=["export", "--project", "news"])
    assert result.exit_code == 0
    exported = [json.loads(line)["text"] for line in result.stdout.splitlines()]
    assert exported == article["paragraphs"]
    assert "正文\u200b第一段" in result.stdout  # written as itself, not escaped


def test_encoding_option_reads_gb18030_txt(app, runner, tmp_path):
    path = tmp_path / "gb.txt"
    text = "简体标题\n第一段：人民币𠀀汇率。\n第二段€\n"  # 𠀀 and € are beyond GBK's two-byte range
    path.write_bytes(text.encode("gb18030"))
    failed = run_import(runner, path, "--project", "news")
    assert_rejected(app, failed, (f"{path}:1", "do not decode as utf-8"))
    assert "--encoding" in failed.stderr
    assert_ok(run_import(runner, path, "--project", "news", "--encoding", "gb18030"), 1, 0, 2)
    article = only_article(app)
    assert (article["title"], article["paragraphs"]) == ("简体标题", ["第一段：人民币𠀀汇率。", "第二段€"])


def test_unknown_encoding_name_is_an_error(app, runner, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("T\nbody\n", encoding="utf-8")
    assert_rejected(app, run_import(runner, path, "--project", "news", "--encoding", "klingon"),
                    (f"{path}:1", "unknown encoding"))


# --- md --------------------------------------------------------------------------------

MARKDOWN = """\
# 气候报告 Climate report

The first paragraph has a
soft line break and *emphasis* kept as written.

## 背景 Background

- 第一项
- second item
  wraps here

1. one
2. two

> 引用第一行
> quote line two
>
> 第二段引用

```python
x = 1
print(x)
```

Last words.
"""


def test_markdown_each_block_is_a_paragraph_without_its_markers(app, runner, tmp_path):
    path = tmp_path / "report.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 11)
    article = only_article(app)
    assert article["title"] == "气候报告 Climate report"
    assert article["paragraphs"] == [
        "气候报告 Climate report",
        "The first paragraph has a\nsoft line break and *emphasis* kept as written.",
        "背景 Background",
        "第一项",
        "second item\nwraps here",
        "one",
        "two",
        "引用第一行\nquote line two",
        "第二段引用",
        "x = 1\nprint(x)",
        "Last words.",
    ]


def test_markdown_title_is_first_heading_even_when_not_first(app, runner, tmp_path):
    path = tmp_path / "a.markdown"
    path.write_text("Intro line.\n\n## Real title ##\n\nBody.\n", encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 3)
    article = only_article(app)
    assert article["title"] == "Real title"
    assert article["paragraphs"] == ["Intro line.", "Real title", "Body."]


def test_markdown_empty_heading_is_not_the_title(app, runner, tmp_path):
    path = tmp_path / "a.md"
    path.write_text("#\n\n## Second heading\n\ntext\n", encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 2)
    article = only_article(app)
    assert article["title"] == "Second heading"
    assert article["paragraphs"] == ["Second heading", "text"]


def test_markdown_and_html_with_bom_and_crlf(app, runner, tmp_path):
    md = tmp_path / "a.md"
    md.write_bytes(b"\xef\xbb\xbf# MD\r\n\r\nsoft\r\nbreak\r\n\r\n- item\r\n")
    html = tmp_path / "b.html"
    # a BOM wins over the declared charset
    html.write_bytes(b"\xef\xbb\xbf<meta charset='gbk'><title>HTML</title>\r\n<pre>a\r\nb</pre>"
                     + "<p>中文</p>".encode("utf-8"))
    assert_ok(run_import(runner, md, html, "--project", "news"), 2, 0, 5)
    assert [(a["title"], a["paragraphs"]) for a in articles(app)] == [
        ("MD", ["MD", "soft\nbreak", "item"]), ("HTML", ["a\nb", "中文"])]


def test_markdown_without_heading_takes_first_non_empty_line_as_title(app, runner, tmp_path):
    path = tmp_path / "a.md"
    path.write_text("\n\nJust a first line\nand more.\n\nSecond block.\n", encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 2)
    article = only_article(app)
    assert article["title"] == "Just a first line"
    assert article["paragraphs"] == ["Just a first line\nand more.", "Second block."]


# --- html ------------------------------------------------------------------------------

GBK_PAGE = """<!DOCTYPE html>
<html><head><meta charset="gbk">
<title>  国内新闻 |
   某某网 </title>
<style>body { color: red; } .nav { display: none }</style>
<script>var tracker = "统计代码"; if (1 < 2) { track(); }</script>
</head>
<body>
<nav class="nav"><ul><li><a href="/">首页</a></li><li><a href="/news">新闻</a></li></ul></nav>
<div class="content">
<h1>国内新闻</h1>
<p>　　第一段，   包含
      多个
空白。</p>
<p>第二段<b>加粗</b>文字，<a href="#">链接</a>。</p>
<script>document.write("广告脚本")</script>
<noscript>请启用脚本</noscript>
<template><p>模板内容</p></template>
<!-- 注释内容 -->
</div>
<footer>版权所有 2024 某某网 <span>京ICP备123号</span></footer>
</body></html>
"""


def test_gbk_html_page_honours_meta_charset(app, runner, tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes(GBK_PAGE.encode("gbk"))
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 6)
    article = only_article(app)
    assert article["title"] == "国内新闻 | 某某网"
    assert article["paragraphs"] == [
        "首页", "新闻", "国内新闻", "第一段， 包含 多个 空白。", "第二段加粗文字，链接。",
        "版权所有 2024 某某网 京ICP备123号"]
    everything = "\n".join(article["paragraphs"])
    for hidden in ("统计代码", "track", "广告脚本", "color", "请启用脚本", "模板内容", "注释内容"):
        assert hidden not in everything


def test_gb2312_page_declared_by_http_equiv(app, runner, tmp_path):
    page = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
            "<title>经济观察</title></head><body><article><h2>小标题</h2>"
            "<p>物价\t\t平稳。</p><blockquote>“引用”</blockquote></article></body></html>")
    path = tmp_path / "page.htm"
    path.write_bytes(page.encode("gb2312"))
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 3)
    article = only_article(app)
    assert article["title"] == "经济观察"
    assert article["paragraphs"] == ["小标题", "物价 平稳。", "“引用”"]


def test_html_title_falls_back_to_first_h1_and_blocks_come_in_document_order(app, runner, tmp_path):
    page = """<html><body>
      <header>站点 <a>登录</a></header>
      <main><h1>  The   <em>Headline</em> </h1>
        Loose text in main.
        <table><tr><th>Year</th><td>2024</td></tr></table>
        <dl><dt>Term</dt><dd>Definition</dd></dl>
        <figure><img src="x.png"><figcaption>A caption</figcaption></figure>
        <pre>  line 1
    line 2  </pre>
        <ul><li>item <p>nested</p> tail</li></ul>
      </main>
      <aside>Related: <a>other story</a></aside>
    </body></html>"""
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 13)
    article = only_article(app)
    assert article["title"] == "The Headline"
    assert article["paragraphs"] == [
        "站点 登录", "The Headline", "Loose text in main.", "Year", "2024", "Term",
        "Definition", "A caption", "line 1\n    line 2", "item", "nested", "tail",
        "Related: other story"]


def test_html_keeps_non_collapsible_spaces_inside_a_block(app, runner, tmp_path):
    """A browser collapses only ASCII whitespace: U+3000 and no-break spaces are shown as is."""
    page = ("<html><head><title>标题\u3000二</title></head><body>"
            "<p>\u3000\u3000首行缩进，中\u3000\u3000间&nbsp;&nbsp;空格\u200b零宽。\u3000</p>"
            "<p>a \n\t b\r\n c</p></body></html>")
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 2)
    article = only_article(app)
    assert article["title"] == "标题\u3000二"
    assert article["paragraphs"] == [
        "首行缩进，中\u3000\u3000间\u00a0\u00a0空格\u200b零宽。", "a b c"]


def test_html_encoding_option_wins_over_the_declared_charset(app, runner, tmp_path):
    """--encoding is obeyed, even against the page's own (here wrong) declaration."""
    path = tmp_path / "page.html"
    path.write_bytes('<html><meta charset="big5"><title>标题</title><p>正文</p></html>'
                     .encode("gbk"))
    assert_rejected(app, run_import(runner, path, "--project", "news", "--encoding", "utf-8"),
                    (f"{path}:1", "do not decode as utf-8"))
    assert_ok(run_import(runner, path, "--project", "news", "--encoding", "gbk"), 1, 0, 1)
    article = only_article(app)
    assert (article["paragraphs"], article["meta"]) == (["正文"], {"encoding": "gb18030"})


# --- jsonl -----------------------------------------------------------------------------

def test_jsonl_paragraphs_text_and_html_records(app, runner, tmp_path):
    path = write_jsonl(
        tmp_path / "batch.jsonl",
        {"id": "p1", "title": " 段落 ", "paragraphs": [" 第一段。", "", "\u3000", "Second.\u3000"],
         "url": "https://example.com/p1", "meta": {"source": "新华社", "tags": ["a", 1]}},
        {"id": "t1", "title": "Text", "text": "Title-less body line\n\n  second line  \n"},
        {"title": "Html",
         "html": "<div><p>One  <b>two</b></p><script>x()</script><p>three</p></div>",
         "url": None, "meta": None},
    )
    assert_ok(run_import(runner, path, "--project", "news"), 3, 0, 6)
    stored = articles(app)
    assert stored[0] == {"article_id": "p1", "title": "段落", "url": "https://example.com/p1",
                         "meta": {"source": "新华社", "tags": ["a", 1]},
                         "paragraphs": ["第一段。", "Second."]}
    assert stored[1] == {"article_id": "t1", "title": "Text", "url": None, "meta": {},
                         "paragraphs": ["Title-less body line", "second line"]}
    assert stored[2]["title"] == "Html" and stored[2]["paragraphs"] == ["One two", "three"]
    assert stored[2]["url"] is None and stored[2]["meta"] == {}
    assert stored[2]["article_id"]  # derived from its content


def test_jsonl_text_follows_split_option(app, runner, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl",
                       {"id": "w", "title": "T", "text": "wrapped\nline\n\n\nnext\nblock"})
    assert_ok(run_import(runner, path, "--project", "news", "--split", "blank"), 1, 0, 2)
    assert only_article(app)["paragraphs"] == ["wrapped\nline", "next\nblock"]


def test_format_option_overrides_the_extension(app, runner, tmp_path):
    path = tmp_path / "scraped.log"
    path.write_text('{"title": "not json, a txt title"}\nbody\n', encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news", "--format", "txt"), 1, 0, 1)
    assert only_article(app)["title"] == '{"title": "not json, a txt title"}'


def test_extension_is_matched_case_insensitively(app, runner, tmp_path):
    path = tmp_path / "PAGE.HTM"
    path.write_text("<title>Upper</title><p>x</p>", encoding="utf-8")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 1)
    assert only_article(app)["title"] == "Upper"


# --- directories, projects, ids --------------------------------------------------------

def test_directory_is_walked_recursively_in_sorted_path_order(app, runner, tmp_path):
    root = tmp_path / "corpus"
    (root / "b" / "d").mkdir(parents=True)
    (root / "z.html").write_text("<title>Z html</title><p>z</p>", encoding="utf-8")
    write_jsonl(root / "b" / "d" / "e.jsonl",
                {"id": "e1", "title": "E1", "paragraphs": ["e1"]},
                {"id": "e2", "title": "E2", "paragraphs": ["e2"]})
    (root / "b" / "c.md").write_text("# C md\n\nc\n", encoding="utf-8")
    (root / "a.txt").write_text("A txt\na\n", encoding="utf-8")
    (root / "b" / "a2.txt").write_text("A2 txt\na2\n", encoding="utf-8")
    # beside the articles: hidden files and files of other kinds are left alone
    (root / ".hidden.txt").write_text("Hidden\nh\n", encoding="utf-8")
    (root / "notes.csv").write_text("a,b\n", encoding="utf-8")
    (root / "b" / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert_ok(run_import(runner, root, "--project", "news"), 6, 0, 7)
    assert [a["title"] for a in articles(app)] == ["A txt", "A2 txt", "C md", "E1", "E2", "Z html"]


def test_several_paths_are_one_import_in_the_given_order(app, runner, tmp_path):
    first = write_jsonl(tmp_path / "z.jsonl", {"id": "z", "title": "Z", "text": "z"})
    second = tmp_path / "a.txt"
    second.write_text("A\na\n", encoding="utf-8")
    assert_ok(run_import(runner, first, second, "--project", "news"), 2, 0, 2)
    assert [a["title"] for a in articles(app)] == ["Z", "A"]


def test_new_project_gets_the_default_label_set_in_order(app, runner, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", {"title": "T", "text": "x"})
    assert_ok(run_import(runner, path, "--project", "新闻 2024"), 1, 0, 1)
    with app.app_context():
        project = db.session.scalars(select(Project)).one()
        assert project.name == "新闻 2024"
        assert [(label.key, label.hotkey) for label in project.labels] == [
            ("claim", "1"), ("evidence", "2"), ("boilerplate", "3"), ("other", "4")]
        assert all(label.name and label.color for label in project.labels)
    # importing again into the existing project adds no second label set
    other = write_jsonl(tmp_path / "b.jsonl", {"title": "U", "text": "y"})
    assert_ok(run_import(runner, other, "--project", "新闻 2024"), 1, 0, 1)
    assert counts(app) == (1, 4, 2, 2)


def test_given_id_becomes_article_id_else_a_stable_id_derived_from_content(app, runner, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl",
                       {"id": "ext-1", "title": "Given", "paragraphs": ["x"]},
                       {"title": "Derived", "paragraphs": ["同样的内容", "same content"]},
                       {"title": "Derived", "paragraphs": ["different content"]})
    assert_ok(run_import(runner, path, "--project", "news"), 3, 0, 4)
    given, derived, different = (a["article_id"] for a in articles(app))
    assert given == "ext-1"
    assert derived and different and derived != different and "ext-1" not in (derived, different)

    # a second database, another project name, another file and format: the same id
    other_app = fresh_app(tmp_path / "other.db")
    try:
        txt = tmp_path / "derived.txt"
        txt.write_text("Derived\n同样的内容\nsame content\n", encoding="utf-8")
        result = other_app.test_cli_runner().invoke(args=["import", str(txt), "--project", "other"])
        assert_ok(result, 1, 0, 2)
        assert only_article(other_app, "other")["article_id"] == derived
    finally:
        with other_app.app_context():
            db.engine.dispose()


def test_unknown_project_name_rules_are_checked(app, runner, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", {"title": "T", "text": "x"})
    result = run_import(runner, path, "--project", "   ")
    assert result.exit_code != 0 and "project name" in result.stderr
    assert counts(app) == (0, 0, 0, 0)


# --- re-import and duplicates ----------------------------------------------------------

def test_reimporting_the_same_input_adds_nothing_and_says_so(app, runner, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl",
                       {"id": "a1", "title": "A", "paragraphs": ["1", "2"]},
                       {"id": "a2", "title": "B", "text": "3\n4\n5"},
                       {"title": "No id", "paragraphs": ["6"]})
    assert_ok(run_import(runner, path, "--project", "news"), 3, 0, 6)
    before = articles(app)
    assert_ok(run_import(runner, path, "--project", "news"), 0, 3, 0)
    assert articles(app) == before
    assert counts(app) == (1, 4, 3, 6)


def test_article_without_id_is_skipped_by_content_from_any_file(app, runner, tmp_path):
    first = tmp_path / "first.txt"
    first.write_text("标题\n第一段\n第二段\n", encoding="utf-8")
    copy = tmp_path / "copy.txt"
    copy.write_text("\ufeff标题\r\n\r\n第一段\u3000\r\n第二段\r\n", encoding="utf-8")
    as_jsonl = write_jsonl(tmp_path / "same.jsonl",
                           {"title": "标题", "paragraphs": ["第一段", "第二段"]})
    changed = tmp_path / "changed.txt"
    changed.write_text("标题\n第一段\n第二段（更正）\n", encoding="utf-8")
    assert_ok(run_import(runner, first, "--project", "news"), 1, 0, 2)
    assert_ok(run_import(runner, copy, "--project", "news"), 0, 1, 0)
    assert_ok(run_import(runner, as_jsonl, "--project", "news"), 0, 1, 0)
    assert_ok(run_import(runner, changed, "--project", "news"), 1, 0, 2)
    assert [a["paragraphs"][-1] for a in articles(app)] == ["第二段", "第二段（更正）"]


def test_known_id_is_skipped_even_with_new_content(app, runner, tmp_path):
    assert_ok(run_import(runner, write_jsonl(tmp_path / "a.jsonl",
                                             {"id": "a1", "title": "Old", "text": "old"}),
                         "--project", "news"), 1, 0, 1)
    assert_ok(run_import(runner, write_jsonl(tmp_path / "b.jsonl",
                                             {"id": "a1", "title": "New", "text": "new"}),
                         "--project", "news"), 0, 1, 0)
    assert only_article(app)["title"] == "Old"


def test_duplicates_inside_one_file_are_skipped(app, runner, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl",
                       {"id": "d1", "title": "First", "paragraphs": ["x"]},
                       {"id": "d1", "title": "Same id", "paragraphs": ["y"]},
                       {"title": "No id", "paragraphs": ["z"]},
                       {"title": " No id ", "text": "z\n"},
                       {"id": "d2", "title": "Other", "paragraphs": ["w"]})
    assert_ok(run_import(runner, path, "--project", "news"), 3, 2, 3)
    assert [a["title"] for a in articles(app)] == ["First", "No id", "Other"]


def test_same_articles_go_into_another_project(app, runner, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", {"id": "a1", "title": "A", "paragraphs": ["1"]})
    assert_ok(run_import(runner, path, "--project", "one"), 1, 0, 1)
    assert_ok(run_import(runner, path, "--project", "two"), 1, 0, 1)
    assert only_article(app, "two")["article_id"] == "a1"


# --- invalid input ---------------------------------------------------------------------

VALID = {"id": "ok", "title": "Fine", "paragraphs": ["fine"]}

INVALID_RECORDS = [
    pytest.param('{"title": "a", "text": "b"', "not valid JSON", id="not-json"),
    pytest.param("not json at all", "not valid JSON", id="not-json-text"),
    pytest.param('["a list"]', "JSON object", id="not-an-object"),
    pytest.param('{"text": "body"}', 'missing "title"', id="missing-title"),
    pytest.param('{"title": null, "text": "body"}', 'missing "title"', id="null-title"),
    pytest.param('{"title": "", "text": "body"}', "empty title", id="empty-title"),
    pytest.param('{"title": " \\u3000\\n ", "text": "body"}', "empty title", id="blank-title"),
    pytest.param('{"title": 7, "text": "body"}', '"title" must be a string', id="title-not-string"),
    pytest.param('{"title": "t", "text": "b", "paragraphs": ["b"]}', '"paragraphs" and "text"',
                 id="text-and-paragraphs"),
    pytest.param('{"title": "t", "text": "b", "html": "<p>b</p>"}', "exactly one of",
                 id="text-and-html"),
    pytest.param('{"title": "t", "id": "x"}', "exactly one of", id="no-body"),
    pytest.param('{"title": "t", "paragraphs": "one string"}',
                 '"paragraphs" must be a list of strings', id="paragraphs-string"),
    pytest.param('{"title": "t", "paragraphs": ["a", 2]}', '"paragraphs" must be a list of strings',
                 id="paragraphs-number-item"),
    pytest.param('{"title": "t", "paragraphs": [["a"]]}', '"paragraphs" must be a list of strings',
                 id="paragraphs-nested"),
    pytest.param('{"title": "t", "text": ["a"]}', '"text" must be a string', id="text-not-string"),
    pytest.param('{"title": "t", "html": 1}', '"html" must be a string', id="html-not-string"),
    pytest.param('{"id": 12, "title": "t", "text": "b"}', '"id" must be a string', id="id-number"),
    pytest.param('{"id": "", "title": "t", "text": "b"}', '"id"', id="id-empty"),
    pytest.param('{"url": 5, "title": "t", "text": "b"}', '"url" must be a string',
                 id="url-number"),
    pytest.param('{"meta": ["a"], "title": "t", "text": "b"}', '"meta" must be a JSON object',
                 id="meta-list"),
    pytest.param('{"meta": "x", "title": "t", "text": "b"}', '"meta" must be a JSON object',
                 id="meta-string"),
    pytest.param('{"title": "t", "paragraphs": []}', "no paragraphs", id="empty-paragraphs"),
    pytest.param('{"title": "t", "paragraphs": ["", " \\u3000 ", "\\r\\n"]}', "no paragraphs",
                 id="blank-paragraphs"),
    pytest.param('{"title": "t", "text": "\\n \\n"}', "no paragraphs", id="blank-text"),
    pytest.param('{"title": "t", "html": "<script>x()</script><style>p{}</style>"}',
                 "no paragraphs", id="html-without-text"),
    pytest.param('{"title": "t", "paragraphs": ["a\\u0000b"]}', "NUL", id="nul-character"),
    pytest.param('{"title": "t", "paragraphs": ["\\ud800"]}', "surrogate", id="lone-surrogate"),
]


@pytest.mark.parametrize(("line", "reason"), INVALID_RECORDS)
def test_invalid_jsonl_record_is_reported_at_its_physical_line_and_nothing_is_stored(
        app, runner, tmp_path, line, reason):
    path = tmp_path / "batch.jsonl"
    # line 1 valid, 2 blank, 3 whitespace only, 4 valid, 5 the bad record, 6 valid
    write_jsonl(path, json.dumps(VALID), "", "   \t", json.dumps(VALID | {"id": "ok2"}), line,
                json.dumps(VALID | {"id": "ok3"}), raw=True)
    assert_rejected(app, run_import(runner, path, "--project", "news"), (f"{path}:5", reason))


def test_undecodable_bytes_are_an_error_naming_the_file(app, runner, tmp_path):
    txt = tmp_path / "gbk.txt"
    txt.write_bytes("标题\n正文\n".encode("gbk"))
    md = tmp_path / "gbk.md"
    md.write_bytes("# 标题\n\n正文\n".encode("gbk"))
    jsonl = tmp_path / "gbk.jsonl"
    jsonl.write_bytes(json.dumps(VALID).encode() + b"\n"
                      + '{"title": "标题", "text": "正文"}'.encode("gbk")
                      + b"\n")
    assert_rejected(app, run_import(runner, txt, md, jsonl, "--project", "news"),
                    (f"{txt}:1", "do not decode as utf-8"), (f"{md}:1", "do not decode as utf-8"),
                    (f"{jsonl}:2", "do not decode as utf-8"))


def test_binary_file_is_an_error(app, runner, tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!")
    jsonl = tmp_path / "blob.jsonl"
    jsonl.write_bytes(json.dumps(VALID).encode() + b"\n\x00\x00\x00\n")
    assert_rejected(app, run_import(runner, path, jsonl, "--project", "news"),
                    (f"{path}:1", "binary"), (f"{jsonl}:1", "binary"))


def test_utf16_file_without_encoding_is_an_error_and_with_it_imports(app, runner, tmp_path):
    path = tmp_path / "windows.txt"
    path.write_bytes("标题\r\n正文\r\n".encode("utf-16"))
    failed = run_import(runner, path, "--project", "news")
    assert_rejected(app, failed, (f"{path}:1", "UTF-16"))
    assert_ok(run_import(runner, path, "--project", "news", "--encoding", "utf-16"), 1, 0, 1)
    assert only_article(app)["paragraphs"] == ["正文"]


@pytest.mark.parametrize("content", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"],
                         ids=["zero-bytes", "whitespace", "bom-only", "bom-and-newline"])
@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".md", ".html"])
def test_empty_file_is_an_error(app, runner, tmp_path, content, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(content)
    assert_rejected(app, run_import(runner, path, "--project", "news"),
                    (f"{path}:1", "file is empty"))


def test_jsonl_may_start_with_a_bom_and_a_blank_line(app, runner, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\xef\xbb\xbf\n" + json.dumps(VALID).encode() + b"\n")
    assert_ok(run_import(runner, path, "--project", "news"), 1, 0, 1)


def test_txt_with_a_title_but_no_body_yields_no_paragraph(app, runner, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Only a title\n\n  \n", encoding="utf-8")
    assert_rejected(app, run_import(runner, path, "--project", "news"),
                    (f"{path}:1", "no paragraphs"))


def test_unknown_extension_is_an_error(app, runner, tmp_path):
    good = write_jsonl(tmp_path / "a.jsonl", VALID)
    path = tmp_path / "data.csv"
    path.write_text("title,text\nT,x\n", encoding="utf-8")
    bare = tmp_path / "README"
    bare.write_text("T\nx\n", encoding="utf-8")
    result = run_import(runner, good, path, bare, "--project", "news")
    assert_rejected(app, result, (f"{path}:1", "'.csv'"), (f"{bare}:1", "extension"))
    assert "--format" in result.stderr


def test_an_empty_directory_is_an_unread_path_not_an_invalid_record(app, runner, tmp_path):
    good = write_jsonl(tmp_path / "a.jsonl", VALID)
    empty = tmp_path / "empty_dir"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.csv").write_text("x\n", encoding="utf-8")
    result = run_import(runner, good, empty, "--project", "news")
    assert_rejected(app, result, (f"{empty}:1", "no files to import"))
    assert "Error: 1 path not read; nothing was imported" in result.stderr
    assert "invalid record" not in result.stderr


@pytest.mark.parametrize("extra", [(), ("--skip-invalid",)])
def test_a_missing_path_is_said_not_to_exist_and_nothing_is_imported(app, runner, tmp_path,
                                                                       extra):
    good = write_jsonl(tmp_path / "a.jsonl", VALID)
    missing = tmp_path / "nowhere.jsonl"
    result = run_import(runner, good, missing, "--project", "news", *extra)
    assert result.exit_code == 2  # a usage error, even with --skip-invalid: nothing to skip
    assert f"Path '{missing}' does not exist" in result.stderr
    assert "invalid record" not in result.stderr and "--skip-invalid" not in result.stderr
    assert counts(app) == (0, 0, 0, 0)


def test_several_errors_in_one_file_are_all_reported_in_line_order(app, runner, tmp_path):
    path = tmp_path / "batch.jsonl"
    write_jsonl(path, json.dumps(VALID), "{broken", "", '{"title": ""}',
                json.dumps(VALID | {"id": "v2"}), '{"title": "t", "paragraphs": [1]}',
                '{"title": "t", "meta": 1, "text": "x"}', raw=True)
    other = tmp_path / "other.txt"
    other.write_text("Title only\n", encoding="utf-8")
    assert_rejected(app, run_import(runner, path, other, "--project", "news"),
                    (f"{path}:2", "not valid JSON"), (f"{path}:4", "exactly one of"),
                    (f"{path}:6", '"paragraphs" must be a list of strings'),
                    (f"{path}:7", '"meta" must be a JSON object'),
                    (f"{other}:1", "no paragraphs"))


def test_one_invalid_record_among_many_stores_nothing(app, runner, tmp_path):
    # an existing project keeps exactly what it had
    assert_ok(run_import(runner, write_jsonl(tmp_path / "old.jsonl", VALID), "--project", "news"),
              1, 0, 1)
    records = [json.dumps({"id": f"n{i}", "title": f"T{i}", "paragraphs": [f"p{i}", "q"]})
               for i in range(300)]
    records.insert(150, '{"id": "bad", "title": "T", "paragraphs": "not a list"}')
    path = write_jsonl(tmp_path / "big.jsonl", *records, raw=True)
    assert_rejected(app, run_import(runner, path, "--project", "news"),
                    (f"{path}:151", '"paragraphs" must be a list of strings'), stored=(1, 4, 1, 1))
    # and a failed import into a new project does not create the project
    assert_rejected(app, run_import(runner, path, "--project", "fresh"),
                    (f"{path}:151", "list of strings"), stored=(1, 4, 1, 1))
    with app.app_context():
        assert db.session.scalars(select(Project.name)).all() == ["news"]


# --- --skip-invalid --------------------------------------------------------------------

def test_skip_invalid_stores_the_valid_records_and_reports_the_rest(app, runner, tmp_path):
    path = tmp_path / "batch.jsonl"
    write_jsonl(path, json.dumps(VALID), "", "[1]", json.dumps({"title": "Two", "text": "a\nb"}),
                '{"title": "Three"}', raw=True)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    result = run_import(runner, path, empty, "--project", "news", "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert result.stdout == summary(2, 0, 3) + "\n"
    problems = result.stderr.splitlines()
    assert len(problems) == 3
    assert problems[0].startswith(f"{path}:3: ") and "JSON object" in problems[0]
    assert problems[1].startswith(f"{path}:5: ") and "exactly one of" in problems[1]
    assert problems[2].startswith(f"{empty}:1: ") and "empty" in problems[2]
    assert [a["title"] for a in articles(app)] == ["Fine", "Two"]
    # running it again skips what is stored and reports the same problems
    again = run_import(runner, path, empty, "--project", "news", "--skip-invalid")
    assert again.exit_code == 0
    assert again.stdout == summary(0, 2, 0) + "\n"
    assert again.stderr.splitlines() == problems


def test_the_content_hash_is_the_digest_of_the_compact_json_it_always_was():
    """Articles imported without an id are de-duplicated by this hash across imports: it
    must not change with how it is computed (orjson since issue 11, json.dumps before)."""
    import hashlib

    from annotator.services.importing import content_hash

    tricky = ["".join(map(chr, range(0, 0x80))), '"quoted" \\ back\\slash', "\u2028\u2029\ufeff",
              "中文，全角（括号）", "\U0001F600 emoji", "\x7f\x9f\xa0", ""]
    for title, paragraphs in (("t", ["p"]), ("标题", tricky), (tricky[0], tricky[::-1])):
        compact = json.dumps([title, paragraphs], ensure_ascii=False, separators=(",", ":"))
        assert content_hash(title, paragraphs) == hashlib.sha256(compact.encode()).hexdigest()
    assert content_hash("t", ["p"]) == hashlib.sha256(b'["t",["p"]]').hexdigest()

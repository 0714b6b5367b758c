"""A 1,000-paragraph article in the browser: it loads, and labels save one after another.

Prints the page load time and the hotkey-to-saved latency (run with -s to see them); asserts
only that everything works, never a timing, so a slow machine cannot fail it.
"""
from __future__ import annotations

import json
import statistics
import time

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

PARAGRAPHS = 1000
LABELS = 20

# Record, in the page, when each hotkey goes down (before the page's own handler) and when each
# paragraph's data-state becomes "saved", both on the performance.now() clock.
PROBE = """() => {
  window.__probe = { keys: [], saved: {} };
  window.addEventListener("keydown", (event) => {
    const selected = document.querySelector('.para[aria-selected="true"]');
    window.__probe.keys.push({ at: performance.now(), key: event.key, id: selected?.id });
  }, true);
  new MutationObserver((records) => {
    for (const record of records) {
      const para = record.target;
      if (para.dataset.state === "saved" && !(para.id in window.__probe.saved)) {
        window.__probe.saved[para.id] = performance.now();
      }
    }
  }).observe(document.getElementById("paragraphs"),
             { subtree: true, attributes: true, attributeFilter: ["data-state"] });
}"""


def long_article(tmp_path):
    """A JSONL file holding one article of PARAGRAPHS mixed English and Chinese paragraphs."""
    paragraphs = [
        f"Paragraph {i + 1}: the council's counters show {i * 7 % 997} trips on corridor "
        f"{i % 13}, up from {i * 3 % 503} a year earlier; 第{i + 1}段：数据显示回收率逐年上升，"
        f"但正规渠道的占比仍然偏低。" for i in range(PARAGRAPHS)]
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"id": "long-1", "title": "A very long article",
                                "paragraphs": paragraphs}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


def test_a_thousand_paragraph_article(admin_page, live_server, helpers, tmp_path):
    page = admin_page
    output = live_server.cli("import", str(long_article(tmp_path)), "--project", "long")
    assert f"{PARAGRAPHS} paragraphs" in output, output
    pk = helpers.article_pk(page, "long", "long-1")
    hotkey = helpers.labels(page, "long")["claim"]

    started = time.perf_counter()
    page.goto(f"/articles/{pk}", wait_until="load")
    wall_ms = (time.perf_counter() - started) * 1000
    timing = page.evaluate("""() => {
      const n = performance.getEntriesByType("navigation")[0];
      return { response: n.responseEnd - n.startTime, dom: n.domContentLoadedEventEnd - n.startTime,
               load: n.loadEventEnd - n.startTime, bytes: n.transferSize };
    }""")
    expect(page.locator(".para")).to_have_count(PARAGRAPHS)
    expect(page.locator("#p0")).to_have_attribute("aria-selected", "true")

    page.evaluate(PROBE)
    for index in range(LABELS):
        page.keyboard.press(hotkey)
        expect(page.locator(f"#p{index}")).to_have_attribute("data-state", "saved")
    expect(page.locator('.para[aria-selected="true"]')).to_have_attribute("id", f"p{LABELS}")
    probe = page.evaluate("window.__probe")
    latencies = [probe["saved"][key["id"]] - key["at"] for key in probe["keys"]]
    assert len(latencies) == LABELS

    stored = [p for p in helpers.api_article(page, pk)["paragraphs"] if p["annotation"]]
    assert [p["index"] for p in stored] == list(range(LABELS))
    assert {p["annotation"]["label"] for p in stored} == {"claim"}
    assert helpers.pending(page) == {}

    # The end of the article, never laid out until near the screen (content-visibility): reached
    # from the keyboard, labeled, and given a note in a field the page draws only then.
    last = PARAGRAPHS - 1
    page.goto(f"/articles/{pk}#p{last - 1}")
    expect(page.locator(f"#p{last - 1}")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("j")
    expect(page.locator(f"#p{last}")).to_have_attribute("aria-selected", "true")
    expect(page.locator(f"#p{last}")).to_be_in_viewport()
    page.keyboard.press(hotkey)
    expect(page.locator(f"#p{last}")).to_have_attribute("data-state", "saved")
    expect(page.locator(f"#p{last} .label-tag")).to_contain_text("Claim")
    page.goto(f"/articles/{pk}#p{last}")
    expect(page.locator("#para-tools")).to_be_in_viewport()
    page.keyboard.press("e")
    page.keyboard.type("the last one")
    page.keyboard.press("Escape")
    expect(page.locator(f"#p{last}")).to_have_attribute("data-state", "saved")
    page.reload()
    expect(page.locator(f"#p{last} .note")).to_have_value("the last one")
    expect(page.locator(f"#p{last - 1} .note")).to_have_count(0)  # none drawn without a note

    print(f"\n{PARAGRAPHS}-paragraph article ({timing['bytes'] / 1024:.0f} KiB HTML): "
          f"HTML received {timing['response']:.0f} ms, DOMContentLoaded {timing['dom']:.0f} ms, "
          f"load {timing['load']:.0f} ms (page.goto wall clock {wall_ms:.0f} ms)")
    print(f"hotkey -> data-state=saved over {LABELS} labels: median "
          f"{statistics.median(latencies):.1f} ms, min {min(latencies):.1f} ms, "
          f"max {max(latencies):.1f} ms")


LONG = 1000  # paragraphs; the page sends the first ARTICLE_HTML_PARAGRAPHS (200) as HTML
HEAD = ["首页 | 新闻 | 科技 | news.example.cn", "当前位置：首页 > 正文"]
TAIL = ["上一篇：城市更新的下一步", "相关阅读：数据中心能耗调查", "发表评论 · 0 条评论",
        "© 2026 news.example.cn 版权所有，未经授权禁止转载"]


def site_articles(tmp_path):
    """A long article and a short one of the same site sharing its furniture (so the import
    suggests boilerplate at both ends, the tail's far past the first screens); one paragraph
    past them holds markup, which must show as text."""
    body = [f"第{i}段：回收率逐年上升 paragraph {i} of the body." for i in range(LONG - len(HEAD) - len(TAIL))]
    body[300 - len(HEAD)] = "<b>not bold</b> &amp; <script>alert(1)</script>"
    records = [{"id": "long-1", "title": "Long", "url": "https://news.example.cn/a/1",
                "meta": {"site": "news.example.cn"}, "paragraphs": HEAD + body + TAIL},
               {"id": "short-1", "title": "Short", "url": "https://news.example.cn/a/2",
                "meta": {"site": "news.example.cn"}, "paragraphs": HEAD + ["正文一段。", "正文二段。"] + TAIL}]
    path = tmp_path / "site.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_long_article_past_its_first_screens(admin_page, live_server, helpers, tmp_path):
    """The paragraphs sent as data work as the others: keyboard moves and labels, notes,
    accept-all, a range to the end, the progress; once drawn, their DOM is the one the server
    draws as HTML (the same page with every paragraph as HTML, compared whole)."""
    page = admin_page
    live_server.cli("import", str(site_articles(tmp_path)), "--project", "site")
    pk = helpers.article_pk(page, "site", "long-1")
    keys = helpers.labels(page, "site")
    page.goto(f"/articles/{pk}")
    assert page.locator("#later-paragraphs").count() == 1
    expect(page.locator(".para")).to_have_count(LONG)  # the rest drawn while the page idles
    assert page.locator("#p300 .para-text").text_content() == "<b>not bold</b> &amp; <script>alert(1)</script>"
    assert page.locator("#p300 b, #p300 script").count() == 0
    suggested = page.eval_on_selector_all(".para[data-suggestion]", "ps => ps.map((p) => p.id)")
    assert f"p{LONG - 1}" in suggested and "p0" in suggested, suggested

    # Across the boundary by keyboard, and a label and a note deep in the article.
    page.goto(f"/articles/{pk}#p199")
    expect(page.locator("#p199")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("j")
    expect(page.locator("#p200")).to_have_attribute("aria-selected", "true")
    page.keyboard.press(keys["claim"])
    expect(page.locator("#p200")).to_have_attribute("data-state", "saved")
    page.goto(f"/articles/{pk}#p750")  # a link into the part sent as data, on a fresh load
    page.reload()
    expect(page.locator("#p750")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#p750")).to_be_in_viewport()
    page.keyboard.press(keys["claim"])
    expect(page.locator("#p750")).to_have_attribute("data-state", "saved")
    expect(page.locator("#p751")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("k")
    page.keyboard.press("e")
    page.keyboard.type("deep <i>note</i>")
    page.keyboard.press("Escape")
    expect(page.locator("#p750")).to_have_attribute("data-state", "saved")

    # Accept-all on a fresh load takes the suggestions of the part not drawn yet too.
    open_ = [p for p in suggested if p not in ("p200", "p750")]
    page.goto(f"/articles/{pk}")
    page.keyboard.press("Shift+A")
    expect(page.locator("#save-banner")).to_contain_text(f"Accepted {len(open_)} suggestions")
    expect(page.locator(f"#p{LONG - 1}")).to_have_attribute("data-state", "saved")
    stored = {p["index"]: p["annotation"] for p in helpers.api_article(page, pk)["paragraphs"]}
    assert {i for i, a in stored.items() if a and a["source"] == "suggestion"} == {
        int(p[1:]) for p in open_}
    assert stored[200]["label"] == "claim" and stored[750]["note"] == "deep <i>note</i>"

    # A range from paragraph 100 to the end, right after a load: every paragraph of it.
    page.goto(f"/articles/{pk}#p100")
    page.reload()
    expect(page.locator("#p100")).to_have_attribute("aria-selected", "true")
    page.keyboard.press(f"Shift+{keys['evidence']}")
    expect(page.locator(f"#p{LONG - 1}")).to_have_attribute("data-state", "saved")
    stored = {p["index"]: p["annotation"] for p in helpers.api_article(page, pk)["paragraphs"]}
    assert all(stored[i] and stored[i]["label"] == "evidence" for i in range(100, LONG))
    labeled = sum(1 for a in stored.values() if a)
    expect(page.locator("#labeled-count")).to_have_text(str(labeled))
    assert helpers.pending(page) == {}

    # The same page with every paragraph as HTML: the same list, element for element.
    page.goto(f"/articles/{pk}#p750")
    page.reload()  # a new hash alone would not load the page again
    expect(page.locator(".para")).to_have_count(LONG)
    drawn = page.inner_html("#paragraphs")
    page.screenshot(path=str(helpers.ARTIFACTS / "long-article-drawn.png"))  # sets style=""
    live_server.stop()
    live_server.env["ANNOTATOR_ARTICLE_HTML_PARAGRAPHS"] = str(LONG)
    live_server.start()
    page.reload()
    assert page.locator("#later-paragraphs").count() == 0
    expect(page.locator("#p750")).to_have_attribute("aria-selected", "true")
    assert page.inner_html("#paragraphs") == drawn


RESUME = 600  # the reader has labeled the paragraphs before this one


def test_a_long_article_opens_where_the_reader_left_off(admin_page, live_server, helpers, tmp_path):
    """The HTML starts 10 paragraphs before the first unlabeled one (the page opens there), the
    paragraphs before and after it sent as data: the page opens at it, draws the others around
    it (keeping it on screen), moves back across the start from the keyboard, and ends with
    the DOM the all-HTML page has."""
    page = admin_page
    live_server.cli("import", str(site_articles(tmp_path)), "--project", "site")
    pk = helpers.article_pk(page, "site", "long-1")
    keys = helpers.labels(page, "site")
    ids = [p["id"] for p in helpers.api_article(page, pk)["paragraphs"]]
    page.goto(f"/articles/{pk}")
    status = page.evaluate("""async ([url, ids]) => (await fetch(url, { method: "POST",
        headers: { "Content-Type": "application/json",
                   "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content },
        body: JSON.stringify({ items: ids.map((id) => ({ paragraph_id: id, label: "other" })) }) })).status""",
                           [f"/api/articles/{pk}/annotations", ids[:RESUME]])
    assert status == 200
    sent = page.request.get(f"/articles/{pk}").text()
    assert sent.count('<li class="para"') == 200 and f'<li class="para" id="p{RESUME - 10}"' in sent
    page.reload()
    expect(page.locator(f"#p{RESUME}")).to_have_attribute("aria-selected", "true")
    expect(page.locator(f"#p{RESUME}")).to_be_in_viewport()
    expect(page.locator(".para")).to_have_count(LONG)  # those before and after drawn at idle
    expect(page.locator(f"#p{RESUME}")).to_be_in_viewport()  # still where it was
    assert page.eval_on_selector_all(".para", "ps => ps.map((p) => p.id)") == [f"p{i}" for i in range(LONG)]
    expect(page.locator("#labeled-count")).to_have_text(str(RESUME))

    # On a fresh load, back across the start of the HTML from the keyboard, before the idle
    # drawing: the paragraph before it is drawn at once, relabeled, and the page moves on.
    page.reload()
    expect(page.locator(f"#p{RESUME}")).to_have_attribute("aria-selected", "true")
    for _ in range(11):
        page.keyboard.press("k")
    expect(page.locator(f"#p{RESUME - 11}")).to_have_attribute("aria-selected", "true")
    expect(page.locator(f"#p{RESUME - 11}")).to_be_in_viewport()
    page.keyboard.press(keys["claim"])
    expect(page.locator(f"#p{RESUME - 11}")).to_have_attribute("data-state", "saved")
    expect(page.locator(f"#p{RESUME}")).to_have_attribute("aria-selected", "true")  # the next unlabeled
    stored = {p["index"]: p["annotation"] for p in helpers.api_article(page, pk)["paragraphs"]}
    assert stored[RESUME - 11]["label"] == "claim" and stored[RESUME - 12]["label"] == "other"
    assert stored[RESUME] is None

    # Drawn around the HTML, the list is the one the all-HTML page has, element for element.
    page.reload()
    expect(page.locator(".para")).to_have_count(LONG)
    drawn = page.inner_html("#paragraphs")
    live_server.stop()
    live_server.env["ANNOTATOR_ARTICLE_HTML_PARAGRAPHS"] = str(LONG)
    live_server.start()
    page.reload()
    assert page.locator("#later-paragraphs").count() == 0
    expect(page.locator(f"#p{RESUME}")).to_have_attribute("aria-selected", "true")
    assert page.inner_html("#paragraphs") == drawn

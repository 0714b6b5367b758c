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

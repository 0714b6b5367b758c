"""The article page with spans (issue 12): a 1,000-paragraph article holding 2,000 of the
reader's spans (and 500 links), in headless Chromium against gunicorn (-c gunicorn.conf.py).

    .venv/bin/python bench/span_article.py [--loads N] [--saves N] [--workdir DIR]

Builds the database once (`flask create-user`, `flask import` of one article of 1,000 mixed
English and Chinese paragraphs, then 2 spans per paragraph and 500 links inserted with sqlite3
for user "spans"; user "plain" has none). Measured, each as a median of N:
- page load: DOMContentLoaded and load (navigation timing), for "spans" (2,000 spans drawn by
  spans.js at start) and "plain" (the same article without any);
- span save: from the span-label hotkey's keydown (captured before the page's handler) to the
  paragraph's `data-span-state` turning "saved" (PUT /api/paragraphs/<id>/spans answered and
  drawn), marking a new span on a paragraph already holding two, one paragraph after another.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
from pathlib import Path

from common import PASSWORD, flask, percentile
from server import Server

PARAGRAPHS, SPANS_PER_PARAGRAPH, LINKS = 1000, 2, 500
CHROMIUM = "/usr/bin/chromium"

PROBE = """() => {
  window.__probe = { keys: [], saved: {} };
  window.addEventListener("keydown", (event) => {
    window.__probe.keys.push({ at: performance.now(), key: event.key,
      id: document.querySelector('.para[aria-selected="true"]')?.id });
  }, true);
  new MutationObserver((records) => {
    for (const record of records) {
      const para = record.target;
      if (para.dataset.spanState === "saved") window.__probe.saved[para.id] = performance.now();
    }
  }).observe(document.getElementById("paragraphs"),
             { subtree: true, attributes: true, attributeFilter: ["data-span-state"] });
}"""


def article_file(path: Path) -> Path:
    paragraphs = [
        f"Paragraph {i + 1}: the council's counters show {i * 7 % 997} trips on corridor "
        f"{i % 13}, up from {i * 3 % 503} a year earlier; 第{i + 1}段：数据显示回收率逐年上升，"
        f"但正规渠道的占比仍然偏低。" for i in range(PARAGRAPHS)]
    path.write_text(json.dumps({"id": "spans-1", "title": "A long article with spans",
                                "paragraphs": paragraphs}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


def build(workdir: Path) -> Path:
    db = workdir / "spans.db"
    if db.exists():
        return db
    for user in ("spans", "plain"):
        flask(db, "create-user", user, "--password-stdin", stdin=PASSWORD + "\n")
    flask(db, "import", str(article_file(workdir / "article.jsonl")), "--project", "spans")
    with sqlite3.connect(db) as conn:
        (user_id,) = conn.execute("SELECT id FROM user WHERE username = 'spans'").fetchone()
        (article_id,) = conn.execute("SELECT id FROM article WHERE article_id = 'spans-1'").fetchone()
        paragraph_ids = [row[0] for row in conn.execute(
            'SELECT id FROM paragraph WHERE article_id = ? ORDER BY "index"', (article_id,))]
        now = "2026-12-01 00:00:00"
        conn.executemany(
            "INSERT INTO span (paragraph_id, user_id, gold, start, \"end\", label, source, created_at)"
            " VALUES (?, ?, 0, ?, ?, ?, 'human', ?)",
            [(pid, user_id, start, end, label, now) for pid in paragraph_ids
             for start, end, label in ((0, 12, "claim"), (14, 40, "evidence"))])
        spans = {pid: span_id for span_id, pid in conn.execute(
            "SELECT id, paragraph_id FROM span WHERE label = 'claim'")}
        evidence = {pid: span_id for span_id, pid in conn.execute(
            "SELECT id, paragraph_id FROM span WHERE label = 'evidence'")}
        conn.executemany(
            "INSERT INTO link (article_id, user_id, gold, from_span_id, to_span_id, relation, created_at)"
            " VALUES (?, ?, 0, ?, ?, 'supports', ?)",
            [(article_id, user_id, evidence[paragraph_ids[i + 1]], spans[paragraph_ids[i]], now)
             for i in range(0, 2 * LINKS, 2)])
    return db


def sign_in(browser, base: str, user: str):
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("form:not(.language-form) button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


TIMING = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return { dom: n.domContentLoadedEventEnd - n.startTime, load: n.loadEventEnd - n.startTime,
           response: n.responseEnd - n.startTime, scripts: n.domContentLoadedEventEnd - n.domInteractive,
           bytes: n.transferSize };
}"""


def measure(base: str, article_pk: int, loads: int, saves: int) -> dict:
    """Page loads of both users, alternating (a busy machine slows both alike), then saves."""
    from playwright.sync_api import expect, sync_playwright
    results: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        pages = {user: sign_in(browser, base, user) for user in ("plain", "spans")}
        timings: dict[str, list[dict]] = {user: [] for user in pages}
        for _ in range(loads):
            for user, page in pages.items():
                page.goto(f"/articles/{article_pk}", wait_until="load")
                expect(page.locator("#p0")).to_have_attribute("aria-selected", "true")
                timings[user].append(page.evaluate(TIMING))
        for user, page in pages.items():
            results[user] = {f"{name}_ms": statistics.median(t[name] for t in timings[user])
                             for name in ("dom", "load", "response", "scripts")}
            results[user]["bytes"] = timings[user][-1]["bytes"]
            results[user]["spans_drawn"] = page.locator("mark.span-first").count()
        results["save"] = save_latency(pages["spans"], saves, expect)
        browser.close()
    return results


def save_latency(page, saves: int, expect) -> dict:
    """Mark a third span (characters 42-52, "claim") on paragraphs 0, 1, ... and time each."""
    page.evaluate(PROBE)
    for index in range(saves):
        page.keyboard.press("s")
        page.keyboard.press("Home")
        for _ in range(42):
            page.keyboard.press("ArrowRight")
        for _ in range(10):
            page.keyboard.press("Shift+ArrowRight")
        page.evaluate("window.__probe.keys = []")
        page.keyboard.press("1")
        expect(page.locator(f"#p{index}")).to_have_attribute("data-span-state", "saved")
        probe = page.evaluate("window.__probe")
        pressed = next(key["at"] for key in probe["keys"] if key["key"] == "1")
        page.evaluate(f"window.__probe.latency = (window.__probe.latency ?? []).concat("
                      f"[window.__probe.saved['p{index}'] - {pressed}])")
        page.keyboard.press("Escape")
        page.keyboard.press("j")
    latencies = page.evaluate("window.__probe.latency")
    return {"p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "max_ms": max(latencies), "n": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=9)
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="span-article-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = build(workdir)
    with sqlite3.connect(db) as conn:
        (article_pk,) = conn.execute("SELECT id FROM article WHERE article_id = 'spans-1'").fetchone()
        conn.execute("DELETE FROM span WHERE start = 42")  # an earlier run's saves
    server = Server(db, workdir / "server.log", workers=2)
    server.start()
    try:
        results = measure(server.base, article_pk, args.loads, args.saves)
    finally:
        server.stop()
    print(json.dumps(results, indent=2))
    plain, spans, save = results["plain"], results["spans"], results["save"]
    print(f"DOMContentLoaded: {spans['dom_ms']:.0f} ms with {spans['spans_drawn']} spans, "
          f"{plain['dom_ms']:.0f} ms without (of which from domInteractive: {spans['scripts_ms']:.0f} / "
          f"{plain['scripts_ms']:.0f} ms); load {spans['load_ms']:.0f} / {plain['load_ms']:.0f} ms; "
          f"page {spans['bytes']:,} / {plain['bytes']:,} bytes")
    print(f"span save (hotkey to saved): p50 {save['p50_ms']:.1f} ms, p95 {save['p95_ms']:.1f} ms, "
          f"max {save['max_ms']:.1f} ms over {save['n']}")


if __name__ == "__main__":
    main()

"""The article page for a long article (issue 11): a 1,500-paragraph article in headless
Chromium against gunicorn (-c gunicorn.conf.py), optionally two code trees side by side.

    .venv/bin/python bench/article_page.py [--paragraphs 1500] [--loads 7] [--saves 30]
        [--resume N] [--tree NAME=DIR ...] [--workdir DIR] [--json]

Each tree (default: this one, as "this"; e.g. `--tree base=/tmp/base --tree this=.` with
`git worktree add --detach /tmp/base <commit>`) gets its own SQLite file, built by its own
`flask` (`create-user`, `flask import` of one jsonl article of mixed English and Chinese
paragraphs of realistic lengths, with site furniture at both ends and a second article of
the same site, so the import's cold suggestions are there as after any import) and its own
gunicorn (2 workers). Page loads alternate between the trees (a busy machine slows both
alike), each a fresh tab; then the saves alternate one by one. Measured:
- HTML: the page's bytes (decoded) and as transferred (compressed, if the server compresses);
- DOM: elements, and Chromium's node count (text nodes too; CDP Performance.getMetrics);
- DOMContentLoaded, and time to interactive: from navigation start to the first key press the
  page handles (label key "1", pressed again and again from the navigation's commit until the
  page's handler takes one: `defaultPrevented` in a window listener after the page's own);
- Chromium's layout, style and script time for the load (Performance.getMetrics);
- with --resume N, each load and the saves start with the reader's first N paragraphs labeled
  (written straight into the database), so the page opens at paragraph N + 1, where the
  reader left off;
- hotkey to saved: the label key's keydown (captured before the page's handler) to the
  paragraph's `data-state` turning "saved", one paragraph after another, with the layout,
  style and script time per save.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import FLASK, GUNICORN, PASSWORD, ROOT, app_env, check, percentile, run_timed
from server import Server
from workload import _boilerplate, _sentence

CHROMIUM = "/usr/bin/chromium"
USER = "reader"
ARTICLE = "long-1"

PROBE = """(() => {
  const probe = window.__probe = { keys: [], saved: {}, interactive: null };
  window.addEventListener("keydown", (event) => {
    probe.keys.push({ at: performance.now(), key: event.key,
      id: document.querySelector('.para[aria-selected="true"]')?.id });
  }, true);
  window.addEventListener("keydown", (event) => { // after the page's own listeners
    if (event.defaultPrevented && probe.interactive === null) probe.interactive = performance.now();
  });
  new MutationObserver((records) => {
    for (const { target } of records) {
      if (target.dataset.state === "saved" && !(target.id in probe.saved)) probe.saved[target.id] = performance.now();
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
})();"""

TIMING = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return { dom_ms: n.domContentLoadedEventEnd - n.startTime, load_ms: n.loadEventEnd - n.startTime,
           response_ms: n.responseEnd - n.startTime, html_bytes: n.decodedBodySize,
           transfer_bytes: n.encodedBodySize, elements: document.getElementsByTagName("*").length,
           interactive_ms: window.__probe.interactive };
}"""

METRICS = ("LayoutDuration", "RecalcStyleDuration", "ScriptDuration", "TaskDuration", "Nodes",
           "LayoutCount", "RecalcStyleCount")


def article_records(paragraphs: int, seed: int = 11) -> list[dict]:
    """One long article (paragraphs: 1-4 sentences each, 70% Chinese, 30% English, furniture
    at both ends) and a short one of the same site sharing its furniture."""
    rng = random.Random(seed)
    site = "news.example.cn"
    head, tail = _boilerplate(site)
    body = [" ".join(_sentence(rng, rng.random() < 0.7) for _ in range(rng.randint(1, 4)))
            for _ in range(paragraphs - len(head) - len(tail))]
    short = [" ".join(_sentence(rng, True) for _ in range(2)) for _ in range(5)]
    return [{"id": ARTICLE, "title": "一篇很长的文章 A long article", "url": f"https://{site}/a/1",
             "meta": {"site": site}, "paragraphs": head + body + tail},
            {"id": "short-1", "title": "短文", "url": f"https://{site}/a/2",
             "meta": {"site": site}, "paragraphs": head + short + tail}]


def tree_env(tree: Path, db: Path) -> dict[str, str]:
    env = app_env(db)
    env["PYTHONPATH"] = str(tree)  # that tree's annotator, templates and static files
    return env


def build(tree: Path, db: Path, paragraphs: int) -> None:
    """The tree's own database (its own migrations), by its own `flask` commands."""
    source = db.with_suffix(".jsonl")
    source.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n"
                              for record in article_records(paragraphs)), encoding="utf-8")
    env = tree_env(tree, db)
    check(run_timed([FLASK, "create-user", USER, "--password-stdin"], env, PASSWORD + "\n", cwd=tree),
          "flask create-user")
    check(run_timed([FLASK, "import", str(source), "--project", "long"], env, cwd=tree), "flask import")


class Tree:
    """One code tree: its database, its gunicorn, its signed-in browser context."""

    def __init__(self, name: str, path: Path, workdir: Path, paragraphs: int, resume: int = 0):
        self.name, self.path, self.resume = name, path.resolve(), resume
        self.db = workdir / f"{name}.db"
        if not self.db.exists():
            build(self.path, self.db, paragraphs)
        with sqlite3.connect(self.db) as conn:
            (self.article_pk,) = conn.execute("SELECT id FROM article WHERE article_id = ?",
                                              (ARTICLE,)).fetchone()
            self.suggestions = conn.execute(
                "SELECT count(*) FROM suggestion JOIN paragraph ON paragraph.id = paragraph_id"
                " WHERE paragraph.article_id = ?", (self.article_pk,)).fetchone()[0]
        self.unlabel()
        self.server = Server(self.db, workdir / f"{name}.log", workers=2)
        self.context = None

    def start(self) -> None:
        self.server.launch([GUNICORN, "-c", "gunicorn.conf.py"],
                           self.path, {**tree_env(self.path, self.db),
                                       "ANNOTATOR_BIND": f"127.0.0.1:{self.server.port}",
                                       "ANNOTATOR_WORKERS": "2"}, 60.0)

    def unlabel(self) -> None:
        """The reader's labels gone but for the first `resume` paragraphs' ("claim", the label
        the bench's key saves: one label, so no model is fitted and the suggestions stay the
        import's in every tree), so every load starts at paragraph resume + 1."""
        with sqlite3.connect(self.db, timeout=30) as conn:
            conn.execute("DELETE FROM annotation")
            conn.execute(
                "INSERT INTO annotation (paragraph_id, user_id, label, source, created_at, updated_at)"
                " SELECT paragraph.id, user.id, 'claim', 'human', datetime('now'), datetime('now')"
                " FROM paragraph, user WHERE user.username = ? AND paragraph.article_id = ?"
                " AND paragraph.\"index\" < ?", (USER, self.article_pk, self.resume))

    @property
    def first(self) -> str:
        """The id of the paragraph the page opens at."""
        return f"p{self.resume}"

    @property
    def url(self) -> str:
        return f"{self.server.base}/articles/{self.article_pk}"


def sign_in(browser, tree: Tree) -> None:
    tree.context = browser.new_context(base_url=tree.server.base, viewport={"width": 1280, "height": 900})
    tree.context.add_init_script(PROBE)
    page = tree.context.new_page()
    page.goto("/login")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("form:not(.language-form) button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.close()


def metrics(cdp) -> dict[str, float]:
    values = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {name: values.get(name, 0.0) for name in METRICS}


def load_once(tree: Tree, expect) -> dict:
    """A fresh tab: load the article, pressing "1" until the page handles it; then wait for
    that paragraph's save and read the timings and Chromium's counters."""
    from playwright.sync_api import Error
    page = tree.context.new_page()
    cdp = tree.context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
    page.goto(tree.url, wait_until="commit")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.keyboard.press("1")
        try:
            if page.evaluate("window.__probe && window.__probe.interactive"):
                break
        except Error:  # the new document's context not there yet: press again
            pass
    expect(page.locator(f"#{tree.first}")).to_have_attribute("data-state", "saved", timeout=30_000)
    page.wait_for_function("performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0")
    result = page.evaluate(TIMING)
    probe = page.evaluate("window.__probe")
    result["first_saved_ms"] = probe["saved"][tree.first]
    counters = metrics(cdp)
    result.update(layout_ms=counters["LayoutDuration"] * 1000,
                  style_ms=counters["RecalcStyleDuration"] * 1000,
                  script_ms=counters["ScriptDuration"] * 1000,
                  task_ms=counters["TaskDuration"] * 1000, nodes=counters["Nodes"],
                  layouts=counters["LayoutCount"])
    page.close()
    tree.unlabel()
    return result


def saves(trees: list[Tree], count: int, expect) -> dict[str, dict]:
    """`count` saves in each tree's page, alternating: "1" on the current paragraph (the page
    then moves to the next unlabeled one), timed from keydown to saved."""
    pages, cdps, before = {}, {}, {}
    for tree in trees:
        page = pages[tree.name] = tree.context.new_page()
        page.goto(tree.url, wait_until="load")
        expect(page.locator(f"#{tree.first}")).to_have_attribute("aria-selected", "true")
        page.keyboard.press("j")  # start a little way in: the toolbar moves, the page scrolls
        cdps[tree.name] = tree.context.new_cdp_session(page)
        cdps[tree.name].send("Performance.enable", {"timeDomain": "threadTicks"})
        before[tree.name] = metrics(cdps[tree.name])
    latencies: dict[str, list[float]] = {tree.name: [] for tree in trees}
    for _ in range(count):
        for tree in trees:
            page = pages[tree.name]
            page.evaluate("window.__probe.keys = []")
            current = page.evaluate("document.querySelector('.para[aria-selected=\"true\"]').id")
            page.keyboard.press("1")
            expect(page.locator(f"#{current}")).to_have_attribute("data-state", "saved")
            probe = page.evaluate("window.__probe")
            pressed = next(key["at"] for key in probe["keys"] if key["key"] == "1")
            latencies[tree.name].append(probe["saved"][current] - pressed)
    results = {}
    for tree in trees:
        after = metrics(cdps[tree.name])
        per = {name: (after[name] - before[tree.name][name]) * 1000 / count
               for name in ("LayoutDuration", "RecalcStyleDuration", "ScriptDuration")}
        values = latencies[tree.name]
        results[tree.name] = {
            "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95), "max_ms": max(values),
            "n": len(values), "layout_ms_per_save": per["LayoutDuration"],
            "style_ms_per_save": per["RecalcStyleDuration"], "script_ms_per_save": per["ScriptDuration"]}
        pages[tree.name].close()
        tree.unlabel()
    return results


def measure(trees: list[Tree], loads: int, save_count: int) -> dict:
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        for tree in trees:
            sign_in(browser, tree)
        runs: dict[str, list[dict]] = {tree.name: [] for tree in trees}
        load_once(trees[0], expect)  # warm-up: Chromium's caches, the servers' first requests
        for _ in range(loads):
            for tree in trees:
                runs[tree.name].append(load_once(tree, expect))
        save_results = saves(trees, save_count, expect)
        browser.close()
    results = {}
    for tree in trees:
        load = {key: statistics.median(run[key] for run in runs[tree.name])
                for key in runs[tree.name][0]}
        results[tree.name] = {"paragraphs": None, "suggestions": tree.suggestions, "load": load,
                              "loads": len(runs[tree.name]), "save": save_results[tree.name]}
    return results


def report(results: dict) -> str:
    names = list(results)
    rows = [("HTML (decoded / transferred)", lambda r: f"{r['load']['html_bytes'] / 1e6:.2f} / "
             f"{r['load']['transfer_bytes'] / 1e6:.2f} MB"),
            ("DOM elements / nodes", lambda r: f"{r['load']['elements']:,.0f} / {r['load']['nodes']:,.0f}"),
            ("HTML received (responseEnd)", lambda r: f"{r['load']['response_ms']:.0f} ms"),
            ("DOMContentLoaded", lambda r: f"{r['load']['dom_ms']:.0f} ms"),
            ("interactive (first hotkey handled)", lambda r: f"{r['load']['interactive_ms']:.0f} ms"),
            ("load: layout / style / script / all main-thread tasks", lambda r: f"{r['load']['layout_ms']:.0f} / "
             f"{r['load']['style_ms']:.0f} / {r['load']['script_ms']:.0f} / {r['load']['task_ms']:.0f} ms"),
            ("hotkey to saved p50 / p95", lambda r: f"{r['save']['p50_ms']:.1f} / {r['save']['p95_ms']:.1f} ms"),
            ("per save: layout / style / script", lambda r: f"{r['save']['layout_ms_per_save']:.1f} / "
             f"{r['save']['style_ms_per_save']:.1f} / {r['save']['script_ms_per_save']:.1f} ms")]
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [f"| {title} | " + " | ".join(cell(results[name]) for name in names) + " |"
              for title, cell in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paragraphs", type=int, default=1500)
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument("--resume", type=int, default=0, metavar="N",
                        help="open each load with the first N paragraphs labeled")
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                        help="a code tree to measure (repeatable); default: this=<this tree>")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true", help="print only the results as JSON")
    args = parser.parse_args(argv)
    specs = [spec.split("=", 1) for spec in args.tree] or [["this", str(ROOT)]]
    if any(len(spec) != 2 for spec in specs):
        parser.error("--tree takes NAME=DIR")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="article-page-"))
    workdir.mkdir(parents=True, exist_ok=True)
    trees = [Tree(name, Path(path), workdir, args.paragraphs, args.resume) for name, path in specs]
    try:
        for tree in trees:
            tree.start()
        results = measure(trees, args.loads, args.saves)
    finally:
        for tree in trees:
            tree.server.stop()
    load_average = os.getloadavg()
    for result in results.values():
        result["paragraphs"] = args.paragraphs
    output = {"trees": results, "load_average": load_average}
    if args.json:
        print(json.dumps(output, indent=2))
    else:
        resumed = f", opened at paragraph {args.resume + 1}" if args.resume else ""
        print(f"{args.paragraphs:,} paragraphs{resumed}; load average {load_average[0]:.1f} "
              f"(1 min) after the run; medians of {args.loads} loads, {args.saves} saves")
        print(report(results))
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

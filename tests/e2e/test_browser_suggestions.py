"""Suggestions and range labels in a real browser: accept one, accept all, undo, label to the end
of the article or of a selection, typing over a suggestion, and suggestions off.

Suggestions are seeded through the admin API (PUT /api/articles/<id>/suggestions), so these
tests do not depend on how good the app's own suggestions are."""
from __future__ import annotations

import json
import random
import re
import sqlite3
import time
from collections import Counter

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

ZH = "demo-zh-battery-recycling"  # 31 paragraphs; the last 9 are site furniture
FURNITURE_FROM = 22


def para(page, index: int):
    return page.locator(f"#p{index}")


def page_fetch(page, method: str, url: str, body: dict) -> dict:
    """A JSON request from the page itself (its session and CSRF token), as api.js sends it."""
    status, data = page.evaluate("""async ([method, url, body]) => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const response = await fetch(url, {method, body: JSON.stringify(body), headers: {
            "Content-Type": "application/json", "X-CSRFToken": token}});
        return [response.status, await response.text()];
    }""", [method, url, body])
    assert status == 200, data
    return data


def open_article(page, pk: int) -> None:
    page.goto(f"/articles/{pk}")
    expect(page.locator('.para[aria-selected="true"]')).to_have_count(1)  # the script runs


def annotations(page, helpers, pk: int) -> dict[int, tuple[str, str]]:
    """index -> (label, source) of the signed-in user's annotations, as the server has them."""
    return {p["index"]: (p["annotation"]["label"], p["annotation"]["source"])
            for p in helpers.api_article(page, pk)["paragraphs"] if p["annotation"]}


def batch_requests(page) -> list[str]:
    """Record "METHOD path" of every request to the article's batch endpoint from now on."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(f"{request.method} {request.url}")
            if re.search(r"/api/articles/\d+/annotations$", request.url) else None)
    return seen


def seed(page, helpers, pk: int, suggestions: dict[int, tuple[str, float]]) -> list[int]:
    """Store suggestions {index: (label, confidence)} as an external model; returns the
    article's paragraph ids by index."""
    ids = [p["id"] for p in helpers.api_article(page, pk)["paragraphs"]]
    page.goto("/")  # any page of the app: its CSRF token
    page_fetch(page, "PUT", f"/api/articles/{pk}/suggestions", {"model": "e2e", "items": [
        {"paragraph_id": ids[index], "label": label, "confidence": confidence,
         "reason": f"seeded for paragraph {index}"}
        for index, (label, confidence) in suggestions.items()]})
    return ids


def clear_app_suggestions(live_server) -> None:
    """Only the seeded suggestions count: drop whatever the app suggested at import."""
    with sqlite3.connect(live_server.database) as connection:
        connection.execute("DELETE FROM suggestion")


def test_accept_one_type_over_one_accept_all_and_undo(admin_page, live_server, demo, helpers):
    page = admin_page
    clear_app_suggestions(live_server)
    hotkeys = helpers.labels(page)
    answers = demo["key"][ZH]
    pk = helpers.article_pk(page, "demo", ZH)
    seed(page, helpers, pk, {0: ("boilerplate", 0.97), 1: ("claim", 0.9), 2: ("boilerplate", 0.85),
                             3: ("boilerplate", 0.8), 4: ("other", 0.6)})
    seen = batch_requests(page)
    open_article(page, pk)

    # Shown as an unfilled suggestion, in words, with the confidence; the reason on demand.
    first = para(page, 0)
    expect(first).to_have_attribute("data-suggestion", "boilerplate")
    expect(first).to_have_attribute("data-label", "")
    expect(first.locator(".suggestion-chip")).to_contain_text("suggested: Ads/Boilerplate 0.97")
    expect(first.locator(".label-button[aria-pressed=true]")).to_have_count(0)
    assert first.evaluate("e => getComputedStyle(e).borderTopStyle") == "dashed"
    expect(first.locator(".suggestion-reason")).to_be_hidden()
    page.keyboard.press("i")
    expect(first.locator(".suggestion-reason")).to_have_text("e2e: seeded for paragraph 0")
    expect(first.locator(".suggestion-reason")).to_be_visible()
    helpers.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(helpers.ARTIFACTS / "article-suggestions.png"))
    expect(para(page, 4).locator(".suggestion")).to_have_count(0)  # 0.6: below the threshold 0.8
    expect(page.locator("#labeled-count")).to_have_text("0")  # a suggestion counts nowhere

    # "a" accepts the current paragraph's suggestion and moves on.
    page.keyboard.press("a")
    expect(first).to_have_attribute("data-label", "boilerplate")
    expect(first).to_have_attribute("data-state", "saved")
    expect(first.locator(".suggestion")).to_be_hidden()
    expect(para(page, 1)).to_have_attribute("aria-selected", "true")
    # Typing a label over a suggestion is an ordinary label.
    page.keyboard.press(hotkeys["evidence"])
    expect(para(page, 1)).to_have_attribute("data-state", "saved")
    assert annotations(page, helpers, pk) == {0: ("boilerplate", "suggestion"),
                                              1: ("evidence", "human")}

    # Shift+A accepts every shown suggestion on an unlabeled paragraph, in one request.
    page.keyboard.press("Shift+A")
    for index in (2, 3):
        expect(para(page, index)).to_have_attribute("data-label", "boilerplate")
        expect(para(page, index)).to_have_attribute("data-state", "saved")
    expect(para(page, 4)).to_have_attribute("data-label", "")
    expect(page.locator("#labeled-count")).to_have_text("4")
    expect(page.locator("#save-banner")).to_have_text("Accepted 2 suggestions (u to undo).")
    assert seen == [f"POST {live_server.url}/api/articles/{pk}/annotations"]
    assert annotations(page, helpers, pk) == {
        0: ("boilerplate", "suggestion"), 1: ("evidence", "human"),
        2: ("boilerplate", "suggestion"), 3: ("boilerplate", "suggestion")}

    # One undo takes the whole batch back, in one request; the suggestions show again.
    page.keyboard.press("u")
    for index in (2, 3):
        expect(para(page, index)).to_have_attribute("data-label", "")
        expect(para(page, index)).to_have_attribute("data-state", "saved")
        expect(para(page, index).locator(".suggestion-chip")).to_be_visible()
    expect(page.locator("#labeled-count")).to_have_text("2")
    assert seen[1:] == [f"DELETE {live_server.url}/api/articles/{pk}/annotations"]
    assert annotations(page, helpers, pk) == {0: ("boilerplate", "suggestion"),
                                              1: ("evidence", "human")}
    assert helpers.pending(page) == {}

    # A note on an accepted suggestion leaves it accepted (source "suggestion").
    first.locator(".para-text").click()
    page.keyboard.press("e")
    page.keyboard.type("menu")
    page.keyboard.press("Escape")
    expect(first).to_have_attribute("data-state", "saved")
    paragraph = helpers.api_article(page, pk)["paragraphs"][0]["annotation"]
    assert (paragraph["label"], paragraph["note"], paragraph["source"]) == (
        "boilerplate", "menu", "suggestion")

    page.reload()  # what was saved is what the page shows
    expect(para(page, 0)).to_have_attribute("data-label", "boilerplate")
    expect(para(page, 2)).to_have_attribute("data-suggestion", "boilerplate")
    expect(para(page, 2)).to_have_attribute("data-label", "")
    assert answers[0] == "boilerplate"


def test_range_label_to_the_end_and_of_a_selection_undoable(admin_page, live_server, demo,
                                                            helpers):
    page = admin_page
    clear_app_suggestions(live_server)
    hotkeys = helpers.labels(page)
    answers = demo["key"][ZH]
    assert set(answers[FURNITURE_FROM:]) == {"boilerplate"} and answers[FURNITURE_FROM - 1] != "boilerplate"
    pk = helpers.article_pk(page, "demo", ZH)
    last = len(answers) - 1
    seen = batch_requests(page)
    open_article(page, pk)

    # The last paragraph had a label (and a note) before the range label.
    para(page, last).click()
    page.keyboard.press(hotkeys["other"])  # and moves on to paragraph 0, the first unlabeled
    para(page, last).locator(".para-text").click()
    page.keyboard.press("e")
    page.keyboard.type("kept")
    page.keyboard.press("Escape")
    expect(para(page, last)).to_have_attribute("data-state", "saved")

    # Two keystrokes label the furniture: go to its first line, Shift+hotkey labels to the end.
    para(page, FURNITURE_FROM).locator(".para-text").click()
    page.keyboard.press(f"Shift+{hotkeys['boilerplate']}")
    for index in range(FURNITURE_FROM, last + 1):
        expect(para(page, index)).to_have_attribute("data-label", "boilerplate")
    expect(para(page, last)).to_have_attribute("data-state", "saved")
    expect(page.locator("#labeled-count")).to_have_text(str(last + 1 - FURNITURE_FROM))
    assert seen == [f"POST {live_server.url}/api/articles/{pk}/annotations"]
    assert annotations(page, helpers, pk) == {
        index: ("boilerplate", "human") for index in range(FURNITURE_FROM, last + 1)}

    # Undo, in one request per kind: the paragraph labeled before gets its label and note back
    # (POST), the others none (DELETE).
    page.keyboard.press("Control+z")
    expect(para(page, last)).to_have_attribute("data-label", "other")
    expect(para(page, last)).to_have_attribute("data-state", "saved")
    expect(para(page, FURNITURE_FROM)).to_have_attribute("data-label", "")
    expect(para(page, FURNITURE_FROM)).to_have_attribute("data-state", "saved")
    expect(page.locator("#labeled-count")).to_have_text("1")
    assert sorted(seen[1:]) == [f"DELETE {live_server.url}/api/articles/{pk}/annotations",
                                f"POST {live_server.url}/api/articles/{pk}/annotations"]
    article = helpers.api_article(page, pk)
    assert {p["index"]: (p["annotation"]["label"], p["annotation"]["note"])
            for p in article["paragraphs"] if p["annotation"]} == {last: ("other", "kept")}

    # A selection: Shift+↓ twice from paragraph 0 selects 0-2; a label key labels the three.
    para(page, 0).locator(".para-text").click()
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    expect(page.locator(".para.in-range")).to_have_count(3)
    page.keyboard.press(hotkeys["boilerplate"])
    expect(page.locator(".para.in-range")).to_have_count(0)
    for index in range(3):
        expect(para(page, index)).to_have_attribute("data-label", "boilerplate")
        expect(para(page, index)).to_have_attribute("data-state", "saved")
    expect(para(page, 3)).to_have_attribute("aria-selected", "true")  # the next unlabeled
    assert len(seen) == 4 and seen[-1] == f"POST {live_server.url}/api/articles/{pk}/annotations"
    assert annotations(page, helpers, pk) == {0: ("boilerplate", "human"), 1: ("boilerplate", "human"),
                                              2: ("boilerplate", "human"), last: ("other", "human")}


def test_batch_saves_wait_and_retry_while_the_server_is_down(admin_page, live_server, demo,
                                                             helpers):
    page = admin_page
    clear_app_suggestions(live_server)
    hotkeys = helpers.labels(page)
    pk = helpers.article_pk(page, "demo", ZH)
    last = len(demo["key"][ZH]) - 1
    open_article(page, pk)
    live_server.stop()
    para(page, FURNITURE_FROM).locator(".para-text").click()
    page.keyboard.press(f"Shift+{hotkeys['boilerplate']}")
    expect(para(page, last)).to_have_attribute("data-state", "failed")
    expect(page.locator("#save-banner")).to_have_text(
        f"{last + 1 - FURNITURE_FROM} changes waiting to be saved; retrying…")
    assert {entry["label"] for entry in helpers.pending(page).values()} == {"boilerplate"}

    live_server.start()
    for index in range(FURNITURE_FROM, last + 1):
        expect(para(page, index)).to_have_attribute("data-state", "saved", timeout=30_000)
    expect(page.locator("#save-banner")).to_have_text("All changes saved.")
    assert helpers.pending(page) == {}
    assert annotations(page, helpers, pk) == {
        index: ("boilerplate", "human") for index in range(FURNITURE_FROM, last + 1)}


def test_suggestions_off_shows_nothing(admin_page, live_server, helpers):
    page = admin_page
    clear_app_suggestions(live_server)
    pk = helpers.article_pk(page, "demo", ZH)
    seed(page, helpers, pk, {0: ("boilerplate", 0.99), 1: ("claim", 0.99)})
    open_article(page, pk)
    expect(page.locator(".para[data-suggestion]")).to_have_count(2)  # on: shown

    project = next(p for p in page.request.get("/api/projects").json() if p["name"] == "demo")
    page.goto(f"/admin/projects/{project['id']}/settings")  # the admin turns them off
    page.get_by_label("Suggestions on").uncheck()
    page.locator("form.card button[type=submit]").first.click()
    page.wait_for_load_state()
    page.goto(f"/admin/projects/{project['id']}/settings")
    expect(page.get_by_label("Suggestions on")).not_to_be_checked()
    open_article(page, pk)
    expect(page.locator(".para[data-suggestion]")).to_have_count(0)
    expect(page.locator(".suggestion")).to_have_count(0)
    expect(page.locator("#accept-all")).to_have_count(0)
    page.keyboard.press("Shift+A")
    page.keyboard.press("a")
    expect(page.locator("#labeled-count")).to_have_text("0")
    assert all(p["suggestion"] is None for p in helpers.api_article(page, pk)["paragraphs"])
    assert all(p["annotation"] is None for p in helpers.api_article(page, pk)["paragraphs"])


# --- keystrokes per paragraph on a generated multi-site project -----------------------------

SITES = [("jiangchuan-daily.cn", True), ("nanfang-tech.com.cn", True), ("citydesk.example.com", False),
         ("harbour-post.example.org", False), ("metro-review.example.net", False)]
CLAIMS = ["We argue that {x} must change before the next election.",
          "The council should stop delaying {x} and act now.",
          "In our view, {x} deserves far more public money than it gets.",
          "It is time to admit that {x} has failed the people it was meant to serve.",
          "我们认为{x}必须在明年之前彻底改革。", "政府应当尽快解决{x}问题，不能再拖。",
          "笔者认为，{x}值得更多的公共投入。", "是时候承认{x}已经辜负了市民的期待。"]
EVIDENCE = ["According to a {n} survey of {m} households, {p}% named {x} as their main worry.",
            "Figures published in {n} show {m} complaints about {x}, up {p}% on the year before.",
            "A study of {m} cities found that {x} cut costs by {p}% within {n2} years.",
            "根据{n}年对{m}户家庭的调查，{p}%的受访者把{x}列为最大的担忧。",
            "{n}年公布的数据显示，有关{x}的投诉达{m}起，同比上升{p}%。",
            "一项覆盖{m}座城市的研究发现，{x}在{n2}年内使成本下降了{p}%。"]
OTHER = ["The hearing was held on a wet Tuesday in the old town hall, next to the {x} office.",
         "Residents gathered outside long before the doors opened, many carrying umbrellas.",
         "听证会在一个下雨的周二举行，地点是老市政厅，紧挨着{x}办公室。",
         "开门之前，居民们早早就在门外排起了长队，很多人打着伞。"]
TOPICS_EN = ["public transport", "housing", "air quality", "the bus network", "school meals",
             "the river clean-up", "bike lanes", "night-time noise"]
TOPICS_ZH = ["公共交通", "住房", "空气质量", "公交线网", "学校午餐", "河道治理", "自行车道", "夜间噪音"]


def keystroke_project(seed: int = 7, learnable_body: bool = True
                      ) -> tuple[list[dict], list[list[str]]]:
    """100 articles over 5 sites (2 Chinese, 3 English) with each site's furniture: a menu and
    share line on top, a dateline, then previous/next teasers, a related and a latest list of
    the site's other titles, a promo and a copyright line; and the answer key of each. The body
    paragraphs follow each label's phrasing (a few templates per label and language), or, not
    `learnable_body`, another label's as often as their own: only the furniture can be learned."""
    rng = random.Random(seed)
    records, keys = [], []
    for site_number, (site, chinese) in enumerate(SITES):
        topics = TOPICS_ZH if chinese else TOPICS_EN
        titles = [(f"{rng.choice(topics)}：第{n}期调查与评论" if chinese
                   else f"{rng.choice(topics).capitalize()}: what issue {n} found") for n in range(20)]
        for number in range(20):
            body = rng.choices(["claim", "evidence", "other"], weights=[3, 3, 2], k=rng.randint(5, 9))
            texts: list[tuple[str, str]] = []
            if chinese:
                texts += [("首页 | 新闻 | 财经 | 科技 | 评论", "boilerplate"),
                          ("分享到：微信 微博 QQ空间", "boilerplate"),
                          (f"{2026 - rng.randint(0, 2)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                           f"来源：{site}", "boilerplate")]
            else:
                texts += [("Home | News | Business | Tech | Opinion", "boilerplate"),
                          ("Share: Facebook · X · Email", "boilerplate"),
                          (f"By Staff Reporter · {rng.randint(1, 28)} March {2026 - rng.randint(0, 2)}",
                           "boilerplate")]
            for label in body:
                phrasing = label if learnable_body else rng.choice(["claim", "evidence", "other"])
                template = rng.choice([t for t in {"claim": CLAIMS, "evidence": EVIDENCE,
                                                   "other": OTHER}[phrasing]
                                       if (any("\u4e00" <= c <= "\u9fff" for c in t)) == chinese])
                texts.append((template.format(x=rng.choice(topics), n=rng.randint(2015, 2025),
                                              n2=rng.randint(2, 9), m=rng.randint(12, 4000),
                                              p=rng.randint(2, 95)), label))
            others = [t for i, t in enumerate(titles) if i != number]
            if chinese:
                texts += [(f"上一篇：{titles[number - 1]}", "boilerplate"),
                          (f"下一篇：{titles[(number + 1) % 20]}", "boilerplate"),
                          ("相关文章", "boilerplate"),
                          *[(t, "boilerplate") for t in rng.sample(others, 4)],
                          ("最新文章", "boilerplate"),
                          *[(t, "boilerplate") for t in rng.sample(others, 4)],
                          (f"关注{site}微信公众号，获取更多本地新闻。", "boilerplate"),
                          (f"版权所有 © 2026 {site} 未经授权禁止转载", "boilerplate")]
            else:
                texts += [(f"Previous: {titles[number - 1]}", "boilerplate"),
                          (f"Next: {titles[(number + 1) % 20]}", "boilerplate"),
                          ("Related articles", "boilerplate"),
                          *[(t, "boilerplate") for t in rng.sample(others, 3)],
                          ("Most read", "boilerplate"),
                          *[(t, "boilerplate") for t in rng.sample(others, 3)],
                          (f"Get the {site} newsletter every Friday morning.", "boilerplate"),
                          (f"© 2026 {site}. All rights reserved.", "boilerplate")]
            records.append({"id": f"s{site_number}-{number}", "title": titles[number],
                            "url": f"https://www.{site}/news/{number}",
                            "paragraphs": [text for text, _ in texts]})
            keys.append([label for _, label in texts])
    order = list(range(len(records)))
    rng.shuffle(order)  # the sites interleave, as a crawl's do
    return [records[i] for i in order], [keys[i] for i in order]


def label_as_a_user_would(page, hotkeys: dict, key: list[str], typed: Counter) -> int:
    """Label the open article to match its answer key from the keyboard, the way a person who
    knows the answer would: accept the shown suggestions, then fix what is wrong or missing
    (j/k to a neighbour, a click further away, Shift+hotkey when the rest is one label).
    Returns the keystrokes (a click counts as one); `typed` counts the labels typed."""
    def state():
        return page.evaluate("""() => [[...document.querySelectorAll('.para')].map(p => p.dataset.label),
            [...document.querySelectorAll('.para')].findIndex(p => p.getAttribute('aria-selected') === 'true')]""")

    strokes = 0
    if page.locator('.para[data-label=""][data-suggestion]').count():
        page.keyboard.press("Shift+A")
        strokes += 1
    for _ in range(3 * len(key)):
        shown, current = state()
        wrong = [i for i, label in enumerate(shown) if label != key[i]]
        if not wrong:
            return strokes
        target = next((i for i in wrong if i >= current), wrong[0])
        if abs(target - current) <= 2:
            for _ in range(abs(target - current)):
                page.keyboard.press("j" if target > current else "k")
                strokes += 1
        else:
            page.locator(f"#p{target} .para-index").click()
            strokes += 1
        rest = key[target:]
        if len(rest) > 1 and len(set(rest)) == 1 and sum(1 for i in wrong if i >= target) > 1:
            page.keyboard.press(f"Shift+{hotkeys[key[target]]}")
        else:
            page.keyboard.press(hotkeys[key[target]])
        strokes += 1
        typed[key[target]] += 1
    raise AssertionError(f"could not reach the answer key: {state()[0]} != {key}")


def bring_suggestions_up_to_date(live_server, project: str, timeout: float = 120) -> str:
    """`flask suggest`, once the server's own background training (started by the labels)
    has let go of the project."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return live_server.cli("suggest", "--project", project)
        except AssertionError as error:
            if "being trained" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.mark.slow
@pytest.mark.parametrize(("learnable_body", "goal"), [(True, 0.3), (False, 0.5)],
                         ids=["body-learnable", "body-random"])
def test_keystrokes_per_paragraph_after_ten_labeled_articles(admin_page, live_server, helpers,
                                                             tmp_path, learnable_body, goal):
    """The issue's goal (<= 0.3) with body text that has its label's phrasing; with body labels
    that cannot be learned, the furniture alone must still save half the keystrokes (measured
    0.45: a wrong body suggestion accepted with the rest costs a move and a key to fix)."""
    page = admin_page
    records, keys = keystroke_project(learnable_body=learnable_body)
    source = tmp_path / "sites.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                      encoding="utf-8")
    live_server.cli("import", str(source), "--project", "sites")
    hotkeys = helpers.labels(page, "sites")
    project = next(p for p in page.request.get("/api/projects").json() if p["name"] == "sites")
    items = page.request.get(f"/api/projects/{project['id']}/articles?limit=1000").json()["items"]
    pks = [item["id"] for item in items]  # import order, as the records
    assert len(pks) == 100

    page.goto("/")
    for pk, key in zip(pks[:10], keys[:10]):  # the first ten labeled by hand, all at once
        ids = [p["id"] for p in helpers.api_article(page, pk)["paragraphs"]]
        page_fetch(page, "POST", f"/api/articles/{pk}/annotations", {"items": [
            {"paragraph_id": i, "label": label} for i, label in zip(ids, key)]})
    print(bring_suggestions_up_to_date(live_server, "sites"))

    strokes = paragraphs = 0
    typed: Counter = Counter()
    started = time.monotonic()
    for pk, key in zip(pks[10:], keys[10:]):
        open_article(page, pk)
        strokes += label_as_a_user_would(page, hotkeys, key, typed)
        paragraphs += len(key)
        expect(page.locator('.para[data-state="pending"], .para[data-state="failed"]')).to_have_count(0)
    elapsed = time.monotonic() - started
    for pk, key in zip(pks[10:], keys[10:]):
        assert [p["annotation"]["label"] for p in helpers.api_article(page, pk)["paragraphs"]] == key
    per_paragraph = strokes / paragraphs
    print(f"\nkeystrokes: {strokes} for {paragraphs} paragraphs of 90 articles = "
          f"{per_paragraph:.3f} per paragraph (today 1.0); labels typed {dict(typed)} of "
          f"{dict(Counter(label for key in keys[10:] for label in key))}; {elapsed:.0f} s in Chromium")
    assert per_paragraph <= goal

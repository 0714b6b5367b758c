"""Spans and links in the article view, in Chromium: from the keyboard (span mode, the link
picker), through the offline save queue, and with offsets exact in every script (the DOM's
highlighted text against the stored text[start:end])."""
from __future__ import annotations

import json
import re
import sqlite3

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None

ZH = "demo-zh-battery-recycling"
CLAIM_P, EVIDENCE_P = 9, 10  # 小作坊能“抢”走电池，根源在于…  /  “我们要承担环保设施…”
CLAIM_TEXT = "根源在于正规企业在收购价格上缺乏竞争力，"
EVIDENCE_TEXT = "“我们要承担环保设施、检测和税费，收购价最多给到每吨一万二千元，小作坊却能给到一万五千元。”"
# Keys to mark a claim span on the claim paragraph, an evidence span on the next and link them
# (evidence supports claim), starting on the claim paragraph.
PAIR_KEYS = ["s", "Control+ArrowRight", "Shift+Control+ArrowRight", "1",  # claim: the 2nd clause
             "j", "s", *["Shift+Control+ArrowRight"] * 4, "2",  # evidence: the quote, 4 clauses
             "l", "1"]  # link: the picker's first claim, relation supports (the default)


def open_article(page, pk: int, index: int = 0) -> None:
    page.goto(f"/articles/{pk}#p{index}")
    expect(page.locator(f"#p{index}")).to_have_attribute("aria-selected", "true")


def highlighted(page, index: int) -> list[tuple[str, str]]:
    """(label, text) of each span the browser shows in a paragraph, by unit key order."""
    return [tuple(pair) for pair in page.evaluate("""(index) => {
      const texts = new Map();
      for (const mark of document.querySelectorAll(`#p${index} .para-text mark.span-mark`)) {
        texts.set(mark.dataset.unit, (texts.get(mark.dataset.unit) ?? "") + mark.textContent);
      }
      return [...texts].map(([unit, text]) => [unit.split(":")[3], text]);
    }""", index)]


def stored(page, helpers, pk: int) -> tuple[dict[int, list[dict]], list[dict], dict[int, dict]]:
    """The signed-in user's spans by paragraph index, links, and paragraphs by id (API)."""
    article = helpers.api_article(page, pk)
    by_id = {p["id"]: p for p in article["paragraphs"]}
    return ({p["index"]: p["spans"] for p in article["paragraphs"] if p["spans"]}, article["links"],
            by_id)


def press_all(page, keys: list[str]) -> int:
    for key in keys:
        page.keyboard.press(key)
    return len(keys)


def expect_pair_shown(page) -> None:
    claim = page.locator(f"#p{CLAIM_P} mark.span-first[data-label=claim]")
    expect(claim).to_have_attribute("data-name", "Claim")
    expect(page.locator(f"#p{EVIDENCE_P} mark.span-first[data-label=evidence]")).to_have_attribute(
        "data-name", "Evidence")
    assert highlighted(page, CLAIM_P) == [("claim", CLAIM_TEXT)]
    assert highlighted(page, EVIDENCE_P) == [("evidence", EVIDENCE_TEXT)]
    # the label is shown in words before the span's text, not by colour alone
    before = claim.evaluate("(el) => getComputedStyle(el, '::before').content")
    assert "Claim" in before, before


def expect_pair_stored(page, helpers, pk: int) -> None:
    spans, links, by_id = stored(page, helpers, pk)
    claim, evidence = by_id_index(by_id, CLAIM_P), by_id_index(by_id, EVIDENCE_P)
    assert [(s["label"], claim["text"][s["start"]:s["end"]]) for s in spans[CLAIM_P]] == [
        ("claim", CLAIM_TEXT)]
    assert [(s["label"], evidence["text"][s["start"]:s["end"]]) for s in spans[EVIDENCE_P]] == [
        ("evidence", EVIDENCE_TEXT)]
    assert [(link["from"], link["to"], link["relation"]) for link in links] == [
        ({"span_id": spans[EVIDENCE_P][0]["id"]}, {"span_id": spans[CLAIM_P][0]["id"]}, "supports")]


def by_id_index(by_id: dict[int, dict], index: int) -> dict:
    return next(p for p in by_id.values() if p["index"] == index)


def test_mark_and_link_a_claim_and_evidence_from_the_keyboard(admin_page, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", ZH)
    open_article(page, pk, CLAIM_P)

    keystrokes = press_all(page, PAIR_KEYS[:4])
    expect(page.locator(f"#p{CLAIM_P}")).to_have_attribute("data-span-state", "saved")
    assert highlighted(page, CLAIM_P) == [("claim", CLAIM_TEXT)]
    keystrokes += press_all(page, PAIR_KEYS[4:-2])
    expect(page.locator(f"#p{EVIDENCE_P}")).to_have_attribute("data-span-state", "saved")
    keystrokes += press_all(page, PAIR_KEYS[-2:-1])
    picker = page.locator("#link-picker")
    expect(picker).to_be_visible()
    expect(picker.locator("[role=option]").first).to_contain_text(CLAIM_TEXT)
    expect(picker.locator(".relation-button[aria-pressed=true]")).to_contain_text("Supports")
    keystrokes += press_all(page, PAIR_KEYS[-1:])
    expect(picker).to_be_hidden()
    expect(page.locator("#links-state")).to_have_attribute("data-state", "saved")
    # the current unit (the evidence span) says what it supports
    expect(page.locator("#unit-links")).to_contain_text(f"Supports: ¶{CLAIM_P + 1} [Claim]")
    assert keystrokes == len(PAIR_KEYS) == 13
    print(f"\nkeystrokes to mark and link one claim-evidence pair: {keystrokes}")
    assert helpers.pending(page) == {}
    expect_pair_stored(page, helpers, pk)

    page.reload()
    expect(page.locator(f"#p{CLAIM_P}")).to_have_attribute("aria-selected", "true")
    expect_pair_shown(page)
    # on the claim paragraph, Tab selects its span, which shows what supports it
    page.keyboard.press("s")
    page.keyboard.press("Tab")
    expect(page.locator("#span-status")).to_contain_text(f"Claim “{CLAIM_TEXT}”")
    expect(page.locator("#unit-links")).to_contain_text(f"Supports this: ¶{EVIDENCE_P + 1} [Evidence]")
    page.screenshot(path=str(helpers.ARTIFACTS / "article-spans.png"))


def test_spans_and_links_made_offline_arrive_once_online(admin_page, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", ZH)
    open_article(page, pk, CLAIM_P)
    page.context.set_offline(True)
    press_all(page, PAIR_KEYS)
    expect(page.locator(f"#p{CLAIM_P}")).to_have_attribute("data-span-state", "failed")
    expect(page.locator(f"#p{EVIDENCE_P}")).to_have_attribute("data-span-state", "failed")
    expect(page.locator("#links-state")).to_have_attribute("data-state", "failed")
    expect(page.locator("#save-banner")).to_contain_text("3 changes waiting to be saved")
    expect_pair_shown(page)  # shown while waiting
    kept = helpers.pending(page)
    assert sorted(kept) == sorted([f"spans-{by_index(page, CLAIM_P)}", f"spans-{by_index(page, EVIDENCE_P)}",
                                   f"links-{pk}"]), kept
    # the link names the not-yet-stored spans by what they are, not by an id
    link = kept[f"links-{pk}"]["links"][0]
    assert link["from"]["label"] == "evidence" and link["to"]["label"] == "claim"
    assert link["relation"] == "supports"

    page.context.set_offline(False)
    expect(page.locator("#links-state")).to_have_attribute("data-state", "saved", timeout=15_000)
    expect(page.locator(f"#p{CLAIM_P}")).to_have_attribute("data-span-state", "saved")
    expect(page.locator("#save-banner")).to_have_text("All changes saved.")
    assert helpers.pending(page) == {}
    expect_pair_stored(page, helpers, pk)


def by_index(page, index: int) -> str:
    return page.locator(f"#p{index}").get_attribute("data-paragraph-id")


def test_removing_a_span_and_a_link_from_the_keyboard(admin_page, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", ZH)
    open_article(page, pk, CLAIM_P)
    press_all(page, PAIR_KEYS)
    expect(page.locator("#links-state")).to_have_attribute("data-state", "saved")

    # the picker from the evidence span: the linked claim says so; Delete removes the link
    page.keyboard.press("l")
    option = page.locator("#link-picker [role=option]").first
    expect(option.locator(".link-state")).to_have_text("linked: Supports")
    page.keyboard.press("Delete")
    expect(option.locator(".link-state")).to_have_text("")
    page.keyboard.press("Escape")
    expect(page.locator("#link-picker")).to_be_hidden()
    expect(page.locator("#links-state")).to_have_attribute("data-state", "saved")
    assert stored(page, helpers, pk)[1] == []
    expect(page.locator("#unit-links")).to_be_hidden()

    # link again, with "attacks" chosen by its key and the claim by the arrows and Enter, then
    # remove the claim span: its link goes
    press_all(page, ["l", "x", "ArrowDown", "ArrowUp", "Enter"])
    expect(page.locator("#unit-links")).to_contain_text("Attacks: ")
    expect(page.locator("#links-state")).to_have_attribute("data-state", "saved")
    assert [link["relation"] for link in stored(page, helpers, pk)[1]] == ["attacks"]
    press_all(page, ["Escape", "k", "s", "Tab", "Delete"])
    expect(page.locator(f"#p{CLAIM_P} mark.span-mark")).to_have_count(0)
    expect(page.locator(f"#p{CLAIM_P}")).to_have_attribute("data-span-state", "saved")
    expect(page.locator("#links-state")).to_have_attribute("data-state", "saved")
    spans, links, _ = stored(page, helpers, pk)
    assert CLAIM_P not in spans and links == []
    assert helpers.pending(page) == {}


UNICODE = [
    "Family 👩\u200d👩\u200d👧 and cafe\u0301 here",  # a ZWJ emoji sequence, a combining mark
    "Ext B: 𠀋 and 𠀌𠀍 end",  # CJK Extension B: one code point, two UTF-16 units each
    "שָׁלוֹם עוֹלָם, مَرْحَبًا",  # RTL with niqqud and harakat
    "全角标点：（括号）「引号」！ＡＢＣ１２３？",  # full-width punctuation and forms
    "Snap: 𠀋x👩\u200d👩\u200d👧y e\u0301z",  # for selections that split a character
    "Plain words to drag across here.",
]


def unicode_article(page, live_server, helpers, tmp_path) -> int:
    path = tmp_path / "unicode.jsonl"
    path.write_text(json.dumps({"id": "uni-1", "title": "Every script", "paragraphs": UNICODE},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    live_server.cli("import", str(path), "--project", "unicode")
    return helpers.article_pk(page, "unicode", "uni-1")


def expect_round_trip(page, helpers, pk: int, wanted: dict[int, list[tuple[str, str]]]) -> None:
    """Every paragraph's spans: the stored text[start:end] is what was meant and what the browser
    highlights."""
    for index in wanted:
        expect(page.locator(f"#p{index}")).to_have_attribute("data-span-state", "saved")
    spans, _, by_id = stored(page, helpers, pk)
    for index, expected in wanted.items():
        text = by_id_index(by_id, index)["text"]
        assert text == UNICODE[index]
        server = sorted((s["label"], text[s["start"]:s["end"]]) for s in spans[index])
        assert server == sorted(expected), (index, server)
        assert sorted(highlighted(page, index)) == sorted(expected), index


def test_offsets_round_trip_in_every_script(admin_page, live_server, helpers, tmp_path):
    page = admin_page
    pk = unicode_article(page, live_server, helpers, tmp_path)
    open_article(page, pk, 0)

    def right(n: int, shift: bool = False) -> list[str]:
        return [("Shift+ArrowRight" if shift else "ArrowRight")] * n

    # one grapheme each: the emoji sequence (5 code points), e + U+0301 inside "café"
    press_all(page, ["s", *right(7), *right(1, True), "1", *right(5), *right(4, True), "2", "Escape", "j"])
    press_all(page, ["s", *right(7), *right(1, True), "1", *right(5), *right(2, True), "2", "Escape", "j"])
    # RTL: by word, forwards from the start and backwards from the end
    press_all(page, ["s", "Shift+Control+ArrowRight", "1", "End", "Shift+Control+ArrowLeft", "2", "Escape", "j"])
    # a claim over the whole paragraph, evidence nested inside it
    press_all(page, ["s", "Shift+End", "1", "Home", *right(5), *right(4, True), "2", "Escape"])
    expect_round_trip(page, helpers, pk, {
        0: [("claim", "👩\u200d👩\u200d👧"), ("evidence", "cafe\u0301")],
        1: [("claim", "𠀋"), ("evidence", "𠀌𠀍")],
        2: [("claim", "שָׁלוֹם"), ("evidence", "مَرْحَبًا")],
        3: [("claim", UNICODE[3]), ("evidence", "（括号）")],
    })
    # nested: the evidence's mark sits inside the claim's
    expect(page.locator("#p3 mark[data-label=claim] mark[data-label=evidence]")).to_have_count(1)

    page.reload()  # drawn again from the server's offsets
    expect(page.locator("#p0")).to_have_attribute("aria-selected", "true")
    for index, pair in {0: "👩\u200d👩\u200d👧", 1: "𠀌𠀍", 3: "（括号）"}.items():
        expect(page.locator(f"#p{index} mark.span-mark").first).to_be_attached()  # drawn near the screen
        assert pair in dict(highlighted(page, index)).values()


SELECT = """([index, fromText, fromOffset, toText, toOffset]) => {
  // a selection from character `fromOffset` (UTF-16) of the text node holding `fromText`
  const para = document.querySelector(`#p${index} .para-text`);
  const walker = document.createTreeWalker(para, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node);
  const find = (text) => nodes.find((node) => node.data.includes(text));
  const [start, end] = [find(fromText), find(toText)];
  window.getSelection().setBaseAndExtent(start, start.data.indexOf(fromText) + fromOffset,
                                         end, end.data.indexOf(toText) + toOffset);
  para.dispatchEvent(new MouseEvent("mouseup", { bubbles: true }));
}"""


def test_a_mouse_selection_snaps_to_whole_characters(admin_page, live_server, helpers, tmp_path):
    page = admin_page
    pk = unicode_article(page, live_server, helpers, tmp_path)
    open_article(page, pk, 0)
    # from inside 𠀋's surrogate pair to inside the emoji sequence (after its first woman + ZWJ)
    page.evaluate(SELECT, [4, "𠀋", 1, "👩", 3])
    expect(page.locator("#p4")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#span-status")).to_contain_text("Selected: “𠀋x👩\u200d👩\u200d👧”")
    page.keyboard.press("1")
    # from between e and its combining accent
    page.keyboard.press("Escape")
    page.evaluate(SELECT, [4, "e\u0301z", 1, "e\u0301z", 3])
    page.keyboard.press("2")

    # a real drag with the mouse, from the middle of "w" of "words" to that of "a" of "drag"
    boxes = page.evaluate("""() => {
      const node = document.querySelector("#p5 .para-text").firstChild;
      const at = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                          const b = r.getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; };
      return [at(6), at(17)];
    }""")
    page.mouse.move(*boxes[0])
    page.mouse.down()
    page.mouse.move(*boxes[1], steps=5)
    page.mouse.up()
    expect(page.locator("#p5")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("2")
    expect(page.locator("#p5")).to_have_attribute("data-span-state", "saved")
    spans = stored(page, helpers, pk)[0]
    dragged = [UNICODE[5][s["start"]:s["end"]] for s in spans[5]]
    assert len(dragged) == 1 and "ords to dr" in dragged[0], dragged
    assert highlighted(page, 5) == [("evidence", dragged[0])]
    # in span mode a click puts the caret before the character clicked: "across", by the keys
    at = page.evaluate("""() => {
      const walker = document.createTreeWalker(document.querySelector("#p5 .para-text"), NodeFilter.SHOW_TEXT);
      let node = walker.nextNode();
      while (!node.data.includes("across")) node = walker.nextNode();
      const r = document.createRange(); const i = node.data.indexOf("across");
      r.setStart(node, i); r.setEnd(node, i + 1);
      const b = r.getBoundingClientRect(); return [b.x + b.width / 4, b.y + b.height / 2];
    }""")
    page.mouse.click(*at)
    press_all(page, ["Shift+Control+ArrowRight", "1"])
    expect(page.locator("#p5 mark[data-label=claim]")).to_have_text("across")
    expect_round_trip(page, helpers, pk, {4: [("claim", "𠀋x👩\u200d👩\u200d👧"), ("evidence", "e\u0301z")],
                                          5: [("evidence", dragged[0]), ("claim", "across")]})


def test_a_span_the_server_refuses_says_why_and_goes(admin_page, live_server, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", ZH)
    open_article(page, pk, CLAIM_P)
    with sqlite3.connect(live_server.database) as conn:  # removed since the page was loaded
        conn.execute("DELETE FROM span_label WHERE key = 'evidence'")
    press_all(page, ["s", "Shift+Control+ArrowRight", "2"])
    expect(page.locator(f"#p{CLAIM_P}")).to_have_attribute("data-span-state", "rejected")
    expect(page.locator("#save-banner")).to_contain_text("The server refused a change")
    expect(page.locator("#save-banner")).to_contain_text("evidence")
    expect(page.locator(f"#p{CLAIM_P} mark.span-mark")).to_have_count(0)  # the server's spans again
    assert helpers.pending(page) == {}
    assert stored(page, helpers, pk)[0] == {}


def test_offsets_module_counts_code_points_and_finds_stops(admin_page, demo, helpers):
    page = admin_page
    open_article(page, helpers.article_pk(page, "demo", ZH))
    clause = demo["articles"][ZH]["paragraphs"][CLAIM_P]  # all BMP: UTF-16 index = code point
    found = page.evaluate("""async (clause) => {
      const o = await import("/static/js/offsets.js");
      const family = "a👩\\u200d👩\\u200d👧b";
      return {
        points: [0, 1, 3, 9, 10].map((i) => o.toCodePoint(family, i)),
        units: [0, 1, 2, 6, 7].map((p) => o.toUtf16(family, p)),
        graphemes: o.graphemeStops("e\\u0301x𠀋"),
        snapped: o.snap("a𠀋b", 2, 3),
        english: o.wordStops("Hello big world"),
        chinese: o.wordStops(clause).forward,
        quote: o.wordStops("他说：“好。”然后走了").forward,
      };
    }""", clause)
    assert found["points"] == [0, 1, 2, 6, 7]  # the emoji sequence is 5 code points, 8 units
    assert found["units"] == [0, 1, 3, 9, 10]
    assert found["graphemes"] == [0, 2, 3, 5]  # e + U+0301 one step, 𠀋 one step
    assert found["snapped"] == [1, 3]  # a start inside 𠀋's surrogate pair moves before it
    assert found["english"] == {"forward": [5, 9, 15], "backward": [0, 6, 10]}
    assert found["chinese"] == sorted({i + 1 for i, c in enumerate(clause) if c in "，。"} | {len(clause)})
    assert found["quote"] == [3, 7, 11]  # after "：", after "。" and the quote it closes, the end


def test_spans_and_links_kept_across_a_reload_while_the_server_refuses_them(admin_page, helpers):
    page = admin_page
    pk = helpers.article_pk(page, "demo", ZH)
    open_article(page, pk, CLAIM_P)
    down = re.compile(r"/api/(paragraphs/\d+/spans|articles/\d+/links)$")
    page.route(down, lambda route: route.fulfill(status=503, body="{}"))  # the saves fail
    press_all(page, PAIR_KEYS)
    expect(page.locator("#links-state")).to_have_attribute("data-state", "failed")
    assert len(helpers.pending(page)) == 3

    page.reload()  # drawn from the browser's queue, shown as waiting
    expect(page.locator(f"#p{CLAIM_P}")).to_have_attribute("aria-selected", "true")
    expect(page.locator(f"#p{CLAIM_P}")).to_have_attribute("data-span-state", "failed")
    expect_pair_shown(page)
    expect(page.locator("#links-state")).to_have_attribute("data-state", "failed")
    page.keyboard.press("j")  # the evidence paragraph; its span, by Tab, shows the kept link
    press_all(page, ["s", "Tab"])
    expect(page.locator("#unit-links")).to_contain_text(f"Supports: ¶{CLAIM_P + 1} [Claim]")
    assert stored(page, helpers, pk)[:2] == ({}, [])

    page.unroute(down)  # the server answers again: the retries deliver spans, then the link
    expect(page.locator("#links-state")).to_have_attribute("data-state", "saved", timeout=20_000)
    expect(page.locator(f"#p{CLAIM_P}")).to_have_attribute("data-span-state", "saved")
    assert helpers.pending(page) == {}
    expect_pair_stored(page, helpers, pk)

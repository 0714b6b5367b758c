"""Cold suggestions (no labels yet): repeated furniture and teasers across a site, page
structure of HTML imports, text shape of txt imports; body paragraphs are left alone."""
from __future__ import annotations

import json
import math
import random

from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Article, Paragraph, Suggestion
from annotator.services.formats.html import html_page
from annotator.services.importing import Source, import_sources
from annotator.services.suggestions import store_suggestions
from annotator.suggest.signals import (Seen, Titles, context_probabilities, context_vectors,
                                       outside_run, own_headline, repetition_confidence,
                                       running_text, score_article, shape_probability, vectors)
from annotator.suggest.structure import mark_extracted

from helpers import import_articles

EN = ("the council said the new plan would cut travel times across the city while critics "
      "argued that the budget was far too small for what it promised to deliver").split()
PROMO = ("Sign up for our weekly newsletter and get the best of our reporting on the city, "
         "its politics and its people delivered to your inbox every Friday morning.")
ZH = "市政府表示新的交通计划将缩短全市通勤时间但批评者认为预算远远不够实现承诺的目标".replace("", " ").split()


def body_paragraph(rng: random.Random, chinese: bool) -> str:
    """A body paragraph: two or three sentences of running text, different every time."""
    if chinese:
        return "".join("".join(rng.choices(ZH, k=rng.randint(18, 30))) + "。"
                       for _ in range(rng.randint(2, 3)))
    return " ".join(" ".join(rng.choices(EN, k=rng.randint(12, 20))).capitalize() + "."
                    for _ in range(rng.randint(2, 3)))


def site_articles(site: str, count: int, chinese: bool, seed: int) -> list[dict]:
    """Articles of one site: a menu and a share line on top, a body, then a teaser of the
    previous article and the site's copyright line."""
    rng = random.Random(seed)
    titles = [f"{site} story {number}: " + " ".join(rng.choices(EN, k=5)) if not chinese
              else f"第{number}篇报道：" + "".join(rng.choices(ZH, k=10)) for number in range(count)]
    records = []
    for number in range(count):
        furniture_top = (["首页 | 新闻 | 科技 | 财经", "分享"] if chinese
                         else ["Home | World | Business | Tech", "Share"])
        teaser = [("上一篇：" if chinese else "") + titles[number - 1]] if number else []
        records.append({
            "id": f"{site}-{number}", "title": titles[number], "url": f"https://www.{site}/{number}",
            "paragraphs": furniture_top + [titles[number]]
            + [body_paragraph(rng, chinese) for _ in range(rng.randint(4, 7))] + [PROMO]
            + teaser + [f"© 2026 {site}. All rights reserved."]})
    return records


def suggestions_by_text(app, site: str) -> dict[str, list[tuple[str, float, str]]]:
    """Every paragraph text of the site's articles, with the suggestions stored for it."""
    with app.app_context():
        rows = db.session.execute(
            select(Paragraph.text, Suggestion.label, Suggestion.confidence, Suggestion.reason)
            .join(Article, Article.id == Paragraph.article_id)
            .outerjoin(Suggestion, Suggestion.paragraph_id == Paragraph.id)
            .where(Article.site == site))
        out: dict[str, list] = {}
        for text, label, confidence, reason in rows:
            out.setdefault(text, []).append(label and (label, confidence, reason))
        return out


def imported(app, source: Source, *columns) -> list:
    """Import one file; each paragraph's text and `columns` of its suggestion, in order."""
    with app.app_context():
        report = import_sources(db.session, "pages", [source])
        assert report.stored, report.errors
        return db.session.execute(
            select(Paragraph.text, *columns)
            .outerjoin(Suggestion, Suggestion.paragraph_id == Paragraph.id)
            .order_by(Paragraph.article_id, Paragraph.index)).all()


def test_repeated_furniture_and_teasers_suggested_with_reasons_and_bodies_not(app):
    records = (site_articles("example.com", 6, False, 1) + site_articles("news.example.cn", 5, True, 2)
               + site_articles("other.org", 1, False, 3))
    report = import_articles(app, "multi", records)
    assert report.suggested > 0

    english = suggestions_by_text(app, "example.com")
    for furniture in ("Home | World | Business | Tech", "Share", "© 2026 example.com. All rights reserved."):
        got = english[furniture]
        assert len(got) == 6 and all(s and s[0] == "boilerplate" and s[1] >= 0.8 for s in got), got
        assert all(s[2] == "same text on 6 pages of example.com" for s in got), got
    titles = [record["title"] for record in records[:6]]
    for title in titles[:-1]:  # the next article's teaser of it; its own headline stays body
        got = english[title]
        assert len(got) == 2, got
        shown = [s for s in got if s and s[1] >= 0.8]  # shown at the default threshold
        assert len(shown) == 1, got
        teaser = shown[0]
        assert teaser[0] == "boilerplate" and teaser[1] >= 0.8
        assert teaser[2] == f"title of another article: {title}"
    chinese = suggestions_by_text(app, "news.example.cn")
    assert all(s and s[1] >= 0.8 for s in chinese["分享"])
    teasers = [text for text in chinese if text.startswith("上一篇：")]
    assert len(teasers) == 4
    for text in teasers:
        assert chinese[text][0][2].startswith("title of another article: 第"), chinese[text]

    bodies = [text for site in (english, chinese) for text in site
              if text.endswith((".", "。")) and len(text) > 60 and text != PROMO
              and "rights" not in text]
    assert len(bodies) > 40
    for text in bodies:
        assert all(s is None or s[1] < 0.8 for s in english.get(text, chinese.get(text))), text

    lone = suggestions_by_text(app, "other.org")["Share"]  # one page: nothing repeats there
    assert len(lone) == 1 and (lone[0] is None or "same text" not in lone[0][2]), lone


def test_older_articles_get_suggestions_when_their_text_starts_repeating(app):
    records = site_articles("example.com", 5, False, 4)
    import_articles(app, "grow", records[:2])
    before = suggestions_by_text(app, "example.com")
    # on two pages: not yet furniture (and it reads like body text)
    assert all(s is None or s[1] < 0.8 for s in before[PROMO]), before[PROMO]
    import_articles(app, "grow", records[2:])
    after = suggestions_by_text(app, "example.com")
    assert len(after[PROMO]) == 5
    assert all(s and s[1] >= 0.8 and s[2] == "same text on 5 pages of example.com"
               for s in after[PROMO]), after[PROMO]
    # the first article's title became a teaser when the second article was imported with it
    assert [s[2] for s in after[records[0]["title"]] if s and s[1] >= 0.8] == [
        f"title of another article: {records[0]['title']}"]


def test_a_stronger_suggestion_of_a_model_is_not_overwritten_by_the_cold_one(app):
    records = site_articles("example.com", 4, False, 5)
    import_articles(app, "kept", records[:2])
    with app.app_context():
        share = db.session.scalars(select(Paragraph.id).where(Paragraph.text == "Share")).all()
        store_suggestions(db.session, [{"paragraph_id": pk, "label": "other", "confidence": 0.6,
                                        "reason": "mine", "model": "my-model"} for pk in share])
        db.session.commit()
    import_articles(app, "kept", records[2:])
    got = suggestions_by_text(app, "example.com")["Share"]
    assert sorted(s[0] for s in got) == ["boilerplate", "boilerplate", "other", "other"], got


def test_html_structure_a_footer_link_list_is_suggested_and_the_article_text_is_not(app):
    rng = random.Random(9)
    bodies = [body_paragraph(rng, False) for _ in range(5)]
    page = ("<html><head><title>One page</title></head><body><article><h1>One page</h1>"
            + "".join(f"<p>{text}</p>" for text in bodies)
            + "</article><footer class='siteFooter'><ul class='footer-links'>"
            + "".join(f"<li><a href='/{n}'>Section {n}</a></li>" for n in range(6))
            + "</ul></footer></body></html>")
    _, _, structure = html_page(page)
    assert structure[-1] == {"path": "html>body>footer>ul>li", "in": ["footer"],
                             "words": ["footer", "links", "site"], "link": 1.0, "extracted": 0}
    assert [seen["extracted"] for seen in structure[1:6]] == [1] * 5  # readability: the body
    assert len(json.dumps(structure[-1])) < 300
    with app.app_context():
        report = import_sources(db.session, "pages", [Source("page.html", page.encode(), "html")])
        assert report.stored, report.errors
        rows = db.session.execute(
            select(Paragraph.text, Paragraph.features, Suggestion.confidence, Suggestion.reason)
            .outerjoin(Suggestion, Suggestion.paragraph_id == Paragraph.id)
            .order_by(Paragraph.index)).all()
    by_text = {text: (features, confidence, reason) for text, features, confidence, reason in rows}
    assert by_text["Section 3"][0]["in"] == ["footer"]
    for n in range(6):
        _, confidence, reason = by_text[f"Section {n}"]
        assert confidence is not None and confidence >= 0.8, (n, confidence)
        # the strongest structural pushes are named, not its length or punctuation
        assert any(word in reason for word in ("footer", "link", "readability")), reason
    for text in bodies:
        assert by_text[text][1] is None or by_text[text][1] < 0.8


def test_a_photo_caption_inside_the_story_is_suggested_and_the_story_is_not(app):
    """A figure's caption or credit sits among the story's paragraphs, and readability keeps
    it; extraction gold seldom counts it as the article's text: it is suggested, with why."""
    rng = random.Random(11)
    bodies = [body_paragraph(rng, False) for _ in range(6)]
    figure = ('<figure><img src="/p.jpg"><figcaption class="caption">The mayor at the '
              'opening of the park</figcaption><p class="photo-credit">Jane Doe / AP</p></figure>')
    page = ("<html><head><title>Park opens</title></head><body><article><h1>Park opens</h1>"
            + "".join(f"<p>{text}</p>" for text in bodies[:3]) + figure
            + "".join(f"<p>{text}</p>" for text in bodies[3:]) + "</article></body></html>")
    rows = dict(imported(app, Source("page.html", page.encode(), "html"), Suggestion.reason))
    for caption in ("The mayor at the opening of the park", "Jane Doe / AP"):
        assert rows[caption] and "caption" in rows[caption], rows
    assert all(rows[text] is None for text in bodies)


def test_a_class_or_id_that_is_an_address_names_nothing():
    _, _, structure = html_page('<html><body><table><tr><td id="http://blog.example.com/more.asp'
                                '?name=li" class="entry"><p>Some text</p></td></tr></table>'
                                "</body></html>")
    assert structure[0]["words"] == ["entry"]  # not "more", a furniture word, from the address


def test_extracted_is_the_share_of_a_paragraph_in_readabilitys_text_matched_by_runs_of_words():
    """readability reflows and trims what it keeps: a paragraph counts by the runs of 4 words
    (6 CJK characters) it shares with that text, a short one only when it is a block of it."""
    main = "The council met on Tuesday to discuss the new plan for the park.\nShare"
    paragraphs = [
        "The council met on Tuesday — to discuss the NEW plan for the park!",  # reflowed
        "The council met on Tuesday. Read more: the ten best parks of the city this year",
        "Share", "plan for", "Tuesday", "Sign up for our weekly newsletter today"]
    structure: list[dict] = [{} for _ in paragraphs]
    mark_extracted(paragraphs, structure, main)
    shares = [seen["extracted"] for seen in structure]
    assert shares[0] == 1.0 and shares[2] == 1 and shares[5] == 0
    assert 0.2 < shares[1] < 0.5  # "The council met on Tuesday": 5 of 16 words
    assert shares[3] == shares[4] == 0  # short, inside the text, but no block of its own
    chinese = [{}, {}]
    mark_extracted(["市政府表示新的交通计划", "相关文章：市政府表示新"], chinese,
                   "市政府表示新的交通计划将缩短全市通勤时间。")
    assert chinese[0]["extracted"] == 1.0 and chinese[1]["extracted"] < 0.7  # 6 of 10 characters
    # readability kept nothing: every paragraph is outside; it could not read: no verdict
    nothing: list[dict] = [{} for _ in paragraphs]
    mark_extracted(paragraphs, nothing, "")
    assert [seen["extracted"] for seen in nothing] == [0] * len(paragraphs)
    unknown: list[dict] = [{} for _ in paragraphs]
    mark_extracted(paragraphs, unknown, None)
    assert unknown == [{} for _ in paragraphs]
    # the scorer reads the share left out; no verdict pushes neither way
    pushed = vectors([Seen(text, seen) for text, seen in zip(paragraphs, structure)])
    assert [vector["not_extracted"] for vector in pushed[:3]] == [0.0, 1 - shares[1], 0.0]
    assert vectors([Seen("Share", {"link": 0.0})])[0]["not_extracted"] == 0.0


def test_the_nearest_class_words_tell_furniture_inside_the_article_from_the_article():
    """A share box inside the article's block is named furniture nearest; a paragraph of the
    article inside a page whose outer blocks are named furniture is named content nearest."""
    share = {"path": "div>div>p", "in": [], "link": 1.0, "extracted": 1.0,
             "words": ["share", "tools", "article", "body", "sidebar"]}
    body = {"path": "div>div>p", "in": [], "link": 0.0, "extracted": 1.0,
            "words": ["article", "body", "share", "sidebar"]}
    vector_share, vector_body = vectors([Seen("Share on Facebook", share),
                                         Seen("Share on Facebook", body)])
    assert vector_share["named_furniture"] == vector_share["near_furniture_word"] == 1.0
    assert vector_body["named_furniture"] == vector_body["near_furniture_word"] == 0.0
    assert vector_share["furniture_words"] == vector_body["furniture_words"]  # the same words
    suggested_share, suggested_body = score_article([Seen("Share on Facebook", share),
                                                     Seen("Share on Facebook", body)], "")
    assert suggested_share is not None and suggested_share[1] >= 0.8
    assert suggested_body is None or suggested_body[1] < suggested_share[1]
    # the three ways of saying it are said once
    assert suggested_share[2].count("in a block named") <= 1, suggested_share[2]


def test_the_articles_own_headline_is_body_even_where_its_shape_says_furniture(app):
    """The headline is the longest part of the page title between separators, the site's
    name the shorter one; its first paragraph is never suggested from its shape."""
    rng = random.Random(5)
    bodies = [body_paragraph(rng, False) for _ in range(5)]
    menu = '<ul class="nav-menu">' + "".join(f'<li><a href="/s{n}">Section {n}</a></li>'
                                             for n in range(4)) + "</ul>"
    page = ("<html><head><title>City council approves the park plan | Daily News</title>"
            f'</head><body><div class="top-banner">{menu}<h2>City council approves the park plan'
            "</h2></div><article>" + "".join(f"<p>{text}</p>" for text in bodies)
            + '</article><div class="related-links"><p><a href="/a">City council approves the'
            " park plan</a></p></div></body></html>")
    assert own_headline(["Menu", "City council approves the park plan", "x"],
                        "City council approves the park plan | Daily News") == 1
    assert own_headline(["新闻", "市政府通过新的公园计划方案"], "市政府通过新的公园计划方案_每日新闻网") == 1
    assert own_headline(["Home"], "Home | News") is None  # too short to tell
    # on an HTML page, the heading most like the title's longest part, when none is it
    heading = [None, {"path": "div>h1"}, {"path": "div>p"}]
    assert own_headline(["Menu", "Why you just can't trust the White House on his health",
                         "Why you can't trust the White House on his health"],
                        "Why you can't trust the White House on his health - CNNPolitics",
                        [None, {"path": "div>h1"}, None]) == 2  # the exact one first
    assert own_headline(["Menu", "Why you just can't trust the White House on his health", "x"],
                        "Why you can't trust the White House on his health - CNNPolitics",
                        heading) == 1
    assert own_headline(["菜单", "工商部门初定SKII广告属于虚假宣传", "x"],
                        "工商部门初定SKII广告属于虚假宣传-搜狐财经", heading) == 1
    assert own_headline(["Menu", "Pharmalot", "x"],  # the site's name is no headline
                        "The Axe Falls: Bristol-Myers To Cut Nearly 500 Jobs // Pharmalot",
                        heading) is None
    assert own_headline(["Menu", "The Axe Falls: Bristol-Myers To Cut Nearly 500 Jobs", "x"],
                        "The Axe Falls: Bristol-Myers To Cut Nearly 500 Jobs // Pharmalot",
                        [None, {"path": "div>p"}, None]) is None  # not a heading
    with app.app_context():
        report = import_sources(db.session, "pages", [Source("page.html", page.encode(), "html")])
        assert report.stored, report.errors
        rows = db.session.execute(
            select(Paragraph.text, Suggestion.confidence)
            .outerjoin(Suggestion, Suggestion.paragraph_id == Paragraph.id)
            .order_by(Paragraph.index)).all()
    confidences = [confidence for text, confidence in rows
                   if text == "City council approves the park plan"]
    assert len(confidences) == 2
    assert confidences[0] is None  # the headline, in a banner
    assert confidences[1] is not None and confidences[1] >= 0.8  # the same words as a link
    assert all(confidence is not None and confidence >= 0.8
               for text, confidence in rows if text.startswith("Section"))


def test_txt_import_gets_text_shape_signals(app, tmp_path):
    rng = random.Random(11)
    bodies = [body_paragraph(rng, False) for _ in range(6)]
    tail = ["Posted 2026-03-04 10:15", "Share this article",
            "Copyright © 2026 City Desk. All rights reserved."]
    text = "City plan\n" + "\n".join(bodies + tail) + "\n"
    rows = dict(imported(app, Source("a.txt", text.encode(), "txt"), Suggestion.confidence))
    with app.app_context():
        assert db.session.scalar(select(Paragraph.features).limit(1)) is None
    for line in tail:
        assert rows[line] is not None and rows[line] >= 0.8, (line, rows[line])
    for body in bodies:
        assert rows[body] is None or rows[body] < 0.8, body


def test_scorer_rules():
    assert repetition_confidence(1) == 0 and 0.8 <= repetition_confidence(2) < repetition_confidence(10) <= 0.99
    titles = Titles()
    titles.add(1, "Budget plan falls short")
    titles.add(2, "短")
    assert titles.teaser("Budget plan falls short, critics say", 2, "x") == "Budget plan falls short"
    assert titles.teaser("Next: budget plan  falls SHORT", 2, "x") == "Budget plan falls short"
    assert titles.teaser("Budget plan falls short", 1, "budgetplanfallsshort") is None
    assert titles.teaser("短", 3, "y") == "短"  # a short title matches only whole
    assert titles.teaser("短文", 3, "y") is None
    long_title = "t" * 100
    got = score_article([Seen("x", None, 0, long_title)], "s")[0]
    assert got[2] == "title of another article: " + "t" * 59 + "…"
    got = score_article([Seen("<b>Share</b>", None, 5)], "<i>site</i>")[0]
    assert got[2] == "same text on 6 pages of <i>site</i>"  # plain text: the page escapes it


def test_html_features_stay_beside_their_paragraphs_when_blank_ones_are_dropped(app):
    # a lone BOM is text to the HTML parser but empty once normalised: it is dropped, and its
    # features with it, so the footer's features stay on the footer's paragraph
    page = ("<html><body><article><p>First paragraph of the article.</p></article>"
            "<p>\ufeff</p><footer><a href='/'>Home</a></footer></body></html>")
    with app.app_context():
        report = import_sources(db.session, "blank", [Source("b.html", page.encode(), "html")])
        assert report.stored, report.errors
        rows = db.session.execute(select(Paragraph.text, Paragraph.features)
                                  .order_by(Paragraph.index)).all()
    assert [text for text, _ in rows] == ["First paragraph of the article.", "Home"]
    assert rows[0][1]["in"] == ["article"] and rows[1][1]["in"] == ["footer"]
    assert rows[1][1]["link"] == 1.0


def test_context_inputs_are_the_neighbours_verdicts_and_the_place_against_the_running_text():
    """The second stage sees the first stage's verdict of up to 2 paragraphs each side
    (running text and the headline count 0), whether the paragraph lies before or after
    the article's longest run of running text and how far, and whether it is running text
    outside that run (then its own verdict is its shape's)."""
    first = [0.9, 0.1, 0.2, 0.3, 0.7, 0.8, 0.2, 0.6]
    skip = [False, True, True, True, False, False, True, False]  # 1-3: the longest run
    got = context_vectors(first, skip)
    assert [v["before_run"] for v in got] == [1.0] + [0.0] * 7
    assert [v["after_run"] for v in got] == [0.0] * 4 + [1.0] * 4
    assert got[0]["near"] == 0.0  # its two neighbours are running text
    assert abs(got[5]["near"] - (0.0 + 0.7 + 0.0 + 0.6) / 4) < 1e-9
    assert abs(got[7]["near"] - (0.8 + 0.0) / 2) < 1e-9
    assert got[4]["own"] > 0 > got[6]["own"]
    assert [v["running_out"] for v in got] == [0.0] * 6 + [1.0, 0.0]  # 6: after the run
    assert got[2]["own"] == context_vectors([0.0], [False])[0]["own"]  # in the run: 0
    assert abs(got[6]["own"] - math.log(0.2 / 0.8)) < 1e-9  # outside it: its shape's
    assert [v["far"] for v in got] == [math.log1p(d) / 3 for d in (1, 0, 0, 0, 1, 2, 3, 4)]
    assert all(v["before_run"] == v["after_run"] == v["far"] == v["running_out"] == 0.0
               for v in context_vectors([0.5, 0.5], [False, False]))  # no running text


def test_a_comment_thread_after_the_story_is_raised_by_its_place_and_the_same_lines_inside_not():
    """Short reader comments below a story that readability keeps as article text, whose
    shape alone leaves them in doubt, are raised by their place (beside other furniture,
    after the article's text); the same lines between the story's paragraphs are not
    suggested."""
    rng = random.Random(13)
    story = {"path": "div>div>p", "in": [], "words": ["entry", "body"], "link": 0.0,
             "extracted": 1.0}
    lines = ["Great piece, thanks", "I disagree with this", "Well said Steve", "Me too",
             "Not convinced at all", "Who wrote this"]
    bodies = [Seen(body_paragraph(rng, False), story) for _ in range(6)]
    after = bodies + [Seen(line, story) for line in lines]
    inside = bodies[:3] + [Seen(line, story) for line in lines[:2]] + bodies[3:]
    verdicts = {}
    for name, article in (("after", after), ("inside", inside)):
        body = running_text(article)
        first = [shape_probability(vector, False)[0] if vector else 0.0
                 for vector in vectors(article, body)]
        second = [p for p, _ in context_probabilities(first, body, body)]
        verdicts[name] = list(zip(first, second))
    assert all(0.3 < p < 0.8 for p, _ in verdicts["after"][6:])  # the shape alone: in doubt
    # after the story, beside each other: raised (the first has no furniture before it)
    assert all(second > first for first, second in verdicts["after"][7:]), verdicts
    assert all(second < first for first, second in verdicts["inside"][3:5]), verdicts
    suggested = score_article(after, "")
    assert suggested[:6] == [None] * 6
    shown = [got for got in suggested[6:] if got]
    assert len(shown) >= 4, suggested
    for got in shown:
        assert "beside other furniture" in got[2] and "after the article's text" in got[2], got
    assert score_article(inside, "") == [None] * len(inside)


def test_running_text_outside_the_story_s_run_is_scored_by_its_shape_and_place():
    """Sentences below a story, after a list of links and outside what readability keeps,
    are running text outside the article's longest run: the second stage scores them (the
    shape alone never scores running text); the same sentences inside the run are not."""
    rng = random.Random(7)
    story = {"path": "div>div>p", "in": [], "words": ["entry", "body"], "link": 0.0,
             "extracted": 1.0}
    links = {"path": "div>ul>li", "in": [], "words": ["list"], "link": 1.0, "extracted": 0.0}
    left = {"path": "div>div>p", "in": [], "words": ["box"], "link": 0.0, "extracted": 0.0}
    bodies = [Seen(body_paragraph(rng, False), story) for _ in range(6)]
    teasers = [Seen(f"Read more {words}", links)
               for words in ("alpha beta", "gamma delta", "epsilon zeta")]
    promo = [body_paragraph(rng, False) for _ in range(2)]
    below = bodies + teasers + [Seen(text, left) for text in promo]
    assert running_text(below)[-2:] == [True, True] and outside_run(running_text(below))[-2:] \
        == [True, True]
    suggested = score_article(below, "")
    assert suggested[:6] == [None] * 6 and all(got and got[1] >= 0.8 for got in suggested[6:])
    assert "beside other furniture" in suggested[-1][2]
    within = bodies[:3] + [Seen(text, story) for text in promo] + bodies[3:] + teasers
    assert score_article(within, "")[:8] == [None] * 8

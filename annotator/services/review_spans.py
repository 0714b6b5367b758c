"""Adjudication of spans and links: which paragraphs' spans or links differ between their
annotators, and a review page's spans and links (each annotator's, and the gold ones)."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Integer, String, cast, func, literal, null, or_, select, union, union_all
from sqlalchemy.orm import Session, aliased

from ..models import Annotation, Article, Link, Paragraph, Span, User


def differing_paragraphs(project_id: int, paragraph_ids: list[int] | None = None):
    """SELECT the ids of the project's paragraphs whose annotators' spans or links differ.

    The paragraph's participants are the annotators who labeled it, marked a span in it or
    drew a link from it. Each span is compared by (start, end, label), each link by its ends
    (a paragraph, or a span's paragraph, start, end and label) and relation, under the
    paragraph its link starts from. The paragraph differs when some span or link is held by
    fewer annotators than its participants: when the participants' sets are not all equal.
    paragraph_ids: only among these (a page's), else the whole project."""
    work = _work(project_id, paragraph_ids).cte("span_work")
    people = union(
        select(Annotation.paragraph_id.label("pid"), Annotation.user_id.label("uid"))
        .where(Annotation.paragraph_id.in_(select(work.c.pid))),
        select(work.c.pid, work.c.uid)).subquery()
    participants = (select(people.c.pid, func.count().label("n"))
                    .group_by(people.c.pid).subquery())
    keys = [work.c[name] for name in ("kind", *KEY_COLUMNS)]
    held = (select(work.c.pid, func.count(work.c.uid.distinct()).label("n"))
            .group_by(work.c.pid, *keys).subquery())
    return (select(held.c.pid).distinct()
            .join(participants, participants.c.pid == held.c.pid)
            .where(held.c.n < participants.c.n))


KEY_COLUMNS = ("a_start", "a_end", "a_label", "b_pid", "b_start", "b_end", "b_label", "relation")


def _work(project_id: int, paragraph_ids: list[int] | None):
    """Every annotator's spans and links in the project (starting in `paragraph_ids`, if
    given), one row each: (pid, uid, kind, key)."""
    nothing_int, nothing_str = cast(null(), Integer), cast(null(), String)
    spans = (select(Span.paragraph_id.label("pid"), Span.user_id.label("uid"),
                    literal("span").label("kind"), Span.start.label("a_start"),
                    Span.end.label("a_end"), Span.label.label("a_label"),
                    nothing_int.label("b_pid"), nothing_int.label("b_start"),
                    nothing_int.label("b_end"), nothing_str.label("b_label"),
                    nothing_str.label("relation"))
             .join(Paragraph, Paragraph.id == Span.paragraph_id)
             .join(Article, Article.id == Paragraph.article_id)
             .where(Article.project_id == project_id, Span.gold.is_(False)))
    start, end = aliased(Span), aliased(Span)
    from_pid = func.coalesce(Link.from_paragraph_id, start.paragraph_id)
    links = (select(from_pid, Link.user_id,
                    literal("link"), start.start, start.end, start.label,
                    func.coalesce(Link.to_paragraph_id, end.paragraph_id), end.start, end.end,
                    end.label, Link.relation)
             .join(Article, Article.id == Link.article_id)
             .outerjoin(start, start.id == Link.from_span_id)
             .outerjoin(end, end.id == Link.to_span_id)
             .where(Article.project_id == project_id, Link.gold.is_(False)))
    if paragraph_ids is not None:
        spans = spans.where(Span.paragraph_id.in_(paragraph_ids))
        links = links.where(from_pid.in_(paragraph_ids))
    return union_all(spans, links)


def review_structure(session: Session, project_id: int, paragraph_ids: list[int]) -> dict:
    """The spans and links of a review page's paragraphs, as the page's script takes them.

    {"paragraphs": {id: {"annotators": [{"name", "spans", "links"}], "gold": [span]}},
     "articles": {id: {"goldSpans": {paragraph id: [span]}, "goldLinks": [link]}},
     "differ": [ids of those paragraphs whose spans or links differ]}
    A span is {"id", "start", "end", "label", "text"}; a link {"id", "from", "to",
    "relation"}, each end {"paragraph_id", "index", "span": span or null}. An annotator's
    links are those with an end in the paragraph; an article's gold is all of it (the page
    replaces it whole). Six queries at most, whatever the page holds."""
    if not paragraph_ids:
        return {"paragraphs": {}, "articles": {}, "differ": []}
    wanted = set(paragraph_ids)
    article_of = dict(session.execute(
        select(Paragraph.id, Paragraph.article_id).where(Paragraph.id.in_(paragraph_ids))).all())
    articles = sorted(set(article_of.values()))
    texts = {}  # paragraph id -> (index, text), for every paragraph a span or link lies in
    spans_by = defaultdict(list)  # (paragraph id, username or None for gold) -> [span]
    span_rows = session.execute(
        select(Span, User.username, Paragraph.index, Paragraph.text, Paragraph.article_id)
        .join(Paragraph, Paragraph.id == Span.paragraph_id)
        .outerjoin(User, User.id == Span.user_id)
        .where(or_(Span.paragraph_id.in_(paragraph_ids),
                   Span.gold.is_(True) & Paragraph.article_id.in_(articles)))
        .order_by(Span.paragraph_id, Span.start, Span.end, Span.label)).all()
    for span, username, index, text, article in span_rows:
        texts[span.paragraph_id] = (index, text)
        article_of[span.paragraph_id] = article
        spans_by[(span.paragraph_id, None if span.gold else username)].append(
            _span(span.id, span.start, span.end, span.label, text))

    start, end = aliased(Span), aliased(Span)
    from_pid = func.coalesce(Link.from_paragraph_id, start.paragraph_id)
    to_pid = func.coalesce(Link.to_paragraph_id, end.paragraph_id)
    link_rows = session.execute(
        select(Link, User.username, from_pid, to_pid, start, end)
        .outerjoin(User, User.id == Link.user_id)
        .outerjoin(start, start.id == Link.from_span_id)
        .outerjoin(end, end.id == Link.to_span_id)
        .where(Link.article_id.in_(articles),
               Link.gold.is_(True) | from_pid.in_(paragraph_ids) | to_pid.in_(paragraph_ids))
        .order_by(Link.id)).all()
    missing = {pid for row in link_rows for pid in row[2:4]} - texts.keys()
    if missing:
        texts.update((pid, (index, text)) for pid, index, text in session.execute(
            select(Paragraph.id, Paragraph.index, Paragraph.text).where(Paragraph.id.in_(missing))))

    def end_of(pid: int, span: Span | None) -> dict:
        index, text = texts[pid]
        return {"paragraph_id": pid, "index": index,
                "span": span and _span(span.id, span.start, span.end, span.label, text)}

    links_by = defaultdict(list)  # (paragraph id, username) -> [link]; gold by article
    gold_links = defaultdict(list)
    for link, username, pid_from, pid_to, span_from, span_to in link_rows:
        shown = {"id": link.id, "from": end_of(pid_from, span_from),
                 "to": end_of(pid_to, span_to), "relation": link.relation}
        if link.gold:
            gold_links[link.article_id].append(shown)
            continue
        for pid in {pid_from, pid_to} & wanted:
            links_by[(pid, username)].append(shown)

    names = defaultdict(set)
    for paragraph_id, username in session.execute(
            select(Annotation.paragraph_id, User.username).join(User, User.id == Annotation.user_id)
            .where(Annotation.paragraph_id.in_(paragraph_ids))):
        names[paragraph_id].add(username)
    for pid, username in (*spans_by, *links_by):
        if pid in wanted and username is not None:
            names[pid].add(username)
    differ = set(session.scalars(differing_paragraphs(project_id, paragraph_ids)))
    return {
        "paragraphs": {pid: {
            "annotators": [{"name": name, "spans": spans_by[(pid, name)],
                            "links": links_by[(pid, name)]} for name in sorted(names[pid])],
            "gold": spans_by[(pid, None)]} for pid in paragraph_ids},
        "articles": {article: {
            "goldSpans": {pid: spans for (pid, name), spans in spans_by.items()
                          if name is None and spans and article_of[pid] == article},
            "goldLinks": gold_links[article]} for article in articles},
        "differ": sorted(differ),
    }


def _span(span_id: int, start: int, end: int, label: str, text: str) -> dict:
    """A span as the page shows it: offsets in code points, and its text (for a link's quote)."""
    return {"id": span_id, "start": start, "end": end, "label": label, "text": text[start:end]}

"""Time span and link agreement (services/span_agreement.project_span_agreement) on a made-up
project in a fresh SQLite file: PARAGRAPHS paragraphs in articles of 20, each labeled by two
annotators; SPANS spans split between them (one per paragraph each until they run out, near
each other so that most overlap); a link from every span in every fifth paragraph to its
article's first paragraph. Prints one JSON object: the sizes, the median wall and CPU seconds
of three runs, and the same for a project of the same size without spans.

    python bench/span_agreement.py [PARAGRAPHS] [SPANS]     # default 100000 100000"""
from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotator import create_app  # noqa: E402
from annotator.extensions import db  # noqa: E402
from annotator.models import Annotation, Article, Link, Paragraph, Project, Span  # noqa: E402
from annotator.services.span_agreement import project_span_agreement  # noqa: E402
from annotator.services.users import create_user  # noqa: E402

PER_ARTICLE = 20
TEXT = "论证与证据：" + "a claim and the evidence for it, " * 3  # 105 code points


def build(session, name: str, paragraphs: int, spans: int) -> Project:
    """A project, written with bulk inserts (the import path is measured elsewhere)."""
    rng = random.Random(0)
    project = Project(name=name)
    session.add(project)
    session.flush()
    users = [create_user(session, f"{name}-{user}", "correct horse battery").id
             for user in ("li", "bo")]
    articles = (paragraphs + PER_ARTICLE - 1) // PER_ARTICLE
    session.execute(insert(Article), [
        {"project_id": project.id, "article_id": f"a{n}", "title": f"A {n}", "meta": {},
         "content_hash": f"{n:064x}", "paragraph_count": PER_ARTICLE} for n in range(articles)])
    first = session.scalar(select(Article.id).where(Article.project_id == project.id)
                           .order_by(Article.id))
    session.execute(insert(Paragraph), [
        {"article_id": first + n // PER_ARTICLE, "index": n % PER_ARTICLE, "text": TEXT,
         "annotation_count": 2} for n in range(paragraphs)])
    paragraph_ids = list(session.scalars(select(Paragraph.id).join(Article)
                                         .where(Article.project_id == project.id)
                                         .order_by(Paragraph.id)))
    session.execute(insert(Annotation), [
        {"paragraph_id": p, "user_id": u, "label": "claim"} for p in paragraph_ids for u in users])
    rows = []
    for n in range(spans):
        start = rng.randrange(0, 60)
        rows.append({"paragraph_id": paragraph_ids[(n // 2) % len(paragraph_ids)],
                     "user_id": users[n % 2], "start": start, "end": start + rng.randrange(5, 40),
                     "label": rng.choice(("claim", "evidence"))})
    if not rows:
        session.commit()
        return project
    session.execute(insert(Span), rows)
    span_rows = session.execute(select(Span.id, Span.user_id, Paragraph.article_id)
                                .join(Paragraph).join(Article)
                                .where(Article.project_id == project.id).order_by(Span.id)).all()
    session.execute(insert(Link), [
        {"article_id": article, "user_id": user, "from_span_id": span,
         "to_paragraph_id": paragraph_ids[(article - first) * PER_ARTICLE], "relation": "supports"}
        for n, (span, user, article) in enumerate(span_rows) if n // 2 % 5 == 0])
    session.commit()
    return project


def timed(session, project: Project) -> tuple[float, float]:
    """Median wall and CPU seconds of three runs (CPU: this process, SQLite included; less
    disturbed by others' work on a busy machine)."""
    wall, cpu = [], []
    for _ in range(3):
        session.expire_all()
        start, start_cpu = time.perf_counter(), time.process_time()
        project_span_agreement(session, project)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return round(statistics.median(wall), 3), round(statistics.median(cpu), 3)


def main(paragraphs: int, spans: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'spans.db'}"})
        with app.app_context():
            plain = build(db.session, "plain", paragraphs, 0)
            project = build(db.session, "spans", paragraphs, spans)
            result = project_span_agreement(db.session, project)
            return {"paragraphs": paragraphs, "spans": spans, "links": result.links.all.marked,
                    "wall_cpu_seconds": timed(db.session, project),
                    "wall_cpu_seconds_without_spans": timed(db.session, plain),
                    "char_f1": result.all.char.f1, "overlap_f1": result.all.overlap.f1,
                    "link_f1": result.links.all.f1}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    print(json.dumps(main(*(args + [100_000, 100_000][len(args):]))))

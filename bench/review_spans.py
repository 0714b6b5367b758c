"""Time the review page's queries with spans and links: the first page of disagreements
(services/review.review_page), the count at the top (review_counts) and the page's spans and
links (services/review_spans.review_structure), on the project bench/span_agreement.py builds
(PARAGRAPHS paragraphs, two annotators agreeing on every label, SPANS spans between them, links
from every fifth paragraph's) and on the same project without spans (what a project without
spans pays). Prints one JSON object: median wall and CPU seconds of three runs of each.

    python bench/review_spans.py [PARAGRAPHS] [SPANS]     # default 100000 100000"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from span_agreement import build  # noqa: E402

from annotator import create_app  # noqa: E402
from annotator.extensions import db  # noqa: E402
from annotator.services.review import ReviewFilters, review_counts, review_page  # noqa: E402
from annotator.services.review_spans import review_structure  # noqa: E402


def timed(session, work) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(3):
        session.expire_all()
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return round(statistics.median(wall), 3), round(statistics.median(cpu), 3)


def measure(session, project_id: int) -> dict:
    page = review_page(session, project_id, ReviewFilters())
    ids = [item.paragraph_id for item in page.items]
    return {
        "listed_on_first_page": len(ids),
        "disagreements": review_counts(session, project_id).disagreements,
        "first_page": timed(session, lambda: review_page(session, project_id, ReviewFilters())),
        "no_gold_page": timed(session, lambda: review_page(session, project_id,
                                                           ReviewFilters(only="no-gold"))),
        "counts": timed(session, lambda: review_counts(session, project_id)),
        "structure_of_page": timed(session, lambda: review_structure(session, project_id, ids)),
    }


def main(paragraphs: int, spans: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'review.db'}"})
        with app.app_context():
            plain = build(db.session, "plain", paragraphs, 0).id
            marked = build(db.session, "spans", paragraphs, spans).id
            return {"paragraphs": paragraphs, "spans": spans,
                    "with_spans": measure(db.session, marked),
                    "without_spans": measure(db.session, plain)}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    print(json.dumps(main(*(args + [100_000, 100_000][len(args):]))))

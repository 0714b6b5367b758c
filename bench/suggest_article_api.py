"""What suggestions add to the article API: `GET /api/articles/<id>` (bearer token, in-process
test client) on two articles of PARAGRAPHS paragraphs with the same texts, one with a shown
suggestion on every paragraph (the worst case) and one with none, requested alternately so
the machine's noise hits both alike; then the same with the project's suggestions off.

    .venv/bin/python bench/suggest_article_api.py [--paragraphs 2000] [--requests 200]

Goal: suggestions add <= 20 ms (p50) to a 2,000-paragraph article."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, select, update  # noqa: E402

from annotator.extensions import db  # noqa: E402
from in_process import long_articles_app  # noqa: E402
from annotator.models import Article, Paragraph, Project, Suggestion, User  # noqa: E402
from annotator.services.suggestions import store_suggestions  # noqa: E402

GOAL_MS = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    app, token = long_articles_app("suggest-api-", args.paragraphs, ("with", "without"))
    with app.app_context():
        db.session.execute(delete(Suggestion))  # only those stored here
        ids = dict(db.session.execute(select(Article.article_id, Article.id)).all())
        store_suggestions(db.session, [
            {"paragraph_id": paragraph_id, "label": "boilerplate", "confidence": 0.97,
             "reason": "same text on 12 pages of example.com", "model": "signals"}
            for paragraph_id in db.session.scalars(
                select(Paragraph.id).where(Paragraph.article_id == ids["with"]))])
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def timed(article: str) -> float:
        start = time.perf_counter()
        response = client.get(f"/api/articles/{ids[article]}", headers=headers)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200
        return elapsed * 1000

    def run(label: str) -> dict:
        times: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(5):  # warm up
            timed("with"), timed("without")
        for _ in range(args.requests):
            for article in times:
                times[article].append(timed(article))
        result = {article: {"p50": round(statistics.median(values), 2),
                            "p90": round(statistics.quantiles(values, n=10)[-1], 2)}
                  for article, values in times.items()}
        result["added_p50_ms"] = round(result["with"]["p50"] - result["without"]["p50"], 2)
        print(f"{label}: 2,000 suggestions {result['with']}, none {result['without']}: "
              f"added p50 {result['added_p50_ms']} ms", flush=True)
        return result

    shown = run("suggestions on")
    with app.app_context():
        db.session.execute(update(Project).values(suggestions_enabled=False))
        db.session.commit()
    run("suggestions off")
    met = shown["added_p50_ms"] <= GOAL_MS
    print(f"goal (<= {GOAL_MS:g} ms added, p50): {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""What spans and links cost the article API, and how long a span or link save takes:
`GET /api/articles/<id>` (bearer token, in-process test client) on two articles of PARAGRAPHS
paragraphs with the same texts, one carrying the caller's 2 spans per paragraph and a link
per paragraph, one with none, requested alternately so the machine's noise hits both alike;
then `PUT /api/paragraphs/<id>/spans` (one span of two changed per save) and
`PUT /api/articles/<id>/links` (the whole set, one link changed per save). Times are CPU
milliseconds of this process (the in-process client runs everything here), which a shared
machine's load disturbs far less than wall time.

    .venv/bin/python bench/spans_api.py [--paragraphs 1000] [--requests 200]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from annotator.extensions import db  # noqa: E402
from in_process import long_articles_app  # noqa: E402
from annotator.models import Article, Paragraph, User  # noqa: E402


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 2),
            "p90": round(statistics.quantiles(values, n=10)[-1], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    app, token = long_articles_app("spans-api-", args.paragraphs, ("spans", "plain"))
    with app.app_context():
        ids = dict(db.session.execute(select(Article.article_id, Article.id)).all())
        paragraphs = list(db.session.scalars(select(Paragraph.id).where(
            Paragraph.article_id == ids["spans"]).order_by(Paragraph.index)))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def put(path: str, body: dict) -> tuple[float, dict]:
        start = time.process_time()
        response = client.put(path, headers=headers, json=body)
        elapsed = (time.process_time() - start) * 1000
        assert response.status_code == 200, response.get_json()
        return elapsed, response.get_json()

    claims = []
    for paragraph_id in paragraphs:  # a claim and an evidence span in each paragraph
        _, stored = put(f"/api/paragraphs/{paragraph_id}/spans", {"spans": [
            {"start": 0, "end": 4, "label": "claim"}, {"start": 5, "end": 12, "label": "evidence"}]})
        claims.append(stored["spans"][0]["id"])
    links = [{"from": {"paragraph_id": paragraph_id}, "to": {"span_id": claims[i - 1]}}
             for i, paragraph_id in enumerate(paragraphs)]
    put(f"/api/articles/{ids['spans']}/links", {"links": links})

    def get(article: str) -> float:
        start = time.process_time()
        response = client.get(f"/api/articles/{ids[article]}", headers=headers)
        elapsed = (time.process_time() - start) * 1000
        assert response.status_code == 200
        return elapsed

    times: dict[str, list[float]] = {"spans": [], "plain": []}
    for _ in range(5):
        get("spans"), get("plain")
    for _ in range(args.requests):
        for article in times:
            times[article].append(get(article))
    reads = {article: summary(values) for article, values in times.items()}
    print(f"GET article, {args.paragraphs} paragraphs: with {2 * len(paragraphs)} spans and "
          f"{len(links)} links {reads['spans']}, none {reads['plain']}: added p50 "
          f"{round(reads['spans']['p50'] - reads['plain']['p50'], 2)} ms", flush=True)

    span_saves = []
    middle = paragraphs[len(paragraphs) // 2]
    for request in range(args.requests):
        end = 12 + request % 2  # the evidence span changes, the claim span stays
        span_saves.append(put(f"/api/paragraphs/{middle}/spans", {"spans": [
            {"start": 0, "end": 4, "label": "claim"},
            {"start": 5, "end": end, "label": "evidence"}]})[0])
    print(f"PUT spans (2 spans, one changed): {summary(span_saves)}", flush=True)

    link_saves = []
    for request in range(max(args.requests // 4, 10)):
        changed = [*links[:-1], {**links[-1], "relation": ("attacks", "supports")[request % 2]}]
        link_saves.append(put(f"/api/articles/{ids['spans']}/links", {"links": changed})[0])
    print(f"PUT links ({len(links)} links, one changed): {summary(link_saves)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

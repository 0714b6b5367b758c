"""Time the annotator's agreement on the database in ANNOTATOR_DATABASE_URL: load the items
(services/agreement_data.agreement_items), then compute the report (services/agreement.report)
once per resample count given. Prints one JSON object; {"available": false, ...} when the
modules (being written) are not there yet.

    python bench/agreement_job.py PROJECT [RESAMPLES ...]"""
from __future__ import annotations

import json
import sys
import time


def main(project_name: str, resample_counts: list[int]) -> dict:
    try:
        from annotator.services.agreement import report
        from annotator.services.agreement_data import agreement_items
    except ImportError as error:
        return {"available": False, "reason": str(error)}
    from sqlalchemy import select

    from annotator import create_app
    from annotator.extensions import db
    from annotator.models import Project

    app = create_app()
    with app.app_context():
        start = time.perf_counter()
        project = db.session.scalar(select(Project).where(Project.name == project_name))
        items = agreement_items(db.session, project)
        result = {"available": True, "items": len(items), "load_s": time.perf_counter() - start}
        labels = [label.key for label in project.labels]
        for resamples in resample_counts:
            start = time.perf_counter()
            measured = report(items, labels=labels, resamples=resamples, seed=0)
            result[f"report_{resamples}_s"] = time.perf_counter() - start
        result["pairs"] = {f"{p.annotator_a}/{p.annotator_b}": p.kappa.value
                           for p in measured.pairs} if resample_counts else {}
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], [int(n) for n in sys.argv[2:]])))

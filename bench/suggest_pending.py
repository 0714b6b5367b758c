"""A large import's cold suggestions written after it (suggest.signals.score_pending, as the
server's background thread does) against the same import scoring at once: the CPU of each
and a checksum of the suggestions (they must be equal).
`python bench/suggest_pending.py WORKLOAD.jsonl` (bench/workload.py makes one)."""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path


def main(workload: Path) -> None:
    folder = tempfile.mkdtemp(prefix="suggest-pending-")
    os.environ["ANNOTATOR_DATABASE_URL"] = f"sqlite:///{folder}/pending.db"
    os.environ.setdefault("ANNOTATOR_SECRET_KEY", "bench")
    from sqlalchemy import select

    from annotator import create_app
    from annotator.extensions import db
    from annotator.models import Article, Paragraph, Project, Suggestion
    from annotator.services.importing import Source, import_sources
    from annotator.suggest.signals import score_pending

    def checksum(project: str) -> tuple[int, str]:
        digest, count = hashlib.sha256(), 0
        for row in db.session.execute(
                select(Article.article_id, Paragraph.index, Suggestion.label,
                       Suggestion.confidence, Suggestion.reason, Suggestion.model)
                .join(Paragraph, Paragraph.id == Suggestion.paragraph_id)
                .join(Article, Article.id == Paragraph.article_id).join(Project)
                .where(Project.name == project).order_by(Article.article_id, Paragraph.index)):
            digest.update(repr(tuple(row)).encode())
            count += 1
        return count, digest.hexdigest()[:16]

    data = workload.read_bytes()
    with create_app().app_context():
        started = time.process_time()
        report = import_sources(db.session, "at-once", [Source(str(workload), data, "jsonl")],
                                score_now=True)
        print(f"import scoring at once: {time.process_time() - started:.2f} s CPU, "
              f"{report.suggested} suggestions")
        started = time.process_time()
        report = import_sources(db.session, "pending", [Source(str(workload), data, "jsonl")],
                                score_now=False)
        print(f"import leaving {report.pending} articles pending: "
              f"{time.process_time() - started:.2f} s CPU")
        project_id = db.session.scalar(select(Project.id).where(Project.name == "pending"))
        started = time.process_time()
        written = score_pending(db.session, project_id)
        print(f"score_pending: {time.process_time() - started:.2f} s CPU, {written} suggestions")
        at_once, after = checksum("at-once"), checksum("pending")
        print(f"checksums: at once {at_once}, after {after}:",
              "equal" if at_once == after else "DIFFERENT")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

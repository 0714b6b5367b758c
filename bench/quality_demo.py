"""The closing demo of issue 13, on a fresh SQLite file: the demo project with gold on two
articles (one a calibration article, one adjudicated, served as a hidden check), three sample
annotators of different accuracy who go through the real queue (calibration first, then
ordinary work with a hidden check at rate 0.5), a guideline change with recalibration, a
second calibration round and one article relabeled under the new version; then prints
`flask calibration`, `flask quality` and `flask agreement --by-version`.

    .venv/bin/python bench/quality_demo.py [--keep DIR]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from annotator import create_app  # noqa: E402
from annotator.extensions import db  # noqa: E402
from annotator.models import Article, Paragraph, Project  # noqa: E402
from annotator.services import calibration, guideline_versions, queue  # noqa: E402
from annotator.services.annotations import (clear_annotations, save_annotation,  # noqa: E402
                                            set_gold)
from annotator.services.demo import CONFUSED_WITH, answer_key, load_demo  # noqa: E402
from annotator.services.users import create_user  # noqa: E402

CALIBRATION_ARTICLE = "demo-en-cycling-lanes"
CHECK_ARTICLE = "demo-en-heat-pumps"  # adjudicated: the hidden check
RELABELED = "demo-mixed-llm-opensource"  # relabeled by everyone under version 2
# Each annotator errs on every stride-th paragraph (a confusion real annotators make); after
# the guideline change and the second round, less often.
TEAM = {"careful": (12, 20), "middling": (4, 8), "sloppy": (2, 3)}


def _label(name: str, stride: int, index: int, truth: str) -> str:
    return CONFUSED_WITH[truth] if (index * 7 + len(name)) % stride == 0 else truth


def _work(session, project: Project, user: int, name: str, stride: int, key, pks) -> list[str]:
    """Take articles from the queue until it is empty, labeling each by the key with the
    annotator's error rate and marking it done; the ids of the articles served, in order."""
    served = []
    while (article := queue.claim_next(session, project, user)) is not None:
        article_id = pks[article]
        served.append(article_id)
        for paragraph, index in session.execute(select(Paragraph.id, Paragraph.index)
                                                .where(Paragraph.article_id == article)):
            save_annotation(session, paragraph, user, _label(name, stride, index,
                                                             key[article_id][index]))
        queue.set_finished(session, article, user, True)
        session.refresh(project)
    return served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="Build the database in DIR (kept) instead of a "
                                                   "temporary folder.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="quality-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "quality-demo.db"
    database.unlink(missing_ok=True)
    app = create_app({"SECRET_KEY": "demo", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    key = answer_key()
    with app.app_context():
        session = db.session
        lead = create_user(session, "lead", "correct horse battery", "admin").id
        users = {name: create_user(session, name, "correct horse battery").id for name in TEAM}
        load_demo(session)
        project = session.scalar(select(Project).where(Project.name == "demo"))
        project.overlap, project.check_rate, project.suggestions_enabled = 3, 0.5, False
        session.commit()
        pks = dict(session.execute(select(Article.id, Article.article_id)
                                   .where(Article.project_id == project.id)).all())
        by_name = {value: pk for pk, value in pks.items()}
        for article_id in (CALIBRATION_ARTICLE, CHECK_ARTICLE):
            for paragraph in session.scalars(select(Paragraph).where(
                    Paragraph.article_id == by_name[article_id])):
                set_gold(session, paragraph, key[article_id][paragraph.index], lead)
        calibration.set_calibration(session, project, [by_name[CALIBRATION_ARTICLE]], True)
        project.recalibrate = True
        session.commit()
        print("# Version 1: each annotator's queue (calibration first, a hidden check at 0.5)")
        for name, (stride, _) in TEAM.items():
            print(f"{name}: {', '.join(_work(session, project, users[name], name, stride, key, pks))}")

        project.guidelines += ("\n\n## Revised after calibration\n\nA figure given as "
                               "background is **other**, not evidence.\n")
        version = guideline_versions.record_version(session, project, lead)
        session.commit()
        print(f"\n# The guidelines are now version {version.number}; recalibration is on")
        for name, (_, stride) in TEAM.items():
            user = users[name]
            # everyone relabels one article under the new version, after the new round
            served = _work(session, project, user, name, stride, key, pks)
            queue.set_finished(session, by_name[RELABELED], user, False)  # from scratch:
            clear_annotations(session, by_name[RELABELED], session.scalars(  # the history
                select(Paragraph.id).where(Paragraph.article_id == by_name[RELABELED])), user)
            for paragraph, index in session.execute(select(Paragraph.id, Paragraph.index).where(
                    Paragraph.article_id == by_name[RELABELED])):
                save_annotation(session, paragraph, user,
                                _label(name, stride, index + 1, key[RELABELED][index]))
            queue.set_finished(session, by_name[RELABELED], user, True)
            print(f"{name}: {', '.join(served)}, then relabeled {RELABELED}")
    runner = app.test_cli_runner()
    for args_ in (["calibration", "--project", "demo"], ["quality", "--project", "demo"],
                  ["agreement", "--project", "demo", "--by-version", "--resamples", "0"]):
        print(f"\n$ flask {' '.join(args_)}")
        result = runner.invoke(args=args_)
        print(result.output.rstrip())
        if result.exit_code:
            raise SystemExit(result.exit_code)
    print(f"\n(database: {database})")


if __name__ == "__main__":
    main()

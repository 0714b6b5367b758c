"""`flask agreement` on the demo project labeled by three annotators."""
from __future__ import annotations

import json
from importlib import resources

from sqlalchemy import select

from annotator.models import Article, Paragraph, Project
from annotator.services import demo
from annotator.services.agreement import report
from annotator.services.agreement_report import agreement_items
from annotator.services.annotations import save_annotation
from annotator.services.users import create_user

ANSWERS = json.loads(resources.files("annotator").joinpath("demo", "answer_key.json").read_text("utf-8"))
SWAP = {"claim": "evidence", "evidence": "claim", "boilerplate": "other", "other": "boilerplate"}


def _label_demo(session) -> None:
    """Three annotators follow the answer key; each departs from it on a different stride."""
    demo.load_demo(session)
    users = {name: create_user(session, name, "password1").id for name in ("ann", "bo", "李雷")}
    strides = {"ann": 7, "bo": 5, "李雷": 3}
    for article in session.scalars(select(Article).order_by(Article.id)):
        for paragraph_id, index in session.execute(
                select(Paragraph.id, Paragraph.index).where(Paragraph.article_id == article.id)):
            truth = ANSWERS[article.article_id][index]
            for name, user_id in users.items():
                label = SWAP[truth] if (index + len(name)) % strides[name] == 0 else truth
                save_annotation(session, paragraph_id, user_id, label)


def test_agreement_json_matches_the_service_on_the_same_labels(runner, session):
    _label_demo(session)
    result = runner.invoke(args=["agreement", "--project", "demo", "--json", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    project = session.scalar(select(Project).where(Project.name == "demo"))
    expected = report(agreement_items(session, project), labels=[l.key for l in project.labels],
                      resamples=200, seed=0).to_dict()
    assert printed == json.loads(json.dumps(expected, ensure_ascii=False))
    assert printed["n_items"] == 124 and printed["n_annotators"] == 3
    assert 0.5 < printed["overall"]["alpha"]["value"] < 1.0


def test_agreement_text_names_every_coefficient_and_pair(runner, session):
    _label_demo(session)
    result = runner.invoke(args=["agreement", "--project", "demo", "--resamples", "50"])
    assert result.exit_code == 0, result.output
    for name in ("Fleiss' kappa", "Krippendorff's alpha", "Gwet's AC1", "ann / bo", "bo / 李雷",
                 "claim (vs rest)", "Confusion between annotators"):
        assert name in result.stdout


def test_agreement_of_an_unknown_project_is_an_error(runner):
    result = runner.invoke(args=["agreement", "--project", "nope"])
    assert result.exit_code != 0 and "no project named 'nope'" in result.output

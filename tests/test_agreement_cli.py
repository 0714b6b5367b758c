"""`flask agreement` on the demo project labeled by three annotators."""
from __future__ import annotations

import json

from sqlalchemy import select

from annotator.models import Project
from annotator.services import demo
from annotator.services.agreement import report
from annotator.services.agreement_report import agreement_items


def _label_demo(session) -> None:
    """The demo project labeled by three sample annotators (`flask load-demo --team 3`)."""
    demo.load_demo(session)
    demo.label_as_team(session, annotators=3)


def test_agreement_json_matches_the_service_on_the_same_labels(runner, session):
    _label_demo(session)
    result = runner.invoke(args=["agreement", "--project", "demo", "--json", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed.pop("human_only") is False  # says which labels it counted
    assert printed.pop("guideline_version") is None  # every version's (--version N: N's)
    assert printed.pop("spans")["pairs"] == []  # span agreement: tests/test_span_agreement.py
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
    for name in ("Fleiss' kappa", "Krippendorff's alpha", "Gwet's AC1", "demo-ann / demo-bo",
                 "demo-bo / demo-李雷",
                 "claim (vs rest)", "Confusion between annotators"):
        assert name in result.stdout


def test_agreement_of_an_unknown_project_is_an_error(runner):
    result = runner.invoke(args=["agreement", "--project", "nope"])
    assert result.exit_code != 0 and "no project named 'nope'" in result.output

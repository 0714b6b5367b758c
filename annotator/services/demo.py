"""The demo project: sample articles shipped inside the package."""
from __future__ import annotations

from importlib import resources

from sqlalchemy.orm import Session

from .importing import ImportReport, Source, get_or_create_project, import_sources

DEMO_PROJECT = "demo"


def _demo_file(name: str) -> bytes:
    return resources.files("annotator").joinpath("demo", name).read_bytes()


def load_demo(session: Session, project_name: str = DEMO_PROJECT) -> ImportReport:
    """Import the sample articles (again: nothing is duplicated) and set the guidelines."""
    source = Source("demo/articles.jsonl", _demo_file("articles.jsonl"), "jsonl")
    report = import_sources(session, project_name, [source])
    project = get_or_create_project(session, project_name)
    if not project.guidelines:
        project.guidelines = _demo_file("guidelines.md").decode("utf-8")
        project.description = ("Sample articles in English, Chinese and both, scraped with "
                               "their site furniture still attached.")
        session.commit()
    return report

"""The demo project: sample articles shipped inside the package."""
from __future__ import annotations

import json
import secrets
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..choices import DEMO_PROJECT, SAMPLE_ANNOTATORS
from ..models import Article, Paragraph, User
from . import queue
from .annotations import save_annotation
from .guideline_versions import record_version
from .importing import ImportReport, Source, get_or_create_project, import_sources
from .users import create_user

CONFUSED_WITH = {"claim": "evidence", "evidence": "claim", "boilerplate": "other",
                 "other": "boilerplate"}


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
        record_version(session, project, None)
        session.commit()
    return report


def answer_key() -> dict[str, list[str]]:
    """The demo articles' intended labels: article_id -> one label key per paragraph."""
    return json.loads(_demo_file("answer_key.json"))


def label_as_team(session: Session, project_name: str = DEMO_PROJECT,
                  annotators: int = 3) -> list[str]:
    """Have sample annotators label every demo paragraph and mark each article done, so the
    dashboard, agreement and review pages have something to show; raises the project's
    overlap to one more than their number, so whoever tries the demo still gets every article
    from Start. The sample users are deactivated: nobody can sign in as them.
    Returns their usernames; running it again changes nothing."""
    if not 1 <= annotators <= len(SAMPLE_ANNOTATORS):
        raise ValueError(f"the demo team has 1 to {len(SAMPLE_ANNOTATORS)} annotators")
    project = get_or_create_project(session, project_name)
    missing = sorted(set(CONFUSED_WITH) - project.label_keys())
    if missing:  # checked before anything is written
        raise ValueError(f"project {project_name!r} has no label {', '.join(missing)}: the demo "
                         f"team labels with claim, evidence, boilerplate and other")
    team = SAMPLE_ANNOTATORS[:annotators]
    users = {name: _sample_user(session, name) for name, _stride in team}
    key = answer_key()
    articles = session.execute(select(Article.id, Article.article_id)
                               .where(Article.project_id == project.id)
                               .order_by(Article.id)).all()
    for article_pk, article_id in articles:
        intended = key.get(article_id)
        if intended is None:  # not a demo article
            continue
        paragraphs = session.execute(select(Paragraph.id, Paragraph.index)
                                     .where(Paragraph.article_id == article_pk)).all()
        for name, stride in team:
            for paragraph_id, index in paragraphs:
                truth = intended[index]
                label = CONFUSED_WITH[truth] if (index + len(name)) % stride == 0 else truth
                save_annotation(session, paragraph_id, users[name], label)
            queue.set_finished(session, article_pk, users[name], True)
    if project.overlap <= annotators:  # their finished work fills `annotators` slots
        project.overlap = annotators + 1
    session.commit()
    return [name for name, _stride in team]


def _sample_user(session: Session, username: str) -> int:
    """A sample annotator's id, made deactivated with a random password if new."""
    user_id = session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        user = create_user(session, username, secrets.token_urlsafe(24))
        user.active = False
        session.commit()
        user_id = user.id
    return user_id

"""`flask load-demo`: the sample articles, and with --team the sample annotators' labels."""
from __future__ import annotations

from sqlalchemy import func, select

from annotator.models import Annotation, Article, Assignment, Paragraph, Project, User
from annotator.services import demo, queue
from annotator.services.users import create_user


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_load_demo_imports_the_sample_articles_once(runner, session):
    first = runner.invoke(args=["load-demo"])
    again = runner.invoke(args=["load-demo"])
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert "4 articles added" in first.stdout and "0 articles added" in again.stdout
    key = demo.answer_key()
    stored = dict(session.execute(select(Article.article_id, Article.paragraph_count)).all())
    assert stored == {article_id: len(labels) for article_id, labels in key.items()}
    assert session.scalar(select(Project.guidelines).where(Project.name == "demo"))


def test_team_labels_every_paragraph_by_each_sample_annotator(runner, session):
    result = runner.invoke(args=["load-demo", "--team", "3"])
    assert result.exit_code == 0, result.output
    assert "labeled by demo-ann, demo-bo, demo-李雷" in result.stdout
    paragraphs = _count(session, Paragraph)
    assert _count(session, Annotation) == 3 * paragraphs
    users = session.execute(select(User.username, User.active, User.role)).all()
    assert sorted(users) == sorted((name, False, "annotator")
                                   for name in ("demo-ann", "demo-bo", "demo-李雷"))
    finished = session.scalar(select(func.count()).select_from(Assignment)
                              .where(Assignment.finished_at.is_not(None)))
    assert finished == 3 * len(demo.answer_key())
    assert session.scalar(select(Project.overlap).where(Project.name == "demo")) == 4


def test_after_the_team_a_new_annotator_still_gets_every_article(runner, session):
    """The team's finished work fills three places of each article, not all of them."""
    assert runner.invoke(args=["load-demo", "--team", "3"]).exit_code == 0
    project = session.scalar(select(Project).where(Project.name == "demo"))
    newcomer = create_user(session, "newcomer", "a long password").id
    seen = []
    while (article_id := queue.claim_next(session, project, newcomer)) is not None:
        seen.append(article_id)
        queue.set_finished(session, article_id, newcomer, True)
    assert len(seen) == len(demo.answer_key())


def test_team_labels_follow_the_answer_key_with_some_confusions(runner, session):
    assert runner.invoke(args=["load-demo", "--team", "2"]).exit_code == 0
    key = demo.answer_key()
    rows = session.execute(
        select(User.username, Article.article_id, Paragraph.index, Annotation.label)
        .join(User, User.id == Annotation.user_id)
        .join(Paragraph, Paragraph.id == Annotation.paragraph_id)
        .join(Article, Article.id == Paragraph.article_id)).all()
    agree = sum(label == key[article][index] for _name, article, index, label in rows)
    assert len(rows) == 2 * sum(map(len, key.values()))
    assert 0.7 * len(rows) < agree < len(rows)  # mostly right, never perfect
    for _name, article, index, label in rows:
        truth = key[article][index]
        assert label in (truth, demo.CONFUSED_WITH[truth])


def test_running_the_team_again_changes_nothing(runner, session):
    assert runner.invoke(args=["load-demo", "--team", "3"]).exit_code == 0
    before = session.execute(select(Annotation.id, Annotation.label, Annotation.updated_at)
                             .order_by(Annotation.id)).all()
    assert runner.invoke(args=["load-demo", "--team", "3"]).exit_code == 0
    session.expire_all()
    after = session.execute(select(Annotation.id, Annotation.label, Annotation.updated_at)
                            .order_by(Annotation.id)).all()
    assert after == before
    assert _count(session, User) == 3


def test_a_team_larger_than_the_sample_is_refused(runner, session):
    result = runner.invoke(args=["load-demo", "--team", str(len(demo.SAMPLE_ANNOTATORS) + 1)])
    assert result.exit_code != 0 and "--team" in result.output
    assert _count(session, Annotation) == 0



def test_a_team_for_a_project_without_the_demo_labels_is_refused_before_any_write(
        runner, session):
    assert runner.invoke(args=["load-demo", "--project", "mine"]).exit_code == 0
    project = session.scalar(select(Project).where(Project.name == "mine"))
    evidence = next(label for label in project.labels if label.key == "evidence")
    session.delete(evidence)
    session.commit()
    result = runner.invoke(args=["load-demo", "--project", "mine", "--team", "2"])
    assert result.exit_code == 1
    assert "project 'mine' has no label evidence" in result.output
    assert "Traceback" not in result.output
    assert _count(session, Annotation) == 0 and _count(session, User) == 0

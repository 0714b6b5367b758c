"""The label counters progress and the dashboard read (annotations per paragraph, labeled
paragraphs per article, current labels per project, user, label and day) stay equal to a
count of the annotations:
through saves, changes and clears, concurrent saves, a recount, and the migration that
added them."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text, update

from annotator import create_app
from annotator.database import migrate_to
from annotator.extensions import db
from annotator.database import day_of
from annotator.models import Annotation, Article, Assignment, LabelCount, Paragraph, Project
from annotator.services import queue
from annotator.services.annotations import clear_annotation, save_annotation
from annotator.services.progress import project_progress, recount

from helpers import api_token, article_pks, import_articles, make_user, paragraph_pks, project_id
from testdb import database_url


def stored_counters(session) -> tuple[dict, dict, dict]:
    session.expire_all()
    return (dict(session.execute(select(Paragraph.id, Paragraph.annotation_count)).all()),
            dict(session.execute(select(Article.id, Article.labeled_count)).all()),
            {(p, u, label, _day(day)): n for p, u, label, day, n in session.execute(
                select(LabelCount.project_id, LabelCount.user_id, LabelCount.label,
                       LabelCount.day, LabelCount.count)) if n})


def _day(value) -> str:
    return str(value)[:10]  # a date, or SQLite's 'YYYY-MM-DD' text


def counted(session) -> tuple[dict, dict, dict]:
    """The same three, counted from the annotations."""
    per_paragraph = dict(session.execute(
        select(Paragraph.id, func.count(Annotation.id))
        .outerjoin(Annotation, Annotation.paragraph_id == Paragraph.id)
        .group_by(Paragraph.id)).all())
    per_article = dict(session.execute(
        select(Article.id, func.count(func.distinct(Annotation.paragraph_id)))
        .outerjoin(Paragraph, Paragraph.article_id == Article.id)
        .outerjoin(Annotation, Annotation.paragraph_id == Paragraph.id)
        .group_by(Article.id)).all())
    day = day_of(Annotation.created_at)
    per_user = {(p, u, label, _day(when)): n for p, u, label, when, n in session.execute(
        select(Article.project_id, Annotation.user_id, Annotation.label, day, func.count())
        .join(Paragraph, Paragraph.article_id == Article.id)
        .join(Annotation, Annotation.paragraph_id == Paragraph.id)
        .group_by(Article.project_id, Annotation.user_id, Annotation.label, day))}
    return per_paragraph, per_article, per_user


ARTICLES = [{"title": f"T{n}", "paragraphs": [f"第{n}篇第{i}段。" for i in range(5)]}
            for n in range(3)]


@pytest.fixture
def labeled(app, session):
    """Two projects (so counts never leak between them), three annotators."""
    import_articles(app, "one", ARTICLES)
    import_articles(app, "two", ARTICLES[:1])
    return {name: make_user(app, name, "annotator") for name in ("li", "wang", "zoe")}


def test_saves_changes_and_clears_keep_every_counter_equal_to_a_count(app, session, labeled):
    one = [pid for article in article_pks(app, "one") for pid in paragraph_pks(app, article)]
    two = [pid for article in article_pks(app, "two") for pid in paragraph_pks(app, article)]
    li, wang, zoe = labeled["li"], labeled["wang"], labeled["zoe"]
    for pid in one[:7]:
        save_annotation(session, pid, li, "claim")
    for pid in one[3:10] + two[:2]:
        save_annotation(session, pid, wang, "other")
    for pid in one[:4]:
        save_annotation(session, pid, li, "evidence")  # a change: no new annotation
    save_annotation(session, one[0], zoe, "claim")
    for pid in (one[0], one[5], one[6], one[14]):  # the last was never labeled by li
        clear_annotation(session, session.get(Paragraph, pid), li)
    save_annotation(session, one[5], li, "other")  # labeled again after a clear

    assert stored_counters(session) == counted(session)
    project = session.scalar(select(Project).where(Project.name == "one"))
    assert project_progress(session, project).labeled == len(set(one[:10]))
    assert project_progress(session, project, li).labeled == 5  # one[1..5]
    assert project_progress(session, project, wang).labeled == 7
    assert project_progress(session, project, zoe).labeled == 1
    other = session.scalar(select(Project).where(Project.name == "two"))
    assert project_progress(session, other, wang).labeled == 2
    assert project_progress(session, other, li).labeled == 0


def test_concurrent_saves_on_the_same_paragraphs_count_each_annotator_once(app, session):
    """Eight annotators label the same ten paragraphs at once through the API, twice over
    (the second pass changes labels), and clear some: the counters match a count."""
    import_articles(app, "busy", ARTICLES[:2])
    pids = [pid for article in article_pks(app, "busy") for pid in paragraph_pks(app, article)]
    names = [f"w{n}" for n in range(8)]
    tokens = {}
    for name in names:
        make_user(app, name, "annotator")
        tokens[name] = api_token(app, name)
    failures: list[str] = []

    def work(name: str) -> None:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tokens[name]}"}
        for label in ("claim", "evidence"):
            for pid in pids:
                response = client.put(f"/api/paragraphs/{pid}/annotation", json={"label": label},
                                      headers=headers)
                if response.status_code != 200:
                    failures.append(f"{name} {pid}: {response.status_code}")
        for pid in pids[::3]:
            response = client.delete(f"/api/paragraphs/{pid}/annotation", headers=headers)
            if response.status_code != 204:
                failures.append(f"{name} clear {pid}: {response.status_code}")

    threads = [threading.Thread(target=work, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert stored_counters(session) == counted(session)
    cleared = len(pids[::3])
    paragraphs = stored_counters(session)[0]
    assert sorted(set(paragraphs[pid] for pid in pids)) == [0, 8]
    assert sum(1 for pid in pids if paragraphs[pid] == 0) == cleared
    project = session.get(Project, project_id(app, "busy"))
    assert project_progress(session, project).labeled == len(pids) - cleared


def finished_counts(session) -> tuple[dict, dict]:
    """Each article's finished_count, and the same counted from its assignments."""
    session.expire_all()
    stored = dict(session.execute(select(Article.id, Article.finished_count)).all())
    counted_ = dict(session.execute(
        select(Article.id, func.count(Assignment.id))
        .outerjoin(Assignment, (Assignment.article_id == Article.id)
                   & Assignment.finished_at.is_not(None))
        .group_by(Article.id)).all())
    return stored, counted_


def test_finishing_and_reopening_keep_the_finished_count(app, session, labeled):
    first, second, third = article_pks(app, "one")
    li, wang = labeled["li"], labeled["wang"]
    queue.set_finished(session, first, li, True)
    queue.set_finished(session, first, li, True)  # done twice is done once
    queue.set_finished(session, first, wang, True)
    queue.set_finished(session, second, wang, True)
    queue.set_finished(session, second, wang, False)  # reopened
    queue.set_finished(session, third, li, False)  # reopening what was never done
    queue.assign(session, [third], wang)
    queue.unassign(session, session.scalar(select(Assignment.id).where(
        Assignment.article_id == third, Assignment.user_id == wang)))
    stored, counted_ = finished_counts(session)
    assert stored == counted_
    assert (stored[first], stored[second], stored[third]) == (2, 0, 0)
    project = session.scalar(select(Project).where(Project.name == "one"))
    project.overlap = 2
    session.commit()
    assert project_progress(session, project).finished == 1
    assert project_progress(session, project, wang).finished == 1


def test_recount_repairs_counters_written_around_the_app(app, session, labeled):
    pids = paragraph_pks(app, article_pks(app, "one")[0])
    for pid in pids:
        save_annotation(session, pid, labeled["li"], "claim")
    session.execute(update(Paragraph).values(annotation_count=7))
    session.execute(update(Article).values(labeled_count=0))
    session.execute(update(LabelCount).values(count=99))
    queue.set_finished(session, article_pks(app, "one")[0], labeled["li"], True)
    session.execute(update(Article).values(finished_count=5))
    session.commit()
    assert stored_counters(session) != counted(session)
    recount(session)
    assert stored_counters(session) == counted(session)
    assert finished_counts(session)[0] == finished_counts(session)[1]
    assert list(stored_counters(session)[2].values()) == [len(pids)]


def test_the_migration_counts_the_labels_already_there(tmp_path):
    """A database at revision 0002 with labels in it gets its counters on upgrade."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "AUTO_MIGRATE": False,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    with app.app_context():
        migrate_to("0002")
        statements = [
            "INSERT INTO project (id, name, description, guidelines, overlap, created_at) "
            "VALUES (1, 'old', '', '', 2, '2026-11-01 00:00:00')",
            "INSERT INTO \"user\" (id, username, password_hash, role, active, created_at) "
            "VALUES (1, 'li', 'x', 'annotator', TRUE, '2026-11-01 00:00:00'), "
            "(2, 'wang', 'x', 'annotator', TRUE, '2026-11-01 00:00:00')",
            "INSERT INTO article (id, project_id, article_id, title, meta, content_hash, "
            "paragraph_count, created_at) VALUES "
            "(1, 1, 'a', 'A', '{}', 'h1', 2, '2026-11-01 00:00:00'), "
            "(2, 1, 'b', 'B', '{}', 'h2', 1, '2026-11-01 00:00:00')",
            "INSERT INTO paragraph (id, article_id, \"index\", text) VALUES "
            "(1, 1, 0, 'x'), (2, 1, 1, 'y'), (3, 2, 0, 'z')",
            "INSERT INTO assignment (id, article_id, user_id, started_at, touched_at, "
            "finished_at, pinned) VALUES "
            "(1, 1, 1, '2026-11-01 00:00:00', '2026-11-01 00:00:00', '2026-11-01 01:00:00', "
            "FALSE), (2, 2, 1, '2026-11-01 00:00:00', '2026-11-01 00:00:00', NULL, FALSE)",
            "INSERT INTO annotation (id, paragraph_id, user_id, label, created_at, updated_at) "
            "VALUES (1, 1, 1, 'claim', '2026-11-01 00:00:00', '2026-11-01 00:00:00'), "
            "(2, 1, 2, 'other', '2026-11-01 00:00:00', '2026-11-01 00:00:00'), "
            "(3, 3, 2, 'claim', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        ]
        with db.engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
        migrate_to()
        paragraphs, articles, users = stored_counters(db.session)
        assert paragraphs == {1: 2, 2: 0, 3: 1}
        assert articles == {1: 1, 2: 1}
        assert users == {(1, 1, "claim", "2026-11-01"): 1, (1, 2, "other", "2026-11-01"): 1,
                         (1, 2, "claim", "2026-11-01"): 1}
        assert (paragraphs, articles, users) == counted(db.session)
        assert finished_counts(db.session)[0] == {1: 1, 2: 0}
        db.session.remove()
        db.engine.dispose()

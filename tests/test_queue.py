"""The annotator's queue: overlap, concurrency, abandoned articles, admin assignment."""
from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from annotator import create_app
from annotator.extensions import db
from annotator.models import Article, Assignment, Project, User
from annotator.services import queue
from annotator.services.importing import Source, import_sources
from annotator.services.users import create_token, create_user

from testdb import database_url


def _make_app(tmp_path, **config):
    return create_app({"TESTING": True, "SECRET_KEY": "test",
                       "SQLALCHEMY_DATABASE_URI": database_url(tmp_path), **config})


def _seed(app, articles: int, overlap: int, users: list[str]) -> tuple[int, dict[str, str]]:
    """A project of `articles` three-paragraph articles and a token per user."""
    lines = "".join(json.dumps({"id": f"a{n:03d}", "title": f"Article {n}",
                                "paragraphs": [f"{n}-{i} 段落" for i in range(3)]},
                               ensure_ascii=False) + "\n" for n in range(articles))
    with app.app_context():
        import_sources(db.session, "team", [Source("seed.jsonl", lines.encode(), "jsonl")])
        project = db.session.scalar(select(Project).where(Project.name == "team"))
        project.overlap = overlap
        db.session.commit()
        tokens = {name: create_token(db.session, create_user(db.session, name, "password1"))
                  for name in users}
        return project.id, tokens


class Server:
    """The real app behind a real threaded HTTP server on localhost."""

    def __init__(self, app):
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def call(self, token: str, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    def close(self):
        self.httpd.shutdown()
        with self.httpd.app.app_context():
            db.engine.dispose()


@pytest.fixture
def server_for(tmp_path):
    servers = []

    def start(app):
        servers.append(Server(app))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def _work(server: Server, token: str, project_id: int, finished: list[int], errors: list) -> None:
    """Take articles from the queue, label every paragraph and mark each done, until none is left."""
    try:
        while (article_id := server.call(token, "POST", f"/api/projects/{project_id}/next")["article_id"]):
            article = server.call(token, "GET", f"/api/articles/{article_id}")
            for paragraph in article["paragraphs"]:
                server.call(token, "PUT", f"/api/paragraphs/{paragraph['id']}/annotation",
                            {"label": "claim"})
            server.call(token, "PUT", f"/api/articles/{article_id}/done")
            finished.append(article_id)
    except Exception as error:  # reported by the test thread
        errors.append(error)


def test_three_annotators_with_overlap_two_finish_every_article_exactly_twice(tmp_path, server_for):
    app = _make_app(tmp_path)
    project_id, tokens = _seed(app, articles=15, overlap=2, users=["ann", "bo", "李雷"])
    server = server_for(app)
    finished = {name: [] for name in tokens}
    errors: list = []
    threads = [threading.Thread(target=_work, args=(server, token, project_id, finished[name], errors))
               for name, token in tokens.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    for name, articles in finished.items():
        assert len(articles) == len(set(articles)), f"{name} received an article twice"
    per_article = Counter(article for articles in finished.values() for article in articles)
    assert len(per_article) == 15 and set(per_article.values()) == {2}
    with app.app_context():
        rows = db.session.execute(select(Assignment.article_id, func.count())
                                  .where(Assignment.finished_at.is_not(None))
                                  .group_by(Assignment.article_id)).all()
    assert sorted(count for _, count in rows) == [2] * 15


def test_an_abandoned_article_comes_back_after_the_release_time(tmp_path, server_for):
    app = _make_app(tmp_path, RELEASE_AFTER_MINUTES=3 / 60)  # three seconds: the steps up
    project_id, tokens = _seed(app, articles=2, overlap=1, users=["ann", "bo"])  # to the
    server = server_for(app)  # hold's check can take over one on a loaded machine
    next_for = lambda name: server.call(tokens[name], "POST", f"/api/projects/{project_id}/next")["article_id"]
    claimed = time.monotonic()
    abandoned = next_for("ann")
    other = next_for("bo")
    assert other != abandoned
    server.call(tokens["bo"], "PUT", f"/api/articles/{other}/done")
    assert next_for("bo") is None  # ann still holds the other article
    time.sleep(max(0.0, claimed + 3.3 - time.monotonic()))
    assert next_for("bo") == abandoned


def _user_id(session, name: str) -> int:
    return session.scalar(select(User.id).where(User.username == name))


def test_the_queue_resumes_the_article_in_progress(app, session):
    project_id, _ = _seed(app, articles=3, overlap=1, users=["ann"])
    project, ann = session.get(Project, project_id), _user_id(session, "ann")
    first = queue.claim_next(session, project, ann)
    assert queue.claim_next(session, project, ann) == first
    queue.set_finished(session, first, ann, True)
    assert queue.claim_next(session, project, ann) not in (None, first)


def test_an_admin_assignment_is_held_until_finished_or_unassigned(app, session):
    project_id, _ = _seed(app, articles=3, overlap=1, users=["ann", "bo"])
    project = session.get(Project, project_id)
    ann, bo = _user_id(session, "ann"), _user_id(session, "bo")
    first = session.scalar(select(func.min(Article.id)))
    assert queue.assign(session, [first], bo) == 1
    # pinned: bo's next even when every timed hold has expired, and never given to ann
    assert queue.next_article(session, project, bo, hold=queue.HoldTimes(timedelta(0), timedelta(0))) == first
    assert queue.next_article(session, project, ann, hold=queue.HoldTimes(timedelta(0), timedelta(0))) != first
    held = session.scalars(select(Assignment).where(Assignment.user_id == bo)).one()
    queue.unassign(session, held.id)
    assert queue.next_article(session, project, ann, hold=queue.HoldTimes(timedelta(0), timedelta(0))) == first


def _deactivate(session, name: str) -> None:
    session.get(User, _user_id(session, name)).active = False
    session.commit()


def test_a_deactivated_users_hold_blocks_nobody(app, session):
    project_id, _ = _seed(app, articles=1, overlap=1, users=["ann", "pinned", "bo"])
    project = session.get(Project, project_id)
    only = queue.claim_next(session, project, _user_id(session, "ann"))
    queue.assign(session, [only], _user_id(session, "pinned"))
    assert queue.next_article(session, project, _user_id(session, "bo")) is None
    _deactivate(session, "ann")
    _deactivate(session, "pinned")
    assert queue.claim_next(session, project, _user_id(session, "bo")) == only


def test_finished_work_of_a_deactivated_user_still_fills_its_slot(app, session):
    project_id, _ = _seed(app, articles=1, overlap=1, users=["ann", "bo"])
    project = session.get(Project, project_id)
    only = queue.claim_next(session, project, _user_id(session, "ann"))
    queue.set_finished(session, only, _user_id(session, "ann"), True)
    _deactivate(session, "ann")
    state = queue.queue_state(session, project, _user_id(session, "bo"))
    assert (state.next_id, state.reason) == (None, "done")


def test_a_claim_without_a_label_is_short_and_the_first_label_makes_it_a_hold(tmp_path, server_for):
    """Start hands out an article for CLAIM_MINUTES; labeling in it holds it for
    RELEASE_AFTER_MINUTES."""
    app = _make_app(tmp_path, CLAIM_MINUTES=1 / 60, RELEASE_AFTER_MINUTES=120)
    project_id, tokens = _seed(app, articles=3, overlap=1, users=["ann", "bo", "cy", "dee", "eve"])
    server = server_for(app)
    next_for = lambda name: server.call(tokens[name], "POST", f"/api/projects/{project_id}/next")["article_id"]
    opened = next_for("ann")  # and never labeled in
    labeled = next_for("bo")
    paragraph = server.call(tokens["bo"], "GET", f"/api/articles/{labeled}")["paragraphs"][0]
    server.call(tokens["bo"], "PUT", f"/api/paragraphs/{paragraph['id']}/annotation",
                {"label": "claim"})
    time.sleep(1.3)
    assert next_for("cy") == opened
    third = next_for("dee")
    assert third not in (opened, labeled)
    assert next_for("eve") is None  # bo's labeled hold outlives the claim time
    with app.app_context():
        holds = {row.article_id: row.labeled_at for row in db.session.scalars(select(Assignment))
                 if row.user_id in (_user_id(db.session, "ann"), _user_id(db.session, "bo"))}
    assert holds[opened] is None and holds[labeled] is not None


def test_the_queue_says_why_it_is_empty(app, session):
    project_id, _ = _seed(app, articles=2, overlap=1, users=["ann", "bo", "cy"])
    project = session.get(Project, project_id)
    ann, bo, cy = (_user_id(session, name) for name in ("ann", "bo", "cy"))
    first = queue.claim_next(session, project, ann)
    queue.set_finished(session, first, ann, True)
    second = queue.claim_next(session, project, bo)
    state = queue.queue_state(session, project, cy, queue.HoldTimes(claim_for=timedelta(minutes=10)))
    assert (state.next_id, state.reason, state.waiting) == (None, "held", 1)
    touched = session.get(Assignment, session.scalar(
        select(Assignment.id).where(Assignment.article_id == second)))
    assert state.free_at == touched.touched_at + timedelta(minutes=10)
    queue.set_finished(session, second, bo, True)
    assert queue.queue_state(session, project, cy).reason == "done"
    assert queue.queue_state(session, project, ann).reason == "done"
    empty = Project(name="empty")
    session.add(empty)
    session.commit()
    assert queue.queue_state(session, empty, cy).reason == "empty"

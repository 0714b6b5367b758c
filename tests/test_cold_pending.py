"""A large import leaves its cold suggestions pending (suggest.signals.score_pending): they
are written by the server's background thread, at an article's first view, by `flask
suggest` and before an export with suggestions, and are the same as an import that scores
at once would have written."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, inspect, select

from annotator import create_app
from annotator.extensions import db
from annotator.models import Article, Paragraph, Project, Suggestion
from annotator.services.importing import (SCORE_AT_IMPORT, Source, get_or_create_project,
                                          import_sources)
from annotator.suggest.signals import score_pending
from annotator.suggest.training import background, stop_background

from helpers import bearer, jsonl, login, make_user
from servers import ROOT, Server
from testdb import database_url


def _suggestions(project: str) -> dict[tuple[str, int], tuple[str, float, str, str]]:
    """The project's stored suggestions by (article id, paragraph index)."""
    return {(article_id, index): (label, confidence, reason, model)
            for article_id, index, label, confidence, reason, model in db.session.execute(
                select(Article.article_id, Paragraph.index, Suggestion.label,
                       Suggestion.confidence, Suggestion.reason, Suggestion.model)
                .join(Paragraph, Paragraph.id == Suggestion.paragraph_id)
                .join(Article, Article.id == Paragraph.article_id)
                .join(Project, Project.id == Article.project_id).where(Project.name == project))}


def _pending(project: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Article).join(Project)
                             .where(Project.name == project, Article.signals_scored.is_(False)))


WORDS = ("first", "second", "third", "fourth", "fifth", "sixth")


def _site_pages(sites: int = 3, pages: int = 6) -> list[dict]:
    """Articles of several sites: a repeated footer, teasers of the site's other titles, a
    body of sentences."""
    records = []
    for site in range(sites):
        for page in range(pages):
            title = f"Story {page} of site {site}: the council votes on the budget"
            records.append({"id": f"s{site}p{page}", "title": title,
                            "meta": {"site": f"site{site}.example.org"}, "paragraphs": [
                                title,
                                *(f"The {WORDS[n]} paragraph of the {WORDS[page]} story tells "
                                  f"what the {WORDS[site]} council said about the budget."
                                  for n in range(4)),
                                f"Next: Story {(page + 1) % pages} of site {site}: the council "
                                "votes on the budget",
                                "Home | News | Sport | Contact",
                                f"© 2026 site{site}.example.org all rights reserved"]})
    return records


@pytest.mark.slow
def test_a_large_flask_import_is_scored_by_the_server_as_an_import_scoring_at_once(tmp_path):
    workload = tmp_path / "w.jsonl"
    subprocess.run([sys.executable, "bench/workload.py", "900", str(workload), "25"], cwd=ROOT,
                   check=True, capture_output=True, timeout=120)
    url = database_url(tmp_path, "big.db")
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": url, "ANNOTATOR_SECRET_KEY": "pending-test"}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "annotator", "import",
                           str(workload), "--project", "big"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "22500 paragraphs" in done.stdout and 22500 >= SCORE_AT_IMPORT
    assert "cold suggestions of 900 articles to be written" in done.stderr

    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        assert _pending("big") == 900 and _suggestions("big") == {}
        if url.startswith("sqlite"):  # rebuilt after the rows went in (importing._store)
            assert "ix_paragraph_text_key" in {
                index["name"] for index in inspect(db.engine).get_indexes("paragraph")}
        # the reference: the same file imported by a project that scores at once
        report = import_sources(db.session, "reference",
                                [Source("w.jsonl", workload.read_bytes(), "jsonl")],
                                score_now=True)
        assert report.suggested > 5000 and report.pending == 0
        expected = {key: value for key, value in _suggestions("reference").items()}
        first = db.session.scalar(select(Article.id).join(Project)
                                  .where(Project.name == "big").order_by(Article.id))
    make_user(app, "ann")
    client = app.test_client()
    login(client, "ann")
    # the first view of a pending article scores it (TESTING: no background thread here)
    shown = client.get(f"/api/articles/{first}").get_json()["paragraphs"]
    with app.app_context():
        article_id = db.session.get(Article, first).article_id
        assert _pending("big") == 899
    want = {index: value for (article, index), value in expected.items() if article == article_id}
    assert any(value[2].startswith("same text on") for value in want.values())
    assert {paragraph["index"]: (paragraph["suggestion"]["label"],
                                 paragraph["suggestion"]["confidence"],
                                 paragraph["suggestion"]["reason"])
            for paragraph in shown if paragraph["suggestion"]} == {
        index: (label, round(confidence, 4), reason)
        for index, (label, confidence, reason, _) in want.items() if confidence >= 0.8}

    # a real server: its background thread writes the rest soon after its start
    server = Server("flask", env)
    try:
        with app.app_context():
            deadline = time.monotonic() + 120
            while _pending("big") and time.monotonic() < deadline:
                db.session.rollback()
                time.sleep(0.2)
            assert _pending("big") == 0
            got = _suggestions("big")
    finally:
        server.kill()
    assert len(got) == len(expected)
    assert got == expected  # batch by batch after the import, the same as all at once


def test_pending_html_pages_score_as_at_import_and_keep_a_suggestion_stored_meanwhile(app):
    pages = [
        ("<html><head><title>{title}</title></head><body><nav class='site-menu'><ul>"
         "<li><a href='/'>Home</a></li><li><a href='/news'>News</a></li></ul></nav>"
         "<article><h1>{title}</h1>{body}</article><footer class='footer'><p>"
         "<a href='/about'>About us</a> | <a href='/jobs'>Jobs</a></p></footer></body></html>")
        .format(title=f"Page {n}: the river floods the lower town",
                body="".join(f"<p>Sentence {k} of page {n} says how high the water rose and "
                             f"who was hurt in the lower town.</p>" for k in range(4)))
        for n in range(4)]
    make_user(app, "admin", "admin")
    with app.app_context():
        for project, now in (("at-once", True), ("pending", False)):
            report = import_sources(db.session, project, [
                Source(f"p{n}.html", page.encode(), "html") for n, page in enumerate(pages)],
                score_now=now)
            assert report.stored and report.pending == (0 if now else 4)
        expected = _suggestions("at-once")
        assert expected and _suggestions("pending") == {}
        first = db.session.scalars(select(Paragraph.id).join(Article).join(Project)
                                   .where(Project.name == "pending")
                                   .order_by(Paragraph.id)).first()
        article = db.session.scalar(select(Paragraph.article_id).where(Paragraph.id == first))
    # an external model's suggestion stored before the cold ones is kept
    put = app.test_client().put(f"/api/articles/{article}/suggestions",
                                headers=bearer(app, "admin"),
                                json={"model": "mine", "items": [
                                    {"paragraph_id": first, "label": "other",
                                     "confidence": 0.6, "reason": "my model"}]})
    assert put.status_code == 200, put.get_data(as_text=True)
    with app.app_context():
        project_id = db.session.scalar(select(Project.id).where(Project.name == "pending"))
        assert score_pending(db.session, project_id) > 0
        assert score_pending(db.session, project_id) == 0  # nothing left: idempotent
        got = _suggestions("pending")
        assert _pending("pending") == 0
    mine = next(key for key in got if got[key][3] == "mine")
    assert got.pop(mine) == ("other", 0.6, "mine: my model", "mine")
    expected.pop(mine)
    assert got == expected


def test_suggestions_off_leave_articles_pending_until_turned_on(app):
    make_user(app, "ann")
    with app.app_context():
        report = import_sources(db.session, "quiet",
                                [Source("a.jsonl", jsonl(_site_pages()), "jsonl")])
        assert report.stored and report.suggested > 0  # small: scored at once
        project = db.session.scalar(select(Project).where(Project.name == "quiet"))
        project.suggestions_enabled, quiet = False, project.id
        db.session.commit()
        report = import_sources(db.session, "quiet", [Source("b.jsonl", jsonl(
            {**record, "id": record["id"] + "-b"} for record in _site_pages()), "jsonl")])
        assert report.suggested == 0 and _pending("quiet") == 18
        later = db.session.scalar(select(Article.id).where(Article.article_id == "s0p0-b"))
    client = app.test_client()
    login(client, "ann")
    shown = client.get(f"/api/articles/{later}").get_json()["paragraphs"]
    assert all(paragraph["suggestion"] is None for paragraph in shown)
    with app.app_context():
        assert _pending("quiet") == 18  # nothing scored while off
        db.session.get(Project, quiet).suggestions_enabled = True
        db.session.commit()
    shown = client.get(f"/api/articles/{later}").get_json()["paragraphs"]
    reasons = {paragraph["text"]: paragraph["suggestion"]["reason"]
               for paragraph in shown if paragraph["suggestion"]}
    assert reasons["Home | News | Sport | Contact"] == "same text on 12 pages of site0.example.org"
    assert "Next: Story 1 of site 0: the council votes on the budget" in reasons
    assert not any(text.startswith("The ") for text in reasons)  # the body
    with app.app_context():
        assert _pending("quiet") == 17


def test_flask_suggest_and_the_export_write_pending_suggestions(app, runner):
    with app.app_context():
        for name in ("cli", "export"):
            report = import_sources(db.session, name,
                                    [Source("a.jsonl", jsonl(_site_pages()), "jsonl")],
                                    score_now=False)
            assert report.pending == 18
    done = runner.invoke(args=["suggest", "--project", "cli"])
    assert done.exit_code == 0, done.output
    assert "cold suggestions written for articles still unscored" in done.output
    exported = runner.invoke(args=["export", "--project", "export", "--suggestions"])
    assert exported.exit_code == 0, exported.output
    assert '"reason":"same text on 6 pages of site1.example.org"' in exported.output
    with app.app_context():
        assert _pending("cli") == 0 and _pending("export") == 0
        assert len(_suggestions("cli")) == len(_suggestions("export")) > 18 * 2


def test_a_large_web_import_returns_first_and_the_server_thread_writes_its_suggestions(tmp_path):
    workload = tmp_path / "w.jsonl"
    subprocess.run([sys.executable, "bench/workload.py", "900", str(workload), "25"], cwd=ROOT,
                   check=True, capture_output=True, timeout=120)
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SUGGEST_IN_BACKGROUND": True,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path, "web.db")})
    try:
        _web_import_scored_by_the_thread(app, workload)
    finally:
        stop_background(app)  # no thread outlives the test's database
        with app.app_context():
            db.engine.dispose()


def _web_import_scored_by_the_thread(app, workload) -> None:
    make_user(app, "admin", "admin")
    with app.app_context():
        project = get_or_create_project(db.session, "web")
        db.session.commit()
        project_id = project.id
    client = app.test_client()
    assert client.get("/login").status_code == 200  # the first request starts the thread
    assert background(app).wait_idle(30)  # it looked at once: nothing pending yet
    done = client.post(f"/api/projects/{project_id}/import",
                                  data=workload.read_bytes(), headers=bearer(app, "admin"),
                                  content_type="application/x-ndjson")
    assert done.status_code == 200 and done.get_json()["paragraphs"] == 22500
    assert background(app).wait_idle(120)  # woken by the import, not by the next 30 s check
    with app.app_context():
        assert _pending("web") == 0
        assert sum(value[2].startswith("same text on") for value in _suggestions("web").values()
                   ) > 5000

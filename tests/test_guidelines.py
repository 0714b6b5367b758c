"""Guidelines are rendered once, when they are saved (settings, load-demo, the migration that
added the cache), and the pages show the stored HTML instead of rendering on every view."""
from __future__ import annotations

from sqlalchemy import select, text, update

from annotator import create_app
from annotator.database import migrate_to
from annotator.extensions import db
from annotator.models import Project
from annotator.rendering import render_markdown
from annotator.services.demo import load_demo

from helpers import (SETTINGS_FORM, article_pks, csrf_token, import_articles, login, make_user,
                     project_id)
from testdb import database_url


def _stored(app, name: str) -> tuple[str, str]:
    with app.app_context():
        return tuple(db.session.execute(select(Project.guidelines, Project.guidelines_html)
                                      .where(Project.name == name)).one())


def test_saving_settings_stores_the_rendered_guidelines_and_pages_show_them(app):
    make_user(app, "boss", "admin")
    import_articles(app, "p", [{"title": "A", "paragraphs": ["one"]}])
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    pid = project_id(app, "p")
    guidelines = "# Rules\n\n**Claim**: a position. <script>alert(1)</script>"
    response = admin.post(f"/admin/projects/{pid}/settings", data={
        **SETTINGS_FORM, "guidelines": guidelines,
        "csrf_token": csrf_token(admin, f"/admin/projects/{pid}/settings")})
    assert response.status_code == 302
    assert _stored(app, "p") == (guidelines, str(render_markdown(guidelines)))
    assert "<script" not in _stored(app, "p")[1] and "<strong>Claim</strong>" in _stored(app, "p")[1]
    # the pages show what is stored, without rendering it again
    with app.app_context():
        db.session.execute(update(Project).where(Project.id == pid)
                           .values(guidelines_html="<p>stored-rendering</p>"))
        db.session.commit()
    for path in (f"/projects/{pid}", f"/articles/{article_pks(app, 'p')[0]}"):
        page = admin.get(path).get_data(as_text=True)
        assert "<p>stored-rendering</p>" in page, path
        assert "<h1>Rules</h1>" not in page, path


def test_guidelines_over_the_length_limit_are_refused_and_nothing_changes(app):
    make_user(app, "boss", "admin")
    import_articles(app, "p", [{"title": "A", "paragraphs": ["one"]}])
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    pid = project_id(app, "p")
    response = admin.post(f"/admin/projects/{pid}/settings", data={
        **SETTINGS_FORM, "guidelines": "![" * 100_001,
        "csrf_token": csrf_token(admin, f"/admin/projects/{pid}/settings")})
    assert response.status_code == 200
    assert "200000" in response.get_data(as_text=True)
    assert _stored(app, "p") == ("", "")


def test_load_demo_stores_the_rendered_guidelines(session):
    load_demo(session)
    project = session.scalar(select(Project).where(Project.name == "demo"))
    assert project.guidelines and project.guidelines_html == str(render_markdown(project.guidelines))


def test_the_migration_renders_the_guidelines_already_there(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "AUTO_MIGRATE": False,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    with app.app_context():
        migrate_to("0003")
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO project (id, name, description, guidelines, overlap, created_at) "
                "VALUES (1, 'old', '', :g, 1, '2026-11-01 00:00:00'), "
                "(2, 'empty', '', '', 1, '2026-11-01 00:00:00')"),
                {"g": "Label *every* paragraph. <img src=x onerror=alert(1)>"})
        migrate_to()
        rows = dict(db.session.execute(select(Project.name, Project.guidelines_html)).all())
        assert rows == {"old": str(render_markdown(
            "Label *every* paragraph. <img src=x onerror=alert(1)>")), "empty": ""}
        assert "<em>every</em>" in rows["old"] and "<img" not in rows["old"]
        db.session.remove()
        db.engine.dispose()

"""The migrations build exactly the schema the models describe, on either backend."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sqlalchemy import text

from annotator import create_app
from annotator.database import migrate_to
from annotator.extensions import db
from annotator.models import DEFAULT_SPAN_LABELS, Project
from testdb import database_url


def test_migrating_from_scratch_gives_the_models_schema(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_the_spans_migration_gives_stored_projects_the_default_sets(tmp_path):
    """A project stored before schema 0009 gets the default span labels and relations."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "AUTO_MIGRATE": False,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    with app.app_context():
        migrate_to("0008")
        db.session.execute(text(
            "INSERT INTO project (id, name, description, guidelines, overlap, created_at) "
            "VALUES (7, 'old', '', '', 1, '2026-11-01 00:00:00')"))
        db.session.commit()
        migrate_to("0009")
        project = db.session.get(Project, 7)
        assert [(s.key, s.hotkey) for s in project.span_labels] == [
            (key, hotkey) for key, _name, _color, hotkey in DEFAULT_SPAN_LABELS]
        assert [r.key for r in project.relations] == ["supports", "attacks"]

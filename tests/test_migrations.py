"""The migrations build exactly the schema the models describe, on either backend."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sqlalchemy import inspect, select, text

from annotator import create_app
from annotator.database import create_schema, database_is_current, migrate_to
from annotator.extensions import db
from annotator.models import DEFAULT_SPAN_LABELS, Annotation, Gold, GuidelineVersion, Project
from testdb import database_url


def schema_of(connection) -> dict:
    """Every table's columns (types, nullability, server defaults), keys, constraints and
    indexes, as the database reports them; column order left out (added columns come last)."""
    found = inspect(connection)
    described = {}
    for table in found.get_table_names():
        described[table] = {
            "columns": sorted((column["name"], str(column["type"]), column["nullable"],
                               str(column["default"])) for column in found.get_columns(table)),
            "primary key": found.get_pk_constraint(table),
            "foreign keys": sorted(map(repr, found.get_foreign_keys(table))),
            "unique": sorted(map(repr, found.get_unique_constraints(table))),
            "checks": sorted(map(repr, found.get_check_constraints(table))),
            "indexes": sorted(map(repr, found.get_indexes(table)))}
    return described


def migrated_app(tmp_path, name: str = "test.db"):
    """An app on a new database, migrated from scratch by replaying every migration."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "AUTO_MIGRATE": False,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path, name)})
    with app.app_context():
        migrate_to()
    return app


def test_migrating_from_scratch_gives_the_models_schema(tmp_path):
    with migrated_app(tmp_path).app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_a_new_database_gets_the_migrated_schema_at_once(tmp_path):
    """A database without tables is created from the models and stamped (create_schema):
    the same tables, columns, defaults, keys and indexes as replaying the migrations, at the
    newest revision, so later migrations apply to it as to any other."""
    with migrated_app(tmp_path, "migrated.db").app_context(), db.engine.connect() as connection:
        migrated = schema_of(connection)
        migrated_version = connection.exec_driver_sql(
            "SELECT version_num FROM alembic_version").all()
        db.engine.dispose()
    app = create_app({"TESTING": True, "SECRET_KEY": "test",
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path, "created.db")})
    with app.app_context(), db.engine.connect() as connection:
        assert database_is_current()
        assert not create_schema()  # it has tables now: left alone
        assert connection.exec_driver_sql(
            "SELECT version_num FROM alembic_version").all() == migrated_version
        created = schema_of(connection)
    assert "paragraph" in created and created == migrated


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
        migrate_to("0009")  # read with SQL: the models describe the newest schema
        span_labels = db.session.execute(text(
            "SELECT key, hotkey FROM span_label WHERE project_id = 7 ORDER BY position")).all()
        assert [tuple(row) for row in span_labels] == [
            (key, hotkey) for key, _name, _color, hotkey in DEFAULT_SPAN_LABELS]
        relations = db.session.scalars(text(
            "SELECT key FROM relation WHERE project_id = 7 ORDER BY position")).all()
        assert relations == ["supports", "attacks"]


def test_the_guideline_versions_migration_gives_stored_projects_version_1(tmp_path):
    """A project stored before schema 0010 gets version 1 from its guidelines and labels;
    its labels and gold count as made under it."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "AUTO_MIGRATE": False,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    with app.app_context():
        migrate_to("0009")
        for statement in (
                "INSERT INTO project (id, name, description, guidelines, guidelines_html, "
                "overlap, created_at) VALUES (7, 'old', '', 'Mark <b>claims</b>.', '', 1, "
                "'2026-11-01 00:00:00')",
                "INSERT INTO label (project_id, key, name, color, hotkey, description, position)"
                " VALUES (7, 'claim', 'Claim', '#000000', '1', 'A position.', 0)",
                "INSERT INTO user (id, username, password_hash, role, active, created_at) "
                "VALUES (3, 'ann', 'x', 'annotator', true, '2026-11-01 00:00:00')",
                "INSERT INTO article (id, project_id, article_id, title, meta, content_hash, "
                "paragraph_count, created_at) VALUES (5, 7, 'a', 't', '{}', 'h', 1, "
                "'2026-11-01 00:00:00')",
                "INSERT INTO paragraph (id, article_id, \"index\", text) VALUES (9, 5, 0, 'p')",
                "INSERT INTO annotation (paragraph_id, user_id, label, created_at, updated_at) "
                "VALUES (9, 3, 'claim', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
                "INSERT INTO gold (paragraph_id, label, updated_at) "
                "VALUES (9, 'claim', '2026-11-01 00:00:00')"):
            db.session.execute(text(statement.replace("user (", '"user" (')))
        db.session.commit()
        migrate_to("0010")
        # Columns, not the whole Project: later migrations add columns the models have
        assert db.session.scalar(select(Project.guideline_version).where(Project.id == 7)) == 1
        (version,) = db.session.scalars(select(GuidelineVersion)).all()
        assert (version.project_id, version.number, version.guidelines) == (
            7, 1, "Mark <b>claims</b>.")
        assert version.labels == [{"key": "claim", "name": "Claim", "description": "A position."}]
        assert db.session.scalar(select(Annotation.guideline_version)) == 1
        assert db.session.scalar(select(Gold.guideline_version)) == 1


def test_the_calibration_migration_leaves_stored_articles_ordinary(tmp_path):
    """After schema 0011 a stored article is no calibration article, and a stored project
    asks for no recalibration and serves no hidden checks."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "AUTO_MIGRATE": False,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    with app.app_context():
        migrate_to("0010")
        for statement in (
                "INSERT INTO project (id, name, description, guidelines, guidelines_html, "
                "overlap, created_at) VALUES (7, 'old', '', '', '', 1, '2026-11-01 00:00:00')",
                "INSERT INTO article (id, project_id, article_id, title, meta, content_hash, "
                "paragraph_count, created_at) VALUES (5, 7, 'a', 't', '{}', 'h', 1, "
                "'2026-11-01 00:00:00')"):
            db.session.execute(text(statement))
        db.session.commit()
        migrate_to("0011")
        assert db.session.execute(text(
            "SELECT recalibrate, check_rate FROM project")).one() == (False, 0)
        assert db.session.scalar(text("SELECT calibration FROM article")) in (False, 0)

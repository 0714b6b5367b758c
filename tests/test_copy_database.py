"""`flask copy-database`: everything arrives, ids and all, and the copy keeps working."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from annotator import create_app
from annotator.extensions import db
from annotator.models import Annotation, Paragraph, User
from annotator.services import demo
from annotator.services.annotations import save_annotation, set_gold
from annotator.services.users import create_token, create_user

from testdb import ON_POSTGRES, TEST_DATABASE_URL, reset_postgres


def _rows(engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {table.name: [tuple(row) for row in connection.execute(
                    select(table).order_by(*table.primary_key.columns))]
                for table in db.metadata.sorted_tables}


def test_copy_database_copies_every_row_and_the_copy_takes_new_rows(tmp_path):
    source_app = create_app({"TESTING": True, "SECRET_KEY": "test",
                             "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'source.db'}"})
    with source_app.app_context():
        demo.load_demo(db.session)
        li = create_user(db.session, "李雷", "password1")
        admin = create_user(db.session, "admin", "password1", "admin")
        create_token(db.session, li, "script")
        paragraphs = db.session.scalars(select(Paragraph.id).order_by(Paragraph.id).limit(3)).all()
        for paragraph_id in paragraphs:
            save_annotation(db.session, paragraph_id, li.id, "claim", "笔记 note")
        save_annotation(db.session, paragraphs[0], li.id, "evidence")  # makes history
        set_gold(db.session, db.session.get(Paragraph, paragraphs[1]), "other", admin.id)
        li_id = li.id
        before = _rows(db.engine)
    if ON_POSTGRES:
        reset_postgres(TEST_DATABASE_URL)
        target_url = TEST_DATABASE_URL
    else:
        target_url = f"sqlite:///{tmp_path / 'target.db'}"

    result = source_app.test_cli_runner().invoke(args=["copy-database", target_url])
    assert result.exit_code == 0, result.output
    assert "paragraph: 124 rows" in result.output

    target_app = create_app({"TESTING": True, "SECRET_KEY": "test",
                             "SQLALCHEMY_DATABASE_URI": target_url})
    with target_app.app_context():
        after = _rows(db.engine)
        assert after == before
        assert all(before[name] for name in ("user", "article", "annotation", "annotation_history",
                                             "gold", "api_token", "label"))
        newcomer = create_user(db.session, "newcomer", "password1")  # ids continue past the copy
        assert newcomer.id > max(row[0] for row in before["user"])
        assert db.session.scalar(select(User.username).where(User.id == li_id)) == "李雷"
        db.engine.dispose()

    again = source_app.test_cli_runner().invoke(args=["copy-database", target_url])
    assert again.exit_code != 0 and "not empty" in again.output
    with source_app.app_context():
        db.engine.dispose()


@pytest.mark.skipif(not ON_POSTGRES, reason="only PostgreSQL refuses NUL characters in text")
def test_copy_database_names_text_with_nul_and_can_strip_it(tmp_path):
    """Notes saved before NUL was refused: the copy names each one and writes nothing, or,
    with --strip-nul, copies them without it and says so."""
    source_app = create_app({"TESTING": True, "SECRET_KEY": "test",
                             "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'source.db'}"})
    with source_app.app_context():
        demo.load_demo(db.session)
        li = create_user(db.session, "li", "password1")
        first, second = db.session.scalars(select(Paragraph.id).order_by(Paragraph.id).limit(2))
        save_annotation(db.session, first, li.id, "claim", "a\x00b")
        save_annotation(db.session, second, li.id, "claim", "fine")
        annotation_id = db.session.scalar(select(Annotation.id).where(Annotation.paragraph_id == first))
    reset_postgres(TEST_DATABASE_URL)

    refused = source_app.test_cli_runner().invoke(args=["copy-database", TEST_DATABASE_URL])
    assert refused.exit_code != 0
    assert "1 text value holds a NUL character" in refused.output
    assert f"annotation row {annotation_id}: note" in refused.output
    assert "--strip-nul" in refused.output
    target_app = create_app({"TESTING": True, "SECRET_KEY": "test",
                             "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL})
    with target_app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 0  # nothing was written
        db.engine.dispose()

    stripped = source_app.test_cli_runner().invoke(
        args=["copy-database", TEST_DATABASE_URL, "--strip-nul"])
    assert stripped.exit_code == 0, stripped.output
    assert f"warning: removed NUL characters: annotation row {annotation_id}: note" in stripped.output
    with target_app.app_context():
        assert db.session.scalars(select(Annotation.note).order_by(Annotation.id)).all() == [
            "ab", "fine"]
        db.engine.dispose()
    with source_app.app_context():
        db.engine.dispose()

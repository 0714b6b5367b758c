"""Suggestions through the API on a real database: the source of every annotation (single
save, batch, undo, history, export), external suggestions, the project's threshold and off
switch, and the migration that added them."""
from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import select, text

from annotator import create_app
from annotator.database import MIGRATIONS_DIR
from annotator.extensions import db
from annotator.models import Annotation, AnnotationHistory, Article, Paragraph
from annotator.services.text import site_of, text_key

from testdb import database_url


def test_text_key_equal_for_width_case_whitespace_and_digits():
    assert text_key("上一篇：电池回收 2024") == text_key("上一篇： 电池回收\u30001999")
    assert text_key("ＲＥＬＡＴＥＤ  News 12") == text_key("related news 99")
    assert text_key("related news") != text_key("related views")
    assert len(text_key("x")) == 16


def test_site_of_prefers_meta_then_host_then_nothing():
    assert site_of({"site": "新浪财经"}, "https://finance.sina.com.cn/a") == "新浪财经"
    assert site_of({"site": "  "}, "https://WWW.Example.COM:8080/a?b") == "example.com"
    assert site_of(None, "http://[bad") == ""
    assert site_of({}, None) == ""


def test_the_migration_fills_sites_text_keys_and_sources(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "AUTO_MIGRATE": False,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision="0004")
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO \"user\" (id, username, password_hash, role, active, created_at) "
                "VALUES (1, 'ann', 'x', 'annotator', true, '2026-11-01 00:00:00')"))
            connection.execute(text(
                "INSERT INTO project (id, name, description, guidelines, overlap, created_at) "
                "VALUES (1, 'old', '', '', 1, '2026-11-01 00:00:00')"))
            connection.execute(text(
                "INSERT INTO article (id, project_id, article_id, title, url, meta, content_hash,"
                " paragraph_count, created_at) VALUES "
                "(1, 1, 'a', 'A', 'https://www.Example.com/a', :m1, 'h1', 2, '2026-11-01'),"
                "(2, 1, 'b', 'B', 'https://example.com/b', :m2, 'h2', 1, '2026-11-01'),"
                "(3, 1, 'c', 'C', NULL, '{}', 'h3', 0, '2026-11-01')"),
                {"m1": '{}', "m2": '{"site": "新浪"}'})
            connection.execute(text(
                "INSERT INTO paragraph (id, article_id, \"index\", text) VALUES "
                "(1, 1, 0, '相关文章 1'), (2, 1, 1, 'Body.'), (3, 2, 0, '相关文章  2')"))
            connection.execute(text(
                "INSERT INTO annotation (id, paragraph_id, user_id, label, created_at, updated_at)"
                " VALUES (1, 1, 1, 'boilerplate', '2026-11-01', '2026-11-01')"))
            connection.execute(text(
                "INSERT INTO annotation_history (id, paragraph_id, user_id, label, valid_from,"
                " replaced_at) VALUES (1, 1, 1, 'other', '2026-11-01', '2026-11-01')"))
        upgrade(directory=str(MIGRATIONS_DIR))
        sites = dict(db.session.execute(select(Article.article_id, Article.site)).all())
        assert sites == {"a": "example.com", "b": "新浪", "c": ""}
        keys = dict(db.session.execute(select(Paragraph.id, Paragraph.text_key)).all())
        assert keys == {1: text_key("相关文章 1"), 2: text_key("Body."), 3: text_key("相关文章 2")}
        assert keys[1] == keys[3]
        assert db.session.scalars(select(Annotation.source)).all() == ["human"]
        assert db.session.scalars(select(AnnotationHistory.source)).all() == ["human"]
        db.session.remove()
        db.engine.dispose()

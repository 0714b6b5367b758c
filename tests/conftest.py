"""Fixtures: a real app on a real database per test (a SQLite file, or the PostgreSQL server
named by ANNOTATOR_TEST_DATABASE_URL), its client and CLI runner."""
from __future__ import annotations

import pytest

from annotator import create_app
from annotator.extensions import db
from annotator.suggest.training import stop_background

from testdb import database_url


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test",
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    yield app
    stop_background(app)  # a test that turned it on: no thread outlives its database
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A database session inside an app context, for calling services directly."""
    with app.app_context():
        yield db.session

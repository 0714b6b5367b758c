"""Fixtures: a real app on a real database per test (a SQLite file, copied from one migrated
once per run, or the PostgreSQL server named by ANNOTATOR_TEST_DATABASE_URL), its client and
CLI runner."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from annotator import create_app, security
from annotator.extensions import db
from annotator.suggest.training import stop_background

from testdb import ON_POSTGRES, create_worker_database, migrated_database_url


def pytest_configure(config):
    if ON_POSTGRES:
        create_worker_database()  # under pytest-xdist, this worker's own database


def pytest_collection_modifyitems(items):
    """Files with a `slow` test first (their order otherwise kept), so that under pytest-xdist
    the longest ones start at once instead of finishing last on one worker."""
    heavy = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in heavy)


SHIPPED_HASHER = security._hasher


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """In this process, passwords are hashed with Argon2id at its lowest cost (some 2 ms, not
    the shipped 50-200 ms, for each of the suite's thousands of sign-ins and new users). The
    same code runs; servers started as processes keep the shipped cost, and so does a test
    that asks for `shipped_password_cost`; test_password_cost.py checks the shipped one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                          parallelism=1))
        security._dummy_hash.cache_clear()
        yield
    security._dummy_hash.cache_clear()


@pytest.fixture
def shipped_password_cost(monkeypatch):
    """The shipped Argon2 cost, for a test that times sign-ins (request it before `app`)."""
    monkeypatch.setattr(security, "_hasher", SHIPPED_HASHER)
    security._dummy_hash.cache_clear()
    yield
    security._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """A SQLite database migrated to the newest schema once per run (per xdist worker); each
    `app` starts from a copy of it. None on PostgreSQL, where every app migrates."""
    if ON_POSTGRES:
        return None
    path = tmp_path_factory.mktemp("template") / "template.db"
    template = create_app({"TESTING": True, "SECRET_KEY": "test",
                           "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with template.app_context():
        db.engine.dispose()
    return path


@pytest.fixture
def app(tmp_path, migrated_template):
    app = create_app({"TESTING": True, "SECRET_KEY": "test",
                      "SQLALCHEMY_DATABASE_URI": migrated_database_url(tmp_path, migrated_template)})
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

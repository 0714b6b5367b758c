"""The app itself: configuration, database and commands, and (but for the app's own
commands) the pages."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import ROOT, UnusableDatabase, cli, collector_waiting

with collector_waiting():  # SQLAlchemy, the models
    from flask import Flask

    from . import config, database, models  # noqa: F401 (models: db.metadata's tables)
    from .extensions import db
    from .services.backup import unusable_reason


class App(Flask):
    """Flask, asking once per function whether it is a coroutine: Flask asks on every call
    of a hook or view, a dozen times a request (a twentieth of a label save's Python calls)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync: dict = {}  # function -> what Flask's ensure_sync gives for it

    def ensure_sync(self, func):
        found = self._sync.get(func)
        if found is None:
            found = self._sync[func] = super().ensure_sync(func)
        return found


def build(test_config: Mapping[str, Any] | None, command: str | None) -> Flask:
    """create_app's app for `command`, the `flask` subcommand running (None: no command)."""
    app = App("annotator", instance_path=str(ROOT / "instance"),
              template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.from_object(config.Defaults)
    if test_config is None:
        app.config.from_prefixed_env("ANNOTATOR")
    else:
        app.config.update(test_config)
    config.finish(app)
    database.sqlite_engine_options(app)
    db.init_app(app)
    database.configure_sqlite(app)
    cli.init_app(app)
    if command not in cli.NAMES:  # a server, a test, `flask run`, `flask shell`
        from . import pages
        pages.init_app(app)
    if app.config["AUTO_MIGRATE"] and command != "db":  # `flask db` migrates by itself
        with app.app_context():
            if not _database_usable(command):  # a damaged file that `flask restore` replaces
                return app
            database.upgrade_database()
            database.refresh_statistics(db.engine)
            db.engine.dispose()  # no connection crosses a fork (gunicorn --preload)
    return app


def _database_usable(command: str | None) -> bool:
    """False for a damaged SQLite file when the command is `flask restore`, which replaces it;
    a damaged file otherwise stops the start with a message saying how to recover."""
    if db.engine.dialect.name != "sqlite" or not db.engine.url.database:
        return True
    path = Path(db.engine.url.database)
    reason = unusable_reason(path)
    if reason is None:
        return True
    if command == "restore":  # it replaces the file
        return False
    shown = os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else path
    raise UnusableDatabase(f"{shown} is not a usable SQLite database ({reason}): restore a "
                           "backup with `flask restore FILE`")

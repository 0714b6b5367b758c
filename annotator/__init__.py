"""annotator: label the paragraphs of scraped web articles in a browser."""
from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Importing the app and SQLAlchemy makes some 300,000 long-lived objects and next to no
# garbage; the collector, running every 700 of them, cost a command's start 10% of its CPU.
# So it waits, and what the import made is frozen out of its sight (gunicorn.conf.py freezes
# the loaded app again before it forks).
_COLLECTING = gc.isenabled()
gc.disable()
try:
    import click
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import (admin, annotate, api, auth, calibration, cli, config, dashboard, database,
                   i18n, inputs, quality, review, web)
    from .extensions import csrf, db, login_manager
    from .services.backup import unusable_reason
    from .suggest import training
finally:
    gc.freeze()
    if _COLLECTING:
        gc.enable()

ROOT = Path(__file__).resolve().parent.parent  # the repository root
# Imported by the pages and commands that use them, not at every start (issue 11); a server
# imports them once before it forks (gunicorn.conf.py), so its workers share them.
DEFERRED_MODULES = ("annotator.services.agreement_report", "annotator.services.span_agreement",
                    "annotator.services.dashboard", "annotator.charts",
                    "annotator.services.quality",
                    # the suggestions' model (suggest/model.py): a worker's first retraining
                    # imported them itself, a second of CPU in each worker
                    "sklearn.feature_extraction.text", "sklearn.linear_model",
                    "sklearn.preprocessing")


def import_deferred_modules() -> None:
    """Import what the start leaves to the pages that use it (DEFERRED_MODULES)."""
    for name in DEFERRED_MODULES:
        importlib.import_module(name)


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


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; tests pass their own config and skip the environment."""
    app = App(__name__, instance_path=str(ROOT / "instance"),
                template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.from_object(config.Defaults)
    if test_config is None:
        app.config.from_prefixed_env("ANNOTATOR")
    else:
        app.config.update(test_config)
    config.finish(app)
    database.sqlite_engine_options(app)
    register_extensions(app)
    database.configure_sqlite(app)
    database.init_requests(app)
    inputs.init_app(app)  # before any route: its id converter bounds every <int:...>
    register_blueprints(app)
    web.init_app(app)
    cli.init_app(app)
    training.init_app(app)  # the suggestions' background thread, with the first request
    if app.config["BEHIND_PROXY"]:  # trust one proxy's X-Forwarded-For/-Proto/-Host
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    if app.config["AUTO_MIGRATE"] and _flask_command() not in ("db", "") and not _help_only():
        with app.app_context():
            if not _database_usable(app):  # a damaged file that `flask restore` replaces
                return app
            database.upgrade_database()
            database.refresh_statistics(db.engine)
            db.engine.dispose()  # no connection crosses a fork (gunicorn --preload)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    app.cli.add_command(database.MigrationCommands("db", help="Perform database migrations."))
    csrf.init_app(app)
    login_manager.init_app(app)
    i18n.babel.init_app(app, locale_selector=i18n.select_locale,
                        default_translation_directories=str(Path(__file__).parent / "translations"))


def register_blueprints(app: Flask) -> None:
    for blueprint in (auth.bp, annotate.bp, admin.bp, api.bp, i18n.bp, dashboard.bp, review.bp,
                      quality.bp, calibration.bp):
        app.register_blueprint(blueprint)


class UnusableDatabase(click.ClickException, RuntimeError):
    """The SQLite file cannot be read. A ClickException, so `flask` commands print the message
    and exit 1; a RuntimeError, so gunicorn does the same (`Error: ...`), without a traceback."""


def _database_usable(app: Flask) -> bool:
    """False for a damaged SQLite file when the command is `flask restore`, which replaces it;
    a damaged file otherwise stops the start with a message saying how to recover."""
    if db.engine.dialect.name != "sqlite" or not db.engine.url.database:
        return True
    path = Path(db.engine.url.database)
    reason = unusable_reason(path)
    if reason is None:
        return True
    if _flask_command() == "restore":  # it replaces the file (help never gets here)
        return False
    shown = os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else path
    raise UnusableDatabase(f"{shown} is not a usable SQLite database ({reason}): restore a "
                           "backup with `flask restore FILE`")


def _help_only() -> bool:
    """`flask COMMAND --help`: help needs no database, so no migration check."""
    return _flask_command() is not None and "--help" in sys.argv[1:]


def _flask_command() -> str | None:
    """The `flask` subcommand this process runs (`db`, `restore`, ...; "" for none), or None
    outside `flask` (gunicorn, tests).

    `flask db ...` manages migrations itself: never migrate behind its back."""
    if Path(sys.argv[0]).name != "flask":
        return None
    arguments = iter(sys.argv[1:])
    for argument in arguments:
        if argument in ("-A", "--app", "-e", "--env-file"):
            next(arguments, None)  # the option's value
        elif not argument.startswith("-"):
            return argument
    return ""

"""annotator: label the paragraphs of scraped web articles in a browser."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import admin, annotate, api, auth, cli, config, dashboard, database, i18n, review, web
from .extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent  # the repository root


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; tests pass their own config and skip the environment."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"),
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
    register_blueprints(app)
    web.init_app(app)
    cli.init_app(app)
    if app.config["BEHIND_PROXY"]:  # trust one proxy's X-Forwarded-For/-Proto/-Host
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    if app.config["AUTO_MIGRATE"] and not _running_db_command():
        with app.app_context():
            database.upgrade_database()
            database.refresh_statistics(db.engine)
            db.engine.dispose()  # no connection crosses a fork (gunicorn --preload)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(database.MIGRATIONS_DIR), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    i18n.babel.init_app(app, locale_selector=i18n.select_locale,
                        default_translation_directories=str(Path(__file__).parent / "translations"))


def register_blueprints(app: Flask) -> None:
    for blueprint in (auth.bp, annotate.bp, admin.bp, api.bp, i18n.bp, dashboard.bp, review.bp):
        app.register_blueprint(blueprint)


def _running_db_command() -> bool:
    """`flask db ...` manages migrations itself: never migrate behind its back."""
    return len(sys.argv) > 1 and Path(sys.argv[0]).name == "flask" and sys.argv[1] == "db"

"""The web layer, a server's and not a command's: blueprints, sign-in, CSRF, translations,
request hooks and the suggestions' background thread."""
from __future__ import annotations

from pathlib import Path

from . import collector_waiting

with collector_waiting():  # the blueprints, WTForms, Flask-Babel, Flask-Login, Argon2
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import (admin, annotate, api, auth, calibration, dashboard, database, i18n, inputs,
                   quality, review, web)
    from .suggest import training

BLUEPRINTS = (auth.bp, annotate.bp, admin.bp, api.bp, i18n.bp, dashboard.bp, review.bp,
              quality.bp, calibration.bp)


def init_app(app: Flask) -> None:
    auth.csrf.init_app(app)
    auth.login_manager.init_app(app)
    i18n.babel.init_app(app, locale_selector=i18n.select_locale,
                        default_translation_directories=str(Path(__file__).parent / "translations"))
    database.init_requests(app)
    inputs.init_app(app)  # before any route: its id converter bounds every <int:...>
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    web.init_app(app)
    training.init_app(app)  # the suggestions' background thread, with the first request
    if app.config["BEHIND_PROXY"]:  # trust one proxy's X-Forwarded-For/-Proto/-Host
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

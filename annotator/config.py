"""Configuration: defaults, then ANNOTATOR_* environment variables, then derived values."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask


class Defaults:
    """Settings every install starts from; ANNOTATOR_<NAME> overrides <NAME>."""

    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    DATABASE_URL: str | None = None
    SECRET_KEY: str | None = None
    MAX_UPLOAD_MB = 64
    BACKGROUND_IMPORT_MB = 8  # a web upload this large is imported in the background
    MAX_BODY_KB = 1024  # every request body but an import upload (label saves, forms): 413 beyond
    MAX_NOTE_CHARS = 4000  # a paragraph note, in characters (each change is kept in history)
    ARTICLE_HTML_PARAGRAPHS = 200  # the article page's paragraphs sent as HTML; a longer
    # article's others are sent as data and drawn by the page (static/js/paragraph.js)
    WTF_CSRF_CHECK_DEFAULT = False  # checked in a before_request, skipped for bearer tokens
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_DURATION = timedelta(days=14)  # "keep me signed in"; seconds from the env
    REMEMBER_COOKIE_SAMESITE = "Lax"
    AUTO_MIGRATE = True
    RELEASE_AFTER_MINUTES = 120  # an unfinished article labeled in, then left, is freed after this
    CLAIM_MINUTES = 10  # an article handed out by Start and not labeled in is freed after this
    WRITE_WAIT_SECONDS = 5  # a writer waits this long for the database, then gets a 503
    SQLITE_BUSY_TIMEOUT_MS = 5_000  # the same bound, for waits on writers outside the app
    HTTPS = False  # served over HTTPS: cookies are sent only over it
    BEHIND_PROXY = False  # behind one reverse proxy that sets X-Forwarded-*
    SUGGEST_IN_BACKGROUND: bool | None = None  # retrain and propagate in a daemon thread
    # of each process (docs/suggestions.md); None: on, but off under TESTING unless set


def finish(app: Flask) -> None:
    """Derive the database URI and secret key, creating instance/ where needed."""
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            app.config.get("DATABASE_URL") or f"sqlite:///{instance / 'annotator.db'}"
        )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(instance / "secret_key")
    if app.config["HTTPS"]:
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    app.config["MAX_CONTENT_LENGTH"] = int(float(app.config["MAX_UPLOAD_MB"]) * 1024 * 1024)


def _instance_secret_key(path: Path) -> str:
    """Read the key kept in instance/, generating it (readable by the owner only) once."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key

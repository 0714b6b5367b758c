"""What every request and response gets: the body read before any query, security headers,
and error pages (HTML, or JSON under /api), a busy database included (503)."""
from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path
from urllib.parse import quote

from flask import Flask, current_app, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, ServiceUnavailable
from werkzeug.wsgi import LimitedStream

from .database import RETRY_AFTER_SECONDS, WRITE_INTENT, DatabaseBusy, is_locked_error
from .extensions import db
from .inputs import FORM_TYPES, UPLOAD_ENDPOINTS, too_large_message
from .services.messages import Text

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
])
HSTS = "max-age=31536000"  # with ANNOTATOR_HTTPS: a year of HTTPS only, this host alone
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def init_app(app: Flask) -> None:
    # First of all before_request functions: before sign-in or CSRF checks run a query.
    app.before_request_funcs.setdefault(None, []).insert(0, read_body_first)
    versioned_static(app)
    app.after_request(_security_headers)
    app.after_request(_compressed)
    app.jinja_env.tests["match_color"] = lambda value: bool(re.fullmatch(r"#[0-9a-fA-F]{6}", value or ""))
    app.jinja_env.tests["web_url"] = lambda value: bool(re.match(r"https?://", value or "", re.I))
    app.register_error_handler(HTTPException, error_page)
    app.register_error_handler(DatabaseBusy, _database_busy)
    app.register_error_handler(OperationalError, _database_busy)


def read_body_first() -> None:
    """Read a state-changing request's whole body, within the route's limit, before anything
    queries the database: no transaction, so no write lock, stays open while a slow client
    sends it. Forms are parsed (an import's file written to disk as it arrives), an import's
    raw body is copied to a temporary file (request.body_file), other bodies kept for
    get_data(). A chunked body is refused (413) as soon as it runs past the limit, never cut
    to fit."""
    if request.method in SAFE_METHODS:
        return
    form = request.mimetype in FORM_TYPES
    if request.endpoint in UPLOAD_ENDPOINTS and not form:
        # A raw upload (up to MAX_UPLOAD_MB) is only read for a signed-in caller, whose
        # sign-in check, a read, is ended before the body is read.
        if not current_user.is_authenticated:
            return  # 401, the body unread
        db.session.commit()
        request.body_file()
    else:
        request.get_data(parse_form_data=form)
    stream = request.stream  # werkzeug stops a chunked body at the limit, silently:
    if (request.content_length is None and isinstance(stream, LimitedStream)
            and stream.is_exhausted and request.environ["wsgi.input"].read(1)):
        raise RequestEntityTooLarge()  # one byte more is there, so the body is over it


STATIC_MAX_AGE = 365 * 24 * 3600  # a versioned static file: cached a year, never revalidated


def versioned_static(app: Flask) -> None:
    """Static files also under /static/v/<version>/, the version a hash of the whole static
    tree taken at start, and url_for("static") building those URLs: a browser keeps them a year
    without asking again (no 304 round trip per file per page), and a changed file is a new
    URL. The version is in the path, so an ES module's relative imports stay versioned too.
    /static/<file> keeps working, revalidated as before. In debug mode, plain URLs (a file
    edited while the server runs must show at the next load)."""
    folder = Path(app.static_folder)
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    version = app.config["STATIC_VERSION"] = digest.hexdigest()[:12]
    app.add_url_rule("/static/v/<version>/<path:filename>", endpoint="static")
    app.view_functions["static"] = _static_file
    if app.debug:
        return

    @app.url_defaults
    def _versioned(endpoint: str, values: dict) -> None:
        if endpoint == "static":
            values.setdefault("version", version)


def _static_file(filename: str, version: str | None = None):
    """A static file; under the current version's URL, `immutable` for a year. An older
    version's URL (a page from before a restart) gets today's file, revalidated."""
    response = current_app.send_static_file(filename)
    if version is not None and version == current_app.config["STATIC_VERSION"]:
        cache_for_a_year(response, public=True)
    return response


def cache_for_a_year(response, public: bool):
    """Cache-Control for a response whose URL changes with its content (`private`: only the
    caller's browser keeps it)."""
    cache = response.cache_control
    cache.no_cache = None
    cache.public, cache.private = (True, None) if public else (None, True)
    cache.max_age, cache.immutable = STATIC_MAX_AGE, True


SECURITY_HEADERS = (("Content-Security-Policy", CONTENT_SECURITY_POLICY),
                    ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
                    ("X-Frame-Options", "DENY"))


def _security_headers(response):
    """Each of SECURITY_HEADERS (and HSTS with ANNOTATOR_HTTPS) unless the view set its own:
    one look at the response's headers, not one search per header."""
    headers = response.headers
    own = {key.lower() for key in headers.keys()}
    wanted = SECURITY_HEADERS
    if current_app.config["HTTPS"]:
        wanted += (("Strict-Transport-Security", HSTS),)
    for key, value in wanted:
        if key.lower() not in own:
            headers.add(key, value)
    return response


COMPRESS_FROM_BYTES = 32 * 1024


def _compressed(response):
    """A large HTML page gzip-compressed for a browser that takes it (a 1,500-paragraph
    article: 0.77 MB, ~0.2 MB sent); streamed responses (exports) and small pages as they are.
    Against BREACH (guessing the page's CSRF token from compressed sizes while reflecting
    guesses into the page), only a GET without a query string is compressed: such a page
    holds stored data and the path's ids, nothing a request can vary."""
    if (response.status_code != 200 or response.mimetype != "text/html" or response.is_streamed
            or response.direct_passthrough or "Content-Encoding" in response.headers
            or request.method != "GET" or request.query_string):
        return response
    response.vary.add("Accept-Encoding")
    if "gzip" not in request.accept_encodings or (response.content_length or 0) < COMPRESS_FROM_BYTES:
        return response
    response.set_data(gzip.compress(response.get_data(), compresslevel=4))
    response.headers["Content-Encoding"] = "gzip"
    return response


def _database_busy(error: Exception):
    """A writer that waited too long for the database (the writers' queue, or SQLite's busy
    timeout): 503 with Retry-After, nothing written. Other database errors stay 500s."""
    if not isinstance(error, DatabaseBusy) and not is_locked_error(error):
        raise error
    db.session.rollback()
    WRITE_INTENT.set(False)  # the error page's own reads must not queue for the lock again
    if request.path.startswith("/api/"):
        if not isinstance(error, DatabaseBusy):
            error = DatabaseBusy("ANNOTATOR_SQLITE_BUSY_TIMEOUT_MS")
        message = error.message
    else:
        message = _("The database is busy with other changes. Try again in a moment.")
    response = make_response(error_page(ServiceUnavailable(message)))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def error_page(error: HTTPException):
    """JSON under /api (401 before 404 for callers who are not signed in), else a page."""
    if request.path.startswith("/api/"):
        code = error.code
        if code in (404, 405) and not current_user.is_authenticated:
            code, message = 401, "not signed in: send a session cookie or a bearer token"
        elif code == 413:
            message = too_large_message()
        else:
            message = error.description or error.name
        if isinstance(error, CSRFError):  # the page is stale (a new session): it keeps its changes
            return jsonify(error=message, reason="csrf"), code
        return jsonify(error=message), code
    title, explanation = _page_text(error)
    return render_template("errors/error.html", error=error, title=title,
                           explanation=explanation), error.code


def _page_text(error: HTTPException) -> tuple[str, str]:
    """An error page's title and explanation in the UI's language (werkzeug's are English):
    a message of ours (services.messages.Text) is shown translated, werkzeug's default
    description is replaced with ours for its status."""
    from .i18n import translated  # i18n imports this module

    titles = {400: _("Bad request"), 403: _("Not allowed"), 404: _("Not found"),
              405: _("Not allowed here"), 413: _("Too large"), 429: _("Too many requests"),
              503: _("Busy")}
    explanations = {
        400: _("The request could not be understood."),
        403: _("Your account may not open this page. Ask an admin if you need it."),
        404: _("There is nothing at this address: the link may be old or mistyped."),
        405: _("This address does not take that kind of request."),
        429: _("Too many attempts. Wait a moment and try again."),
        503: _("The server is busy. Try again in a moment."),
    }
    title = titles.get(error.code, _("Error"))
    if error.code == 413:  # our message names the limit and how an admin raises it
        return title, translated(too_large_message())
    if isinstance(error, CSRFError):
        return title, _("The form has expired or came from elsewhere: reload the page and send it again.")
    if isinstance(error.description, Text) or error.description != type(error).description:
        return title, translated(error.description)  # our own message
    return title, explanations.get(error.code, _("Something went wrong."))


def file_name(text: str, fallback: str) -> str:
    """`text` as one file name: path separators, quotes and control characters become `-`,
    leading and trailing dots and spaces go (no `..`, no hidden file); `fallback` if empty."""
    return re.sub(r'[\x00-\x1f\x7f/\\"]', "-", text).strip(" .") or fallback


def attachment(filename: str, fallback: str) -> str:
    """A Content-Disposition header that downloads as file_name(filename), any script (RFC
    6266: `filename*=UTF-8''...`), with `fallback` (ASCII) for clients without RFC 5987."""
    name = file_name(filename, fallback)
    ascii_name = name if re.fullmatch(r"[A-Za-z0-9 ._()+-]+", name) else fallback
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def local_path(target: str) -> str | None:
    """The target if it is a path on this site, else None. Browsers drop tabs and newlines
    and read a backslash as a slash, so "/", a tab, "/evil.example" would leave the site."""
    if any(char == "\\" or ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    return target if target.startswith("/") and not target.startswith("//") else None

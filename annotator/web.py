"""What every response gets: security headers, and error pages (HTML, or JSON under /api)."""
from __future__ import annotations

import re

from flask import Flask, jsonify, render_template, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from .inputs import too_large_message

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
])


def init_app(app: Flask) -> None:
    app.after_request(_security_headers)
    app.jinja_env.tests["match_color"] = lambda value: bool(re.fullmatch(r"#[0-9a-fA-F]{6}", value or ""))
    app.jinja_env.tests["web_url"] = lambda value: bool(re.match(r"https?://", value or "", re.I))
    app.register_error_handler(HTTPException, _error_page)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _error_page(error: HTTPException):
    """JSON under /api (401 before 404 for callers who are not signed in), else a page."""
    if request.path.startswith("/api/"):
        code = error.code
        if code in (404, 405) and not current_user.is_authenticated:
            code, message = 401, "not signed in: send a session cookie or a bearer token"
        elif code == 413:
            message = too_large_message()
        else:
            message = error.description or error.name
        return jsonify(error=message), code
    return render_template("errors/error.html", error=error), error.code


def local_path(target: str) -> str | None:
    """The target if it is a path on this site, else None. Browsers drop tabs and newlines
    and read a backslash as a slash, so "/", a tab, "/evil.example" would leave the site."""
    if any(char == "\\" or ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    return target if target.startswith("/") and not target.startswith("//") else None

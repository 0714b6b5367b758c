"""Helpers for tests that go through the web app: users, sign-in, CSRF tokens, API tokens,
and articles imported through the real import service."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable

from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Article, Paragraph, Project, User
from annotator.services.importing import ImportReport, Source, import_sources
from annotator.services.users import create_token, create_user

PASSWORD = "correct horse battery"

# The project settings form as the page posts it, with the default label set unchanged
SETTINGS_FORM = {
    "description": "", "guidelines": "", "overlap": "1",
    "label_key": ["claim", "evidence", "boilerplate", "other"],
    "label_name": ["Claim", "Evidence", "Boilerplate", "Other"],
    "label_color": ["#d9480f", "#1971c2", "#868e96", "#2f9e44"],
    "label_hotkey": ["1", "2", "3", "4"],
    "label_description": ["", "", "", ""],
}

_HIDDEN_CSRF = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]*)"')
_META_CSRF = re.compile(r'<meta\s+name="csrf-token"\s+content="([^"]*)"')


def make_user(app, name: str, role: str = "annotator", password: str = PASSWORD) -> int:
    """Create a user through the users service; returns the user's id."""
    with app.app_context():
        return create_user(db.session, name, password, role).id


def hidden_csrf_token(html: str) -> str:
    """The value of a page's hidden `csrf_token` input."""
    field = _HIDDEN_CSRF.search(html)
    assert field, "no csrf_token input on the page"
    value = _VALUE.search(field.group(0))
    assert value and value.group(1), "the csrf_token input has no value"
    return value.group(1)


def login(client, name: str, password: str = PASSWORD, *, remember: bool = False):
    """Sign in through the login form (GET it, read its CSRF token, POST); returns the
    response to the POST, not followed."""
    page = client.get("/login")
    assert page.status_code == 200, page.status_code
    data = {"csrf_token": hidden_csrf_token(page.get_data(as_text=True)),
            "username": name, "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's <meta name="csrf-token">."""
    page = client.get(path, follow_redirects=True)
    found = _META_CSRF.search(page.get_data(as_text=True))
    assert found and found.group(1), f"no csrf-token meta tag on {path}"
    return found.group(1)


def csrf_headers(client, path: str = "/login") -> dict[str, str]:
    """Headers for a state change by the page's own fetch calls: {"X-CSRFToken": token}."""
    return {"X-CSRFToken": csrf_token(client, path)}


def api_token(app, name: str, token_name: str = "") -> str:
    """A new API token for the named user, issued by the users service."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == name))
        assert user is not None, f"no user {name!r}"
        return create_token(db.session, user, token_name)


def bearer(app, name: str) -> dict[str, str]:
    """Authorization header with a new API token for the named user."""
    return {"Authorization": f"Bearer {api_token(app, name)}"}


def jsonl(records: Iterable[dict]) -> bytes:
    """Records as JSONL bytes, non-ASCII characters written as themselves."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()


def import_articles(app, project: str, records: Iterable[dict]) -> ImportReport:
    """Import records (dicts of the jsonl format) through the import service; all must be
    stored."""
    with app.app_context():
        report = import_sources(db.session, project,
                                [Source("test.jsonl", jsonl(records), "jsonl")])
    assert report.stored and not report.errors, report.errors
    return report


def project_id(app, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Project.id).where(Project.name == name))
    assert found is not None, f"no project {name!r}"
    return found


def article_pks(app, project: str) -> list[int]:
    """The project's article ids (primary keys) in import order."""
    with app.app_context():
        return list(db.session.scalars(
            select(Article.id).join(Project).where(Project.name == project).order_by(Article.id)))


def paragraph_pks(app, article_pk: int) -> list[int]:
    """An article's paragraph ids in index order."""
    with app.app_context():
        return list(db.session.scalars(
            select(Paragraph.id).where(Paragraph.article_id == article_pk)
            .order_by(Paragraph.index)))


def user_id(app, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.username == name))
    assert found is not None, f"no user {name!r}"
    return found

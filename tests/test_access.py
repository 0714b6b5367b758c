"""Who may do what (SPEC "Users and access", "JSON API"): every route x every kind of caller,
first-run setup, password resets ending sessions (throttling: test_login_throttle.py)."""
from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from annotator import create_app
from annotator.extensions import db
from annotator.models import ApiToken, Assignment, ImportJob, Project, User
from annotator.security import hash_password, hash_token
from annotator.services import members, queue

from helpers import (PASSWORD, SETTINGS_FORM, api_token, article_pks, csrf_headers, csrf_token,
                     hidden_csrf_token, import_articles, jsonl, login, make_user, paragraph_pks,
                     project_id, user_id)
from testdb import database_url

# --- the route table ---------------------------------------------------------------------

PUBLIC = "public"            # the same answer for everyone
PAGE = "page"                # any signed-in user; anonymous -> 302 /login
ADMIN_PAGE = "admin page"    # admins; other users 403; anonymous -> 302 /login
REVIEW_PAGE = "review page"  # admins and reviewers; other users 403; anonymous -> 302 /login
API = "api"                  # any signed-in user; anonymous -> 401
GOLD_API = "gold api"        # admins and reviewers; other users 403; anonymous -> 401
ADMIN_API = "admin api"      # admins; other users 403; anonymous -> 401



@dataclass(frozen=True)
class Route:
    method: str
    rule: str            # as in app.url_map
    kind: str
    ok: int              # the status for a caller who is allowed
    to: str | None = None  # where an allowed 302 goes (a path prefix)
    url: str | None = None  # the URL to call, formatted with the targets; default: the rule
    json: Any = None     # a JSON body (or a callable of the targets)
    data: Any = None     # form data (a callable of the targets for fresh values)
    body: bytes | None = None
    content_type: str | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.rule}"


def _new_name(prefix: str):
    counter = itertools.count()
    return lambda t: f"{prefix}{next(counter)}-{t['n']}"


ROUTES = [
    # pages anyone can reach
    Route("GET", "/login", PUBLIC, 200),
    Route("POST", "/login", PUBLIC, 200, data={}),  # an empty form: shown again, nothing recorded
    Route("POST", "/logout", PUBLIC, 302, to="/login"),
    Route("POST", "/language", PUBLIC, 302, to="/", data={"language": "zh", "next": "/"}),
    Route("GET", "/setup", PUBLIC, 404),
    Route("POST", "/setup", PUBLIC, 404, data={}),
    # pages for signed-in users
    Route("GET", "/", PAGE, 200),
    Route("GET", "/projects/<int:project_id>", PAGE, 200, url="/projects/{project}"),
    Route("GET", "/projects/<int:project_id>/start", PAGE, 302, to="/projects/",
          url="/projects/{project}/start"),
    Route("POST", "/projects/<int:project_id>/start", PAGE, 302, to="/articles/",
          url="/projects/{project}/start", data={}),
    Route("GET", "/projects/<int:project_id>/labels.css", PAGE, 200,
          url="/projects/{project}/labels.css"),
    Route("GET", "/articles/<int:article_id>", PAGE, 200, url="/articles/{article}"),
    Route("GET", "/projects/<int:project_id>/guidelines/versions", PAGE, 200,
          url="/projects/{project}/guidelines/versions"),
    Route("GET", "/projects/<int:project_id>/guidelines/versions/<int:number>", PAGE, 200,
          url="/projects/{project}/guidelines/versions/1"),
    Route("GET", "/projects/<int:project_id>/guidelines/diff", PAGE, 200,
          url="/projects/{project}/guidelines/diff"),
    # admin pages
    Route("GET", "/admin/users", ADMIN_PAGE, 200),
    Route("POST", "/admin/users", ADMIN_PAGE, 302, to="/admin/users",
          data=lambda t: {"username": t["new_name"], "role": "annotator",
                          "password": PASSWORD, "confirm": PASSWORD}),
    Route("POST", "/admin/users/<int:user_id>/password", ADMIN_PAGE, 302, to="/admin/users",
          url="/admin/users/{user}/password",
          data={"password": "a new password", "confirm": "a new password"}),
    Route("POST", "/admin/users/<int:user_id>/role", ADMIN_PAGE, 302, to="/admin/users",
          url="/admin/users/{user}/role", data={"role": "reviewer"}),
    Route("POST", "/admin/users/<int:user_id>/active", ADMIN_PAGE, 302, to="/admin/users",
          url="/admin/users/{user}/active", data={}),
    Route("POST", "/admin/users/<int:user_id>/tokens", ADMIN_PAGE, 200,
          url="/admin/users/{user}/tokens", data={"name": "script"}),
    Route("POST", "/admin/tokens/<int:token_id>/revoke", ADMIN_PAGE, 302, to="/admin/users",
          url="/admin/tokens/{token}/revoke", data={}),
    Route("GET", "/admin/projects/new", ADMIN_PAGE, 200),
    Route("POST", "/admin/projects/new", ADMIN_PAGE, 302, to="/admin/projects/",
          data=lambda t: {"name": t["new_name"]}),
    Route("GET", "/admin/projects/<int:project_id>/settings", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/settings"),
    Route("POST", "/admin/projects/<int:project_id>/settings", ADMIN_PAGE, 302,
          to="/admin/projects/", url="/admin/projects/{project}/settings",
          data={**SETTINGS_FORM, "description": "d", "guidelines": "g"}),
    Route("GET", "/admin/projects/<int:project_id>/import", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/import"),
    Route("POST", "/admin/projects/<int:project_id>/import", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/import",
          data=lambda t: {"fmt": "auto", "split": "line", "file": (io.BytesIO(
              jsonl([{"title": "Up", "paragraphs": [t["new_name"]]}])), "up.jsonl")}),
    Route("GET", "/admin/import-jobs/<int:job_id>", ADMIN_PAGE, 200,
          url="/admin/import-jobs/{job}"),
    Route("GET", "/admin/projects/<int:project_id>/export", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/export"),
    Route("GET", "/admin/projects/<int:project_id>/export/dataset", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/export/dataset?split=a%3D0.5%2Cb%3D0.5"),
    Route("GET", "/admin/projects/<int:project_id>/export.parquet", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/export.parquet"),
    Route("GET", "/admin/projects/<int:project_id>/assignments", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/assignments"),
    Route("POST", "/admin/projects/<int:project_id>/assignments", ADMIN_PAGE, 302,
          to="/admin/projects/", url="/admin/projects/{project}/assignments",
          data=lambda t: {"username": t["user_name"], "first": "1", "last": "2"}),
    Route("POST", "/admin/assignments/<int:assignment_id>/release", ADMIN_PAGE, 302,
          to="/admin/projects/", url="/admin/assignments/{assignment}/release", data={}),
    Route("GET", "/admin/projects/<int:project_id>/dashboard", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/dashboard"),
    Route("GET", "/admin/projects/<int:project_id>/agreement", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/agreement"),
    Route("GET", "/projects/<int:project_id>/quality", PAGE, 200,  # others: their own figures
          url="/projects/{project}/quality"),
    Route("GET", "/projects/<int:project_id>/calibration", PAGE, 200,  # their own rounds
          url="/projects/{project}/calibration"),
    Route("GET", "/articles/<int:article_id>/calibration", PAGE, 404,  # no done round here
          url="/articles/{article}/calibration"),
    Route("GET", "/admin/projects/<int:project_id>/calibration", ADMIN_PAGE, 200,
          url="/admin/projects/{project}/calibration"),
    Route("POST", "/admin/projects/<int:project_id>/calibration", ADMIN_PAGE, 302,
          to="/admin/projects/", url="/admin/projects/{project}/calibration",
          data={"check_rate": "0"}),
    # adjudication
    Route("GET", "/review/projects/<int:project_id>", REVIEW_PAGE, 200,
          url="/review/projects/{project}"),
    # the JSON API
    Route("GET", "/api/openapi.json", API, 200),
    Route("GET", "/api/projects", API, 200),
    Route("GET", "/api/projects/<int:project_id>/articles", API, 200,
          url="/api/projects/{project}/articles"),
    Route("GET", "/api/projects/<int:project_id>/next", API, 200,
          url="/api/projects/{project}/next"),
    Route("POST", "/api/projects/<int:project_id>/next", API, 200,
          url="/api/projects/{project}/next"),
    Route("GET", "/api/articles/<int:article_id>", API, 200, url="/api/articles/{article}"),
    Route("PUT", "/api/articles/<int:article_id>/done", API, 200,
          url="/api/articles/{article}/done"),
    Route("DELETE", "/api/articles/<int:article_id>/done", API, 200,
          url="/api/articles/{article}/done"),
    Route("POST", "/api/articles/<int:article_id>/annotations", API, 200,
          url="/api/articles/{article}/annotations",
          json=lambda t: {"items": [{"paragraph_id": t["paragraph"], "label": "claim"}]}),
    Route("DELETE", "/api/articles/<int:article_id>/annotations", API, 200,
          url="/api/articles/{article}/annotations",
          json=lambda t: {"paragraph_ids": [t["paragraph"]]}),
    Route("PUT", "/api/articles/<int:article_id>/suggestions", ADMIN_API, 200,
          url="/api/articles/{article}/suggestions",
          json=lambda t: {"model": "mine", "items": [
              {"paragraph_id": t["paragraph"], "label": "claim", "confidence": 0.9}]}),
    Route("PUT", "/api/paragraphs/<int:paragraph_id>/annotation", API, 200,
          url="/api/paragraphs/{paragraph}/annotation", json={"label": "claim"}),
    Route("DELETE", "/api/paragraphs/<int:paragraph_id>/annotation", API, 204,
          url="/api/paragraphs/{paragraph}/annotation"),
    Route("PUT", "/api/paragraphs/<int:paragraph_id>/gold", GOLD_API, 200,
          url="/api/paragraphs/{paragraph}/gold", json={"label": "claim"}),
    Route("DELETE", "/api/paragraphs/<int:paragraph_id>/gold", GOLD_API, 204,
          url="/api/paragraphs/{paragraph}/gold"),
    Route("PUT", "/api/paragraphs/<int:paragraph_id>/spans", API, 200,
          url="/api/paragraphs/{paragraph}/spans",
          json={"spans": [{"start": 0, "end": 1, "label": "claim"}]}),
    Route("PUT", "/api/paragraphs/<int:paragraph_id>/gold/spans", GOLD_API, 200,
          url="/api/paragraphs/{paragraph}/gold/spans",
          json={"spans": [{"start": 0, "end": 1, "label": "claim"}]}),
    Route("PUT", "/api/articles/<int:article_id>/links", API, 200,
          url="/api/articles/{article}/links", json={"links": []}),
    Route("PUT", "/api/articles/<int:article_id>/gold/links", GOLD_API, 200,
          url="/api/articles/{article}/gold/links", json={"links": []}),
    Route("POST", "/api/projects/<int:project_id>/import", ADMIN_API, 200,
          url="/api/projects/{project}/import", content_type="application/x-ndjson",
          body=jsonl([{"title": "Raw", "paragraphs": ["raw body"]}])),
    Route("GET", "/api/import-jobs/<int:job_id>", ADMIN_API, 200, url="/api/import-jobs/{job}"),
    Route("GET", "/api/projects/<int:project_id>/export.jsonl", ADMIN_API, 200,
          url="/api/projects/{project}/export.jsonl"),
]

# Not rules of the app: unknown /api paths and missing objects answer 401 before 404.
UNKNOWN_API = [
    Route("GET", "/api/nope", API, 404),
    Route("POST", "/api/nope", API, 404, json={}),
    Route("GET", "/api/projects/999999/articles", API, 404),
    Route("PUT", "/api/paragraphs/999999/annotation", API, 404, json={"label": "claim"}),
    Route("PUT", "/api/paragraphs/999999/spans", API, 404, json={"spans": []}),
    Route("PUT", "/api/articles/999999/links", API, 404, json={"links": []}),
    Route("GET", "/api/projects/x/articles", API, 404),
]

# --- the callers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    name: str
    session: str | None = None   # whose session cookie ("" = an anonymous session)
    token: str | None = None     # whose token
    user: str | None = None      # who this caller is, once authenticated; None = nobody
    role: str | None = None
    bearer: bool = False


CALLERS = [
    Caller("anonymous", session=""),
    Caller("annotator", session="li", user="li", role="annotator"),
    Caller("reviewer", session="rev", user="rev", role="reviewer"),
    Caller("admin", session="boss", user="boss", role="admin"),
    Caller("deactivated session", session="gone"),
    Caller("annotator token", token="li", user="li", role="annotator", bearer=True),
    Caller("admin token", token="boss", user="boss", role="admin", bearer=True),
    Caller("revoked token", token="revoked", bearer=True),
    Caller("deactivated user's token", token="gone", bearer=True),
    Caller("non-member annotator", session="out", user="out", role="annotator"),
    Caller("non-member reviewer", session="outrev", user="outrev", role="reviewer"),
    Caller("non-member reviewer token", token="outrev", user="outrev", role="reviewer",
           bearer=True),
]


NON_MEMBERS = ("out", "outrev")


def expected(route: Route, caller: Caller) -> tuple[int, str | None]:
    """(status, where a redirect goes) for this caller on this route."""
    if route.kind == PUBLIC:
        return route.ok, route.to
    on_api = route.kind in (API, GOLD_API, ADMIN_API)
    signed_in = caller.user is not None and (on_api or not caller.bearer)  # tokens: /api only
    if not signed_in:
        return (401, None) if on_api else (302, "/login")
    if caller.user in NON_MEMBERS and any(
            f"{{{name}}}" in (route.url or "") for name in ("project", "article", "paragraph")):
        return 403, None  # every target project is members-only, without them
    allowed = {PAGE: True, API: True, ADMIN_PAGE: caller.role == "admin",
               REVIEW_PAGE: caller.role in ("admin", "reviewer"),
               ADMIN_API: caller.role == "admin",
               GOLD_API: caller.role in ("admin", "reviewer")}[route.kind]
    return (route.ok, route.to) if allowed else (403, None)


# --- the world: one app, its users, sessions and tokens -----------------------------------


@dataclass
class World:
    app: Any
    cookies: dict[str, str] = field(default_factory=dict)   # session cookie per user
    csrf: dict[str, str] = field(default_factory=dict)      # CSRF token of that session
    tokens: dict[str, str] = field(default_factory=dict)
    password_hash: str = ""
    serial: itertools.count = field(default_factory=itertools.count)


def _session_of(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One app for the whole matrix (every request acts on fresh targets of its own).
    On PostgreSQL every app shares one database, so the tests that use this fixture come
    before those that build an app of their own further down this file."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test",
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path_factory.mktemp("access"))})
    world = World(app, password_hash=hash_password(PASSWORD))
    for name, role in (("boss", "admin"), ("li", "annotator"), ("rev", "reviewer"),
                       ("gone", "annotator"), ("out", "annotator"), ("outrev", "reviewer")):
        make_user(app, name, role)
        client = app.test_client()
        assert login(client, name).status_code == 302
        world.csrf[name] = csrf_token(client, "/")
        world.cookies[name] = _session_of(client)
    anonymous = app.test_client()
    world.csrf[""] = csrf_token(anonymous)
    world.cookies[""] = _session_of(anonymous)
    world.tokens = {name: api_token(app, name) for name in ("boss", "li", "gone", "outrev")}
    world.tokens["revoked"] = api_token(app, "li", "to revoke")

    admin = _client(world, CALLERS[3])
    # the admin revokes a token and deactivates a user through the admin pages
    with app.app_context():
        revoked_id = db.session.scalar(select(ApiToken.id).where(
            ApiToken.token_hash == hash_token(world.tokens["revoked"])))
    response = admin.post(f"/admin/tokens/{revoked_id}/revoke",
                          headers={"X-CSRFToken": world.csrf["boss"]})
    assert response.status_code == 302
    response = admin.post(f"/admin/users/{user_id(app, 'gone')}/active",
                          headers={"X-CSRFToken": world.csrf["boss"]})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(User.active).where(User.username == "gone")) is False
        assert db.session.scalar(select(ApiToken.id).where(ApiToken.id == revoked_id)) is None
    yield world
    with app.app_context():
        db.engine.dispose()


def _client(world: World, caller: Caller):
    client = world.app.test_client()
    if caller.session is not None:
        client.set_cookie("session", world.cookies[caller.session])
    return client


def _headers(world: World, caller: Caller) -> dict[str, str]:
    if caller.token is not None:
        return {"Authorization": f"Bearer {world.tokens[caller.token]}"}
    if caller.session is not None:
        return {"X-CSRFToken": world.csrf[caller.session]}
    return {}


def fresh_targets(world: World) -> dict[str, Any]:
    """New objects for one request to act on, so no request depends on another's effects."""
    app, n = world.app, next(world.serial)
    project = f"p{n}"
    import_articles(app, project, [{"title": f"A{n}", "paragraphs": ["one", "two"]},
                                   {"title": f"B{n}", "paragraphs": ["three"]}])
    article = article_pks(app, project)[0]
    with app.app_context():
        dummy = User(username=f"dummy{n}", password_hash=world.password_hash, role="annotator")
        db.session.add(dummy)
        db.session.commit()
        dummy_id = dummy.id
        token_hash = hash_token(f"dummy-token-{n}")
        db.session.add(ApiToken(user_id=dummy_id, token_hash=token_hash, name="dummy"))
        db.session.commit()
        token = db.session.scalar(select(ApiToken.id).where(ApiToken.token_hash == token_hash))
        project_row = db.session.scalar(select(Project).where(Project.name == project))
        project_row.members_only = True  # every caller but the non-members is a member
        members.set_members(db.session, project_row, [dummy_id, *(
            user.id for user in db.session.scalars(select(User).where(
                User.username.in_(("li", "rev", "gone")))))])
        db.session.commit()
        queue.assign(db.session, [article], dummy_id)
        assignment = db.session.scalar(select(Assignment.id).where(
            Assignment.article_id == article, Assignment.user_id == dummy_id))
        job = ImportJob(project_id=project_row.id, file_name="done.jsonl", format="jsonl",
                        state="done")
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    return {"n": n, "project": project_id(app, project), "article": article,
            "paragraph": paragraph_pks(app, article)[0], "user": dummy_id,
            "user_name": f"dummy{n}", "token": token, "assignment": assignment,
            "new_name": f"new-{n}", "job": job_id}


def call(world: World, caller: Caller, route: Route, *, csrf: bool = True):
    """Make the route's request as the caller; returns the response."""
    targets = fresh_targets(world)
    client = _client(world, caller)
    headers = _headers(world, caller) if csrf else {
        k: v for k, v in _headers(world, caller).items() if k != "X-CSRFToken"}
    url = (route.url or route.rule).format(**targets)
    kwargs: dict[str, Any] = {"headers": headers}
    if route.json is not None:
        kwargs["json"] = route.json(targets) if callable(route.json) else route.json
    if route.data is not None:
        data = route.data(targets) if callable(route.data) else dict(route.data)
        if csrf and caller.session is not None and caller.token is None:
            data["csrf_token"] = world.csrf[caller.session]
        kwargs["data"] = data
    if route.body is not None:
        kwargs["data"] = route.body
        kwargs["content_type"] = route.content_type
    response = client.open(url, method=route.method, **kwargs)
    if route.rule == "/logout" and caller.session:  # which ended every session of the user
        _sign_in_again(world, caller.session)
    return response


def _sign_in_again(world: World, name: str) -> None:
    client = world.app.test_client()
    if login(client, name).status_code == 302:  # not for a deactivated user
        world.csrf[name] = csrf_token(client, "/")
        world.cookies[name] = _session_of(client)


def _location(response) -> str:
    return urlsplit(response.headers.get("Location", "")).path


def check(response, route: Route, want: tuple[int, str | None]) -> None:
    status, to = want
    body = response.get_data()[:300].decode("utf-8", "replace")  # a zip is no text
    assert response.status_code == status, (route.name, response.status_code, body)
    if status in (301, 302, 303):
        assert _location(response).startswith(to or "/"), (route.name, _location(response))
        if to != "/login":
            assert not _location(response).startswith("/login"), route.name
    if route.rule.startswith("/api/") and status >= 400:
        assert response.is_json, (route.name, body)
        assert set(response.get_json()) == {"error"}, response.get_json()
        assert isinstance(response.get_json()["error"], str)
    elif route.rule.startswith("/api/") and status == 200 and not route.rule.endswith(".jsonl"):
        assert response.is_json, (route.name, body)


# --- the matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.name)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_access_matrix(world, route, caller):
    response = call(world, caller, route)
    check(response, route, expected(route, caller))


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.name)
@pytest.mark.parametrize("route", UNKNOWN_API, ids=lambda r: r.name)
def test_unknown_api_paths_are_401_before_404(world, route, caller):
    response = call(world, caller, route)
    check(response, route, expected(route, caller))


API_ROUTES = [route for route in ROUTES + UNKNOWN_API if route.rule.startswith("/api/")]


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda r: r.name)
def test_api_without_any_cookie_or_token_is_401(world, route):
    """Authentication is checked first: not even a missing CSRF token comes before it."""
    targets = fresh_targets(world)
    response = world.app.test_client().open(
        (route.url or route.rule).format(**targets), method=route.method,
        json=route.json(targets) if callable(route.json) else route.json)
    assert response.status_code == 401, (route.name, response.get_data(as_text=True))
    assert set(response.get_json()) == {"error"}


@pytest.mark.parametrize("route", [r for r in API_ROUTES if r.method != "GET"],
                         ids=lambda r: r.name)
def test_api_state_change_by_a_deactivated_session_without_csrf_is_401(world, route):
    response = call(world, CALLERS[4], route, csrf=False)
    assert response.status_code == 401, (route.name, response.get_data(as_text=True))


def test_the_table_covers_every_rule(world):
    rules = {(method, rule.rule) for rule in world.app.url_map.iter_rules()
             if rule.endpoint != "static" for method in rule.methods - {"HEAD", "OPTIONS"}}
    table = {(route.method, route.rule) for route in ROUTES}
    assert table == rules
    assert len(table) == len(ROUTES)  # no route twice


def test_static_files_need_no_sign_in(world):
    response = world.app.test_client().get("/static/css/app.css")
    assert response.status_code == 200
    response.close()


def test_a_deactivated_user_cannot_sign_in_again(world):
    client = world.app.test_client()
    response = login(client, "gone")
    assert response.status_code == 200
    assert "deactivated" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_reactivating_does_not_bring_the_old_session_or_token_back(world):
    """Deactivation ends the user's sessions and revokes their tokens for good."""
    admin = _client(world, CALLERS[3])
    gone = user_id(world.app, "gone")
    flip = admin.post(f"/admin/users/{gone}/active", headers={"X-CSRFToken": world.csrf["boss"]})
    assert flip.status_code == 302
    try:
        assert _location(_client(world, CALLERS[4]).get("/")) == "/login"
        token = {"Authorization": f"Bearer {world.tokens['gone']}"}
        assert world.app.test_client().get("/api/projects", headers=token).status_code == 401
        again = world.app.test_client()
        assert login(again, "gone").status_code == 302  # signing in anew works
        assert again.get("/").status_code == 200
    finally:
        flip = admin.post(f"/admin/users/{gone}/active",
                          headers={"X-CSRFToken": world.csrf["boss"]})
        assert flip.status_code == 302
    assert _location(again.get("/")) == "/login"  # deactivated again: that session ended too


def test_an_admin_cannot_deactivate_or_demote_themselves(world):
    admin = _client(world, CALLERS[3])
    boss = user_id(world.app, "boss")
    headers = {"X-CSRFToken": world.csrf["boss"]}
    assert admin.post(f"/admin/users/{boss}/active", headers=headers).status_code == 302
    assert admin.post(f"/admin/users/{boss}/role", headers=headers,
                      data={"role": "annotator"}).status_code == 302
    with world.app.app_context():
        me = db.session.scalar(select(User).where(User.username == "boss"))
        assert me.active and me.role == "admin"


# --- first-run setup ------------------------------------------------------------------------


SETUP_PAGES = ["/", "/login", "/projects/1", "/articles/1", "/admin/users",
               "/admin/projects/new", "/projects/1/start"]


def test_before_any_user_exists_every_page_goes_to_setup(client):
    for path in SETUP_PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert _location(response) == "/setup", path
    api = client.get("/api/projects")
    assert api.status_code == 401 and set(api.get_json()) == {"error"}
    page = client.get("/setup")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.get_data(as_text=True)


def test_setup_creates_the_first_admin_once(app, client):
    token = hidden_csrf_token(client.get("/setup").get_data(as_text=True))
    mismatch = client.post("/setup", data={"csrf_token": token, "username": "root",
                                           "password": PASSWORD, "confirm": "something else"})
    assert mismatch.status_code == 200
    no_token = client.post("/setup", data={"username": "root", "password": PASSWORD,
                                           "confirm": PASSWORD})
    assert no_token.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(User.id)) is None
    response = client.post("/setup", data={"csrf_token": token, "username": "李雷",
                                           "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302
    assert _location(response) == "/"
    with app.app_context():
        users = db.session.scalars(select(User)).all()
        assert [(user.username, user.role, user.active) for user in users] == [
            ("李雷", "admin", True)]
    assert client.get("/").status_code == 200  # signed in as that admin
    assert client.get("/admin/users").status_code == 200
    # gone for everyone from now on
    assert client.get("/setup").status_code == 404
    token = csrf_token(client, "/")  # setup started a new session, with a new token
    assert client.post("/setup", data={"csrf_token": token, "username": "x",
                                       "password": PASSWORD, "confirm": PASSWORD}).status_code == 404
    other = app.test_client()
    assert other.get("/setup").status_code == 404
    other_token = csrf_token(other)
    assert other.post("/setup", data={"csrf_token": other_token, "username": "evil",
                                      "password": PASSWORD, "confirm": PASSWORD}).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.username == "evil")) is None
    assert _location(other.get("/")) == "/login"


def test_setup_is_gone_once_a_user_exists_from_the_cli(app, runner):
    result = runner.invoke(args=["create-user", "cli-admin", "--admin", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert client.get("/setup").status_code == 404
    assert _location(client.get("/")) == "/login"


# --- password reset ends the user's other sessions ------------------------------------------


def test_an_admin_password_reset_signs_out_the_users_sessions(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    admin, laptop, phone = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((admin, "boss"), (laptop, "li")):
        assert login(client, name).status_code == 302
    assert login(phone, "li", remember=True).status_code == 302
    remembered = phone.get_cookie("remember_token")
    assert remembered is not None
    for client in (laptop, phone):
        assert client.get("/").status_code == 200
    response = admin.post(f"/admin/users/{user_id(app, 'li')}/password",
                          headers=csrf_headers(admin, "/admin/users"),
                          data={"password": "brand new password",
                                "confirm": "brand new password"})
    assert response.status_code == 302
    for client in (laptop, phone):
        response = client.get("/")
        assert response.status_code == 302 and _location(response) == "/login"
        assert client.get("/api/projects").status_code == 401
    # the remember-me cookie alone does not sign them back in either
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remembered.value)
    assert _location(fresh.get("/")) == "/login"
    assert admin.get("/").status_code == 200  # the admin's own session is untouched
    assert login(app.test_client(), "li").status_code == 200  # the old password is refused
    again = app.test_client()
    assert login(again, "li", "brand new password").status_code == 302
    assert again.get("/").status_code == 200


def test_a_too_short_reset_password_is_refused_and_changes_nothing(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    response = admin.post(f"/admin/users/{user_id(app, 'li')}/password",
                          headers=csrf_headers(admin, "/admin/users"),
                          data={"password": "short", "confirm": "short"})
    assert response.status_code == 302
    assert login(app.test_client(), "li").status_code == 302


# --- /api: authentication before everything -------------------------------------------------


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "PATCH", "POST", "PUT", "DELETE"])
def test_every_method_on_api_without_credentials_is_401(app, client, method):
    make_user(app, "li")
    response = client.open("/api/projects", method=method)
    assert response.status_code == 401, method
    if method != "HEAD":
        assert set(response.get_json()) == {"error"}


# --- redirects after sign-in and language switch stay on this site --------------------------

OFFSITE = ["//evil.example/x", "/\\evil.example/x", "/\\/evil.example", "\\\\evil.example",
           "https://evil.example/", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
           "javascript:alert(1)", "", "projects"]


def test_login_follows_a_local_next_only(app):
    make_user(app, "li")
    client = app.test_client()
    page = client.get("/login?next=/projects/1%3Fpage%3D2")
    response = client.post("/login?next=/projects/1%3Fpage%3D2", data={
        "csrf_token": hidden_csrf_token(page.get_data(as_text=True)),
        "username": "li", "password": PASSWORD})
    assert response.headers["Location"] == "/projects/1?page=2"
    anonymous = app.test_client().get("/projects/7?page=3")
    assert anonymous.headers["Location"].startswith("/login?next=")  # where the login comes back to


@pytest.mark.parametrize("target", OFFSITE)
def test_login_never_redirects_off_site(app, target):
    make_user(app, "li")
    client = app.test_client()
    token = hidden_csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", query_string={"next": target}, data={
        "csrf_token": token, "username": "li", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/", response.headers["Location"]


@pytest.mark.parametrize("target", OFFSITE)
def test_language_switch_never_redirects_off_site(app, target):
    make_user(app, "li")
    client = app.test_client()
    response = client.post("/language", headers=csrf_headers(client),
                           data={"language": "zh", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/", response.headers["Location"]
    assert client.get_cookie("lang").value == "zh"


def test_an_admin_resetting_their_own_password_stays_signed_in_here_only(app):
    make_user(app, "boss", "admin")
    here, elsewhere = app.test_client(), app.test_client()
    for client in (here, elsewhere):
        assert login(client, "boss").status_code == 302
    response = here.post(f"/admin/users/{user_id(app, 'boss')}/password",
                         headers=csrf_headers(here, "/admin/users"),
                         data={"password": "my new password", "confirm": "my new password"})
    assert response.status_code == 302
    assert here.get("/admin/users").status_code == 200
    assert _location(elsewhere.get("/")) == "/login"
    assert login(app.test_client(), "boss", "my new password").status_code == 302

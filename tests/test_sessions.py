"""Sessions end on the server: sign-out, password reset, deactivation and reactivation make
every earlier session and remember-me cookie of the user useless, copies included; sign-in
and setup start a new session with a new CSRF secret; remember-me lasts
REMEMBER_COOKIE_DURATION; and checking the session costs no query more."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import event

from annotator import create_app
from annotator.extensions import db

from helpers import csrf_headers, csrf_token, hidden_csrf_token, login, make_user, user_id
from testdb import database_url


def _signed_in_copies(app, name: str):
    """Sign in with remember-me; returns the client and copies of its two cookies."""
    client = app.test_client()
    assert login(client, name, remember=True).status_code == 302
    return client, client.get_cookie("session").value, client.get_cookie("remember_token").value


def _replays(app, session_cookie: str, remember_cookie: str) -> list[int]:
    """Statuses of `/` and `/api/projects` for a client holding only the copied session
    cookie, and for one holding only the copied remember-me cookie."""
    statuses = []
    for name, value in (("session", session_cookie), ("remember_token", remember_cookie)):
        for path in ("/", "/api/projects"):
            replay = app.test_client()
            replay.set_cookie(name, value)
            statuses.append(replay.get(path).status_code)
    return statuses


SIGNED_IN, SIGNED_OUT = [200, 200, 200, 200], [302, 401, 302, 401]


def test_sign_out_ends_the_copied_session_and_remember_cookies(app):
    make_user(app, "li")
    client, session_cookie, remember_cookie = _signed_in_copies(app, "li")
    assert _replays(app, session_cookie, remember_cookie) == SIGNED_IN
    response = client.post("/logout", headers=csrf_headers(client, "/"))
    assert response.status_code == 302
    assert client.get_cookie("remember_token") is None  # the browser's copy is deleted too
    assert _replays(app, session_cookie, remember_cookie) == SIGNED_OUT
    again = app.test_client()
    assert login(again, "li").status_code == 302 and again.get("/").status_code == 200


def test_sign_out_signs_the_user_out_everywhere(app):
    make_user(app, "li")
    make_user(app, "wang")
    laptop, phone, colleague = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((laptop, "li"), (phone, "li"), (colleague, "wang")):
        assert login(client, name).status_code == 302
    assert laptop.post("/logout", headers=csrf_headers(laptop, "/")).status_code == 302
    assert phone.get("/").status_code == 302
    assert colleague.get("/").status_code == 200  # other users keep their sessions


def test_deactivation_and_reactivation_each_end_the_users_sessions(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    li = user_id(app, "li")
    _, before, remembered_before = _signed_in_copies(app, "li")
    flip = admin.post(f"/admin/users/{li}/active", headers=csrf_headers(admin, "/admin/users"))
    assert flip.status_code == 302  # deactivated
    flip = admin.post(f"/admin/users/{li}/active", headers=csrf_headers(admin, "/admin/users"))
    assert flip.status_code == 302  # active again: the cookies from before stay dead
    assert _replays(app, before, remembered_before) == SIGNED_OUT
    _, during, remembered_during = _signed_in_copies(app, "li")
    assert _replays(app, during, remembered_during) == SIGNED_IN
    flip = admin.post(f"/admin/users/{li}/active", headers=csrf_headers(admin, "/admin/users"))
    flip = admin.post(f"/admin/users/{li}/active", headers=csrf_headers(admin, "/admin/users"))
    assert flip.status_code == 302
    assert _replays(app, during, remembered_during) == SIGNED_OUT


def test_a_password_reset_ends_the_remember_cookie_too(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    _, session_cookie, remember_cookie = _signed_in_copies(app, "li")
    response = admin.post(f"/admin/users/{user_id(app, 'li')}/password",
                          headers=csrf_headers(admin, "/admin/users"),
                          data={"password": "brand new password", "confirm": "brand new password"})
    assert response.status_code == 302
    assert _replays(app, session_cookie, remember_cookie) == SIGNED_OUT


def _remember_expiry(client) -> datetime:
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.expires is not None
    return cookie.expires.astimezone(UTC) if cookie.expires.tzinfo else cookie.expires.replace(tzinfo=UTC)


def test_remember_me_lasts_14_days_by_default(app):
    make_user(app, "li")
    client = app.test_client()
    assert login(client, "li", remember=True).status_code == 302
    lasts = _remember_expiry(client) - datetime.now(UTC)
    assert timedelta(days=13, hours=23) < lasts <= timedelta(days=14)


def test_remember_me_duration_is_configurable(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "REMEMBER_COOKIE_DURATION": 3600,
                      "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    try:
        make_user(app, "li")
        client = app.test_client()
        assert login(client, "li", remember=True).status_code == 302
        lasts = _remember_expiry(client) - datetime.now(UTC)
        assert timedelta(minutes=59) < lasts <= timedelta(hours=1)
    finally:
        with app.app_context():
            db.engine.dispose()


def test_sign_in_starts_a_new_session_with_a_new_csrf_token(app):
    make_user(app, "li")
    client = app.test_client()
    before = csrf_token(client)  # the signed-out session's token (a planted cookie's, say)
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    assert login(client, "li").status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
    refused = client.post("/logout", headers={"X-CSRFToken": before})
    assert refused.status_code == 400
    assert client.get("/").status_code == 200  # still signed in
    assert client.post("/logout", headers=csrf_headers(client, "/")).status_code == 302


def test_setup_starts_a_new_session_with_a_new_csrf_token(app, client):
    page = client.get("/setup").get_data(as_text=True)
    before = hidden_csrf_token(page)
    response = client.post("/setup", data={"csrf_token": before, "username": "boss",
                                           "password": PASSWORD_8, "confirm": PASSWORD_8})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert urlsplit(response.headers["Location"]).path == "/"
    assert client.post("/logout", headers={"X-CSRFToken": before}).status_code == 400
    assert client.get("/").status_code == 200


PASSWORD_8 = "first admin password"


def test_checking_a_session_reads_the_user_row_once(app):
    """The session check is the same single primary-key read of the user as before."""
    make_user(app, "li")
    client = app.test_client()
    assert login(client, "li").status_code == 302
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get("/api/projects").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    user_reads = [s for s in statements if 'FROM "user"' in s or "FROM user" in s]
    assert len(user_reads) == 1, user_reads

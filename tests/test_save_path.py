"""The label save's request path (issue 11): a bearer-token save is one short write
transaction on SQLite after its sign-in reads, carries no session cookie, and its prebuilt
statements (database.Prepared) bind and fail as SQLAlchemy's would."""
from __future__ import annotations

import pytest
from sqlalchemy import bindparam, event, select, text
from sqlalchemy.exc import IntegrityError, InvalidRequestError

from annotator.database import Prepared
from annotator.extensions import db
from annotator.models import Annotation, Paragraph, utcnow

from helpers import bearer, import_articles, login, make_user


@pytest.fixture
def paragraph(app) -> int:
    import_articles(app, "p", [{"id": "a1", "title": "T", "paragraphs": ["One.", "Two."]}])
    with app.app_context():
        return db.session.scalar(select(Paragraph.id).order_by(Paragraph.id))


def _statements_of(app, request):
    """The SQL the database ran (SQLite's own trace: BEGIN and COMMIT included) during
    `request()`, on connections checked out meanwhile."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's transactions")
    engine.dispose()  # every connection of the request is checked out anew
    seen: list[str] = []

    def trace(dbapi_connection, _record, _proxy):
        dbapi_connection.set_trace_callback(seen.append)

    event.listen(engine, "checkout", trace)
    try:
        response = request()
    finally:
        event.remove(engine, "checkout", trace)
        engine.dispose()
    return response, [" ".join(s.split()).upper() for s in seen if not s.startswith("PRAGMA")]


def test_a_token_save_is_one_write_transaction_after_its_reads(app, paragraph):
    make_user(app, "ann")
    headers = bearer(app, "ann")
    client = app.test_client()
    assert client.put(f"/api/paragraphs/{paragraph + 1}/annotation", json={"label": "claim"},
                      headers=headers).status_code == 200  # the app's first request
    response, statements = _statements_of(app, lambda: client.put(
        f"/api/paragraphs/{paragraph}/annotation", json={"label": "claim"}, headers=headers))
    assert response.status_code == 200, response.get_data(as_text=True)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE"], statements  # the reads ran before it, on their own
    first_write = statements.index("BEGIN IMMEDIATE")
    assert all(s.startswith("SELECT") for s in statements[:first_write]), statements
    assert len(statements[:first_write]) == 2, statements  # the token's user, the project's membership
    assert statements[-1] == "COMMIT" and statements.count("COMMIT") == 1, statements
    # the insert (the paragraph and label checked in it), the paragraph's, article's and
    # label-day's counters (the hold was kept alive by the save before, in the same article,
    # a moment ago)
    assert len(statements[first_write + 1:-1]) == 4, statements
    assert statements[first_write + 1].startswith("INSERT INTO ANNOTATION"), statements
    with app.app_context():
        assert db.session.scalar(select(Annotation.label)) == "claim"
        assert db.session.get(Paragraph, paragraph).annotation_count == 1


def test_a_changed_label_keeps_its_history_in_the_same_transaction(app, paragraph):
    make_user(app, "ann")
    headers = bearer(app, "ann")
    client = app.test_client()
    assert client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": "claim"},
                      headers=headers).status_code == 200
    response, statements = _statements_of(app, lambda: client.put(
        f"/api/paragraphs/{paragraph}/annotation", json={"label": "evidence"}, headers=headers))
    assert response.status_code == 200
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
        "BEGIN IMMEDIATE", "COMMIT"]
    assert any(s.startswith("INSERT INTO ANNOTATION_HISTORY") for s in statements), statements


def test_a_token_request_has_no_session(app, paragraph):
    """No cookie is read or set for a bearer-token request, and the response does not vary
    with cookies: a session cookie sent along (another user's) changes nothing."""
    make_user(app, "ann")
    make_user(app, "boss", "admin")
    client = app.test_client()
    assert login(client, "boss").status_code == 302  # the client now sends boss's cookie
    response = client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": "claim"},
                          headers=bearer(app, "ann"))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    with app.app_context():
        assert db.session.scalar(select(Annotation.user_id)) != db.session.scalar(
            text("SELECT id FROM \"user\" WHERE username = 'boss'"))
    assert client.get("/api/projects").status_code == 200  # boss's session still works
    unknown = client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": "claim"},
                         headers={"Authorization": "Bearer ann_not-a-token"})
    assert unknown.status_code == 401


def test_prepared_statements_bind_types_and_fail_as_sqlalchemy_does(app, paragraph):
    make_user(app, "ann")
    insert = Prepared(lambda insert_into: insert_into(Annotation.__table__),
                      ("paragraph_id", "user_id", "label", "note", "source", "created_at",
                       "updated_at"))
    count = Prepared(select(Annotation.id).where(Annotation.created_at < bindparam("at")))
    now = utcnow()
    with app.app_context():
        user = db.session.scalar(text("SELECT id FROM \"user\""))
        connection = db.session.connection()
        row = {"paragraph_id": paragraph, "user_id": user, "label": "claim", "note": None,
               "source": "human", "created_at": now, "updated_at": now}
        insert.run(connection, row).fetchall()
        db.session.commit()
        stored = db.session.scalar(select(Annotation))
        assert (stored.label, stored.created_at) == ("claim", now)  # read back as a datetime
        assert len(count.run(db.session.connection(), {"at": utcnow()}).fetchall()) == 1
        with pytest.raises(IntegrityError):  # the same (paragraph, user) again
            insert.run(db.session.connection(), row)
        db.session.rollback()
        with pytest.raises(IntegrityError):  # no such paragraph
            insert.run(db.session.connection(), {**row, "paragraph_id": 10**6})
        db.session.rollback()


def test_prepared_statements_bind_their_own_values_and_refuse_a_missing_one(app, paragraph):
    """A value written into the statement (not a parameter) is bound as it is, a key used
    twice is bound at each place, and a parameter left out is refused before the SQL runs."""
    labeled = Prepared(select(Paragraph.id).where(Paragraph.id == bindparam("pk"),
                                                  Paragraph.annotation_count == 0,
                                                  Paragraph.id >= bindparam("pk")))
    with app.app_context():
        connection = db.session.connection()
        assert labeled.run(connection, {"pk": paragraph}).fetchall() == [(paragraph,)]
        assert labeled.run(connection, {"pk": paragraph + 10**6}).fetchall() == []
        with pytest.raises(InvalidRequestError, match="'pk'"):
            labeled.run(connection, {})
        db.session.rollback()

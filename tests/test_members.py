"""Per-project membership: a project is open to every user (the default) or to its members
only; an admin chooses on the settings page or with `flask members`. The route-by-route
matrix is in test_access.py (non-member callers)."""
from __future__ import annotations

from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Project, ProjectMember
from annotator.openapi import build_openapi
from annotator.services import members, queue

from helpers import (SETTINGS_FORM, article_pks, csrf_headers, import_articles, login,
                     make_user, paragraph_pks, project_id, user_id)


def _signed_in(app, name: str):
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client


def _settings(admin, pid: int, **fields):
    return admin.post(f"/admin/projects/{pid}/settings",
                      headers=csrf_headers(admin, f"/admin/projects/{pid}/settings"),
                      data={**SETTINGS_FORM, **fields})


def test_an_admin_limits_a_project_to_its_members_and_opens_it_again(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    make_user(app, "bo")
    import_articles(app, "secret", [{"title": "Hidden", "paragraphs": ["one"]}])
    pid = project_id(app, "secret")
    article = article_pks(app, "secret")[0]
    paragraph = paragraph_pks(app, article)[0]
    admin, li, bo = (_signed_in(app, name) for name in ("boss", "li", "bo"))
    assert "secret" in bo.get("/").get_data(as_text=True)  # everyone, by default

    response = _settings(admin, pid, members_only="y", member=[str(user_id(app, "li"))])
    assert response.status_code == 302
    assert [p["name"] for p in li.get("/api/projects").get_json()] == ["secret"]
    assert bo.get("/api/projects").get_json() == []
    assert ">secret</a>" not in bo.get("/").get_data(as_text=True)
    headers = csrf_headers(bo, "/")
    for method, url, body in (
            ("GET", f"/projects/{pid}", None), ("POST", f"/projects/{pid}/start", {}),
            ("GET", f"/articles/{article}", None), ("GET", f"/api/articles/{article}", None),
            ("POST", f"/api/projects/{pid}/next", None),
            ("PUT", f"/api/paragraphs/{paragraph}/annotation", {"label": "claim"})):
        kwargs = {"json": body} if method == "PUT" else {"data": body}
        response = bo.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code == 403, (method, url)
    assert bo.get(f"/api/articles/{article}").get_json() == {
        "error": "You are not a member of this project: ask an admin to add you."}
    assert li.post(f"/api/projects/{pid}/next", headers=csrf_headers(li, "/")).get_json() == {
        "article_id": article}
    assert ">secret</a>" in admin.get("/").get_data(as_text=True)  # admins: every project

    page = admin.get(f"/admin/projects/{pid}/settings").get_data(as_text=True)
    assert f'name="member" value="{user_id(app, "li")}" checked' in page
    assert f'name="member" value="{user_id(app, "bo")}">' in page
    assign = admin.get(f"/admin/projects/{pid}/assignments").get_data(as_text=True)
    assert '<option value="li">' in assign and '<option value="bo">' not in assign

    assert _settings(admin, pid).status_code == 302  # the box unticked: open to everyone
    assert [p["name"] for p in bo.get("/api/projects").get_json()] == ["secret"]
    assert bo.get(f"/projects/{pid}").status_code == 200


def test_the_member_list_escapes_usernames(app):
    make_user(app, "boss", "admin")
    make_user(app, "<b>x</b>")
    import_articles(app, "news", [{"title": "T", "paragraphs": ["one"]}])
    page = _signed_in(app, "boss").get(f"/admin/projects/{project_id(app, 'news')}/settings")
    html = page.get_data(as_text=True)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_the_members_command(app, runner):
    make_user(app, "li")
    make_user(app, "bo")
    import_articles(app, "news", [{"title": "T", "paragraphs": ["one"]}])
    result = runner.invoke(args=["members", "--project", "news", "--add", "li", "--add", "bo",
                                 "--only"])
    assert result.exit_code == 0, result.output
    assert result.output == "news: members only; members: bo, li\n"
    result = runner.invoke(args=["members", "--project", "news", "--remove", "bo",
                                 "--add", "nobody"])
    assert result.exit_code != 0 and "no user named 'nobody'" in result.output
    assert runner.invoke(args=["members", "--project", "news"]).output.endswith(
        "members: bo, li\n")  # all or nothing: bo is still a member
    result = runner.invoke(args=["members", "--project", "news", "--remove", "bo", "--everyone"])
    assert result.output == "news: open to every user; members (used with --only): li\n"
    with app.app_context():
        assert db.session.scalar(select(Project.members_only)) is False
        assert db.session.scalars(select(ProjectMember.user_id)).all() == [user_id(app, "li")]
    result = runner.invoke(args=["members", "--project", "nope"])
    assert result.exit_code != 0 and "no project named 'nope'" in result.output


def test_a_former_members_hold_blocks_nobody(app):
    make_user(app, "boss", "admin")
    make_user(app, "li")
    make_user(app, "bo")
    import_articles(app, "news", [{"title": "Only", "paragraphs": ["one"]}])
    pid, only = project_id(app, "news"), article_pks(app, "news")[0]
    with app.app_context():
        project = db.session.get(Project, pid)
        project.members_only = True
        members.change_members(db.session, project, add=["li", "bo"])
        assert queue.claim_next(db.session, project, user_id(app, "li")) == only
        assert queue.next_article(db.session, project, user_id(app, "bo")) is None
        members.change_members(db.session, project, remove=["li"])
        assert queue.next_article(db.session, project, user_id(app, "bo")) == only
    page = _signed_in(app, "boss").get(f"/admin/projects/{pid}/assignments")
    assert "released (not a member)" in page.get_data(as_text=True)


def test_the_openapi_document_names_the_403_of_every_project_route():
    document = build_openapi()
    scoped = [(path, method) for path, item in document["paths"].items()
              for method in item if method != "parameters"
              and any(f"{{{name}}}" in path for name in ("project_id", "article_id", "paragraph_id"))]
    assert len(scoped) > 10
    for path, method in scoped:
        assert "403" in document["paths"][path][method]["responses"], (method, path)

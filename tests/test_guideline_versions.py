"""Guideline versions (issue 13 item 1): saving changed guidelines or labels makes the next
version, every label records the version in force (kept in the history), the versions and
their diffs are readable by whoever sees the project, and the export carries them."""
from __future__ import annotations

import json
import re

from sqlalchemy import select

from annotator.extensions import db
from annotator.models import AnnotationHistory, GuidelineVersion, Project, User
from annotator.services.exporting import export_lines

from helpers import (article_pks, csrf_headers, csrf_token, import_articles, login, make_user,
                     paragraph_pks, project_id)


def _settings_form(app, pid: int, **changes) -> dict:
    """The settings form as the page posts it, with the project's labels as they are."""
    with app.app_context():
        project = db.session.get(Project, pid)
        form = {"description": project.description, "guidelines": project.guidelines,
                "overlap": str(project.overlap),
                **{f"label_{name}": [getattr(label, name) for label in project.labels]
                   for name in ("key", "name", "color", "hotkey", "description")}}
    return {**form, **changes}


def _save_settings(client, app, pid: int, **changes):
    response = client.post(f"/admin/projects/{pid}/settings", data={
        **_settings_form(app, pid, **changes),
        "csrf_token": csrf_token(client, f"/admin/projects/{pid}/settings")})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.location).get_data(as_text=True)


def _versions(app, pid: int) -> list[tuple[int, str, list[str], int | None]]:
    with app.app_context():
        return [(v.number, v.guidelines, [label["key"] for label in v.labels], v.created_by_id)
                for v in db.session.scalars(select(GuidelineVersion).where(
                    GuidelineVersion.project_id == pid).order_by(GuidelineVersion.number))]


def _setup(app, members_only: bool = False):
    boss = make_user(app, "boss", "admin")
    make_user(app, "ann")
    import_articles(app, "p", [{"article_id": "a1", "title": "A", "paragraphs": ["one", "two"]}])
    pid = project_id(app, "p")
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    return boss, pid, admin


def _label(client, paragraph: int, label: str):
    response = client.put(f"/api/paragraphs/{paragraph}/annotation", json={"label": label},
                          headers=csrf_headers(client, "/"))
    assert response.status_code == 200, response.get_data(as_text=True)


def test_editing_guidelines_twice_gives_versions_1_to_3(app):
    boss, pid, admin = _setup(app)
    assert _versions(app, pid) == [(1, "", ["claim", "evidence", "boilerplate", "other"], None)]
    page = _save_settings(admin, app, pid, guidelines="Mark claims.")
    assert "The guidelines are now version 2." in page
    _save_settings(admin, app, pid, guidelines="Mark claims.\nAnd evidence.")
    page = _save_settings(admin, app, pid)  # unchanged: no new version
    assert "Settings saved." in page and "now version" not in page
    assert _versions(app, pid) == [
        (1, "", ["claim", "evidence", "boilerplate", "other"], None),
        (2, "Mark claims.", ["claim", "evidence", "boilerplate", "other"], boss),
        (3, "Mark claims.\nAnd evidence.", ["claim", "evidence", "boilerplate", "other"], boss)]
    with app.app_context():
        assert db.session.get(Project, pid).guideline_version == 3
    # a changed label set (a description) is a version too; a colour is not
    form = _settings_form(app, pid)
    _save_settings(admin, app, pid, label_color=["#000000", *form["label_color"][1:]])
    assert len(_versions(app, pid)) == 3
    _save_settings(admin, app, pid,
                   label_description=["A position argued for.", *form["label_description"][1:]])
    assert [number for number, *_ in _versions(app, pid)] == [1, 2, 3, 4]


def test_labels_and_gold_carry_the_version_in_force_and_the_history_keeps_it(app):
    _boss, pid, admin = _setup(app)
    ann = app.test_client()
    assert login(ann, "ann").status_code == 302
    first, second = paragraph_pks(app, article_pks(app, "p")[0])
    _label(ann, first, "claim")  # under version 1
    _save_settings(admin, app, pid, guidelines="Claims are positions.")
    _label(ann, second, "other")  # new, under version 2
    _label(ann, first, "evidence")  # changed under version 2: the earlier value kept, as 1
    response = admin.put(f"/api/paragraphs/{second}/gold", json={"label": "claim"},
                         headers=csrf_headers(admin, "/"))
    assert response.status_code == 200, response.get_data(as_text=True)
    with app.app_context():
        history = db.session.execute(select(AnnotationHistory.label,
                                            AnnotationHistory.guideline_version)).all()
        assert [tuple(row) for row in history] == [("claim", 1)]
        lines = [json.loads(line) for line in export_lines(db.session, "p")]
    annotations = {line["paragraph_index"]: line["annotations"] for line in lines}
    assert [(a["label"], a["guideline_version"]) for a in annotations[0]] == [("evidence", 2)]
    assert [(a["label"], a["guideline_version"]) for a in annotations[1]] == [("other", 2)]
    from annotator.models import Gold
    with app.app_context():
        assert db.session.scalar(select(Gold.guideline_version)) == 2


def test_the_diff_page_escapes_and_marks_each_line_without_colour(app):
    _boss, pid, admin = _setup(app)
    _save_settings(admin, app, pid, guidelines="Keep this.\n<script>alert(1)</script>")
    form = _settings_form(app, pid)
    _save_settings(admin, app, pid, guidelines="Keep this.\nA <b>bold</b> rule.",
                   label_name=["Claim & stance", *form["label_name"][1:]])
    page = admin.get(f"/projects/{pid}/guidelines/diff?from=2&to=3").get_data(as_text=True)
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "-&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "+A &lt;b&gt;bold&lt;/b&gt; rule." in page
    assert " Keep this." in page  # context, unmarked
    assert "-- claim: Claim" in page and "+- claim: Claim &amp; stance" in page
    # default: the version before `to`, and the current one
    assert admin.get(f"/projects/{pid}/guidelines/diff").get_data(as_text=True).count(
        "+A &lt;b&gt;") == 1
    settings = admin.get(f"/admin/projects/{pid}/settings").get_data(as_text=True)
    assert f'href="/projects/{pid}/guidelines/versions"' in settings
    listing = admin.get(f"/projects/{pid}/guidelines/versions").get_data(as_text=True)
    assert "Version 3" in listing and "boss" in listing
    shown = admin.get(f"/projects/{pid}/guidelines/versions/2").get_data(as_text=True)
    assert "Keep this." in shown and "<script>alert" not in shown


def test_reading_versions_needs_access_to_the_project_and_only_admins_make_them(app):
    _boss, pid, admin = _setup(app)
    _save_settings(admin, app, pid, guidelines="v2")
    ann = app.test_client()
    assert login(ann, "ann").status_code == 302
    for path in ("versions", "versions/1", "versions/2", "diff?from=1&to=2"):
        assert ann.get(f"/projects/{pid}/guidelines/{path}").status_code == 200, path
    assert ann.get(f"/projects/{pid}/guidelines/versions/9").status_code == 404
    bad = ann.get(f"/projects/{pid}/guidelines/diff?from=x")
    assert bad.status_code == 400 and "from must be a whole number" in bad.get_data(as_text=True)
    assert ann.get(f"/projects/{pid}/guidelines/diff?from=1&to=7").status_code == 404
    refused = ann.post(f"/admin/projects/{pid}/settings", data={
        **_settings_form(app, pid, guidelines="mine"), "csrf_token": csrf_token(ann, "/")})
    assert refused.status_code == 403
    assert len(_versions(app, pid)) == 2
    anonymous = app.test_client().get(f"/projects/{pid}/guidelines/versions")
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    # a members-only project: its versions are hidden from non-members
    form = _settings_form(app, pid, members_only="y")
    _save_settings(admin, app, pid, **form)
    assert ann.get(f"/projects/{pid}/guidelines/versions").status_code == 403
    assert ann.get(f"/projects/{pid}/guidelines/diff?from=1&to=2").status_code == 403


def test_annotators_see_a_notice_when_the_guidelines_changed_since_their_last_label(app):
    _boss, pid, admin = _setup(app)
    ann = app.test_client()
    assert login(ann, "ann").status_code == 302
    article = article_pks(app, "p")[0]
    first, second = paragraph_pks(app, article)
    assert "guidelines-changed" not in ann.get(f"/articles/{article}").get_data(as_text=True)
    _label(ann, first, "claim")
    assert "guidelines-changed" not in ann.get(f"/articles/{article}").get_data(as_text=True)
    _save_settings(admin, app, pid, guidelines="New rule.")
    page = ann.get(f"/articles/{article}").get_data(as_text=True)
    assert "The guidelines changed since your last label (version 1, now 2)." in page
    assert f"/projects/{pid}/guidelines/diff?from=1&amp;to=2" in page
    _label(ann, second, "other")  # labeled under the new version: the notice goes
    assert "guidelines-changed" not in ann.get(f"/articles/{article}").get_data(as_text=True)


def test_the_dataset_card_lists_the_versions_used_with_their_counts(app, runner, tmp_path):
    _boss, pid, admin = _setup(app)
    ann = app.test_client()
    assert login(ann, "ann").status_code == 302
    first, second = paragraph_pks(app, article_pks(app, "p")[0])
    _label(ann, first, "claim")
    _save_settings(admin, app, pid, guidelines="v2")
    _save_settings(admin, app, pid, guidelines="v3")  # in force, but no label made under it
    _label(ann, second, "other")
    _label(admin, second, "other")
    import_articles(app, "p", [{"article_id": "a2", "title": "B", "paragraphs": ["three"]}])
    result = runner.invoke(args=["export", "--project", "p", "--split", "a=0.5,b=0.5",
                                 "-o", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "ds" / "README.md").read_text()
    section = card.split("## Guideline versions")[1].split("## ")[0]
    rows = [line.split(" | ")[0].strip("| ") + ":" + line.split(" | ")[2].strip(" |")
            for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows == ["version:annotations", "1:1", "3:2"]
    assert "- name: guideline_version\n" in card.split("\n---\n")[0]  # a declared feature
    lines = [json.loads(line) for name in ("a", "b")
             for line in (tmp_path / "ds" / f"{name}.jsonl").read_text().splitlines()]
    assert sorted(sorted(a["guideline_version"] for a in line["annotations"])
                  for line in lines) == [[], [1], [3, 3]]


def test_agreement_per_version_matches_a_hand_computation(app, runner):
    """ann and bob label under version 1, the guidelines change, they label more (and
    relabel p2) under version 2. Version 1: p1 (c, c), p3 (o, o), p4 (o, c): observed 2/3;
    Cohen's kappa: p_e = 1/3 * 2/3 + 2/3 * 1/3 = 4/9, (2/3 - 4/9) / (5/9) = 0.4. Version 2:
    p5 (c, c), p6 (o, o): observed 1, kappa 1. p2 (ann's changed under 2, bob's the same
    label saved again, so still his label of version 1) and p7 (ann's under 1, bob's under 2)
    count in neither version, only in the whole: 7 paragraphs, observed 6/7."""
    from annotator.services.annotations import save_annotation
    from annotator.services.guideline_versions import record_version
    make_user(app, "ann")
    make_user(app, "bob")
    import_articles(app, "p", [{"article_id": "a", "title": "A",
                                "paragraphs": [f"p{n}" for n in range(1, 8)]}])
    paragraphs = paragraph_pks(app, article_pks(app, "p")[0])
    with app.app_context():
        users = {name: db.session.scalar(select(User.id).where(User.username == name))
                 for name in ("ann", "bob")}

        def label(n: int, ann: str, bob: str | None = None) -> None:
            for name, key in (("ann", ann), ("bob", bob)):
                if key:
                    save_annotation(db.session, paragraphs[n - 1], users[name],
                                    {"c": "claim", "o": "other"}[key])
        for n, ann, bob in ((1, "c", "c"), (2, "c", "o"), (3, "o", "o"), (4, "o", "c"),
                            (7, "c", None)):
            label(n, ann, bob)
        project = db.session.scalar(select(Project).where(Project.name == "p"))
        project.guidelines = "Stricter claims."
        assert record_version(db.session, project, None).number == 2
        db.session.commit()
        for n, ann, bob in ((5, "c", "c"), (6, "o", "o"), (2, "o", "o")):
            label(n, ann, bob)
        save_annotation(db.session, paragraphs[6], users["bob"], "claim")

    def figures(*extra):
        result = runner.invoke(args=["agreement", "--project", "p", "--json",
                                     "--resamples", "0", *extra])
        assert result.exit_code == 0, result.output
        found = json.loads(result.output)
        (pair,) = found["pairs"]
        return (found["n_items"], round(found["overall"]["observed"]["value"], 6),
                round(pair["kappa"]["value"], 6))
    assert figures("--version", "1") == (3, round(2 / 3, 6), 0.4)
    assert figures("--version", "2") == (2, 1.0, 1.0)
    assert figures()[:2] == (7, round(6 / 7, 6))
    side = runner.invoke(args=["agreement", "--project", "p", "--by-version", "--json",
                               "--resamples", "0"])
    assert side.exit_code == 0, side.output
    assert [(row["guideline_version"], row["n_items"], row["pairs"][0]["kappa"]["value"])
            for row in json.loads(side.output)["versions"]] == [(1, 3, 0.4), (2, 2, 1.0)]
    table = runner.invoke(args=["agreement", "--project", "p", "--by-version",
                                "--resamples", "0"]).output
    assert "| 1 | 3 | 0.667 |" in table and "| 2 | 2 | 1.000 |" in table
    markdown = runner.invoke(args=["agreement", "--project", "p", "--version", "1",
                                   "--resamples", "0"]).output
    assert "Labels made under guideline version 1 only." in markdown
    refused = runner.invoke(args=["agreement", "--project", "p", "--version", "3"])
    assert refused.exit_code != 0 and "guideline versions 1 to 2, not 3" in refused.output
    # the agreement page's filter: the same figures
    make_user(app, "boss", "admin")
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    pid = project_id(app, "p")
    page = admin.get(f"/admin/projects/{pid}/agreement?version=1&resamples=0").get_data(as_text=True)
    assert "3 paragraphs labeled by two or more" in page and "0.400" in page
    assert admin.get(f"/admin/projects/{pid}/agreement?version=9").status_code == 400
    whole = admin.get(f"/admin/projects/{pid}/agreement?resamples=0").get_data(as_text=True)
    side = whole.split('id="versions-heading"')[1].split("<tbody>")[1].split("</tbody>")[0]
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in side.split("</td>")[:-1]]
    assert [cells[i:i + 3] for i in range(0, len(cells), 6)] == [
        ["1", "3", "0.667"], ["2", "2", "1.000"]]  # version, paragraphs, observed

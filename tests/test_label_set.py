"""Changing a project's label set on the settings page never orphans labels: a label in use
is removed only with a label to relabel its uses as, in one transaction that keeps the
history and the counters exact; keys already orphaned can be relabeled the same way."""
from __future__ import annotations

import json

from sqlalchemy import delete, insert, select

from annotator.extensions import db
from annotator.models import (Annotation, AnnotationHistory, Gold, Label, LabelCount, Project,
                              Suggestion)
from annotator.services.dashboard import project_dashboard
from annotator.services.progress import recount

from helpers import (SETTINGS_FORM, article_pks, bearer, csrf_headers, import_articles, login,
                     make_user, paragraph_pks, project_id, user_id)


def _read(app, query, how: str = "all"):
    """One query's rows (or scalars, or one scalar), in an app context of its own."""
    with app.app_context():
        if how == "scalar":
            return db.session.scalar(query)
        return (db.session.scalars(query) if how == "scalars" else db.session.execute(query)).all()


def _keys(app) -> set[str]:
    return set(_read(app, select(Label.key), "scalars"))


def _counters(app) -> list[tuple]:
    return sorted(_read(app, select(LabelCount.project_id, LabelCount.user_id, LabelCount.label,
                                    LabelCount.day, LabelCount.count).where(LabelCount.count != 0)))


def _form(*keys: str, **fields) -> dict:
    """The settings form with only these of the default labels in its table."""
    rows = [i for i, key in enumerate(SETTINGS_FORM["label_key"]) if key in keys]
    return {**{name: [value[i] for i in rows] if isinstance(value, list) else value
               for name, value in SETTINGS_FORM.items()}, **fields}


ALL = ("claim", "evidence", "boilerplate", "other")


def _signed_in(app, name: str):
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client


def _labeled_project(app):
    """news: li labels p0 claim and p1 evidence, bo p0 claim; gold on p2 is claim; a model
    suggests claim for p1."""
    for name, role in (("boss", "admin"), ("li", "annotator"), ("bo", "annotator")):
        make_user(app, name, role)
    import_articles(app, "news", [{"title": "T", "paragraphs": ["zero", "one", "two"]}])
    article = article_pks(app, "news")[0]
    p0, p1, p2 = paragraph_pks(app, article)
    for name, paragraph, label in (("li", p0, "claim"), ("li", p1, "evidence"), ("bo", p0, "claim")):
        client = _signed_in(app, name)
        response = client.put(f"/api/paragraphs/{paragraph}/annotation",
                              headers=csrf_headers(client, "/"), json={"label": label})
        assert response.status_code == 200
    boss = bearer(app, "boss")
    client = app.test_client()
    assert client.put(f"/api/paragraphs/{p2}/gold", headers=boss,
                      json={"label": "claim"}).status_code == 200
    assert client.put(f"/api/articles/{article}/suggestions", headers=boss, json={
        "model": "mine", "items": [{"paragraph_id": p1, "label": "claim", "confidence": 0.9}]
    }).status_code == 200
    return project_id(app, "news"), (p0, p1, p2)


def _post(admin, pid: int, data: dict):
    return admin.post(f"/admin/projects/{pid}/settings", data=data,
                      headers=csrf_headers(admin, f"/admin/projects/{pid}/settings"))


def test_removing_a_label_in_use_is_refused_with_its_count(app):
    pid, _ = _labeled_project(app)
    admin = _signed_in(app, "boss")
    before = _read(app, select(Annotation.paragraph_id, Annotation.label))
    response = _post(admin, pid, _form(*ALL, label_remove=["claim"]))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert ("Label “claim” is in use (2 annotations, 1 gold label, 1 suggestion): choose a label "
            "to relabel them as, or keep it.") in page
    assert 'name="label_remove" value="claim" aria-label="Remove" checked' in page  # kept ticked
    assert _keys(app) == set(ALL)
    assert _read(app, select(Annotation.paragraph_id, Annotation.label)) == before


def test_removing_a_label_relabels_its_uses_in_one_step(app):
    pid, (p0, p1, p2) = _labeled_project(app)
    admin = _signed_in(app, "boss")
    page = admin.get(f"/admin/projects/{pid}/settings").get_data(as_text=True)
    assert "2 annotations, 1 gold label, 1 suggestion" in page  # shown before anything is tried
    response = _post(admin, pid, _form(*ALL, label_remove=["claim"],
                                       relabel_from=["claim", "evidence"],
                                       relabel_to=["boilerplate", ""]))
    assert response.status_code == 302
    flashed = admin.get(f"/admin/projects/{pid}/settings").get_data(as_text=True)
    assert ("Settings saved. 2 annotations, 1 gold label, 1 suggestion relabeled from “claim” "
            "to “boilerplate”.") in flashed
    assert _keys(app) == {"evidence", "boilerplate", "other"}
    li, bo, boss = (user_id(app, name) for name in ("li", "bo", "boss"))
    labels = {(paragraph, user): label for paragraph, user, label in _read(
        app, select(Annotation.paragraph_id, Annotation.user_id, Annotation.label))}
    assert labels == {(p0, li): "boilerplate", (p1, li): "evidence", (p0, bo): "boilerplate"}
    assert _read(app, select(Gold.label).where(Gold.paragraph_id == p2), "scalar") == "boilerplate"
    assert _read(app, select(Suggestion.label).where(Suggestion.paragraph_id == p1),
                 "scalar") == "boilerplate"
    history = _read(app, select(AnnotationHistory.paragraph_id, AnnotationHistory.user_id,
                                AnnotationHistory.label, AnnotationHistory.replaced_by_id))
    assert sorted(history) == sorted([(p0, li, "claim", boss), (p0, bo, "claim", boss)])
    counted = _counters(app)
    assert {row.label for row in counted} == {"boilerplate", "evidence"}
    with app.app_context():
        recount(db.session)  # the counters, set again from the annotations themselves
    assert _counters(app) == counted
    export = app.test_client().get(f"/api/projects/{pid}/export.jsonl",
                                   headers=bearer(app, "boss")).get_data(as_text=True)
    assert '"claim"' not in export and json.loads(export.splitlines()[0])["label"] == "boilerplate"
    with app.app_context():
        board = project_dashboard(db.session, db.session.get(Project, pid))
    assert [label.key for label in board.labels] == ["evidence", "boilerplate", "other"]


def test_a_relabel_target_must_be_a_label_that_stays(app):
    pid, _ = _labeled_project(app)
    admin = _signed_in(app, "boss")
    response = _post(admin, pid, _form(*ALL, label_remove=["claim", "other"],
                                       relabel_from=["claim"], relabel_to=["other"]))
    assert response.status_code == 200
    assert "“claim” cannot be relabeled as “other”" in response.get_data(as_text=True)
    assert _keys(app) == set(ALL)


def test_an_unused_label_goes_with_its_suggestions(app):
    pid, (p0, _p1, _p2) = _labeled_project(app)
    with app.app_context():
        db.session.execute(delete(Suggestion).where(Suggestion.paragraph_id == p0))
        db.session.execute(insert(Suggestion).values(paragraph_id=p0, label="other",
                                                     confidence=0.5, reason="", model="mine"))
        db.session.commit()
    admin = _signed_in(app, "boss")
    assert _post(admin, pid, _form(*ALL, label_remove=["other"])).status_code == 302
    assert _keys(app) == {"claim", "evidence", "boilerplate"}
    assert _read(app, select(Suggestion.label).where(Suggestion.paragraph_id == p0), "scalar") is None


def test_keys_already_orphaned_are_listed_and_relabeled(app):
    """A database from before this check may hold labels whose key the set lost."""
    pid, _ = _labeled_project(app)
    with app.app_context():
        db.session.execute(delete(Label).where(Label.key == "claim"))
        db.session.commit()
    admin = _signed_in(app, "boss")
    page = admin.get(f"/admin/projects/{pid}/settings").get_data(as_text=True)
    assert "Keys in use that no label has" in page and "<code>claim</code>" in page
    response = _post(admin, pid, _form("evidence", "boilerplate", "other",
                                       relabel_from=["claim"], relabel_to=["evidence"]))
    assert response.status_code == 302
    assert set(_read(app, select(Annotation.label), "scalars")) == {"evidence"}
    page = admin.get(f"/admin/projects/{pid}/settings").get_data(as_text=True)
    assert "Keys in use that no label has" not in page


def test_a_save_racing_a_label_removal_never_writes_the_removed_key(app):
    """A save that arrives while a label set change holds its transaction waits for it and
    is then checked against the new set: 400, nothing written under the removed key (before,
    the label was checked before the save took the write lock, and the save wrote an orphan
    key once the change committed)."""
    import threading
    import time

    from annotator.database import write_transaction
    from annotator.services.annotations import change_label_set

    import_articles(app, "race", [{"title": "A", "paragraphs": ["one", "two"]}])
    make_user(app, "ann")
    headers = bearer(app, "ann")
    paragraph = paragraph_pks(app, article_pks(app, "race")[0])[0]
    holding, answered = threading.Event(), []

    def remove_other() -> None:  # what the settings page does, held open for a moment
        with app.app_context(), write_transaction(db.session):
            change_label_set(db.session)
            db.session.execute(delete(Label).where(Label.key == "other"))
            db.session.flush()
            holding.set()
            time.sleep(1.0)
            db.session.commit()

    def save() -> None:
        response = app.test_client().put(f"/api/paragraphs/{paragraph}/annotation",
                                         json={"label": "other"}, headers=headers)
        answered.append((response.status_code, response.get_json()))

    remover = threading.Thread(target=remove_other)
    remover.start()
    assert holding.wait(10)
    saver = threading.Thread(target=save)
    saver.start()
    remover.join()
    saver.join()
    status, body = answered[0]
    assert status == 400 and "unknown label 'other'" in body["error"], answered
    assert _read(app, select(Annotation.label), "scalars") == []

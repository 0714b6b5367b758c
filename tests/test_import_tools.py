"""`flask import --format label-studio|doccano|prodigy`: another tool's labeled export becomes
articles and annotations (files shaped like each tool's documented export)."""
from __future__ import annotations

import json
import zlib
from datetime import datetime

from sqlalchemy import func, select

from annotator.models import Annotation, AnnotationHistory, Article, Paragraph, Project, User

from helpers import make_user
from test_progress_counters import counted, stored_counters

# A Label Studio JSON export of a text classification project (<Choices> on a <Text>): a list
# of tasks; completed_by is a user id (an object with the email in some versions)
LABEL_STUDIO = [
    {"id": 1, "data": {"text": "电池回收率去年提高了三成。"}, "meta": {}, "project": 3,
     "created_at": "2024-03-09T21:52:49.513742Z", "updated_at": "2024-03-09T22:16:08.746926Z",
     "annotations": [
         {"id": 11, "completed_by": 1, "was_cancelled": False, "ground_truth": False,
          "result": [{"value": {"choices": ["Evidence"]}, "id": "x1", "from_name": "sentiment",
                      "to_name": "text", "type": "choices", "origin": "manual"}],
          "created_at": "2024-03-09T22:16:08.728353Z",
          "updated_at": "2024-03-09T22:16:08.728378Z", "lead_time": 4.2, "task": 1},
         {"id": 12, "completed_by": {"id": 2, "email": "lee@example.com", "first_name": "",
                                     "last_name": ""}, "was_cancelled": False,
          "result": [{"value": {"choices": ["Claim"]}, "id": "x2", "from_name": "sentiment",
                      "to_name": "text", "type": "choices"}],
          "created_at": "2024-03-10T08:00:00.000000Z",
          "updated_at": "2024-03-10T08:00:00.000000Z", "task": 1},
         {"id": 13, "completed_by": 3, "was_cancelled": True, "result": [], "task": 1}],
     "predictions": []},
    {"id": 2, "data": {"text": "Subscribe to our newsletter\nShare this page"},
     "annotations": [
         {"id": 14, "completed_by": 1, "was_cancelled": False,
          "result": [{"value": {"choices": ["Ads"]}, "id": "x3", "from_name": "sentiment",
                      "to_name": "text", "type": "choices"}],
          "created_at": "2024-03-11T10:00:00Z", "updated_at": "2024-03-11T10:00:00Z"}],
     "predictions": []},
]
LS_MAP = ("--map", "Evidence=evidence", "--map", "Claim=claim", "--map", "Ads=boilerplate")


def write_json(path, data):
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                    encoding="utf-8")
    return path


def run(runner, *args):
    return runner.invoke(args=["import", *map(str, args)])


def labels(session, project="news"):
    """(article title, paragraph index, username, label, created_at) of every annotation."""
    session.expire_all()
    return sorted(session.execute(
        select(Article.title, Paragraph.index, User.username, Annotation.label,
               Annotation.created_at)
        .join(Paragraph, Paragraph.article_id == Article.id)
        .join(Annotation, Annotation.paragraph_id == Paragraph.id)
        .join(User, User.id == Annotation.user_id)
        .join(Project, Project.id == Article.project_id).where(Project.name == project)).all())


def test_label_studio_export_with_a_map(runner, session, tmp_path):
    result = run(runner, write_json(tmp_path / "project-3.json", LABEL_STUDIO), "--project",
                 "news", "--format", "label-studio", *LS_MAP)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "imported: 2 articles added, 0 skipped (already present), 3 paragraphs",
        ("labels: 4 stored, 0 already present, 1 records without a label; users created "
         "(inactive): label-studio-1, lee@example.com")]
    assert labels(session) == [
        ("Subscribe to our newsletter", 0, "label-studio-1", "boilerplate",
         datetime(2024, 3, 11, 10, 0)),
        ("Subscribe to our newsletter", 1, "label-studio-1", "boilerplate",
         datetime(2024, 3, 11, 10, 0)),
        ("电池回收率去年提高了三成。", 0, "label-studio-1", "evidence",
         datetime(2024, 3, 9, 22, 16, 8, 728378)),
        ("电池回收率去年提高了三成。", 0, "lee@example.com", "claim",
         datetime(2024, 3, 10, 8, 0)),
    ]
    article = session.scalars(select(Article).where(Article.article_id == "label-studio-2")).one()
    assert [p.text for p in article.paragraphs] == ["Subscribe to our newsletter",
                                                    "Share this page"]
    assert (article.source_file, article.source_line) == ("project-3.json", 2)  # task 2
    assert {u.username: (u.active, u.role) for u in session.scalars(select(User))} == {
        "label-studio-1": (False, "annotator"), "lee@example.com": (False, "annotator")}
    assert set(session.scalars(select(Annotation.source))) == {"human"}
    assert stored_counters(session) == counted(session)


def test_the_export_shows_the_imported_labels(runner, session, tmp_path):
    run(runner, write_json(tmp_path / "ls.json", LABEL_STUDIO), "--project", "news",
        "--format", "label-studio", *LS_MAP)
    result = runner.invoke(args=["export", "--project", "news", "--only-labeled"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["text"], sorted((a["annotator"], a["label"]) for a in line["annotations"]))
            for line in lines] == [
        ("电池回收率去年提高了三成。", [("label-studio-1", "evidence"), ("lee@example.com", "claim")]),
        ("Subscribe to our newsletter", [("label-studio-1", "boilerplate")]),
        ("Share this page", [("label-studio-1", "boilerplate")])]
    assert [line["label"] for line in lines] == [None, "boilerplate", "boilerplate"]


# doccano's text classification export: one JSONL file per annotator, named after them
DOCCANO_ADMIN = [{"id": 7, "text": "Prices rose 4% in May.", "label": ["evidence"]},
                 {"id": 8, "text": "We must act now.", "label": ["claim"]},
                 {"id": 9, "text": "Cookie settings", "label": []}]
DOCCANO_BOB = [{"id": 7, "text": "Prices rose 4% in May.", "label": ["other"]},
               {"id": 8, "text": "We must act now.", "label": ["claim"]},
               {"id": 9, "text": "Cookie settings", "label": ["boilerplate"]}]


def test_doccano_per_user_files_become_one_article_per_text(app, runner, session, tmp_path):
    make_user(app, "bob")  # an existing user keeps being who he is
    folder = tmp_path / "doccano"
    folder.mkdir()
    write_jsonl(folder / "admin.jsonl", DOCCANO_ADMIN)
    write_jsonl(folder / "bob.jsonl", DOCCANO_BOB)
    result = run(runner, folder, "--project", "news", "--format", "doccano")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "labels: 5 stored, 0 already present, 1 records without a label; "
        "users created (inactive): admin")
    assert [(a.article_id, a.title, a.labeled_count)
            for a in session.scalars(select(Article).order_by(Article.id))] == [
        ("doccano-7", "Prices rose 4% in May.", 1), ("doccano-8", "We must act now.", 1),
        ("doccano-9", "Cookie settings", 1)]
    assert [(title, user, label) for title, _, user, label, _ in labels(session)] == [
        ("Cookie settings", "bob", "boilerplate"),
        ("Prices rose 4% in May.", "admin", "evidence"), ("Prices rose 4% in May.", "bob", "other"),
        ("We must act now.", "admin", "claim"), ("We must act now.", "bob", "claim")]
    assert session.scalars(select(User.active).where(User.username == "bob")).one() is True
    assert {a.source_file for a in session.scalars(select(Article))} == {"doccano/admin.jsonl"}
    assert stored_counters(session) == counted(session)


def test_one_annotator_for_every_label(app, runner, session, tmp_path):
    make_user(app, "amy")
    result = run(runner, write_jsonl(tmp_path / "all.jsonl", DOCCANO_BOB), "--project", "news",
                 "--format", "doccano", "--annotator", "amy")
    assert result.exit_code == 0, result.output
    assert {user for _, _, user, _, _ in labels(session)} == {"amy"}
    assert session.scalar(select(func.count()).select_from(User)) == 1


# Prodigy `db-out`: a line per answer; textcat.manual with one label (classification, binary)
# and with several (choice: options and accept); _annotator_id from ?session=NAME
def prodigy_row(text, answer, who, when, **task):
    return {"text": text, "_input_hash": zlib.crc32(text.encode()), "_task_hash": 1, **task,
            "answer": answer, "_view_id": "choice" if "options" in task else "classification",
            "_timestamp": when, "_annotator_id": f"news-{who}", "_session_id": f"news-{who}"}


OPTIONS = [{"id": "CLAIM", "text": "Claim"}, {"id": "EVIDENCE", "text": "Evidence"}]
PRODIGY = [
    prodigy_row("GDP grew 2%.", "accept", "ann", 1_700_000_000, options=OPTIONS,
                accept=["CLAIM"]),
    prodigy_row("GDP grew 2%.", "accept", "ann", 1_700_000_600, options=OPTIONS,
                accept=["EVIDENCE"]),  # she changed her mind: the first is her history
    prodigy_row("GDP grew 2%.", "accept", "joe", 1_700_000_100, options=OPTIONS,
                accept=["EVIDENCE"]),
    prodigy_row("Read more", "accept", "joe", 1_700_000_200, label="BOILERPLATE"),
    prodigy_row("Taxes are too high.", "reject", "joe", 1_700_000_300, label="BOILERPLATE"),
    prodigy_row("Taxes are too high.", "ignore", "ann", 1_700_000_400, options=OPTIONS,
                accept=[]),
]
PRODIGY_MAP = ("--map", "CLAIM=claim", "--map", "EVIDENCE=evidence",
               "--map", "BOILERPLATE=boilerplate", "--map-user", "news-ann=ann")


def test_prodigy_db_out_answers_timestamps_and_history(runner, session, tmp_path):
    result = run(runner, write_jsonl(tmp_path / "news.jsonl", PRODIGY), "--project", "news",
                 "--format", "prodigy", *PRODIGY_MAP)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "imported: 3 articles added, 0 skipped (already present), 3 paragraphs",
        ("labels: 3 stored, 0 already present, 2 records without a label; users created "
         "(inactive): ann, news-joe")]
    assert [(title, user, label, when) for title, _, user, label, when in labels(session)] == [
        ("GDP grew 2%.", "ann", "evidence", datetime(2023, 11, 14, 22, 13, 20)),
        ("GDP grew 2%.", "news-joe", "evidence", datetime(2023, 11, 14, 22, 15, 0)),
        ("Read more", "news-joe", "boilerplate", datetime(2023, 11, 14, 22, 16, 40))]
    row = session.execute(select(Annotation.created_at, Annotation.updated_at)
                          .join(User).where(User.username == "ann")).one()
    assert row == (datetime(2023, 11, 14, 22, 13, 20), datetime(2023, 11, 14, 22, 23, 20))
    assert [(h.label, h.valid_from, h.replaced_at) for h in
            session.scalars(select(AnnotationHistory))] == [
        ("claim", datetime(2023, 11, 14, 22, 13, 20), datetime(2023, 11, 14, 22, 23, 20))]
    assert session.scalar(select(func.count()).select_from(Article).where(
        Article.title == "Taxes are too high.", Article.labeled_count == 0)) == 1
    assert stored_counters(session) == counted(session)


def test_unknown_labels_are_listed_with_counts_and_nothing_is_stored(runner, session, tmp_path):
    result = run(runner, write_json(tmp_path / "ls.json", LABEL_STUDIO), "--project", "news",
                 "--format", "label-studio", "--map", "Ads=boilerplate")
    assert result.exit_code == 1
    assert ("unknown labels (not in the project's label set boilerplate, claim, evidence, "
            "other; map them with --map OLD=NEW): Claim (1), Evidence (1)") in result.stderr
    assert "nothing was imported" in result.stderr
    for model in (Project, Article, User, Annotation):
        assert session.scalar(select(func.count()).select_from(model)) == 0


def test_bad_records_are_errors_at_their_line(runner, session, tmp_path):
    path = tmp_path / "admin.jsonl"
    path.write_text('{"id": 1, "text": "Fine.", "label": ["claim"]}\n'
                    '{"id": 2, "text": "Two.", "label": ["claim", "other"]}\n'
                    'not json\n{"id": 4, "label": ["claim"]}\n'
                    + json.dumps({"id": "x" * 300, "text": "Long id.", "label": []}) + "\n"
                    + '{"id": 6, "text": "Nul\\u0000.", "label": []}\n', encoding="utf-8")
    result = run(runner, path, "--project", "news", "--format", "doccano")
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"{path}:2: label has 2 labels (claim, other)")
    assert errors[1].startswith(f"{path}:3: invalid JSON")
    assert errors[2] == f"{path}:4: no text (a string) to import"
    assert errors[3] == f"{path}:5: the record's id is over 255 characters"
    assert errors[4] == f"{path}:6: text contains a NUL character (U+0000)"
    assert session.scalar(select(func.count()).select_from(Article)) == 0


def test_reimport_is_skipped_and_keeps_the_counters(runner, session, tmp_path):
    path = write_jsonl(tmp_path / "news.jsonl", PRODIGY)
    assert run(runner, path, "--project", "news", "--format", "prodigy",
               *PRODIGY_MAP).exit_code == 0
    before = stored_counters(session)
    again = run(runner, path, "--project", "news", "--format", "prodigy", *PRODIGY_MAP)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [
        "imported: 0 articles added, 3 skipped (already present), 0 paragraphs",
        "labels: 0 stored, 3 already present, 2 records without a label"]
    assert stored_counters(session) == before == counted(session)
    assert session.scalar(select(func.count()).select_from(AnnotationHistory)) == 1


def test_labels_onto_articles_already_imported_keep_counters_exact(app, runner, session,
                                                                    tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    write_jsonl(folder / "admin.jsonl", DOCCANO_ADMIN)
    assert run(runner, folder / "admin.jsonl", "--project", "news",
               "--format", "doccano").exit_code == 0
    write_jsonl(folder / "bob.jsonl", DOCCANO_BOB)  # the second annotator's file, later
    result = run(runner, folder / "bob.jsonl", "--project", "news", "--format", "doccano")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "imported: 0 articles added, 3 skipped (already present), 0 paragraphs")
    assert len(labels(session)) == 5
    assert stored_counters(session) == counted(session)
    changed = [{"id": 7, "text": "Prices fell.", "label": ["claim"]}]
    result = run(runner, write_jsonl(folder / "cy.jsonl", changed), "--project", "news",
                 "--format", "doccano")
    assert result.exit_code == 1
    assert "id doccano-7 is already in the project with another text" in result.stderr


def test_map_options_need_a_tool_format(runner, tmp_path):
    result = run(runner, write_jsonl(tmp_path / "a.jsonl", [{"title": "t", "text": "x"}]),
                 "--project", "news", "--map", "a=b")
    assert result.exit_code == 2
    assert "--map, --map-user and --annotator go with --format" in result.output
    result = run(runner, tmp_path / "a.jsonl", "--project", "news", "--format", "doccano",
                 "--map", "nothing")
    assert result.exit_code == 2
    assert "--map 'nothing': expected OLD=NEW" in result.output


def test_progress_of_each_stage_on_stderr(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOTATOR_PROGRESS_EVERY", "0")  # a plain line at every count
    path = write_jsonl(tmp_path / "news.jsonl", PRODIGY)
    result = run(runner, path, "--project", "news", "--format", "prodigy", *PRODIGY_MAP)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("texts read: 1, ")
    assert any(line.startswith("paragraphs stored: 3/3, 100%") for line in lines)
    assert lines[-1].startswith("texts labeled: 2/2, 100%")
    quiet = run(runner, path, "--project", "other", "--format", "prodigy", *PRODIGY_MAP,
                "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_an_empty_folder_is_an_error(runner, session, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run(runner, tmp_path / "empty", "--project", "news", "--format", "doccano")
    assert result.exit_code == 1
    assert f"{tmp_path / 'empty'}:1: no files to import in this directory" in result.stderr
    assert session.scalar(select(func.count()).select_from(Project)) == 0

"""Progress of long commands (issue 14): a bar on a terminal, plain periodic lines otherwise,
nothing with --quiet; stdout (the SPEC's summary lines, an export's JSONL) never touched."""
from __future__ import annotations

import io

import pytest

from annotator import create_app
from annotator.extensions import db
from annotator.progress_report import ProgressReport
from annotator.services.importing import Source, import_sources

from helpers import import_articles, jsonl
from testdb import ON_POSTGRES, TEST_DATABASE_URL, reset_postgres

RECORDS = [{"id": f"a{i}", "title": f"标题 {i}", "paragraphs": [f"第 {i} 段", f"second {i}", "Share"]}
           for i in range(30)]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_every_interval_with_rate_and_time_left():
    stream, clock = io.StringIO(), Clock()
    progress = ProgressReport(stream, tty=False, every=5, clock=clock)
    for second, done in ((0, 0), (1, 10), (6, 60), (7, 70), (12, 120)):
        clock.now = 100 + second
        progress("rows copied", done, 240)
    clock.now = 124
    progress("rows copied", 240, 240)
    progress("rows copied", 240, 240)  # a repeated last count is not a new stage
    progress.close()
    assert stream.getvalue().splitlines() == [
        "rows copied: 60/240, 25%, 10/s, 18 s left",
        "rows copied: 120/240, 50%, 10/s, 12 s left",
        "rows copied: 240/240, 100%, 10/s, 24 s",
    ]


def test_a_quick_stage_prints_nothing_off_a_terminal():
    stream, clock = io.StringIO(), Clock()
    progress = ProgressReport(stream, tty=False, every=5, clock=clock)
    progress("records read", 5, None)
    clock.now += 1
    progress("paragraphs stored", 15, 15)
    progress.close()
    assert stream.getvalue() == ""


def test_a_terminal_gets_a_bar_redrawn_on_its_line_kept_at_the_end():
    stream, clock = io.StringIO(), Clock()
    progress = ProgressReport(stream, tty=True, clock=clock)
    progress("articles predicted", 0, 400)
    clock.now += 2
    progress("articles predicted", 100, 400)
    clock.now += 2
    progress("articles predicted", 400, 400)
    out = stream.getvalue()
    assert out.startswith("\r\x1b[K[######------------------] articles predicted: 100/400, 25%, "
                          "50/s, 6 s left")
    assert out.endswith("\r\x1b[K[########################] articles predicted: 400/400, 100%, "
                        "100/s, 4 s\n")


def test_quiet_reports_nothing_even_on_a_terminal():
    stream = io.StringIO()
    progress = ProgressReport(stream, quiet=True, tty=True)
    progress("rows copied", 1, 2)
    progress("rows copied", 2, 2)
    progress.close()
    assert stream.getvalue() == ""


@pytest.fixture
def every_count(monkeypatch):
    """A plain line at every count, so that a small test's import shows its lines."""
    monkeypatch.setenv("ANNOTATOR_PROGRESS_EVERY", "0")


def test_import_reports_its_stages_on_stderr_and_only_the_summary_on_stdout(
        runner, tmp_path, every_count):
    path = tmp_path / "news.jsonl"
    path.write_bytes(jsonl(RECORDS))
    result = runner.invoke(args=["import", str(path), "--project", "news"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ("imported: 30 articles added, 0 skipped (already present), "
                             "90 paragraphs\n")
    lines = result.stderr.splitlines()
    assert lines[0].startswith("records read: 1, ")
    assert any(line.startswith("records read: 30/30, 100%, ") for line in lines)
    assert lines[-1].startswith("paragraphs stored: 90/90, 100%, ")


def test_import_with_quiet_prints_nothing_on_stderr(runner, tmp_path, every_count):
    path = tmp_path / "news.jsonl"
    path.write_bytes(jsonl(RECORDS))
    result = runner.invoke(args=["import", str(path), "--project", "news", "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_a_bad_interval_is_a_message(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOTATOR_PROGRESS_EVERY", "soon")
    path = tmp_path / "news.jsonl"
    path.write_bytes(jsonl(RECORDS))
    result = runner.invoke(args=["import", str(path), "--project", "news"])
    assert result.exit_code == 2
    assert "ANNOTATOR_PROGRESS_EVERY must be a number of seconds, not 'soon'" in result.stderr


@pytest.mark.parametrize("unit", ["paragraph", "article"])
def test_export_stdout_is_byte_identical_with_and_without_progress(app, runner, every_count,
                                                                   unit):
    import_articles(app, "news", RECORDS)
    shown = runner.invoke(args=["export", "--project", "news", "--unit", unit])
    quiet = runner.invoke(args=["export", "--project", "news", "--unit", unit, "--quiet"])
    assert shown.exit_code == quiet.exit_code == 0, shown.output
    assert shown.stdout_bytes == quiet.stdout_bytes
    assert shown.stdout_bytes.count(b"\n") == (90 if unit == "paragraph" else 30)
    assert shown.stderr.splitlines()[-1].startswith("articles exported: 30/30, 100%, ")
    assert quiet.stderr == ""


def test_suggest_reports_a_large_imports_cold_scoring(app, runner, every_count):
    with app.app_context():  # as a large import leaves them: pending
        report = import_sources(db.session, "news", [Source("x.jsonl", jsonl(RECORDS), "jsonl")],
                                score_now=False)
    assert report.pending == 30
    result = runner.invoke(args=["suggest", "--project", "news", "--json"])
    assert result.exit_code == 0, result.output
    assert '"cold": ' in result.stdout and "articles scored" not in result.stdout
    assert any(line.startswith("articles scored (cold signals): 30/30, 100%, ")
               for line in result.stderr.splitlines()), result.stderr
    again = runner.invoke(args=["suggest", "--project", "news", "--quiet"])
    assert again.exit_code == 0 and again.stderr == ""


def test_copy_database_reports_rows_on_stderr_and_its_table_lines_on_stdout(tmp_path,
                                                                          every_count):
    source = create_app({"TESTING": True, "SECRET_KEY": "test",
                         "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'source.db'}"})
    import_articles(source, "news", RECORDS)
    targets = []
    for name in ("target.db", "quiet.db"):
        if ON_POSTGRES:
            reset_postgres(TEST_DATABASE_URL)
        targets.append(TEST_DATABASE_URL if ON_POSTGRES else f"sqlite:///{tmp_path / name}")
        quiet = ["--quiet"] if name == "quiet.db" else []
        result = source.test_cli_runner().invoke(args=["copy-database", targets[-1], *quiet])
        assert result.exit_code == 0, result.output
        assert "paragraph: 90 rows\n" in result.stdout and "rows copied" not in result.stdout
        if quiet:
            assert "rows copied" not in result.stderr  # (the target's migration logs remain)
        else:
            last = result.stderr.splitlines()[-1]
            assert last.startswith("rows copied: ") and ", 100%, " in last
    with source.app_context():
        db.engine.dispose()


def test_a_split_export_reports_its_articles_and_keeps_its_lines(app, runner, tmp_path,
                                                                 every_count):
    import_articles(app, "news", RECORDS)
    shown = runner.invoke(args=["export", "--project", "news", "--split", "train=0.8,test=0.2",
                                "-o", str(tmp_path / "shown")])
    quiet = runner.invoke(args=["export", "--project", "news", "--split", "train=0.8,test=0.2",
                                "-o", str(tmp_path / "quiet"), "--quiet"])
    assert shown.exit_code == quiet.exit_code == 0, shown.output
    assert shown.stdout.replace("shown", "quiet") == quiet.stdout
    progress = [line for line in shown.stderr.splitlines() if line.startswith("articles ")]
    assert progress[-1].startswith("articles exported: 30/30, 100%, ")
    assert quiet.stderr == shown.stderr.splitlines()[-1] + "\n"  # the ties line only
    for name in ("train.jsonl", "test.jsonl"):
        assert (tmp_path / "shown" / name).read_bytes() == (tmp_path / "quiet" / name).read_bytes()

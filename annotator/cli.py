"""The `flask` commands: import, export, create-user, create-token, load-demo, suggest, …"""
from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from .extensions import db
from .models import Article, GoldAttempt, Project, User
from .progress_report import ProgressReport, progress_option
from .database import DatabaseBusy, is_locked_error, upgrade_database
from .services import backup, demo, members
from .services.copying import CopyError, copy_database
from .services.exporting import UNITS, ExportError, ExportOptions, Tally, export_records
from .services.dataset import (EXPORT_FORMATS, GROUP_BY, UNKNOWN_LICENSE, parse_split,
                               write_dataset)
from .services.formats import FORMATS
from .services.importing import import_paths, project_name_problem
from .services.label_import import TOOLS, import_labels, parse_mapping
from .services.parquet_export import pyarrow, write_parquet
from .services.text import plural
from .services.users import UserError, create_token, create_user


@click.command("import")
@with_appcontext
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))  # a typo is not an invalid record
@click.option("--project", "project_name", required=True, help="Project name (created if new).")
@click.option("--format", "fmt", type=click.Choice(("auto", *FORMATS, *TOOLS)), default="auto",
              show_default=True, help="File format; auto goes by extension. label-studio, "
              "doccano, prodigy: another tool's labeled export, labels included.")
@click.option("--split", type=click.Choice(("line", "blank")), default="line", show_default=True,
              help="txt bodies: a paragraph per line, or per blank-line-separated block.")
@click.option("--encoding", default=None, help="Text encoding of the files [default: utf-8].")
@click.option("--skip-invalid", is_flag=True, help="Store the valid records, report the rest.")
@click.option("--map", "label_map", multiple=True, metavar="OLD=NEW",
              help="Another tool's export: its label OLD is the project's label NEW (repeatable).")
@click.option("--map-user", "user_map", multiple=True, metavar="OLD=NEW",
              help="Another tool's export: its annotator OLD is the user NEW (repeatable).")
@click.option("--annotator", default=None, metavar="USERNAME",
              help="Another tool's export: every label is this user's.")
@progress_option
def import_command(paths, project_name, fmt, split, encoding, skip_invalid, label_map, user_map,
                   annotator, quiet):
    """Import articles from files or directories into a project."""
    _check_project_name(project_name)
    if fmt in TOOLS:
        _import_labels(paths, project_name, fmt, split, label_map, user_map, annotator, quiet)
        return
    if label_map or user_map or annotator:
        raise click.UsageError("--map, --map-user and --annotator go with --format "
                               + "|".join(TOOLS))
    progress = ProgressReport(quiet=quiet)
    try:
        report = import_paths(db.session, project_name, paths, fmt=fmt, encoding=encoding,
                              split=split, skip_invalid=skip_invalid, progress=progress)
    finally:
        progress.close()
    for error in report.errors:
        click.echo(error, err=True)
    if not report.stored:
        raise click.ClickException(
            f"{report.failure()} (fix them, or pass --skip-invalid to import the valid ones)")
    click.echo(report.summary())
    if report.warc_summary():
        click.echo(report.warc_summary(), err=True)
    if report.pending:
        click.echo(f"cold suggestions of {plural(report.pending, 'article')} to be written "
                   "by the server (at its start, and at each article's first view) or by "
                   "`flask suggest`", err=True)


def _import_labels(paths, project_name, tool, split, label_map, user_map, annotator, quiet):
    """`flask import --format label-studio|doccano|prodigy`: the texts and their labels."""
    try:
        mapping, users = parse_mapping(label_map), parse_mapping(user_map, "--map-user")
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    progress = ProgressReport(quiet=quiet)
    try:
        report = import_labels(db.session, project_name, paths, tool, mapping=mapping,
                               user_mapping=users, annotator=annotator, split=split,
                               progress=progress)
    finally:
        progress.close()
    for error in report.errors:
        click.echo(error, err=True)
    if not report.stored:
        raise click.ClickException(f"{plural(len(report.errors), 'problem')}; "
                                   "nothing was imported")
    click.echo(report.summary())
    click.echo(report.label_summary())


@click.command("export")
@with_appcontext
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--unit", type=click.Choice(UNITS), default="paragraph", show_default=True,
              help="One JSONL line per paragraph, or per article.")
@click.option("--only-labeled", is_flag=True, help="Leave out paragraphs nobody labeled.")
@click.option("--only-resolved", is_flag=True,
              help="Only paragraphs with a label (gold or a strict majority): no ties.")
@click.option("--annotator", default=None, help="Export as if this user were the only annotator.")
@click.option("--suggestions", is_flag=True,
              help="Add each paragraph's stored suggestion (label, confidence, reason) or null.")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl",
              show_default=True,
              help="JSONL lines, or Parquet (needs -o and pyarrow: pip install "
                   "'annotator[parquet]').")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write to this file (with --split: this directory) instead of standard output.")
@click.option("--split", "split_spec", default=None, metavar="NAME=FRACTION,...",
              help="Write one file per split, e.g. train=0.8,dev=0.1,test=0.1 (needs -o DIR).")
@click.option("--seed", type=int, default=0, show_default=True, help="Shuffle seed for --split.")
@click.option("--group-by", type=click.Choice(GROUP_BY), default="article", show_default=True,
              help="Keep each article (or each site) within one split.")
@click.option("--force", is_flag=True,
              help="With --split: replace a non-empty -o DIR, and everything in it.")
@click.option("--license", "license_id", default=None, metavar="ID",
              help="With --split: the dataset card's license, a Hugging Face identifier "
                   "such as cc-by-4.0 or other [default: unknown].")
@progress_option
def export_command(project_name, unit, fmt, only_labeled, only_resolved, annotator, suggestions,
                   output, split_spec, seed, group_by, force, license_id, quiet):
    """Export a project's paragraphs and labels as JSONL or Parquet (or as a split dataset)."""
    options = ExportOptions(unit=unit, only_labeled=only_labeled, only_resolved=only_resolved,
                            annotator=annotator, suggestions=suggestions)
    tally = Tally()
    progress = ProgressReport(quiet=quiet)
    try:
        if split_spec is not None:
            if output is None:
                raise ExportError("--split writes several files: give a directory with -o DIR")
            report = write_dataset(db.session, project_name, output, parse_split(split_spec),
                                   seed=seed, group_by=group_by, options=options, force=force,
                                   license=license_id or UNKNOWN_LICENSE, fmt=fmt,
                                   progress=progress)
            for name, path in report.files.items():
                click.echo(f"{path}: {plural(report.lines[name], 'line')}, "
                           f"{plural(report.articles[name], 'article')}")
            if (warning := report.empty_warning(group_by)) is not None:
                click.echo(warning, err=True)
            _echo_unresolved(report.tally, options)
            return
        if license_id is not None:
            raise ExportError("--license is the dataset card's: it goes with --split")
        if fmt == "parquet":
            if output is None:
                raise ExportError("--format parquet writes a binary file: give one with -o FILE")
            pyarrow()  # installed, or an error saying how
        records = export_records(db.session, project_name, options, tally)
    except ExportError as error:
        progress.close()
        raise click.ClickException(str(error)) from None
    counted = select(func.count(Article.id)).join(Project).where(Project.name == project_name)
    if only_labeled:  # about the articles it walks (those with a span only come on top)
        counted = counted.where(Article.labeled_count > 0)
    lines = _reporting(records, progress, db.session.scalar(counted))
    try:
        if output is None:
            out = sys.stdout.buffer
            for line in lines:
                out.write(line)
            out.flush()
        else:
            _write_file(output, lines, options if fmt == "parquet" else None)
    finally:
        progress.close()
    if only_labeled or only_resolved:
        _echo_unresolved(tally, options)


def _reporting(records, progress: ProgressReport, articles: int):
    """The records' lines, reporting how many of the `articles` they came from so far."""
    done, last = 0, None
    for record in records:
        if record.article_pk != last:
            done, last = done + 1, record.article_pk
            progress("articles exported", done, articles)
        yield record.data
    progress("articles exported", articles, articles)


def _write_file(output: Path, lines, parquet: ExportOptions | None = None) -> None:
    """Write the lines to OUTPUT.partial (as Parquet, given the export's options in `parquet`),
    renamed to OUTPUT once complete (a device or pipe is written directly); a folder, a
    missing folder or an unwritable place is a message, not a traceback."""
    if output.is_dir():
        raise click.ClickException(f"{output} is a folder: -o names a file (a folder with --split)")
    if not output.parent.is_dir():
        raise click.ClickException(f"{output.parent} is not a folder: create it first, or "
                                   "choose another place for the export")
    # A device or a pipe (/dev/null, a FIFO) is written to as it is: renamed over, it would
    # be replaced by a plain file.
    special = output.exists() and not output.is_file()
    partial = output if special else output.with_name(output.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            if parquet is None:
                handle.writelines(lines)
            else:
                write_parquet(handle, lines, parquet)
        if not special:
            partial.replace(output)
    except OSError as error:
        if not special:
            partial.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {output}: {error.strerror or error}") from None


def _echo_unresolved(tally: Tally, options: ExportOptions) -> None:
    """Say on stderr how many labeled paragraphs have no label (a tie without gold)."""
    done = "left out" if options.only_resolved else "exported with label null"
    hint = ("; --only-resolved leaves them out"
            if tally.unresolved and not options.only_resolved else "")
    click.echo(f"{plural(tally.unresolved, 'unresolved tie')} (annotated, no majority, no gold): "
               f"{done}{hint}", err=True)


@click.command("agreement")
@with_appcontext
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--resamples", type=click.IntRange(0, 100_000), default=1000, show_default=True,
              help="Bootstrap resamples of articles for the confidence intervals.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the bootstrap resampling (the same seed, the same intervals).")
@click.option("--human-only", is_flag=True,
              help="Count labels chosen by hand only, leaving out accepted suggestions.")
@click.option("--version", "version", type=click.IntRange(1), default=None,
              help="Count only the labels made under this guideline version.")
@click.option("--by-version", is_flag=True,
              help="Agreement on each guideline version's labels, side by side.")
def agreement_command(project_name, as_json, resamples, seed, human_only, version, by_version):
    """Agreement between annotators: kappas, alpha, AC1, per label, with confidence intervals;
    with --json, on spans and links too (key "spans")."""
    from .services.agreement_report import (  # not at every start
        as_markdown, labels_used, per_version, project_agreement, versions_markdown)
    from .services.span_agreement import project_span_agreement
    project = db.session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        raise click.ClickException(f"no project named {project_name!r}")
    if version is not None and version > project.guideline_version:
        raise click.ClickException(f"project {project_name!r} has guideline versions 1 to "
                                   f"{project.guideline_version}, not {version}")
    if by_version and version is not None:
        raise click.ClickException("give --version N or --by-version, not both")
    if by_version:
        rows = per_version(db.session, project, resamples=resamples, seed=seed,
                           human_only=human_only)
        if as_json:
            click.echo(json.dumps({"human_only": human_only, "versions": [
                {"guideline_version": number, **result.to_dict()} for number, result in rows]},
                ensure_ascii=False, indent=2))
        else:
            click.echo("\n".join([labels_used(human_only), "", versions_markdown(rows)]))
        return
    result = project_agreement(db.session, project, resamples=resamples, seed=seed,
                               human_only=human_only, version=version)
    if as_json:
        spans = project_span_agreement(db.session, project)  # human spans only, always
        click.echo(json.dumps({**result.to_dict(), "human_only": human_only,
                               "guideline_version": version, "spans": spans.to_dict()},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(as_markdown(result, human_only=human_only, version=version))


@click.command("quality")
@with_appcontext
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON.")
def quality_command(project_name, as_json):
    """Each annotator's quality: accuracy and kappa against gold, agreement with the others,
    time per paragraph, suggestions accepted, per label and guideline version; flags."""
    from .services.quality import as_text, project_quality  # not at every start
    project = db.session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        raise click.ClickException(f"no project named {project_name!r}")
    result = project_quality(db.session, project)
    click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if as_json
               else as_text(result))


@click.command("suggest")
@with_appcontext
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--evaluate", is_flag=True,
              help="Also score the model by cross-validation by article: per label P/R/F1.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@progress_option
def suggest_command(project_name, evaluate, as_json, quiet):
    """Bring a project's suggestions up to date, learning from its human labels."""
    from .suggest import signals, training  # scikit-learn loads only for this command
    project = db.session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        raise click.ClickException(f"no project named {project_name!r}")
    summary = {"project": project.name, "enabled": project.suggestions_enabled,
               "trained": False, "trained_on": 0, "written": 0, "message": None}
    if not project.suggestions_enabled:
        summary["message"] = "suggestions are off for this project (see its settings)"
    else:
        progress = ProgressReport(quiet=quiet)
        summary["cold"] = signals.score_pending(db.session, project.id,  # a large import's
                                                progress=progress)
        try:
            metrics = training.train_project(db.session, project, progress)
            summary.update(trained=True, trained_on=metrics["trained_on"],
                           written=metrics["suggestions"], cpu_seconds=metrics["cpu_seconds"],
                           train_cpu_seconds=metrics["train_cpu_seconds"])
        except training.LeaseHeld as error:
            raise click.ClickException(f"{error}; try again in a minute") from None
        except training.TooFewLabels as error:
            summary["message"] = f"{error}; the suggestions are the cold signals only"
        finally:
            progress.close()
    summary["stored"] = training.stored_count(db.session, project.id)
    if evaluate:
        try:
            summary["evaluation"] = training.evaluate_project(db.session, project)
        except training.TooFewLabels as error:
            raise click.ClickException(f"cannot evaluate {project.name!r}: {error}") from None
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2) if as_json
               else training.summary_text(summary))


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an admin.")
@click.option("--role", type=click.Choice(("admin", "reviewer", "annotator")), default=None,
              help="Role (default annotator; --admin is short for --role admin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(username, admin, role, password_stdin):
    """Create a user (an annotator unless --admin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(db.session, username, password, "admin" if admin else role or "annotator")
    except UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created {user.role} {user.username}")


@click.command("create-token")
@with_appcontext
@click.argument("username")
@click.option("--name", default="", help="A note to tell tokens apart.")
def create_token_command(username, name):
    """Print a new API token for USERNAME (shown once; only its hash is stored)."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    click.echo(create_token(db.session, user, name))


@click.command("load-demo")
@with_appcontext
@click.option("--project", "project_name", default=demo.DEMO_PROJECT, show_default=True,
              help="Name of the demo project (created if new).")
@click.option("--team", type=click.IntRange(0, len(demo.SAMPLE_ANNOTATORS)), default=0,
              metavar="N", help="Also have N sample annotators (deactivated users) label every "
                                "paragraph, to try the dashboard, agreement and review pages.")
def load_demo_command(project_name, team):
    """Add the demo project: sample English, Chinese and mixed articles with boilerplate."""
    report = demo.load_demo(db.session, project_name)
    click.echo(f"{project_name}: " + report.summary())
    if team:
        try:
            names = demo.label_as_team(db.session, project_name, team)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"{project_name}: labeled by {', '.join(names)} (sample users who cannot "
                   f"sign in); annotators per article set to at least {team + 1}, which "
                   f"leaves a place in every article for you")


@click.command("members")
@with_appcontext
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--add", "add", multiple=True, metavar="USERNAME",
              help="Make USERNAME a member (repeat for several).")
@click.option("--remove", "remove", multiple=True, metavar="USERNAME",
              help="Take USERNAME off the members (repeat for several).")
@click.option("--only/--everyone", "members_only", default=None,
              help="Only the members work on the project, or every user does (the default "
                   "for a new project). Without either, left as it is.")
def members_command(project_name, add, remove, members_only):
    """Choose who works on a project, and print who does."""
    project = db.session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        raise click.ClickException(f"no project named {project_name!r}")
    try:
        members.change_members(db.session, project, add=add, remove=remove)
    except members.MemberError as error:
        raise click.ClickException(str(error)) from None
    if members_only is not None:
        project.members_only = members_only
        db.session.commit()
    names = ", ".join(members.member_names(db.session, project)) or "none"
    click.echo(f"{project.name}: members only; members: {names}" if project.members_only else
               f"{project.name}: open to every user; members (used with --only): {names}")


@click.command("calibration")
@with_appcontext
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--mark", "mark", multiple=True, metavar="ARTICLE_ID",
              help="Make the article (its id in the import) a calibration article; it needs "
                   "gold labels (repeat for several).")
@click.option("--unmark", "unmark", multiple=True, metavar="ARTICLE_ID",
              help="Make a calibration article ordinary again (repeat for several).")
@click.option("--recalibrate/--no-recalibrate", default=None,
              help="Whether a new guideline version sends every annotator through the "
                   "calibration articles again. Without either, left as it is.")
@click.option("--check-rate", type=float, default=None, metavar="RATE",
              help="The share of served articles that are hidden checks, 0 to 1 (0: none).")
def calibration_command(project_name, mark, unmark, recalibrate, check_rate):
    """Choose calibration articles, recalibration and the hidden-check rate; print them and
    each annotator's done calibration rounds."""
    from .services import calibration
    project = db.session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        raise click.ClickException(f"no project named {project_name!r}")
    if check_rate is not None:
        problem = calibration.check_rate_problem(check_rate)
        if problem is not None:
            raise click.ClickException(problem)
        project.check_rate = check_rate
    if recalibrate is not None:
        project.recalibrate = recalibrate
    wanted = {*mark, *unmark}
    pks = dict(db.session.execute(select(Article.article_id, Article.id).where(
        Article.project_id == project.id, Article.article_id.in_(wanted))).all()) if wanted else {}
    missing = sorted(wanted - set(pks))
    if missing:
        raise click.ClickException(f"no article {', '.join(map(repr, missing))} in {project.name}")
    try:
        calibration.set_calibration(db.session, project, [pks[a] for a in mark], True)
        calibration.set_calibration(db.session, project, [pks[a] for a in unmark], False)
    except calibration.CalibrationError as error:
        raise click.ClickException(str(error.args[0])) from None
    db.session.commit()
    chosen = db.session.scalars(select(Article.article_id).where(
        Article.project_id == project.id, Article.calibration).order_by(Article.id)).all()
    click.echo(f"{project.name}: calibration articles: {', '.join(chosen) or 'none'}; "
               f"recalibrate after a new guideline version: "
               f"{'yes' if project.recalibrate else 'no'}; hidden-check rate: {project.check_rate:g}")
    for username, done in db.session.execute(
            select(User.username, func.count(GoldAttempt.id))
            .join(GoldAttempt, GoldAttempt.user_id == User.id)
            .where(GoldAttempt.project_id == project.id, GoldAttempt.kind == "calibration",
                   GoldAttempt.done_at.is_not(None))
            .group_by(User.username).order_by(User.username)):
        click.echo(f"  {username}: {plural(done, 'calibration round')} done")


@click.command("backup")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path):
    """Write a consistent copy of the running SQLite database to PATH."""
    try:
        size = backup.backup(db.engine, path)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up to {path} ({size / 1e6:.1f} MB)")


@click.command("restore")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the current data.")
def restore_command(path, yes):
    """Replace the SQLite database's content with the backup at PATH."""
    if not yes:
        click.confirm(f"Replace all current data with {path}?", abort=True)
    try:
        backup.restore(db.engine, path)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    upgrade_database()  # a backup from an older version gets the newer schema
    click.echo(f"restored from {path}")


@click.command("copy-database")
@with_appcontext
@click.argument("target_url")
@click.option("--strip-nul", is_flag=True,
              help="Copy text holding NUL characters (PostgreSQL cannot store them) without them.")
@progress_option
def copy_database_command(target_url, strip_nul, quiet):
    """Copy everything into the new, empty database at TARGET_URL (e.g. PostgreSQL)."""
    from . import create_app  # the target gets an app of its own, so it is migrated as usual
    source = db.engine
    target_app = create_app({"SQLALCHEMY_DATABASE_URI": target_url,
                             "SECRET_KEY": current_app.config["SECRET_KEY"]})
    progress = ProgressReport(quiet=quiet)

    def table_copied(table: str, rows: int) -> None:
        progress.clear()
        click.echo(f"{table}: {plural(rows, 'row')}")

    with target_app.app_context():
        target = db.engine
        try:
            copied = copy_database(source, target, table_copied, strip_nul=strip_nul,
                                   warn=lambda message: click.echo(f"warning: {message}", err=True),
                                   rows_copied=progress)
        except CopyError as error:
            raise click.ClickException(str(error)) from None
        finally:
            progress.close()
            target.dispose()
    click.echo(f"copied {plural(sum(copied.values()), 'row')}; point ANNOTATOR_DATABASE_URL at the new "
               "database to use it")


def _check_project_name(name: str) -> None:
    problem = project_name_problem(name)
    if problem:
        raise click.ClickException(problem)


def _busy_is_a_message(command: click.Command) -> click.Command:
    """SQLite's "database is locked" (its busy timeout ran out) ends the command with a
    message and exit 1, like the writers' queue's own DatabaseBusy, instead of a traceback."""
    run = command.callback

    @wraps(run)
    def callback(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        except OperationalError as error:
            if is_locked_error(error):
                raise DatabaseBusy("ANNOTATOR_SQLITE_BUSY_TIMEOUT_MS") from error
            raise

    command.callback = callback
    return command


COMMANDS = tuple(map(_busy_is_a_message, (
    import_command, export_command, create_user_command, create_token_command,
    load_demo_command, backup_command, restore_command, copy_database_command,
    agreement_command, quality_command, suggest_command, members_command,
    calibration_command)))


HELP = """annotator: label the paragraphs of scraped web articles (claim, evidence,
boilerplate, other) and export them for training.

\b
Start with:  run (the web app), load-demo, import, export.
Each command's options: annotator COMMAND --help (or flask COMMAND --help in the
repository root, where .flaskenv names the app)."""


def init_app(app: Flask) -> None:
    app.cli.help = HELP
    for command in COMMANDS:
        app.cli.add_command(command)
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().command if ctx is not None else None
    if isinstance(root, FlaskGroup) and root.help != HELP:
        # `flask --help` prints Flask's generic text, then loads the app: ours goes below it
        root.epilog = HELP


def main() -> None:
    """The `annotator` console script: the flask commands of this app, from any folder."""
    from . import create_app
    FlaskGroup(name="annotator", help=HELP, create_app=create_app, load_dotenv=False).main()

"""What each command does: the function of the same name in cli.py is the command's
declaration (its options and help), which imports this module only when the command runs.
Each imports the services it uses itself, so a command loads only its own (issue 11)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from .choices import TOOLS
from .database import DatabaseBusy, is_locked_error, upgrade_database
from .extensions import db
from .models import Article, GoldAttempt, Project, User
from .progress_report import ProgressReport
from .services import backup
from .services.text import plural


def run(body, *args, **kwargs):
    """Run a command's body. SQLite's "database is locked" (its busy timeout ran out) ends it
    with a message and exit 1, like the writers' queue's own DatabaseBusy, not a traceback."""
    try:
        return body(*args, **kwargs)
    except OperationalError as error:
        if is_locked_error(error):
            raise DatabaseBusy("ANNOTATOR_SQLITE_BUSY_TIMEOUT_MS") from error
        raise


def import_command(paths, project_name, fmt, split, encoding, skip_invalid, label_map, user_map,
                   annotator, quiet):
    from .services.importing import import_paths, project_name_problem
    if problem := project_name_problem(project_name):
        raise click.ClickException(problem)
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
    from .services.label_import import import_labels, parse_mapping
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


def export_command(project_name, unit, fmt, only_labeled, only_resolved, annotator, suggestions,
                   output, split_spec, seed, group_by, force, license_id, quiet):
    from .services.exporting import ExportError, ExportOptions, Tally, export_records
    options = ExportOptions(unit=unit, only_labeled=only_labeled, only_resolved=only_resolved,
                            annotator=annotator, suggestions=suggestions)
    tally = Tally()
    progress = ProgressReport(quiet=quiet)
    try:
        if split_spec is not None:
            if output is None:
                raise ExportError("--split writes several files: give a directory with -o DIR")
            from .services.dataset import UNKNOWN_LICENSE, parse_split, write_dataset
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
            from .services.parquet_export import pyarrow
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
                from .services.parquet_export import write_parquet
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


def agreement_command(project_name, as_json, resamples, seed, human_only, version, by_version):
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


def quality_command(project_name, as_json):
    from .services.quality import as_text, project_quality  # not at every start
    project = db.session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        raise click.ClickException(f"no project named {project_name!r}")
    result = project_quality(db.session, project)
    click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if as_json
               else as_text(result))


def suggest_command(project_name, evaluate, as_json, quiet):
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


def create_user_command(username, admin, role, password_stdin):
    from .services.users import UserError, create_user
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(db.session, username, password, "admin" if admin else role or "annotator")
    except UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created {user.role} {user.username}")


def create_token_command(username, name):
    from .services.users import create_token
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    click.echo(create_token(db.session, user, name))


def load_demo_command(project_name, team):
    from .services import demo
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


def members_command(project_name, add, remove, members_only):
    from .services import members
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


def calibration_command(project_name, mark, unmark, recalibrate, check_rate):
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


def backup_command(path):
    try:
        size = backup.backup(db.engine, path)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up to {path} ({size / 1e6:.1f} MB)")


def restore_command(path, yes):
    if not yes:
        click.confirm(f"Replace all current data with {path}?", abort=True)
    try:
        backup.restore(db.engine, path)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    upgrade_database()  # a backup from an older version gets the newer schema
    click.echo(f"restored from {path}")


def copy_database_command(target_url, strip_nul, quiet):
    from .services.copying import CopyError, copy_database
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

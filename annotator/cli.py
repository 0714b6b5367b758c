"""The `flask` commands' declarations: names, arguments, options, help. Their bodies are in
commands.py, imported only when one runs: help and the command list load this module alone,
which imports nothing heavy (issue 11; tests/test_startup.py checks it)."""
from __future__ import annotations

from functools import wraps
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from .choices import (DEMO_PROJECT, EXPORT_FORMATS, FORMATS, GROUP_BY, SAMPLE_ANNOTATORS, TOOLS,
                      UNITS)
from .progress_report import progress_option


def runs_in_commands(declaration):
    """The command runs the function of the same name in commands.py, in an app context."""
    name = declaration.__name__

    @wraps(declaration)
    def run(*args, **kwargs):
        if "sqlalchemy" not in current_app.extensions:  # help_app(): "--help" was a value
            raise click.UsageError("--help asks for help here: it cannot be an option's value")
        from . import commands
        return commands.run(getattr(commands, name), *args, **kwargs)

    return with_appcontext(run)


@click.command("import")
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
@runs_in_commands
def import_command(paths, project_name, fmt, split, encoding, skip_invalid, label_map, user_map,
                   annotator, quiet):
    """Import articles from files or directories into a project."""


@click.command("export")
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
@runs_in_commands
def export_command(project_name, unit, fmt, only_labeled, only_resolved, annotator, suggestions,
                   output, split_spec, seed, group_by, force, license_id, quiet):
    """Export a project's paragraphs and labels as JSONL or Parquet (or as a split dataset)."""


@click.command("agreement")
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
@runs_in_commands
def agreement_command(project_name, as_json, resamples, seed, human_only, version, by_version):
    """Agreement between annotators: kappas, alpha, AC1, per label, with confidence intervals;
    with --json, on spans and links too (key "spans")."""


@click.command("quality")
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON.")
@runs_in_commands
def quality_command(project_name, as_json):
    """Each annotator's quality: accuracy and kappa against gold, agreement with the others,
    time per paragraph, suggestions accepted, per label and guideline version; flags."""


@click.command("suggest")
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--evaluate", is_flag=True,
              help="Also score the model by cross-validation by article: per label P/R/F1.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@progress_option
@runs_in_commands
def suggest_command(project_name, evaluate, as_json, quiet):
    """Bring a project's suggestions up to date, learning from its human labels."""


@click.command("create-user")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an admin.")
@click.option("--role", type=click.Choice(("admin", "reviewer", "annotator")), default=None,
              help="Role (default annotator; --admin is short for --role admin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@runs_in_commands
def create_user_command(username, admin, role, password_stdin):
    """Create a user (an annotator unless --admin)."""


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="", help="A note to tell tokens apart.")
@runs_in_commands
def create_token_command(username, name):
    """Print a new API token for USERNAME (shown once; only its hash is stored)."""


@click.command("load-demo")
@click.option("--project", "project_name", default=DEMO_PROJECT, show_default=True,
              help="Name of the demo project (created if new).")
@click.option("--team", type=click.IntRange(0, len(SAMPLE_ANNOTATORS)), default=0,
              metavar="N", help="Also have N sample annotators (deactivated users) label every "
                                "paragraph, to try the dashboard, agreement and review pages.")
@runs_in_commands
def load_demo_command(project_name, team):
    """Add the demo project: sample English, Chinese and mixed articles with boilerplate."""


@click.command("members")
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--add", "add", multiple=True, metavar="USERNAME",
              help="Make USERNAME a member (repeat for several).")
@click.option("--remove", "remove", multiple=True, metavar="USERNAME",
              help="Take USERNAME off the members (repeat for several).")
@click.option("--only/--everyone", "members_only", default=None,
              help="Only the members work on the project, or every user does (the default "
                   "for a new project). Without either, left as it is.")
@runs_in_commands
def members_command(project_name, add, remove, members_only):
    """Choose who works on a project, and print who does."""


@click.command("calibration")
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
@runs_in_commands
def calibration_command(project_name, mark, unmark, recalibrate, check_rate):
    """Choose calibration articles, recalibration and the hidden-check rate; print them and
    each annotator's done calibration rounds."""


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@runs_in_commands
def backup_command(path):
    """Write a consistent copy of the running SQLite database to PATH."""


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the current data.")
@runs_in_commands
def restore_command(path, yes):
    """Replace the SQLite database's content with the backup at PATH."""


@click.command("copy-database")
@click.argument("target_url")
@click.option("--strip-nul", is_flag=True,
              help="Copy text holding NUL characters (PostgreSQL cannot store them) without them.")
@progress_option
@runs_in_commands
def copy_database_command(target_url, strip_nul, quiet):
    """Copy everything into the new, empty database at TARGET_URL (e.g. PostgreSQL)."""


COMMANDS = (import_command, export_command, create_user_command, create_token_command,
            load_demo_command, backup_command, restore_command, copy_database_command,
            agreement_command, quality_command, suggest_command, members_command,
            calibration_command)
NAMES = frozenset({command.name for command in COMMANDS} | {"db"})  # the app's own commands


class MigrationCommands(click.Group):
    """`flask db`: Flask-Migrate's command group, imported only when `flask db` runs (its
    own help included); `flask --help` lists it from this stand-in."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        from flask_migrate.cli import db as commands

        from .database import init_migrations
        init_migrations(parent.ensure_object(ScriptInfo).load_app())
        return commands.make_context(info_name, args, parent=parent, **extra)


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
    app.cli.add_command(MigrationCommands("db", help="Perform database migrations."))
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().command if ctx is not None else None
    if isinstance(root, FlaskGroup) and root.help != HELP:
        # `flask --help` prints Flask's generic text, then loads the app: ours goes below it
        root.epilog = HELP


def help_app() -> Flask:
    """An app with the commands' declarations and nothing else (no database, no pages): what
    `--help` and the command list need."""
    app = Flask(__name__.rpartition(".")[0])
    init_app(app)
    return app


def main() -> None:
    """The `annotator` console script: the flask commands of this app, from any folder."""
    from . import create_app
    FlaskGroup(name="annotator", help=HELP, create_app=create_app, load_dotenv=False).main()

"""The commands explain themselves: every command and option has help, `flask --help` names
the app's commands, and the `annotator` script finds the app from any folder."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from annotator.cli import COMMANDS, HELP, MigrationCommands

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _commands(group: click.Group, path: str = ""):
    """Every command under `group`, subgroups' (flask db ...) included, with its path."""
    for name, command in group.commands.items():
        if isinstance(command, MigrationCommands):  # a stand-in until `flask db` runs
            from flask_migrate.cli import db as command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{path}{name} ")
        else:
            yield f"{path}{name}", command


def test_every_command_and_every_option_has_help(app):
    names = dict(_commands(app.cli))
    assert {command.name for command in COMMANDS} <= set(names) and "db upgrade" in names
    for name, command in names.items():
        assert (command.help or "").strip(), f"{name} has no help"
        missing = [option.opts[0] for option in command.params
                   if isinstance(option, click.Option) and not (option.help or "").strip()]
        assert missing == [], f"{name}: options without help: {missing}"


def test_the_app_group_has_a_help_text_naming_its_commands(app):
    assert app.cli.help == HELP
    for name in ("run", "load-demo", "import", "export"):
        assert name in HELP


def _run(program: str, args: list[str], cwd: Path, database: Path):
    env = {key: value for key, value in os.environ.items() if key != "FLASK_APP"}
    env.update(ANNOTATOR_DATABASE_URL=f"sqlite:///{database}", ANNOTATOR_SECRET_KEY="test")
    return subprocess.run([str(BIN / program), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_flask_help_in_the_repository_root_names_the_app_below_flasks_text(tmp_path):
    done = _run("flask", ["--help"], ROOT, tmp_path / "db.sqlite")
    assert done.returncode == 0, done.stderr
    assert "A general utility script for Flask" in done.stdout  # Flask's own, then ours
    assert "annotator: label the paragraphs" in done.stdout and "load-demo" in done.stdout


def test_the_annotator_script_runs_the_commands_outside_the_repository(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    flask = _run("flask", ["load-demo"], elsewhere, tmp_path / "db.sqlite")
    assert flask.returncode != 0 and "No such command" in flask.stderr  # what the README explains
    done = _run("annotator", ["load-demo"], elsewhere, tmp_path / "db.sqlite")
    assert done.returncode == 0, done.stderr
    assert "demo: imported: 4 articles added" in done.stdout
    helped = _run("annotator", ["--help"], elsewhere, tmp_path / "db.sqlite")
    assert helped.stdout.startswith("Usage: annotator ") and "annotator: label the" in helped.stdout
    assert helped.stdout.count("annotator: label the") == 1 and "load-demo" in helped.stdout

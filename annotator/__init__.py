"""annotator: label the paragraphs of scraped web articles in a browser."""
from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

ROOT = Path(__file__).resolve().parent.parent  # the repository root
# Imported by the pages and commands that use them, not at every start (issue 11); a server
# imports them once before it forks (gunicorn.conf.py), so its workers share them.
DEFERRED_MODULES = ("annotator.services.agreement_report", "annotator.services.span_agreement",
                    "annotator.services.dashboard", "annotator.charts",
                    "annotator.services.quality",
                    # the suggestions' model (suggest/model.py): a worker's first retraining
                    # imported them itself, a second of CPU in each worker
                    "sklearn.feature_extraction.text", "sklearn.linear_model",
                    "sklearn.preprocessing")


def import_deferred_modules() -> None:
    """Import what the start leaves to the pages that use it (DEFERRED_MODULES)."""
    for name in DEFERRED_MODULES:
        importlib.import_module(name)


@contextmanager
def collector_waiting() -> Iterator[None]:
    """Hold the garbage collector off while modules load, then freeze what they made out of
    its sight. Importing the app and SQLAlchemy makes some 300,000 long-lived objects and next
    to no garbage; the collector, running every 700 of them, cost a command's start 10% of its
    CPU (gunicorn.conf.py freezes the loaded app again before it forks)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


class UnusableDatabase(click.ClickException, RuntimeError):
    """The SQLite file cannot be read. A ClickException, so `flask` commands print the message
    and exit 1; a RuntimeError, so gunicorn does the same (`Error: ...`), without a traceback."""


from . import cli  # noqa: E402 (light: the commands' declarations)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; tests pass their own config and skip the environment.

    Each start imports what it uses (issue 11): on the command line, help and the command list
    get the commands' declarations alone (no database), the app's own commands the app
    without its pages; a server, a test, `flask run` or `flask shell` the whole app."""
    command = _flask_command()
    if command is not None and command != "db" and (command == "" or _help_only()):
        return cli.help_app()
    from .factory import build
    return build(test_config, command)


def _help_only() -> bool:
    """`flask COMMAND --help`: help needs the commands' declarations, not the app."""
    return "--help" in sys.argv[1:]


def _flask_command() -> str | None:
    """The subcommand of the `flask` (or `annotator`) command line building this app (`db`,
    `restore`, ...; "" for none), or None outside it (gunicorn, tests)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or not isinstance(ctx.find_root().command, FlaskGroup):
        return None
    arguments = iter(sys.argv[1:])
    for argument in arguments:
        if argument in ("-A", "--app", "-e", "--env-file"):
            next(arguments, None)  # the option's value
        elif not argument.startswith("-"):
            return argument
    return ""

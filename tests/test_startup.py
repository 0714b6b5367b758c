"""Start-up imports only what every start needs (issue 11): the heavy libraries wait for the
command or page that uses them, help loads the commands' declarations alone, a command the
app without its pages, and `flask db` still runs Alembic."""
import json
import os
import subprocess
import sys
from pathlib import Path

from annotator import DEFERRED_MODULES
from annotator.cli import NAMES

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")  # as users run it (the command line decides)
HEAVY = ("sklearn", "numpy", "scipy", "lxml", "charset_normalizer", "nh3", "alembic",
         "flask_migrate", "readability",
         "sqlalchemy.dialects.postgresql",  # a SQLite start needs only SQLite's dialect
         "encodings.cp1252", "encodings.gb18030",  # the import's codecs, looked up when used
         "annotator.services.agreement",  # and annotator.DEFERRED_MODULES, the app's own
         *DEFERRED_MODULES)


# What a server's pages load and no command needs
PAGES = ("annotator.pages", "annotator.admin", "annotator.auth", "annotator.api", "annotator.web",
         "annotator.i18n", "annotator.forms", "flask_wtf", "wtforms", "flask_babel")
# and what help needs none of: the database, the models, the commands' bodies
DATABASE = ("sqlalchemy", "flask_sqlalchemy", "annotator.factory", "annotator.models",
            "annotator.commands", "annotator.database", "flask_login", "argon2")


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, ANNOTATOR_DATABASE_URL=f"sqlite:///{tmp_path / 'start.db'}",
                ANNOTATOR_SECRET_KEY="test-secret", FLASK_APP="annotator", PYTHONPATH=str(ROOT))


def test_building_the_app_on_a_current_database_imports_no_heavy_library(tmp_path):
    env = _env(tmp_path)
    subprocess.run([FLASK, "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    script = ("import gc, json, sys; from annotator import create_app; create_app(); "
              f"print(json.dumps([[name for name in {HEAVY!r} if name in sys.modules], "
              "gc.isenabled()]))")
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                         capture_output=True, text=True).stdout
    heavy, collecting = json.loads(out.splitlines()[-1])
    assert heavy == []
    assert collecting  # the collector waits only while the app's modules load


def test_a_new_database_is_still_migrated_at_start_and_flask_db_still_works(tmp_path):
    env = _env(tmp_path)
    created = subprocess.run([FLASK, "create-user", "ann",
                              "--password-stdin"], env=env, input="password1\n",
                             capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    current = subprocess.run([FLASK, "db", "current"], env=env,
                             capture_output=True, text=True)
    assert current.returncode == 0, current.stderr
    head = subprocess.run([FLASK, "db", "heads"], env=env,
                          capture_output=True, text=True).stdout.split()[0]
    assert current.stdout.split()[0] == head


def test_help_needs_no_database(tmp_path):
    env = _env(tmp_path)
    env["ANNOTATOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'missing' / 'no.db'}"
    listing = subprocess.run([FLASK, "--help"], env=env,
                             capture_output=True, text=True)
    assert listing.returncode == 0 and " db " in listing.stdout and "import" in listing.stdout
    one = subprocess.run([FLASK, "create-user", "--help"], env=env,
                         capture_output=True, text=True)
    assert one.returncode == 0 and "--role" in one.stdout, one.stderr
    assert not (tmp_path / "missing").exists()


def test_a_server_imports_the_deferred_modules_before_it_forks(tmp_path):
    env = _env(tmp_path)
    subprocess.run([FLASK, "db", "upgrade"], env=env, check=True, capture_output=True)
    script = ("import json, runpy, sys; from annotator import create_app; create_app(); "
              "runpy.run_path('gunicorn.conf.py')['when_ready'](None); "
              f"print(json.dumps([name for name in {DEFERRED_MODULES!r} if name not in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(out.splitlines()[-1]) == []


def _imported(args: list[str], env: dict[str, str]):
    """`python -X importtime -m flask ARGS` in the repository root: its result and the names
    of the modules it imported."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "flask", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True)
    return done, {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                  if line.startswith("import time:")}


def test_help_imports_the_commands_declarations_alone(tmp_path):
    listing, imported = _imported(["--help"], _env(tmp_path))
    assert listing.returncode == 0 and "create-user" in listing.stdout, listing.stderr
    assert "annotator.cli" in imported  # the app's commands were listed
    assert sorted(imported & {*DATABASE, *PAGES, *HEAVY}) == []
    one, imported = _imported(["export", "--help"], _env(tmp_path))
    assert one.returncode == 0 and "--only-labeled" in one.stdout, one.stderr
    assert sorted(imported & {*DATABASE, *PAGES, *HEAVY}) == []
    assert not (tmp_path / "start.db").exists()  # and no database was opened


HELP_SCRIPT = """import contextlib, io, json, sys
from flask.cli import main
helps = {}
for args in json.loads(sys.argv[1]):
    sys.argv = ["flask", *args]
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        main()
    helps[" ".join(args)] = out.getvalue()
print(json.dumps(helps))"""


def test_help_lists_every_command_of_the_whole_app_with_the_same_help(tmp_path):
    asked = [["--help"], *([name, "--help"] for name in sorted(NAMES - {"db"}))]
    env = _env(tmp_path)
    whole = dict(env, FLASK_APP="annotator.factory:build(None, None)")  # pages and all

    def helps(env: dict[str, str]) -> dict[str, str]:
        out = subprocess.run([sys.executable, "-c", HELP_SCRIPT, json.dumps(asked)], env=env,
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        return json.loads(out.splitlines()[-1])

    light, full = helps(env), helps(whole)
    assert list(light) == [" ".join(args) for args in asked]
    for args, text in light.items():
        assert text == full[args] and text.startswith("Usage: flask "), args
    for name in NAMES:
        assert f"\n  {name} " in light["--help"]


def test_a_command_builds_the_app_without_its_pages(tmp_path):
    env = _env(tmp_path)
    done, imported = _imported(["create-token", "nobody"], env)
    assert done.returncode == 1 and "no user named 'nobody'" in done.stderr
    assert "annotator.models" in imported and sorted(imported & {*PAGES, *HEAVY}) == []


def test_help_given_as_an_options_value_is_a_usage_error(tmp_path):
    done = subprocess.run([FLASK, "create-token", "--name", "--help", "ann"], env=_env(tmp_path),
                          capture_output=True, text=True)
    assert done.returncode == 2 and "cannot be an option's value" in done.stderr
    assert "Traceback" not in done.stderr

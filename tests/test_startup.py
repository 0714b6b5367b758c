"""Start-up imports only what every start needs (issue 11): the heavy libraries wait for the
command or page that uses them, and `flask db` still runs Alembic."""
import json
import os
import subprocess
import sys
from pathlib import Path

from annotator import DEFERRED_MODULES

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")  # as users run it (the command line decides)
HEAVY = ("sklearn", "numpy", "scipy", "lxml", "charset_normalizer", "nh3", "alembic",
         "flask_migrate", "readability",
         "sqlalchemy.dialects.postgresql",  # a SQLite start needs only SQLite's dialect
         "encodings.cp1252", "encodings.gb18030",  # the import's codecs, looked up when used
         "annotator.services.agreement",  # and annotator.DEFERRED_MODULES, the app's own
         *DEFERRED_MODULES)


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

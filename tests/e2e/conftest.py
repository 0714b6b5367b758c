"""End-to-end fixtures: the app as a real server process (`flask run`) on its own SQLite file,
driven by a real headless Chromium through Playwright.

Without /usr/bin/chromium or the playwright package these tests are skipped, saying how to
enable them; under CI (CI=true) they fail instead, so CI never skips them silently.
Screenshots go to test-artifacts/ at the repository root (a failing test leaves one too).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from servers import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DEMO = ROOT / "annotator" / "demo"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SECRET_KEY = "e2e-fixed-secret-key-so-sessions-survive-a-restart"
ADMIN, PASSWORD = "admin", "correct horse battery"
ENABLE_HINT = "apt-get install chromium; pip install -e '.[test]'"
STEP_TIMEOUT_MS = 10_000  # one UI step; waits that span a server restart pass their own


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing"
    return None


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run (never a Playwright-downloaded browser)."""
    problem = _missing()
    if problem is not None:
        message = f"browser tests need Chromium and Playwright: {problem}. To enable them: {ENABLE_HINT}"
        if _on_ci():
            pytest.fail(f"CI is set, so not skipping: {message}", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                              headless=True)
        yield chromium
        chromium.close()


# --- the server ------------------------------------------------------------------------

class LiveServer:
    """`flask run` in a subprocess; stop() and start() again keep the port and the database."""

    def __init__(self, tmp_path: Path, seed: Path | None = None):
        self.port = free_port()  # this xdist worker's block (tests/servers.py)
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = tmp_path / "e2e.db"
        self.log_path = tmp_path / "server.log"
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("ANNOTATOR_", "FLASK_"))}
        self.env.update(ANNOTATOR_DATABASE_URL=f"sqlite:///{self.database}",
                        ANNOTATOR_SECRET_KEY=SECRET_KEY, PYTHONUNBUFFERED="1")
        self.process: subprocess.Popen | None = None
        if seed is not None:  # start from a copy of a prepared database (WAL files included)
            for suffix in ("", "-wal", "-shm"):
                source = seed.with_name(seed.name + suffix)
                if source.exists():
                    shutil.copyfile(source, self.database.with_name(self.database.name + suffix))

    def start(self, timeout: float = 30) -> None:
        assert self.process is None, "the server is already running"
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "annotator", "run",
                 "--port", str(self.port), "--no-reload"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                raise RuntimeError(f"the server exited with {code}:\n{self.log_tail()}")
            try:  # static files answer before setup and sign-in
                with urllib.request.urlopen(f"{self.url}/static/favicon.svg", timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Terminate the server (kill it if it lingers); refused connections from now on."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def cli(self, *args: str, input: str | None = None, timeout: float = 120) -> str:
        """Run `flask --app annotator ARGS` against the same database; return its stdout."""
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "annotator", *args],
                                cwd=ROOT, env=self.env, input=input, capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, f"flask {' '.join(args)} failed:\n{result.stderr}"
        return result.stdout

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell a failed test at teardown."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _failed(request) -> bool:
    return any(getattr(request.node, f"report_{when}", None) is not None
               and getattr(request.node, f"report_{when}").failed for when in ("setup", "call"))


@pytest.fixture(scope="session")
def seeded_database(browser, tmp_path_factory) -> Path:
    """A database with the admin and the demo project, made once with the real CLI."""
    maker = LiveServer(tmp_path_factory.mktemp("seed"))
    maker.cli("create-user", ADMIN, "--admin", "--password-stdin", input=PASSWORD + "\n")
    maker.cli("load-demo")
    return maker.database


@pytest.fixture
def live_server(browser, tmp_path, request):
    """A running server; always killed at teardown. Its database is fresh (first-run setup),
    or, for tests using `admin_page`, a copy of `seeded_database` (saves two CLI runs each)."""
    seed = request.getfixturevalue("seeded_database") if "admin_page" in request.fixturenames else None
    server = LiveServer(tmp_path, seed)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if _failed(request):
            print(f"\n--- server log ({server.log_path}) ---\n{server.log_tail()}")


# --- the browser page ------------------------------------------------------------------

@pytest.fixture
def page(browser, live_server, request):
    """A fresh browser context (no cookies, no localStorage) on the live server, in English."""
    context = browser.new_context(base_url=live_server.url, locale="en-US",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    tab = context.new_page()
    failure_shot = ARTIFACTS / f"failed-{request.node.name}.png"
    failure_shot.unlink(missing_ok=True)  # left by an earlier failing run
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text)  # e.g. an inline style
           if message.type == "error" and "Content Security Policy" in message.text else None)
    try:
        yield tab
    finally:
        if _failed(request) and context.pages:  # the tab the test ended on
            ARTIFACTS.mkdir(exist_ok=True)
            try:
                context.pages[-1].screenshot(path=str(failure_shot))
            except Exception:  # noqa: BLE001 - a screenshot must never hide the real failure
                pass
        context.close()
    assert not errors, f"JavaScript errors or CSP violations: {errors}"


def sign_in(page, username: str = ADMIN, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form:not(.language-form) button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def admin_page(live_server, page):
    """Signed in as the admin, on a server whose database already holds the demo project."""
    sign_in(page)
    return page


@pytest.fixture(scope="session")
def demo():
    """The demo articles by their id, and the answer key."""
    articles = {}
    for line in (DEMO / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            articles[record["id"]] = record
    key = json.loads((DEMO / "answer_key.json").read_text(encoding="utf-8"))
    return {"articles": articles, "key": key}


def article_pk(page, project_name: str, article_id: str) -> int:
    """The database id of an article, looked up through the JSON API as the signed-in user."""
    projects = page.request.get("/api/projects").json()
    project = next(p for p in projects if p["name"] == project_name)
    items = page.request.get(f"/api/projects/{project['id']}/articles?limit=1000").json()["items"]
    return next(item["id"] for item in items if item["article_id"] == article_id)


def labels(page, project_name: str = "demo") -> dict:
    """A project's hotkey for each label key (demo: claim 1, evidence 2, boilerplate 3, other 4)."""
    projects = page.request.get("/api/projects").json()
    project = next(p for p in projects if p["name"] == project_name)
    return {label["key"]: label["hotkey"] for label in project["labels"]}


def api_article(page, pk: int) -> dict:
    response = page.request.get(f"/api/articles/{pk}")
    assert response.ok, response.text()
    return response.json()


def pending(page, user_id: int = 1) -> dict:
    """The save queue kept in localStorage: changes the server has not confirmed yet."""
    raw = page.evaluate("""prefix => Object.fromEntries(Object.keys(localStorage)
        .filter((key) => key.startsWith(prefix))
        .map((key) => [key.slice(prefix.length), JSON.parse(localStorage.getItem(key))]))""",
                        f"annotator.pending.{user_id}.")
    return raw or {}


@pytest.fixture
def helpers():
    """The module-level helpers above, for test files (conftest modules are not imported)."""
    return SimpleNamespace(sign_in=sign_in, article_pk=article_pk, labels=labels,
                           api_article=api_article, pending=pending, ADMIN=ADMIN,
                           PASSWORD=PASSWORD, ARTIFACTS=ARTIFACTS)

"""docs/client.md's Python example, run as written against a live server with a token: it
pages through the articles, pushes its suggestions, and writes the export."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Paragraph, Suggestion

from helpers import api_token, import_articles, make_user
from servers import ROOT, Server
from testdb import ON_POSTGRES, TEST_DATABASE_URL

BLOCK = re.compile(r"```python\n(.*?)```", re.S)
ARTICLES = 130  # more than the example's page of 100: it must page


def test_the_documented_client_pushes_suggestions_and_writes_the_export(app, tmp_path):
    blocks = BLOCK.findall((ROOT / "docs" / "client.md").read_text("utf-8"))
    assert len(blocks) == 1, "docs/client.md should hold one Python example"
    script = tmp_path / "client.py"
    script.write_text(blocks[0], "utf-8")
    import_articles(app, "news", [
        {"id": f"a{n}", "title": f"文章 {n}",
         "paragraphs": [f"The council voted {n} times to rebuild the old bridge by spring.",
                        "Share this"]} for n in range(ARTICLES)])
    make_user(app, "alice", "admin")
    token = api_token(app, "alice")
    url = TEST_DATABASE_URL if ON_POSTGRES else app.config["SQLALCHEMY_DATABASE_URI"]
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": url, "ANNOTATOR_SECRET_KEY": "client-test"}
    server = Server("flask", env)
    export = tmp_path / "out" / "news.jsonl"
    export.parent.mkdir()
    try:
        done = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
            timeout=300, env={**env, "ANNOTATOR_URL": server.url, "ANNOTATOR_TOKEN": token,
                              "PROJECT": "news", "EXPORT": str(export)})
    finally:
        server.kill()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"pushed {2 * ARTICLES} suggestions",
                                        f"export written to {export}"]
    with app.app_context():
        stored = db.session.execute(select(Paragraph.index, Suggestion.label, Suggestion.model,
                                           Suggestion.reason, Suggestion.confidence)
                                    .join(Suggestion)).all()
    assert len(stored) == 2 * ARTICLES
    assert {tuple(row) for row in stored} == {
        (0, "claim", "my-model", "my-model: length rule", 0.55),
        (1, "boilerplate", "my-model", "my-model: length rule", 0.7)}
    lines = [json.loads(line) for line in export.read_text("utf-8").splitlines()]
    assert len(lines) == 2 * ARTICLES
    assert {line["article_id"] for line in lines} == {f"a{n}" for n in range(ARTICLES)}
    assert all(line["suggestion"]["reason"] == "my-model: length rule" for line in lines)


def test_the_documented_client_stops_at_a_wrong_token(app, tmp_path):
    script = tmp_path / "client.py"
    script.write_text(BLOCK.findall((ROOT / "docs" / "client.md").read_text("utf-8"))[0], "utf-8")
    import_articles(app, "news", [{"id": "a", "title": "t", "paragraphs": ["p"]}])
    url = TEST_DATABASE_URL if ON_POSTGRES else app.config["SQLALCHEMY_DATABASE_URI"]
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": url, "ANNOTATOR_SECRET_KEY": "client-test"}
    server = Server("flask", env)
    try:
        done = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
            timeout=120, env={**env, "ANNOTATOR_URL": server.url, "ANNOTATOR_TOKEN": "wrong",
                              "PROJECT": "news"})
    finally:
        server.kill()
    assert done.returncode != 0
    assert "401 Client Error" in done.stderr
    assert not (tmp_path / "export.jsonl").exists()

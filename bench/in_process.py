"""An app in this process on a fresh SQLite file, with long articles and a token: for the
benchmarks that time the JSON API through Flask's test client."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from sqlalchemy import select  # noqa: E402

from annotator import create_app  # noqa: E402
from annotator.extensions import db  # noqa: E402
from annotator.models import User  # noqa: E402
from annotator.services.importing import Source, import_sources  # noqa: E402
from annotator.services.users import create_token, create_user  # noqa: E402


def long_articles_app(prefix: str, paragraphs: int, names: tuple[str, ...]) -> tuple[Flask, str]:
    """An app whose project "bench" holds one article per name (its article id), each of the
    same `paragraphs` mixed Chinese/English paragraphs, and a token of the annotator "bench"."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    app = create_app({"TESTING": True, "SECRET_KEY": "bench",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}"})
    texts = [f"第 {i} 段：电池回收的成本在 {i * 7919 % 10007} 元左右。Paragraph {i}."
             for i in range(paragraphs)]
    records = "".join(json.dumps({"id": name, "title": name, "paragraphs": texts},
                                 ensure_ascii=False) + "\n" for name in names)
    with app.app_context():
        create_user(db.session, "bench", "correct horse battery", "annotator")
        token = create_token(db.session, db.session.scalar(select(User)), "bench")
        import_sources(db.session, "bench", [Source("bench.jsonl", records.encode(), "jsonl")])
    return app, token

"""The floor for a label save: the smallest Flask + SQLite server that speaks the annotator's
save route, `PUT /api/paragraphs/<id>/annotation` with a bearer token and a JSON body, and
answers the same JSON. One token lookup, one upsert, one commit, with the app's pragmas; no
label check, history, counters or holds. Served by gunicorn with the shipped config:

    FLOOR_DATABASE=PATH gunicorn -c gunicorn.conf.py 'floor_server:create()' --chdir bench
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from datetime import datetime, timezone

from flask import Flask, abort, jsonify, request

UPSERT = ("INSERT INTO annotation (paragraph_id, user_id, label, note, source, created_at, "
          "updated_at) VALUES (?, ?, ?, NULL, 'human', ?, ?) ON CONFLICT (paragraph_id, user_id) "
          "DO UPDATE SET label = excluded.label, updated_at = excluded.updated_at")


def create() -> Flask:
    app = Flask(__name__)
    path = os.environ["FLOOR_DATABASE"]
    local = threading.local()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(path, isolation_level=None, timeout=5)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                local.db.execute(f"PRAGMA {pragma}")
        return local.db

    @app.get("/login")
    def login():  # what bench/server.py polls until the server answers
        return "ok"

    @app.put("/api/paragraphs/<int:paragraph_id>/annotation")
    def put_annotation(paragraph_id: int):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        db = connection()
        row = db.execute("SELECT user_id FROM api_token WHERE token_hash = ?",
                         (hashlib.sha256(token.strip().encode()).hexdigest(),)).fetchone()
        if scheme.lower() != "bearer" or row is None:
            abort(401)
        label = (request.get_json(silent=True) or {}).get("label")
        if not isinstance(label, str):
            abort(400)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        db.execute("BEGIN IMMEDIATE")
        db.execute(UPSERT, (paragraph_id, row[0], label, now, now))
        db.execute("COMMIT")
        return jsonify(paragraph_id=paragraph_id, label=label, note=None, source="human",
                       updated_at=now.isoformat() + "Z")

    return app

"""A real server for tests that need one over HTTP: `flask run` or gunicorn (the shipped
gunicorn.conf.py), started on a free port as its own process group and killed whole."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# Ports below Linux's ephemeral range (32768-60999), so no outgoing connection takes one
# between the probe and the server's bind; a block of its own for each pytest-xdist worker.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
_BLOCK = range(20000 + 500 * (_WORKER % 24), 20000 + 500 * (_WORKER % 24 + 1))
_next_port = iter(_BLOCK[(os.getpid() * 7) % len(_BLOCK):])


def free_port() -> int:
    """A port no one listens on, taken in turn from this worker's block."""
    global _next_port
    for _ in range(2 * len(_BLOCK)):
        port = next(_next_port, None)
        if port is None:
            _next_port = iter(_BLOCK)
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # in use, or still closing
                continue
            return port
    raise RuntimeError(f"no free port in {_BLOCK}")


class Server:
    """`kind` is "flask" (the development server) or "gunicorn" (`workers` processes); `env`
    is the whole environment, with the database URL and the secret key."""

    def __init__(self, kind: str, env: dict, workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if kind == "flask":
            command = ["-m", "flask", "--app", "annotator", "run", "--port", str(self.port),
                       "--no-reload"]
        else:
            command = ["-m", "gunicorn", "-c", "gunicorn.conf.py"]
            env = {**env, "ANNOTATOR_BIND": f"127.0.0.1:{self.port}",
                   "ANNOTATOR_WORKERS": str(workers)}
        self.process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/login", timeout=2)
                return
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{kind} did not start")

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


def bearer_api(server, token: str, method: str, path: str, body: dict | None = None):
    """Call a running server's JSON API as a script does: a bearer token, no cookie, no CSRF
    token; the answer's JSON (None for an empty body)."""
    request = urllib.request.Request(
        server.url + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")

"""A real server for tests that need one over HTTP: `flask run` or gunicorn (the shipped
gunicorn.conf.py), started on a free port as its own process group and killed whole."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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

"""Start and stop gunicorn (`-c gunicorn.conf.py`, as in production) or the raw http.server
baseline; time the start until the first 200/302, and read each worker's memory from /proc."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from common import BENCH, GUNICORN, PYTHON, ROOT, app_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int, path: str = "/login") -> bool:
    """True once GET path answers 200 or 302."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status in (200, 302)
    except OSError:
        return False


class Server:
    """One server process (gunicorn's master, or the baseline) on a free port."""

    def __init__(self, db_path: Path, log_path: Path, workers: int | None = None,
                 raw: bool = False):
        self.db_path, self.log_path, self.workers, self.raw = db_path, log_path, workers, raw
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, limit: float = 60.0) -> float:
        """Start, and return the seconds until the first 200/302."""
        if self.raw:
            cmd = [PYTHON, str(BENCH / "baselines.py"), "serve", str(self.db_path), str(self.port)]
            env = dict(os.environ)
        else:
            cmd = [GUNICORN, "-c", "gunicorn.conf.py"]
            extra = {"ANNOTATOR_BIND": f"127.0.0.1:{self.port}"}
            if self.workers:
                extra["ANNOTATOR_WORKERS"] = str(self.workers)
            env = app_env(self.db_path, **extra)
        return self.launch(cmd, ROOT, env, limit)

    def launch(self, cmd: list[str], cwd: Path, env: dict[str, str], limit: float) -> float:
        """Run `cmd` and return the seconds until the first 200/302."""
        log = open(self.log_path, "ab")
        began = time.perf_counter()
        self.process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        while time.perf_counter() - began < limit:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            if answers(self.port):
                return time.perf_counter() - began
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"server did not answer within {limit} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """The master's children (gunicorn workers); the process itself for the baseline."""
        if self.process is None:
            return []
        if self.raw:
            return [self.process.pid]
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    children.append(int(entry))
        return sorted(children)

    def wait_for_workers(self, limit: float = 30.0) -> None:
        """Until every worker is forked (the first may answer before the last exists)."""
        wanted = 1 if self.raw else (self.workers or default_workers())
        deadline = time.perf_counter() + limit
        while len(self.worker_pids()) < wanted and time.perf_counter() < deadline:
            time.sleep(0.05)

    def memory(self) -> list[dict[str, float]]:
        """RSS and PSS (shared pages divided among sharers) of each worker, in MB."""
        return [process_memory(pid) for pid in self.worker_pids()]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM the master (a graceful stop), SIGKILL its group only if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(35)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def default_workers() -> int:
    """gunicorn.conf.py's default: ANNOTATOR_WORKERS, else min(2 * CPUs + 1, 8)."""
    return int(os.environ.get("ANNOTATOR_WORKERS", min(2 * os.cpu_count() + 1, 8)))


def process_memory(pid: int) -> dict[str, float]:
    values = {}
    for name, field in (("status", "VmRSS:"), ("smaps_rollup", "Pss:")):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(field):
                    values[field.rstrip(":").lower()] = int(line.split()[1]) / 1024
                    break
        except OSError:
            pass
    return {"rss_mb": values.get("vmrss", float("nan")), "pss_mb": values.get("pss", float("nan"))}

"""HTTP load: concurrent label saves (wrk with bench/saves.lua, else Python processes), and a
small keep-alive client for sequential requests with a session cookie or a bearer token."""
from __future__ import annotations

import http.client
import json
import multiprocessing
import random
import re
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

from common import BENCH, LABELS, percentile


MIN_SAMPLES = 20  # a time-capped latency measurement still takes this many


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def saves(port: int, tokens: list[str], lo: int, hi: int, concurrency: int, seconds: float,
          workdir: Path, seed: int = 0, use_wrk: bool = True) -> dict[str, float]:
    """`concurrency` annotators, each on its own connection with its own token, saving labels
    on random paragraphs for `seconds`: throughput, latency percentiles, errors."""
    if use_wrk and have_wrk():
        return _wrk_saves(port, tokens[:concurrency], lo, hi, concurrency, seconds, workdir, seed)
    return _python_saves(port, tokens[:concurrency], lo, hi, concurrency, seconds, seed)


def _wrk_saves(port, tokens, lo, hi, concurrency, seconds, workdir, seed) -> dict[str, float]:
    token_file = workdir / "tokens.txt"
    token_file.write_text("\n".join(tokens) + "\n")
    out = subprocess.run(
        ["wrk", f"-t{concurrency}", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "5s",
         "-s", str(BENCH / "saves.lua"), f"http://127.0.0.1:{port}", "--",
         str(token_file), str(lo), str(hi), str(seed)],
        capture_output=True, text=True, check=True).stdout
    found = re.search(r"^BENCH_JSON (.*)$", out, re.M)
    if not found:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    raw = json.loads(found.group(1))
    return {"saves_per_s": raw["requests"] / (raw["duration_us"] / 1e6), "requests": raw["requests"],
            "p50_ms": raw["p50_us"] / 1000, "p95_ms": raw["p95_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000,
            "non2xx_err": raw["non2xx"], "5xx_err": raw["5xx"],
            "socket_err": raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
            "client_wrk": 1}


def _python_saves(port, tokens, lo, hi, concurrency, seconds, seed) -> dict[str, float]:
    """The fallback: one process per annotator, keep-alive http.client, same requests."""
    deadline = time.time() + 1.0 + seconds  # every process starts together, stops together
    jobs = [(port, tokens[n % len(tokens)], lo, hi, deadline, seconds, seed * 1000 + n)
            for n in range(concurrency)]
    with multiprocessing.get_context("fork").Pool(concurrency) as pool:
        results = pool.map(_save_loop, jobs)
    latencies = [value for result in results for value in result["latencies"]]
    return {"saves_per_s": len(latencies) / seconds, "requests": len(latencies),
            "p50_ms": percentile(latencies, 50) * 1000, "p95_ms": percentile(latencies, 95) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000, "max_ms": max(latencies, default=0) * 1000,
            "non2xx_err": sum(r["non2xx"] for r in results), "5xx_err": sum(r["5xx"] for r in results),
            "socket_err": sum(r["socket_errors"] for r in results), "client_wrk": 0}


def _save_loop(job) -> dict:
    port, token, lo, hi, deadline, seconds, seed = job
    time.sleep(max(0.0, deadline - seconds - time.time()))  # start together
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies, non2xx, server_errors, socket_errors = [], 0, 0, 0
    while time.time() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            while time.time() < deadline:
                body = json.dumps({"label": rng.choice(LABELS)})
                start = time.perf_counter()
                conn.request("PUT", f"/api/paragraphs/{rng.randint(lo, hi)}/annotation",
                             body, headers)
                response = conn.getresponse()
                response.read()
                latencies.append(time.perf_counter() - start)
                non2xx += not 200 <= response.status < 300
                server_errors += response.status >= 500
        except OSError:
            socket_errors += 1
        finally:
            conn.close()
    return {"latencies": latencies, "non2xx": non2xx, "5xx": server_errors,
            "socket_errors": socket_errors}


class Client:
    """Sequential requests on one keep-alive connection, with cookies or a bearer token."""

    def __init__(self, port: int, token: str | None = None):
        self.port, self.token = port, token
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # gunicorn closes a keep-alive connection left idle for `keepalive` seconds (2 by
            # default), e.g. while another client ran its measurement: reconnect once.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data

    def login(self, username: str, password: str) -> None:
        """Sign in through the form, with its CSRF token, as a browser does."""
        status, page = self.request("GET", "/login")
        found = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or \
            re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', page)
        if status != 200 or not found:
            raise RuntimeError(f"no login form (status {status})")
        form = urllib.parse.urlencode({"csrf_token": found.group(1).decode(),
                                       "username": username, "password": password})
        status, _ = self.request("POST", "/login", form,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"login as {username} failed with status {status}")

    def timed(self, method: str, path: str, count: int, expect: tuple[int, ...] = (200,),
              between=None, seconds: float | None = None) -> tuple[list[float], int]:
        """`count` requests one after another, or fewer once `seconds` have passed (but at
        least MIN_SAMPLES): (latencies in seconds, unexpected statuses).
        `between(status, body)` runs after each, untimed."""
        latencies, bad = [], 0
        deadline = None if seconds is None else time.perf_counter() + seconds
        for _ in range(count):
            if deadline and len(latencies) >= MIN_SAMPLES and time.perf_counter() > deadline:
                break
            start = time.perf_counter()
            status, body = self.request(method, path)
            latencies.append(time.perf_counter() - start)
            bad += status not in expect
            if between is not None:
                between(status, body)
        return latencies, bad

    def close(self) -> None:
        self.conn.close()

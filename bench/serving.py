"""The benchmarks against gunicorn: start time and idle memory, concurrent label saves, the
article page, the queue and the progress pages; each beside its raw sqlite3 + json baseline."""
from __future__ import annotations

import json
import time
from pathlib import Path

import baselines
import load
from common import PASSWORD, Row, latency_summary, ms, rate
from context import Benchmark, Context
from fixtures import ANNOTATORS
from server import Server

START_S = 2.0
WORKER_RSS_MB = 100
SAVE_P99_MS = 30
SAVE_RATE = 800
PAGE_P99_MS = 150
QUEUE_P99_MS = 100
WARM_UP = 5  # untimed requests before each sequential measurement


# --- 7. server start ------------------------------------------------------------------------

def measure_start(ctx: Context, run: int) -> dict[str, float]:
    db = Path(ctx.main().path)
    out = {}
    for raw in (False, True):
        name = "raw" if raw else "app"
        server = Server(db, ctx.workdir / f"start-{name}.log", ctx.workers, raw=raw)
        try:
            out[f"start_{name}_s"] = server.start()
            server.wait_for_workers()
            time.sleep(1.0)  # idle
            memory = server.memory()
        finally:
            server.stop()
        out[f"start_{name}_workers"] = len(memory)
        out[f"start_{name}_rss_mb"] = max(m["rss_mb"] for m in memory)
        out[f"start_{name}_pss_mb"] = max(m["pss_mb"] for m in memory)
    return out


def rows_start(m: dict[str, float], ctx: Context) -> list[Row]:
    return [
        Row("server start until first 200/302 (gunicorn -c gunicorn.conf.py)",
            f"{m['start_app_s']:.2f} s ({m['start_app_workers']:.0f} workers)",
            f"{m['start_raw_s']:.2f} s (python http.server + sqlite3)",
            m["start_raw_s"] / m["start_app_s"], f"< {START_S:g} s", m["start_app_s"] < START_S),
        Row("idle memory per worker (largest; /proc VmRSS, PSS)",
            f"RSS {m['start_app_rss_mb']:.0f} MB, PSS {m['start_app_pss_mb']:.0f} MB",
            f"RSS {m['start_raw_rss_mb']:.0f} MB (http.server process)", None,
            f"< {WORKER_RSS_MB} MB RSS", m["start_app_rss_mb"] < WORKER_RSS_MB),
    ]


# --- 2. label save --------------------------------------------------------------------------

CONCURRENCY = (1, 16)


def measure_saves(ctx: Context, run: int) -> dict[str, float]:
    db = ctx.main()
    server = ctx.server()
    tokens = [db.tokens[name] for name in ANNOTATORS]
    out = {}
    for users in CONCURRENCY:
        log_mark = len(server.log_text())
        result = load.saves(server.port, tokens, db.lo, db.hi, users, ctx.sizes.load_seconds,
                            ctx.workdir, seed=run, use_wrk=ctx.use_wrk)
        locked = server.log_text()[log_mark:].count("database is locked")
        out.update({f"saves_{users}_{key}": value for key, value in result.items()})
        out[f"saves_{users}_locked_err"] = locked
    memory = server.memory()
    out["saves_worker_rss_after_mb"] = max(m["rss_mb"] for m in memory)
    count, elapsed, latencies = baselines.saves(Path(db.path), db.users["raw-saves"], db.lo, db.hi,
                                                ctx.sizes.baseline_seconds, seed=run)
    out["saves_raw_rate"] = count / elapsed
    out.update(latency_summary(latencies, "saves_raw_"))
    return out


def rows_saves(m: dict[str, float], ctx: Context) -> list[Row]:
    rows = []
    for users in CONCURRENCY:
        k = f"saves_{users}_"
        errors = m[k + "non2xx_err"] + m[k + "socket_err"] + m[k + "locked_err"]
        client = "wrk" if m.get(k + "client_wrk") else "python"
        annotator = (f"{rate(m[k + 'saves_per_s'], 'saves/s')}; p50/p95/p99 "
                     f"{ms(m[k + 'p50_ms'])}/{ms(m[k + 'p95_ms'])}/{ms(m[k + 'p99_ms'])} ms; "
                     f"errors: {m[k + 'non2xx_err']:.0f} non-2xx ({m[k + '5xx_err']:.0f} 5xx), "
                     f"{m[k + 'socket_err']:.0f} socket, {m[k + 'locked_err']:.0f} locked ({client})")
        if users == 16:
            target = f"p99 < {SAVE_P99_MS} ms, ≥ {SAVE_RATE}/s, 0 errors"
            met = m[k + "p99_ms"] < SAVE_P99_MS and m[k + "saves_per_s"] >= SAVE_RATE and not errors
        else:
            target, met = "0 errors", not errors
        rows.append(Row(
            f"label save `PUT /api/paragraphs/<id>/annotation`, {users} concurrent "
            f"annotator{'s' if users > 1 else ''} ({ctx.sizes.load_seconds:g} s)",
            annotator,
            f"{rate(m['saves_raw_rate'], 'saves/s')}; p50/p99 {ms(m['saves_raw_p50_ms'])}/"
            f"{ms(m['saves_raw_p99_ms'])} ms (one loop)",
            m[k + "saves_per_s"] / m["saves_raw_rate"], target, met))
    return rows


# --- 3. article page ------------------------------------------------------------------------

def _sequential(client: load.Client, path: str, count: int, prefix: str, method: str = "GET",
                between=None, seconds: float | None = None) -> dict[str, float]:
    client.timed(method, path, WARM_UP, between=between)
    latencies, bad = client.timed(method, path, count, between=between, seconds=seconds)
    return {**latency_summary(latencies, prefix), prefix + "bad_err": bad}


def measure_pages(ctx: Context, run: int) -> dict[str, float]:
    db = ctx.main()
    port = ctx.server().port
    count = ctx.sizes.sequential
    browser = load.Client(port)
    browser.login("bulk-a", PASSWORD)
    api = load.Client(port, token=db.tokens["bulk-a"])
    cap = ctx.sizes.sequential_seconds
    out = {**_sequential(browser, f"/articles/{db.big_article}", count, "page_app_", seconds=cap),
           **_sequential(api, f"/api/articles/{db.big_article}", count, "api_app_", seconds=cap)}
    browser.close(), api.close()
    latencies = baselines.article_reads(Path(db.path), db.big_article, db.users["bulk-a"],
                                        count + WARM_UP)[WARM_UP:]
    out.update(latency_summary(latencies, "article_raw_"))
    return out


def _latency_row(name: str, m: dict[str, float], app: str, raw: str, raw_what: str,
                 limit: float | None) -> Row:
    bad = m.get(app + "bad_err", 0)
    figure = f"p50 {ms(m[app + 'p50_ms'])} / p99 {ms(m[app + 'p99_ms'])} ms (n={m[app + 'n']:.0f})"
    if bad:
        figure += f"; {bad:.0f} unexpected statuses"
    met = None if limit is None else (m[app + "p99_ms"] < limit and not bad)
    return Row(name, figure,
               f"p50 {ms(m[raw + 'p50_ms'])} / p99 {ms(m[raw + 'p99_ms'])} ms ({raw_what}; "
               f"n={m[raw + 'n']:.0f})",
               m[raw + "p50_ms"] / m[app + "p50_ms"],
               "—" if limit is None else f"p99 < {limit:g} ms", met)


def rows_pages(m: dict[str, float], ctx: Context) -> list[Row]:
    n = (f"sequential (up to {ctx.sizes.sequential} or "
         f"{ctx.sizes.sequential_seconds:g} s)")
    return [
        _latency_row(f"article page `GET /articles/<id>` (HTML, session), {ctx.sizes.big:,} "
                     f"paragraphs, {n}", m, "page_app_", "article_raw_",
                     "SELECT + json.dumps", PAGE_P99_MS),
        _latency_row(f"article API `GET /api/articles/<id>` (bearer), {ctx.sizes.big:,} "
                     f"paragraphs, {n}", m, "api_app_", "article_raw_",
                     "SELECT + json.dumps", None),
    ]


# --- 5. queue and progress ------------------------------------------------------------------

def measure_queue(ctx: Context, run: int) -> dict[str, float]:
    db = ctx.main()
    port = ctx.server().port
    count = ctx.sizes.sequential
    worker = load.Client(port, token=db.tokens["queue-user"])

    def mark_done(status: int, body: bytes) -> None:  # Shift+Enter: the next request moves on
        article = json.loads(body).get("article_id") if status == 200 else None
        if article is not None:
            worker.request("PUT", f"/api/articles/{article}/done")

    out = _sequential(worker, f"/api/projects/{db.project_id}/next", count, "queue_app_",
                      method="POST", between=mark_done)
    worker.close()
    admin, annotator = load.Client(port), load.Client(port)
    admin.login("bench-admin", PASSWORD)
    annotator.login("bulk-a", PASSWORD)
    cap = ctx.sizes.sequential_seconds
    out.update(_sequential(admin, "/", count, "projects_app_", seconds=cap))
    out.update(_sequential(annotator, f"/projects/{db.project_id}", count, "project_app_",
                           seconds=cap))
    admin.close(), annotator.close()
    path = Path(db.path)
    out.update(latency_summary(baselines.queue_claims(path, db.project_id, db.users["raw-queue"],
                                                      count), "queue_raw_"))
    out.update(latency_summary(baselines.page_reads(
        path, lambda conn: baselines.projects_page(conn, None), count, cap), "projects_raw_"))
    out.update(latency_summary(baselines.page_reads(
        path, lambda conn: baselines.project_page(conn, db.project_id, db.users["bulk-a"]), count,
        cap), "project_raw_"))
    return out


def rows_queue(m: dict[str, float], ctx: Context) -> list[Row]:
    n = (f"sequential (up to {ctx.sizes.sequential} or "
         f"{ctx.sizes.sequential_seconds:g} s)")
    return [
        _latency_row(f"queue `POST /api/projects/<id>/next` (then mark done), half the articles "
                     f"finished, {n}", m, "queue_app_", "queue_raw_", "same SQL", QUEUE_P99_MS),
        _latency_row(f"projects list `GET /` as admin (overall progress), {n}", m,
                     "projects_app_", "projects_raw_", "same counts + json.dumps", QUEUE_P99_MS),
        _latency_row(f"project page `GET /projects/<id>` as an annotator with "
                     f"{ctx.sizes.main + ctx.sizes.big:,} labels, {n}", m, "project_app_",
                     "project_raw_", "same SQL + json.dumps", QUEUE_P99_MS),
    ]


BENCHMARKS = [
    Benchmark("start", "gunicorn start until the first 200/302, idle memory per worker",
              measure_start, rows_start),
    Benchmark("saves", "concurrent label saves over HTTP (wrk), vs an upsert loop",
              measure_saves, rows_saves),
    Benchmark("pages", "article page (HTML) and article API for the 2,000-paragraph article",
              measure_pages, rows_pages),
    Benchmark("queue", "queue next, projects list, project page on the main DB",
              measure_queue, rows_queue),
]

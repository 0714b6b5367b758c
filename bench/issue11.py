"""Issue 11's speed table, every row re-measured one after the other in one run.

    .venv/bin/python bench/issue11.py [--quick] [--workdir DIR] [--json FILE]

Builds once in the work directory (reused with `--workdir`): the medium tier
(bench/save_path.py's: 2,000 articles of bench/workload.py, 54,000 paragraphs, annotators
ann01..ann08 with tokens), a copy of it and one of the 533,000-paragraph file with every
paragraph labeled by two annotators (as bench/fixtures.py labels), and one of the 533k
project with 4,000 paragraphs labeled once. Then measures, in this order:

- the label save (bench/save_path.py): raw sqlite3's loop (bench/baselines.py), then the
  floor (bench/floor_server.py), the annotator and, for information, the annotator with the
  suggestions' background off, each under `gunicorn -c gunicorn.conf.py` on its own copy,
  1 then 8 client threads: p50/p99, server CPU per save, saves/s;
- `flask import` of 54k and 533k paragraphs into a fresh database against raw sqlite3, whole
  processes alternating, best of N: wall, CPU (user + system), peak RSS (VmHWM);
- `flask export` of 54k and 533k against raw json and raw orjson (bench/export_speed.py), and
  `--only-labeled` of the sparse 533k project;
- `flask --help` and other commands' start-up (bench/cli_start.py), medians;
- the article page (bench/article_page.py, if present), through its own `main --json`.

Every child process uses a bytecode cache in the work directory, as an installed app runs.
Prints a Markdown table with each target and whether it is met (ratios are same-run);
progress goes to stderr. `--quick`: small sizes and single rounds, a smoke test.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import baselines
import cli_start
import export_speed
import save_path
from common import BENCH, FLASK, LABELS, PYTHON, ROOT, app_env, check, percentile, run_timed
from fixtures import create_users, label_everything, recount, workload_file

FULL = {"articles": 2000, "big": 533_000, "sparse": 4000, "seconds": 10.0, "repeat": 3,
        "rounds": 3, "big_rounds": 2, "cli_repeat": 5}
QUICK = {"articles": 200, "big": 20_000, "sparse": 400, "seconds": 2.0, "repeat": 1,
         "rounds": 1, "big_rounds": 1, "cli_repeat": 1}
BIG_PER_ARTICLE = 25  # as the earlier import and export sections' 533k file
CLI_COMMANDS = ["--help", "create-user --help", "export --help", "db current",
                "create-token nobody"]


def log(*parts: object) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}, load {os.getloadavg()[0]:.1f}]", *parts,
          file=sys.stderr, flush=True)


# --- the data, built once per work directory -------------------------------------------------

def labeled_copy(source: Path, target: Path, users: list[str], sample: int | None,
                 seed: int) -> Path:
    """Copy an imported database and label it with sqlite3: with two users every paragraph
    (fixtures.label_everything), with one `sample` random paragraphs; then `recount`."""
    done = target.with_suffix(".done")
    if done.exists():
        return target
    for leftover in target.parent.glob(target.name + "*"):
        leftover.unlink()
    shutil.copy(source, target)
    create_users(target, {name: "annotator" for name in users}, [])
    conn = sqlite3.connect(target, isolation_level=None)
    ids = dict(conn.execute("SELECT username, id FROM user"))
    if sample is None:
        label_everything(conn, [(ids[users[0]], ids[users[1]])], seed=seed)
    else:
        rng = random.Random(seed)
        paragraphs = [row[0] for row in conn.execute("SELECT id FROM paragraph")]
        now = baselines.now_text()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO annotation (paragraph_id, user_id, label, note, "
                         "created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?)",
                         [(pid, ids[users[0]], rng.choice(LABELS), now, now)
                          for pid in rng.sample(paragraphs, min(sample, len(paragraphs)))])
        conn.execute("COMMIT")
    conn.close()
    recount(target)
    done.touch()
    return target


def imported(source: Path, db: Path) -> Path:
    """`flask import` of `source` into `db`, once."""
    if not db.exists():
        check(run_timed([FLASK, "import", str(source), "--project", "bench"],
                        app_env(db.with_suffix(".partial"))), "flask import")
        db.with_suffix(".partial").replace(db)
    return db


def build(workdir: Path, sizes: dict) -> dict:
    log("building the medium tier")
    medium = save_path.build(workdir, sizes["articles"])
    medium_file = workload_file(workdir, sizes["articles"] * save_path.PER_ARTICLE,
                                save_path.PER_ARTICLE)
    log("writing the big file")
    big_file = workload_file(workdir, sizes["big"], BIG_PER_ARTICLE)
    log("building the export databases")
    medium_base = imported(medium_file, workdir / "export-medium-base.db")
    big_base = imported(big_file, workdir / "export-big-base.db")
    return {"medium": medium, "medium_file": medium_file, "big_file": big_file,
            "export_medium": labeled_copy(medium_base, workdir / "export-medium.db",
                                          ["bulk-a", "bulk-b"], None, 3),
            "export_big": labeled_copy(big_base, workdir / "export-big.db",
                                       ["bulk-a", "bulk-b"], None, 3),
            "sparse": labeled_copy(big_base, workdir / "export-sparse.db", ["bulk-a"],
                                   sizes["sparse"], 4)}


def paragraphs_in(path: Path) -> int:
    with open(path, encoding="utf-8") as lines:
        return sum(len(json.loads(line)["paragraphs"]) for line in lines)


# --- the measurements ------------------------------------------------------------------------

def measure_saves(workdir: Path, data: dict, sizes: dict) -> dict:
    """Raw sqlite3's save loop, then the floor and the annotator under gunicorn."""
    info = data["medium"]
    copy = workdir / "raw-saves.db"
    raw = []
    for repeat in range(sizes["repeat"]):
        for leftover in workdir.glob(copy.name + "*"):
            leftover.unlink()
        shutil.copy(info["path"], copy)
        conn = sqlite3.connect(copy)
        (user_id,) = conn.execute("SELECT id FROM user WHERE username = 'ann01'").fetchone()
        conn.close()
        count, elapsed, latencies = baselines.saves(copy, user_id, info["lo"], info["hi"],
                                                     sizes["seconds"], seed=repeat + 1)
        ms = [value * 1000 for value in latencies]
        raw.append({"saves_per_s": count / elapsed, "p50_ms": percentile(ms, 50),
                    "p99_ms": percentile(ms, 99), "n": count})
        log(f"raw sqlite3 saves: {raw[-1]}")
    servers = [("floor", None, {}), ("annotator", ROOT, {}),
               ("no background", ROOT, {"ANNOTATOR_SUGGEST_IN_BACKGROUND": "0"})]
    served = save_path.measure(servers, info, workdir, sizes["seconds"], sizes["repeat"])
    return {"raw": raw, **{name: {str(clients): runs for clients, runs in by_clients.items()}
                           for name, by_clients in served.items()}}


def timed_rounds(variants: dict[str, tuple[list[str], dict[str, str], Path | None]],
                 rounds: int) -> dict[str, dict]:
    """Each variant (command, environment, database to start afresh) `rounds` times,
    alternating: best wall and CPU seconds, largest peak RSS, every round."""
    out: dict[str, dict] = {name: {"runs": []} for name in variants}
    for _ in range(rounds):
        for name, (cmd, env, fresh) in variants.items():
            if fresh is not None:
                for leftover in fresh.parent.glob(fresh.name + "*"):
                    leftover.unlink()
            result = check(run_timed(cmd, env), name)
            out[name]["runs"].append({"seconds": result.seconds, "cpu": result.cpu_seconds,
                                      "rss_mb": result.max_rss_mb})
            log(f"{name}: {result.seconds:.2f} s, CPU {result.cpu_seconds:.2f} s, "
                f"{result.max_rss_mb:.0f} MB")
    for entry in out.values():
        runs = entry["runs"]
        entry.update(seconds=min(r["seconds"] for r in runs), cpu=min(r["cpu"] for r in runs),
                     rss_mb=max(r["rss_mb"] for r in runs))
    return out


def measure_imports(workdir: Path, data: dict, sizes: dict) -> dict:
    out = {}
    for size, source, rounds in (("medium", data["medium_file"], sizes["rounds"]),
                                 ("big", data["big_file"], sizes["big_rounds"])):
        app_db, raw_db = workdir / f"import-{size}.db", workdir / f"import-{size}-raw.db"
        out[size] = timed_rounds({
            "raw": ([PYTHON, str(BENCH / "baselines.py"), "import", str(raw_db), str(source)],
                    dict(os.environ), raw_db),
            "annotator": ([FLASK, "import", str(source), "--project", "bench"], app_env(app_db),
                          app_db)}, rounds)
        out[size]["paragraphs"] = paragraphs_in(source)
        for db in (app_db, raw_db):
            for leftover in workdir.glob(db.name + "*"):
                leftover.unlink()
    return out


def measure_exports(workdir: Path, data: dict, sizes: dict) -> dict:
    out = {}
    with tempfile.TemporaryDirectory(dir=workdir) as work:
        target = Path(work) / "out.jsonl"
        jobs = [("medium", data["export_medium"], [], sizes["rounds"]),
                ("big", data["export_big"], [], sizes["big_rounds"]),
                ("only_labeled", data["sparse"], ["--only-labeled"], sizes["rounds"])]
        for name, db, flags, rounds in jobs:
            variants = {"annotator": (ROOT, export_speed.export_command(target, flags), db)}
            if not flags:
                variants.update(export_speed.raw_variants(db, target))
            best, written = export_speed.best_of(variants, rounds)
            out[name] = {variant: {"seconds": s, "cpu": c, "rss_mb": r, "bytes": written[variant]}
                         for variant, (s, c, r) in best.items()}
            out[name]["paragraphs"] = count_lines(target) if flags else None
            log(f"export {name}: {out[name]}")
    return out


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


FLOORS = {"raw": "import sqlite3, json",  # what the raw baselines load
          # what any Flask + SQLAlchemy command must, with the collector held off as the app does
          "floor": "import gc; gc.disable(); import flask.cli, sqlalchemy.orm, flask_sqlalchemy"}


def measure_cli(sizes: dict) -> dict:
    """The commands' start-up (bench/cli_start.py), then, as its floors, Python importing
    what the raw baselines use and what any Flask + SQLAlchemy command must (bytecode cached)."""
    with tempfile.TemporaryDirectory() as work:
        runs = cli_start.measure_all([ROOT], sizes["cli_repeat"], work, CLI_COMMANDS)
    out = {command: {mode: {"cpu": statistics.median(c for c, _ in runs[(ROOT, command, mode)]),
                            "wall": statistics.median(w for _, w in runs[(ROOT, command, mode)])}
                     for mode in cli_start.MODES} for command in CLI_COMMANDS}
    floors: dict[str, list[tuple[float, float]]] = {name: [] for name in FLOORS}
    for _ in range(sizes["cli_repeat"] + 1):  # the first run writes the cache
        for name, code in FLOORS.items():
            before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run([PYTHON, "-c", code], check=True)
            wall, after = time.perf_counter() - began, resource.getrusage(resource.RUSAGE_CHILDREN)
            floors[name].append((after.ru_utime - before.ru_utime + after.ru_stime
                                 - before.ru_stime, wall))
    out["floors"] = {name: {"cpu": statistics.median(c for c, _ in runs_[1:]),
                            "wall": statistics.median(w for _, w in runs_[1:])}
                     for name, runs_ in floors.items()}
    return out


def measure_article_page(workdir: Path, quick: bool) -> dict:
    """h3's bench/article_page.py (its `main` with `--json`, in a child process), if it exists."""
    if not (BENCH / "article_page.py").exists():
        return {"skipped": "bench/article_page.py does not exist in this tree"}
    cmd = [PYTHON, str(BENCH / "article_page.py"), "--json", "--workdir",
           str(workdir / "article-page"), *(["--loads", "1", "--saves", "5"] if quick else [])]
    result = check(run_timed(cmd, dict(os.environ, PYTHONPATH=str(BENCH))), "article_page.py")
    return json.loads(result.stdout)


# --- the table -------------------------------------------------------------------------------

def med(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def whole(entry: dict) -> str:
    return f"{entry['seconds']:.2f} s (CPU {entry['cpu']:.2f} s), {entry['rss_mb']:.0f} MB"


def met(flag: bool) -> str:
    return "met" if flag else "**not met**"


def rows(m: dict) -> list[list[str]]:
    out = []
    if "saves" in m:
        s = m["saves"]
        raw, floor, app = s["raw"], s["floor"], s["annotator"]
        for clients in ("1", "8"):
            f99, a99 = med(floor[clients], "p99_ms"), med(app[clients], "p99_ms")
            out.append([f"label save, {clients} client{'s' if clients == '8' else ''}, p50 / p99",
                        f"{med(raw, 'p50_ms'):.2f} / {med(raw, 'p99_ms'):.2f} ms" if clients == "1"
                        else "—",
                        f"{med(floor[clients], 'p50_ms'):.1f} / {f99:.1f} ms",
                        f"{med(app[clients], 'p50_ms'):.1f} / {a99:.1f} ms",
                        f"p99 ≤ 2× floor: {a99 / f99:.2f}×", met(a99 <= 2 * f99)])
        fc1, fc8 = med(floor["1"], "cpu_ms"), med(floor["8"], "cpu_ms")
        ac1, ac8 = med(app["1"], "cpu_ms"), med(app["8"], "cpu_ms")
        out.append(["server CPU per save (8 clients; 1 client)", "—",
                    f"{fc8:.2f} ms ({fc1:.2f} ms)", f"{ac8:.2f} ms ({ac1:.2f} ms)",
                    f"≤ 1.5× floor: {ac8 / fc8:.2f}× ({ac1 / fc1:.2f}×)", met(ac8 <= 1.5 * fc8)])
        fr, ar = med(floor["8"], "saves_per_s"), med(app["8"], "saves_per_s")
        errors = sum(run["errors"] for name in ("floor", "annotator") for n in ("1", "8")
                     for run in s[name][n])  # the annotator's, shipped config
        out.append(["saves/s, 8 client threads", f"{med(raw, 'saves_per_s'):,.0f}/s (1 loop)",
                    f"{fr:.0f}/s", f"{ar:.0f}/s ({errors} errors in all)",
                    f"≥ floor: {ar / fr:.2f}×", met(ar >= fr)])
        if "no background" in s:  # informative: the request path alone
            quiet = s["no background"]
            out.append(["the same, suggestions' background off (8 clients)", "—", "—",
                        f"CPU {med(quiet['8'], 'cpu_ms'):.2f} ms "
                        f"({med(quiet['8'], 'cpu_ms') / fc8:.2f}×), "
                        f"{med(quiet['8'], 'saves_per_s'):.0f}/s "
                        f"({med(quiet['8'], 'saves_per_s') / fr:.2f}×), p99 "
                        f"{med(quiet['8'], 'p99_ms'):.1f} ms "
                        f"({med(quiet['8'], 'p99_ms') / med(floor['8'], 'p99_ms'):.2f}×)",
                        "— (not the shipped config)", "—"])
    if "imports" in m:
        medium, big = m["imports"]["medium"], m["imports"]["big"]
        cpu_ratio = medium["annotator"]["cpu"] / medium["raw"]["cpu"]
        wall_ratio = medium["annotator"]["seconds"] / medium["raw"]["seconds"]
        out.append([f"import {medium['paragraphs']:,} paragraphs (CLI, whole process)",
                    whole(medium["raw"]), "—", whole(medium["annotator"]),
                    f"≤ 2× raw: CPU {cpu_ratio:.2f}×, wall {wall_ratio:.2f}×",
                    met(cpu_ratio <= 2)])
        rss, small_rss = big["annotator"]["rss_mb"], medium["annotator"]["rss_mb"]
        out.append([f"import {big['paragraphs']:,} paragraphs", whole(big["raw"]), "—",
                    whole(big["annotator"]),
                    f"peak RSS ≤ 200 MB and flat: {rss:.0f} MB ({small_rss:.0f} MB at "
                    f"{medium['paragraphs'] // 1000}k)", met(rss <= 200 and rss <= small_rss + 20)])
    if "exports" in m:
        e = m["exports"]
        rss = {size: e[size]["annotator"]["rss_mb"] for size in ("medium", "big")}
        for size in ("medium", "big"):
            raw_json, raw_or, app = e[size]["raw export"], e[size]["raw export-orjson"], \
                e[size]["annotator"]
            wall, cpu = app["seconds"] / raw_or["seconds"], app["cpu"] / raw_or["cpu"]
            count = m.get("imports", {}).get(size, {}).get("paragraphs")
            flat = f", RSS flat: {rss['medium']:.0f} → {rss['big']:.0f} MB" if size == "big" else ""
            ok = wall <= 2 and (size == "medium" or rss["big"] <= rss["medium"] + 20)
            out.append([f"export {f'{count:,} ' if count else ''}paragraphs ({size})",
                        f"json {whole(raw_json)}; orjson {whole(raw_or)}", "—", whole(app),
                        f"≤ 2× raw orjson: wall {wall:.2f}×, CPU {cpu:.2f}×{flat}", met(ok)])
        only = e["only_labeled"]["annotator"]
        out.append([f"`flask export --only-labeled`, {e['only_labeled']['paragraphs']:,} "
                    "labeled of the big project", "—", "—", whole(only),
                    "≤ 0.5 s whole process (wall)", met(only["seconds"] <= 0.5)])
    if "cli" in m:
        floors = m["cli"].get("floors")
        raw_cell, floor_cell = (
            [f"CPU {floors[name]['cpu']:.2f} s, wall {floors[name]['wall']:.2f} s "
             f"(`python -c \"{FLOORS[name]}\"`)" for name in ("raw", "floor")]
            if floors else ["—", "—"])
        for command, modes in m["cli"].items():
            if command == "floors":
                continue
            cached, compiled = modes["cached"], modes["compiled"]
            out.append([f"`flask {command}`", raw_cell, floor_cell,
                        f"CPU {cached['cpu']:.2f} s, wall {cached['wall']:.2f} s (compiled each "
                        f"run: CPU {compiled['cpu']:.2f} s, wall {compiled['wall']:.2f} s)",
                        "≤ 0.5 s (CPU, bytecode cached)", met(cached["cpu"] <= 0.5)])
            raw_cell = floor_cell = "〃"
    if "article_page" in m:
        page = m["article_page"]
        if "skipped" in page:
            out.append(["article page, 1,500 paragraphs", "—", "—", f"skipped: {page['skipped']}",
                        "≤ 500 ms interactive, ≤ 1 MB, hotkey-to-saved ≤ 30 ms", "—"])
        else:
            out.extend(article_page_rows(page))
    return out


def article_page_rows(page: dict) -> list[list[str]]:
    """The article page's figures (bench/article_page.py's JSON) against the issue's targets."""
    try:
        (tree,) = page["trees"].values()
        load, save = tree["load"], tree["save"]
        html, interactive, p50 = load["html_bytes"], load["interactive_ms"], save["p50_ms"]
        title = f"article page, {tree['paragraphs']:,} paragraphs (Chromium)"
        return [[f"{title}: HTML, DOM nodes", "—", "—",
                 f"{html / 1e6:.2f} MB, {load['nodes']:,.0f} nodes", "≤ 1 MB", met(html <= 1e6)],
                [f"{title}: interactive", "—", "—", f"{interactive:.0f} ms "
                 f"(DOMContentLoaded {load['dom_ms']:.0f} ms)", "≤ 500 ms", met(interactive <= 500)],
                [f"{title}: hotkey to saved, median", "—", "—",
                 f"{p50:.1f} ms (p95 {save['p95_ms']:.1f} ms, n={save['n']})", "≤ 30 ms",
                 met(p50 <= 30)]]
    except (KeyError, TypeError, ValueError):
        return [["article page, 1,500 paragraphs", "—", "—", json.dumps(page)[:300],
                 "≤ 500 ms interactive, ≤ 1 MB, hotkey-to-saved ≤ 30 ms", "see its JSON"]]


def markdown(table: list[list[str]]) -> str:
    head = ["step", "raw sqlite3", "Flask floor", "annotator", "target (same-run ratio)", "met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in table])


def environment() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit":
            git("rev-parse", "--short", "HEAD"), "changed": git(
                "status", "--porcelain", "--", "annotator", "templates", "static",
                "gunicorn.conf.py").splitlines(), "cpus": os.cpu_count(),
            "load": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round each")
    parser.add_argument("--workdir", type=Path, help="build and keep the data here (reused)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="bench-issue11-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # every child compiles the app once into a cache of the run's own, as an installed app runs
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    env = environment()
    log(f"commit {env['commit']}{' + changes: ' + ', '.join(env['changed']) if env['changed'] else ''}"
        f", work dir {workdir}")
    began = time.perf_counter()
    data = build(workdir, sizes)
    subprocess.run([FLASK, "--help"], env=app_env(data["sparse"]), capture_output=True,
                   check=False)
    measured: dict = {"environment": env, "sizes": sizes, "loads": {}}
    steps = [("saves", lambda: measure_saves(workdir, data, sizes)),
             ("imports", lambda: measure_imports(workdir, data, sizes)),
             ("exports", lambda: measure_exports(workdir, data, sizes)),
             ("cli", lambda: measure_cli(sizes)),
             ("article_page", lambda: measure_article_page(workdir, args.quick))]
    for name, step in steps:
        log(f"{name} ...")
        load_before = os.getloadavg()
        measured[name] = step()
        measured["loads"][name] = {"before": load_before, "after": os.getloadavg()}
        if args.json:
            args.json.write_text(json.dumps(measured, indent=1, default=str))
    measured["environment"]["minutes"] = round((time.perf_counter() - began) / 60, 1)
    loads = [value for entry in measured["loads"].values() for key in ("before", "after")
             for value in entry[key][:1]]
    table = rows(measured)
    print(f"commit {env['commit']}{' + uncommitted changes' if env['changed'] else ''}, "
          f"{env['date']}, {env['cpus']} cores, {measured['environment']['minutes']} min; "
          f"1-minute load average {min(loads):.1f}–{max(loads):.1f} during the run; "
          f"saves: medians of {sizes['repeat']} × {sizes['seconds']:.0f} s; whole processes: "
          f"best of {sizes['rounds']} ({sizes['big_rounds']} at the big size); start-up: "
          f"medians of {sizes['cli_repeat']}\n")
    print(markdown(table))
    measured["table"] = table
    if args.json:
        args.json.write_text(json.dumps(measured, indent=1, default=str))
    return 0 if all(row[-1] != "**not met**" for row in table) else 1


if __name__ == "__main__":
    sys.exit(main())

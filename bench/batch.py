"""The whole-process benchmarks: `flask import`, `flask export`, and the agreement report, each
against its raw sqlite3 + json baseline run the same way."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import baselines
import fixtures
from common import BENCH, FLASK, PYTHON, ROOT, Row, app_env, check, rate, run_timed
from context import Benchmark, Context

IMPORT_RATIO = 1 / 3
EXPORT_RATIO = 1 / 2
EXPORT_RSS_MB = 150


def _fresh(path: Path) -> Path:
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    return path


# --- 1. import ------------------------------------------------------------------------------

def measure_import(ctx: Context, run: int) -> dict[str, float]:
    out = {}
    for size in ctx.sizes.imports:
        source = fixtures.workload_file(ctx.workdir, size)
        db = _fresh(ctx.workdir / "import-app.db")
        app = check(run_timed([FLASK, "import", str(source), "--project", "bench"], app_env(db)),
                    "flask import")
        stored = int(re.search(r"(\d+) paragraphs", app.stdout).group(1))
        if stored != size:
            raise RuntimeError(f"flask import stored {stored} paragraphs, expected {size}")
        raw_db = _fresh(ctx.workdir / "import-raw.db")
        raw = check(run_timed([PYTHON, str(BENCH / "baselines.py"), "import", str(raw_db),
                               str(source)]), "baseline import")
        out.update({f"import_{size}_app_rate": size / app.seconds, f"import_{size}_app_s": app.seconds,
                    f"import_{size}_app_rss_mb": app.max_rss_mb,
                    f"import_{size}_raw_rate": size / raw.seconds, f"import_{size}_raw_s": raw.seconds})
        _fresh(db), _fresh(raw_db)
    return out


def rows_import(m: dict[str, float], ctx: Context) -> list[Row]:
    rows = []
    for size in ctx.sizes.imports:
        app, raw = m[f"import_{size}_app_rate"], m[f"import_{size}_raw_rate"]
        rows.append(Row(
            f"import {size:,} paragraphs (`flask import`, whole process, fresh DB)",
            f"{rate(app, 'par/s')} ({m[f'import_{size}_app_s']:.1f} s, "
            f"peak RSS {m[f'import_{size}_app_rss_mb']:.0f} MB)",
            f"{rate(raw, 'par/s')} ({m[f'import_{size}_raw_s']:.1f} s)",
            app / raw, "≥ 0.33 × raw", app / raw >= IMPORT_RATIO))
    return rows


# --- 4. export ------------------------------------------------------------------------------

def measure_export(ctx: Context, run: int) -> dict[str, float]:
    db = ctx.main()
    out_app, out_raw = ctx.workdir / "export-app.jsonl", ctx.workdir / "export-raw.jsonl"
    app = check(run_timed([FLASK, "export", "--project", "bench", "-o", str(out_app)],
                          app_env(Path(db.path))), "flask export")
    raw = check(run_timed([PYTHON, str(BENCH / "baselines.py"), "export", db.path, "bench",
                           str(out_raw)]), "baseline export")
    lines = _count_lines(out_app)
    if lines != db.paragraphs:
        raise RuntimeError(f"flask export wrote {lines} lines, expected {db.paragraphs}")
    same = _same_records(out_app, out_raw)
    for path in (out_app, out_raw):
        path.unlink()
    return {"export_app_rate": lines / app.seconds, "export_app_s": app.seconds,
            "export_app_rss_mb": app.max_rss_mb, "export_raw_rate": lines / raw.seconds,
            "export_raw_s": raw.seconds, "export_raw_rss_mb": raw.max_rss_mb,
            "export_same_records": float(same)}


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def _same_records(a: Path, b: Path) -> bool:
    """Whether both files hold the same records (parsed, so spacing may differ)."""
    digests = []
    for path in (a, b):
        digest = hashlib.sha256()
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                digest.update(json.dumps(json.loads(line), sort_keys=True).encode())
        digests.append(digest.hexdigest())
    return digests[0] == digests[1]


def rows_export(m: dict[str, float], ctx: Context) -> list[Row]:
    app, raw = m["export_app_rate"], m["export_raw_rate"]
    same = "same records" if m["export_same_records"] == 1 else "records DIFFER"
    return [
        Row(f"export {ctx.sizes.main:,} paragraphs × 2 annotations (`flask export -o`)",
            f"{rate(app, 'par/s')} ({m['export_app_s']:.1f} s)",
            f"{rate(raw, 'par/s')} ({m['export_raw_s']:.1f} s; {same})",
            app / raw, "≥ 0.5 × raw", app / raw >= EXPORT_RATIO),
        Row("export peak RSS (VmHWM of the process)",
            f"{m['export_app_rss_mb']:.0f} MB", f"{m['export_raw_rss_mb']:.0f} MB", None,
            f"< {EXPORT_RSS_MB} MB", m["export_app_rss_mb"] < EXPORT_RSS_MB),
    ]


# --- 6. agreement ---------------------------------------------------------------------------

RESAMPLES = (0, 1000)


def agreement_missing() -> str | None:
    needed = [ROOT / "annotator/services/agreement.py", ROOT / "annotator/services/agreement_data.py"]
    missing = [str(path.relative_to(ROOT)) for path in needed if not path.exists()]
    return f"not available ({', '.join(missing)} not written yet)" if missing else None


def measure_agreement(ctx: Context, run: int) -> dict[str, float]:
    db = fixtures.agreement_db(ctx.workdir, ctx.sizes.agreement)
    job = check(run_timed([PYTHON, str(BENCH / "agreement_job.py"), "agree",
                           *map(str, RESAMPLES)], app_env(db)), "agreement job")
    app = json.loads(job.stdout.strip().splitlines()[-1])
    if not app["available"]:
        return {"agreement_available": 0}
    raw_s, items, kappas = baselines.agreement(db, "agree")
    if items != app["items"]:
        raise RuntimeError(f"agreement items: annotator {app['items']}, raw {items}")
    out = {"agreement_available": 1, "agreement_items": items, "agreement_raw_s": raw_s,
           "agreement_load_s": app["load_s"], "agreement_job_rss_mb": job.max_rss_mb}
    out.update({f"agreement_{r}_s": app["load_s"] + app[f"report_{r}_s"] for r in RESAMPLES})
    worst = max((abs(app["pairs"][pair] - kappa) for pair, kappa in kappas.items()), default=0)
    out["agreement_kappa_diff"] = worst
    return out


def rows_agreement(m: dict[str, float], ctx: Context) -> list[Row]:
    if not m.get("agreement_available"):
        return [Row("agreement", "not available", "—", None, "—", None)]
    rows = []
    for resamples in RESAMPLES:
        what = "no bootstrap" if resamples == 0 else f"{resamples} bootstrap resamples (CLI default)"
        app = m[f"agreement_{resamples}_s"]
        rows.append(Row(
            f"agreement, {m['agreement_items']:,.0f} doubly-labeled paragraphs: load items + "
            f"report ({what})",
            f"{app:.2f} s (load {m['agreement_load_s']:.2f} s)",
            f"{m['agreement_raw_s']:.2f} s (SELECT + Cohen's kappa per pair; kappas agree "
            f"within {m['agreement_kappa_diff']:.0e})",
            m["agreement_raw_s"] / app, "— (none set)", None))
    return rows


BENCHMARKS = [
    Benchmark("import", "flask import of the workload into a fresh SQLite DB, vs executemany",
              measure_import, rows_import),
    Benchmark("export", "flask export of the main DB (2 annotations per paragraph), vs one SELECT",
              measure_export, rows_export),
    Benchmark("agreement", "agreement_items + report on 100k doubly-labeled paragraphs",
              measure_agreement, rows_agreement, agreement_missing),
]

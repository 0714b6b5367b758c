"""WARC import against jsonl import of the same pages (issue 14): a generated crawl (each
record its own gzip member, a request record before each response as crawlers write them,
1 in 10 responses a stylesheet), the same pages as jsonl `html` records, each imported by
`flask import` into a fresh SQLite file; wall time and peak RSS of each.

  python bench/warc_import.py --size-gb 1 --script-kb 8   # generate about 1 GB of WARC, compare
  python bench/warc_import.py --write OUT.warc.gz --pages N   # only write a crawl (tests)
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).parent))
from workload import articles  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATE = "2026-11-30T08:15:00Z"
_MEASURED = ("import resource, sys\nfrom flask.cli import main\ntry:\n    main()\nfinally:\n"
             "    print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
             "file=sys.stderr)")
QUIET = ["--quiet"]  # no progress lines in the figures' output


def page(record: dict, script: str = "") -> str:
    """An article as a site lays it out: navigation, the body in <article>, a footer; `script`
    an inline script's text, as pages carry (tracking, state)."""
    paragraphs = record["paragraphs"]
    escape = html.escape
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{escape(record['title'])}</title><style>p {{ margin: 0 }}</style>"
            f"<script>var state = '{script}';</script></head>"
            f"<body><nav><ul>{''.join(f'<li>{escape(t)}</li>' for t in paragraphs[:2])}</ul></nav>"
            f"<article><h1>{escape(record['title'])}</h1>"
            f"{''.join(f'<p>{escape(t)}</p>' for t in paragraphs[2:-6])}</article>"
            f"<footer>{''.join(f'<p>{escape(t)}</p>' for t in paragraphs[-6:])}</footer>"
            "</body></html>")


def write(warc: Path, jsonl: Path | None = None, pages: int | None = None,
          megabytes: float | None = None, script_kb: int = 0) -> tuple[int, int]:
    """Write a crawl of `pages` pages, or until the WARC is `megabytes` large (and the same
    pages as jsonl), each with an inline script of `script_kb` KB of random base64 (which
    gzip cannot shrink); returns (pages, WARC bytes)."""
    rng = random.Random(11)
    jsonl_out = jsonl.open("w", encoding="utf-8") if jsonl else None
    written = 0
    with warc.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        writer.write_record(writer.create_warcinfo_record(warc.name, {"software": "bench"}))
        for number, record in enumerate(articles(pages or 10**9)):
            if megabytes is not None and out.tell() >= megabytes * 2**20:
                break
            script = base64.b64encode(rng.randbytes(script_kb * 768)).decode()
            url, body = record["url"], page(record, script).encode("utf-8")
            request = StatusAndHeaders(f"GET {url} HTTP/1.1", [("Host", url.split("/")[2])],
                                       is_http_request=True)
            writer.write_record(writer.create_warc_record(
                url, "request", payload=io.BytesIO(b""), http_headers=request,
                warc_headers_dict={"WARC-Date": DATE}))
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                                  ("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers,
                warc_headers_dict={"WARC-Date": DATE}))
            if number % 10 == 9:  # a stylesheet: skipped as not HTML
                css = b"p { margin: 0 }" * 20
                writer.write_record(writer.create_warc_record(
                    url + ".css", "response", payload=io.BytesIO(css), http_headers=
                    StatusAndHeaders("200 OK", [("Content-Type", "text/css")],
                                     protocol="HTTP/1.1"), warc_headers_dict={"WARC-Date": DATE}))
            if jsonl_out:
                jsonl_out.write(json.dumps({"title": record["title"], "html": body.decode(),
                                            "url": url, "meta": record["meta"]},
                                           ensure_ascii=False) + "\n")
            written += 1
        size = out.tell()
    if jsonl_out:
        jsonl_out.close()
    return written, size


def measure(path: Path, folder: Path, name: str) -> tuple[float, float, int, str]:
    """`flask import` of the file into a fresh SQLite database: wall seconds, CPU seconds
    (user + system: less swayed by a busy machine), peak RSS (KB), stdout and stderr."""
    env = {**os.environ, "ANNOTATOR_DATABASE_URL": f"sqlite:///{folder / name}.db",
           "ANNOTATOR_SECRET_KEY": "bench"}
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", _MEASURED, "--app", "annotator", "import",
                           str(path), "--project", name, *QUIET], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak = int(done.stderr.rpartition("maxrss ")[2].split()[0])
    said = done.stdout + done.stderr.rpartition("maxrss")[0]
    return seconds, cpu, peak, "\n  ".join(line for line in said.splitlines()
                                      if line.strip() and not line.startswith("INFO "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="only write a crawl to this file")
    parser.add_argument("--pages", type=int, help="pages in the crawl")
    parser.add_argument("--megabytes", type=float, default=100, help="size of the crawl [100]")
    parser.add_argument("--size-gb", type=float, help="size of the crawl in GB (overrides --megabytes)")
    parser.add_argument("--script-kb", type=int, default=0,
                        help="an inline script of this many KB in each page [0]")
    parser.add_argument("--folder", type=Path, help="where the files go [a temporary one]")
    options = parser.parse_args()
    if options.size_gb:
        options.megabytes = options.size_gb * 1024
    if options.write:
        write(options.write, pages=options.pages or 1000, script_kb=options.script_kb)
        return
    with tempfile.TemporaryDirectory(dir=options.folder) as folder:
        folder = Path(folder)
        warc, jsonl = folder / "crawl.warc.gz", folder / "crawl.jsonl"
        pages, size = write(warc, jsonl, options.pages,
                            None if options.pages else options.megabytes, options.script_kb)
        print(f"{pages} pages: WARC {size / 2**20:.0f} MB (gzip per record), "
              f"jsonl {jsonl.stat().st_size / 2**20:.0f} MB", flush=True)
        for label, path in (("warc", warc), ("jsonl", jsonl)):
            seconds, cpu, peak, output = measure(path, folder, label)
            print(f"{label}: {seconds:.1f} s wall, {cpu:.1f} s CPU, peak RSS {peak / 1024:.0f} MB, "
                  f"{pages / cpu:.0f} pages per CPU second\n  {output}", flush=True)


if __name__ == "__main__":
    main()

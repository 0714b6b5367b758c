"""Warm suggestions on real pages: the project's model after some labels. Imports
../shared/boilerplate-dev as bench/suggest_real_pages.py does (HTML pages, and the text-only
variant), gives the gold labels of 3 pages of each site that has more than 3, and of 20% of
the other pages, as one annotator's human labels (boilerplate, or other for body text),
trains the project's model (`train_project`, as `flask suggest` does) and scores the
suggestions of the remaining pages only, with the set's score.py. The cold scorer's shape
weights (fitted on all these pages in signals.py) are refitted first, so that no part of what
is scored has seen the gold of the scored pages: the import's, for each site fold's pages on
the other fold's pages (`--cold fold`, as `suggest_real_pages.py --fit` scores them) or on the
given pages only (`--cold given`); the model's shape signals (its `cold` one among them), with
the same weights as the import's (each fold's, or the given pages').

    python bench/suggest_warm.py [--data DIR] [--only html|text] [--cold fold|given]
                                 [--salt S] [--workdir DIR]

`--salt S` draws another 20% of the other pages and another halving of the sites (the
spread of the figures over draws: bench/README.md).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, select  # noqa: E402
import suggest_real_pages  # noqa: E402
from suggest_real_pages import (aligned, context_rows, fitted, out_of_fold,  # noqa: E402
                                records, shape_rows, site_fold, stored)

from annotator import create_app  # noqa: E402
from annotator.extensions import db  # noqa: E402
from annotator.models import Annotation, Article, Paragraph, Project, Suggestion  # noqa: E402
from annotator.services.annotations import save_annotation  # noqa: E402
from annotator.services.importing import Source, import_sources  # noqa: E402
from annotator.services.users import create_user  # noqa: E402
from annotator.suggest import signals, training  # noqa: E402

PER_SITE = 3
SHARE_OF_OTHERS = 0.2
SALT = ""  # --salt: another draw of the 20% and another halving of the sites


def warm_pages(pages: list[dict]) -> set[str]:
    """The pages whose gold is given: the first 3 (by id) of each site with more than 3, and
    a fixed 20% (by a hash of the id) of the rest."""
    by_site: dict[str, list[str]] = defaultdict(list)
    for page in pages:
        by_site[page.get("site") or ""].append(page["id"])
    given = set()
    for site, ids in by_site.items():
        if site and len(ids) > PER_SITE:
            given.update(sorted(ids)[:PER_SITE])
        else:
            given.update(i for i in ids
                         if zlib.crc32((SALT + i).encode()) % 100 < SHARE_OF_OTHERS * 100)
    return given


def import_pages(data: Path, variant: str, pages: list[dict], given: set[str],
                 weights: dict) -> None:
    """Import the pages as a user would, and label the `given` ones with their gold. With
    `weights` per site fold (0, 1), each fold's pages are imported (their cold suggestions
    scored) with the weights of the other fold's pages."""
    folds = {page["id"]: site_fold(page) for page in pages}
    every = records(data, variant)
    for part in (0, 1) if 0 in weights else (None,):
        if part is not None:
            _set_weights(variant, weights[part])
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in every
                       if part is None or folds[r["id"]] == part)
        report = import_sources(db.session, "pages",
                                [Source("pages.jsonl", body.encode(), "jsonl")],
                                skip_invalid=True, score_now=True)
        assert report.stored, report.errors[:5]
    _set_weights(variant, weights["given"])
    user = create_user(db.session, "gold", "gold-password-123", "annotator").id
    ours: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for article_id, paragraph_id, text in db.session.execute(
            select(Article.article_id, Paragraph.id, Paragraph.text)
            .join(Paragraph, Paragraph.article_id == Article.id)
            .order_by(Article.id, Paragraph.index)):
        ours[article_id].append((paragraph_id, text))
    for page in pages:
        if page["id"] not in given:
            continue
        mine = ours.get(page["id"], [])
        where = aligned([p["text"] for p in page["paragraphs"]], [t for _, t in mine])
        labeled: dict[int, str] = {}
        for gold, index in zip(page["paragraphs"], where):
            if index >= 0 and mine[index][0] not in labeled:
                labeled[mine[index][0]] = ("boilerplate" if gold["gold"] == "boilerplate"
                                           else "other")
        for paragraph_id, label in labeled.items():
            save_annotation(db.session, paragraph_id, user, label, commit=False)
    db.session.commit()


examples = training._examples


def _per_fold(examples, variant: str, weights: dict, folds: dict[int, int]):
    """training._examples computing each article's with its site fold's cold weights."""
    def per_article(rows, *args):
        out, start = [], 0
        while start < len(rows):
            end = start
            while end < len(rows) and rows[end].article_id == rows[start].article_id:
                end += 1
            _set_weights(variant, weights[folds[rows[start].article_id]])
            out += examples(rows[start:end], *args)
            start = end
        _set_weights(variant, weights["given"])
        return out
    return per_article


def _set_weights(variant: str, weights: tuple[dict, dict | None]) -> None:
    """Use these cold weights: the shape's, and for HTML the second stage's (context)."""
    shape, context = weights
    setattr(signals, "HTML_WEIGHTS" if variant == "html" else "TEXT_WEIGHTS", shape)
    if context is not None:
        signals.CONTEXT_WEIGHTS = context


def cold_weights(data: Path, variant: str, pages: list[dict], given: set[str],
                 workdir: Path, cold: str) -> dict:
    """The cold shape weights (as `--fit` fits them on all pages) fitted on the given pages
    ("given"), and with `cold` "fold" also on each site fold's pages (0, 1: `--fit`'s 2-fold):
    imports the pages into a scratch database to read their features."""
    fresh = not (workdir / f"{variant}-cold.db").exists()
    app = _app(workdir / f"{variant}-cold.db")
    with app.app_context():
        if fresh:
            body = "".join(json.dumps(r, ensure_ascii=False) + "\n"
                           for r in records(data, variant))
            import_sources(db.session, "pages", [Source("pages.jsonl", body.encode(), "jsonl")],
                           skip_invalid=True, score_now=True)
    ours = stored(app)
    html = variant == "html"

    def context(chosen: list[dict], rows: dict, part: int | None):
        """The second stage fitted (as --fit does) on the pages of `chosen` outside site
        fold `part`, from the shape's verdicts with weights of the other site fold."""
        if not html:
            return None
        rows_ = context_rows(ours, chosen, rows, out_of_fold(rows, chosen))
        return fitted(rows_, [i for i, fold in enumerate(rows_["folds"]) if fold != part],
                      rows_["weights"])[1]
    chosen = [page for page in pages if page["id"] in given]
    rows = shape_rows(ours, chosen)
    weights = {"given": (fitted(rows, range(len(rows["rows"])))[1], context(chosen, rows, None))}
    if cold == "fold":
        rows = shape_rows(ours, pages)
        for part in (0, 1):
            weights[part] = (fitted(rows, [i for i, fold in enumerate(rows["folds"])
                                           if fold != part])[1], context(pages, rows, part))
    return weights


def _app(path: Path):
    return create_app({"TESTING": True, "SECRET_KEY": "bench",
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})


def run(data: Path, variant: str, workdir: Path, cold: str) -> str:
    fresh = not (workdir / (variant + '.db')).exists()
    pages = [json.loads(line) for line in open(data / "pages_text.jsonl", encoding="utf-8")]
    given = warm_pages(pages)
    # the import's cold suggestions and the model's shape signals: weights that never saw the
    # scored pages (the model's: the given pages' only)
    weights = cold_weights(data, variant, pages, given, workdir, cold)
    _set_weights(variant, weights["given"])
    app = _app(workdir / (variant + '.db'))
    with app.app_context():
        if fresh:
            import_pages(data, variant, pages, given, weights)
        ours: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for article_id, paragraph_id, text in db.session.execute(
                select(Article.article_id, Paragraph.id, Paragraph.text)
                .join(Paragraph, Paragraph.article_id == Article.id)
                .order_by(Article.id, Paragraph.index)):
            ours[article_id].append((paragraph_id, text))
        labels = db.session.scalar(select(func.count(Annotation.id)))
        before = _suggested() if fresh else None  # the import's cold suggestions
        if cold == "fold":  # the model's cold verdicts with its fold's weights, as the import's
            by_id = {page["id"]: site_fold(page) for page in pages}
            folds = {pk: by_id[article_id] for pk, article_id in
                     db.session.execute(select(Article.id, Article.article_id))}
            db.session.rollback()
            training._examples = _per_fold(training._examples, variant, weights, folds)
        started = time.process_time()
        try:
            metrics = training.train_project(db.session, db.session.scalar(select(Project)))
        finally:
            training._examples = examples
        seconds = time.process_time() - started
        suggested = _suggested()
    rest = [page for page in pages if page["id"] not in given]
    rest_file = workdir / f"{variant}-rest.jsonl"
    rest_file.write_text("".join(json.dumps(page, ensure_ascii=False) + "\n" for page in rest))
    header = (f"{variant}: warm, cold weights {cold}, gold given for {len(given)} pages "
              f"({labels} paragraphs), "
              f"scored on the other {len(rest)}; trained in {seconds:.1f} s CPU "
              f"({metrics['suggestions']} suggestions written)")
    out = header + "\n" + score_rest(data, _preds(rest, ours, suggested),
                                     workdir / f"{variant}-warm.jsonl", rest_file)
    if before is not None:  # a fresh import: the same pages' cold suggestions, for comparison
        out += (f"\n{variant}: cold (the import's suggestions, before training), same pages\n"
                + score_rest(data, _preds(rest, ours, before), workdir / f"{variant}-cold.jsonl",
                             rest_file, ("0.8",)))
    return out


def _suggested() -> dict[int, tuple[str, float]]:
    return {pid: (label, confidence) for pid, label, confidence in db.session.execute(
        select(Suggestion.paragraph_id, Suggestion.label, Suggestion.confidence))}


def _preds(rest: list[dict], ours: dict, suggested: dict) -> list[dict]:
    """Each held-out page's p(boilerplate) per gold paragraph: the confidence of a
    boilerplate suggestion, 1 - that of another label, 0 where there is none."""
    preds = []
    for page in rest:
        mine = ours.get(page["id"], [])
        where = aligned([p["text"] for p in page["paragraphs"]], [t for _, t in mine])
        values = []
        for index in where:
            label, confidence = suggested.get(mine[index][0], ("other", 1.0)) if index >= 0 \
                else ("other", 1.0)
            values.append(confidence if label == "boilerplate" else 1.0 - confidence)
        preds.append({"id": page["id"], "pred": values})
    return preds


def score_rest(data: Path, preds: list[dict], path: Path, pages: Path,
               thresholds: tuple[str, ...] = ("0.8", "0.5")) -> str:
    """score.py on the held-out pages only (suggest_real_pages.score scores every page), at
    the project's default threshold 0.8 (what the page shows) and at 0.5 (the model's own
    choice of label, shown or not)."""
    path.write_text("".join(json.dumps(p) + "\n" for p in preds))
    out = []
    for threshold in thresholds:
        result = subprocess.run([sys.executable, str(data / "score.py"), str(path), "--pages",
                                 str(pages), "--threshold", threshold],
                                capture_output=True, text=True, check=True)
        keep = ("pred=", "group", "---", "ALL", "CORE", "lang=zh", "lang=en")
        out += [line for line in result.stdout.splitlines() if line.startswith(keep)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "boilerplate-dev")
    parser.add_argument("--only", choices=("html", "text"))
    parser.add_argument("--cold", choices=("fold", "given"), default="fold",
                        help="cold shape weights of the import: fitted on the other site fold's "
                             "pages (default, as --fit's 2-fold) or on the given pages only")
    parser.add_argument("--salt", default="",
                        help="another draw of the 20%% given and another halving of the sites")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the imported databases there and reuse them (retrain only)")
    args = parser.parse_args()
    global SALT
    SALT = suggest_real_pages.FOLD_SALT = args.salt
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for variant in [args.only] if args.only else ["html", "text"]:
            print(run(args.data, variant, workdir, args.cold), flush=True)


if __name__ == "__main__":
    main()

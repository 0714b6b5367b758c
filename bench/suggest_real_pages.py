"""Cold suggestions on real pages: import ../shared/boilerplate-dev as a user would (the HTML
pages, and the text-only variant as jsonl paragraphs) into a temporary database with the real
import, read the stored suggestions, and score them with the set's score.py.

    python bench/suggest_real_pages.py [--data DIR] [--only html|text] [--fit [--fold-salt S]]

`--fit` fits the text-shape/structure weights of annotator/suggest/signals.py (a logistic
regression on its generic features, one weight set per variant, on the paragraphs the shape
scores: not running text, not the headline; for HTML not CleanEval's pages: UNTRAINED) and prints
them to paste there; it also scores
the whole cold scorer (site rules, running text, the shape with weights fitted on the other
half of the sites: 2-fold by site), the honest figure for pages the weights never saw.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select

from annotator import create_app
from annotator.extensions import db
from annotator.models import Article, Paragraph, Suggestion
from annotator.services.encodings import html_encoding
from annotator.services.formats.html import html_page
from annotator.services.formats.records import decode
from annotator.services.importing import Source, import_sources
from annotator.services.text import text_key
from annotator.suggest import signals

_SPACE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff\u00ad]+")
_REPEATS = re.compile(r"same text on (\d+) pages")
SHOWN = 0.8  # the project's default threshold: what the page shows


def records(data: Path, variant: str) -> list[dict]:
    """One jsonl record per page: its HTML (decoded as the .html import decodes it) or its
    paragraphs, with its URL and site as a user would give them."""
    out = []
    with open(data / ("pages.jsonl" if variant == "html" else "pages_text.jsonl"),
              encoding="utf-8") as pages:
        for line in pages:
            page = json.loads(line)
            record = {"id": page["id"], "url": page.get("url") or None,
                      "meta": {"site": page["site"]} if page.get("site") else {}}
            if variant == "html":
                raw = gzip.decompress((data / page["html_path"]).read_bytes())
                used, errors = html_encoding(raw, None)
                record["html"] = decode(raw, used, errors)
                record["title"] = html_page(record["html"])[0] or page["id"]
            else:
                record["title"] = page["id"]  # a text file's first line: none here
                record["paragraphs"] = [p["text"] for p in page["paragraphs"]]
            out.append(record)
    return out


def aligned(gold_texts: list[str], ours: list[str]) -> list[int]:
    """For each gold paragraph, the index of our paragraph holding its text (the two
    segmentations differ: <br>, form controls), found in document order; -1 if none."""
    joined, starts = "", []
    for text in ours:
        starts.append(len(joined))
        joined += _SPACE.sub("", text)
    out, position = [], 0
    for text in gold_texts:
        needle = _SPACE.sub("", text)
        found = joined.find(needle, position) if needle else -1
        if found < 0:
            found = joined.find(needle) if needle else -1
        if found < 0:
            out.append(-1)
            continue
        position = found + len(needle)
        index = max(0, next((i for i, start in enumerate(starts) if start > found),
                            len(starts)) - 1)
        out.append(index)
    return out


def stored(app) -> dict[str, list[tuple[str, dict | None, float, str, bool]]]:
    """Per article id: its paragraphs' text, features, boilerplate confidence, reason and
    whether it is the article's headline."""
    out: dict[str, list] = {}
    with app.app_context():
        rows = db.session.execute(
            select(Article.article_id, Article.title, Paragraph.text, Paragraph.features,
                   Suggestion.label, Suggestion.confidence, Suggestion.reason)
            .join(Paragraph, Paragraph.article_id == Article.id)
            .outerjoin(Suggestion, Suggestion.paragraph_id == Paragraph.id)
            .order_by(Article.id, Paragraph.index))
        titles = {}
        for article_id, title, text, features, label, confidence, reason in rows:
            score = confidence if label == signals.BOILERPLATE else 0.0
            titles[article_id] = title
            out.setdefault(article_id, []).append((text, features, score or 0.0, reason or "",
                                                   text_key(text) == text_key(title)))
    for article_id, mine in out.items():  # as signals._score_imported finds the headline
        headline = signals.own_headline([text for text, *_ in mine], titles[article_id],
                                        [features for _, features, *_ in mine])
        if headline is not None:
            mine[headline] = (*mine[headline][:4], True)
    return out


def rule_confidence(reason: str) -> float:
    """The confidence a site rule (repetition, teaser) gave, read back from its reason."""
    repeated = _REPEATS.match(reason)
    if repeated:
        return signals.repetition_confidence(int(repeated.group(1)) - 1)
    return signals.TEASER_CONFIDENCE if reason.startswith("title of another") else 0.0


def run_variant(data: Path, variant: str, workdir: Path) -> tuple[dict, list[dict]]:
    app = create_app({"TESTING": True, "SECRET_KEY": "bench",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / (variant + '.db')}"})
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records(data, variant))
    with app.app_context():
        # scored at once, as a small import is (a large one leaves them to the server)
        report = import_sources(db.session, "pages", [Source("pages.jsonl", body.encode(),
                                                             "jsonl")],
                                skip_invalid=True, score_now=True)
        assert report.stored, report.errors[:5]
    return stored(app), [json.loads(line) for line in
                         open(data / "pages_text.jsonl", encoding="utf-8")]


def predictions(ours: dict, pages: list[dict]) -> list[dict]:
    out = []
    for page in pages:
        mine = ours.get(page["id"], [])
        golds = [p["text"] for p in page["paragraphs"]]
        where = aligned(golds, [text for text, *_ in mine])
        out.append({"id": page["id"], "pred": [mine[i][2] if i >= 0 else 0.0 for i in where]})
    return out


def score(data: Path, preds: list[dict], path: Path) -> str:
    path.write_text("".join(json.dumps(p) + "\n" for p in preds))
    result = subprocess.run([sys.executable, str(data / "score.py"), str(path), "--pages",
                             str(data / "pages_text.jsonl"), "--threshold", str(SHOWN)],
                            capture_output=True, text=True, check=True)
    keep = ("pred=", "group", "---", "ALL", "CORE", "lang=zh", "lang=en")
    return "\n".join(line for line in result.stdout.splitlines() if line.startswith(keep))


FOLD_SALT = ""  # --fold-salt: another split of the sites into two halves
# scored, never learned from by the HTML weights: CleanEval's gold keeps reader comments and
# related-link blurbs as text (score.py leaves it out of CORE for that), which the product
# calls furniture; the text weights keep it (without it they lose Chinese: bench/README.md)
UNTRAINED = {"cleaneval"}


def site_fold(page: dict) -> int:
    return zlib.crc32((FOLD_SALT + (page.get("site") or page["id"])).encode()) % 2


def shape_rows(ours: dict, pages: list[dict]) -> dict:
    """The shape vectors of every paragraph (`{}` where the shape does not score: running
    text, the headline; HTML: running text outside the longest run has one, for the second
    stage), the site rules' confidences, and the training rows: the vector, gold and site
    fold of each gold paragraph the shape scores (the first stage's)."""
    out: dict = {"vectors": [], "rules": [], "skips": [], "bodies": [], "rows": [],
                 "golds": [], "folds": []}
    for page in pages:
        mine = ours.get(page["id"], [])
        seen = [signals.Seen(text, features) for text, features, *_ in mine]
        body = signals.running_text(seen)
        skip = [running or headline for running, (*_, headline) in zip(body, mine)]
        out["bodies"].append(body)
        html = any(features for _, features, *_ in mine)
        outside = signals.outside_run(body) if html else [False] * len(mine)
        vectors = signals.vectors(seen, [flag and not out for flag, out in zip(skip, outside)])
        out["vectors"].append(vectors)
        out["skips"].append(skip)
        out["rules"].append([rule_confidence(reason) for _, _, _, reason, _ in mine])
        where = aligned([p["text"] for p in page["paragraphs"]], [text for text, *_ in mine])
        learned = not html or page.get("source_dataset") not in UNTRAINED
        for gold, index in zip(page["paragraphs"], where):
            if learned and index >= 0 and vectors[index] and not outside[index]:
                out["rows"].append(vectors[index])
                out["golds"].append(gold["gold"] == "boilerplate")
                out["folds"].append(site_fold(page))
    out["names"] = sorted({name for row in out["rows"] for name in row})
    return out


def fitted(data: dict, indices, weights: list[float] | None = None) -> tuple:
    """A logistic regression on the rows at `indices`, boilerplate weighing SHOWN / (1 -
    SHOWN) (4): a suggestion is shown at SHOWN, and the weighted model reaches it where the
    plain one reaches 0.5; each row weighs `weights` too if given (scaled to a mean of 1).
    Returns the model and the weights as signals.py keeps them."""
    from sklearn.linear_model import LogisticRegression
    indices = list(indices)
    golds = [data["golds"][i] for i in indices]
    rows = [weights[i] if weights else 1.0 for i in indices]
    scale = len(rows) / sum(rows)
    model = LogisticRegression(C=1.0, max_iter=3000)
    model.fit(_matrix(data, [data["rows"][i] for i in indices]), golds, sample_weight=[
        weight * scale * (SHOWN / (1 - SHOWN) if gold else 1.0)
        for weight, gold in zip(rows, golds)])
    weights = {"bias": round(float(model.intercept_[0]), 3)}
    weights.update({name: round(float(w), 3) for name, w in zip(data["names"], model.coef_[0])})
    return model, weights


def _matrix(data: dict, rows: list[dict]) -> list[list[float]]:
    return [[row.get(name, 0.0) for name in data["names"]] for row in rows]


def fit(ours: dict, pages: list[dict], variant: str, data: Path, workdir: Path) -> None:
    """Fit the shape weights on these pages; score the cold scorer 2-fold by site with them;
    print the weights."""
    rows = shape_rows(ours, pages)
    shape = out_of_fold(rows, pages)
    alone = [[0.0 if running else p for p, running in zip(ps, skip)]  # the shape never scores
             for ps, skip in zip(shape, rows["skips"])]  # running text alone
    print(f"\n{variant}: cold suggestions, shape weights fitted on the other half of the sites"
          " (2-fold)" + (", first stage only" if variant == "html" else ""))
    print(score(data, _cold_preds(ours, pages, rows, alone), workdir / f"{variant}-cv.jsonl"))
    print(f"\n{variant.upper()}_WEIGHTS = {fitted(rows, range(len(rows['rows'])))[1]}")
    if variant == "html":
        context = context_rows(ours, pages, rows, shape)
        second = [[0.0] * len(vectors) for vectors in rows["vectors"]]
        for fold in (0, 1):
            model, _ = fitted(context, [i for i, g in enumerate(context["folds"]) if g != fold],
                              context["weights"])
            for n, page in enumerate(pages):
                if site_fold(page) == fold and context["vectors"][n]:
                    second[n] = model.predict_proba(_matrix(context, context["vectors"][n]))[:, 1]
        print(f"\n{variant}: cold suggestions with the second stage (context), both stages "
              "fitted on the other half of the sites (2-fold)")
        print(score(data, _cold_preds(ours, pages, rows, second),
                    workdir / f"{variant}-cv2.jsonl"))
        weights = fitted(context, range(len(context["rows"])), context["weights"])[1]
        print(f"\nCONTEXT_WEIGHTS = {weights}")


def out_of_fold(rows: dict, pages: list[dict]) -> list[list[float]]:
    """The shape's P(boilerplate) of every paragraph it scores (0 elsewhere), with weights
    fitted on the other half of the sites (shape_rows of `pages`)."""
    shape = [[0.0] * len(vectors) for vectors in rows["vectors"]]
    for fold in (0, 1):
        train = [i for i, g in enumerate(rows["folds"]) if g != fold]
        if not train:
            continue
        model, _ = fitted(rows, train)
        held = [(n, i) for n, page in enumerate(pages) if site_fold(page) == fold
                for i, vector in enumerate(rows["vectors"][n]) if vector]
        if held:
            for (n, i), p in zip(held, model.predict_proba(
                    _matrix(rows, [rows["vectors"][n][i] for n, i in held]))[:, 1]):
                shape[n][i] = float(p)
    return shape


def _cold_preds(ours: dict, pages: list[dict], rows: dict, shape: list) -> list[dict]:
    """Per page, each gold paragraph's cold confidence as score_article combines them: the
    stronger of the site rules and the shape's verdict when it is 0.5 or more."""
    preds = []
    for number, page in enumerate(pages):
        mine = ours.get(page["id"], [])
        where = aligned([p["text"] for p in page["paragraphs"]], [text for text, *_ in mine])
        cold = [max(rule, p if p >= 0.5 and vector else 0.0) for rule, p, vector
                in zip(rows["rules"][number], shape[number], rows["vectors"][number])]
        preds.append({"id": page["id"], "pred": [cold[i] if i >= 0 else 0.0 for i in where]})
    return preds


def context_rows(ours: dict, pages: list[dict], rows: dict, shape: list) -> dict:
    """The second stage's training rows: signals.context_vectors of each paragraph the shape
    scores, from the first stage's out-of-fold verdicts (`shape`), with its gold and site
    fold; each page weighs the same in all (a page of 700 comments would otherwise decide)."""
    out: dict = {"vectors": [], "rows": [], "golds": [], "folds": [], "weights": []}
    for number, page in enumerate(pages):
        mine = ours.get(page["id"], [])
        vectors = signals.context_vectors(shape[number], rows["skips"][number],
                                          rows["bodies"][number])
        out["vectors"].append(vectors)
        where = aligned([p["text"] for p in page["paragraphs"]], [text for text, *_ in mine])
        learned = page.get("source_dataset") not in UNTRAINED
        for gold, index in zip(page["paragraphs"], where):
            if learned and index >= 0 and rows["vectors"][number][index]:
                out["rows"].append(vectors[index])
                out["golds"].append(gold["gold"] == "boilerplate")
                out["folds"].append(site_fold(page))
                out["weights"].append(1 / len(page["paragraphs"]))
    out["names"] = sorted({name for row in out["rows"] for name in row})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "boilerplate-dev")
    parser.add_argument("--only", choices=("html", "text"))
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--fold-salt", default="",
                        help="with --fit: split the sites into halves by another hash")
    args = parser.parse_args()
    global FOLD_SALT
    FOLD_SALT = args.fold_salt
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for variant in [args.only] if args.only else ["html", "text"]:
            ours, pages = run_variant(args.data, variant, workdir)
            if args.fit:
                fit(ours, pages, variant, args.data, workdir)
            else:
                print(f"\n{variant}: cold suggestions as stored (boilerplate at confidence >= 0.8)")
                print(score(args.data, predictions(ours, pages), workdir / f"{variant}.jsonl"))


if __name__ == "__main__":
    main()

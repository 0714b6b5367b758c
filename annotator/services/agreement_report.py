"""A project's agreement: its labels read from the database, measured, and written as Markdown
(for `flask agreement` and the dataset card)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Annotation, Article, Paragraph, Project, User
from .agreement import AgreementReport, Coefficient, report
from .text import plural

COLUMNS = (("observed", "observed agreement"), ("fleiss", "Fleiss' kappa"),
           ("alpha", "Krippendorff's alpha"), ("ac1", "Gwet's AC1"))


def agreement_items(session: Session, project: Project, *, human_only: bool = False,
                    version: int | None = None) -> list[tuple[int, dict[str, str]]]:
    """One item per annotated paragraph: (article id, {username: label}), in one query;
    `human_only` leaves out labels that are accepted suggestions, `version` the labels not
    made under that guideline version."""
    items: list[tuple[int, dict[str, str]]] = []
    current = None
    query = (select(Annotation.paragraph_id, Paragraph.article_id, User.username, Annotation.label)
             .join(Paragraph, Paragraph.id == Annotation.paragraph_id)
             .join(Article, Article.id == Paragraph.article_id)
             .join(User, User.id == Annotation.user_id)
             .where(Article.project_id == project.id, ~Article.calibration)  # calibration.py
             .order_by(Annotation.paragraph_id))
    if human_only:
        query = query.where(Annotation.source == "human")
    if version is not None:
        query = query.where(Annotation.guideline_version == version)
    for paragraph_id, article_id, username, label in session.execute(query):
        if paragraph_id != current:
            current = paragraph_id
            items.append((article_id, {}))
        items[-1][1][username] = label
    return items


def project_agreement(session: Session, project: Project, *, resamples: int = 1000,
                      seed: int = 0, human_only: bool = False,
                      version: int | None = None) -> AgreementReport:
    """Agreement over the project's paragraphs that two or more annotators labeled (with
    `human_only`, by hand: accepted suggestions left out; with `version`, under that
    guideline version: the other labels left out)."""
    return report(agreement_items(session, project, human_only=human_only, version=version),
                  labels=[l.key for l in project.labels], resamples=resamples, seed=seed)


def per_version(session: Session, project: Project, *, resamples: int = 1000, seed: int = 0,
                human_only: bool = False) -> list[tuple[int, AgreementReport]]:
    """Agreement on each guideline version's labels, version 1 first (see project_agreement)."""
    return [(number, project_agreement(session, project, resamples=resamples, seed=seed,
                                       human_only=human_only, version=number))
            for number in range(1, project.guideline_version + 1)]


def versions_markdown(rows: list[tuple[int, AgreementReport]]) -> str:
    """Per-version agreement side by side: one row per guideline version."""
    return "\n".join([
        "| guideline version | paragraphs | " + " | ".join(name for _, name in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 2) + "|",
        *[f"| {number} | {result.n_items} | "
          + " | ".join(_value(getattr(result.overall, key)) for key, _ in COLUMNS) + " |"
          for number, result in rows]])


def labels_used(human_only: bool) -> str:
    """Which labels an agreement figure counts, for the reader."""
    return ("Human labels only: accepted suggestions are left out." if human_only
            else "Every label, accepted suggestions included.")


def _value(coefficient: Coefficient) -> str:
    if coefficient.value is None:
        return "n/a"
    if coefficient.low is None or coefficient.high is None:
        return f"{coefficient.value:.3f}"
    return f"{coefficient.value:.3f} [{coefficient.low:.3f}, {coefficient.high:.3f}]"


def as_markdown(result: AgreementReport, *, human_only: bool = False,
                version: int | None = None) -> str:
    """The report as Markdown tables: overall, per label, per pair, confusion matrix, notes."""
    info = result.bootstrap
    lines = [
        labels_used(human_only)
        + (f" Labels made under guideline version {version} only." if version else ""), "",
        f"{plural(result.n_items, 'paragraph')} labeled by two or more of "
        f"{plural(result.n_annotators, 'annotator')} ({result.n_single} more labeled by one), "
        f"in {plural(result.n_articles, 'article')}. Brackets: {info.confidence:.0%} intervals, "
        f"{info.method} ({plural(info.resamples, 'resample')}, seed {info.seed}).", "",
        "| labels | " + " | ".join(name for _, name in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
        "| all | " + " | ".join(_value(getattr(result.overall, key)) for key, _ in COLUMNS) + " |",
        *[f"| {label} (vs rest) | " + " | ".join(_value(getattr(coefficients, key))
                                                  for key, _ in COLUMNS) + " |"
          for label, coefficients in result.per_label.items()],
    ]
    readings = _readings(result)
    if readings:
        lines += ["", "Reading the overall figures (Landis & Koch bands):", "",
                  *[f"- {reading}" for reading in readings]]
    if result.pairs:
        lines += ["", "| annotator pair | paragraphs | observed | Cohen's kappa |", "|---|---|---|---|",
                  *[f"| {pair.annotator_a} / {pair.annotator_b} | {pair.n} | "
                    + (f"{pair.observed:.3f}" if pair.observed is not None else "n/a")
                    + f" | {_value(pair.kappa)} |" for pair in result.pairs]]
    labels = result.labels
    if result.n_items:
        lines += ["", "Confusion between annotators (every pair, both orders):", "",
                  "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|",
                  *[f"| {row} | " + " | ".join(str(result.confusion.get(row, {}).get(col, 0))
                                              for col in labels) + " |" for row in labels]]
    if result.notes:
        lines += ["", "Notes:", "", *[f"- {_sentence(note)}" for note in result.notes]]
    return "\n".join(lines)


def _readings(result: AgreementReport) -> list[str]:
    """One sentence per overall coefficient: its band, and what its note or the band's warning
    says (an undefined coefficient: why it is undefined, said once)."""
    readings = []
    for key, name in COLUMNS:
        coefficient = getattr(result.overall, key)
        interpretation = result.interpretation.get(key)
        band = interpretation.band if interpretation else None
        if band == "undefined" and coefficient.note:
            band, note = f"undefined because {coefficient.note}", None
        else:
            note = coefficient.note
        said = [part for part in (band, note, interpretation and interpretation.note) if part]
        if said:
            readings.append(f"{name}: " + "; ".join(said) + ".")
    return readings


def _sentence(text: str) -> str:
    """A note as a sentence: capital first letter, full stop at the end."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")

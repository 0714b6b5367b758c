"""Admin pages that watch a project: the progress dashboard and the agreement report."""
from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .auth import admin_required
from .extensions import db
from .i18n import label_text, translated
from .inputs import int_arg
from .models import Project, utcnow

# The counting, the statistics and the charts are imported by the views below when they
# run: every command and server start paid for them (issue 11).
if TYPE_CHECKING:
    from .services.agreement import AgreementReport
    from .services.dashboard import Counts, Dashboard

bp = Blueprint("dashboard", __name__, url_prefix="/admin/projects")

MAX_DAYS = 90
CACHE_SIZE = 64  # projects whose counts are kept per process
MAX_RESAMPLES = 10_000
HEAT_LEVELS = 8  # CSS classes heat-0 .. heat-8 in static/css/dashboard.css
STATUS_COLORS = {"finished": "#2f9e44", "in_progress": "#f59f00", "untouched": "#dee2e6"}
THROUGHPUT_COLOR = "#1c64d1"
# The Landis & Koch bands the agreement service names, translated on the page.
BAND_NAMES = {"poor": _l("poor"), "slight": _l("slight"), "fair": _l("fair"),
              "moderate": _l("moderate"), "substantial": _l("substantial"),
              "almost perfect": _l("almost perfect"), "undefined": _l("undefined")}


@bp.before_request
@admin_required
def require_admin():
    """Every page here is for admins only."""


@bp.get("/<int:project_id>/dashboard")
def progress(project_id: int):
    """Articles and paragraphs done, and each annotator's output, as charts and tables."""
    from .services.dashboard import build_dashboard
    project = db.get_or_404(Project, project_id)
    days = min(max(request.args.get("days", 14, type=int), 1), MAX_DAYS)
    data = build_dashboard(db.session, project, _counts(project), days=days)
    return render_template("dashboard/progress.html", project=project, data=data, days=days,
                           charts=_progress_charts(data))


def _counts(project: Project) -> Counts:
    """The project's counts, reused while nothing they depend on has changed (a few ms to
    check, against a scan of every annotation to count), or, with DASHBOARD_MAX_AGE_SECONDS
    set, while they are younger than that even if something changed."""
    from .services.dashboard import change_stamp, read_counts
    cache: dict = current_app.extensions.setdefault("annotator.dashboard_counts", {})
    stamp = change_stamp(db.session)
    key = (project.id, project.overlap)
    cached = cache.get(key)
    max_age = timedelta(seconds=float(current_app.config.get("DASHBOARD_MAX_AGE_SECONDS", 0)))
    if cached is not None and (cached[0] == stamp or utcnow() - cached[1].counted_at < max_age):
        return cached[1]
    counts = read_counts(db.session, project)
    cache.pop(key, None)
    while len(cache) >= CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = (stamp, counts)
    return counts


def _progress_charts(data: Dashboard) -> dict:
    """The dashboard's SVG charts, titled in the page's language."""
    from . import charts
    status = [charts.Segment(_("Finished"), data.finished, STATUS_COLORS["finished"]),
              charts.Segment(_("In progress"), data.in_progress, STATUS_COLORS["in_progress"]),
              charts.Segment(_("Untouched"), data.untouched, STATUS_COLORS["untouched"])]
    paragraphs = [
        charts.Segment(_("Labeled by %(n)s or more", n=data.overlap), data.labeled_full,
                       STATUS_COLORS["finished"]),
        charts.Segment(_("Labeled by fewer"), data.labeled_any - data.labeled_full,
                       STATUS_COLORS["in_progress"]),
        charts.Segment(_("Not labeled"), data.paragraphs - data.labeled_any,
                       STATUS_COLORS["untouched"])] if data.overlap > 1 else [
        charts.Segment(_("Labeled"), data.labeled_any, STATUS_COLORS["finished"]),
        charts.Segment(_("Not labeled"), data.paragraphs - data.labeled_any,
                       STATUS_COLORS["untouched"])]
    scale = max([max(a.per_day, default=0) for a in data.annotators], default=0)
    first, last = data.days[0].isoformat(), data.days[-1].isoformat()
    return {
        "articles": charts.stacked_bar(status, title=_(
            "Articles: %(finished)s finished, %(progress)s in progress, %(untouched)s untouched",
            finished=data.finished, progress=data.in_progress, untouched=data.untouched)),
        "paragraphs": charts.stacked_bar(paragraphs, title=_(
            "Paragraphs: %(labeled)s of %(total)s labeled",
            labeled=data.labeled_any, total=data.paragraphs)),
        "total_daily": charts.daily_bars(
            data.days, data.per_day_total, color="#495057", width=720, height=130,
            title=_("Labels per day, everyone, %(first)s to %(last)s: %(count)s",
                    first=first, last=last, count=sum(data.per_day_total))),
        "daily": [charts.daily_bars(
            data.days, annotator.per_day, scale_max=scale, color=THROUGHPUT_COLOR,
            title=_("Labels per day by %(name)s, %(first)s to %(last)s: %(count)s",
                    name=annotator.username, first=first, last=last, count=annotator.recent))
            for annotator in data.annotators],
        "labels": charts.distribution_bars(
            [(annotator.username,
              [charts.Segment(label_text(label.name), annotator.labels.get(label.key, 0), label.color)
               for label in data.labels]) for annotator in data.annotators],
            title=_("Share of each label in each annotator's labels")),
    }


@bp.get("/<int:project_id>/agreement")
def agreement(project_id: int):
    """Agreement between annotators: coefficients with intervals, per pair, per label; then on
    spans and links."""
    from .services.agreement import interpret
    from .services.agreement_report import per_version, project_agreement
    from .services.span_agreement import project_span_agreement
    project = db.get_or_404(Project, project_id)
    resamples = min(max(request.args.get("resamples", 1000, type=int), 0), MAX_RESAMPLES)
    version = int_arg("version", 0, maximum=project.guideline_version)  # 0: every version
    result = project_agreement(db.session, project, resamples=resamples, seed=0,
                               version=version or None)
    overall = [
        {"key": key, "name": name, "coefficient": getattr(result.overall, key),
         "reading": result.interpretation.get(key)}
        for key, name in (("observed", _("Observed agreement")), ("fleiss", _("Fleiss' kappa")),
                          ("alpha", _("Krippendorff's alpha")), ("ac1", _("Gwet's AC1")))]
    notes = [translated(note) for note in result.notes]
    for row in overall:
        for note in (row["coefficient"].note, row["reading"] and row["reading"].note):
            if note:
                notes.append(_("%(name)s: %(note)s", name=row["name"], note=translated(note)))
    return render_template(
        "dashboard/agreement.html", project=project, result=result, resamples=resamples,
        version=version, by_version=per_version(db.session, project, resamples=0)
        if project.guideline_version > 1 and not version else [],
        names={label.key: label_text(label.name) for label in project.labels}, overall=overall,
        notes=notes, band_names=BAND_NAMES, heat=_heat_levels(result),
        pairs=[(pair, interpret(pair.kappa.value, pair.observed)) for pair in result.pairs],
        pair_intervals=any(pair.kappa.low is not None for pair in result.pairs),
        charts=_agreement_charts(result, overall),
        spans=project_span_agreement(db.session, project),
        span_names={label.key: label_text(label.name) for label in project.span_labels},
        relation_names={relation.key: label_text(relation.name) for relation in project.relations})


def _heat_levels(result: AgreementReport) -> dict[tuple[str, str], int]:
    """A heat level 0..HEAT_LEVELS per confusion cell, on a square-root scale so that the
    smaller off-diagonal counts still show next to a large diagonal."""
    cells = {(row, col): result.confusion.get(row, {}).get(col, 0)
             for row in result.labels for col in result.labels}
    top = max(cells.values(), default=0)
    return {cell: math.ceil(HEAT_LEVELS * math.sqrt(count / top)) if top else 0
            for cell, count in cells.items()}


def _agreement_charts(result: AgreementReport, overall: list[dict]) -> dict:
    from . import charts
    found = {"overall": charts.interval_plot(
        [(row["name"], row["coefficient"].value, row["coefficient"].low,
          row["coefficient"].high) for row in overall],
        title=_("Agreement coefficients with their intervals"))}
    if result.pairs:
        found["pairs"] = charts.interval_plot(
            [(f"{pair.annotator_a} / {pair.annotator_b}", pair.kappa.value, pair.kappa.low,
              pair.kappa.high) for pair in result.pairs],
            title=_("Cohen's kappa per annotator pair"))
    return found

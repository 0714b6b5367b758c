"""Calibration pages (services/calibration.py): an admin's page to choose the calibration
articles, recalibration and the hidden-check rate; an annotator's rounds and the feedback
after each calibration article (their labels against gold, with the guideline excerpts)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from .auth import admin_required, login_required
from .extensions import db
from .forms import ActionForm
from .i18n import label_text, translated
from .models import Article, Gold, Paragraph, Project, User
from .services import calibration

bp = Blueprint("calibration", __name__)


def _whose() -> int:
    """The user whose rounds a page shows: the caller, or for an admin ?user=ID (another
    user's is 403 for anyone else)."""
    chosen = request.args.get("user")
    if chosen is None:
        return current_user.id
    if not chosen.isdigit():
        abort(400, _("user must be a user's number"))
    if int(chosen) != current_user.id and not current_user.is_admin:
        abort(403)
    if db.session.get(User, int(chosen)) is None:
        abort(404)
    return int(chosen)


@bp.get("/projects/<int:project_id>/calibration")
@login_required
def rounds(project_id: int):
    """The user's calibration rounds in the project, newest first, and how many are left."""
    project = db.get_or_404(Project, project_id)
    user_id = _whose()
    return render_template(
        "calibration/rounds.html", project=project, user=db.session.get(User, user_id),
        rounds=calibration.rounds(db.session, project, user_id),
        left=calibration.calibration_left(db.session, project, user_id))


@bp.get("/articles/<int:article_id>/calibration")
@login_required
def feedback(article_id: int):
    """After a calibration article is marked done: the user's labels against gold, each
    disagreement with what the guidelines said about gold's label. 404 before that (gold is
    not shown ahead), and for any other article."""
    article = db.get_or_404(Article, article_id)
    user_id = _whose()
    attempt = calibration.latest_calibration(db.session, article.id, user_id)
    if attempt is None:
        abort(404)
    project = db.session.get(Project, article.project_id)
    rows = calibration.feedback(db.session, attempt)
    return render_template(
        "calibration/feedback.html", project=project, article=article, attempt=attempt,
        rows=rows, agreed=sum(row.agrees for row in rows), form=ActionForm(),
        own=user_id == current_user.id, user=db.session.get(User, user_id),
        left=calibration.calibration_left(db.session, project, user_id),
        names={label.key: label_text(label.name) for label in project.labels})


@bp.route("/admin/projects/<int:project_id>/calibration", methods=["GET", "POST"])
@admin_required
def settings(project_id: int):
    """Choose the calibration articles (among those with gold labels), whether a new
    guideline version asks everyone to calibrate again, and the hidden-check rate."""
    project = db.get_or_404(Project, project_id)
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400, _("The form expired: reload the page and try again."))
        problem = _apply(project)
        if problem is None:
            flash(_("Calibration settings saved."))
            return redirect(url_for("calibration.settings", project_id=project.id))
        db.session.rollback()
        flash(problem, "error")
    gold_counts = (select(Paragraph.article_id, func.count(Gold.paragraph_id).label("gold"))
                   .join(Gold, Gold.paragraph_id == Paragraph.id)
                   .group_by(Paragraph.article_id).subquery())
    articles = db.session.execute(
        select(Article.id, Article.article_id, Article.title, Article.paragraph_count,
               Article.calibration, func.coalesce(gold_counts.c.gold, 0))
        .outerjoin(gold_counts, gold_counts.c.article_id == Article.id)
        .where(Article.project_id == project.id,
               (gold_counts.c.gold > 0) | Article.calibration)
        .order_by(Article.id).limit(500)).all()
    return render_template("calibration/settings.html", project=project, form=form,
                           articles=articles, rate=request.form.get("check_rate"),
                           people=calibration.people(db.session, project))


def _apply(project: Project) -> str | None:
    """The settings form's changes (committed), or why they are refused (nothing changed)."""
    text = request.form.get("check_rate", "").strip()
    try:
        rate = float(text)
    except ValueError:
        rate = text or _("nothing")
    problem = calibration.check_rate_problem(rate)
    if problem is not None:
        return translated(problem)
    chosen = {int(value) for value in request.form.getlist("calibration") if value.isdigit()}
    shown = {int(value) for value in request.form.getlist("shown") if value.isdigit()}
    project.recalibrate = "recalibrate" in request.form
    project.check_rate = rate
    try:
        calibration.set_calibration(db.session, project, sorted(chosen & shown), True)
        calibration.set_calibration(db.session, project, sorted(shown - chosen), False)
    except calibration.CalibrationError as error:
        return translated(error.args[0])
    db.session.commit()
    return None

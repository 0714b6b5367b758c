"""Adjudication (/review): the paragraphs annotators disagree on, where gold is set by key."""
from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .auth import reviewer_required
from .extensions import db
from .i18n import label_text, translated
from .inputs import int_arg
from .models import Article, Project, User
from .services.review import (ONLY, PAGE_SIZE, ReviewError, ReviewFilters, ReviewPage,
                              review_counts, review_page)
from .services.review_spans import review_structure

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.before_request
@reviewer_required
def require_reviewer():
    """Every page here is for admins and reviewers."""


@bp.get("/projects/<int:project_id>")
def disagreements(project_id: int):
    """A page of paragraphs to adjudicate, filtered by the GET form; gold is set by the script."""
    project = db.get_or_404(Project, project_id)
    args = request.args
    form = {"only": args.get("only", "disagreements"), "label_a": args.get("label_a", ""),
            "label_b": args.get("label_b", ""), "annotator": args.get("annotator", ""),
            "article": args.get("article", "").strip()}
    if form["only"] not in ONLY:
        form["only"] = "disagreements"
    error, result = None, ReviewPage([], None)
    try:
        filters = ReviewFilters(only=form["only"], label_pair=_label_pair(form),
                                annotator=form["annotator"] or None,
                                article=_article_pk(project, form["article"]))
        result = review_page(db.session, project.id, filters,
                             after=int_arg("after", 0), limit=PAGE_SIZE)
    except ReviewError as problem:
        error = translated(problem.args[0])
    filtered = {key: value for key, value in form.items()  # for links: the filters in use
                if value and (key, value) != ("only", "disagreements")}
    next_page_url = (url_for(".disagreements", project_id=project.id, after=result.next_after,
                             **filtered) if result.next_after else None)
    structure = review_structure(db.session, project.id,
                                 [item.paragraph_id for item in result.items])
    return render_template(
        "review/disagreements.html", project=project, labels=project.labels,
        label_names={label.key: label_text(label.name) for label in project.labels}, items=result.items,
        next_page_url=next_page_url, form=form, filtered=filtered, error=error,
        counts=review_counts(db.session, project.id), only_choices=_only_choices(),
        usernames=list(db.session.scalars(select(User.username).order_by(User.username))),
        page_data=_script_data(project, next_page_url, structure),
        spans_differ=set(structure["differ"]),
        paged=args.get("after") not in (None, "", "0"))


def _script_data(project: Project, next_page_url: str | None, structure: dict) -> dict:
    """What static/js/review.js needs: the label hotkeys, the page's spans and links
    (services/review_spans.py), and its messages, translated."""
    return {
        "projectId": project.id,
        "labels": [label.key for label in project.labels],
        "hotkeys": [label.hotkey for label in project.labels],
        "spanLabels": {label.key: label_text(label.name) for label in project.span_labels},
        "relations": {relation.key: label_text(relation.name) for relation in project.relations},
        "paragraphs": structure["paragraphs"], "articles": structure["articles"],
        "nextPageUrl": next_page_url, "loginUrl": url_for("auth.login"),
        "text": {"saved": _("saved"), "pending": _("saving…"),
                 "failed": _("not saved, retrying"), "rejected": _("refused by the server"),
                 "signedOut": _("You are signed out: sign in again in another tab; your changes are kept here."),
                 "signedOutState": _("not saved: signed out"), "signIn": _("Sign in"),
                 "unsaved": _("Some gold labels are not saved yet."),
                 "pageDone": _("Every paragraph on this page has a gold label."),
                 "nextPage": _("Press n for the next page."),
                 "goldSpans": _("Gold spans"), "noSpans": _("no spans"),
                 "accept": _("Accept as gold"), "remove": _("Remove"),
                 "acceptSpans": _("Accept these spans as gold"),
                 "needsEnds": _("Accept the spans at its ends first"),
                 "goldLinks": _("Gold links"),
                 "paragraph": _("¶ %(number)s", number="{n}"),
                 "span": _("%(label)s «%(text)s» in ¶ %(number)s", label="{label}",
                           text="{text}", number="{n}")},
    }


def _label_pair(form: dict) -> tuple[str, str | None] | None:
    """One label ("some annotator chose it"), two ("one chose a, another b"), or none."""
    chosen = [key for key in (form["label_a"], form["label_b"]) if key]
    if not chosen:
        return None
    return (chosen[0], chosen[1] if len(chosen) == 2 else None)


def _article_pk(project: Project, external_id: str) -> int | None:
    """The article filter names an article by the id it was imported with."""
    if not external_id:
        return None
    found = db.session.scalar(select(Article.id).where(
        Article.project_id == project.id, Article.article_id == external_id))
    if found is None:
        raise ReviewError(_("No article with the id “%(id)s” in this project.", id=external_id))
    return found


def _only_choices() -> list[tuple[str, str]]:
    return [("disagreements", _("Disagreements")),
            ("no-gold", _("Disagreements without gold")),
            ("all-labeled", _("All labeled paragraphs"))]

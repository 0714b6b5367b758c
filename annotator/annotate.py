"""Pages annotators use: the project list, a project's overview, the article view, the queue."""
from __future__ import annotations

import hashlib
from typing import NamedTuple

from flask import (Blueprint, Response, abort, current_app, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape
from sqlalchemy import func, select

from .auth import login_required
from .database import reads_first
from .extensions import db
from .i18n import label_text, reason_text
from .inputs import int_arg
from .models import Annotation, Article, Assignment, Paragraph, Project
from .rendering import render_markdown
from .services import guideline_versions, members, queue, spans
from .services.progress import project_progress
from .services.suggestions import paragraphs_with_suggestions
from .web import cache_for_a_year

bp = Blueprint("annotate", __name__)

ARTICLES_PER_PAGE = 50


class ParagraphView(NamedTuple):
    """A paragraph as the labeling page shows it (plain tuples render faster than rows)."""

    id: int
    index: int
    text: str


class MyLabel(NamedTuple):
    label: str
    note: str | None
    source: str


class SuggestionView(NamedTuple):
    label: str
    chip: Markup
    """"suggested: Ads/Boilerplate 0.97", its reason as the title and, hidden, beside it."""


def suggestion_views(suggestions: dict[int, dict], project: Project) -> dict[int, SuggestionView]:
    """The shown suggestions by paragraph id, each chip built here, every value escaped: a
    2,000-paragraph article all suggested renders in +20-50 ms this way, +180 ms as template
    code (measured in the same run)."""
    names = {label.key: label_text(label.name) for label in project.labels}
    word = escape(_("suggested:"))
    views = {}
    for paragraph_id, suggestion in suggestions.items():
        key, reason = suggestion["label"], escape(reason_text(suggestion["reason"]))
        confidence = f"{suggestion['confidence']:.2f}"
        views[paragraph_id] = SuggestionView(key, Markup(
            f'<span class="suggestion" data-label="{escape(key)}" title="{reason} ({confidence})">'
            f'<span class="suggestion-chip">{word} {escape(names.get(key, key))} {confidence} '
            f'<kbd>a</kbd></span> <span class="suggestion-reason" hidden>{reason}</span></span>'))
    return views


def paragraph_items(paragraphs: list[ParagraphView], mine: dict[int, MyLabel],
                    suggestions: dict[int, SuggestionView], project: Project) -> Markup:
    """The article's paragraphs as the page's <li>s, each its number and text and only what
    it has: its label tag and save state, its suggestion, its note (annotate.js and
    paragraph.js draw the rest when needed). Built here, every value escaped: a 1,500-paragraph
    article renders in a third of the time the same markup took as template code."""
    tags = {label.key: f"<kbd>{escape(label.hotkey)}</kbd> {escape(label_text(label.name))}"
            for label in project.labels}
    saved = escape(_("saved"))
    limit = int(current_app.config["MAX_NOTE_CHARS"])
    placeholder = _("Note for this paragraph, up to %(count)s characters (Esc to leave)", count=limit)
    note_attributes = (f'rows="2" maxlength="{limit}" placeholder="{escape(placeholder)}" '
                       f'aria-label="{escape(_("Note"))}"')
    items = []
    for paragraph in paragraphs:
        mark, suggestion = mine.get(paragraph.id), suggestions.get(paragraph.id)
        label = escape(mark.label) if mark else ""
        extra = f' data-source="{escape(mark.source)}"' if mark else ""
        meta = note = ""
        if suggestion:
            extra += f' data-suggestion="{escape(suggestion.label)}"'
        if mark or suggestion:
            tag = tags.get(mark.label, label) if mark else ""
            meta = (f'<span class="para-meta"><span class="label-tag" data-label="{label}">{tag}</span>'
                    f'{suggestion.chip if suggestion else ""}'
                    f'<span class="save-state">{saved if mark else ""}</span></span>')
        if mark and mark.note:
            note = f'<textarea class="note" {note_attributes}>{escape(mark.note)}</textarea>'
        items.append(
            f'<li class="para" id="p{paragraph.index}" data-paragraph-id="{paragraph.id}" '
            f'data-label="{label}" data-state="{"saved" if mark else ""}"{extra}>'
            f'<span class="para-index" aria-hidden="true">{paragraph.index + 1}</span>'
            f'<div class="para-body">{meta}<div class="para-text" dir="auto">{escape(paragraph.text)}'
            f'</div></div>{note}</li>')
    return Markup("".join(items))


def later_paragraphs(paragraphs: list[ParagraphView], mine: dict[int, MyLabel],
                     suggestions: dict[int, dict]) -> Markup:
    """The paragraphs a long article sends as data rather than HTML, as JSON for a
    <script type="application/json">: each [id, index, text] and, if it has them, its label,
    source, note and suggestion ([label, confidence, reason]). paragraph.js draws each into the
    <li> paragraph_items would have made; parsing this is a fraction of parsing their HTML."""
    records = []
    for paragraph in paragraphs:
        record: list = [paragraph.id, paragraph.index, paragraph.text]
        mark, suggestion = mine.get(paragraph.id), suggestions.get(paragraph.id)
        if mark or suggestion:
            record += [mark.label, mark.source, mark.note or None] if mark else [None, None, None]
            if suggestion:
                record.append([suggestion["label"], f"{suggestion['confidence']:.2f}",
                               reason_text(suggestion["reason"])])
        records.append(record)
    return htmlsafe_json_dumps(records, ensure_ascii=False, separators=(",", ":"))


RESUME_CONTEXT = 10  # paragraphs sent as HTML before the first unlabeled one: the screen above it


def html_window(paragraphs: list[ParagraphView], mine: dict[int, MyLabel], count: int) -> tuple[int, int]:
    """Where the paragraphs sent as HTML start, and how many they are: an article longer than
    `count` sends `count` of them as HTML where the page opens (at its first unlabeled
    paragraph, RESUME_CONTEXT before it), the others as data, drawn at idle or when a key
    needs them. The caller passes the article's length for one with spans or links: all as
    HTML (their code reads the DOM)."""
    if count >= len(paragraphs):
        return 0, len(paragraphs)
    resume = next((i for i, paragraph in enumerate(paragraphs) if paragraph.id not in mine), 0)
    return min(max(resume - RESUME_CONTEXT, 0), len(paragraphs) - count), count


@bp.get("/")
@login_required
def projects():
    """Every project the caller works on, with their progress (admins: the overall one too)
    and what their queue holds: Start only where it has an article, else why not."""
    items = db.session.scalars(members.visible_projects(current_user)).all()
    progress = {project.id: project_progress(db.session, project, current_user.id)
                for project in items}
    overall = ({project.id: project_progress(db.session, project) for project in items}
               if current_user.is_admin else {})
    hold = queue.hold_times(current_app.config)
    states = {project.id: queue.queue_state(db.session, project, current_user.id, hold)
              for project in items}
    return render_template("annotate/projects.html", projects=items, progress=progress,
                           overall=overall, states=states)


@bp.get("/projects/<int:project_id>")
@login_required
def project(project_id: int):
    """A project's guidelines, the caller's progress and its articles, page by page."""
    project = db.get_or_404(Project, project_id)
    page = int_arg("page", 1, minimum=1)
    articles = db.session.execute(
        select(Article.id, Article.title, Article.paragraph_count)
        .where(Article.project_id == project.id).order_by(Article.id)
        .offset((page - 1) * ARTICLES_PER_PAGE).limit(ARTICLES_PER_PAGE)).all()
    ids = [article.id for article in articles]
    labeled = dict(db.session.execute(
        select(Paragraph.article_id, func.count(Annotation.id))
        .join(Annotation, Annotation.paragraph_id == Paragraph.id)
        .where(Paragraph.article_id.in_(ids), Annotation.user_id == current_user.id)
        .group_by(Paragraph.article_id)).all())
    finished = set(db.session.scalars(select(Assignment.article_id).where(
        Assignment.article_id.in_(ids), Assignment.user_id == current_user.id,
        Assignment.finished_at.is_not(None))))
    return render_template(
        "annotate/project.html", project=project, articles=articles, labeled=labeled,
        finished=finished, page=page, guidelines=project.guidelines_markup,
        progress=project_progress(db.session, project, current_user.id),
        state=queue.queue_state(db.session, project, current_user.id,
                                queue.hold_times(current_app.config)),
        has_next_page=len(articles) == ARTICLES_PER_PAGE)


@bp.route("/projects/<int:project_id>/start", methods=["GET", "POST"])
@reads_first
@login_required
def start(project_id: int):
    """Claim the next article in the caller's queue and open it, or say the queue is empty.
    Claiming is a POST (the Start button): a GET, from a bookmark, a prefetch or a crawler,
    claims nothing and shows the project page, button included."""
    project = db.get_or_404(Project, project_id)
    if request.method == "GET":
        return redirect(url_for("annotate.project", project_id=project.id))
    hold = queue.hold_times(current_app.config)
    article_id = queue.claim_next(db.session, project, current_user.id, hold)
    if article_id is None:
        return render_template("annotate/all_done.html", project=project,
                               state=queue.queue_state(db.session, project, current_user.id, hold))
    return redirect(url_for("annotate.article", article_id=article_id))


@bp.get("/articles/<int:article_id>")
@login_required
def article(article_id: int):
    """The labeling page: every paragraph with its label buttons and its stored suggestion (if
    the project shows them), the caller's spans and links, driven from the keyboard."""
    article = db.get_or_404(Article, article_id)
    project = db.session.get(Project, article.project_id)
    rows = list(paragraphs_with_suggestions(db.session, article))  # one query for both
    paragraphs = [ParagraphView(paragraph_id, index, text)
                  for paragraph_id, index, text, _ in rows]
    shown = {paragraph_id: suggestion for paragraph_id, _, _, suggestion in rows if suggestion}
    mine = {row.paragraph_id: MyLabel(row.label, row.note, row.source) for row in db.session.execute(
        select(Annotation.paragraph_id, Annotation.label, Annotation.note, Annotation.source)
        .join(Paragraph).where(Paragraph.article_id == article.id,
                               Annotation.user_id == current_user.id))}
    neighbour = select(Article.id).where(Article.project_id == project.id)
    previous_id = db.session.scalar(neighbour.where(Article.id < article.id)
                                    .order_by(Article.id.desc()).limit(1))
    next_id = db.session.scalar(neighbour.where(Article.id > article.id)
                                .order_by(Article.id).limit(1))
    assignment = db.session.scalar(select(Assignment).where(
        Assignment.article_id == article.id, Assignment.user_id == current_user.id))
    mine_only = spans.Owner(current_user.id)
    last_version = guideline_versions.last_label_version(db.session, project.id, current_user.id)
    my_spans = spans.article_spans(db.session, article.id, mine_only)
    my_links = spans.article_links(db.session, article.id, mine_only)
    start, count = html_window(paragraphs, mine, len(paragraphs) if my_spans or my_links
                               else current_app.config["ARTICLE_HTML_PARAGRAPHS"])
    drawn, undrawn = paragraphs[start:start + count], paragraphs[:start] + paragraphs[start + count:]
    return render_template(
        "annotate/article.html", project=project, article=article, paragraphs=paragraphs,
        mine=mine, suggestions=shown,
        items=paragraph_items(drawn, mine, suggestion_views(
            {p.id: shown[p.id] for p in drawn if p.id in shown}, project), project),
        later=later_paragraphs(undrawn, mine, shown) if undrawn else None,
        previous_id=previous_id, next_id=next_id,
        finished=assignment is not None and assignment.finished_at is not None,
        counted=counted_texts(), spans=my_spans,
        span_labels=[{"key": label.key, "name": label_text(label.name), "hotkey": label.hotkey,
                      "color": label.color} for label in project.span_labels],
        relations=[{"key": relation.key, "name": label_text(relation.name),
                    "hotkey": relation.hotkey} for relation in project.relations],
        links=my_links,
        guidelines=project.guidelines_markup,
        changed_since=last_version if last_version and last_version < project.guideline_version
        else None)


@bp.get("/projects/<int:project_id>/guidelines/versions")
@login_required
def guideline_versions_list(project_id: int):
    """Every version of the guidelines and label set, newest first, and a form to compare two."""
    project = db.get_or_404(Project, project_id)
    return render_template("annotate/guideline_versions.html", project=project,
                           versions=guideline_versions.versions(db.session, project.id))


def _version_or_404(project: Project, number: int):
    version = guideline_versions.numbered(db.session, project.id, number)
    if version is None:
        abort(404, _("This project has no guideline version %(num)s.", num=number))
    return version


@bp.get("/projects/<int:project_id>/guidelines/versions/<int:number>")
@login_required
def guideline_version(project_id: int, number: int):
    """One version as it was: its guidelines (rendered, sanitised) and its label set."""
    project = db.get_or_404(Project, project_id)
    version = _version_or_404(project, number)
    return render_template("annotate/guideline_version.html", project=project, version=version,
                           guidelines=render_markdown(version.guidelines))


@bp.get("/projects/<int:project_id>/guidelines/diff")
@login_required
def guideline_diff(project_id: int):
    """What changed from version `from` to version `to` (default: the one before `to`, and
    the current one), line by line with + and - markers."""
    project = db.get_or_404(Project, project_id)
    new = int_arg("to", project.guideline_version, minimum=1)
    old = int_arg("from", max(new - 1, 1), minimum=1)
    older, newer = _version_or_404(project, old), _version_or_404(project, new)
    return render_template("annotate/guideline_diff.html", project=project, old=older,
                           new=newer, lines=guideline_versions.diff_lines(older, newer),
                           versions=guideline_versions.versions(db.session, project.id))


@bp.get("/projects/<int:project_id>/labels.css")
@login_required
def label_css(project_id: int):
    """Label colours as a stylesheet, so the page needs no inline styles under the CSP. Under
    the URL label_css_url builds (its `v` the hash of this very text), cached a year; else
    revalidated (ETag)."""
    project = db.get_or_404(Project, project_id)
    css = label_css_text(project)
    digest = _digest(css)
    response = Response(css, mimetype="text/css")
    if request.args.get("v") == digest:
        cache_for_a_year(response, public=False)
        return response
    response.cache_control.no_cache = True
    response.set_etag(digest)
    return response.make_conditional(request)


def label_css_text(project: Project) -> str:
    return render_template("annotate/labels.css", labels=project.labels,
                           span_labels=project.span_labels)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@bp.app_template_global()
def label_css_url(project: Project) -> str:
    """The project's labels.css, versioned by its content: a page loads it from the browser's
    cache until a label's colour changes."""
    return url_for("annotate.label_css", project_id=project.id, v=_digest(label_css_text(project)))


def counted_texts() -> dict[str, dict[str, str]]:
    """The script's texts that hold a count, in each plural form of the UI's language: the
    script picks one with Intl.PluralRules ("one" or "other"; the count stays "{count}")."""
    def forms(text) -> dict[str, str]:
        return {"one": text(1), "other": text(2)}
    return {
        "waiting": forms(lambda n: ngettext(
            "%(count)s change waiting to be saved; retrying…",
            "%(count)s changes waiting to be saved; retrying…", n, count="{count}")),
        "unlabeledLeft": forms(lambda n: ngettext(
            "Not labeled yet: %(count)s of %(total)s paragraph.",
            "Not labeled yet: %(count)s of %(total)s paragraphs.", n,
            count="{count}", total="{total}")),
        "acceptedAll": forms(lambda n: ngettext(
            "Accepted %(count)s suggestion (u to undo).",
            "Accepted %(count)s suggestions (u to undo).", n, count="{count}")),
        "undone": forms(lambda n: ngettext(
            "Undone: %(count)s paragraph as it was.",
            "Undone: %(count)s paragraphs as they were.", n, count="{count}")),
    }

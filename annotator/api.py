"""The JSON API (/api): sessions with X-CSRFToken for the page, bearer tokens for scripts."""
from __future__ import annotations

import math

from flask import (Blueprint, Response, abort, current_app, jsonify, request,
                   stream_with_context, url_for)
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import BadRequest

from .auth import admin_required, login_required, reviewer_required
from .database import committed, direct, reads_first, request_connection, write_transaction
from .extensions import db
from .inputs import (MAX_ID, int_arg, json_body, label_field, note_field, source_field,
                     upload_path)
from .models import Annotation, Article, ImportJob, Paragraph, Project, isoformat
from .openapi import build_openapi
from .web import attachment
from .services import import_jobs, members, queue, spans
from .services.annotations import (KEEP, LabelError, ParagraphMissing, Saved, clear_annotation,
                                   clear_annotations, clear_gold, hold_label_set,
                                   save_annotation, set_gold,
                                   store_annotation)
from .services.exporting import ExportError, ExportOptions, export_lines
from .services.importing import Source, import_sources
from .services.formats import format_for_name
from .suggest import training
from .services.suggestions import (APP_MODELS, MAX_REASON_CHARS, paragraphs_with_suggestions,
                                   store_suggestions, suggestion_json)

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PAGE = 1000
MAX_BATCH = 5000  # items in one batch request (an article's paragraphs)


def project_json(project: Project) -> dict:
    return {"id": project.id, "name": project.name, "overlap": project.overlap,
            "labels": [{"key": label.key, "name": label.name, "hotkey": label.hotkey,
                        "color": label.color} for label in project.labels],
            "span_labels": [{"key": label.key, "name": label.name, "hotkey": label.hotkey,
                             "color": label.color} for label in project.span_labels],
            "relations": [{"key": relation.key, "name": relation.name,
                           "hotkey": relation.hotkey} for relation in project.relations]}


@bp.get("/projects")
@login_required
def list_projects():
    projects = db.session.scalars(
        select(Project).where(members.works_on(current_user)).order_by(Project.id)
        .options(selectinload(Project.labels), selectinload(Project.span_labels),
                 selectinload(Project.relations)))
    return jsonify([project_json(project) for project in projects])


@bp.get("/projects/<int:project_id>/articles")
@login_required
def list_articles(project_id: int):
    project = db.get_or_404(Project, project_id)
    offset, limit = int_arg("offset", 0), int_arg("limit", 100, maximum=MAX_PAGE)
    total = db.session.scalar(select(func.count(Article.id)).where(Article.project_id == project.id))
    rows = db.session.execute(
        select(Article.id, Article.article_id, Article.title, Article.url, Article.paragraph_count)
        .where(Article.project_id == project.id).order_by(Article.id).offset(offset).limit(limit))
    return jsonify(total=total, items=[row._asdict() for row in rows])


@bp.post("/projects/<int:project_id>/next")
@login_required
def next_article(project_id: int):
    """Claim the article the caller should work on next (null when none is left)."""
    project = db.get_or_404(Project, project_id)
    article_id = queue.claim_next(db.session, project, current_user.id,
                                  queue.hold_times(current_app.config))
    return jsonify(article_id=article_id)


@bp.get("/projects/<int:project_id>/next")
@login_required
def peek_next_article(project_id: int):
    """The article a POST would give the caller, claiming nothing: a GET never writes, so a
    prefetch or a crawler takes no work (the first label saved in it claims it)."""
    project = db.get_or_404(Project, project_id)
    return jsonify(article_id=queue.next_article(db.session, project, current_user.id,
                                                 queue.hold_times(current_app.config)))


def article_json(article: Article, user_id: int) -> dict:
    """An article with its paragraphs, the given user's own annotations, spans and links, and
    the suggestions its project shows."""
    mine = {paragraph_id: {"label": label, "note": note, "source": source,
                           "updated_at": isoformat(updated_at)}
            for paragraph_id, label, note, source, updated_at in db.session.execute(
                select(Annotation.paragraph_id, Annotation.label, Annotation.note,
                       Annotation.source, Annotation.updated_at)
                .join(Paragraph).where(Paragraph.article_id == article.id,
                                       Annotation.user_id == user_id))}
    owner = spans.Owner(user_id)
    own_spans = spans.article_spans(db.session, article.id, owner)
    return {
        "id": article.id, "article_id": article.article_id, "project_id": article.project_id,
        "title": article.title, "url": article.url,
        "paragraphs": [{"id": pid, "index": index, "text": text, "annotation": mine.get(pid),
                        "suggestion": suggestion, "spans": own_spans.get(pid, [])}
                       for pid, index, text, suggestion in paragraphs_with_suggestions(
                           db.session, article)],
        "links": spans.article_links(db.session, article.id, owner)}


@bp.get("/articles/<int:article_id>")
@login_required
def get_article(article_id: int):
    return jsonify(article_json(db.get_or_404(Article, article_id), current_user.id))


@bp.route("/articles/<int:article_id>/done", methods=["PUT", "DELETE"])
@login_required
def mark_done(article_id: int):
    """Mark the caller's work on an article finished (PUT) or reopen it (DELETE)."""
    article = db.get_or_404(Article, article_id)
    assignment = queue.set_finished(db.session, article.id, current_user.id,
                                    request.method == "PUT")
    return jsonify(article_id=article.id, finished_at=isoformat(assignment.finished_at))


@bp.put("/paragraphs/<int:paragraph_id>/annotation")
@direct
@login_required
def put_annotation(paragraph_id: int):
    """Set the caller's label; a body without "note" keeps the note already written. The
    hot path: on the request's own connection, committed before the answer."""
    body = json_body()
    label, note, source = label_field(body), note_field(body, KEEP), source_field(body)
    user_id = current_user.id
    with committed(request_connection()) as connection:  # the write lock only in here
        hold_label_set(connection)  # the label is checked against the set this save sees
        try:
            annotation = store_annotation(connection, paragraph_id, user_id, label, note,
                                          source=source)
        except ParagraphMissing:
            abort(404, f"no paragraph {paragraph_id}")
        except LabelError as error:
            abort(400, str(error))
        queue.keep_alive(connection, annotation.article_id, user_id)
    training.saved(paragraph_id, annotation.label, annotation.source)
    return jsonify(saved_json(annotation))


def saved_json(annotation: Saved) -> dict:
    return {"paragraph_id": annotation.paragraph_id, "label": annotation.label,
            "note": annotation.note, "source": annotation.source,
            "updated_at": isoformat(annotation.updated_at)}


def batch_items(body: dict, key: str = "items") -> list:
    """The body's list under `key`: 1 to MAX_BATCH entries, else 400."""
    items = body.get(key)
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
        abort(400, f'"{key}" must be a list of 1 to {MAX_BATCH} entries')
    return items


def item_field(index: int, read, item):
    """`read(item)` for the batch's entry `index`; a refusal names the entry."""
    if not isinstance(item, dict):
        abort(400, f"items[{index}] must be an object")
    try:
        return read(item)
    except BadRequest as error:
        abort(400, f"items[{index}]: {error.description}")


def article_paragraph_ids(article: Article, items: list) -> list[int]:
    """Each entry's "paragraph_id", checked to be a paragraph of the article, once; else 400
    naming the entry."""
    ids = [item_field(index, lambda item: item.get("paragraph_id"), item)
           for index, item in enumerate(items)]
    for index, paragraph_id in enumerate(ids):
        if type(paragraph_id) is not int or not 0 < paragraph_id <= MAX_ID:
            abort(400, f'items[{index}]: "paragraph_id" must be a paragraph id')
    known = set(db.session.scalars(select(Paragraph.id).where(
        Paragraph.article_id == article.id, Paragraph.id.in_(set(ids)))))
    seen: set[int] = set()
    for index, paragraph_id in enumerate(ids):
        if paragraph_id not in known:
            abort(400, f"items[{index}]: paragraph {paragraph_id} is not in article {article.id}")
        if paragraph_id in seen:
            abort(400, f"items[{index}]: paragraph {paragraph_id} is given twice")
        seen.add(paragraph_id)
    return ids


def project_label(keys: set[str], index: int, label: str) -> str:
    if label not in keys:
        abort(400, f"items[{index}]: unknown label {label!r} for this project")
    return label


@bp.post("/articles/<int:article_id>/annotations")
@reads_first
@login_required
def post_annotations(article_id: int):
    """Set several of the caller's labels in the article in one transaction: all or nothing.
    Every entry is checked before anything is written."""
    article = db.get_or_404(Article, article_id)
    items = batch_items(json_body())
    ids = article_paragraph_ids(article, items)
    fields = [(item_field(index, label_field, item),
               item_field(index, lambda item: note_field(item, KEEP), item),
               item_field(index, source_field, item)) for index, item in enumerate(items)]
    project_id, user_id = article.project_id, current_user.id
    with write_transaction(db.session):
        hold_label_set(db.session.connection())  # the labels are checked against this set
        keys = db.session.get(Project, project_id).label_keys()
        saves = [(paragraph_id, project_label(keys, index, label), note, source)
                 for index, (paragraph_id, (label, note, source)) in enumerate(zip(ids, fields))]
        queue.keep_alive(db.session.connection(), article_id, user_id)
        stored = [save_annotation(db.session, paragraph_id, user_id, label, note,
                                  source=source, commit=False)
                  for paragraph_id, label, note, source in saves]
        db.session.commit()
    for annotation in stored:
        training.saved(annotation.paragraph_id, annotation.label, annotation.source)
    return jsonify(items=[saved_json(annotation) for annotation in stored])


@bp.delete("/articles/<int:article_id>/annotations")
@reads_first
@login_required
def delete_annotations(article_id: int):
    """Remove the caller's labels from the given paragraphs of the article in one
    transaction (each kept in the history): the undo of a batch of labels."""
    article = db.get_or_404(Article, article_id)
    ids = batch_items(json_body(), "paragraph_ids")
    for index, paragraph_id in enumerate(ids):
        if type(paragraph_id) is not int or not 0 < paragraph_id <= MAX_ID:
            abort(400, f"paragraph_ids[{index}] must be a paragraph id")
    user_id = current_user.id
    with write_transaction(db.session):
        cleared = clear_annotations(db.session, article_id, ids, user_id)
    return jsonify(cleared=cleared)


def confidence_field(item: dict) -> float:
    confidence = item.get("confidence")
    if (type(confidence) not in (int, float) or not math.isfinite(confidence)
            or not 0 <= confidence <= 1):
        abort(400, '"confidence" must be a number from 0 to 1')
    return float(confidence)


def reason_field(item: dict) -> str:
    reason = item.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
        abort(400, f'"reason" must be a string of at most {MAX_REASON_CHARS} characters')
    return reason


@bp.put("/articles/<int:article_id>/suggestions")
@reads_first
@admin_required
def put_suggestions(article_id: int):
    """Store suggestions from a model of the user's own for paragraphs of the article; each
    replaces the paragraph's stored suggestion, and its reason names the model."""
    article = db.get_or_404(Article, article_id)
    body = json_body()
    model = body.get("model")
    if not isinstance(model, str) or not 0 < len(model.strip()) <= 64:
        abort(400, '"model" must be a name of 1 to 64 characters')
    model = model.strip()
    if model in APP_MODELS:
        abort(400, f'"model" {model!r} is the name of the app\'s own suggestions; choose another')
    items = batch_items(body)
    ids = article_paragraph_ids(article, items)
    keys = db.session.get(Project, article.project_id).label_keys()
    rows = []
    for index, (paragraph_id, item) in enumerate(zip(ids, items)):
        reason = item_field(index, reason_field, item)
        rows.append({"paragraph_id": paragraph_id, "label": project_label(keys, index,
                                                                item_field(index, label_field, item)),
                     "confidence": item_field(index, confidence_field, item), "model": model,
                     "reason": f"{model}: {reason}" if reason else model})
    with write_transaction(db.session):
        store_suggestions(db.session, rows)
        db.session.commit()
    return jsonify(model=model, items=[
        {"paragraph_id": row["paragraph_id"],
         **suggestion_json(row["label"], row["confidence"], row["reason"][:MAX_REASON_CHARS])}
        for row in rows])


@bp.delete("/paragraphs/<int:paragraph_id>/annotation")
@login_required
def delete_annotation(paragraph_id: int):
    paragraph = db.get_or_404(Paragraph, paragraph_id)
    clear_annotation(db.session, paragraph, current_user.id)
    return "", 204


@bp.put("/paragraphs/<int:paragraph_id>/gold")
@reviewer_required
def put_gold(paragraph_id: int):
    paragraph = db.get_or_404(Paragraph, paragraph_id)
    label = label_field(json_body())
    try:
        gold = set_gold(db.session, paragraph, label, current_user.id)
    except LabelError as error:
        abort(400, str(error))
    return jsonify(paragraph_id=paragraph.id, label=gold.label,
                   updated_at=isoformat(gold.updated_at))


@bp.delete("/paragraphs/<int:paragraph_id>/gold")
@reviewer_required
def delete_gold(paragraph_id: int):
    clear_gold(db.session, db.get_or_404(Paragraph, paragraph_id))
    return "", 204


def _replace(parse, replace, owner: spans.Owner, target: int) -> None:
    """Replace the owner's spans of a paragraph or links in an article (`target`) with the
    body's: the body is read and its shape checked before the write lock, the rest inside;
    400 naming the problem (nothing stored), 404 for no such paragraph or article. An
    annotator's save keeps their hold on the article, as a label save does."""
    try:
        wanted = parse(json_body())
    except spans.SpanError as error:
        abort(400, str(error))
    with write_transaction(db.session):
        try:
            article_id = replace(db.session, target, owner, wanted)
        except spans.NotFound as error:
            abort(404, str(error))
        except spans.SpanError as error:
            abort(400, str(error))
        if not owner.gold:
            queue.keep_alive(db.session.connection(), article_id, owner.user_id)
        db.session.commit()


def _spans_of(paragraph_id: int, owner: spans.Owner) -> dict:
    db.get_or_404(Paragraph, paragraph_id)  # a missing one is 404 whatever the body says
    _replace(spans.parse_spans, spans.replace_spans, owner, paragraph_id)
    return {"paragraph_id": paragraph_id,
            "spans": spans.paragraph_spans(db.session, paragraph_id, owner)}


def _links_of(article_id: int, owner: spans.Owner) -> dict:
    db.get_or_404(Article, article_id)
    _replace(spans.parse_links, spans.replace_links, owner, article_id)
    return {"article_id": article_id, "links": spans.article_links(db.session, article_id, owner)}


@bp.put("/paragraphs/<int:paragraph_id>/spans")
@reads_first
@login_required
def put_spans(paragraph_id: int):
    """Replace the caller's spans of the paragraph: unchanged spans keep their ids (and
    links), removed ones take their links with them."""
    return jsonify(_spans_of(paragraph_id, spans.Owner(current_user.id)))


@bp.put("/articles/<int:article_id>/links")
@reads_first
@login_required
def put_links(article_id: int):
    """Replace the caller's links in the article."""
    return jsonify(_links_of(article_id, spans.Owner(current_user.id)))


@bp.put("/paragraphs/<int:paragraph_id>/gold/spans")
@reads_first
@reviewer_required
def put_gold_spans(paragraph_id: int):
    """Replace the paragraph's gold spans (the caller is recorded as who set the new ones)."""
    return jsonify(_spans_of(paragraph_id, spans.Owner(current_user.id, gold=True)))


@bp.put("/articles/<int:article_id>/gold/links")
@reads_first
@reviewer_required
def put_gold_links(article_id: int):
    """Replace the article's gold links."""
    return jsonify(_links_of(article_id, spans.Owner(current_user.id, gold=True)))


@bp.post("/projects/<int:project_id>/import")
@reads_first
@admin_required
def import_articles(project_id: int):
    """Upload a file (multipart `file`) or a raw JSONL body; all or nothing, like the CLI. The
    upload is parsed before the write lock is taken (reads_first, then import_sources)."""
    project = db.get_or_404(Project, project_id)
    options = request.form if request.files else request.args
    if request.mimetype == "application/x-ndjson":
        source = Source("<body>", request.body_file(), "jsonl")
    elif "file" in request.files:
        upload = request.files["file"]
        name = upload.filename or "upload"
        fmt = options.get("format", "auto")
        if fmt == "auto":
            fmt = format_for_name(name)
        if fmt is None:
            abort(400, f"cannot tell the format of {name!r} from its extension")
        source = Source(name, upload_path(upload), fmt)
    else:
        abort(400, 'send a multipart "file" or an application/x-ndjson body')
    settings = {"encoding": options.get("encoding") or None,
                "split": options.get("split") if options.get("split") in ("line", "blank") else "line",
                "skip_invalid": options.get("skip_invalid", "") in ("1", "true", "on", "yes")}
    if request.args.get("background") in ("1", "true") or "respond-async" in request.headers.get(
            "Prefer", ""):
        try:
            job = import_jobs.start(current_app._get_current_object(), db.session, project,
                                    current_user.id, source.data, source.name, source.fmt, settings)
        except import_jobs.TooManyJobs as waiting:
            abort(429, f"{waiting.args[0]} imports are queued or running; try again when one ends")
        url = url_for("api.import_job", job_id=job.id)
        return jsonify({**import_jobs.job_json(job), "url": url}), 202, {"Location": url}
    report = import_sources(db.session, project.name, [source], **settings)
    if not report.stored:
        return jsonify(error=report.failure(),
                       errors=report.errors), 400
    return jsonify(added=report.added, skipped=report.skipped, paragraphs=report.paragraphs,
                   errors=report.errors, **_warc_counts(source.fmt, report.warc_skipped))


def _warc_counts(fmt: str, skipped: dict[str, int]) -> dict:
    """A WARC import's records not imported, by why; none for other formats."""
    if fmt != "warc":
        return {}
    from .services.formats.warc import SKIPPED  # loaded already: the import read a WARC
    return {"warc_skipped": {why: skipped.get(why, 0) for why in SKIPPED}}


@bp.get("/import-jobs/<int:job_id>")
@admin_required
def import_job(job_id: int):
    """A background import's progress and outcome (the job row is the truth)."""
    job = import_jobs.fresh(db.session, db.get_or_404(ImportJob, job_id))
    return jsonify({**import_jobs.job_json(job), "url": url_for("api.import_job", job_id=job.id)})


@bp.get("/projects/<int:project_id>/export.jsonl")
@admin_required
def export_jsonl(project_id: int):
    """Stream the same bytes as `flask export`."""
    project = db.get_or_404(Project, project_id)
    unit = request.args.get("unit", "paragraph")
    options = ExportOptions(unit=unit, only_labeled=request.args.get("only_labeled") in ("1", "true"),
                            only_resolved=request.args.get("only_resolved") in ("1", "true"),
                            annotator=request.args.get("annotator") or None,
                            suggestions=request.args.get("suggestions") in ("1", "true"))
    try:
        lines = export_lines(db.session, project.name, options)
    except ExportError as error:
        abort(400, str(error))
    return Response(stream_with_context(lines), mimetype="application/x-ndjson", headers={
        "Content-Disposition": attachment(f"{project.name}-{unit}.jsonl",
                                          f"project-{project.id}-{unit}.jsonl")})


@bp.get("/openapi.json")
@login_required
def openapi_document():
    """The OpenAPI 3.1 description of this API; like every /api route, it needs a sign-in."""
    return jsonify(build_openapi(current_app.config))

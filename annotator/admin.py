"""Admin pages: users and tokens, project settings and labels, import by upload, export."""
from __future__ import annotations

import re
import tempfile

from flask import (Blueprint, abort, current_app, flash, make_response, redirect,
                   render_template, request, send_file, url_for)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user
from sqlalchemy import delete, select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectChoice

from .auth import admin_required
from .database import reads_first
from .extensions import db
from .i18n import ROLE_NAMES, translated
from .forms import ActionForm, AssignForm, ImportForm, ProjectForm, ResetPasswordForm, RoleForm, TokenForm, UserForm
from .models import ApiToken, Article, Assignment, ImportJob, Label, Project, User, utcnow
from .inputs import int_arg, too_large_message, upload_path
from .security import hash_password
from .services import guideline_versions, import_jobs, labels, members, queue, span_sets
from .services.annotations import change_label_set
from .services.formats import format_for_name
from .services.dataset import UNKNOWN_LICENSE, dataset_zip, parse_split
from .services.exporting import ExportError, ExportOptions, export_lines
from .services.importing import Source, get_or_create_project, import_sources, project_name_problem
from .services.messages import from_json
from .services.parquet_export import write_parquet
from .services.users import create_token, create_user
from .web import attachment, error_page, file_name

bp = Blueprint("admin", __name__, url_prefix="/admin")

LABEL_KEY = re.compile(r"[a-z0-9_-]{1,32}")
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
RESERVED_KEYS = set("jkenpg?.0aAui") | {"Backspace", "Enter", "Escape"}


@bp.before_request
@admin_required
def require_admin():
    """Every page here is for admins only."""


# --- users ---------------------------------------------------------------------------

@bp.route("/users", methods=["GET", "POST"])
def users():
    form = UserForm()
    if form.validate_on_submit():
        if db.session.scalar(select(User.id).where(User.username == form.username.data)):
            form.username.errors.append(_("This username is taken."))
        else:
            create_user(db.session, form.username.data, form.password.data, form.role.data)
            flash(_("User %(name)s created.", name=form.username.data))
            return redirect(url_for("admin.users"))
    people = db.session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", form=form, users=people, action=ActionForm(),
                           reset_form=ResetPasswordForm(), role_form=RoleForm(),
                           token_form=TokenForm())


def _user_or_404(user_id: int) -> User:
    return db.get_or_404(User, user_id)


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int):
    user = _user_or_404(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user.password_hash = hash_password(form.password.data)
        user.end_sessions()
        db.session.commit()
        if user.id == current_user.id:  # one's own reset keeps this session, ends the others
            login_user(user)
        flash(_("Password of %(name)s changed; their other sessions are signed out.", name=user.username))
    else:
        flash(" ".join(error for errors in form.errors.values() for error in errors), "error")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int):
    user = _user_or_404(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        if user.id == current_user.id and form.role.data != "admin":
            flash(_("You cannot take away your own admin role."), "error")
        else:
            user.role = form.role.data
            db.session.commit()
            flash(_("%(name)s is now %(role)s.", name=user.username, role=ROLE_NAMES[user.role]))
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/active")
def toggle_active(user_id: int):
    """Deactivate (sessions end, tokens are revoked) or reactivate a user; either way their
    old session and remember-me cookies never work again."""
    user = _user_or_404(user_id)
    if ActionForm().validate_on_submit():
        if user.id == current_user.id:
            flash(_("You cannot deactivate yourself."), "error")
        else:
            user.active = not user.active
            user.end_sessions()
            if not user.active:
                db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
            db.session.commit()
            flash(_("%(name)s activated.", name=user.username) if user.active
                  else _("%(name)s deactivated.", name=user.username))
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/tokens")
def issue_token(user_id: int):
    user = _user_or_404(user_id)
    form = TokenForm()
    if not form.validate_on_submit():
        abort(400)
    token = create_token(db.session, user, form.name.data or "")
    page = make_response(render_template("admin/token.html", user=user, token=token))
    page.headers["Cache-Control"] = "no-store"  # the token is shown once: keep it out of caches
    return page


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    token = db.get_or_404(ApiToken, token_id)
    if ActionForm().validate_on_submit():
        db.session.delete(token)
        db.session.commit()
        flash(_("Token revoked."))
    return redirect(url_for("admin.users"))


# --- projects ------------------------------------------------------------------------

@bp.route("/projects/new", methods=["GET", "POST"])
def new_project():
    name = request.form.get("name", "")
    if request.method == "POST" and ActionForm().validate_on_submit():
        problem = project_name_problem(name)
        if problem is None and db.session.scalar(select(Project.id).where(Project.name == name)):
            problem = _("A project with this name exists.")
        if problem is None:
            project = get_or_create_project(db.session, name)
            db.session.commit()
            return redirect(url_for("admin.project_settings", project_id=project.id))
        flash(translated(problem), "error")
    return render_template("admin/new_project.html", form=ActionForm(), name=name)


@bp.route("/projects/<int:project_id>/settings", methods=["GET", "POST"])
def project_settings(project_id: int):
    project = db.get_or_404(Project, project_id)
    form = ProjectForm(obj=project)
    label_errors: list[str] = []
    people = db.session.scalars(select(User).where(User.role != "admin")
                                .order_by(User.username)).all()
    if form.validate_on_submit():
        label_errors, relabeled = _update_labels(project, request.form)
        label_errors = label_errors or _update_span_sets(project, request.form)
        if not label_errors:
            form.populate_obj(project)
            chosen = {int(value) for value in request.form.getlist("member") if value.isdigit()}
            members.set_members(db.session, project, chosen & {person.id for person in people})
            version = guideline_versions.record_version(db.session, project, current_user.id)
            db.session.commit()
            saved = [_("Settings saved."), *relabeled]
            if version is not None:
                saved.append(_("The guidelines are now version %(num)s.", num=version.number))
            flash(" ".join(saved))
            return redirect(url_for("admin.project_settings", project_id=project.id))
        db.session.rollback()
    uses = labels.label_uses(db.session, project.id)
    return render_template(
        "admin/settings.html", project=project, form=form, label_errors=label_errors,
        blank_rows=2, people=people, member_ids=members.member_ids(db.session, project),
        uses={key: _uses_text(use) for key, use in uses.items()},
        orphans=[key for key in uses if key not in project.label_keys()],
        removed=set(request.form.getlist("label_remove")), relabel_to=_relabel_targets(request.form),
        span_label_uses=span_sets.span_label_uses(db.session, project.id),
        relation_uses=span_sets.relation_uses(db.session, project.id),
        span_removed=set(request.form.getlist("span_label_remove")),
        relation_removed=set(request.form.getlist("relation_remove")))


def _update_span_sets(project: Project, form) -> list[str]:
    """Apply the span label and relation tables, each only if the form has it; the errors
    (nothing changed) in the UI's language."""
    errors = []
    for prefix, edit, colored in (("span_label", span_sets.edit_span_labels, True),
                                  ("relation", span_sets.edit_relations, False)):
        if f"{prefix}_key" not in form:
            continue
        columns = [form.getlist(f"{prefix}_{name}") for name in ("key", "name", "hotkey")]
        colors = form.getlist(f"{prefix}_color") if colored else [None] * len(columns[0])
        if len({len(column) for column in (*columns, colors)}) != 1:
            errors.append(_("The form arrived incomplete: reload the page and try again."))
            continue
        rows = [span_sets.Row(*values) for values in zip(*columns, colors)]
        errors += edit(db.session, project, rows, set(form.getlist(f"{prefix}_remove")))
    return [translated(error) for error in errors]


def _uses_text(use: labels.LabelUse) -> str:
    """"12 annotations, 1 gold label, 3 suggestions" (the parts that are not 0)."""
    parts = [ngettext("%(num)s annotation", "%(num)s annotations", use.annotations),
             ngettext("%(num)s gold label", "%(num)s gold labels", use.gold),
             ngettext("%(num)s suggestion", "%(num)s suggestions", use.suggestions)]
    return ", ".join(part for part, count in zip(
        parts, (use.annotations, use.gold, use.suggestions)) if count)


def _relabel_targets(form) -> dict[str, str]:
    """{key: the key its uses become} from the settings form's relabel choices."""
    return {old: new for old, new in zip(form.getlist("relabel_from"), form.getlist("relabel_to"))
            if new}


def _update_labels(project: Project, form) -> tuple[list[str], list[str]]:
    """Apply the label table: edit rows by key, add new ones, refuse duplicates; a label in
    use is removed only with a label its uses are relabeled as (so is a key in use that the
    set no longer has). Returns the errors (nothing changed) or what was relabeled."""
    keys = form.getlist("label_key")
    names, colors = form.getlist("label_name"), form.getlist("label_color")
    hotkeys, descriptions = form.getlist("label_hotkey"), form.getlist("label_description")
    removed = set(form.getlist("label_remove"))
    existing = {label.key: label for label in project.labels}
    errors: list[str] = []
    wanted = []
    for position, (key, name, color, hotkey, description) in enumerate(
            zip(keys, names, colors, hotkeys, descriptions, strict=True)):
        key, name, hotkey = key.strip(), name.strip(), hotkey.strip()
        if not key and not name:
            continue  # an empty new row
        if key in removed:
            continue
        if not LABEL_KEY.fullmatch(key):
            errors.append(_("Label key “%(key)s” must be 1–32 of a-z, 0-9, _ and -.", key=key))
        if not name:
            errors.append(_("Label “%(key)s” needs a name.", key=key))
        if not COLOR.fullmatch(color):
            errors.append(_("Label “%(key)s”: colour must look like #1a2b3c.", key=key))
        if len(hotkey) != 1 or hotkey in RESERVED_KEYS or hotkey.isspace():
            errors.append(_("Label “%(key)s”: the hotkey must be one character that is not a "
                            "navigation key (j k e n p g a A u i ? . 0).", key=key))
        wanted.append((key, name, color, hotkey, description.strip(), position))
    for field, label in ((0, _("key")), (3, _("hotkey"))):
        seen: set[str] = set()
        for row in wanted:
            if row[field] in seen:
                errors.append(_("Two labels share the %(what)s “%(value)s”.", what=label, value=row[field]))
            seen.add(row[field])
    if not wanted:
        errors.append(_("A project needs at least one label."))
    kept = {row[0] for row in wanted}
    leaving = set(existing) - kept
    targets = _relabel_targets(form)
    if leaving or targets:  # saves in flight commit first; later ones see the new set
        change_label_set(db.session)
    uses = labels.label_uses(db.session, project.id)
    moves: dict[str, str] = {}
    for key in sorted(leaving | (set(uses) - set(existing))):  # removed, or already orphaned
        use, target = uses.get(key, labels.LabelUse()), targets.get(key)
        if target is None:
            if use.in_use and key in existing:
                errors.append(_("Label “%(key)s” is in use (%(uses)s): choose a label to "
                                "relabel them as, or keep it.", key=key, uses=_uses_text(use)))
        elif target not in kept or target == key:
            errors.append(_("“%(key)s” cannot be relabeled as “%(target)s”: that is not one of "
                            "the labels the project keeps.", key=key, target=target))
        else:
            moves[key] = target
    if errors:
        return errors, []
    for key in leaving:
        project.labels.remove(existing[key])
    db.session.flush()
    for key, name, color, hotkey, description, position in wanted:
        label = existing.get(key) or Label(key=key, project=project)
        label.name, label.color, label.hotkey = name, color, hotkey
        label.description, label.position = description, position
        if key not in existing:
            project.labels.append(label)
    relabeled = []
    for key, target in moves.items():
        labels.relabel(db.session, project.id, key, target, current_user.id)
        if moved := _uses_text(uses.get(key, labels.LabelUse())):
            relabeled.append(_("%(uses)s relabeled from “%(key)s” to “%(target)s”.",
                               uses=moved, key=key, target=target))
    for key in leaving - set(moves):
        labels.drop_suggestions(db.session, project.id, key)
    return [], relabeled


@bp.route("/projects/<int:project_id>/import", methods=["GET", "POST"])
@reads_first
def import_articles(project_id: int):
    """Upload a file: the same formats, rules and messages as `flask import`; parsed before
    the write lock is taken (reads_first, then import_sources)."""
    project = db.get_or_404(Project, project_id)
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        name = upload.filename or "upload"
        fmt = form.fmt.data
        if fmt == "auto":
            fmt = format_for_name(name)
        if fmt is None:
            form.file.errors.append(_("Cannot tell the format from the file name; choose one."))
        elif form.background.data or upload_path(upload).stat().st_size >= float(
                current_app.config["BACKGROUND_IMPORT_MB"]) * 2**20:
            settings = {"encoding": form.encoding.data or None, "split": form.split.data,
                        "skip_invalid": form.skip_invalid.data}
            try:
                job = import_jobs.start(current_app._get_current_object(), db.session, project,
                                        current_user.id, upload_path(upload), name, fmt, settings)
            except import_jobs.TooManyJobs as waiting:
                form.file.errors.append(_("%(num)s imports are queued or running; try again "
                                          "when one ends.", num=waiting.args[0]))
            else:
                return redirect(url_for("admin.import_job", job_id=job.id))
        else:
            source = Source(name, upload_path(upload), fmt)  # read from its file, never whole
            report = import_sources(db.session, project.name, [source],
                                    encoding=form.encoding.data or None, split=form.split.data,
                                    skip_invalid=form.skip_invalid.data)
            if report.stored:
                flash(_import_summary(report))
                if report.warc_skipped:
                    flash(_warc_skipped(report.warc_skipped))
    return render_template("admin/import.html", project=project, form=form, report=report,
                           jobs=import_jobs.recent(db.session, project.id), job_states=_job_states())


@bp.get("/import-jobs/<int:job_id>")
def import_job(job_id: int):
    """A background import: its progress (import_job.js polls the API's job route) and,
    once it ends, its outcome."""
    job = import_jobs.fresh(db.session, db.get_or_404(ImportJob, job_id))
    return render_template("admin/import_job.html", job=job, project=db.session.get(
        Project, job.project_id), summary=_job_summary(job) if job.state == "done" else [],
        errors=[from_json(line) for line in job.errors or []],
        jobs=import_jobs.recent(db.session, job.project_id), job_states=_job_states())


def _job_states() -> dict[str, str]:
    """A background import's states (ImportJob.state), in the UI's language."""
    return {"queued": _("waiting"), "running": _("running"), "done": _("done"),
            "failed": _("failed")}


def _job_summary(job) -> list[str]:
    """A finished job's outcome lines, as a foreground import flashes them."""
    lines = [_import_summary(job)]
    if job.warc_skipped:
        lines.append(_warc_skipped(job.warc_skipped))
    return lines


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge):
    """An upload over the limit keeps an admin on the import form, which says the limit and
    how an admin raises it (the body was refused unread: the form starts empty). Any other
    page, or a caller who is not an admin, gets the usual 413 page."""
    if request.endpoint != "admin.import_articles" or not (
            current_user.is_authenticated and current_user.is_admin):
        return error_page(error)  # this runs before require_admin: never show the form
    project = db.session.get(Project, request.view_args["project_id"])
    if project is None:
        return error_page(error)
    return render_template("admin/import.html", project=project, form=ImportForm(formdata=None),
                           report=None, too_large=translated(too_large_message()),
                           jobs=import_jobs.recent(db.session, project.id),
                           job_states=_job_states()), 413


def _warc_skipped(skipped: dict[str, int]) -> str:
    """The WARC records not imported, by why (ImportReport.warc_summary), in the UI's language."""
    return ngettext(
        "%(num)s WARC record skipped (%(html)s not HTML, %(status)s not status 200, "
        "%(duplicates)s duplicate URLs, %(other)s not responses).",
        "%(num)s WARC records skipped (%(html)s not HTML, %(status)s not status 200, "
        "%(duplicates)s duplicate URLs, %(other)s not responses).", sum(skipped.values()),
        html=skipped.get("not_html", 0), status=skipped.get("not_200", 0),
        duplicates=skipped.get("duplicate", 0), other=skipped.get("not_response", 0))


def _import_summary(report) -> str:
    """The import's summary line (ImportReport.summary), counted in the UI's language."""
    return " ".join([
        ngettext("Imported: %(num)s article added,", "Imported: %(num)s articles added,",
                 report.added),
        _("%(num)s skipped (already present),", num=report.skipped),
        ngettext("%(num)s paragraph.", "%(num)s paragraphs.", report.paragraphs)])


DEFAULT_SPLIT = "train=0.8,dev=0.1,test=0.1"


@bp.get("/projects/<int:project_id>/export")
def export(project_id: int, error: str | None = None):
    """The export forms: one JSONL file (the API's export), or a dataset zip."""
    project = db.get_or_404(Project, project_id)
    annotators = db.session.scalars(select(User.username).order_by(User.username)).all()
    return render_template("admin/export.html", project=project, annotators=annotators,
                           error=error, args=request.args if error else {},
                           default_split=DEFAULT_SPLIT)


@bp.get("/projects/<int:project_id>/export/dataset")
def export_dataset(project_id: int):
    """`flask export --split` in the browser: the folder it writes, as a zip (a refusal, or
    a split that would come out empty, is said on the export page)."""
    project = db.get_or_404(Project, project_id)
    args = request.args
    options = _export_options()
    group_by = args.get("group_by", "article")
    try:
        archive, report = dataset_zip(
            db.session, project.name, parse_split(args.get("split") or DEFAULT_SPLIT),
            top=file_name(f"{project.name}-dataset", "dataset"), seed=int_arg("seed", 0),
            group_by=group_by, options=options,
            license=args.get("license") or UNKNOWN_LICENSE, fmt=args.get("format", "jsonl"))
    except ExportError as error:
        return export(project_id, error=translated(error.args[0])), 400
    if report.empty:
        archive.close()
        return export(project_id, error=_(
            "Split %(names)s would be empty (%(lines)s lines in %(articles)s articles): use "
            "fewer or larger splits, or keep each article (not each site) within one split.",
            names=", ".join(report.empty), lines=sum(report.lines.values()),
            articles=sum(report.articles.values()))), 400
    response = send_file(archive, mimetype="application/zip", max_age=0)
    response.headers["Content-Disposition"] = attachment(
        f"{project.name}-dataset.zip", f"project-{project.id}-dataset.zip")
    return response


@bp.get("/projects/<int:project_id>/export.parquet")
def export_parquet(project_id: int):
    """The JSONL download's rows as one Parquet file (`flask export --format parquet`), written
    to an anonymous temporary file first: a Parquet file's footer comes last."""
    project = db.get_or_404(Project, project_id)
    options = _export_options()
    output = tempfile.TemporaryFile()
    try:
        write_parquet(output, export_lines(db.session, project.name, options), options)
    except ExportError as error:
        output.close()
        return export(project_id, error=translated(error.args[0])), 400
    output.seek(0)
    response = send_file(output, mimetype="application/vnd.apache.parquet", max_age=0)
    response.headers["Content-Disposition"] = attachment(
        f"{project.name}-{options.unit}.parquet", f"project-{project.id}-{options.unit}.parquet")
    return response


def _export_options() -> ExportOptions:
    """The export forms' options, from the query string."""
    args = request.args
    return ExportOptions(unit=args.get("unit", "paragraph"),
                         only_labeled=bool(args.get("only_labeled")),
                         only_resolved=bool(args.get("only_resolved")),
                         annotator=args.get("annotator") or None,
                         suggestions=bool(args.get("suggestions")))


# --- assignments -----------------------------------------------------------------------

@bp.route("/projects/<int:project_id>/assignments", methods=["GET", "POST"])
def assignments(project_id: int):
    """Who holds which article; pin a range of articles (in import order) to an annotator."""
    project = db.get_or_404(Project, project_id)
    form = AssignForm()
    form.username.choices = [SelectChoice(user.username) for user in db.session.scalars(
        members.workers(project).where(User.active))]
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data))
        first, last = sorted((form.first.data, form.last.data))
        article_ids = db.session.scalars(
            select(Article.id).where(Article.project_id == project.id).order_by(Article.id)
            .offset(first - 1).limit(last - first + 1)).all()
        count = queue.assign(db.session, list(article_ids), user.id)
        flash(ngettext("%(num)s article assigned to %(name)s.",
                       "%(num)s articles assigned to %(name)s.", count, name=user.username))
        return redirect(url_for("admin.assignments", project_id=project.id))
    hold, now = queue.hold_times(current_app.config), utcnow()
    workers = set(db.session.scalars(members.workers(project).with_only_columns(User.id)))
    holds = [(assignment, title, article_id, username,
              _hold_status(assignment, active, assignment.user_id in workers, hold, now))
             for assignment, title, article_id, username, active in db.session.execute(
                 select(Assignment, Article.title, Article.article_id, User.username, User.active)
                 .join(Article, Article.id == Assignment.article_id)
                 .join(User, User.id == Assignment.user_id)
                 .where(Article.project_id == project.id, Assignment.finished_at.is_(None))
                 .order_by(Assignment.article_id, User.username))]
    return render_template("admin/assignments.html", project=project, form=form, holds=holds,
                           hold=hold, action=ActionForm())


def _hold_status(assignment: Assignment, active: bool, member: bool, hold: queue.HoldTimes,
                 now) -> str:
    """How the queue sees an unfinished hold, in words."""
    if not active:
        return _("released (user deactivated)")
    if not member:
        return _("released (not a member)")
    if not queue.holds(assignment, True, hold, now):
        return _("released (idle)")
    if assignment.pinned:
        return _("assigned")
    return _("in progress") if assignment.labeled_at else _("claimed, nothing labeled yet")


@bp.post("/assignments/<int:assignment_id>/release")
def release_assignment(assignment_id: int):
    assignment = db.get_or_404(Assignment, assignment_id)
    project_id = db.session.scalar(select(Article.project_id).where(Article.id == assignment.article_id))
    if ActionForm().validate_on_submit():
        queue.unassign(db.session, assignment.id)
        flash(_("Released."))
    return redirect(url_for("admin.assignments", project_id=project_id))

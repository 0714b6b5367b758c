"""The Quality page: each annotator's figures against gold and the others (services/quality.py).
Admins see everyone; anyone else who works on the project sees their own figures only."""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from .auth import login_required
from .extensions import db
from .i18n import label_text
from .models import Project, User

bp = Blueprint("quality", __name__, url_prefix="/projects")


@bp.get("/<int:project_id>/quality")
@login_required
def overview(project_id: int):
    """Admins: every annotator's row. Others: their own figures (no one else's)."""
    if not current_user.is_admin:
        return annotator(project_id, current_user.id)
    return _render(db.get_or_404(Project, project_id), None)


@bp.get("/<int:project_id>/quality/<int:user_id>")
@login_required
def annotator(project_id: int, user_id: int):
    """One annotator's figures in full: 403 for someone else's unless an admin."""
    project = db.get_or_404(Project, project_id)
    if user_id != current_user.id and not current_user.is_admin:
        abort(403)
    if db.session.get(User, user_id) is None:
        abort(404)
    return _render(project, user_id)


def _render(project: Project, user_id: int | None):
    from .services.quality import project_quality  # the statistics load when the page runs
    result = project_quality(db.session, project)
    chosen = result.annotator(user_id) if user_id is not None else None
    return render_template(
        "dashboard/quality.html", project=project, result=result, chosen=chosen,
        user_id=user_id, admin=current_user.is_admin,
        names={label.key: label_text(label.name) for label in project.labels})

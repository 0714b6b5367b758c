"""The Quality page: each annotator's figures against gold and the others (services/quality.py).
Admins see everyone; anyone else who works on the project sees their own figures only."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from .auth import login_required
from .extensions import db
from .i18n import label_text
from .models import Project, User

bp = Blueprint("quality", __name__, url_prefix="/projects")


@bp.get("/<int:project_id>/quality")
@login_required
def overview(project_id: int):
    """Admins: every annotator's row, and with ?user=ID one annotator in full. Others: their
    own figures (another user's ?user= is 403)."""
    project = db.get_or_404(Project, project_id)
    chosen = request.args.get("user")
    if chosen is not None and not chosen.isdigit():
        abort(400, _("user must be a user's number"))
    user_id = int(chosen) if chosen is not None else None
    if not current_user.is_admin:
        if user_id not in (None, current_user.id):
            abort(403)
        user_id = current_user.id
    elif user_id is not None and db.session.get(User, user_id) is None:
        abort(404)
    from .services.quality import (
        project_quality,  # the statistics load when the page runs
    )
    result = project_quality(db.session, project)
    return render_template(
        "dashboard/quality.html", project=project, result=result, user_id=user_id,
        chosen=result.annotator(user_id) if user_id is not None else None,
        admin=current_user.is_admin,
        names={label.key: label_text(label.name) for label in project.labels})

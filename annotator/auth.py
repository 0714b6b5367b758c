"""Sign-in: login, logout, first-run setup, bearer tokens, role decorators, throttling."""
from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam, delete, func, select

from .extensions import csrf, db, login_manager
from .forms import LoginForm, SetupForm
from .models import ApiToken, LoginFailure, User, utcnow
from .security import check_password, hash_token
from .services.users import create_user
from .web import local_path

bp = Blueprint("auth", __name__)

THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_MAX_PER_USERNAME = 10
THROTTLE_MAX_PER_ADDRESS = 50


def wants_json() -> bool:
    return request.path.startswith("/api/")


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Session cookies name the user and a piece of the password hash: a reset logs out."""
    if bearer_token() is not None:  # a token request is authenticated by its token alone
        return None
    user_id, _, stamp = session_id.partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or user.session_stamp != stamp:
        return None
    return user


@login_manager.request_loader
def load_user_from_token(_request) -> User | None:
    token = bearer_token()
    if not token or not request.path.startswith("/api/"):
        return None
    user = db.session.scalar(_USER_OF_TOKEN, {"token_hash": hash_token(token)})
    return user if user is not None and user.active else None


_USER_OF_TOKEN = (select(User).join(ApiToken, ApiToken.user_id == User.id)
                  .where(ApiToken.token_hash == bindparam("token_hash")))


@login_manager.unauthorized_handler
def unauthorized():
    if wants_json():
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def role_required(check):
    """Decorate a view: 401/redirect when signed out, 403 when the role lacks `check`."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not check(current_user):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


login_required = role_required(lambda user: True)
admin_required = role_required(lambda user: user.is_admin)
reviewer_required = role_required(lambda user: user.can_adjudicate)


@bp.before_app_request
def protect_and_set_up():
    """CSRF for every cookie-authenticated state change; a fresh install goes to setup."""
    if wants_json() and not current_user.is_authenticated:
        abort(401)  # the API checks authentication first: before CSRF, routing, OPTIONS
    if bearer_token() is None and request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()  # a bearer token authenticates alone, without a cookie to forge
    if request.endpoint in ("auth.setup", "static") or _has_users():
        return None
    return redirect(url_for("auth.setup"))


def _has_users() -> bool:
    if current_app.extensions.get("annotator.has_users"):
        return True
    found = db.session.scalar(select(User.id).limit(1)) is not None
    current_app.extensions["annotator.has_users"] = found
    return found


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first admin; gone (404) once any user exists."""
    if _has_users():
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        user = create_user(db.session, form.username.data, form.password.data, "admin")
        current_app.extensions["annotator.has_users"] = True
        login_user(user)
        flash(_("Welcome! You are the admin. Import articles or load the demo to begin."))
        return redirect(url_for("annotate.projects"))
    return render_template("auth/setup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        username, remote = form.username.data, request.remote_addr or "?"
        if _too_many_failures(username, remote):
            flash(_("Too many failed sign-ins. Wait 15 minutes and try again."), "error")
            return render_template("auth/login.html", form=form), 429
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None or not check_password(user.password_hash, form.password.data):
            db.session.add(LoginFailure(username=username[:64], remote_addr=remote[:64]))
            db.session.commit()
            flash(_("Wrong username or password."), "error")
        elif not user.active:
            flash(_("This account is deactivated. Ask an admin."), "error")
        else:
            db.session.execute(delete(LoginFailure).where(LoginFailure.username == username))
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next() or url_for("annotate.projects"))
    return render_template("auth/login.html", form=form)


def _too_many_failures(username: str, remote: str) -> bool:
    recent = select(func.count(LoginFailure.id)).where(LoginFailure.at > utcnow() - THROTTLE_WINDOW)
    by_name = db.session.scalar(recent.where(LoginFailure.username == username))
    by_address = db.session.scalar(recent.where(LoginFailure.remote_addr == remote))
    return by_name >= THROTTLE_MAX_PER_USERNAME or by_address >= THROTTLE_MAX_PER_ADDRESS


def _safe_next() -> str | None:
    """Only a local path may be a redirect target."""
    return local_path(request.args.get("next", ""))


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    return redirect(url_for("auth.login"))

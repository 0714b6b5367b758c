"""Sign-in: login, logout, first-run setup, bearer tokens, role decorators, throttling."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import wraps

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import bindparam, select

from .database import Prepared, reads_first, request_connection
from .extensions import db
from .forms import LoginForm, SetupForm
from .models import ApiToken, User
from .security import check_password, hash_token
from .services import members, throttle
from .services.messages import N_
from .services.users import create_user
from .web import local_path

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()  # bound to the app with the pages (pages.py), as is sign-in
login_manager = LoginManager()


def wants_json() -> bool:
    return request.path.startswith("/api/")


def bearer_token(of=request) -> str | None:
    """The bearer token the request (`of`, else the current one) sends, or None."""
    scheme, _, token = of.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class Sessions(SecureCookieSessionInterface):
    """The signed-cookie session, except for a bearer-token API request: authenticated by
    its token alone, it gets an empty read-only session (no cookie read, checked or set)."""

    def open_session(self, app, request):
        if request.path.startswith("/api/") and bearer_token(request) is not None:
            return self.make_null_session(app)
        return super().open_session(app, request)


@bp.record_once
def _use_sessions(state) -> None:
    state.app.session_interface = Sessions()


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Session and remember-me cookies name the user and their session generation: bumping
    it (User.end_sessions) signs them out everywhere, with no query more per request."""
    if bearer_token() is not None:  # a token request is authenticated by its token alone
        return None
    user_id, _, generation = session_id.partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or str(user.session_generation) != generation:
        return None
    return user


@dataclass(frozen=True)
class TokenUser(UserMixin):
    """The caller of a bearer-token request, as the API reads them: their id and role, one
    Core row instead of a User loaded through the ORM on every request."""

    id: int
    username: str
    role: str
    active: bool

    is_admin = User.is_admin
    can_adjudicate = User.can_adjudicate
    is_active = property(lambda self: self.active)


@login_manager.request_loader
def load_user_from_token(_request) -> TokenUser | None:
    token = bearer_token()
    if not token or not request.path.startswith("/api/"):
        return None
    return _token_user(token)


def _token_user(token: str) -> TokenUser | None:
    """The active user of an API token, or None."""
    rows = _USER_OF_TOKEN.run(request_connection(),
                              {"token_hash": hash_token(token)}).fetchall()
    if not rows or not rows[0][3]:  # no such token, or its user is deactivated
        return None
    user_id, username, role, _active = rows[0]
    return TokenUser(user_id, username, role, True)


_USER_OF_TOKEN = Prepared(select(User.id, User.username, User.role, User.active)
                          .join(ApiToken, ApiToken.user_id == User.id)
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
            user = current_user._get_current_object()  # once: each use of the proxy looks it up
            if not user.is_authenticated:
                return login_manager.unauthorized()
            if not check(user):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


login_required = role_required(lambda user: True)
admin_required = role_required(lambda user: user.is_admin)
reviewer_required = role_required(lambda user: user.can_adjudicate)


@bp.before_app_request
def protect_and_set_up():
    """Sign-in (a token request's user from its token at once: Flask-Login's session and
    cookie checks, a session identifier hashed per request, have nothing to do for it); the
    API's 401 for a caller not signed in, before CSRF, routing or OPTIONS; CSRF for every
    cookie-authenticated state change; a fresh install sent to setup; then the membership
    check. One hook for all of it: every request runs it."""
    api, token = request.path.startswith("/api/"), bearer_token()
    user = None
    if api:
        if token is not None and "_login_user" not in g:
            g._login_user = _token_user(token) or login_manager.anonymous_user()
        user = current_user._get_current_object()  # once: each use of the proxy looks it up
        if not user.is_authenticated:
            abort(401)
    if token is None and request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()  # a bearer token authenticates alone, without a cookie to forge
    if request.endpoint not in ("auth.setup", "static") and not _has_users():
        return redirect(url_for("auth.setup"))
    check_membership(user or current_user._get_current_object())
    return None


def check_membership(user) -> None:
    """403 for a route that names a project, article or paragraph (routing arguments) of a
    members-only project the signed-in caller is not a member of: one place for every
    page and API route, run after authentication and before the view."""
    if not user.is_authenticated or user.is_admin or not request.view_args:
        return
    for argument in members.ARGUMENTS:
        value = request.view_args.get(argument)
        if value is not None and not members.may_reach(request_connection(), user, argument,
                                                       value):
            abort(403, N_("You are not a member of this project: ask an admin to add you."))


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
        _start_new_session()
        login_user(user)
        flash(_("Welcome! You are the admin. Import articles or load the demo to begin."))
        return redirect(url_for("annotate.projects"))
    return render_template("auth/setup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@reads_first
def login():
    """Sign in. Each attempt is throttled before its password is checked (see
    services/throttle.py), and every attempt checks one hash, known username or not."""
    form = LoginForm()
    if form.validate_on_submit():
        username, remote = form.username.data, request.remote_addr or "?"
        wait = throttle.take_attempt(db.session, remote, username)
        if wait:
            flash(_("Too many failed sign-ins. Try again in %(wait)s.",
                    wait=format_timedelta(wait, threshold=1)), "error")
            seconds = math.ceil(wait.total_seconds())
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(seconds)}
        user = db.session.scalar(select(User).where(User.username == username))
        if not check_password(user.password_hash if user else None, form.password.data):
            flash(_("Wrong username or password."), "error")
        elif not user.active:
            flash(_("This account is deactivated. Ask an admin."), "error")
        else:
            throttle.forgive(db.session, remote, username)
            _start_new_session()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next() or url_for("annotate.projects"))
    return render_template("auth/login.html", form=form)


def _start_new_session() -> None:
    """Sign in on a new, empty session with a new CSRF secret: nothing set before sign-in
    (by an attacker who planted the cookie, say) survives it."""
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _safe_next() -> str | None:
    """Only a local path may be a redirect target."""
    return local_path(request.args.get("next", ""))


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out everywhere: this and every other session and remember-me cookie of the user
    stop working, copies included."""
    if current_user.is_authenticated:
        current_user.end_sessions()
        db.session.commit()
    session.clear()
    logout_user()  # after the clear: it marks the remember-me cookie for deletion
    return redirect(url_for("auth.login"))

"""The UI language: English or Simplified Chinese, from the browser, switchable, remembered."""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l

from .web import local_path

LANGUAGES = {"en": "English", "zh": "简体中文"}
COOKIE = "lang"

# Words the templates translate at run time, `_(current_user.role)` and `_(role)`: marked here
# so that `pybabel extract` (babel.cfg) puts them in the catalog. Keys are the stored values.
ROLE_NAMES = {"admin": _l("admin"), "reviewer": _l("reviewer"), "annotator": _l("annotator")}
STATUS_NAMES = {"active": _l("active"), "deactivated": _l("deactivated")}

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The language cookie if set, else the best match for Accept-Language, else English."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default="en")


@bp.post("/language")
def set_language():
    """Switch the UI language and remember it for a year."""
    language = request.form.get("language", "en")
    target = local_path(request.form.get("next", "")) or url_for("annotate.projects")
    response = redirect(target)
    if language in LANGUAGES:
        response.set_cookie(COOKIE, language, max_age=365 * 24 * 3600, samesite="Lax",
                            httponly=True, secure=request.is_secure)
    return response


@bp.app_context_processor
def language_choices() -> dict:
    return {"LANGUAGES": LANGUAGES, "get_locale": get_locale}

"""The UI language: English or Simplified Chinese, from the browser, switchable, remembered."""
from __future__ import annotations

from flask import Blueprint, has_request_context, redirect, request, url_for
from flask_babel import Babel, get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l

from .services.messages import Text
from .web import local_path

LANGUAGES = {"en": "English", "zh": "简体中文"}
COOKIE = "lang"

# Words the templates translate at run time, `_(current_user.role)` and `_(role)`: marked here
# so that `pybabel extract` (babel.cfg) puts them in the catalog. Keys are the stored values.
ROLE_NAMES = {"admin": _l("admin"), "reviewer": _l("reviewer"), "annotator": _l("annotator")}
STATUS_NAMES = {"active": _l("active"), "deactivated": _l("deactivated")}

# The default label set (models.DEFAULT_LABELS) is stored in English, like every label: its
# names and descriptions are shown in the UI's language while they are still the defaults
# (`label_text`); a name or description an admin wrote is shown as written.
DEFAULT_LABEL_TEXTS = {
    "Claim": _l("Claim"), "Evidence": _l("Evidence"), "Ads/Boilerplate": _l("Ads/Boilerplate"),
    "Other": _l("Other"),
    "States a position the article argues for.": _l("States a position the article argues for."),
    "Gives facts, data or sources that support a claim.":
        _l("Gives facts, data or sources that support a claim."),
    "Site furniture: navigation, teasers, related links, promos, comments, copyright.":
        _l("Site furniture: navigation, teasers, related links, promos, comments, copyright."),
    "Body text that is neither claim nor evidence.": _l("Body text that is neither claim nor evidence."),
}

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The language cookie if set, else the best match for Accept-Language, else English."""
    if not has_request_context():
        return "en"  # the CLI, and services run outside a request
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


@bp.app_template_filter("label_text")
def label_text(text: str | None) -> str | None:
    """A label's name or description as shown: a default one in the UI's language."""
    found = DEFAULT_LABEL_TEXTS.get(text or "")
    return str(found) if found is not None else text


@bp.app_template_filter("translated")
def translated(text: object) -> object:
    """A service's message (services.messages.Text) in the UI's language, for a browser user;
    anything else as it is."""
    if not isinstance(text, Text):
        return text
    text = text.web or text
    values = {name: translated(value) for name, value in text.values.items()}
    if text.plural is not None:
        return ngettext(text.template, text.plural, **values)
    return gettext(text.template, **values)

"""The UI language: English or Simplified Chinese, from the browser, switchable, remembered."""
from __future__ import annotations

import re

from babel.lists import format_list
from flask import Blueprint, has_request_context, redirect, request, url_for
from flask_babel import Babel, get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l

from .services.messages import N_, Text
from .web import local_path

LANGUAGES = {"en": "English", "zh": "简体中文"}
COOKIE = "lang"

# Words the templates translate at run time, `_(current_user.role)` and `_(role)`: marked here
# so that `pybabel extract` (babel.cfg) puts them in the catalog. Keys are the stored values.
ROLE_NAMES = {"admin": _l("admin"), "reviewer": _l("reviewer"), "annotator": _l("annotator")}
STATUS_NAMES = {"active": _l("active"), "deactivated": _l("deactivated")}

# The default label set (models.DEFAULT_LABELS; the span labels and relations too) is stored
# in English, like every label: its names and descriptions are shown in the UI's language while they are still the defaults
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
    "Supports": _l("Supports"), "Attacks": _l("Attacks"),  # the default relations (links)
}

# The app's own suggestion reasons (suggest/signals.py, suggest/training.py) are stored in
# English, as a model's reasons sent through the API are: shown translated when they have one
# of these forms (`reason_text`), else as they are.
SHAPE_PHRASES = {  # signals.PHRASES and signals.CONTEXT_PHRASES
    "short line": _l("short line"), "no sentence punctuation": _l("no sentence punctuation"),
    "list item": _l("list item"), "a label and a colon first": _l("a label and a colon first"),
    "holds a link address": _l("holds a link address"), "a date line": _l("a date line"),
    "copyright line": _l("copyright line"), "separated like a menu": _l("separated like a menu"),
    "mostly numbers": _l("mostly numbers"),
    "title-case words like a menu": _l("title-case words like a menu"),
    "near the end": _l("near the end"), "outside the article's text": _l("outside the article's text"),
    "link text": _l("link text"), "a link": _l("a link"),
    "in a navigation block": _l("in a navigation block"), "in a page header": _l("in a page header"),
    "in a footer": _l("in a footer"), "in a sidebar": _l("in a sidebar"), "in a form": _l("in a form"),
    "in a block named like furniture": _l("in a block named like furniture"),
    "outside the article text readability finds": _l("outside the article text readability finds"),
    "in a list": _l("in a list"), "in a layout table": _l("in a layout table"),
    "a figure's caption": _l("a figure's caption"),
    "in a block named like a caption": _l("in a block named like a caption"),
    # signals.CONTEXT_PHRASES
    "beside other furniture": _l("beside other furniture"),
    "after the article's text": _l("after the article's text"),
    "before the article's text": _l("before the article's text"),
}
_LINK_SHARE = re.compile(r"(\d+)% link text")
_BLOCK_NAMED = re.compile(r"in a block named (.+)")
_REASONS = [  # pattern, message: the groups fill the message's placeholders
    (re.compile(r"same text on (?P<count>\d+) pages of (?P<site>.+)"),
     N_("same text on %(count)s pages of %(site)s")),
    (re.compile(r"title of another article: (?P<title>.+)"),
     N_("title of another article: %(title)s")),
    (re.compile(r"model trained on (?P<count>\d+) labels: (?P<confidence>[\d.]+)"),
     N_("model trained on %(count)s labels: %(confidence)s")),
    (re.compile(r"labeled (?P<label>\S+) on another page of (?P<site>.+)"),
     N_("labeled %(label)s on another page of %(site)s")),
]

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


def reason_text(reason: str) -> str:
    """A suggestion's reason as shown: the app's own kinds of reason in the UI's language."""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return reason
    if reason == "page shape":
        return gettext("page shape")
    if reason.startswith("page shape: "):
        phrases = [_shape_phrase(phrase) for phrase in reason.removeprefix("page shape: ").split(", ")]
        if None in phrases:
            return reason
        return gettext("page shape: %(phrases)s", phrases=format_list(phrases, locale=locale))
    for pattern, message in _REASONS:
        found = pattern.fullmatch(reason)
        if found:
            values = found.groupdict()
            if values.get("site") == "this project":
                values["site"] = gettext("this project")
            return gettext(message, **values)
    return reason


def _shape_phrase(phrase: str) -> str | None:
    if phrase in SHAPE_PHRASES:
        return str(SHAPE_PHRASES[phrase])
    share = _LINK_SHARE.fullmatch(phrase)
    if share:
        return gettext("%(percent)s%% link text", percent=share.group(1))
    named = _BLOCK_NAMED.fullmatch(phrase)
    return gettext("in a block named %(words)s", words=named.group(1)) if named else None

"""WTForms classes for the pages; every form carries its CSRF token."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, FloatField, IntegerField, PasswordField, SelectChoice,
                     SelectField, StringField, TextAreaField)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, ValidationError

from .i18n import ROLE_NAMES, translated
from .services.users import MIN_PASSWORD_LENGTH, UserError, check_username


def _choices(names: dict) -> list[SelectChoice]:
    """A select's options from {value: label}."""
    return [SelectChoice(value, label) for value, label in names.items()]


def _valid_username(_form, field) -> None:
    try:
        check_username(field.data or "")
    except UserError as error:
        raise ValidationError(translated(error.args[0])) from None


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me signed in"))


class NewPasswordMixin:
    password = PasswordField(_l("Password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)])
    confirm = PasswordField(_l("Repeat password"), validators=[
        EqualTo("password", message=_l("The passwords differ."))])


class SetupForm(NewPasswordMixin, FlaskForm):
    """Creates the first admin on a fresh install."""

    username = StringField(_l("Admin username"), validators=[DataRequired(), _valid_username])


class UserForm(NewPasswordMixin, FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), _valid_username])
    role = SelectField(_l("Role"), choices=_choices(ROLE_NAMES), default="annotator")


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    pass


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=_choices(ROLE_NAMES))


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[Length(max=100)])


class ActionForm(FlaskForm):
    """No fields: gives POST-only buttons their CSRF token."""


class ProjectForm(FlaskForm):
    description = TextAreaField(_l("Description"), validators=[Length(max=10_000)])
    guidelines = TextAreaField(_l("Guidelines (Markdown)"), validators=[Length(max=200_000)])
    overlap = IntegerField(_l("Annotators per article"), default=1,
                           validators=[NumberRange(min=1, max=50)])
    suggestions_enabled = BooleanField(_l("Suggestions on"), default=True)
    suggestion_threshold = FloatField(_l("Show suggestions from confidence"), default=0.8,
                                      validators=[NumberRange(min=0, max=1)])
    members_only = BooleanField(_l("Only the members chosen below work on it"), default=False)


class ImportForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired()])
    fmt = SelectField(_l("Format"), default="auto", choices=_choices(
        {"auto": _l("by extension"), "jsonl": "jsonl", "txt": "txt", "md": "md", "html": "html",
         "warc": "warc"}))
    split = SelectField(_l("txt paragraphs"), default="line", choices=_choices(
        {"line": _l("one per line"), "blank": _l("separated by blank lines")}))
    encoding = StringField(_l("Encoding"), validators=[Length(max=40)])
    skip_invalid = BooleanField(_l("Skip invalid records"))
    background = BooleanField(_l("Import in the background"))


class AssignForm(FlaskForm):
    """Pin articles first..last (positions in import order) to an annotator."""

    username = SelectField(_l("Annotator"), choices=[])
    first = IntegerField(_l("From article #"), default=1, validators=[NumberRange(min=1)])
    last = IntegerField(_l("to article #"), default=10, validators=[NumberRange(min=1)])

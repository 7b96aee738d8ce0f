"""Flask-WTF forms of the admin area; labels and messages go through Babel (lazy, so per request).

WTForms ships no Vietnamese catalog, so every form here uses ``Form``: its ``Meta`` hands WTForms
our own translations, and the built-in messages the fields below can produce are listed in
``WTFORMS_MESSAGES`` so they are extracted into the admin catalog and translated there.
"""

from __future__ import annotations

import re

from flask import request
from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from core.models import ROLES, SCALES, UNIT_LEVELS
from core.services.accounts.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from core.services.org.structure import SETTING_BOUNDS, WEEKDAYS, CounterSettings

WTFORMS_MESSAGES = (
    _l("This field is required."),
    _l("Not a valid integer value."),
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
    _l("Not a valid date value."),
    _l("Number must be between %(min)s and %(max)s."),
    _l("Invalid input."),
    _l("Invalid email address."),
    _l("Field must be equal to %(other_name)s."),
)

CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_MESSAGE = _l("Control characters (such as NUL) are not allowed here.")
SUBMIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # as Flask-WTF's is_submitted


class _Translations:
    """WTForms' messages looked up in our catalogs (current request's language)."""

    def gettext(self, string: str) -> str:
        return get_translations().gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ngettext(singular, plural, n)


class Form(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return _Translations()

        def wrap_formdata(self, form, formdata):
            # HTML forms only. Flask-WTF would also read a JSON body, and a JSON string or
            # array (or an object of lists) then broke the form with a 500; a JSON body is an
            # empty form here, refused with each field's "required" message.
            if (not hasattr(formdata, "getlist") and request.is_json
                    and not (request.form or request.files)):
                return ImmutableMultiDict() if request.method in SUBMIT_METHODS else None
            return super().wrap_formdata(form, formdata)

    def validate(self, extra_validators=None) -> bool:
        """Each field's validators, then no control characters in any text.

        NUL cannot be stored in (or even compared with) a PostgreSQL text column: a NUL in a
        name or a search box was a 500 there. Tabs and line breaks stay allowed.
        """
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and CONTROL_RE.search(field.data):
                field.errors = [*field.errors, CONTROL_MESSAGE]
                valid = False
        return valid


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select options."""
    return [SelectChoice(value, label) for value, label in pairs]


def _length(maximum: int, minimum: int = 0) -> Length:
    if minimum:
        return Length(min=minimum, max=maximum,
                      message=_l("Between %(min)d and %(max)d characters."))
    return Length(max=maximum, message=_l("At most %(max)d characters."))


CODE = Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
              message=_l("Letters, digits, dots, dashes or underscores only, no spaces."))
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Invalid email address."))
ROLE_LABELS = {"admin": _l("System administrator"), "manager": _l("Unit manager"),
               "viewer": _l("Viewer")}
LEVEL_LABELS = {
    "province": _l("Province"),
    "department": _l("Department"),
    "district": _l("District"),
    "commune": _l("Commune"),
    "service_centre": _l("Public service centre"),
}
DAY_LABELS = {
    "mon": _l("Monday"), "tue": _l("Tuesday"), "wed": _l("Wednesday"), "thu": _l("Thursday"),
    "fri": _l("Friday"), "sat": _l("Saturday"), "sun": _l("Sunday"),
}


class LoginForm(Form):
    username = StringField(_l("Username"), validators=[DataRequired(), _length(80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), _length(200)])
    submit = SubmitField(_l("Sign in"))


class ChangePasswordForm(Form):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), _length(200)])
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(), _length(MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH)],
        description=_l("At least %(n)d characters, not your username.", n=MIN_PASSWORD_LENGTH),
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))],
    )
    submit = SubmitField(_l("Change password"))


class ConfirmForm(Form):
    """A button that changes something (disable, deactivate ...): only the CSRF token."""

    submit = SubmitField(_l("Confirm"))


class UserForm(Form):
    username = StringField(_l("Username"), validators=[DataRequired(), _length(80), CODE])
    full_name = StringField(_l("Full name"), validators=[Optional(), _length(200)])
    email = StringField(_l("Email"), validators=[Optional(), _length(200), EMAIL])
    role = SelectField(_l("Role"), choices=options((r, ROLE_LABELS[r]) for r in ROLES))
    unit_id = SelectField(_l("Unit"), coerce=int, validate_choice=True)
    password = PasswordField(
        _l("Temporary password"),
        validators=[DataRequired(), _length(MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH)],
        description=_l("The user must choose a new password at the first sign-in."),
    )
    submit = SubmitField(_l("Save"))


class EditUserForm(Form):
    full_name = StringField(_l("Full name"), validators=[Optional(), _length(200)])
    email = StringField(_l("Email"), validators=[Optional(), _length(200), EMAIL])
    role = SelectField(_l("Role"), choices=options((r, ROLE_LABELS[r]) for r in ROLES))
    unit_id = SelectField(_l("Unit"), coerce=int, validate_choice=True)
    submit = SubmitField(_l("Save"))


class ResetPasswordForm(Form):
    password = PasswordField(
        _l("Temporary password"),
        validators=[DataRequired(), _length(MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH)],
        description=_l("The user must choose a new password at the next sign-in."),
    )
    submit = SubmitField(_l("Reset password"))


class UnitForm(Form):
    code = StringField(_l("Code"), validators=[DataRequired(), _length(40), CODE])
    name = StringField(_l("Name"), validators=[DataRequired(), _length(200)])
    level = SelectField(_l("Level"), choices=options((lv, LEVEL_LABELS[lv]) for lv in UNIT_LEVELS))
    submit = SubmitField(_l("Save"))


class NewUnitForm(UnitForm):
    parent_id = SelectField(_l("Parent unit"), coerce=int, validate_choice=True)


class MoveUnitForm(Form):
    parent_id = SelectField(_l("New parent unit"), coerce=int, validate_choice=True)
    submit = SubmitField(_l("Move"))


class HoursForm(Form):
    """One text box per weekday: "07:30-11:30, 13:30-17:00"; empty means closed."""

    submit = SubmitField(_l("Save opening hours"))


for _day in WEEKDAYS:
    setattr(HoursForm, _day, StringField(DAY_LABELS[_day], validators=[Optional(), _length(100)]))


DEFAULTS = CounterSettings()


def _seconds(label, name: str, description) -> IntegerField:
    low, high = SETTING_BOUNDS[name]
    return IntegerField(label, validators=[InputRequired(), NumberRange(min=low, max=high)],
                        description=description, default=getattr(DEFAULTS, name))


class CounterForm(Form):
    code = StringField(_l("Code"), validators=[DataRequired(), _length(40), CODE])
    name = StringField(_l("Name"), validators=[DataRequired(), _length(200)])
    active = BooleanField(_l("In use"), default=True)
    scale = SelectField(_l("Rating scale"), coerce=int, default=DEFAULTS.scale,
                        choices=options((s, _l("%(n)d levels", n=s)) for s in SCALES))
    min_interval_s = _seconds(_l("Minimum seconds between two ratings"), "min_interval_s",
                              _l("Taps closer together are kept but flagged as too fast."))
    require_transaction = BooleanField(
        _l("Require a transaction"),
        description=_l("A rating counts only after the counter's software announces a dossier."),
    )
    idle_timeout_s = _seconds(_l("Seconds before the kiosk returns to the start"),
                              "idle_timeout_s", None)
    followup_timeout_s = _seconds(_l("Seconds to answer the follow-up question"),
                                  "followup_timeout_s", None)
    submit = SubmitField(_l("Save"))


class OfficerForm(Form):
    code = StringField(_l("Officer code"), validators=[DataRequired(), _length(40), CODE])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), _length(200)])
    counter_id = SelectField(_l("Counter"), coerce=int, validate_choice=True)
    active = BooleanField(_l("In service"), default=True)
    pin = PasswordField(
        _l("Kiosk PIN"),
        validators=[Optional(), Regexp(r"^[0-9]{4,8}$", message=_l("4 to 8 digits."))],
        description=_l(
            "4 to 8 digits. Stored only as a hash; leave empty to keep the current PIN."
        ),
    )
    submit = SubmitField(_l("Save"))


class FieldForm(Form):
    code = StringField(_l("Code"), validators=[DataRequired(), _length(60)])
    name = StringField(_l("Name"), validators=[DataRequired(), _length(300)])
    submit = SubmitField(_l("Save"))


class ProcedureForm(Form):
    code = StringField(_l("Code"), validators=[DataRequired(), _length(60)])
    name = StringField(_l("Name"), validators=[DataRequired(), _length(500)])
    field_id = SelectField(_l("Field"), coerce=int, validate_choice=True)
    active = BooleanField(_l("In use"), default=True)
    submit = SubmitField(_l("Save"))


class ImportForm(Form):
    kind = SelectField(_l("What the file contains"),
                       choices=options([("procedures", _l("Procedures")),
                                        ("fields", _l("Fields"))]))
    file = FileField(_l("CSV file (UTF-8)"), validators=[FileRequired(_l("Choose a file."))])
    submit = SubmitField(_l("Check and import"))


class AuditSearchForm(Form):
    """GET search form: no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

        def get_translations(self, form):
            return _Translations()

    action = StringField(_l("Action"), validators=[Optional(), _length(60)])
    username = StringField(_l("User"), validators=[Optional(), _length(80)])
    unit_id = SelectField(_l("Unit"), coerce=int, validate_choice=True)
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    after = HiddenField()


class PolicyForm(Form):
    enabled = HiddenField(validators=[DataRequired(), Regexp(r"^[01]$")])
    submit = SubmitField(_l("Confirm"))

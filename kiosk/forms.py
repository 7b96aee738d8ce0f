"""Kiosk forms (Flask-WTF: CSRF and field checks); labels and messages in the kiosk domain."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import DataRequired, Length


class EnrollForm(FlaskForm):
    """The technician's setup page: where the aggregator is and the one-time code from its admin."""

    server = StringField(_l("Aggregator address"), validators=[
        DataRequired(_l("Enter the aggregator's address.")),
        Length(max=300, message=_l("The address is too long (at most 300 characters)."))])
    code = StringField(_l("One-time enrollment code"), validators=[
        DataRequired(_l("Enter the enrollment code.")),
        Length(max=40, message=_l("The code is too long (at most 40 characters)."))])
    replace = BooleanField(_l("Replace this kiosk's current enrollment"))
    submit = SubmitField(_l("Enroll this kiosk"))

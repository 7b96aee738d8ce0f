"""Officers of a unit (and of each counter), with the kiosk sign-in PIN stored only hashed."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import Forbidden, NotFound

from admin._common import INVALID, actor, after_arg
from admin.auth import role_required
from admin.forms import OfficerForm
from admin.words import say
from core.models import Unit
from core.routing import parse_id
from core.services.errors import ServiceError
from core.services.org import scope, structure

bp = Blueprint("admin_officers", __name__, url_prefix="/admin")
NO_COUNTER = 0


def _counter_choices(unit: Unit) -> list[tuple[int, str]]:
    return [(NO_COUNTER, _("— no fixed counter —")), *structure.counter_choices(unit)]


def _counter(form: OfficerForm) -> int | None:
    return None if form.counter_id.data in (None, NO_COUNTER) else form.counter_id.data


@bp.get("/units/<int:unit_id>/officers")
@role_required("admin", "manager")
def index(unit_id: int):
    """A unit's officers by code, optionally only those of one counter (``?counter=``)."""
    who = actor()
    unit = scope.get_unit(who, unit_id)
    counter_id = parse_id(request.args.get("counter"))
    counter = scope.get_counter(who, counter_id) if counter_id is not None else None
    try:
        page = structure.list_officers(who, unit.id, counter.id if counter else None,
                                 after=after_arg())
    except ServiceError:
        # A counter of another (visible) unit in the URL: the same answer as a missing one.
        raise NotFound() from None
    return render_template("admin/officers/index.html", unit=unit, counter=counter, page=page,
                           manage=scope.may_manage(who, unit))


@bp.route("/units/<int:unit_id>/officers/new", methods=["GET", "POST"])
@role_required("admin", "manager")
def new(unit_id: int):
    """Add an officer; the PIN is hashed at once and never shown again."""
    who = actor()
    unit = scope.get_unit(who, unit_id)
    if not scope.may_manage(who, unit):
        raise Forbidden()
    form = OfficerForm()
    form.counter_id.choices = _counter_choices(unit)
    if request.method == "GET" and parse_id(request.args.get("counter")) is not None:
        form.counter_id.data = parse_id(request.args.get("counter"))
    if form.validate_on_submit():
        try:
            officer = structure.create_officer(who, unit.id, form.code.data or "",
                                         form.full_name.data or "", _counter(form),
                                         form.pin.data or None)
        except ServiceError as exc:
            form.form_errors.append(say(exc))
        else:
            flash(_("Officer %(code)s added.", code=officer.code), "success")
            return redirect(url_for(".index", unit_id=unit.id))
    status = INVALID if form.errors or form.form_errors else 200
    return render_template("admin/officers/form.html", form=form, unit=unit, officer=None), status


@bp.route("/officers/<int:officer_id>", methods=["GET", "POST"])
@role_required("admin", "manager")
def edit(officer_id: int):
    """Change an officer's name, counter, status or PIN (an empty PIN keeps the current one)."""
    who = actor()
    officer = scope.get_officer(who, officer_id)
    if not scope.may_manage(who, officer.unit):
        raise Forbidden()
    form = OfficerForm(obj=officer)
    del form.code  # the code identifies the officer in ratings; it is not changed here
    form.counter_id.choices = _counter_choices(officer.unit)
    if not form.is_submitted():
        form.counter_id.data = officer.counter_id or NO_COUNTER
        form.pin.data = ""
    if form.validate_on_submit():
        try:
            structure.update_officer(who, officer.id, form.full_name.data or "", _counter(form),
                               bool(form.active.data), form.pin.data or None)
        except ServiceError as exc:
            form.form_errors.append(say(exc))
        else:
            flash(_("Officer %(code)s saved.", code=officer.code), "success")
            return redirect(url_for(".index", unit_id=officer.unit_id))
    status = INVALID if form.errors or form.form_errors else 200
    return render_template("admin/officers/form.html", form=form, unit=officer.unit,
                           officer=officer), status

"""Units as a tree: list, create, rename, move, deactivate, opening hours."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import Forbidden

from admin._common import INVALID, actor, after_arg
from admin.auth import login_required
from admin.forms import DAY_LABELS, LEVEL_LABELS, HoursForm, MoveUnitForm, NewUnitForm, UnitForm
from admin.words import say
from core.models import Unit, User
from core.routing import parse_id
from core.services.errors import ServiceError
from core.services.org import scope, structure

bp = Blueprint("admin_units", __name__, url_prefix="/admin/units")
ROOT = 0  # the "no parent" choice (system administrators only)


def _parent_choices(who: User, exclude: Unit | None = None) -> list[tuple[int, str]]:
    choices = structure.unit_choices(who, exclude=exclude)
    if who.role == "admin":
        choices = [(ROOT, _("— top level —")), *choices]
    return choices


@bp.get("/")
@login_required
def index():
    """The units the user may see, as an indented tree."""
    who = actor()
    page = structure.list_units(who, after=after_arg())
    return render_template("admin/units/index.html", page=page, who=who, depth=structure.depth,
                           levels=LEVEL_LABELS, may_manage=scope.may_manage)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Create a unit under one of the user's units."""
    who = actor()
    if who.role == "viewer":
        raise Forbidden()
    form = NewUnitForm()
    form.parent_id.choices = _parent_choices(who)
    if request.method == "GET" and parse_id(request.args.get("parent")) is not None:
        form.parent_id.data = parse_id(request.args.get("parent"))
    if form.validate_on_submit():
        parent = None if form.parent_id.data == ROOT else form.parent_id.data
        try:
            unit = structure.create_unit(who, form.code.data or "", form.name.data or "",
                                   form.level.data, parent)
        except ServiceError as exc:
            form.form_errors.append(say(exc))
        else:
            flash(_("Unit %(name)s created.", name=unit.name), "success")
            return redirect(url_for(".show", unit_id=unit.id))
    status = INVALID if form.errors or form.form_errors else 200
    return render_template("admin/units/new.html", form=form), status


def _page(who: User, unit: Unit, form=None, move=None, status: int = 200):
    manage = scope.may_manage(who, unit)
    top = who.role != "admin" and unit.id == who.unit_id
    if form is None:
        form = UnitForm(formdata=None, obj=unit)
    if move is None:
        move = MoveUnitForm(formdata=None)
        move.parent_id.choices = _parent_choices(who, exclude=unit)
        move.parent_id.data = unit.parent_id or ROOT
    counters = structure.list_counters(who, unit.id, after=after_arg())
    hours = [(day, DAY_LABELS[day], structure.format_hours((unit.opening_hours or {}).get(day)))
             for day in structure.WEEKDAYS]
    return render_template(
        "admin/units/show.html", unit=unit, form=form, move=move, manage=manage, top=top,
        counters=counters, hours=hours, levels=LEVEL_LABELS, who=who,
        may_see_officers=scope.may_see_officers(who),
    ), status


@bp.get("/<int:unit_id>")
@login_required
def show(unit_id: int):
    """A unit: its details, counters, opening hours and (for managers) the changes allowed."""
    who = actor()
    return _page(who, scope.get_unit(who, unit_id))


@bp.post("/<int:unit_id>")
@login_required
def update(unit_id: int):
    """Rename a unit (code, name, level)."""
    who = actor()
    unit = scope.get_unit(who, unit_id)
    form = UnitForm()
    if form.validate_on_submit():
        try:
            structure.update_unit(who, unit.id, form.code.data or "", form.name.data or "",
                            form.level.data)
        except ServiceError as exc:
            form.form_errors.append(say(exc))
        else:
            flash(_("Unit saved."), "success")
            return redirect(url_for(".show", unit_id=unit.id))
    return _page(who, unit, form=form, status=INVALID)


@bp.post("/<int:unit_id>/move")
@login_required
def move(unit_id: int):
    """Put the unit (with everything below it) under another parent."""
    who = actor()
    unit = scope.get_unit(who, unit_id)
    form = MoveUnitForm()
    # Every unit the user sees is offered, so a refused target gets a reason, not "invalid".
    form.parent_id.choices = _parent_choices(who)
    if form.validate_on_submit():
        parent = None if form.parent_id.data == ROOT else form.parent_id.data
        try:
            structure.move_unit(who, unit.id, parent)
        except ServiceError as exc:
            form.parent_id.errors.append(say(exc))
        else:
            flash(_("Unit moved."), "success")
            return redirect(url_for(".show", unit_id=unit.id))
    return _page(who, unit, move=form, status=INVALID)


@bp.post("/<int:unit_id>/deactivate")
@login_required
def deactivate(unit_id: int):
    """Stop using a unit; its history stays and it can be reactivated."""
    who = actor()
    structure.set_unit_active(who, scope.get_unit(who, unit_id).id, False)
    flash(_("Unit deactivated. Its history is kept."), "success")
    return redirect(url_for(".show", unit_id=unit_id))


@bp.post("/<int:unit_id>/activate")
@login_required
def activate(unit_id: int):
    """Use a deactivated unit again."""
    who = actor()
    structure.set_unit_active(who, scope.get_unit(who, unit_id).id, True)
    flash(_("Unit reactivated."), "success")
    return redirect(url_for(".show", unit_id=unit_id))


@bp.route("/<int:unit_id>/hours", methods=["GET", "POST"])
@login_required
def hours(unit_id: int):
    """Opening hours per weekday (local time), used to flag kiosks silent while open."""
    who = actor()
    unit = scope.get_unit(who, unit_id)
    if not scope.may_manage(who, unit):
        raise Forbidden()
    form = HoursForm()
    if request.method == "GET":
        for day in structure.WEEKDAYS:
            getattr(form, day).data = structure.format_hours((unit.opening_hours or {}).get(day))
    elif form.validate_on_submit():
        days = {day: getattr(form, day).data or "" for day in structure.WEEKDAYS}
        problems = {}
        for day, text in days.items():
            try:
                structure.parse_hours(text)
            except ServiceError as exc:
                problems[day] = say(exc)
        for day, message in problems.items():
            getattr(form, day).errors.append(message)
        if not problems:
            structure.set_opening_hours(who, unit.id, days)
            flash(_("Opening hours saved."), "success")
            return redirect(url_for(".show", unit_id=unit.id))
    status = INVALID if form.errors else 200
    return render_template("admin/units/hours.html", form=form, unit=unit,
                           days=structure.WEEKDAYS), status

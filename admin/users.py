"""Account management: administrators manage everyone; managers manage viewers of their subtree."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import Forbidden

from admin._common import INVALID, actor, after_arg
from admin.auth import role_required
from admin.forms import ROLE_LABELS, ConfirmForm, EditUserForm, ResetPasswordForm, UserForm
from admin.words import input_of, say
from core.models import User
from core.services.accounts import users
from core.services.errors import ServiceError
from core.services.org.structure import unit_choices

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")
NO_UNIT = 0  # the "no unit" choice (system administrators only)


def _fill(form, who: User) -> None:
    form.role.choices = [(r, ROLE_LABELS[r]) for r in users.assignable_roles(who)]
    choices = unit_choices(who)
    if who.role == "admin":
        choices = [(NO_UNIT, _("— none (system administrators) —")), *choices]
    form.unit_id.choices = choices


def _unit(form) -> int | None:
    return None if form.unit_id.data in (None, NO_UNIT) else form.unit_id.data


def _report(form, exc: ServiceError) -> None:
    """Show a refused change next to the field it concerns (or above the form)."""
    name = input_of(exc)
    target = getattr(form, name, None) if name else None
    (target.errors if target is not None else form.form_errors).append(say(exc))


def _failed(form) -> bool:
    return bool(form.errors or form.form_errors)


@bp.get("/")
@role_required("admin", "manager")
def index():
    """Accounts the user may see (their subtree; everyone for administrators)."""
    who = actor()
    page = users.list_users(who, after=after_arg())
    return render_template("admin/users/index.html", page=page, who=who,
                           may_manage=users.may_manage_user, role_labels=ROLE_LABELS)


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin", "manager")
def new():
    """Create an account with a temporary password."""
    who = actor()
    form = UserForm()
    _fill(form, who)
    if form.validate_on_submit():
        try:
            user = users.create_account(
                who, form.username.data or "", form.password.data or "", form.role.data,
                _unit(form), form.full_name.data or "", form.email.data,
            )
        except ServiceError as exc:
            _report(form, exc)
        else:
            flash(_("Account %(name)s created.", name=user.username), "success")
            return redirect(url_for(".edit", user_id=user.id))
    status = INVALID if _failed(form) else 200
    return render_template("admin/users/new.html", form=form), status


def _edit_page(who: User, user: User, form=None, reset_form=None, status: int = 200):
    if form is None:
        form = EditUserForm(formdata=None, obj=user)
        _fill(form, who)
        form.unit_id.data = user.unit_id or NO_UNIT
    return render_template(
        "admin/users/edit.html", form=form, user=user,
        manageable=users.may_manage_user(who, user),
        reset_form=reset_form or ResetPasswordForm(formdata=None),
        confirm=ConfirmForm(formdata=None), role_labels=ROLE_LABELS,
    ), status


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@role_required("admin", "manager")
def edit(user_id: int):
    """Change role, unit, name; reset the password; disable or enable."""
    who = actor()
    user = users.get_user(who, user_id)
    if not users.may_manage_user(who, user):
        if request.method == "POST":
            raise Forbidden()
        return _edit_page(who, user)
    form = EditUserForm(obj=user)
    _fill(form, who)
    if form.validate_on_submit():
        try:
            users.update_account(who, user.id, form.role.data, _unit(form),
                                 form.full_name.data or "", form.email.data)
        except ServiceError as exc:
            _report(form, exc)
        else:
            flash(_("Account %(name)s saved.", name=user.username), "success")
            return redirect(url_for(".edit", user_id=user.id))
    if not form.is_submitted():
        form.unit_id.data = user.unit_id or NO_UNIT
    return _edit_page(who, user, form=form, status=INVALID if _failed(form) else 200)


@bp.post("/<int:user_id>/password")
@role_required("admin", "manager")
def reset(user_id: int):
    """Set a temporary password; the user must change it at the next sign-in."""
    who = actor()
    user = users.get_user(who, user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            users.reset_password(who, user.id, form.password.data or "")
        except ServiceError as exc:
            form.password.errors.append(say(exc))
        else:
            flash(_("The password of %(name)s was reset. They must change it when they sign in.",
                    name=user.username), "success")
            return redirect(url_for(".edit", user_id=user.id))
    return _edit_page(who, user, reset_form=form, status=INVALID)


@bp.post("/<int:user_id>/disable")
@role_required("admin", "manager")
def disable(user_id: int):
    """Disable an account: it cannot sign in and its open sessions end."""
    return _set_active(user_id, False)


@bp.post("/<int:user_id>/enable")
@role_required("admin", "manager")
def enable(user_id: int):
    """Enable a disabled account again."""
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool):
    who = actor()
    user = users.get_user(who, user_id)
    try:
        users.set_active(who, user.id, active)
    except ServiceError as exc:
        flash(say(exc), "error")
        return _edit_page(who, user, status=INVALID)
    flash(_("Account %(name)s enabled.", name=user.username) if active
          else _("Account %(name)s disabled.", name=user.username), "success")
    return redirect(url_for(".edit", user_id=user.id))

"""The signed-in user's own account: change the password (forced after a reset)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from admin._common import INVALID, actor
from admin.auth import login_required, start_session
from admin.forms import ChangePasswordForm
from admin.words import input_of, say
from core.services.accounts.users import change_own_password, password_problem
from core.services.errors import ServiceError

bp = Blueprint("admin_account", __name__, url_prefix="/admin/account")


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's password with the current one; other sessions of this user end."""
    user = actor()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        problem = password_problem(user.username, form.new.data or "", user.full_name or "")
        if problem:
            form.new.errors.append(say(problem))
        else:
            try:
                updated = change_own_password(user.id, form.current.data or "", form.new.data or "")
            except ServiceError as exc:
                # Returned, not raised: the audit entry of a wrong current password is kept.
                field = form.current if input_of(exc) == "current_password" else form.new
                field.errors.append(say(exc))
                if exc.code == "current_password.too_many_guesses":
                    return (render_template("admin/account/password.html", form=form, user=user),
                            429, {"Retry-After": str(exc.params["retry_after"])})
            else:
                start_session(updated)  # this session continues with the new password
                flash(_("Your password has been changed."), "success")
                return redirect(url_for("admin.home"))
    status = INVALID if form.errors else 200
    return render_template("admin/account/password.html", form=form, user=user), status

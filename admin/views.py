"""Signing in and out of the administration, and its start page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin.auth import current_user, end_session, login_required, start_session
from admin.forms import LoginForm
from core.i18n import safe_next
from core.services.accounts import signin

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static", static_url_path="/admin-static")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in page; a wrong username and a wrong password get the same answer."""
    form = LoginForm()
    if form.validate_on_submit():
        result = signin.authenticate(form.username.data or "", form.password.data or "")
        if result.user is not None:
            start_session(result.user)
            if result.user.must_change_password:
                return redirect(url_for("admin_account.password"))
            target = request.args.get("next")
            return redirect(safe_next(target) if target else url_for("admin.home"))
        if result.locked:
            minutes = max(1, -(-(result.retry_after or 60) // 60))
            flash(_("Too many failed sign-in attempts. Please wait %(n)d minutes and try again.",
                    n=minutes), "error")
            return (render_template("admin/login.html", form=form), 429,
                    {"Retry-After": str(result.retry_after)})
        flash(_("Wrong username or password."), "error")
        return render_template("admin/login.html", form=form), 401
    if request.method == "POST":
        return render_template("admin/login.html", form=form), 422
    return render_template("admin/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Sign out and forget the session."""
    user = current_user()
    if user is not None:
        signin.record_logout(user)
    end_session()
    flash(_("You have signed out."), "success")
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def home():
    """The start page after sign-in."""
    return render_template("admin/home.html", user=current_user())

"""Questionnaire versions: list, read each item in both languages, switch the policy module."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from admin._common import INVALID, actor, int_after_arg
from admin.auth import login_required, role_required
from admin.forms import PolicyForm
from core.questionnaire_definition import load_definition
from core.services.survey import questionnaires

bp = Blueprint("admin_questionnaires", __name__, url_prefix="/admin/questionnaires")


@bp.get("/")
@login_required
def index():
    """Every stored version, newest first, and the switch for the policy module."""
    page = questionnaires.list_versions(after=int_after_arg())
    current = questionnaires.active()
    return render_template("admin/questionnaires/index.html", page=page, current=current,
                           form=PolicyForm(formdata=None), who=actor())


@bp.get("/<int:questionnaire_id>")
@login_required
def show(questionnaire_id: int):
    """One version with each element, item, question and reason in Vietnamese and English."""
    row = questionnaires.get_version(questionnaire_id)
    return render_template("admin/questionnaires/show.html", row=row,
                           q=load_definition(row.definition))


@bp.post("/policy")
@role_required("admin")
def policy():
    """Switch the policy module on or off: stores a new version; old responses keep theirs."""
    form = PolicyForm()
    if not form.validate_on_submit():
        flash(_("The request could not be understood. Please check what you entered."), "error")
        page = questionnaires.list_versions()
        return render_template("admin/questionnaires/index.html", page=page,
                               current=questionnaires.active(), form=form, who=actor()), INVALID
    row = questionnaires.set_policy(actor(), form.enabled.data == "1")
    flash(_("Version %(n)d is now in use.", n=row.version), "success")
    return redirect(url_for(".index"))

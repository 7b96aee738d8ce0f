"""The audit log page (system administrators): search by action, user, unit and dates."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from admin._common import INVALID, actor, int_after_arg
from admin.auth import role_required
from admin.forms import AuditSearchForm
from core.routing import MAX_BIG_ID
from core.services.accounts import audit
from core.services.org.structure import unit_choices

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit")
ANY_UNIT = 0


@bp.get("/")
@role_required("admin")
def index():
    """Newest entries first; the filters stay in the address, so a search can be bookmarked."""
    form = AuditSearchForm(request.args)
    form.unit_id.choices = [(ANY_UNIT, _("All units")),
                            *unit_choices(actor(), active_only=False)]
    if not request.args.get("unit_id"):
        form.unit_id.data = ANY_UNIT
    valid = form.validate() if request.args else True
    filters = audit.AuditQuery()
    if valid:
        if form.date_from.data and form.date_to.data and form.date_from.data > form.date_to.data:
            form.date_to.errors = [*form.date_to.errors,
                                   _("The end date is before the start date.")]
            valid = False
        else:
            filters = audit.AuditQuery(
                action=form.action.data or None,
                username=form.username.data or None,
                unit_id=form.unit_id.data or None,
                date_from=form.date_from.data,
                date_to=form.date_to.data,
            )
    page = audit.search(filters, after=int_after_arg(MAX_BIG_ID)) if valid else None
    return render_template("admin/audit/index.html", form=form, page=page), \
        200 if valid else INVALID

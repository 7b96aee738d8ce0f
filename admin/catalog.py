"""The national catalogue of procedure fields and procedures (system administrators), CSV import."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin._common import INVALID, actor, after_arg
from admin.auth import role_required
from admin.forms import FieldForm, ImportForm, ProcedureForm
from admin.words import say
from core.models import Procedure
from core.services.errors import ServiceError
from core.services.org import catalog

bp = Blueprint("admin_catalog", __name__, url_prefix="/admin/catalog")
NO_FIELD = 0


@bp.get("/procedures")
@role_required("admin")
def procedures():
    """Procedures by code, with the forms to add one and to import a CSV file."""
    page = catalog.list_procedures(after=after_arg())
    return render_template("admin/catalog/procedures.html", page=page)


@bp.get("/fields")
@role_required("admin")
def fields():
    """Procedure fields by code."""
    page = catalog.list_fields(after=after_arg())
    return render_template("admin/catalog/fields.html", page=page, form=FieldForm(formdata=None))


@bp.post("/fields")
@role_required("admin")
def save_field():
    """Add a field, or rename the one with the same code."""
    form = FieldForm()
    if form.validate_on_submit():
        try:
            catalog.save_field(actor(), form.code.data or "", form.name.data or "")
        except ServiceError as exc:
            form.code.errors.append(say(exc))
        else:
            flash(_("Field saved."), "success")
            return redirect(url_for(".fields"))
    page = catalog.list_fields(after=after_arg())
    return render_template("admin/catalog/fields.html", page=page, form=form), INVALID


def _procedure_form(procedure: Procedure | None) -> ProcedureForm:
    form = ProcedureForm(obj=procedure)
    form.field_id.choices = [(NO_FIELD, _("— no field —")), *catalog.field_choices()]
    if not form.is_submitted():
        form.field_id.data = procedure.field_id if procedure and procedure.field_id else NO_FIELD
    return form


@bp.route("/procedures/new", methods=["GET", "POST"])
@bp.route("/procedures/<int:procedure_id>", methods=["GET", "POST"])
@role_required("admin")
def procedure(procedure_id: int | None = None):
    """Add or change one procedure."""
    row = catalog.get_procedure(procedure_id) if procedure_id is not None else None
    form = _procedure_form(row)
    if row is not None:
        del form.code  # ratings refer to procedures by code: an existing code never changes
    if form.validate_on_submit():
        try:
            catalog.save_procedure(
                actor(), row.code if row else form.code.data or "", form.name.data or "",
                None if form.field_id.data == NO_FIELD else form.field_id.data,
                bool(form.active.data),
            )
        except ServiceError as exc:
            form.form_errors.append(say(exc))
        else:
            flash(_("Procedure saved."), "success")
            return redirect(url_for(".procedures"))
    status = INVALID if form.errors or form.form_errors else 200
    return render_template("admin/catalog/procedure.html", form=form, procedure=row), status


@bp.route("/import", methods=["GET", "POST"])
@role_required("admin")
def import_csv():
    """Check a CSV file row by row; import it only when every row is good."""
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        report = catalog.import_csv(actor(), form.kind.data, upload.read(),
                                    filename=upload.filename or "")
        if report.ok:
            flash(_("Imported: %(created)d new, %(updated)d changed, %(unchanged)d unchanged.",
                    created=report.created, updated=report.updated,
                    unchanged=report.unchanged), "success")
            return redirect(url_for(".procedures" if form.kind.data == "procedures"
                                    else ".fields"))
    status = INVALID if form.errors or (report is not None and not report.ok) else 200
    if request.method == "GET":
        status = 200
    errors = [(line, say(error)) for line, error in report.errors] if report else []
    return render_template("admin/catalog/import.html", form=form, report=report,
                           errors=errors), status

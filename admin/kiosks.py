"""Kiosk administration pages: the fleet, registering a kiosk (one-time code and QR), revoking,
rotating keys and importing bundles. Thin: parse, call core.services.sync, render."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from admin.auth import current_user, login_required, role_required
from admin.forms import Form
from core import qr
from core.routing import parse_id
from core.services.errors import ServiceError, words
from core.services.sync import bundles, registry
from core.services.sync import fleet as kiosk_fleet

bp = Blueprint("admin_kiosks", __name__, url_prefix="/admin/kiosks",
               template_folder="templates")

ADMIN_ERRORS = {
    "bad_name": _l("Give the kiosk a name of at most 200 characters."),
    "inactive_counter": _l("This counter is not active."),
    "already_revoked": _l("This kiosk was already revoked."),
    "not_active": _l("Only an enrolled, active kiosk can get a new key."),
    "unknown_counter": _l("No such counter."),
}
BUNDLE_ERRORS = {
    "not_a_bundle": _l("This file is not a kiosk bundle."),
    "unknown_kiosk": _l("The bundle comes from a kiosk this server does not know."),
    "bad_signature": _l("The bundle's signature is wrong; it may have been altered."),
    "revoked": _l("The bundle comes from a revoked kiosk."),
    "not_enrolled": _l("The bundle comes from a kiosk that has not finished enrollment."),
}
# Why the aggregator refused a kiosk's rating (core.protocol.ITEM_REASONS), on the fleet page.
# "before_kiosk_registered", "future_device_time" and "uuid_conflict" are no longer given, but
# refusals an older server stored with them are still shown.
REASON_WORDS = {
    "not_an_object": _l("The rating is not a JSON object."),
    "invalid_uuid": _l("The rating has no valid identifier (uuid)."),
    "invalid_seq": _l("The rating has no valid sequence number."),
    "invalid_scale": _l("The rating scale must be 3 or 5."),
    "invalid_level": _l("The rating level is not one of the levels of its scale."),
    "invalid_device_time": _l("The rating time is missing or not an ISO 8601 time with a "
                              "time zone."),
    "future_device_time": _l("The rating is dated in the future."),
    "before_kiosk_registered": _l("The rating is dated before the kiosk was registered."),
    "unknown_questionnaire_version": _l("The questionnaire version is not known to the server."),
    "invalid_reasons": _l("The follow-up reasons are not known to the questionnaire."),
    "invalid_misuse": _l("The misuse mark is not a known one."),
    "invalid_officer_code": _l("The officer code is not valid text."),
    "invalid_dossier_code": _l("The dossier code is not valid text."),
    "invalid_procedure_code": _l("The procedure code is not valid text."),
    "repeated_in_batch": _l("The same rating (or sequence number) appears twice in the batch."),
    "seq_conflict": _l("Another rating of this kiosk already has this sequence number."),
    "uuid_conflict": _l("Another kiosk already sent a rating with this identifier."),
}


def reason_words(code: str | None) -> str:
    """A refusal reason in the reader's language (the code itself when unknown)."""
    found = REASON_WORDS.get(code or "")
    return str(found) if found is not None else (code or "")


class RegisterKioskForm(Form):
    counter = SelectField(_l("Counter"), coerce=int, validators=[DataRequired()])
    name = StringField(_l("Kiosk name"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Register and show the code"))


class BundleForm(Form):
    bundle = FileField(_l("Bundle file"), validators=[FileRequired()])
    submit = SubmitField(_l("Import"))


class ActionForm(Form):
    """CSRF only: revoke and rotate are plain POST buttons."""


@bp.get("/")
@login_required
def fleet():
    """Every kiosk in scope: last seen, queue, oldest unsent, sequence gaps, refusals, flagged
    ratings, clock, version; ``?only=`` narrows it to kiosks with flagged or refused ratings."""
    user = current_user()
    assert user is not None
    after = parse_id(request.args.get("after"))
    only = request.args.get("only")
    only = only if only in kiosk_fleet.FLEET_FILTERS else None
    page = kiosk_fleet.fleet(user, after, only)
    return render_template("admin/kiosks/fleet.html", page=page, form=ActionForm(), only=only,
                           reason_words=reason_words,
                           may_manage=user.role in ("admin", "manager"),
                           may_import=user.role == "admin")


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin", "manager")
def register():
    """Register a kiosk at a counter in scope and show its one-time enrollment code."""
    user = current_user()
    form = RegisterKioskForm()
    form.counter.choices = registry.counters_in_scope(user)  # type: ignore[arg-type]
    if form.validate_on_submit():
        counter = registry.counter_for(user, form.counter.data)  # type: ignore[arg-type]
        try:
            done = registry.register(counter, form.name.data or "", user=user)
        except ServiceError as exc:
            flash(words(exc, ADMIN_ERRORS), "error")
            return render_template("admin/kiosks/register.html", form=form), 422
        return _code_page(done)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/kiosks/register.html", form=form), status


@bp.post("/<kiosk_id>/revoke")
@role_required("admin", "manager")
def revoke(kiosk_id: str):
    """Revoke a kiosk: its requests and QR tokens are refused from now on."""
    if not ActionForm().validate_on_submit():
        abort(400)
    kiosk = registry.kiosk_for(current_user(), kiosk_id)  # type: ignore[arg-type]
    try:
        registry.revoke(kiosk, user=current_user())
        flash(_("Kiosk %(name)s revoked.", name=kiosk.name), "success")
    except ServiceError as exc:
        flash(words(exc, ADMIN_ERRORS), "error")
    return redirect(url_for("admin_kiosks.fleet"))


@bp.route("/<kiosk_id>/reenroll", methods=["GET", "POST"])
@role_required("admin", "manager")
def reenroll(kiosk_id: str):
    """Revoke the kiosk's key at once and show a new one-time code for the same kiosk (after a
    confirmation page): what to do when a key may have leaked."""
    user = current_user()
    kiosk = registry.kiosk_for(user, kiosk_id)  # type: ignore[arg-type]
    form = ActionForm()
    if request.method == "GET":
        return render_template("admin/kiosks/reenroll.html", kiosk=kiosk, form=form)
    if not form.validate_on_submit():
        abort(400)
    try:
        done = registry.reenroll(kiosk, user=user)
    except ServiceError as exc:
        flash(words(exc, ADMIN_ERRORS), "error")
        return redirect(url_for("admin_kiosks.fleet"))
    return _code_page(done, force=True)


def _code_page(done: registry.Registration, force: bool = False):
    server = current_app.config["PUBLIC_URL"]
    payload = json.dumps({"server": server, "code": done.code}, separators=(",", ":"))
    # The code is shown on this response only; it is never stored in clear.
    response = current_app.make_response(render_template(
        "admin/kiosks/code.html", kiosk=done.kiosk, code=done.code, server=server,
        qr=qr.svg_data_uri(payload), force=force))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<kiosk_id>/rotate")
@role_required("admin", "manager")
def rotate(kiosk_id: str):
    """Issue a new key for hygiene; the kiosk picks it up at its next sync (see reenroll for a
    key that may have leaked)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    kiosk = registry.kiosk_for(current_user(), kiosk_id)  # type: ignore[arg-type]
    try:
        registry.rotate(kiosk, user=current_user())
        flash(_("Kiosk %(name)s will switch to a new key at its next sync.", name=kiosk.name),
              "success")
    except ServiceError as exc:
        flash(words(exc, ADMIN_ERRORS), "error")
    return redirect(url_for("admin_kiosks.fleet"))


@bp.route("/import", methods=["GET", "POST"])
@role_required("admin")
def import_bundle():
    """Upload a bundle exported by an offline kiosk; importing it twice is harmless."""
    form = BundleForm()
    if form.validate_on_submit():
        data = form.bundle.data.read()
        try:
            result = bundles.import_bundle(data, current_app.config["SYNC_BATCH_SIZE"],
                                           user=current_user())
        except ServiceError as exc:
            flash(words(exc, BUNDLE_ERRORS), "error")
            return render_template("admin/kiosks/import.html", form=form), 422
        flash(_("Bundle from %(name)s: %(accepted)s new, %(duplicates)s already stored, "
                "%(rejected)s rejected.", name=result.kiosk_name, accepted=result.accepted,
                duplicates=result.duplicates, rejected=result.rejected), "success")
        return redirect(url_for("admin_kiosks.fleet"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/kiosks/import.html", form=form), status

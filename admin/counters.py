"""Counters of a unit with their kiosk settings, and each counter's QR poster."""

from __future__ import annotations

import re

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import Forbidden

from admin._common import INVALID, actor
from admin.auth import login_required
from admin.forms import CounterForm
from admin.words import say
from core import qr
from core.services.errors import ServiceError
from core.services.org import scope, structure
from core.services.survey import posters

bp = Blueprint("admin_counters", __name__, url_prefix="/admin")
# The poster is read by citizens at the counter, so it is always printed in Vietnamese,
# whatever language the administrator's pages are in.
POSTER_LOCALE = "vi"
POSTER_TEXT = {
    "invite": _l("Please scan the QR code and tell us how satisfied you are with our service"),
    "step1": _l("Open your phone's camera and point it at the QR code."),
    "step2": _l("Answer a few short questions (about two minutes)."),
    "step3": _l("Your answers are anonymous and help us serve you better."),
    "thanks": _l("Thank you!"),
    "alt": _l("QR code of the satisfaction survey"),
}


def _settings(form: CounterForm) -> structure.CounterSettings:
    return structure.CounterSettings(
        scale=form.scale.data,
        min_interval_s=form.min_interval_s.data,
        require_transaction=bool(form.require_transaction.data),
        idle_timeout_s=form.idle_timeout_s.data,
        followup_timeout_s=form.followup_timeout_s.data,
    )


@bp.route("/units/<int:unit_id>/counters/new", methods=["GET", "POST"])
@login_required
def new(unit_id: int):
    """Add a counter to a unit, with its kiosk settings."""
    who = actor()
    unit = scope.get_unit(who, unit_id)
    if not scope.may_manage(who, unit):
        raise Forbidden()
    form = CounterForm()
    if form.validate_on_submit():
        try:
            counter = structure.create_counter(who, unit.id, form.code.data or "",
                                         form.name.data or "", _settings(form))
        except ServiceError as exc:
            form.form_errors.append(say(exc))
        else:
            flash(_("Counter %(code)s created.", code=counter.code), "success")
            return redirect(url_for("admin_units.show", unit_id=unit.id, _anchor="counters"))
    status = INVALID if form.errors or form.form_errors else 200
    return render_template("admin/counters/form.html", form=form, unit=unit, counter=None), status


@bp.route("/counters/<int:counter_id>", methods=["GET", "POST"])
@login_required
def edit(counter_id: int):
    """Rename a counter, change its kiosk settings or stop using it."""
    who = actor()
    counter = scope.get_counter(who, counter_id)
    if not scope.may_manage(who, counter.unit):
        raise Forbidden()
    form = CounterForm(obj=counter)
    if form.validate_on_submit():
        try:
            structure.update_counter(who, counter.id, form.code.data or "", form.name.data or "",
                               bool(form.active.data), _settings(form))
        except ServiceError as exc:
            form.form_errors.append(say(exc))
        else:
            flash(_("Counter saved. Kiosks use the new settings after their next sync."),
                  "success")
            return redirect(url_for("admin_units.show", unit_id=counter.unit_id,
                                    _anchor="counters"))
    status = INVALID if form.errors or form.form_errors else 200
    return render_template("admin/counters/form.html", form=form, unit=counter.unit,
                           counter=counter), status


@bp.get("/counters/<int:counter_id>/poster")
@login_required
def poster(counter_id: int):
    """The print-ready A4 poster: unit, counter, QR code and an invitation in Vietnamese."""
    data = posters.poster_for(actor(), counter_id)
    with force_locale(POSTER_LOCALE):
        text = {key: str(value) for key, value in POSTER_TEXT.items()}
    return render_template("admin/counters/poster.html", poster=data, text=text,
                           poster_locale=POSTER_LOCALE)


def _download(body: bytes, mimetype: str, name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


@bp.get("/counters/<int:counter_id>/poster.svg")
@login_required
def poster_svg(counter_id: int):
    """The poster's QR code as SVG (shown on the poster; ``?download=1`` to save it)."""
    data = posters.poster_for(actor(), counter_id)
    body = qr.svg(data.url)
    if request.args.get("download"):
        return _download(body, "image/svg+xml", f"qr-{data.unit.code}-{data.counter.code}.svg")
    return Response(body, mimetype="image/svg+xml")


@bp.get("/counters/<int:counter_id>/poster.png")
@login_required
def poster_png(counter_id: int):
    """The poster's QR code as PNG."""
    data = posters.poster_for(actor(), counter_id)
    return _download(qr.png(data.url), "image/png",
                     f"qr-{data.unit.code}-{data.counter.code}.png")

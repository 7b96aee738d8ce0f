"""The public transparency page (công khai kết quả) under /cong-khai: anyone may read a unit's
indices and rank, with small samples suppressed; no officers, no comments, no sign-in."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import format_number
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from admin.dashboard import bad_request, channel_names
from core import clock, ratelimit
from core.services.reporting import errors, figures, filters, rankings

bp = Blueprint("public", __name__, url_prefix="/cong-khai", template_folder="templates")


@bp.get("/<code>")
def public_unit(code: str):
    """Công khai kết quả: a unit's indices and rank, suppression applied; no officers, no
    comments, no sign-in."""
    limit = ratelimit.Limit(*current_app.config["PUBLIC_RATE_LIMIT"])
    ratelimit.enforce("public-page", request.remote_addr or "-", limit, lambda wait: _(
        "Too many requests from your address. Please wait %(seconds)s seconds and try again.",
        seconds=format_number(wait)))
    unit = filters.public_unit(code)
    if unit is None:
        raise NotFound()
    try:
        f = filters.public_filters(unit, request.args)
    except errors.ReportError as exc:
        raise bad_request(exc.code) from None
    if f.period.start > clock.local_today():
        raise bad_request("period")
    return render_template(
        "public/unit.html",
        unit=unit, f=f, head=figures.headline(f), peer=rankings.peer_rank(f),
        ranking=rankings.ranking(f), trend=figures.trend(f),
        min_report_n=figures.min_report_n(), channel_names=channel_names(),
        questionnaire=figures.questionnaire(),
    )

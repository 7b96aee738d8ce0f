"""The SIPAS dashboard, its breakdowns, comments, exports and API tokens.

Views are thin: they parse the GET filter, call the modules of core.services.reporting and
core.services.accounts.api_tokens, and render (committing once where the service recorded an
audit entry or a change). Every figure is formatted in the templates by the core/i18n.py filters.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from admin.auth import current_user, login_required
from core.extensions import db
from core.models import utcnow
from core.routing import MAX_BIG_ID, parse_id
from core.services.accounts import api_tokens
from core.services.errors import ServiceError
from core.services.org import scope
from core.services.reporting import breakdowns, errors, exports, figures, filters, rankings
from core.services.reporting.comments import (
    COMMENT_PAGE,
    MODERATION_ACTIONS,
    list_comments,
    may_moderate,
    moderate_comment,
)

bp = Blueprint("dashboard", __name__, url_prefix="/admin")


def _messages() -> dict[str, str]:
    return {
        "period": _("The period is not valid. Use a month (YYYY-MM), a quarter (YYYY-Qn), "
                    "a year (YYYY) or a start and end date."),
        "channel": _("Unknown channel."),
        "unit": _("There is no unit to report on yet."),
        "by": _("Unknown breakdown."),
        "action": _("Unknown action."),
        "comment": _("This comment does not exist."),
        "token.name": _("Give the token a name of 1 to 100 characters."),
        "token.too_many": _("You have too many active tokens; revoke one first."),
        "token.missing": _("This token does not exist."),
        "kind": _("Unknown export."),
    }


def bad_request(code: str) -> BadRequest:
    error = BadRequest()
    error.sipas_message = _messages().get(code, _messages()["period"])  # type: ignore[attr-defined]
    return error


def _filters() -> filters.Filters:
    try:
        return filters.build_filters(current_user(), request.args)
    except errors.ReportError as exc:
        raise bad_request(exc.code) from None


def _context(f: filters.Filters) -> dict:
    user = current_user()
    return {
        "user": user,
        "f": f,
        "args": f.query_args(),
        "units": filters.unit_choices(user),
        "channels": filters.ALL_CHANNELS,
        "channel_names": channel_names(),
        "may_see_officers": scope.may_see_officers(user),
        "may_moderate": may_moderate(user),
        "min_report_n": figures.min_report_n(),
        "min_officer_n": figures.min_officer_n(),
        "questionnaire": figures.questionnaire(),
    }


def channel_names() -> dict[str, str]:
    return {
        "kiosk": _("Kiosk taps"),
        "kiosk_qr": _("QR from kiosk"),
        "poster": _("QR poster"),
        "api": _("Dossier link (API)"),
    }


@bp.get("/dashboard")
@login_required
def index():
    """The headline, trend, distribution, heat map and ranking for the filter."""
    f = _filters()
    q = figures.questionnaire()
    view = rankings.overview(f)
    head = view.headline
    return render_template(
        "admin/dashboard/index.html",
        head=head,
        trend=figures.trend(f),
        heat=figures.heatmap(f),
        ranking=view.ranking,
        reasons=breakdowns.reasons(f, head.totals),
        perception=breakdowns.perception(f, head.totals),
        level_names={lv.level: lv.text.get(str(_locale())) for lv in q.scale},
        **_context(f),
    )


def _locale() -> str:
    from core.i18n import current_locale

    return current_locale()


@bp.get("/dashboard/breakdown/<by>")
@login_required
def breakdown(by: str):
    """Figures per counter, procedure, field or (for those allowed, audited) officer."""
    f = _filters()
    try:
        rows = breakdowns.breakdown(current_user(), f, by)
    except errors.ReportError as exc:
        raise bad_request(exc.code) from None
    except errors.NotAllowed:
        raise Forbidden() from None
    db.session.commit()  # the officer view's audit entry
    return render_template("admin/dashboard/breakdown.html", by=by, rows=rows, **_context(f))


@bp.get("/dashboard/items")
@login_required
def items():
    """Item-level drill-down: each questionnaire item's rate with its n and interval."""
    f = _filters()
    head = figures.headline(f, with_previous=False)
    return render_template("admin/dashboard/items.html", head=head, **_context(f))


@bp.get("/dashboard/comments")
@login_required
def comments():
    """Comments with phone and ID numbers masked; searchable; moderation for managers."""
    f = _filters()
    search = (request.args.get("q") or "")[:100]
    before = parse_id(request.args.get("before"), MAX_BIG_ID)  # survey response ids
    rows = list_comments(current_user(), f, search=search, before_id=before)
    more = len(rows) == COMMENT_PAGE
    return render_template("admin/dashboard/comments.html", rows=rows, search=search, more=more,
                           actions=MODERATION_ACTIONS, **_context(f))


@bp.post("/dashboard/comments/<bigint:response_id>/<action>")
@login_required
def moderate(response_id: int, action: str):
    """Hide, show, flag or unflag a comment (audited)."""
    try:
        moderate_comment(current_user(), response_id, action)
    except errors.ReportError as exc:
        if exc.code == "comment":
            raise NotFound() from None
        raise bad_request(exc.code) from None
    except errors.NotAllowed:
        raise Forbidden() from None
    db.session.commit()
    flash(_("The comment was updated."), "success")
    back = request.form.get("back") or url_for("dashboard.comments")
    from core.i18n import safe_next

    return redirect(safe_next(back))


@bp.get("/dashboard/export/<kind>.csv")
@login_required
def export_csv(kind: str):
    """Raw ratings or responses of the filter, streamed (UTF-8 with BOM)."""
    if kind not in exports.KINDS:
        raise bad_request("kind")
    f = _filters()
    user = current_user()
    exports.audit_export(user, f, kind)
    db.session.commit()  # the audit entry is stored before the first byte leaves
    make = exports.ratings_csv if kind == "ratings" else exports.responses_csv
    name = f"{kind}-{f.unit.code}-{f.period.start:%Y%m%d}-{f.period.end:%Y%m%d}.csv"
    return Response(
        stream_with_context(exports.encoded(make(user, f))),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Content-Type": "text/csv; charset=utf-8"},
    )


@bp.get("/dashboard/export/report.xlsx")
@login_required
def export_xlsx():
    """Indices per unit for the period as an XLSX workbook for officials."""
    f = _filters()
    user = current_user()
    exports.audit_export(user, f, "xlsx")
    db.session.commit()
    body = exports.xlsx_report(user, f)
    name = f"sipas-{f.unit.code}-{f.period.value.replace('/', '_')}.xlsx"
    return Response(
        body,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/api-tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """Create and list your own reporting API tokens; a new token is shown once."""
    user = current_user()
    secret = None
    status = 200
    if request.method == "POST":
        try:
            secret = api_tokens.create(user, request.form.get("name", ""))
        except ServiceError as exc:
            flash(_messages()[exc.code], "error")
            status = 400
    return render_template("admin/dashboard/tokens.html", user=user,
                           tokens=api_tokens.tokens_of(user), secret=secret,
                           expires_at=api_tokens.expires_at, now=utcnow()), status


@bp.post("/api-tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of your tokens."""
    try:
        api_tokens.revoke(current_user(), token_id)
    except ServiceError:
        raise NotFound() from None
    flash(_("The token was revoked."), "success")
    return redirect(url_for("dashboard.tokens"))

"""The read-only reporting API under /api/v1 (plus issuing a dossier survey token).

Clients authenticate with a per-user token (``Authorization: Bearer sipas_...``) created on the
admin "API tokens" page; every answer is scoped like that user's dashboard. Errors are JSON
(core/errors.py) with a reason in the user's language; bad input is a 4xx, never a 500.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import format_number
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, Forbidden, Unauthorized

from api.openapi import register_paths, retry_later
from core import ratelimit, sipas
from core.codes import CODE_PATTERN, DOSSIER_CODE_MAX, is_dossier_code
from core.extensions import csrf, db
from core.models import Counter, Procedure, User
from core.services.accounts import api_tokens
from core.services.org import scope
from core.services.reporting import errors, figures, filters, periods
from core.services.reporting.rankings import ranking
from core.services.survey import links

bp = Blueprint("reports_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _bad(message: str) -> BadRequest:
    error = BadRequest()
    error.sipas_message = message  # type: ignore[attr-defined]
    return error


def _user() -> User:
    """The token's owner; called once per request (no caching on ``g``, which an outer app
    context may share between requests)."""
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header.lower().startswith("bearer ") else None
    user = api_tokens.authenticate(secret)
    # The token's last use may have been noted: commit it now, so SQLite's write lock is not
    # held while the report is read.
    db.session.commit()
    if user is None:
        error = Unauthorized()
        error.sipas_message = _("A valid API token is required (Authorization: Bearer <token>).")  # type: ignore[attr-defined]
        raise error
    limit = ratelimit.Limit(*current_app.config["API_RATE_LIMIT"])
    # Per token, keyed by a digest so the store never holds a usable secret.
    key = hashlib.sha256(secret.encode()).hexdigest()[:32]  # type: ignore[union-attr]
    ratelimit.enforce("api-token", key, limit, lambda wait: _(
        "Too many requests with this API token. Please wait %(seconds)s seconds and try again.",
        seconds=format_number(wait)))
    return user


def _filters(user: User) -> filters.Filters:
    try:
        return filters.build_filters(user, request.args)
    except errors.ReportError as exc:
        raise _bad(_("Invalid filter (%(what)s): %(why)s", what=exc.code, why=str(exc))) from None


def _about(f: filters.Filters) -> dict[str, Any]:
    return {
        "unit": {"id": f.unit.id, "code": f.unit.code, "name": f.unit.name, "level": f.unit.level},
        "period": {"kind": f.period.kind, "value": f.period.value,
                   "start": f.period.start.isoformat(), "end": f.period.end.isoformat()},
        "previous_period": {"start": f.period.previous().start.isoformat(),
                            "end": f.period.previous().end.isoformat()},
        "channels": list(f.channels),
        "include_misuse": f.include_misuse,
        "min_report_n": figures.min_report_n(),
        # Every figure of the answer was computed by this method (docs/METHOD.md, "The indices").
        "method_version": sipas.METHOD_VERSION,
    }


@bp.get("/reports/indices")
def indices():
    """SIPAS-style index, element indices and counter rate for a unit and period."""
    f = _filters(_user())
    return jsonify({**_about(f), **figures.headline(f).as_dict()})


@bp.get("/reports/rankings")
def rankings():
    """The unit's child units ranked by SIPAS-style index, with rank change."""
    f = _filters(_user())
    rows = [
        {"unit": {"id": r.unit.id, "code": r.unit.code, "name": r.unit.name,
                  "level": r.unit.level},
         "rank": r.rank, "previous_rank": r.previous_rank, "change": r.change,
         "sipas_index": {**r.sipas.as_dict(), "basis": r.basis},
         "counter_rate": r.counter_rate.as_dict()}
        for r in ranking(f)
    ]
    return jsonify({**_about(f), "rows": rows})


@bp.get("/reports/timeseries")
def timeseries():
    """Monthly SIPAS-style index and counter rate up to the end of the period."""
    f = _filters(_user())
    months = request.args.get("months", default=figures.TREND_MONTHS, type=int)
    if months is None or not 1 <= months <= 60:
        raise _bad(_("months must be between 1 and 60."))
    points = [
        {"month": p.month.strftime("%Y-%m"),
         "sipas_index": {**p.sipas.as_dict(), "basis": p.basis},
         "counter_rate": p.counter_rate.as_dict()}
        for p in figures.trend(f, months)
    ]
    return jsonify({**_about(f), "points": points})


@bp.post("/survey-tokens/dossier")
def dossier_token():
    """Issue a single-use phone-survey token for one dossier (administrators and managers)."""
    user = _user()
    if user.role not in ("admin", "manager"):
        raise Forbidden()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _bad(_("Send a JSON object."))
    dossier = body.get("dossier_code")
    if not is_dossier_code(dossier):
        raise _bad(_("dossier_code must be 1 to 64 letters, digits or . _ : / -, starting with a "
                     "letter or digit"))
    unit_ref = body.get("unit")
    if not isinstance(unit_ref, (int, str)) or isinstance(unit_ref, bool):
        raise _bad(_("unit (id or code) is required."))
    unit = filters.resolve_unit(user, str(unit_ref))
    counter_id = _optional_id(body, "counter_id")
    procedure_id = _optional_id(body, "procedure_id")
    if counter_id is not None:
        counter = db.session.get(Counter, counter_id)
        if counter is None or counter.unit_id != unit.id:
            raise _bad(_("counter_id is not a counter of this unit."))
    if procedure_id is not None and db.session.get(Procedure, procedure_id) is None:
        raise _bad(_("procedure_id is not a known procedure."))
    scope.get_unit(user, unit.id)
    token = links.dossier_token(unit.id, dossier, counter_id, procedure_id)
    return jsonify({"token": token, "url": links.survey_url(token),
                    "token_key": f"d:{unit.id}:{dossier}"}), 201


def _optional_id(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(_("%(key)s must be a positive integer.", key=key))
    return value


_FILTER_PARAMS = [
    {"name": "unit", "in": "query", "schema": {"type": "string"},
     "description": "Unit id or code (default: the token owner's unit)."},
    {"name": "period", "in": "query",
     "schema": {"type": "string", "enum": list(periods.PERIOD_KINDS)}},
    {"name": "value", "in": "query", "schema": {"type": "string"},
     "description": "YYYY-MM, YYYY-Qn or YYYY (default: the current one)."},
    {"name": "start", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "end", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "channel", "in": "query", "style": "form", "explode": True,
     "schema": {"type": "array", "items": {"type": "string", "enum": list(filters.ALL_CHANNELS)}}},
    {"name": "misuse", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}},
]
_ERRORS = {
    code: {"description": text,
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for code, text in (("400", "invalid filter"), ("401", "missing or invalid token"),
                       ("403", "role not allowed"), ("404", "unit not found or out of scope"))
}
_ERRORS["429"] = retry_later("too many requests with this token; see Retry-After")
_ERRORS["503"] = retry_later("database busy or unavailable; see Retry-After")
_FIGURE = {
    "type": "object",
    "properties": {
        "value": {"type": ["number", "null"],
                  "description": "percent, rounded half up to two decimals from the exact value"},
        "n": {"type": "integer"},
        "suppressed": {"type": "boolean"},
        "reason": {"type": ["string", "null"],
                   "enum": ["insufficient_sample", "incomplete_elements", "no_data", None],
                   "description": "why value is null: fewer than min_report_n respondents, an "
                                  "element with no valid answer (see missing_elements; no "
                                  "service index without all five), or nothing in the filter"},
        "missing_elements": {"type": "array", "items": {"type": "string"}},
        "ci95": {"type": ["array", "null"], "items": {"type": "number"}},
        "ci95_method": {"type": ["string", "null"], "enum": ["wilson", "delta", None],
                        "description": "Wilson score interval (proportions) or delta-method "
                                       "normal interval (element, service and SIPAS-style "
                                       "indices); docs/METHOD.md"},
        "excluded_misuse_share": {"type": ["number", "null"]},
        "previous": {"type": ["number", "null"]}, "change": {"type": ["number", "null"]},
    },
}


def _get(summary: str, op: str, schema: str) -> dict[str, Any]:
    return {"get": {
        "summary": summary, "operationId": op, "security": [{"bearer": []}],
        "parameters": _FILTER_PARAMS,
        "responses": {"200": {"description": "ok", "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{schema}"}}}}, **_ERRORS},
    }}


register_paths(
    {
        "/api/v1/reports/indices": _get("Indices for a unit and period", "reportIndices",
                                        "ReportIndices"),
        "/api/v1/reports/rankings": _get("Child units ranked, with rank change",
                                         "reportRankings", "ReportRankings"),
        "/api/v1/reports/timeseries": _get("Monthly time series", "reportTimeseries",
                                           "ReportTimeseries"),
        "/api/v1/survey-tokens/dossier": {"post": {
            "summary": "Issue a survey token for one dossier", "operationId": "dossierToken",
            "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["unit", "dossier_code"],
                "properties": {"unit": {"type": ["integer", "string"]},
                               "dossier_code": {"type": "string", "minLength": 1,
                                                "maxLength": DOSSIER_CODE_MAX,
                                                "pattern": CODE_PATTERN},
                               "counter_id": {"type": ["integer", "null"]},
                               "procedure_id": {"type": ["integer", "null"]}}}}}},
            "responses": {"201": {"description": "issued", "content": {"application/json": {
                "schema": {"type": "object", "properties": {
                    "token": {"type": "string"}, "url": {"type": "string"},
                    "token_key": {"type": "string"}}}}}}, **_ERRORS},
        }},
    },
    {
        "Figure": _FIGURE,
        "IndexFigure": {"allOf": [{"$ref": "#/components/schemas/Figure"}, {
            "type": "object", "properties": {
                "basis": {"type": "string", "enum": ["service", "service+policy"],
                          "description": "service index alone, or the mean of the policy and "
                                         "service indices (policy module answered)"},
                "method_version": {"type": "string"}}}]},
        "ReportIndices": {"type": "object", "properties": {
            "unit": {"type": "object"}, "period": {"type": "object"},
            "method_version": {"type": "string"},
            "sipas_index": {"$ref": "#/components/schemas/IndexFigure"},
            "service_index": {"$ref": "#/components/schemas/Figure"},
            "policy_index": {"oneOf": [{"$ref": "#/components/schemas/Figure"},
                                       {"type": "null"}]},
            "elements": {"type": "object",
                         "additionalProperties": {"$ref": "#/components/schemas/Figure"}},
            "policy_elements": {"type": "object",
                                "additionalProperties": {"$ref": "#/components/schemas/Figure"}},
            "counter_rate": {"$ref": "#/components/schemas/Figure"},
            "respondents": {"type": "integer"}}},
        "ReportRankings": {"type": "object", "properties": {"rows": {"type": "array", "items": {
            "type": "object", "properties": {
                "rank": {"type": ["integer", "null"]},
                "previous_rank": {"type": ["integer", "null"]},
                "change": {"type": ["integer", "null"]},
                "sipas_index": {"$ref": "#/components/schemas/IndexFigure"},
                "counter_rate": {"$ref": "#/components/schemas/Figure"}}}}}},
        "ReportTimeseries": {"type": "object", "properties": {"points": {"type": "array",
            "items": {"type": "object", "properties": {
                "month": {"type": "string"},
                "sipas_index": {"$ref": "#/components/schemas/IndexFigure"},
                "counter_rate": {"$ref": "#/components/schemas/Figure"}}}}}},
    },
    {"bearer": {"type": "http", "scheme": "bearer",
                "description": "A per-user API token from the admin page /admin/api-tokens."}},
)

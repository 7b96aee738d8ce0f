"""The sync API for kiosks under /api/v1/sync: enroll, push ratings, pull configuration, heartbeat.

Every request but enrollment is signed by the kiosk (see core/protocol.py). Views parse and
answer; core.services.sync does the work. Every refusal is a JSON error with a machine code (the
service's ``ServiceError`` or this module's own checks) and a message in the reader's language,
never a stack trace. A request's changes are committed after the view returns and before the
answer leaves (core.database), so an acknowledgement always follows the commit.
"""

from __future__ import annotations

import random
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

from api.openapi import register_paths, retry_later
from core import jsonsafe, protocol, ratelimit
from core.extensions import csrf, db
from core.services.errors import ServiceError
from core.services.sync import authentication, contact, ingest, kiosk_config, registry

bp = Blueprint("sync_api", __name__, url_prefix=protocol.SYNC_PREFIX)
# Kiosks authenticate every request with an HMAC signature, not a browser session.
csrf.exempt(bp)

ENROLL_LIMIT = ratelimit.Limit(10, 600)
# A rating is about 350 bytes of JSON; this leaves room for long codes without letting a
# request grow without bound.
BYTES_PER_RATING = 2048

MESSAGES = {
    "unsigned": _l("This request is not signed. Enroll the kiosk first."),
    "unknown_kiosk": _l("This kiosk is not known to the server. Enroll it again."),
    "bad_signature": _l("The request signature is wrong; the kiosk key may have changed."),
    "revoked": _l("This kiosk has been revoked by an administrator."),
    "key_rotated": _l("This kiosk's key was replaced: pull the configuration to receive the new "
                      "key; the old one can send nothing else."),
    "not_enrolled": _l("This kiosk has not finished enrollment."),
    "clock_skew": _l("The kiosk clock is more than five minutes off; it should correct itself "
                     "using the server time in this answer."),
    "replay": _l("This request was already received once; it was not applied again."),
    "invalid_code": _l("This enrollment code is not valid or was already used."),
    "code_expired": _l("This enrollment code has expired. Ask for a new one."),
    "invalid_json": _l("The request body is not valid JSON."),
    "invalid_request": _l("The request does not have the expected fields."),
    "batch_too_large": _l("Too many ratings in one batch; send smaller batches."),
    "body_too_large": _l("The request is too large."),
    "rate_limited": _l("Too many requests from this kiosk; wait and try again."),
    "busy": _l("The server is busy; the kiosk will try again shortly. Nothing was lost."),
    # Per-item reasons.
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


def message(code: str) -> str:
    return str(MESSAGES.get(code, MESSAGES["invalid_request"]))


def error(code: str, status: int, retry_after: int | None = None, **extra: Any):
    body = {"error": {"status": status, "code": code, "message": message(code), **extra}}
    response = jsonify(body)
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.after_request
def _server_time(response):
    # Every answer carries the server's clock, so a kiosk can keep its offset current.
    response.headers[protocol.HEADER_SERVER_TIME] = f"{time.time():.3f}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ServiceError)
def _refused(exc: ServiceError):
    db.session.rollback()
    return error(exc.code, exc.status, **exc.params)


@bp.errorhandler(OperationalError)
def _busy(exc: OperationalError):
    # SQLite busy past its timeout, a PostgreSQL lock timeout or a lost connection: nothing was
    # committed, so the kiosk may simply try again later.
    db.session.rollback()
    current_app.logger.warning("sync: database busy or unavailable: %s",
                               str(exc).splitlines()[0][:200])
    return error("busy", 503, retry_after=random.randint(2, 10))  # noqa: S311 - spreads retries


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge):
    return error("body_too_large", 413)


def _body(limit: int) -> bytes:
    request.max_content_length = limit
    return request.get_data(cache=True)


def _json(body: bytes) -> Any:
    try:
        return jsonsafe.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ServiceError("invalid_json", status=400) from None


def _authenticated(body: bytes) -> authentication.Authenticated:
    auth = authentication.authenticate(request.headers, request.method, request.path, body,
                                       time.time())
    limit = ratelimit.Limit(current_app.config["SYNC_RATE_PER_MINUTE"], 60)
    if not ratelimit.hit("sync", auth.kiosk.public_id, limit):
        raise _RateLimited()
    return auth


class _RateLimited(Exception):
    pass


@bp.errorhandler(_RateLimited)
def _rate_limited(_exc: _RateLimited):
    db.session.rollback()
    return error("rate_limited", 429, retry_after=random.randint(30, 60))  # noqa: S311


def _device_clock(payload: dict[str, Any]) -> float | None:
    clock = payload.get("device_clock")
    if clock is None:
        return None
    if isinstance(clock, bool) or not isinstance(clock, int | float) or not 0 < clock < 2**40:
        raise ServiceError("invalid_request", status=422, field="device_clock")
    return float(clock)


@bp.post("/enroll")
def enroll():
    """Exchange a one-time enrollment code for the kiosk's id, secret and configuration."""
    payload = _json(_body(4096))
    code = payload.get("code") if isinstance(payload, dict) else None
    if not isinstance(code, str) or not 1 <= len(code) <= 40:
        raise ServiceError("invalid_request", status=422, field="code")
    first_seq = payload.get("first_seq", 1)
    if isinstance(first_seq, bool) or not isinstance(first_seq, int) or not 1 <= first_seq <= 2**62:
        raise ServiceError("invalid_request", status=422, field="first_seq")
    if not ratelimit.hit("enroll", request.remote_addr or "-", ENROLL_LIMIT):
        raise _RateLimited()
    done = registry.enroll(code, first_seq)
    return jsonify({"kiosk_id": done.kiosk_id, "secret": done.secret, "config": done.config,
                    "config_etag": kiosk_config.config_etag(done.config),
                    "server_time": time.time()})


@bp.post("/push")
def push():
    """Store a batch of ratings (oldest first); one outcome per item."""
    batch = current_app.config["SYNC_BATCH_SIZE"]
    body = _body(batch * BYTES_PER_RATING + 16384)
    auth = _authenticated(body)
    payload = _json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("ratings"), list):
        raise ServiceError("invalid_request", status=422, field="ratings")
    if len(payload["ratings"]) > batch:
        raise ServiceError("batch_too_large", status=413, max_batch=batch)
    result = ingest.ingest(auth.kiosk.id, payload["ratings"], _device_clock(payload))
    return jsonify(_result_body(result))


def _result_body(result: ingest.IngestResult) -> dict[str, Any]:
    items = []
    for outcome in result.outcomes:
        item = outcome.as_dict()
        if outcome.reason:
            item["message"] = message(outcome.reason)
        items.append(item)
    return {
        "results": items,
        "accepted": result.count("accepted"),
        "duplicates": result.count("duplicate"),
        "rejected": result.count("rejected"),
        "contiguous_seq": result.contiguous_seq,
        "max_seq": result.max_seq,
        "missing": [list(r) for r in result.missing],
        "clock_offset_s": result.clock_offset_s,
        "server_time": time.time(),
    }


@bp.get("/config")
def config():
    """The kiosk's configuration with an ETag; 304 when it has not changed.

    A kiosk still signing with its previous key (after a rotation) receives the new key here;
    its first request signed with the new key retires the old one
    (core.services.sync.authentication).
    """
    auth = _authenticated(_body(1024))
    settings = kiosk_config.config_for(auth.kiosk)
    etag = kiosk_config.config_etag(settings)
    if not auth.used_previous_key and request.headers.get("If-None-Match") == etag:
        response = current_app.response_class(status=304)
        response.headers["ETag"] = etag
        return response
    body: dict[str, Any] = {"config": settings, "version": etag, "server_time": time.time()}
    if auth.used_previous_key:
        body["credentials"] = {"secret": auth.kiosk.secret}
    response = jsonify(body)
    response.headers["ETag"] = etag
    return response


@bp.post("/heartbeat")
def heartbeat():
    """The kiosk's queue depth, oldest unsent age and app version."""
    body = _body(4096)
    auth = _authenticated(body)
    payload = _json(body)
    if not isinstance(payload, dict):
        raise ServiceError("invalid_request", status=422)
    depth = payload.get("queue_depth")
    oldest = payload.get("oldest_unsent_age_s")
    version = payload.get("app_version")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth < 2**31:
        raise ServiceError("invalid_request", status=422, field="queue_depth")
    if oldest is not None and (isinstance(oldest, bool) or not isinstance(oldest, int)
                               or not 0 <= oldest < 2**31):
        raise ServiceError("invalid_request", status=422, field="oldest_unsent_age_s")
    if version is not None and (not isinstance(version, str) or len(version) > 40):
        raise ServiceError("invalid_request", status=422, field="app_version")
    kiosk = contact.heartbeat(auth.kiosk.id, depth, oldest, version, _device_clock(payload))
    return jsonify({"ok": True, "clock_offset_s": kiosk.clock_offset_s,
                    "server_time": time.time()})


# --- OpenAPI ------------------------------------------------------------------------------------

_SIGNED = [
    {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
    for h in (protocol.HEADER_KIOSK, protocol.HEADER_TIMESTAMP, protocol.HEADER_NONCE,
              protocol.HEADER_SIGNATURE)
]


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


_ERRORS = {str(code): _json_response(text, "SyncError") for code, text in [
    (400, "malformed request or invalid code"), (401, "unsigned, unknown kiosk, bad signature, "
     "clock outside the window, or a rotated key used for anything but the configuration"),
    (403, "revoked or not enrolled"), (409, "replayed request"),
    (413, "batch or body too large"), (422, "missing or wrongly typed fields")]}
_ERRORS["429"] = retry_later("rate limited; see Retry-After", "SyncError")
_ERRORS["503"] = retry_later("busy; see Retry-After", "SyncError")

_RATING = protocol.rating_schema()

register_paths(
    {
        protocol.ENROLL_PATH: {"post": {
            "summary": "Exchange a one-time enrollment code for the kiosk id and secret",
            "operationId": "syncEnroll",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["code"],
                "properties": {"code": {"type": "string", "maxLength": 40},
                               "first_seq": {"type": "integer", "minimum": 1,
                                             "description": "the first sequence number this "
                                             "enrolment will send (a device enrolled again "
                                             "keeps numbering)"}}}}}},
            "responses": {"200": _json_response("enrolled", "Enrollment"), **_ERRORS},
        }},
        protocol.PUSH_PATH: {"post": {
            "summary": "Push a batch of ratings, oldest first; one outcome per item",
            "operationId": "syncPush",
            "parameters": _SIGNED,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["ratings"],
                "properties": {"device_clock": {"type": "number"},
                               "ratings": {"type": "array", "items": _RATING}}}}}},
            "responses": {"200": _json_response("per-item outcomes", "PushResult"), **_ERRORS},
        }},
        protocol.CONFIG_PATH: {"get": {
            "summary": "The kiosk's configuration (ETag; 304 when unchanged)",
            "operationId": "syncConfig",
            "parameters": [*_SIGNED, {"name": "If-None-Match", "in": "header",
                                      "required": False, "schema": {"type": "string"}}],
            "responses": {"200": _json_response("configuration", "KioskConfig"),
                          "304": {"description": "not modified"}, **_ERRORS},
        }},
        protocol.HEARTBEAT_PATH: {"post": {
            "summary": "Report queue depth, oldest unsent age and app version",
            "operationId": "syncHeartbeat",
            "parameters": _SIGNED,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["queue_depth"],
                "properties": {"queue_depth": {"type": "integer", "minimum": 0},
                               "oldest_unsent_age_s": {"type": ["integer", "null"]},
                               "app_version": {"type": ["string", "null"]},
                               "device_clock": {"type": "number"}}}}}},
            "responses": {"200": _json_response("stored", "Heartbeat"), **_ERRORS},
        }},
    },
    {
        "SyncError": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["status", "code", "message"],
            "properties": {"status": {"type": "integer"}, "code": {"type": "string"},
                           "message": {"type": "string"},
                           "server_time": {"type": "number"}}}}},
        "Enrollment": {"type": "object",
                       "required": ["kiosk_id", "secret", "config", "server_time"],
                       "properties": {"kiosk_id": {"type": "string"},
                                      "secret": {"type": "string"},
                                      "config": {"type": "object"},
                                      "config_etag": {"type": "string"},
                                      "server_time": {"type": "number"}}},
        "Rating": _RATING,
        "PushResult": {"type": "object",
                       "required": ["results", "accepted", "duplicates", "rejected",
                                    "contiguous_seq", "max_seq", "missing", "server_time"],
                       "properties": {
                           "results": {"type": "array", "items": {
                               "type": "object", "required": ["index", "status"],
                               "properties": {
                                   "index": {"type": "integer"},
                                   "uuid": {"type": ["string", "null"]},
                                   "seq": {"type": ["integer", "null"]},
                                   "status": {"type": "string",
                                              "enum": ["accepted", "duplicate", "rejected"]},
                                   "reason": {"type": "string"},
                                   "message": {"type": "string"}}}},
                           "accepted": {"type": "integer"},
                           "duplicates": {"type": "integer"},
                           "rejected": {"type": "integer"},
                           "contiguous_seq": {"type": "integer"},
                           "max_seq": {"type": "integer"},
                           "missing": {"type": "array", "items": {
                               "type": "array", "items": {"type": "integer"}}},
                           "clock_offset_s": {"type": ["number", "null"]},
                           "server_time": {"type": "number"}}},
        "KioskConfig": {"type": "object", "required": ["config", "version", "server_time"],
                        "properties": {"config": {"type": "object"},
                                       "version": {"type": "string"},
                                       "credentials": {"type": "object"},
                                       "server_time": {"type": "number"}}},
        "Heartbeat": {"type": "object", "required": ["ok", "server_time"],
                      "properties": {"ok": {"type": "boolean"},
                                     "clock_offset_s": {"type": ["number", "null"]},
                                     "server_time": {"type": "number"}}},
    },
)

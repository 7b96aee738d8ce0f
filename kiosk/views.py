"""Kiosk views: the touch screen at the counter. Thin: parse, call the kiosk's services
(capture, thanks, staff, outbox), render; the words for their refusals are here (ERRORS).

Every screen works as plain HTML forms (post, redirect, get); kiosk.js only adds instant feedback
and the timers. The screen after a tap names its rating by a signed reference, so a forged or
replayed post cannot touch another rating.
"""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError

from core import ratelimit
from core.database import is_outage
from core.errors import render_page, render_without_database
from core.extensions import csrf, db
from core.i18n import current_locale
from core.models.kiosk_local import KioskState
from core.ratelimit import Limit
from core.services.errors import ServiceError, words
from kiosk import capture, outbox, sync
from kiosk import staff as kiosk_staff  # the view `staff` names the endpoint
from kiosk.configuration import Officer, followup_reasons, settings
from kiosk.forms import EnrollForm
from kiosk.thanks import thanks as thanks_screen

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder="templates",
               static_folder="static", static_url_path="/kiosk-static")

# PIN guessing: a few tries per officer, a few more for the whole kiosk, then a pause.
OFFICER_PIN_LIMIT = Limit(5, 300)
KIOSK_PIN_LIMIT = Limit(20, 900)
TECH_PIN_LIMIT = Limit(5, 300)
API_KEY_LIMIT = Limit(10, 60)
# How long a PIN keeps the staff or status screen open in this browser.
STAFF_SESSION_S = 120
TECH_SESSION_S = 300
LOOPBACK = ("127.0.0.1", "::1")

# What the citizen, the officer or the technician reads for each refusal of the kiosk's services.
ERRORS = {
    "not_this_kiosk": _l("This request was not made on this kiosk; nothing was changed."),
    "screen_expired": _l("This screen has expired; nothing was changed."),
    "already_answered": _l("This answer was already recorded; nothing was changed."),
    "not_a_button": _l("This answer is not one of the buttons; nothing was recorded. Please tap "
                       "one of the faces."),
    "not_a_reason": _l("This choice is not on the list; nothing was recorded."),
    "dossier_code_required": _l("Enter the dossier code."),
    "code_too_long": _l("The code is too long (at most %(n)s characters); nothing was changed."),
    "code_malformed": _l("The code may contain only letters, digits and . _ : / -; nothing was "
                         "changed."),
    "staff_sign_in_required": _l("Please sign in with your PIN first."),
    "technician_pin_required": _l("Open the status page with the technician PIN first."),
}

# Why the aggregator refused a rating (core.protocol.ITEM_REASONS), for the status page.
# "before_kiosk_registered" and "future_device_time" are no longer given, but this kiosk may
# still hold ratings an older server refused with them.
REJECT_REASONS = {
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


def reject_words(code: str) -> str:
    """A refusal reason in the reader's language (the code itself when unknown)."""
    entry = REJECT_REASONS.get(code)
    return str(entry) if entry is not None else code


def _reset_url() -> str:
    """Back to idle in the default language: the previous citizen's choice does not stay."""
    return url_for("core.language", code=current_app.config["BABEL_DEFAULT_LOCALE"],
                   next=url_for("kiosk.idle"))


def _error(status: int, message: str):
    """A kiosk-styled error page that returns to the idle screen by itself."""
    try:
        timeout = settings().idle_timeout_s
    except SQLAlchemyError as error:
        if not is_outage(error):
            raise
        return _outage_error(status, message)
    response = make_response(render_page(
        "kiosk/error.html", code=status, message=message, timeout=timeout,
        reset_url=_reset_url()))
    response.status_code = status
    return response


def _outage_error(status: int, message: str):
    """The error page when the kiosk's database cannot even be read for its settings."""
    db.session.rollback()
    template, context = outage_screen(message)
    response = make_response(render_without_database(
        template, {**context, "code": status, "message": message}))
    response.status_code = status
    return response


def outage_screen(_message: str) -> tuple[str, dict]:
    """The kiosk's screen when its own database cannot be written or read (a failed disk).

    Rendered without the database (core.errors.database_unavailable), so the defaults stand in
    for the kiosk's configuration; the citizen is told that nothing was recorded.
    """
    defaults = settings(KioskState())  # a blank state: defaults, no query
    message = _("This kiosk cannot record ratings right now, so nothing was saved. "
                "Please tell the staff at the counter.")
    return "kiosk/error.html", {
        "code": 503, "message": message, "timeout": defaults.idle_timeout_s,
        "reset_url": _reset_url(), "kiosk_counter_name": None,
        "kiosk_languages": defaults.languages}


@bp.context_processor
def _kiosk_context():
    # Every kiosk screen names its counter in the header.
    config = settings()
    return {"kiosk_counter_name": config.counter_name, "kiosk_languages": config.languages}


@bp.after_request
def _no_store(response):
    # A screen names one citizen's rating (and its survey link): never kept for "back".
    if request.endpoint != "kiosk.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError):
    db.session.rollback()  # a refusal keeps nothing the view had begun
    return _error(error.status, words(error, ERRORS))


@bp.errorhandler(CSRFError)
def _csrf_error(_error_: CSRFError):
    return _error(400, _("This screen has expired or the request did not come from this kiosk. "
                         "Nothing was recorded; please tap again."))


@bp.get("/")
def idle():
    """The idle screen: the question and one large button per level of the configured scale."""
    config = settings()
    locale_reset = current_locale() != current_app.config["BABEL_DEFAULT_LOCALE"]
    return render_template("kiosk/idle.html", screen=capture.idle_screen(),
                           timeout=config.idle_timeout_s, reset_url=_reset_url(),
                           locale_reset=locale_reset)


@bp.post("/rate")
def rate():
    """Store the tap durably, then show the follow-up (below satisfied) or the thanks."""
    result = capture.record_tap(request.form.get("level"))
    config = settings()
    if result.needs_followup:
        ref = capture.make_ref(result.uuid, "f",
                               config.followup_timeout_s + capture.FOLLOWUP_GRACE_S)
        return redirect(url_for("kiosk.followup", r=ref), code=303)
    return redirect(url_for("kiosk.thanks", r=_thanks_ref(result.uuid)), code=303)


def _thanks_ref(rating_uuid: str) -> str:
    config = settings()
    return capture.make_ref(rating_uuid, "t", config.idle_timeout_s + capture.THANKS_GRACE_S)


@bp.get("/followup")
def followup():
    """What could be better: chips for the SIPAS elements, several allowed, and Skip."""
    try:
        rating_uuid = capture.read_ref(request.args.get("r"), "f")
        capture.pending_followup(rating_uuid)
    except ServiceError as error:
        if error.code in ("already_answered", "screen_expired"):
            return redirect(_reset_url())  # answered or timed out already: nothing to show
        raise
    config = settings()
    return render_template("kiosk/followup.html", ref=request.args["r"],
                           reasons=followup_reasons(), locale=current_locale(),
                           timeout=config.followup_timeout_s, reset_url=_reset_url())


@bp.post("/followup")
def followup_answer():
    """Record the chosen reasons (or none, on Skip) for the rating the form names."""
    rating_uuid = capture.read_ref(request.form.get("r"), "f")
    skip = request.form.get("action") == "skip"
    capture.answer_followup(rating_uuid, request.form.getlist("reason"), skip=skip)
    return redirect(url_for("kiosk.thanks", r=_thanks_ref(rating_uuid)), code=303)


@bp.get("/thanks")
def thanks():
    """Thanks, and the QR code of the phone survey (when this kiosk is enrolled)."""
    try:
        rating_uuid = capture.read_ref(request.args.get("r"), "t")
    except ServiceError as error:
        if error.code == "screen_expired":
            return redirect(_reset_url())  # an old thank-you screen reloaded: start again
        raise
    config = settings()
    return render_template("kiosk/thanks.html", thanks=thanks_screen(rating_uuid),
                           timeout=config.idle_timeout_s, reset_url=_reset_url())


# --- staff screen ------------------------------------------------------------------------------


def _staff_officer() -> Officer | None:
    """The officer whose PIN opened the staff screen in this browser, while it is open."""
    opened = session.get("kiosk_staff")
    if not isinstance(opened, dict) or opened.get("until", 0) < time.time():
        session.pop("kiosk_staff", None)
        return None
    return settings().officer(str(opened.get("o")))


def _staff_page(status: int = 200, error: str | None = None, form: dict | None = None):
    officer = _staff_officer()
    config = settings()
    response = make_response(render_template(
        "kiosk/staff.html", officer=officer, officers=config.officers,
        on_duty=kiosk_staff.on_duty(), armed=kiosk_staff.armed_now() if officer else None,
        error=error, form=form or {}, timeout=STAFF_SESSION_S,
        dossier_max=kiosk_staff.DOSSIER_MAX, procedure_max=kiosk_staff.PROCEDURE_MAX))
    response.status_code = status
    return response


@bp.get("/staff")
def staff():
    """The staff screen: sign in with a PIN, then arm a transaction or sign out."""
    return _staff_page()


@bp.post("/staff")
def staff_sign_in():
    """Verify an officer's PIN (rate-limited); success puts them on duty and opens the screen."""
    code = (request.form.get("officer") or "")[:40]
    pin = (request.form.get("pin") or "")[:32]
    if (ratelimit.exceeded("kiosk-pin", code, OFFICER_PIN_LIMIT)
            or ratelimit.exceeded("kiosk-pin", "*", KIOSK_PIN_LIMIT)):
        return _staff_page(429, _("Too many wrong PINs. Please wait a few minutes and try "
                                  "again."))
    officer = kiosk_staff.sign_in(code, pin) if code and pin else None
    if officer is None:
        ratelimit.hit("kiosk-pin", code, OFFICER_PIN_LIMIT)
        ratelimit.hit("kiosk-pin", "*", KIOSK_PIN_LIMIT)
        kiosk_staff.record_access("kiosk.officer_pin_failed", code)
        return _staff_page(401, _("Wrong officer or PIN; nothing was changed."))
    ratelimit.reset("kiosk-pin", code)
    session["kiosk_staff"] = {"o": officer.code, "until": time.time() + STAFF_SESSION_S}
    return redirect(url_for("kiosk.staff"), code=303)


def _require_staff() -> Officer:
    officer = _staff_officer()
    if officer is None:
        raise ServiceError("staff_sign_in_required", status=401)
    return officer


@bp.post("/staff/arm")
def staff_arm():
    """Arm the kiosk for the transaction being served; the next rating carries it."""
    _require_staff()
    form = {"dossier_code": request.form.get("dossier_code", "")[:200],
            "procedure_code": request.form.get("procedure_code", "")[:200]}
    try:
        armed = kiosk_staff.arm(request.form.get("dossier_code"),
                                request.form.get("procedure_code"))
    except ServiceError as error:
        return _staff_page(error.status, words(error, ERRORS), form=form)
    flash(_("Armed: the next rating carries dossier %(code)s.", code=armed.dossier_code),
          "success")
    return redirect(url_for("kiosk.staff"), code=303)


@bp.post("/staff/sign-out")
def staff_sign_out():
    """End the shift of the officer who opened the screen, and close the screen."""
    officer = _require_staff()
    kiosk_staff.sign_out(officer.code)
    session.pop("kiosk_staff", None)
    return redirect(_reset_url(), code=303)


@bp.post("/staff/close")
def staff_close():
    """Close the staff screen (the officer stays on duty) and return to the rating screen."""
    session.pop("kiosk_staff", None)
    return redirect(_reset_url(), code=303)


# --- local API for the counter's software -------------------------------------------------------


def _api_error(status: int, message: str):
    response = jsonify({"error": {"status": status, "message": message}})
    response.status_code = status
    return response


@bp.post("/api/arm")
@csrf.exempt
def api_arm():
    """Arm a transaction from the counter's software: loopback only, key in X-Kiosk-Key."""
    if request.remote_addr not in LOOPBACK:
        return _api_error(403, _("This call is accepted only from this device."))
    if not current_app.config.get("KIOSK_LOCAL_API_KEY"):
        return _api_error(403, _("The local API is switched off on this kiosk."))
    client = request.remote_addr or "local"
    if ratelimit.exceeded("kiosk-api", client, API_KEY_LIMIT):
        return _api_error(429, _("Too many attempts. Please wait a moment and try again."))
    if not kiosk_staff.local_key_matches(request.headers.get("X-Kiosk-Key")):
        ratelimit.hit("kiosk-api", client, API_KEY_LIMIT)
        return _api_error(401, _("Missing or wrong X-Kiosk-Key header."))
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str | None) for k in ("dossier_code", "procedure_code")):
        return _api_error(400, _("Send a JSON object with dossier_code and, optionally, "
                                 "procedure_code."))
    try:
        armed = kiosk_staff.arm(body.get("dossier_code"), body.get("procedure_code"))
    except ServiceError as error:
        return _api_error(422 if error.status == 400 else error.status, words(error, ERRORS))
    return jsonify({"armed": {"dossier_code": armed.dossier_code,
                              "procedure_code": armed.procedure_code,
                              "armed_at": armed.armed_at.isoformat()}}), 201


# --- technician status ---------------------------------------------------------------------------


def _tech_open() -> bool:
    until = session.get("kiosk_tech_until")
    if not isinstance(until, int | float) or until < time.time():
        session.pop("kiosk_tech_until", None)
        return False
    return True


def _status_page(status: int = 200, error: str | None = None):
    opened = _tech_open()
    response = make_response(render_template(
        "kiosk/status.html", opened=opened, info=outbox.status() if opened else None,
        reject_words=reject_words,
        error=error, configured=bool(current_app.config.get("KIOSK_TECH_PIN")),
        timeout=TECH_SESSION_S))
    response.status_code = status
    return response


@bp.get("/status")
def status():
    """The technician's view of the outbox and sync health, behind the technician PIN."""
    return _status_page()


@bp.post("/status")
def status_unlock():
    """Check the technician PIN (rate-limited for the whole kiosk)."""
    if not current_app.config.get("KIOSK_TECH_PIN"):
        return _status_page(403, _("No technician PIN is set on this kiosk "
                                   "(SIPAS_KIOSK_TECH_PIN)."))
    if ratelimit.exceeded("kiosk-tech-pin", "*", TECH_PIN_LIMIT):
        return _status_page(429, _("Too many wrong PINs. Please wait a few minutes and try "
                                   "again."))
    if not kiosk_staff.tech_pin_matches((request.form.get("pin") or "")[:32]):
        ratelimit.hit("kiosk-tech-pin", "*", TECH_PIN_LIMIT)
        kiosk_staff.record_access("kiosk.tech_pin_failed")
        return _status_page(401, _("Wrong technician PIN."))
    ratelimit.reset("kiosk-tech-pin", "*")
    kiosk_staff.record_access("kiosk.status_opened")
    session["kiosk_tech_until"] = time.time() + TECH_SESSION_S
    return redirect(url_for("kiosk.status"), code=303)


@bp.post("/status/close")
def status_close():
    """Close the status screen and return to the rating screen."""
    session.pop("kiosk_tech_until", None)
    return redirect(_reset_url(), code=303)


# --- setup: enrolling this kiosk at an aggregator ------------------------------------------------

# What the technician reads for each refusal of kiosk.sync.enroll (its SyncFailure codes).
ENROLL_ERRORS = {
    "bad_url": (400, _l("The aggregator address must start with http:// or https:// and name a "
                        "server, for example https://hailong.example.gov.vn.")),
    "already_enrolled": (409, _l("This kiosk is already enrolled. Tick \"Replace this kiosk's "
                                 "current enrollment\" to enroll it again.")),
    "network": (502, _l("The aggregator could not be reached. Check the address and the "
                        "network, then try again.")),
    "not_aggregator": (502, _l("The server at this address answered, but it is not a SIPAS "
                               "aggregator. Check the address.")),
    "invalid_code": (400, _l("This enrollment code is not valid or was already used. Ask the "
                             "administrator for a new one.")),
    "code_expired": (400, _l("This enrollment code has expired. Ask the administrator for a "
                             "new one.")),
    "rate_limited": (429, _l("Too many enrollment attempts. Please wait a few minutes and try "
                             "again.")),
}


def _setup_page(form: EnrollForm, status: int = 200, error: str | None = None):
    response = make_response(render_template(
        "kiosk/setup.html", form=form, info=outbox.status(), error=error,
        timeout=TECH_SESSION_S))
    response.status_code = status
    return response


@bp.get("/setup")
def setup():
    """Enroll this kiosk (technician PIN first, on the status page)."""
    if not _tech_open():
        return redirect(url_for("kiosk.status"), code=303)
    form = EnrollForm()
    # SIPAS_AGGREGATOR_URL pre-fills the address (the technician may change it).
    if not form.server.data:
        form.server.data = current_app.config.get("AGGREGATOR_URL") or ""
    return _setup_page(form)


@bp.post("/setup")
def setup_enroll():
    """Exchange the one-time code through kiosk.sync.enroll, the same path as the CLI."""
    if not _tech_open():
        raise ServiceError("technician_pin_required", status=401)
    form = EnrollForm()
    if not form.validate_on_submit():
        return _setup_page(form, 400)
    try:
        sync.enroll(form.server.data, form.code.data, replace=form.replace.data,
                    actor="technician")
    except sync.SyncFailure as failure:
        status, message = ENROLL_ERRORS.get(failure.code or "", (
            502, _l("The aggregator refused the enrollment (%(reason)s).",
                    reason=failure.code or failure.status)))
        kiosk_staff.record_access("kiosk.enroll_failed", "technician", reason=failure.code)
        return _setup_page(form, status, str(message))
    info = outbox.status()
    flash(_("This kiosk is enrolled as %(id)s at %(server)s.", id=info.kiosk_id,
            server=info.aggregator), "success")
    return redirect(url_for("kiosk.status"), code=303)

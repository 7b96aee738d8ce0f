"""Kiosk logic: what each screen shows, capturing taps durably, staff shifts and armed transactions.

Only this module writes to the kiosk's tables (views never touch the session). Every write unit
starts with ``core.database.begin_write()`` and ends with one commit, so a tap is on disk
(SQLite WAL, ``synchronous=FULL``) before the view answers the finger.
"""

from __future__ import annotations

import hmac
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core import qr, tokens
from core.codes import CODE_CHARACTERS, DOSSIER_CODE_MAX
from core.database import begin_write
from core.extensions import db
from core.models.kiosk_local import ArmedTransaction, KioskState, OfficerShift, OutboxRating
from core.models.survey import Questionnaire
from core.models.types import utcnow
from core.passwords import verify_pin
from core.questionnaire_definition import (
    SERVICE_QUESTIONNAIRE,
    FollowupReason,
    default_questionnaire,
    load_definition,
)
from core.services.accounts import audit
from core.version import __version__
from kiosk import identity

# (stored SIPAS level, code, label) per scale; labels are the official wording, faces are SVG.
BUTTONS = {
    3: [
        (5, "very_satisfied", _l("Very satisfied")),
        (4, "satisfied", _l("Satisfied")),
        (2, "not_satisfied", _l("Not satisfied")),
    ],
    5: [
        (5, "very_satisfied", _l("Very satisfied")),
        (4, "satisfied", _l("Satisfied")),
        (3, "neutral", _l("Neutral")),
        (2, "dissatisfied", _l("Dissatisfied")),
        (1, "very_dissatisfied", _l("Very dissatisfied")),
    ],
}

# A tap without a newly armed transaction this soon after one that consumed a transaction is
# taken as a second rating of that transaction (the same citizen tapping again).
REPEAT_WINDOW_S = 120
# Dossier and procedure codes: what the columns hold, printable, no spaces or control characters
# (core/codes.py: with DOSSIER_MAX this is exactly the dossier-code rule).
DOSSIER_MAX, PROCEDURE_MAX = DOSSIER_CODE_MAX, 60
# Slack beyond followup_timeout_s before the sync worker finalises a stale row itself (CONTRACTS).
FOLLOWUP_GRACE_S = 30
# How long a thank-you screen can be reloaded for the rating it names.
THANKS_GRACE_S = 120


def _not_ours() -> str:
    return _("This request was not made on this kiosk; nothing was changed.")


class KioskError(Exception):
    """Input the kiosk refuses; ``status`` is the HTTP code, ``message`` is localised."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Officer:
    code: str
    name: str
    pin_hash: str | None
    photo_url: str | None


@dataclass(frozen=True)
class Settings:
    """``KioskState.config`` with the documented defaults for missing or malformed keys."""

    raw: dict[str, Any]
    scale: int = 3
    min_interval_s: int = 5
    require_transaction: bool = False
    idle_timeout_s: int = 15
    followup_timeout_s: int = 20
    survey_token_days: int = 7
    public_url: str | None = None
    officers: tuple[Officer, ...] = ()
    kiosk_id: str | None = None
    unit_id: int | None = None
    counter_id: int | None = None
    counter_name: str | None = None
    languages: tuple[str, ...] = ("vi", "en")

    def officer(self, code: str) -> Officer | None:
        for officer in self.officers:
            if officer.code == code:
                return officer
        return None


def _whole(value: Any, default: int, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        return default
    return value


def _officers(value: Any) -> tuple[Officer, ...]:
    found = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            continue
        photo = entry.get("photo_url")
        found.append(Officer(
            code=entry["code"][:40],
            name=str(entry.get("name") or entry["code"])[:200],
            pin_hash=entry.get("pin_hash") if isinstance(entry.get("pin_hash"), str) else None,
            # Only local images pass the CSP (img-src 'self' data:); others are left out.
            photo_url=photo if isinstance(photo, str) and photo.startswith(("/", "data:image/"))
            else None,
        ))
    return tuple(found)


def _nested(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def settings(current: KioskState | None = None) -> Settings:
    current = current if current is not None else state()
    config = current.config if current is not None and isinstance(current.config, dict) else {}
    counter = _nested(config, "counter")
    public_url = config.get("public_url")
    languages = tuple(c for c in config.get("languages") or () if c in ("vi", "en")) or (
        "vi", "en")
    return Settings(
        raw=config,
        scale=config.get("scale") if config.get("scale") in (3, 5) else 3,
        min_interval_s=_whole(config.get("min_interval_s"), 5, 0, 3600),
        require_transaction=config.get("require_transaction") is True,
        idle_timeout_s=_whole(config.get("idle_timeout_s"), 15, 1, 3600),
        followup_timeout_s=_whole(config.get("followup_timeout_s"), 20, 1, 3600),
        survey_token_days=_whole(config.get("survey_token_days"),
                                 current_app.config.get("SURVEY_TOKEN_DAYS", 7), 1, 366),
        public_url=public_url.rstrip("/") if isinstance(public_url, str)
        and public_url.startswith(("http://", "https://")) else None,
        officers=_officers(config.get("officers")),
        kiosk_id=_nested(config, "kiosk").get("id") or (current.kiosk_public_id if current
                                                        else None),
        unit_id=_id(_nested(config, "unit").get("id")),
        counter_id=_id(counter.get("id")),
        counter_name=counter.get("name") if isinstance(counter.get("name"), str) else None,
        languages=languages,
    )


def state() -> KioskState | None:
    return db.session.get(KioskState, 1)


def followup_reasons() -> tuple[FollowupReason, ...]:
    """The follow-up chips of the active questionnaire (the default one until sync stores one)."""
    # The kiosk's own database (the survey services are the aggregator's).
    row = db.session.scalar(select(Questionnaire).where(
        Questionnaire.code == SERVICE_QUESTIONNAIRE, Questionnaire.active.is_(True)))
    if row is not None:
        return load_definition(row.definition).followup_reasons
    return _default_reasons()


_DEFAULT_REASONS: tuple[FollowupReason, ...] | None = None


def _default_reasons() -> tuple[FollowupReason, ...]:
    global _DEFAULT_REASONS
    if _DEFAULT_REASONS is None:
        _DEFAULT_REASONS = default_questionnaire().followup_reasons
    return _DEFAULT_REASONS


# --- screens ---------------------------------------------------------------------------------


@dataclass
class IdleScreen:
    counter_name: str | None
    officer_name: str | None
    officer_photo: str | None
    scale: int
    buttons: list
    languages: tuple[str, ...] = field(default=("vi", "en"))


def on_duty() -> OfficerShift | None:
    """The officer signed in at this kiosk now (the latest open shift)."""
    return db.session.scalar(
        select(OfficerShift).where(OfficerShift.signed_out_at.is_(None))
        .order_by(OfficerShift.signed_in_at.desc(), OfficerShift.id.desc()).limit(1)
    )


def idle_screen() -> IdleScreen:
    config = settings()
    shift = on_duty()
    officer = config.officer(shift.officer_code) if shift else None
    return IdleScreen(
        counter_name=config.counter_name,
        officer_name=shift.officer_name if shift else None,
        officer_photo=officer.photo_url if officer else None,
        scale=config.scale,
        buttons=BUTTONS[config.scale],
        languages=config.languages,
    )


# --- references that bind a screen to the rating just made ------------------------------------


def _ref_key() -> bytes:
    return tokens.aggregator_key(current_app.config["SECRET_KEY"], "kiosk-screen-ref")


def make_ref(rating_uuid: str, purpose: str, seconds: int) -> str:
    """A signed, expiring reference to one rating, for one purpose ("f" follow-up, "t" thanks)."""
    return tokens.sign({"r": rating_uuid, "p": purpose, "exp": int(time.time()) + seconds},
                       _ref_key())


def read_ref(ref: str | None, purpose: str) -> str:
    """The rating uuid a reference names; KioskError 400 (forged) or 410 (expired)."""
    try:
        payload = tokens.verify(ref or "", _ref_key())
    except tokens.SignedTokenError as exc:
        if exc.reason == "expired":
            raise KioskError(410, _("This screen has expired; nothing was changed.")) from None
        raise KioskError(400, _not_ours()) from None
    if payload.get("p") != purpose or not isinstance(payload.get("r"), str):
        raise KioskError(400, _not_ours())
    return payload["r"]


# --- the tap ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TapResult:
    uuid: str
    seq: int
    level: int
    misuse: str | None
    needs_followup: bool


def parse_level(raw: str | None, scale: int) -> int:
    """The SIPAS level of a button of the configured scale; KioskError 400 for anything else."""
    # Exact strings only: int() would also accept " 4", "+4" and other scripts' digits.
    allowed = {str(button[0]): button[0] for button in BUTTONS[scale]}
    if raw not in allowed:
        raise KioskError(400, _("This answer is not one of the buttons; nothing was "
                                     "recorded. Please tap one of the faces."))
    return allowed[raw]


def _locked_state() -> KioskState:
    """The state row, locked for this write unit (created on a fresh kiosk's first tap)."""
    for _attempt in range(3):
        current = db.session.scalar(
            select(KioskState).where(KioskState.id == 1).with_for_update()
        )
        if current is not None:
            return current
        try:
            with db.session.begin_nested():
                db.session.add(KioskState(id=1, next_seq=1))
        except IntegrityError:
            continue  # another worker created it first; lock theirs
    raise RuntimeError("kiosk_state row could neither be read nor created")


def _current_armed() -> ArmedTransaction | None:
    return db.session.scalar(
        select(ArmedTransaction).where(ArmedTransaction.used_at.is_(None))
        .order_by(ArmedTransaction.armed_at.desc(), ArmedTransaction.id.desc()).limit(1)
    )


def _last_used() -> ArmedTransaction | None:
    return db.session.scalar(
        select(ArmedTransaction).where(ArmedTransaction.rating_uuid.is_not(None))
        .order_by(ArmedTransaction.used_at.desc(), ArmedTransaction.id.desc()).limit(1)
    )


def _already_rated(dossier_code: str) -> bool:
    return db.session.scalar(
        select(func.count()).select_from(ArmedTransaction).where(
            ArmedTransaction.dossier_code == dossier_code,
            ArmedTransaction.rating_uuid.is_not(None),
        )
    ) > 0


def record_tap(raw_level: str | None) -> TapResult:
    """Store one tap durably, with its uuid and the next sequence number, in one transaction.

    Misuse is flagged, never dropped: a second rating of one transaction (``repeat_transaction``),
    a tap within the minimum interval of the previous one (``too_fast``), an unarmed tap in
    require-transaction mode (``no_transaction``), in that order of precedence.
    """
    begin_write()
    try:
        current = _locked_state()
        config = settings(current)
        level = parse_level(raw_level, config.scale)
        now = utcnow()
        rating_uuid = str(uuidlib.uuid4())
        shift = on_duty()
        armed = _current_armed()
        misuse: str | None = None
        dossier = procedure = None
        if armed is not None:
            dossier, procedure = armed.dossier_code, armed.procedure_code
            if _already_rated(armed.dossier_code):
                misuse = "repeat_transaction"
            armed.used_at, armed.rating_uuid = now, rating_uuid
        else:
            previous = _last_used()
            if previous is not None and previous.used_at is not None and (
                    timedelta(0) <= now - previous.used_at <= timedelta(seconds=REPEAT_WINDOW_S)):
                # The transaction was rated moments ago: this is the same citizen tapping again.
                dossier, procedure = previous.dossier_code, previous.procedure_code
                misuse = "repeat_transaction"
        if misuse is None and current.last_tap_at is not None and config.min_interval_s:
            # A clock set backwards gives a negative gap, which is not a fast tap.
            gap = now - current.last_tap_at
            if timedelta(0) <= gap < timedelta(seconds=config.min_interval_s):
                misuse = "too_fast"
        if misuse is None and config.require_transaction and dossier is None:
            misuse = "no_transaction"
        seq = current.next_seq or 1
        satisfied = level >= 4
        db.session.add(OutboxRating(
            uuid=rating_uuid, seq=seq, scale=config.scale, level=level, reasons=None,
            officer_code=shift.officer_code if shift else None, dossier_code=dossier,
            procedure_code=procedure, misuse=misuse, device_time=now,
            finalised_at=now if satisfied else None, status="pending", attempts=0,
        ))
        current.next_seq = seq + 1
        current.last_tap_at = now
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return TapResult(rating_uuid, seq, level, misuse, needs_followup=not satisfied)


def pending_followup(rating_uuid: str) -> OutboxRating:
    """The rating a follow-up screen names, still waiting for its answer; 409 once finalised."""
    rating = db.session.scalar(select(OutboxRating).where(OutboxRating.uuid == rating_uuid))
    if rating is None:
        raise KioskError(400, _not_ours())
    if rating.finalised_at is not None:
        raise KioskError(409, _("This answer was already recorded; nothing was changed."))
    return rating


def answer_followup(rating_uuid: str, raw_reasons: list[str], skip: bool) -> None:
    """Set the reasons and finalise, only if the rating is still open (a late answer is refused).

    ``UPDATE ... WHERE finalised_at IS NULL`` is the whole check, so a replay, a double submit or
    an answer after the sync worker finalised the row changes nothing.
    """
    codes = [reason.code for reason in followup_reasons()]
    chosen = [] if skip else list(dict.fromkeys(raw_reasons))
    if len(raw_reasons) > len(codes) or any(code not in codes for code in chosen):
        raise KioskError(400, _("This choice is not on the list; nothing was recorded."))
    begin_write()
    try:
        result = db.session.execute(
            update(OutboxRating)
            .where(OutboxRating.uuid == rating_uuid, OutboxRating.finalised_at.is_(None))
            .values(reasons=[code for code in codes if code in chosen],
                    finalised_at=utcnow())
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if result.rowcount != 1:  # type: ignore[attr-defined]
        exists = db.session.scalar(select(OutboxRating.id).where(OutboxRating.uuid == rating_uuid))
        if exists is None:
            raise KioskError(400, _not_ours())
        raise KioskError(409, _("This answer was already recorded; nothing was changed."))


# --- the thank-you screen --------------------------------------------------------------------


@dataclass(frozen=True)
class Thanks:
    survey_url: str | None
    qr_svg: str | None


def survey_url(rating: OutboxRating, config: Settings,
               credentials: identity.Credentials | None) -> str | None:
    """The phone-survey link for a rating, signed by this kiosk (None when not enrolled)."""
    if credentials is None:
        return None
    payload = {
        "t": "k",
        "k": credentials.kiosk_id,
        "r": rating.uuid,
        "s": rating.seq,
        "u": config.unit_id,
        "c": config.counter_id,
        "o": rating.officer_code,
        "d": rating.dossier_code,
        "p": rating.procedure_code,
        "exp": int(time.time()) + config.survey_token_days * 86400,
    }
    base = config.public_url or credentials.server_url
    return f"{base}/s/{tokens.sign(payload, credentials.secret)}"


def qr_svg(data: str) -> str:
    """The QR code as inline SVG markup (core/qr.py; drawn locally, no outside service sees it)."""
    return qr.inline_svg(data)


def thanks(rating_uuid: str) -> Thanks:
    rating = db.session.scalar(select(OutboxRating).where(OutboxRating.uuid == rating_uuid))
    if rating is None:
        raise KioskError(400, _not_ours())
    url = survey_url(rating, settings(), identity.load())
    return Thanks(survey_url=url, qr_svg=qr_svg(url) if url else None)


# --- staff: shifts and armed transactions ----------------------------------------------------


def clean_code(raw: str | None, maximum: int, required: bool) -> str | None:
    """A dossier or procedure code, trimmed; KioskError 400 when too long or malformed."""
    value = (raw or "").strip()
    if not value:
        if required:
            raise KioskError(400, _("Enter the dossier code."))
        return None
    if len(value) > maximum:
        raise KioskError(400, _("The code is too long (at most %(n)s characters); nothing "
                                     "was changed.", n=maximum))
    if not CODE_CHARACTERS.fullmatch(value):
        raise KioskError(400, _("The code may contain only letters, digits and . _ : / -; "
                                     "nothing was changed."))
    return value


def sign_in(officer_code: str, pin: str) -> Officer | None:
    """Verify the officer's PIN; on success the officer is on duty (any other shift ends)."""
    officer = settings().officer(officer_code)
    if officer is None or not verify_pin(officer.pin_hash, pin):
        return None
    begin_write()
    try:
        now = utcnow()
        shift = on_duty()
        open_shifts = db.session.scalars(
            select(OfficerShift).where(OfficerShift.signed_out_at.is_(None))).all()
        if shift is None or shift.officer_code != officer.code:
            for other in open_shifts:
                other.signed_out_at = now
            db.session.add(OfficerShift(officer_code=officer.code, officer_name=officer.name,
                                        signed_in_at=now))
        audit.record("kiosk.officer_sign_in", username=officer.code, target_type="officer",
                     target_id=officer.code)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return officer


def sign_out(officer_code: str) -> bool:
    """End the officer's open shift; False when they were not on duty."""
    begin_write()
    try:
        result = db.session.execute(
            update(OfficerShift)
            .where(OfficerShift.officer_code == officer_code, OfficerShift.signed_out_at.is_(None))
            .values(signed_out_at=utcnow())
        )
        audit.record("kiosk.officer_sign_out", username=officer_code, target_type="officer",
                     target_id=officer_code)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return bool(result.rowcount)  # type: ignore[attr-defined]


def arm(raw_dossier: str | None, raw_procedure: str | None) -> ArmedTransaction:
    """Arm the kiosk for one transaction; the next tap carries it. Replaces an unused one."""
    dossier = clean_code(raw_dossier, DOSSIER_MAX, required=True)
    procedure = clean_code(raw_procedure, PROCEDURE_MAX, required=False)
    begin_write()
    try:
        now = utcnow()
        # A transaction armed but never rated is superseded: used, with no rating.
        db.session.execute(
            update(ArmedTransaction).where(ArmedTransaction.used_at.is_(None)).values(used_at=now)
        )
        armed = ArmedTransaction(dossier_code=dossier, procedure_code=procedure, armed_at=now)
        db.session.add(armed)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return armed


def record_access(action: str, who: str | None = None, **details: Any) -> None:
    """Audit a PIN failure or a technician opening the status page (its own write unit)."""
    begin_write()
    try:
        audit.record(action, username=(who or "")[:80] or None, target_type="kiosk",
                     details=details or None)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def armed_now() -> ArmedTransaction | None:
    return _current_armed()


def _setting_matches(setting: str, given: str | None) -> bool:
    """Constant-time comparison with a secret setting; False when the setting is not set."""
    expected = current_app.config.get(setting)
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def local_key_matches(given: str | None) -> bool:
    """The counter software's key (``SIPAS_KIOSK_LOCAL_API_KEY``)."""
    return _setting_matches("KIOSK_LOCAL_API_KEY", given)


def tech_pin_matches(given: str | None) -> bool:
    """The technician PIN (``SIPAS_KIOSK_TECH_PIN``) of the status and setup pages."""
    return _setting_matches("KIOSK_TECH_PIN", given)


# --- status for the technician ---------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    seq: int
    uuid: str
    reason: str  # in words, in the reader's language
    device_time: datetime
    code: str  # the aggregator's machine code


@dataclass(frozen=True)
class Status:
    version: str
    enrolled: bool
    kiosk_id: str | None
    aggregator: str | None
    enrolled_at: datetime | None
    waiting: int
    waiting_open: int
    oldest_waiting_age_s: int | None
    next_seq: int
    total: int
    last_sync_at: datetime | None
    last_sync_outcome: str | None
    last_success_at: datetime | None
    clock_offset_s: float | None
    rejected: list[Rejected]
    rejected_total: int
    rejected_by_reason: list[tuple[str, str, int]]  # code, words in the reader's language, count
    officer_name: str | None


def queue_stats(now: datetime) -> tuple[int, int | None]:
    """Ratings not yet confirmed by the aggregator and the oldest one's age in whole seconds.

    The one count behind the status page and the sync worker's heartbeat.
    """
    depth, oldest = db.session.execute(
        select(func.count(OutboxRating.id), func.min(OutboxRating.device_time))
        .where(OutboxRating.status == "pending")
    ).one()
    age = None
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        age = max(0, int((now - oldest).total_seconds()))
    return int(depth), age


def reject_code(stored: str | None) -> str:
    """The machine code of a stored refusal ("seq_conflict: Another rating ..." -> seq_conflict)."""
    return (stored or "rejected").split(":", 1)[0].strip() or "rejected"


def rejected_by_reason() -> list[tuple[str, str, int]]:
    """Refused ratings counted by reason, most frequent first, each reason in words."""
    from kiosk.refusals import reason_words

    counts: dict[str, int] = {}
    for stored, count in db.session.execute(
        select(OutboxRating.reject_reason, func.count())
        .where(OutboxRating.status == "rejected").group_by(OutboxRating.reject_reason)
    ):
        code = reject_code(stored)
        counts[code] = counts.get(code, 0) + int(count)
    return [(code, reason_words(code), n)
            for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def status(rejected_limit: int = 50) -> Status:
    """Everything the technician's status page (and the setup page) shows, in one place."""
    from kiosk.refusals import reason_words

    current = state()
    credentials = identity.load()
    waiting, oldest_age = queue_stats(utcnow())
    waiting_open = db.session.scalar(select(func.count()).select_from(OutboxRating).where(
        OutboxRating.status == "pending", OutboxRating.finalised_at.is_(None))) or 0
    total = db.session.scalar(select(func.count()).select_from(OutboxRating)) or 0
    rejected_total = db.session.scalar(select(func.count()).select_from(OutboxRating).where(
        OutboxRating.status == "rejected")) or 0
    rejected = [
        Rejected(row.seq, row.uuid, reason_words(reject_code(row.reject_reason)),
                 row.device_time, reject_code(row.reject_reason))
        for row in db.session.scalars(
            select(OutboxRating).where(OutboxRating.status == "rejected")
            .order_by(OutboxRating.seq.desc()).limit(rejected_limit))
    ]
    shift = on_duty()
    return Status(
        rejected_by_reason=rejected_by_reason(),
        version=__version__,
        enrolled=credentials is not None,
        kiosk_id=(credentials.kiosk_id if credentials else None)
        or (current.kiosk_public_id if current else None),
        aggregator=(credentials.server_url if credentials else None)
        or (current.server_url if current else None),
        enrolled_at=current.enrolled_at if current else None,
        waiting=waiting,
        waiting_open=waiting_open,
        oldest_waiting_age_s=oldest_age,
        next_seq=(current.next_seq if current else None) or 1,
        total=total,
        last_sync_at=current.last_sync_at if current else None,
        last_sync_outcome=current.last_sync_outcome if current else None,
        last_success_at=current.last_success_at if current else None,
        clock_offset_s=current.clock_offset_s if current else None,
        rejected=rejected,
        rejected_total=rejected_total,
        officer_name=shift.officer_name if shift else None,
    )

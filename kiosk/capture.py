"""The citizen's side of the counter: the idle screen, capturing a tap durably, its follow-up.

Only the kiosk's services write to its tables (views never touch the session). A service that
writes is a ``@write_unit`` (BEGIN IMMEDIATE on SQLite, flush, roll back on error) and never
commits: the request commits once, after the view has returned and before the first byte of the
answer leaves, so "thank you" is shown only for a tap that is on disk (SQLite WAL,
``synchronous=FULL``).
"""

from __future__ import annotations

import time
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core import tokens
from core.extensions import db
from core.models.kiosk_local import ArmedTransaction, KioskState, OutboxRating
from core.models.types import utcnow
from core.services.errors import ServiceError
from core.services.unit_of_work import write_unit
from kiosk.configuration import followup_reasons, settings
from kiosk.staff import armed_now, on_duty

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
# Slack beyond followup_timeout_s before the sync worker finalises a stale row itself (CONTRACTS).
FOLLOWUP_GRACE_S = 30
# How long a thank-you screen can be reloaded for the rating it names.
THANKS_GRACE_S = 120


# --- the idle screen -----------------------------------------------------------------------------


@dataclass
class IdleScreen:
    counter_name: str | None
    officer_name: str | None
    officer_photo: str | None
    scale: int
    buttons: list
    languages: tuple[str, ...] = field(default=("vi", "en"))


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
    """The rating uuid a reference names; ``not_this_kiosk`` (forged) or ``screen_expired``."""
    try:
        payload = tokens.verify(ref or "", _ref_key())
    except tokens.SignedTokenError as exc:
        if exc.reason == "expired":
            raise ServiceError("screen_expired", status=410) from None
        raise ServiceError("not_this_kiosk") from None
    if payload.get("p") != purpose or not isinstance(payload.get("r"), str):
        raise ServiceError("not_this_kiosk")
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
    """The SIPAS level of a button of the configured scale; ``not_a_button`` for anything else."""
    # Exact strings only: int() would also accept " 4", "+4" and other scripts' digits.
    allowed = {str(button[0]): button[0] for button in BUTTONS[scale]}
    if raw not in allowed:
        raise ServiceError("not_a_button")
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


@write_unit
def record_tap(raw_level: str | None) -> TapResult:
    """Store one tap, with its uuid and the next sequence number, in one write unit.

    Misuse is flagged, never dropped: a second rating of one transaction (``repeat_transaction``),
    a tap within the minimum interval of the previous one (``too_fast``), an unarmed tap in
    require-transaction mode (``no_transaction``), in that order of precedence.
    """
    current = _locked_state()
    config = settings(current)
    level = parse_level(raw_level, config.scale)
    now = utcnow()
    rating_uuid = str(uuidlib.uuid4())
    shift = on_duty()
    armed = armed_now()
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
    return TapResult(rating_uuid, seq, level, misuse, needs_followup=not satisfied)


# --- the follow-up ---------------------------------------------------------------------------


def pending_followup(rating_uuid: str) -> OutboxRating:
    """The rating a follow-up screen names, still waiting for its answer; 409 once finalised."""
    rating = db.session.scalar(select(OutboxRating).where(OutboxRating.uuid == rating_uuid))
    if rating is None:
        raise ServiceError("not_this_kiosk")
    if rating.finalised_at is not None:
        raise ServiceError("already_answered", status=409)
    return rating


def answer_followup(rating_uuid: str, raw_reasons: list[str], skip: bool) -> None:
    """Set the reasons and finalise, only if the rating is still open (a late answer is refused).

    ``UPDATE ... WHERE finalised_at IS NULL`` is the whole check, so a replay, a double submit or
    an answer after the sync worker finalised the row changes nothing.
    """
    codes = [reason.code for reason in followup_reasons()]
    chosen = [] if skip else list(dict.fromkeys(raw_reasons))
    if len(raw_reasons) > len(codes) or any(code not in codes for code in chosen):
        raise ServiceError("not_a_reason")
    if not _finalise(rating_uuid, [code for code in codes if code in chosen]):
        exists = db.session.scalar(select(OutboxRating.id).where(OutboxRating.uuid == rating_uuid))
        if exists is None:
            raise ServiceError("not_this_kiosk")
        raise ServiceError("already_answered", status=409)


@write_unit
def _finalise(rating_uuid: str, reasons: list[str]) -> bool:
    """Finalise the rating with these reasons; False when it was not open (or not ours)."""
    result = db.session.execute(
        update(OutboxRating)
        .where(OutboxRating.uuid == rating_uuid, OutboxRating.finalised_at.is_(None))
        .values(reasons=reasons, finalised_at=utcnow())
    )
    return result.rowcount == 1  # type: ignore[attr-defined]

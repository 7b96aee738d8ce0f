"""Kiosk logic: what the idle screen shows, and capturing taps durably."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from core.extensions import db
from kiosk.models import KioskState

# (stored SIPAS level, code, label, face) per scale; labels are the official wording.
BUTTONS = {
    3: [
        (5, "very_satisfied", _l("Very satisfied"), "😄"),
        (4, "satisfied", _l("Satisfied"), "🙂"),
        (2, "not_satisfied", _l("Not satisfied"), "🙁"),
    ],
    5: [
        (5, "very_satisfied", _l("Very satisfied"), "😄"),
        (4, "satisfied", _l("Satisfied"), "🙂"),
        (3, "neutral", _l("Neutral"), "😐"),
        (2, "dissatisfied", _l("Dissatisfied"), "🙁"),
        (1, "very_dissatisfied", _l("Very dissatisfied"), "😠"),
    ],
}


@dataclass
class IdleScreen:
    counter_name: str | None
    officer_name: str | None
    scale: int
    buttons: list


def state() -> KioskState | None:
    return db.session.get(KioskState, 1)


def idle_screen() -> IdleScreen:
    current = state()
    config = (current.config if current else None) or {}
    scale = config.get("scale", 3) if config.get("scale") in (3, 5) else 3
    return IdleScreen(
        counter_name=(config.get("counter") or {}).get("name"),
        officer_name=None,
        scale=scale,
        buttons=BUTTONS[scale],
    )

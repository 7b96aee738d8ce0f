"""Helpers for the dashboard tests: store ratings and responses the way ingest does.

Rows are written with the rollup keys of docs/DEVELOPING.md ("Rollups") in the same transaction,
so the dashboard reads exactly what the sync and survey branches will write.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.extensions import db
from core.models import (
    Counter,
    Kiosk,
    KioskRating,
    Officer,
    Questionnaire,
    SurveyAnswer,
    SurveyResponse,
    Unit,
    User,
)
from core.services import rollups
from core.services.accounts.users import create_user
from core.services.rollups import Key

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "dashboard-pass-123"


def unit(code: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.code == code))


def counter_of(code: str) -> Counter:
    return db.session.scalar(select(Counter).join(Unit).where(Unit.code == code).limit(1))


def officer(code: str) -> Officer:
    return db.session.scalar(select(Officer).where(Officer.code == code))


def kiosk_for(counter: Counter) -> Kiosk:
    kiosk = db.session.scalar(select(Kiosk).where(Kiosk.counter_id == counter.id))
    if kiosk is None:
        kiosk = Kiosk(public_id=str(uuid.uuid4()), unit_id=counter.unit_id,
                      counter_id=counter.id, name="test kiosk", status="active")
        db.session.add(kiosk)
        db.session.flush()
    return kiosk


def tap(counter: Counter, day: date, level: int, *, hour: int = 9, misuse: str | None = None,
        officer_id: int | None = None, procedure_id: int | None = None,
        reasons: list[str] | None = None, scale: int = 3) -> KioskRating:
    """One kiosk tap stored with its rollup keys (as the sync ingest does)."""
    kiosk = kiosk_for(counter)
    seq = (kiosk.max_seq or 0) + 1
    kiosk.max_seq = seq
    moment = datetime.combine(day, time(hour, 15), LOCAL).astimezone(UTC)
    rating = KioskRating(
        uuid=str(uuid.uuid4()), kiosk_id=kiosk.id, seq=seq, unit_id=counter.unit_id,
        counter_id=counter.id, officer_id=officer_id, procedure_id=procedure_id, scale=scale,
        level=level, reasons=reasons, misuse=misuse, device_time=moment, received_at=moment,
        local_day=day, local_hour=hour,
    )
    db.session.add(rating)
    dims = {"counter_id": counter.id, "officer_id": officer_id or 0,
            "procedure_id": procedure_id or 0, "misuse": misuse is not None}
    keys = [Key(counter.unit_id, day, "kiosk", "TAP", level, **dims)]
    keys += [Key(counter.unit_id, day, "kiosk", f"reason:{r}", 0, **dims) for r in reasons or []]
    rollups.add(keys)
    rollups.add_hours([(counter.unit_id, day, hour, level >= 4)], misuse=misuse is not None)
    return rating


def respond(counter: Counter, day: date, answers: dict[str, int], *, channel: str = "poster",
            misuse: str | None = None, officer_id: int | None = None,
            perception: dict[str, str | list[str]] | None = None,
            comment: str | None = None) -> SurveyResponse:
    """One phone survey stored with its rollup keys (as the survey branch does)."""
    q = db.session.scalar(select(Questionnaire).where(Questionnaire.active.is_(True)))
    perception = perception or {}
    response = SurveyResponse(
        token_key=f"t:{uuid.uuid4()}", channel=channel, questionnaire_id=q.id,
        unit_id=counter.unit_id, counter_id=counter.id, officer_id=officer_id,
        trips=perception.get("trips"), harassment=perception.get("harassment"),
        informal_payment=perception.get("informal_payment"), comment=comment, misuse=misuse,
        submitted_at=datetime.combine(day, time(10), LOCAL).astimezone(UTC), local_day=day,
    )
    response.answers = [SurveyAnswer(item_code=c, level=lv) for c, lv in answers.items()]
    db.session.add(response)
    dims = {"counter_id": counter.id, "officer_id": officer_id or 0,
            "misuse": misuse is not None}
    keys = [Key(counter.unit_id, day, channel, "RESP", 0, **dims)]
    keys += [Key(counter.unit_id, day, channel, c, lv, **dims) for c, lv in answers.items()]
    for question, value in perception.items():
        for option in value if isinstance(value, list) else [value]:
            keys.append(Key(counter.unit_id, day, channel, f"{question}:{option}", 0, **dims))
    rollups.add(keys)
    return response


def user(username: str, role: str, unit_code: str | None) -> User:
    u = create_user(username, PASSWORD, role=role, unit=unit(unit_code) if unit_code else None)
    db.session.commit()
    return u


def login(client, username: str) -> None:
    response = client.post("/admin/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.data[:300]

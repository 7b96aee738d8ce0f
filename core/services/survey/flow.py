"""The phone survey: token checks, the page sequence, drafts, validation and the final submit.

Views only parse the request and render; every rule lives here. Problems come back as stable
codes (``ServiceError.code`` for a link that cannot be used, field error codes), which
survey/messages.py turns into words in the citizen's language, so this module stays free of
display text. Writers follow the transaction convention (core/services/unit_of_work.py): they
flush, and the request commits once the view has answered.

Trust: kiosk tokens are checked with the secret of the kiosk named in the token (docs/DEVELOPING.md,
"Contracts"); poster and dossier tokens with keys derived from SECRET_KEY. One response per
transaction is enforced by the unique ``SurveyResponse.token_key`` at insert time, never by a
check-then-insert; a poster token is shared by many citizens, so each poster survey gets its own
random key.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict

from core import ratelimit
from core.clock import LOCAL_TZ
from core.codes import is_dossier_code
from core.extensions import db
from core.models import (
    Counter,
    Officer,
    Procedure,
    Questionnaire,
    SurveyAnswer,
    SurveyDraft,
    SurveyResponse,
    Unit,
    utcnow,
)
from core.questionnaire_definition import (
    ANSWER_LEVELS,
    Element,
    PerceptionQuestion,
    QuestionnaireDefinition,
)
from core.services import rollups
from core.services.errors import ServiceError
from core.services.survey import questionnaires
from core.services.survey.links import DOSSIER_PURPOSE, POSTER_PURPOSE
from core.services.sync import registry
from core.services.unit_of_work import write_unit
from core.tokens import SignedTokenError, aggregator_key, peek, verify

log = logging.getLogger(__name__)

# Why a survey link cannot be used (the ServiceError code) and the HTTP status it deserves; the
# page says what happened and what to do. "busy": one address started too many poster surveys.
TOKEN_STATUS = {
    "malformed": 400,
    "tampered": 403,
    "unknown": 404,
    "used": 409,
    "expired": 410,
    "revoked": 410,
    "busy": 429,
}

# Poster limits (count, seconds) come from the configuration (core/config.py,
# SIPAS_SURVEY_POSTER_*_LIMIT): a shared counter poster is easy to flood, so submissions over the
# per-IP and per-browser limits are kept but flagged. The per-IP default is generous because a
# service centre's guest Wi-Fi puts many citizens behind one address. Starting a poster survey
# creates a draft row; the start limit bounds the rows one address can create.

# A kiosk signs the expiry with its own clock, which may be behind (a kiosk can run offline for
# days); a token is single-use anyway, so a day of grace costs little and spares the citizen.
KIOSK_CLOCK_GRACE_S = 86400

RATING_PREFIX = "r-"
QUESTION_PREFIX = "q-"
LEVEL_TEXTS = frozenset(str(level) for level in ANSWER_LEVELS)  # "0" (no opinion) to "5"
SAVE_ATTEMPTS = 2


def _refuse(reason: str) -> ServiceError:
    """The link cannot be used: ``reason`` is a key of TOKEN_STATUS."""
    return ServiceError(reason, status=TOKEN_STATUS[reason])


@dataclass(frozen=True)
class Target:
    """What a verified token points at. ``token_key`` is None for posters (one per survey)."""

    kind: str  # "k" kiosk, "p" poster, "d" dossier
    channel: str
    token_key: str | None
    unit_id: int
    unit_name: str
    counter_id: int | None = None
    counter_name: str | None = None
    officer_id: int | None = None
    procedure_id: int | None = None
    procedure_name: str | None = None
    dossier_code: str | None = None
    kiosk_rating_uuid: str | None = None
    kiosk_id: int | None = None

    @property
    def is_poster(self) -> bool:
        return self.kind == "p"


# --- tokens ----------------------------------------------------------------------------------


def resolve(token: str, now: float | None = None) -> Target:
    """Verify a survey token (signature, expiry, kind) and look up what it points at."""
    try:
        payload = peek(token)
    except SignedTokenError as exc:
        raise _refuse("malformed") from exc
    kind = payload.get("t")
    try:
        if kind == "k":
            return _kiosk_target(token, payload, now)
        if kind in ("p", "d"):
            purpose = POSTER_PURPOSE if kind == "p" else DOSSIER_PURPOSE
            key = aggregator_key(current_app.config["SECRET_KEY"], purpose)
            payload = verify(token, key, now)
            return _poster_target(payload) if kind == "p" else _dossier_target(payload)
    except SignedTokenError as exc:
        reason = exc.reason if exc.reason in ("expired", "malformed") else "tampered"
        raise _refuse(reason) from exc
    raise _refuse("malformed")


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: Any, limit: int = 64) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None


def _kiosk_target(token: str, payload: dict[str, Any], now: float | None) -> Target:
    public_id = payload.get("k")
    if not isinstance(public_id, str):
        raise _refuse("malformed")
    # Anything that is not a kiosk id (a NUL byte, which PostgreSQL cannot even compare) is no
    # kiosk: the same lookup as the sync API's.
    kiosk = registry.by_public_id(public_id)
    if kiosk is None or not kiosk.secret:
        raise _refuse("unknown")
    if kiosk.status == "revoked":
        raise _refuse("revoked")
    keys = kiosk.signing_keys()
    verified: dict[str, Any] | None = None
    problem: SignedTokenError | None = None
    lenient = (time.time() if now is None else now) - KIOSK_CLOCK_GRACE_S
    # A kiosk signs for SURVEY_TOKEN_DAYS (its configuration says so); its clock may be ahead.
    longest = current_app.config["SURVEY_TOKEN_DAYS"] * 86400 + 2 * KIOSK_CLOCK_GRACE_S
    for key in keys:
        try:
            verified = verify(token, key, lenient, longest)
            break
        except SignedTokenError as exc:
            problem = exc
            if exc.reason != "tampered":
                break
    if verified is None:
        assert problem is not None
        raise problem
    rating = verified.get("r")
    if not isinstance(rating, str) or not 1 <= len(rating) <= 36:
        raise _refuse("malformed")
    # The kiosk's own record decides the unit; a counter id from the token is used only when it
    # belongs to that unit (the kiosk may have moved counters since it signed).
    unit = db.session.get(Unit, kiosk.unit_id)
    assert unit is not None
    counter = _counter_in_unit(_int_or_none(verified.get("c")), unit.id) or db.session.get(
        Counter, kiosk.counter_id
    )
    officer_id = None
    officer_code = _str_or_none(verified.get("o"), 40)
    if officer_code:
        officer_id = db.session.scalar(
            select(Officer.id).where(Officer.unit_id == unit.id, Officer.code == officer_code)
        )
    procedure = None
    procedure_code = _str_or_none(verified.get("p"), 60)
    if procedure_code:
        procedure = db.session.scalar(select(Procedure).where(Procedure.code == procedure_code))
    return Target(
        kind="k",
        channel="kiosk_qr",
        # A rating uuid is unique only within its kiosk (another kiosk's key holder could sign
        # the same uuid), so the one-response-per-tap key names the kiosk too.
        token_key=f"k:{kiosk.id}:{rating}",
        unit_id=unit.id,
        unit_name=unit.name,
        counter_id=counter.id if counter else None,
        counter_name=counter.name if counter else None,
        officer_id=officer_id,
        procedure_id=procedure.id if procedure else None,
        procedure_name=procedure.name if procedure else None,
        dossier_code=_dossier_or_none(verified.get("d")),
        kiosk_rating_uuid=rating,
        kiosk_id=kiosk.id,
    )


def _dossier_or_none(value: Any) -> str | None:
    """The dossier code a link carries; one that breaks the rule (core/codes.py) makes the
    link malformed, since no signer issues one."""
    if value is None:
        return None
    if not is_dossier_code(value):
        raise _refuse("malformed")
    return value


def _counter_in_unit(counter_id: int | None, unit_id: int) -> Counter | None:
    if counter_id is None:
        return None
    counter = db.session.get(Counter, counter_id)
    return counter if counter is not None and counter.unit_id == unit_id else None


def _unit(payload: dict[str, Any]) -> Unit:
    unit_id = _int_or_none(payload.get("u"))
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None or not unit.active:
        raise _refuse("unknown")
    return unit


def _poster_target(payload: dict[str, Any]) -> Target:
    unit = _unit(payload)
    counter = _counter_in_unit(_int_or_none(payload.get("c")), unit.id)
    if counter is None or not counter.active:
        raise _refuse("unknown")
    return Target(kind="p", channel="poster", token_key=None, unit_id=unit.id,
                  unit_name=unit.name, counter_id=counter.id, counter_name=counter.name)


def _dossier_target(payload: dict[str, Any]) -> Target:
    unit = _unit(payload)
    dossier = _dossier_or_none(payload.get("d"))
    if dossier is None:
        raise _refuse("malformed")
    counter = _counter_in_unit(_int_or_none(payload.get("c")), unit.id)
    procedure_id = _int_or_none(payload.get("p"))
    procedure = db.session.get(Procedure, procedure_id) if procedure_id is not None else None
    return Target(
        kind="d",
        channel="api",
        token_key=f"d:{unit.id}:{dossier}",
        unit_id=unit.id,
        unit_name=unit.name,
        counter_id=counter.id if counter else None,
        counter_name=counter.name if counter else None,
        procedure_id=procedure.id if procedure else None,
        procedure_name=procedure.name if procedure else None,
        dossier_code=dossier,
    )


def new_poster_key(target: Target, ip: str) -> str:
    """A fresh response key for one citizen's poster survey; ServiceError "busy" (429) once one
    address started more than SURVEY_POSTER_START_LIMIT allows."""
    limit = current_app.config["SURVEY_POSTER_START_LIMIT"]
    if not _within("survey-poster-start", ip, limit):
        raise _refuse("busy")
    return f"p:{target.counter_id}:{secrets.token_hex(16)}"


def poster_key_belongs(target: Target, key: str | None) -> bool:
    """A poster key kept in the citizen's session is for this poster's counter."""
    return bool(key) and key.startswith(f"p:{target.counter_id}:") and len(key) <= 80


def browser_hash(browser_id: str) -> str:
    """What the draft keeps to recognise the browser that submitted (not the id itself)."""
    return hashlib.sha256(("sipas-browser:" + browser_id).encode()).hexdigest()[:32]


# --- the questionnaire and its pages ---------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One page of the survey: a rated element, the perception questions, or the comment."""

    number: int
    kind: str  # "element" | "perception" | "comment"
    element: Element | None = None
    questions: tuple[PerceptionQuestion, ...] = ()

    def item_codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.element.items) if self.element else ()


@dataclass(frozen=True)
class Survey:
    """The questionnaire version a draft answers, as pages."""

    row_id: int
    version: int
    definition: QuestionnaireDefinition
    steps: tuple[Step, ...]

    @property
    def total(self) -> int:
        return len(self.steps)

    def step(self, number: int) -> Step | None:
        return self.steps[number - 1] if 1 <= number <= len(self.steps) else None


def build_survey(row: Questionnaire) -> Survey:
    """Pages: the five service elements, the policy elements when enabled, perception, comment."""
    parsed = questionnaires.definition(row)
    pages: list[Step] = []
    for element in parsed.all_elements(include_policy=parsed.policy_enabled):
        pages.append(Step(len(pages) + 1, "element", element=element))
    choice = tuple(q for q in parsed.perception if q.kind in ("single", "multi"))
    text = tuple(q for q in parsed.perception if q.kind == "text")
    if choice:
        pages.append(Step(len(pages) + 1, "perception", questions=choice))
    pages.append(Step(len(pages) + 1, "comment", questions=text))
    return Survey(row.id, row.version, parsed, tuple(pages))


def survey_for(draft: SurveyDraft | None) -> Survey:
    """The version the draft started on, else the active one (a change never mixes versions)."""
    row = None
    if draft is not None and isinstance(draft.data.get("q"), int):
        row = db.session.get(Questionnaire, draft.data["q"])
    if row is None:
        # The first visit ever stores the default questionnaire; the request commits it.
        row = questionnaires.active() or questionnaires.ensure_default()
    return build_survey(row)


# --- answers ---------------------------------------------------------------------------------


def empty_data(survey: Survey) -> dict[str, Any]:
    return {"q": survey.row_id, "ratings": {}, "choices": {}, "multi": {}, "text": {}}


@dataclass
class StepResult:
    """The outcome of posting one page: field errors by field name, or where to go next."""

    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    saved: bool = False


def parse_step(
    step: Step, form: Mapping[str, Sequence[str]], require: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers on one page and field errors (codes), without touching the database.

    With a "too many" or "too long" error the values still hold what was sent, so the page can
    show it again for correction; callers never store values that came with such an error.

    ``form`` maps field names to all their submitted values. Fields of other pages, unknown item
    codes, levels outside 0..5, unknown options, too many choices and over-long text are errors
    whatever ``require`` says; missing answers are errors only when ``require`` (moving forward).
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"ratings": {}, "choices": {}, "multi": {}, "text": {}}
    items = set(step.item_codes())
    questions = {q.code: q for q in step.questions}
    for name in form:
        # Any other field (an item of another page, a made-up code) means the form was altered.
        known = (name.startswith(RATING_PREFIX) and name[len(RATING_PREFIX):] in items) or (
            name.startswith(QUESTION_PREFIX) and name[len(QUESTION_PREFIX):] in questions
        )
        if not known:
            errors["_form"] = "unknown_field"
    for code in step.item_codes():
        raw = list(form.get(RATING_PREFIX + code, []))
        name = RATING_PREFIX + code
        if not raw:
            if require:
                errors[name] = "required"
            continue
        if len(raw) > 1:
            errors[name] = "invalid_level"
            continue
        text = raw[0].strip()
        # Exact ASCII digits: "²" passes str.isdigit() yet int() refuses it.
        if text not in LEVEL_TEXTS:
            errors[name] = "invalid_level"
            continue
        values["ratings"][code] = int(text)
    for question in step.questions:
        name = QUESTION_PREFIX + question.code
        raw = [v for v in form.get(name, []) if v != ""]
        if question.kind == "text":
            text = (raw[0] if raw else "").replace("\r\n", "\n").strip()
            if len(raw) > 1:
                errors[name] = "invalid_option"
            elif question.max_length is not None and len(text) > question.max_length:
                errors[name] = "too_long"
                values["text"][question.code] = text  # shown again to shorten, never saved
            elif not text and require and not question.optional:
                errors[name] = "required"
            else:
                values["text"][question.code] = text
            continue
        allowed = set(question.option_codes())
        repeated = len(set(raw)) != len(raw)
        if any(value not in allowed for value in raw) or repeated or (
            question.kind == "single" and len(raw) > 1
        ):
            errors[name] = "invalid_option"
        elif question.kind == "multi" and question.max is not None and len(raw) > question.max:
            errors[name] = "too_many"
            values["multi"][question.code] = raw  # shown again to untick one, never saved
        elif not raw:
            if require and not question.optional:
                errors[name] = "required"
        elif question.kind == "single":
            values["choices"][question.code] = raw[0]
        else:
            # Keep the questionnaire's order, so the same choice is stored the same way.
            values["multi"][question.code] = [c for c in question.option_codes() if c in raw]
    return values, errors


def merge(data: dict[str, Any], step: Step, values: dict[str, Any]) -> dict[str, Any]:
    """The draft data with this page's answers replacing what it held for the page."""
    new = {key: (dict(value) if isinstance(value, dict) else value) for key, value in data.items()}
    for part in ("ratings", "choices", "multi", "text"):
        new.setdefault(part, {})
    for code in step.item_codes():
        new["ratings"].pop(code, None)
    for question in step.questions:
        for part in ("choices", "multi", "text"):
            new[part].pop(question.code, None)
    for part in ("ratings", "choices", "multi", "text"):
        new[part].update(values[part])
    return new


def step_complete(step: Step, data: Mapping[str, Any]) -> bool:
    """Every item rated (a level or "no opinion") and every required question answered."""
    ratings = data.get("ratings", {})
    if any(code not in ratings for code in step.item_codes()):
        return False
    for question in step.questions:
        if question.optional:
            continue
        part = {"single": "choices", "multi": "multi", "text": "text"}[question.kind]
        if not data.get(part, {}).get(question.code):
            return False
    return True


def first_incomplete(survey: Survey, data: Mapping[str, Any]) -> int | None:
    for step in survey.steps:
        if not step_complete(step, data):
            return step.number
    return None


def reachable(survey: Survey, data: Mapping[str, Any], number: int) -> bool:
    """A page can be shown once every page before it is complete (no skipping ahead)."""
    missing = first_incomplete(survey, data)
    return missing is None or number <= missing


def resume_step(survey: Survey, data: Mapping[str, Any]) -> int:
    """Where a returning citizen continues: the first page not yet complete."""
    return first_incomplete(survey, data) or survey.total


# --- drafts ----------------------------------------------------------------------------------


def get_draft(key: str, for_update: bool = False) -> SurveyDraft | None:
    """The draft for a key; writers lock its row (PostgreSQL) so a page saved at the moment
    another phone submits cannot overwrite the "sent" mark."""
    if not for_update:
        return db.session.get(SurveyDraft, key)
    return db.session.get(SurveyDraft, key, with_for_update=True, populate_existing=True)


def answered(key: str) -> bool:
    keys = [key]
    parts = key.split(":")
    if parts[0] == "k" and len(parts) == 3:
        # Before kiosk taps were keyed per kiosk, a kiosk survey was stored as "k:<uuid>".
        keys.append("k:" + parts[2])
    found = db.session.scalar(select(SurveyResponse.id).where(SurveyResponse.token_key.in_(keys)))
    return found is not None


def submitted_by_me(key: str, browser_id: str) -> bool:
    """This browser's own submission stored the response for ``key`` (so show thanks again)."""
    draft = get_draft(key)
    return bool(draft and draft.data.get("submitted_by") == browser_hash(browser_id))


def save_step(key: str, survey: Survey, step: Step, form: Mapping[str, Sequence[str]],
              forward: bool) -> StepResult:
    """Validate one page and store it in the draft; nothing is written if anything is invalid.

    Moving back (or switching language) keeps whatever valid answers the page has, even
    incomplete ones; moving forward needs the page complete.
    """
    values, errors = parse_step(step, form, require=forward)
    hard = {name: code for name, code in errors.items() if code != "required"}
    result = StepResult(errors=errors, values=values)
    if hard or (forward and errors):
        return result
    for _attempt in range(SAVE_ATTEMPTS):
        try:
            result.saved = _store_step(key, survey, step, values)
        except Conflict:
            # Another tab created the draft at the same moment; apply ours on top of it.
            continue
        if not result.saved:
            result.errors = {"_form": "already_submitted"}
        return result
    result.errors = {"_form": "busy"}
    return result


@write_unit
def _store_step(key: str, survey: Survey, step: Step, values: dict[str, Any]) -> bool:
    """Merge one page's valid answers into the draft (created if need be); False once sent."""
    draft = get_draft(key, for_update=True)
    if draft is not None and draft.data.get("submitted_by"):
        db.session.rollback()  # nothing to write: let go of the row at once
        return False
    data = merge(draft.data if draft else empty_data(survey), step, values)
    if draft is None:
        draft = SurveyDraft(token_key=key, data=data)
        db.session.add(draft)
    else:
        draft.data = data
    draft.step = resume_step(survey, data)
    draft.updated_at = utcnow()
    return True


# --- submission ------------------------------------------------------------------------------


@dataclass
class SubmitResult:
    """``outcome``: "stored", "again" (this browser already sent it), "used" (someone else did),
    "invalid" (field errors on the last page), "incomplete" (go back to ``step``), "expired"
    (no draft left to send)."""

    outcome: str
    errors: dict[str, str] = field(default_factory=dict)
    step: int | None = None
    response_id: int | None = None


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


def _within(name: str, key: str, limit: tuple[int, int]) -> bool:
    """One hit on a shared limit. If the limit store (Redis) is down the citizen is not
    punished for it: the event is allowed and the outage logged, rather than losing answers."""
    try:
        return ratelimit.hit(name, key, ratelimit.Limit(*limit))
    except Exception:  # redis.RedisError, OSError: any failure of the store
        log.warning("rate-limit store unavailable for %s; allowing", name, exc_info=True)
        return True


def poster_misuse(ip: str, browser_id: str) -> str | None:
    """Count this poster submission against the per-IP and per-browser limits."""
    config = current_app.config
    ip_ok = _within("survey-poster-ip", ip, config["SURVEY_POSTER_IP_LIMIT"])
    browser_ok = _within("survey-poster-browser", browser_hash(browser_id),
                         config["SURVEY_POSTER_BROWSER_LIMIT"])
    return None if ip_ok and browser_ok else "rate_limited"


def rollup_keys(response: SurveyResponse, data: Mapping[str, Any]) -> list[rollups.Key]:
    """The rollup cells one stored response adds to (docs/DEVELOPING.md, "Rollups")."""
    dims = {
        "unit_id": response.unit_id,
        "day": response.local_day,
        "channel": response.channel,
        "counter_id": response.counter_id or 0,
        "officer_id": response.officer_id or 0,
        "procedure_id": response.procedure_id or 0,
        "misuse": response.misuse is not None,
    }
    keys = [rollups.Key(item_code="RESP", level=0, **dims)]
    for code, level in sorted(data.get("ratings", {}).items()):
        keys.append(rollups.Key(item_code=code, level=int(level), **dims))
    for code, option in sorted(data.get("choices", {}).items()):
        keys.append(rollups.Key(item_code=f"{code}:{option}", level=0, **dims))
    for code, options in sorted(data.get("multi", {}).items()):
        for option in options:
            keys.append(rollups.Key(item_code=f"{code}:{option}", level=0, **dims))
    return keys


@write_unit
def submit(target: Target, key: str, form: Mapping[str, Sequence[str]], *, browser_id: str,
           ip: str, locale: str) -> SubmitResult:
    """Store the response, its answers and its rollups in one transaction, exactly once per key.

    The last page's answers are validated and merged first; any problem means nothing is
    written. A repeated submit from the same browser is answered as a success ("again"); a
    submit for a key someone else already used is "used". The draft's row is locked until the
    request commits, so a second phone waits and then finds it sent; the unique token_key
    decides any other race. Early answers roll back at once to let go of the row.
    """
    draft = get_draft(key, for_update=True)
    if draft is None:
        db.session.rollback()
        if answered(key):
            return SubmitResult("used")
        return SubmitResult("expired")
    if draft.data.get("submitted_by"):
        mine = draft.data["submitted_by"] == browser_hash(browser_id)
        db.session.rollback()
        return SubmitResult("again" if mine else "used")
    survey = survey_for(draft)
    last = survey.steps[-1]
    values, errors = parse_step(last, form, require=True)
    if errors:
        db.session.rollback()
        return SubmitResult("invalid", errors=errors)
    data = merge(draft.data, last, values)
    missing = first_incomplete(survey, data)
    if missing is not None:
        db.session.rollback()
        return SubmitResult("incomplete", step=missing)
    misuse = poster_misuse(ip, browser_id) if target.is_poster else None
    now = utcnow()
    choices = data.get("choices", {})
    response = SurveyResponse(
        token_key=key,
        channel=target.channel,
        questionnaire_id=survey.row_id,
        unit_id=target.unit_id,
        counter_id=target.counter_id,
        officer_id=target.officer_id,
        procedure_id=target.procedure_id,
        dossier_code=target.dossier_code,
        kiosk_rating_uuid=target.kiosk_rating_uuid,
        kiosk_id=target.kiosk_id,
        trips=choices.get("trips"),
        harassment=choices.get("harassment"),
        informal_payment=choices.get("informal_payment"),
        submission_channel=choices.get("channel"),
        priorities=data.get("multi", {}).get("priorities"),
        comment=data.get("text", {}).get("comment") or None,
        misuse=misuse,
        locale=locale if locale in ("vi", "en") else "vi",
        submitted_at=now,
        local_day=local_day(now),
    )
    response.answers = [
        SurveyAnswer(item_code=code, level=int(level))
        for code, level in sorted(data["ratings"].items())
        if code in {item.code for item in survey.definition.items(include_policy=True)}
    ]
    db.session.add(response)
    try:
        db.session.flush()
    except IntegrityError:
        # Another phone (or a second tap) stored this key first: decide who it was.
        db.session.rollback()
        return SubmitResult("again" if submitted_by_me(key, browser_id) else "used")
    rollups.add(rollup_keys(response, data))
    draft.data = {**data, "submitted_by": browser_hash(browser_id)}
    draft.updated_at = now
    return SubmitResult("stored", response_id=response.id)


@write_unit
def purge_drafts(older_than_days: int) -> int:
    """Delete drafts untouched for that many days (abandoned or long sent); returns how many.

    A draft only carries answers in progress and the "sent" mark that shows a phone its thanks
    again, so once every token that could use it has expired it is dead weight.
    """
    cutoff = utcnow() - timedelta(days=older_than_days)
    result = db.session.execute(delete(SurveyDraft).where(SurveyDraft.updated_at < cutoff))
    return result.rowcount or 0


def expires_in_days(token: str) -> int | None:
    """Whole days until the token expires (for the intro page), None without an expiry."""
    try:
        exp = peek(token).get("exp")
    except SignedTokenError:
        return None
    if not isinstance(exp, int | float):
        return None
    return max(0, math.ceil((exp - time.time()) / 86400))

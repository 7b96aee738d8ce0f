"""Citizens' comments: listing with phone and ID numbers masked, search, and moderation.

Viewers see none of the text; administrators and managers see it masked and may hide or flag
a comment (audited; the caller commits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select

from core.database import begin_write
from core.extensions import db
from core.models import SurveyResponse, Unit, User
from core.services.accounts import audit
from core.services.org import scope
from core.services.reporting.cells import unit_ids
from core.services.reporting.errors import NotAllowed, ReportError
from core.services.reporting.filters import Filters

# Phone numbers (0xx / +84 ...), 9-digit CMND and 12-digit CCCD numbers, with or without spaces,
# dots or dashes between the digit groups: any run of seven or more digits is masked.
_NUMBER_RE = re.compile(r"\+?\d(?:[\s.\-]?\d){6,}")
MASK = "•"
COMMENT_PAGE = 25


def mask_numbers(text: str) -> str:
    """Replace phone and ID numbers by bullets, keeping the text around them readable."""
    return _NUMBER_RE.sub(lambda m: MASK * sum(ch.isdigit() for ch in m.group(0)), text)


@dataclass(frozen=True)
class CommentRow:
    id: int
    day: date
    unit_code: str
    channel: str
    text: str | None  # None: hidden from this user
    hidden: bool
    flagged: bool


def may_moderate(user: User) -> bool:
    return user.role in ("admin", "manager")


def list_comments(user: User, f: Filters, search: str = "", before_id: int | None = None,
             limit: int = COMMENT_PAGE) -> list[CommentRow]:
    """Comments of the filter, newest first, numbers masked; viewers see none of the text.

    The search ignores digits so nobody can probe for a phone or ID number behind the mask.
    """
    scope.get_unit(user, f.unit.id)
    s = SurveyResponse
    conds = [
        s.local_day >= f.period.start, s.local_day <= f.period.end,
        s.unit_id.in_(unit_ids(f.unit)), s.channel.in_(f.survey_channels or ("none",)),
        s.comment.is_not(None), s.comment != "",
    ]
    if not f.include_misuse:
        conds.append(s.misuse.is_(None))
    if not may_moderate(user):
        conds.append(s.comment_hidden.is_(False))
    # Digits and control characters are dropped (no probing behind the mask, no NUL for PG).
    words = [w[:40] for w in re.sub(r"[\d\x00-\x1f]", " ", search).split() if w][:5]
    for word in words:
        conds.append(func.lower(s.comment).contains(word.lower(), autoescape=True))
    if before_id is not None:
        conds.append(s.id < before_id)
    stmt = (
        select(s.id, s.local_day, Unit.code, s.channel, s.comment, s.comment_hidden,
               s.comment_flagged)
        .join(Unit, Unit.id == s.unit_id).where(and_(*conds)).order_by(s.id.desc()).limit(limit)
    )
    rows = []
    for rid, day, unit_code, channel, text, hidden, flagged in db.session.execute(stmt):
        shown = mask_numbers(text) if may_moderate(user) else None
        rows.append(CommentRow(rid, day, unit_code, channel, shown, hidden, flagged))
    return rows


MODERATION_ACTIONS = ("hide", "unhide", "flag", "unflag")


def moderate_comment(user: User, response_id: int, action: str) -> SurveyResponse:
    """Hide or flag a comment (administrators and managers of its unit); audited.

    Starts the write unit and flushes the change with its audit entry; the caller commits.
    """
    if action not in MODERATION_ACTIONS:
        raise ReportError("action", f"unknown moderation action {action!r}")
    if not may_moderate(user):
        raise NotAllowed("only administrators and managers moderate comments")
    begin_write()
    response = db.session.get(SurveyResponse, response_id)
    if response is None or not response.comment:
        raise ReportError("comment", "no such comment")
    scope.get_unit(user, response.unit_id)
    if action in ("hide", "unhide"):
        response.comment_hidden = action == "hide"
    else:
        response.comment_flagged = action == "flag"
    audit.record(f"comment.{action}", user=user, target_type="survey_response",
                 target_id=response.id, unit_id=response.unit_id)
    db.session.flush()
    return response

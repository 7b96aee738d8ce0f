"""Reporting services flush; the request commits once: what a view changed or audited is stored.

Read back through a second connection, so a change still pending in the request's session (the
view forgot to commit) does not count as stored.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditEntry, SurveyResponse
from core.services.reporting import comments
from tests.dashboard_support import counter_of, login, officer, respond, tap, unit, user

DAY = date(2026, 11, 12)
NOV = "period=month&value=2026-11"


@pytest.fixture
def org(demo):
    centre = counter_of("T-DEMO-TTHCC")
    lan = officer("CB001")
    for i in range(25):
        tap(centre, DAY, 5 if i < 20 else 2, officer_id=lan.id)
    respond(centre, DAY, {"TC1": 2}, comment="Chờ lâu quá")
    db.session.commit()
    user("centre.manager", "manager", "T-DEMO-TTHCC")
    return demo


def stored(stmt):
    """The value of ``stmt`` as another connection sees it (committed data only)."""
    with db.engine.connect() as other:
        return other.execute(stmt).scalar()


def stored_audits(action: str) -> int:
    return stored(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def the_comment() -> int:
    return db.session.scalar(select(SurveyResponse.id).where(SurveyResponse.comment.is_not(None)))


def test_a_moderated_comment_is_stored_with_its_audit_entry_when_the_request_ends(org, client):
    target = the_comment()
    login(client, "centre.manager")
    assert client.post(f"/admin/dashboard/comments/{target}/hide").status_code == 302
    hidden = select(SurveyResponse.comment_hidden).where(SurveyResponse.id == target)
    assert stored(hidden) is True
    assert stored_audits("comment.hide") == 1


def test_moderation_leaves_the_commit_to_its_caller(org):
    manager = user("other.manager", "manager", "T-DEMO-TTHCC")
    target = the_comment()
    comments.moderate_comment(manager, target, "flag")
    flagged = select(SurveyResponse.comment_flagged).where(SurveyResponse.id == target)
    assert db.session.scalar(flagged) is True  # flushed into the caller's unit of work
    db.session.rollback()  # the caller gives up: nothing of it is stored
    assert stored(flagged) is False
    assert stored_audits("comment.flag") == 0


def test_an_officer_view_is_audited_and_stored_when_the_request_ends(org, client):
    login(client, "centre.manager")
    centre = unit("T-DEMO-TTHCC").id
    page = client.get(f"/admin/dashboard/breakdown/officer?unit={centre}&{NOV}")
    assert page.status_code == 200
    assert stored_audits("report.officers") == 1


@pytest.mark.parametrize("path, action", [
    ("/admin/dashboard/export/ratings.csv", "export.ratings"),
    ("/admin/dashboard/export/report.xlsx", "export.xlsx"),
])
def test_an_export_is_audited_and_stored_before_its_body(org, client, path, action):
    login(client, "centre.manager")
    centre = unit("T-DEMO-TTHCC").id
    response = client.get(f"{path}?unit={centre}&{NOV}", buffered=False)
    assert response.status_code == 200
    assert stored_audits(action) == 1
    response.close()

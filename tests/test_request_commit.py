"""The request's one commit (core.database.init_app): after the view, before the answer leaves."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, func, select

from core.extensions import db
from core.models import AuditEntry


class _Gone(Exception):
    pass


def _lost_connection() -> exc.OperationalError:
    return exc.OperationalError("COMMIT", {}, _Gone("server closed the connection unexpectedly"))


@pytest.fixture
def view(app):
    """A view that writes an audit entry and says it stored it."""
    from core.services.accounts import audit
    from core.services.unit_of_work import write_unit

    @write_unit
    def store() -> None:
        audit.record("test.commit", username="tester")

    def stored():
        store()
        return "stored"

    app.add_url_rule("/_test/store", "test_store", stored, methods=["POST"])
    return "/_test/store"


def _entries(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "test.commit"))


def test_what_the_view_wrote_is_committed_before_the_answer(app, view):
    client = app.test_client()
    response = client.post(view)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "stored")
    assert _entries(app) == 1


def test_a_database_lost_at_the_commit_answers_503_not_stored(app, view, monkeypatch):
    from sqlalchemy.orm import Session

    def commit(self):
        raise _lost_connection()

    monkeypatch.setattr(Session, "commit", commit)
    response = app.test_client().post(view, headers={"Accept": "application/json"})
    monkeypatch.undo()
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "stored" not in response.get_data(as_text=True)
    assert _entries(app) == 0

"""Questionnaires: every version listed, each item in both languages, the policy module switch."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import AuditEntry, Questionnaire, SurveyResponse
from core.services.survey.questionnaires import active
from tests.support.admin import build_org, sign_in, use_cheap_hashing


@pytest.fixture
def org(app, monkeypatch):
    use_cheap_hashing(monkeypatch)
    return build_org()


def test_each_item_is_shown_in_vietnamese_and_english(client, org):
    sign_in(client, org.viewer)
    current = active()
    html = client.get(f"/admin/questionnaires/{current.id}").get_data(as_text=True)
    item = current.definition["elements"][0]["items"][0]
    assert item["text"]["vi"] in html and item["text"]["en"] in html
    reason = current.definition["followup_reasons"][0]
    assert reason["text"]["vi"] in html and reason["text"]["en"] in html


def test_switching_the_policy_module_makes_a_new_version_and_old_responses_keep_theirs(
    client, org
):
    v1 = active()
    response = SurveyResponse(token_key="p:test", channel="poster", questionnaire_id=v1.id,
                              unit_id=org.centre.id, local_day=date(2026, 11, 30))
    db.session.add(response)
    db.session.commit()
    sign_in(client, org.admin)
    assert client.post("/admin/questionnaires/policy", data={"enabled": "1"}).status_code == 302
    db.session.expire_all()
    v2 = active()
    assert (v2.version, v2.policy_enabled, v2.active) == (v1.version + 1, True, True)
    old = db.session.get(Questionnaire, v1.id)
    assert old.active is False and old.policy_enabled is False
    assert old.definition == v1.definition  # never edited in place
    assert db.session.get(SurveyResponse, response.id).questionnaire_id == v1.id
    policy_item = v2.definition["policy_elements"][0]["items"][0]["text"]["vi"]
    assert policy_item in client.get(f"/admin/questionnaires/{v2.id}").get_data(as_text=True)
    # And off again: a third version, never a reuse of the first.
    assert client.post("/admin/questionnaires/policy", data={"enabled": "0"}).status_code == 302
    db.session.expire_all()
    v3 = active()
    assert (v3.version, v3.policy_enabled) == (v1.version + 2, False)
    entries = list(db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "questionnaire.policy").order_by(AuditEntry.id)))
    assert [(e.details["from_version"], e.details["to_version"], e.details["policy_enabled"])
            for e in entries] == [(1, 2, True), (2, 3, False)]
    listing = client.get("/admin/questionnaires/").get_data(as_text=True)
    assert all(f"Phiên bản {n}<" in listing for n in (1, 2, 3))


def test_asking_for_the_state_already_in_use_changes_nothing(client, org):
    sign_in(client, org.admin)
    assert client.post("/admin/questionnaires/policy", data={"enabled": "0"}).status_code == 302
    assert len(db.session.scalars(select(Questionnaire)).all()) == 1


def test_a_malformed_switch_request_is_refused(client, org):
    sign_in(client, org.admin)
    response = client.post("/admin/questionnaires/policy", data={"enabled": "maybe"})
    assert response.status_code == 422
    assert len(db.session.scalars(select(Questionnaire)).all()) == 1


def test_only_system_administrators_switch_modules(client, org):
    for user in (org.manager, org.viewer):
        sign_in(client, user)
        assert client.post("/admin/questionnaires/policy",
                           data={"enabled": "1"}).status_code == 403
        assert "Bật phần đánh giá chính sách" not in client.get(
            "/admin/questionnaires/").get_data(as_text=True)
    assert active().policy_enabled is False

"""A leaked kiosk key: rotation cannot be used by the copy to push, and "revoke and re-enroll"
cuts the copy off at once while the real kiosk's queued ratings still arrive."""

from __future__ import annotations

from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditEntry, KioskRating
from core.services.errors import ServiceError
from core.services.sync import registry
from kiosk import identity
from tests.support.admin import build_org, sign_in, use_cheap_hashing
from tests.support.sync_helpers import enroll, enrolled, push, rating, signed


def kiosk_of(creds):
    db.session.expire_all()
    return registry.by_public_id(creds.kiosk_id)


def test_a_copy_of_a_rotated_key_can_push_nothing(demo, client):
    """Found: during the grace period the old key fetched the new secret and pushed with it
    and with itself. Now the old key may only fetch the configuration."""
    creds = enrolled(client)
    registry.rotate(kiosk_of(creds))
    db.session.commit()
    for method, path, payload in (("POST", "/api/v1/sync/push", {"ratings": [rating(1)]}),
                                  ("POST", "/api/v1/sync/heartbeat", {"queue_depth": 0})):
        answer = signed(client, creds, method, path, payload)
        assert answer.status_code == 401
        assert answer.get_json()["error"]["code"] == "key_rotated"
    assert db.session.scalar(select(func.count()).select_from(KioskRating)) == 0


def test_once_the_kiosk_uses_its_new_key_the_old_one_cannot_fetch_it_again(demo, client):
    creds = enrolled(client)
    registry.rotate(kiosk_of(creds))
    db.session.commit()
    secret = signed(client, creds, "GET", "/api/v1/sync/config").get_json()["credentials"][
        "secret"]
    fresh = identity.Credentials(creds.kiosk_id, secret, creds.server_url)
    assert signed(client, fresh, "POST", "/api/v1/sync/heartbeat",
                  {"queue_depth": 0}).status_code == 200
    thief = signed(client, creds, "GET", "/api/v1/sync/config")
    assert thief.status_code == 401 and "credentials" not in thief.get_json()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "kiosk.rotate_done")) == 1


def test_revoke_and_reenroll_cuts_the_old_key_off_and_keeps_the_queued_ratings(demo, client):
    creds = enrolled(client)
    assert push(client, creds, [rating(1)]).get_json()["accepted"] == 1
    done = registry.reenroll(kiosk_of(creds))
    db.session.commit()
    # The copy of the key is refused at once, for every request.
    for method, path, payload in (("GET", "/api/v1/sync/config", None),
                                  ("POST", "/api/v1/sync/push", {"ratings": [rating(2)]}),
                                  ("POST", "/api/v1/sync/heartbeat", {"queue_depth": 1})):
        assert signed(client, creds, method, path, payload).status_code in (401, 403)
    # The technician enrolls the real device again with the new code: same kiosk record.
    again = enroll(client, done.code)
    assert again.kiosk_id == creds.kiosk_id and again.secret != creds.secret
    queued = [rating(2), rating(3)]  # taken while the key was cut off, still on the device
    answer = push(client, again, queued).get_json()
    assert answer["accepted"] == 2 and answer["contiguous_seq"] == 3
    assert signed(client, creds, "GET", "/api/v1/sync/config").status_code == 401
    assert db.session.scalar(select(func.count()).select_from(KioskRating)) == 3
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "kiosk.reenroll"))
    assert entry.target_id == creds.kiosk_id


def test_the_fleet_page_asks_for_confirmation_before_cutting_a_key_off(client, monkeypatch):
    use_cheap_hashing(monkeypatch)
    org = build_org()
    code = registry.register(org.counter, "Kiosk 1").code
    db.session.commit()
    creds = enroll(client, code)
    sign_in(client, org.manager)
    fleet = client.get("/admin/kiosks/").get_data(as_text=True)
    confirm_url = f"/admin/kiosks/{creds.kiosk_id}/reenroll"
    assert confirm_url in fleet
    page = client.get(confirm_url)
    assert page.status_code == 200 and kiosk_of(creds).status == "active"  # nothing yet
    shown = client.post(confirm_url)
    text = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "--force" in text
    assert shown.headers["Cache-Control"] == "no-store"
    kiosk = kiosk_of(creds)
    assert kiosk.status == "pending" and kiosk.secret is None
    assert signed(client, creds, "GET", "/api/v1/sync/config").status_code == 401


def test_a_revoked_kiosk_is_not_enrolled_again(demo, client):
    creds = enrolled(client)
    registry.revoke(kiosk_of(creds))
    db.session.commit()
    try:
        registry.reenroll(kiosk_of(creds))
    except ServiceError as exc:
        assert exc.code == "already_revoked"
    else:
        raise AssertionError("a revoked kiosk was given a new code")


def test_the_cli_reenrolls_after_confirmation(demo, client, runner):
    creds = enrolled(client)
    declined = runner.invoke(args=["kiosks", "reenroll", creds.kiosk_id], input="n\n")
    assert declined.exit_code != 0 and kiosk_of(creds).status == "active"
    result = runner.invoke(args=["kiosks", "reenroll", creds.kiosk_id, "--yes"])
    assert result.exit_code == 0, result.output
    code = next(line.split(": ", 1)[1] for line in result.output.splitlines()
                if line.startswith("Enrollment code: "))
    assert "kiosk enroll --force" in result.output
    assert enroll(client, code).kiosk_id == creds.kiosk_id

"""The sync API as a kiosk sees it: enrollment, signatures, pushes with per-item outcomes, gaps,
clocks, configuration, heartbeat, rotation and revocation, bad input. Never a 500."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import protocol
from core.extensions import db
from core.models import AuditEntry, Kiosk, KioskRating, RollupCount, RollupHour
from core.services.errors import ServiceError
from core.services.sync import registry
from kiosk import identity
from tests.conftest import redis_url
from tests.support.sync_helpers import (
    enroll,
    enrolled,
    push,
    rating,
    register_demo_kiosk,
    signed,
)


def kiosk_row(creds) -> Kiosk:
    db.session.expire_all()
    kiosk = registry.by_public_id(creds.kiosk_id)
    assert kiosk is not None
    return kiosk


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


# --- Enrollment -------------------------------------------------------------------------------

def test_an_enrollment_code_works_once_and_only_its_hash_is_stored(demo, client):
    kiosk, code = register_demo_kiosk()
    assert kiosk.enrollment_code_hash != code and code not in kiosk.enrollment_code_hash
    creds = enroll(client, code)
    assert creds.kiosk_id == kiosk.public_id and len(creds.secret) >= 32
    again = client.post("/api/v1/sync/enroll", json={"code": code})
    assert again.status_code == 400 and error_code(again) == "invalid_code"
    assert kiosk_row(creds).status == "active" and kiosk_row(creds).enrollment_code_hash is None
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "kiosk.register" in actions and "kiosk.enroll" in actions


def test_an_expired_code_is_refused_with_its_own_reason(demo, client):
    kiosk, code = register_demo_kiosk()
    kiosk.enrollment_expires_at = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    response = client.post("/api/v1/sync/enroll", json={"code": code})
    assert response.status_code == 400 and error_code(response) == "code_expired"


def test_codes_are_typed_forgivingly(demo, client):
    _kiosk, code = register_demo_kiosk()
    typed = " " + code.lower().replace("-", "")
    response = client.post("/api/v1/sync/enroll", json={"code": typed})
    assert response.status_code == 200


def test_two_devices_racing_with_one_code_cannot_both_enroll(demo, app):
    _kiosk, code = register_demo_kiosk()
    db.session.commit()
    outcomes: list[int] = []
    lock = threading.Lock()

    def attempt():
        with app.app_context():
            response = app.test_client().post("/api/v1/sync/enroll", json={"code": code})
            with lock:
                outcomes.append(response.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == [200] + [400] * 5


def test_the_config_comes_with_the_enrollment_in_the_contract_shape(demo, client):
    _kiosk, code = register_demo_kiosk()
    body = client.post("/api/v1/sync/enroll", json={"code": code}).get_json()
    config = body["config"]
    assert config["kiosk"]["id"] == body["kiosk_id"]
    assert config["unit"]["code"] == "T-DEMO-TTHCC" and config["counter"]["code"] == "Q01"
    assert config["scale"] == 3 and config["languages"] == ["vi", "en"]
    assert config["questionnaire_version"] == 1
    officers = {o["code"]: o for o in config["officers"]}
    assert set(officers) == {"CB001", "CB002"}
    assert officers["CB001"]["pin_hash"].startswith("$argon2id$")


# --- Signatures -------------------------------------------------------------------------------

def test_each_kind_of_refused_signature_has_its_own_code(demo, client):
    creds = enrolled(client)
    unsigned = client.post("/api/v1/sync/push", json={"ratings": []})
    assert unsigned.status_code == 401 and error_code(unsigned) == "unsigned"

    stranger = identity.Credentials("00000000-0000-4000-8000-000000000000", "x" * 43, "")
    unknown = push(client, stranger, [])
    assert unknown.status_code == 401 and error_code(unknown) == "unknown_kiosk"

    wrong_key = identity.Credentials(creds.kiosk_id, "y" * 43, "")
    bad = push(client, wrong_key, [])
    assert bad.status_code == 401 and error_code(bad) == "bad_signature"

    skewed = push(client, creds, [], now=time.time() - 301)
    assert skewed.status_code == 401 and error_code(skewed) == "clock_skew"
    assert abs(skewed.get_json()["error"]["server_time"] - time.time()) < 5


def test_a_tampered_body_fails_the_signature(demo, client):
    creds = enrolled(client)
    body = b'{"ratings": []}'
    headers = protocol.signed_headers(creds, "POST", "/api/v1/sync/push", body, time.time())
    response = client.post("/api/v1/sync/push", data=b'{"ratings": [1]}', headers=headers,
                           content_type="application/json")
    assert response.status_code == 401 and error_code(response) == "bad_signature"


def test_a_replayed_request_is_refused_and_applies_nothing(demo, client):
    creds = enrolled(client)
    body = b'{"ratings": [], "device_clock": 1}'
    headers = protocol.signed_headers(creds, "POST", "/api/v1/sync/push", body, time.time())
    first = client.post("/api/v1/sync/push", data=body, headers=headers)
    replay = client.post("/api/v1/sync/push", data=body, headers=headers)
    assert first.status_code == 200
    assert replay.status_code == 409 and error_code(replay) == "replay"


def test_replays_are_caught_through_redis_when_configured(demo, app_factory):
    other = app_factory(REDIS_URL=redis_url())
    with other.app_context():
        client = other.test_client()
        creds = enrolled(client, name="Redis kiosk")
        body = b'{"ratings": []}'
        headers = protocol.signed_headers(creds, "POST", "/api/v1/sync/push", body, time.time())
        assert client.post("/api/v1/sync/push", data=body, headers=headers).status_code == 200
        replay = client.post("/api/v1/sync/push", data=body, headers=headers)
        assert replay.status_code == 409 and error_code(replay) == "replay"


def test_a_revoked_kiosk_is_refused(demo, client):
    creds = enrolled(client)
    registry.revoke(kiosk_row(creds))
    db.session.commit()
    response = push(client, creds, [rating(1)])
    assert response.status_code == 403 and error_code(response) == "revoked"
    assert db.session.scalar(select(func.count()).select_from(KioskRating)) == 0


# --- Push ---------------------------------------------------------------------------------------

def test_a_batch_is_stored_once_however_often_it_is_sent(demo, client):
    creds = enrolled(client)
    batch = [rating(1), rating(2, level=2, reasons=["waiting_time"]), rating(3, level=4)]
    first = push(client, creds, batch).get_json()
    again = push(client, creds, batch).get_json()
    assert [r["status"] for r in first["results"]] == ["accepted"] * 3
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 3
    assert db.session.scalar(select(func.count()).select_from(KioskRating)) == 3
    taps = db.session.scalar(select(func.sum(RollupCount.count))
                             .where(RollupCount.item_code == "TAP"))
    assert taps == 3
    assert first["contiguous_seq"] == again["contiguous_seq"] == 3 and first["missing"] == []


def test_a_mixed_batch_stores_the_good_items_and_explains_the_bad(demo, client):
    creds = enrolled(client)
    now = datetime.now(UTC)
    kiosk = kiosk_row(creds)
    batch = [
        rating(1),
        "not an object",
        rating(2, level=3),  # 3 is not a level of the 3-level scale
        rating(3, scale=7),
        {**rating(4), "seq": "four"},
        rating(5, device_time="yesterday"),
        rating(6, device_time=(now + timedelta(hours=2)).isoformat()),
        rating(7, device_time=(kiosk.created_at - timedelta(days=3)).isoformat()),
        rating(8, questionnaire_version=99),
        rating(9, level=2, reasons=["no_such_reason"]),
        rating(10, misuse="bored"),
        rating(11, officer_code=123),
        {"seq": 12},
        rating(13, level=2, reasons=["officer_attitude"]),
    ]
    response = push(client, creds, batch)
    assert response.status_code == 200
    results = response.get_json()["results"]
    reasons = [r.get("reason") for r in results]
    assert reasons == [
        None, "not_an_object", "invalid_level", "invalid_scale", "invalid_seq",
        "invalid_device_time", None, None,
        "unknown_questionnaire_version", "invalid_reasons", "invalid_misuse",
        "invalid_officer_code", "invalid_uuid", None,
    ]
    assert all(r["message"] for r in results if r["status"] == "rejected")
    stored = db.session.execute(select(
        KioskRating.seq, KioskRating.pre_enrollment, KioskRating.clock_suspect,
    ).order_by(KioskRating.seq)).all()
    # A time in the future or before enrolment is flagged, never a reason to refuse a rating.
    assert [tuple(r) for r in stored] == [
        (1, False, False), (6, False, True), (7, True, False), (13, False, False)]


def test_rejection_messages_follow_the_reader_language(demo, client):
    creds = enrolled(client)
    vi = push(client, creds, [rating(1, scale=7)], headers={"Accept-Language": "vi"})
    en = push(client, creds, [rating(2, scale=7)], headers={"Accept-Language": "en"})
    assert vi.get_json()["results"][0]["message"] != en.get_json()["results"][0]["message"]
    assert "3 or 5" in en.get_json()["results"][0]["message"]


@pytest.mark.parametrize(("raw", "status", "code"), [
    (b"{not json", 400, "invalid_json"),
    (b"\xff\xfe", 400, "invalid_json"),
    (b"[]", 422, "invalid_request"),
    (b'{"ratings": {"a": 1}}', 422, "invalid_request"),
    (b'{"ratings": [], "device_clock": "now"}', 422, "invalid_request"),
    (b'{"ratings": [], "device_clock": true}', 422, "invalid_request"),
])
def test_malformed_requests_get_a_clear_4xx(demo, client, raw, status, code):
    creds = enrolled(client)
    response = signed(client, creds, "POST", "/api/v1/sync/push", raw=raw)
    assert response.status_code == status and error_code(response) == code
    assert response.get_json()["error"]["message"]


def test_a_batch_above_the_limit_is_refused_with_413(demo, app_factory):
    small = app_factory(SYNC_BATCH_SIZE=2)
    with small.app_context():
        client = small.test_client()
        creds = enrolled(client)
        response = push(client, creds, [rating(1), rating(2), rating(3)])
        assert response.status_code == 413 and error_code(response) == "batch_too_large"
        huge = signed(client, creds, "POST", "/api/v1/sync/push", raw=b" " * 100_000)
        assert huge.status_code == 413 and error_code(huge) == "body_too_large"


def test_the_same_seq_with_another_uuid_is_a_conflict_not_a_duplicate(demo, client):
    creds = enrolled(client)
    push(client, creds, [rating(1)])
    result = push(client, creds, [rating(1)]).get_json()["results"][0]
    assert result["status"] == "rejected" and result["reason"] == "seq_conflict"


def test_an_item_repeated_inside_one_batch_counts_once(demo, client):
    creds = enrolled(client)
    item = rating(1)
    results = push(client, creds, [item, item]).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["reason"] == "repeated_in_batch"


def test_gaps_are_reported_until_filled(demo, client):
    creds = enrolled(client)
    first = push(client, creds, [rating(1), rating(2), rating(5), rating(8)]).get_json()
    assert first["contiguous_seq"] == 2 and first["max_seq"] == 8
    assert first["missing"] == [[3, 4], [6, 7]]
    second = push(client, creds, [rating(3), rating(4), rating(6), rating(7)]).get_json()
    assert second["contiguous_seq"] == 8 and second["missing"] == []


def test_a_first_batch_not_starting_at_one_reports_the_start_as_missing(demo, client):
    creds = enrolled(client)
    body = push(client, creds, [rating(3)]).get_json()
    assert body["contiguous_seq"] == 0 and body["missing"] == [[1, 2]]


def test_the_clock_offset_is_recorded_and_skew_flagged(demo, client):
    creds = enrolled(client)
    late = signed(client, creds, "POST", "/api/v1/sync/push",
                  {"device_clock": time.time() - 400, "ratings": []})
    assert late.status_code == 200
    kiosk = kiosk_row(creds)
    assert 395 < kiosk.clock_offset_s < 405 and kiosk.clock_skew_flag
    signed(client, creds, "POST", "/api/v1/sync/push",
           {"device_clock": time.time(), "ratings": []})
    assert not kiosk_row(creds).clock_skew_flag


def test_ratings_from_a_slow_clock_are_filed_by_the_corrected_time(demo, client):
    creds = enrolled(client)
    true_now = datetime.now(UTC)
    device_now = true_now - timedelta(hours=6)  # the kiosk clock is six hours behind
    signed(client, creds, "POST", "/api/v1/sync/push", {
        "device_clock": device_now.timestamp(),
        "ratings": [rating(1, when=device_now - timedelta(seconds=10))],
    })
    after = datetime.now(UTC)
    stored = db.session.scalar(select(KioskRating))
    from zoneinfo import ZoneInfo

    # The corrected time is the tap's true time (ten seconds before `true_now`) plus however long
    # the request took to reach the server's clock: between these bounds by construction, even
    # when the request crosses an hour or midnight (1 s either way for the offset's rounding).
    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    early = (true_now - timedelta(seconds=11)).astimezone(hcm)
    late = (after - timedelta(seconds=9)).astimezone(hcm)
    assert (early.date(), early.hour) <= (stored.local_day, stored.local_hour) <= (
        late.date(), late.hour)
    assert stored.device_time < stored.received_at - timedelta(hours=5)


def test_officers_map_within_the_unit_and_unknown_codes_are_kept(demo, client):
    creds = enrolled(client)
    push(client, creds, [rating(1, officer_code="CB001", procedure_code="HT-001"),
                         rating(2, officer_code="NOBODY", procedure_code="NO-PROC")])
    known, unknown = db.session.scalars(select(KioskRating).order_by(KioskRating.seq)).all()
    assert known.officer_id is not None and known.procedure_id is not None
    assert known.extra is None
    assert unknown.officer_id is None and unknown.procedure_id is None
    assert unknown.extra == {"officer_code": "NOBODY", "procedure_code": "NO-PROC"}


def test_rollups_follow_the_contract_keys(demo, client):
    creds = enrolled(client)
    push(client, creds, [
        rating(1, level=5, officer_code="CB001"),
        rating(2, level=2, reasons=["waiting_time", "officer_attitude"]),
        rating(3, level=4, misuse="too_fast"),
    ])
    cells = {
        (r.item_code, r.level, r.misuse, r.officer_id > 0): r.count
        for r in db.session.scalars(select(RollupCount).where(RollupCount.channel == "kiosk"))
    }
    assert cells == {
        ("TAP", 5, False, True): 1,
        ("TAP", 2, False, False): 1,
        ("reason:waiting_time", 0, False, False): 1,
        ("reason:officer_attitude", 0, False, False): 1,
        ("TAP", 4, True, False): 1,
    }
    hours = db.session.scalars(select(RollupHour)).all()
    counted = [h for h in hours if not h.misuse]
    flagged = [h for h in hours if h.misuse]
    assert sum(h.total for h in counted) == 2 and sum(h.satisfied for h in counted) == 1
    # The too-fast tap is in the heat map's flagged cells, shown only when misuse is included.
    assert sum(h.total for h in flagged) == 1 and sum(h.satisfied for h in flagged) == 1


def test_the_database_being_busy_answers_503_with_retry_after(demo, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from core.services.sync import ingest

    creds = enrolled(client)

    def busy(*_args, **_kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(ingest, "ingest", busy)
    response = push(client, creds, [rating(1)])
    assert response.status_code == 503 and error_code(response) == "busy"
    assert int(response.headers["Retry-After"]) >= 1


def test_too_many_requests_from_one_kiosk_answer_429_with_retry_after(demo, app_factory):
    limited = app_factory(SYNC_RATE_PER_MINUTE=2)
    with limited.app_context():
        client = limited.test_client()
        creds = enrolled(client, name="Chatty kiosk")
        answers = [push(client, creds, []) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert error_code(answers[2]) == "rate_limited" and answers[2].headers["Retry-After"]


# --- Configuration, heartbeat, rotation ----------------------------------------------------------

def test_config_has_an_etag_and_answers_304_when_unchanged(demo, client):
    creds = enrolled(client)
    first = signed(client, creds, "GET", "/api/v1/sync/config")
    etag = first.headers["ETag"]
    assert first.get_json()["version"] == etag
    same = signed(client, creds, "GET", "/api/v1/sync/config", headers={"If-None-Match": etag})
    assert same.status_code == 304
    kiosk = kiosk_row(creds)
    kiosk.counter.scale = 5
    db.session.commit()
    changed = signed(client, creds, "GET", "/api/v1/sync/config",
                     headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["config"]["scale"] == 5


def test_the_heartbeat_is_stored_on_the_kiosk(demo, client):
    creds = enrolled(client)
    response = signed(client, creds, "POST", "/api/v1/sync/heartbeat", {
        "queue_depth": 42, "oldest_unsent_age_s": 3600, "app_version": "0.1.0",
        "device_clock": time.time()})
    assert response.status_code == 200
    kiosk = kiosk_row(creds)
    assert (kiosk.queue_depth, kiosk.oldest_unsent_age_s, kiosk.app_version) == (42, 3600, "0.1.0")
    assert kiosk.last_seen_at is not None
    bad = signed(client, creds, "POST", "/api/v1/sync/heartbeat", {"queue_depth": -1})
    assert bad.status_code == 422 and error_code(bad) == "invalid_request"


def test_a_rotated_key_reaches_the_kiosk_and_the_old_one_expires(demo, client):
    creds = enrolled(client)
    registry.rotate(kiosk_row(creds))
    db.session.commit()
    # Signed with the old key during the grace period: handed the new key, and nothing else.
    pulled = signed(client, creds, "GET", "/api/v1/sync/config")
    new_secret = pulled.get_json()["credentials"]["secret"]
    assert new_secret != creds.secret
    refused = push(client, creds, [rating(1)])
    assert refused.status_code == 401 and error_code(refused) == "key_rotated"
    fresh = identity.Credentials(creds.kiosk_id, new_secret, creds.server_url)
    assert push(client, fresh, [rating(1)]).status_code == 200
    assert "credentials" not in signed(client, fresh, "GET", "/api/v1/sync/config").get_json()
    # The first use of the new key retired the old one before the grace period ended.
    late = signed(client, creds, "GET", "/api/v1/sync/config")
    assert late.status_code == 401 and error_code(late) == "bad_signature"
    assert kiosk_row(creds).previous_secret is None


def test_only_enrolled_kiosks_can_rotate_and_revocation_is_final(demo, client):
    pending, _code = register_demo_kiosk()
    with pytest.raises(ServiceError, match="not_active"):
        registry.rotate(pending)
    registry.revoke(pending)
    with pytest.raises(ServiceError, match="already_revoked"):
        registry.revoke(pending)


def test_a_push_waiting_on_a_locked_kiosk_row_answers_503_on_postgresql(demo, app_factory):
    """A real lock timeout (not a simulated one): another transaction holds the kiosk row."""
    from sqlalchemy import create_engine, text

    if db.engine.dialect.name != "postgresql":
        pytest.skip("lock_timeout is PostgreSQL's; SQLite waits on its busy timeout instead")
    impatient = app_factory(SYNC_LOCK_TIMEOUT_MS=200)
    with impatient.app_context():
        client = impatient.test_client()
        creds = enrolled(client, name="Locked kiosk")
        other = create_engine(impatient.config["SQLALCHEMY_DATABASE_URI"])
        with other.connect() as conn, conn.begin():
            # What a concurrent push of the same kiosk holds while it works.
            conn.execute(text("SELECT id FROM kiosks WHERE public_id = :p FOR NO KEY UPDATE"),
                         {"p": creds.kiosk_id})
            response = push(client, creds, [rating(1)])
        other.dispose()
        assert response.status_code == 503 and error_code(response) == "busy"
        assert int(response.headers["Retry-After"]) >= 1
        assert push(client, creds, [rating(1)]).get_json()["accepted"] == 1

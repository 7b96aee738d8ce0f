"""Acknowledged ratings are never lost in sync: a rating signed with a valid key is stored whatever
its time (odd times are flagged, and counted by a written rule), gaps are computed per enrolment
and refusals are accounted for, refusals are shown with their reasons, a rating's identity
belongs to its kiosk, and upload delay is never taken for clock error.

Times are pinned: the service is called with the receive time and the kiosk's clock injected.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from core.extensions import db
from core.models import Kiosk, KioskRating, RollupCount
from core.services.survey import flow as survey_service
from core.services.sync import contact, fleet, ingest
from tests.support.kiosk import configure
from tests.support.kiosk import ratings as outbox
from tests.support.survey import kiosk_token
from tests.support.sync_helpers import enroll, push, rating, register_demo_kiosk
from tests.test_sync_admin import sign_in

# 09:00 in Hà Nội on a Tuesday; the kiosk was enrolled then.
ENROLLED = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def enrolled_kiosk(client, first_seq: int | None = None, counter: str = "Q01") -> Kiosk:
    """A kiosk enrolled (over the API) at ENROLLED."""
    kiosk, code = register_demo_kiosk(counter_code=counter)
    body = {"code": code} if first_seq is None else {"code": code, "first_seq": first_seq}
    response = client.post("/api/v1/sync/enroll", json=body)
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    kiosk = db.session.get(Kiosk, kiosk.id)
    kiosk.created_at = kiosk.enrolled_at = ENROLLED
    db.session.commit()
    return kiosk


def item(seq: int, at: datetime, level: int = 5, **fields) -> dict:
    return rating(seq, level=level, when=at, **fields)


def send(kiosk: Kiosk, items: list[dict], received: datetime,
         upload_delay_s: float = 0.05) -> ingest.IngestResult:
    """Push ``items`` as the kiosk would, its clock right, arriving ``upload_delay_s`` late
    (committed, as the request would be)."""
    sent = received - timedelta(seconds=upload_delay_s)
    result = ingest.ingest(kiosk.id, items, device_clock=sent.timestamp(), received=received)
    db.session.commit()
    return result


def taps(kiosk: Kiosk, day: date) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(RollupCount.count), 0)).where(
        RollupCount.unit_id == kiosk.unit_id, RollupCount.counter_id == kiosk.counter_id,
        RollupCount.channel == "kiosk", RollupCount.item_code == "TAP", RollupCount.day == day))


def stored(kiosk: Kiosk, seq: int) -> KioskRating:
    db.session.expire_all()
    row = db.session.scalar(select(KioskRating).where(KioskRating.kiosk_id == kiosk.id,
                                                      KioskRating.seq == seq))
    assert row is not None
    return row


# --- 1. Never refused for its time; flagged and counted by the rule -----------------------------

def test_a_rating_tapped_before_enrolment_is_stored_flagged_and_counted_on_its_day(demo, client):
    kiosk = enrolled_kiosk(client)
    tapped = datetime(2026, 3, 1, 3, 30, tzinfo=UTC)  # nine days before enrolment, 10:30 local
    result = send(kiosk, [item(1, tapped)], received=ENROLLED + timedelta(hours=1))
    assert [o.status for o in result.outcomes] == ["accepted"]
    row = stored(kiosk, 1)
    assert row.pre_enrollment and not row.clock_suspect
    assert (row.local_day, row.local_hour) == (date(2026, 3, 1), 10)
    assert taps(kiosk, date(2026, 3, 1)) == 1
    assert db.session.get(Kiosk, kiosk.id).pre_enrollment_count == 1


def test_an_implausible_device_time_is_filed_when_received_and_flagged(demo, client):
    kiosk = enrolled_kiosk(client)
    received = datetime(2026, 3, 12, 4, 0, tzinfo=UTC)  # 11:00 local on 12 March
    result = send(kiosk, [
        item(1, datetime(2000, 1, 1, tzinfo=UTC)),  # a clock that was never set
        item(2, received + timedelta(hours=2)),  # two hours in the future
    ], received=received)
    assert [o.status for o in result.outcomes] == ["accepted", "accepted"]
    for seq in (1, 2):
        row = stored(kiosk, seq)
        assert row.clock_suspect and not row.pre_enrollment
        assert (row.local_day, row.local_hour) == (date(2026, 3, 12), 11)
    assert taps(kiosk, date(2026, 3, 12)) == 2
    assert db.session.get(Kiosk, kiosk.id).clock_suspect_count == 2


def test_flagged_ratings_are_shown_on_the_fleet_page_and_can_be_filtered(demo, client):
    plain = enrolled_kiosk(client, counter="Q01")
    flagged = enrolled_kiosk(client, counter="Q02")
    flagged.name = "Kiosk with old taps"
    db.session.commit()
    send(flagged, [item(1, datetime(2026, 3, 1, 3, 0, tzinfo=UTC)),
                   item(2, datetime(2000, 1, 1, tzinfo=UTC))], received=ENROLLED)
    send(plain, [item(1, ENROLLED + timedelta(minutes=5))], received=ENROLLED + timedelta(hours=1))
    sign_in(client, "root", "admin")
    client.set_cookie("lang", "en")
    page = client.get("/admin/kiosks/").text
    assert "1 from before enrolment (counted on their day)" in page
    assert "1 with a doubtful time (counted when received)" in page
    for only in ("pre_enrollment", "clock_suspect"):
        narrowed = client.get(f"/admin/kiosks/?only={only}").text
        assert "Kiosk with old taps" in narrowed and plain.public_id not in narrowed
    client.set_cookie("lang", "vi")
    assert "1 lượt từ trước khi đăng ký" in client.get("/admin/kiosks/").text


# --- 2. Gaps per enrolment; refusals are not gaps -----------------------------------------------

def test_a_device_enrolled_again_is_not_missing_the_numbers_of_its_previous_identity(demo,
                                                                                     client):
    # `kiosk enroll --force` on a device that sent 1..1,500 under its old identity: its
    # numbering goes on, and the enrolment says where it starts.
    kiosk = enrolled_kiosk(client, first_seq=1501)
    at = ENROLLED + timedelta(minutes=10)
    result = send(kiosk, [item(seq, at) for seq in (1501, 1502, 1504)],
                  received=at + timedelta(minutes=1))
    assert result.missing == [(1503, 1503)] and result.contiguous_seq == 1502
    result = send(kiosk, [item(1503, at)], received=at + timedelta(minutes=2))
    assert result.missing == [] and result.contiguous_seq == 1504
    sign_in(client, "root", "admin")
    client.set_cookie("lang", "en")
    row = client.get("/admin/kiosks/").text.split(kiosk.public_id)[1].split("</tr>")[0]
    assert "Gaps" not in row and "No. 1,504" in row


def test_an_enrolment_with_a_bad_first_number_is_refused_with_a_reason(demo, client):
    refused = client.post("/api/v1/sync/enroll", json={"code": "ABCDE-FGHJK", "first_seq": 0})
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "first_seq"


def test_a_refused_rating_leaves_no_gap_and_its_refusal_is_shown_in_both_languages(demo, client):
    kiosk = enrolled_kiosk(client)
    at = ENROLLED + timedelta(minutes=10)
    result = send(kiosk, [item(1, at), item(2, at, level=3), item(3, at)],
                  received=at + timedelta(minutes=1))
    assert [o.reason for o in result.outcomes] == [None, "invalid_level", None]
    assert result.missing == [] and result.contiguous_seq == 3
    sign_in(client, "root", "admin")
    client.set_cookie("lang", "en")
    page = client.get("/admin/kiosks/").text
    assert 'data-reason="invalid_level"' in page
    assert "The rating level is not one of the levels of its scale." in page
    assert kiosk.public_id in client.get("/admin/kiosks/?only=rejected").text
    client.set_cookie("lang", "vi")
    page = client.get("/admin/kiosks/").text
    assert "The rating level" not in page and 'data-reason="invalid_level"' in page


def test_a_refused_rating_stored_later_is_no_longer_a_refusal(demo, client):
    kiosk = enrolled_kiosk(client)
    at = ENROLLED + timedelta(minutes=10)
    first = item(1, at, questionnaire_version=99)
    assert send(kiosk, [first], received=at).outcomes[0].reason == "unknown_questionnaire_version"
    first["questionnaire_version"] = 1
    assert send(kiosk, [first], received=at).outcomes[0].status == "accepted"
    assert fleet.rejections_by_reason([kiosk.id]) == {}


# --- 4. A rating's identity belongs to its kiosk ------------------------------------------------

def test_another_kiosk_cannot_claim_a_rating_by_its_uuid(demo, client):
    genuine = enrolled_kiosk(client, counter="Q01")
    thief = enrolled_kiosk(client, counter="Q02")
    at = ENROLLED + timedelta(minutes=10)
    claimed = str(uuid.uuid4())  # readable in the thank-you QR of the genuine kiosk
    assert send(thief, [item(1, at, uuid=claimed)], received=at).outcomes[0].status == "accepted"
    outcome = send(genuine, [item(7, at, uuid=claimed)], received=at).outcomes[0]
    assert outcome.status == "accepted"
    assert stored(genuine, 7).uuid == claimed
    again = send(genuine, [item(7, at, uuid=claimed)], received=at).outcomes[0]
    assert again.status == "duplicate"


def test_a_survey_is_linked_to_the_rating_of_its_own_kiosk(demo, client):
    genuine = enrolled_kiosk(client, counter="Q01")
    thief = enrolled_kiosk(client, counter="Q02")
    claimed = str(uuid.uuid4())
    mine = survey_service.resolve(kiosk_token(genuine, claimed))
    forged = survey_service.resolve(kiosk_token(thief, claimed))
    # One response per tap: the forged token's survey cannot use up the genuine one's.
    assert mine.token_key != forged.token_key
    assert (mine.kiosk_id, forged.kiosk_id) == (genuine.id, thief.id)


# --- 5. Upload delay is not clock error ---------------------------------------------------------

def test_a_tap_just_before_midnight_stays_on_its_day_when_the_upload_is_slow(demo, client):
    kiosk = enrolled_kiosk(client)
    # A quick exchange a minute earlier: the kiosk's clock is right.
    send(kiosk, [], received=datetime(2026, 3, 12, 16, 59, 0, tzinfo=UTC), upload_delay_s=0.05)
    tapped = datetime(2026, 3, 12, 16, 59, 58, 900000, tzinfo=UTC)  # 23:59:58.9 in Hà Nội
    received = datetime(2026, 3, 12, 17, 0, 0, 500000, tzinfo=UTC)  # sent at 23:59:59.0
    send(kiosk, [item(1, tapped)], received=received, upload_delay_s=1.5)
    row = stored(kiosk, 1)
    assert (row.local_day, row.local_hour) == (date(2026, 3, 12), 23)
    assert abs(db.session.get(Kiosk, kiosk.id).clock_offset_s) < 0.1


def test_a_wrong_clock_is_still_corrected_and_flagged(demo, client):
    kiosk = enrolled_kiosk(client)
    received = datetime(2026, 3, 12, 16, 30, tzinfo=UTC)  # 23:30 local
    ahead = timedelta(hours=1)  # the kiosk clock runs an hour ahead
    tapped_by_kiosk = received + ahead - timedelta(minutes=5)
    ingest.ingest(kiosk.id, [item(1, tapped_by_kiosk)],
                  device_clock=(received + ahead - timedelta(seconds=2)).timestamp(),
                  received=received)
    db.session.commit()
    row = stored(kiosk, 1)
    assert (row.local_day, row.local_hour) == (date(2026, 3, 12), 23) and not row.clock_suspect
    kiosk = db.session.get(Kiosk, kiosk.id)
    assert abs(kiosk.clock_offset_s + 3598) < 1 and kiosk.clock_skew_flag


def test_a_clock_set_back_is_followed_at_once(demo, client):
    kiosk = enrolled_kiosk(client)
    received = datetime(2026, 3, 12, 3, 0, tzinfo=UTC)
    send(kiosk, [], received=received)
    later = received + timedelta(minutes=1)
    behind = timedelta(minutes=10)  # someone set the kiosk clock ten minutes back
    contact.heartbeat(kiosk.id, 0, None, "1.0", device_clock=(later - behind).timestamp(),
                      received=later)
    db.session.commit()
    kiosk = db.session.get(Kiosk, kiosk.id)
    assert abs(kiosk.clock_offset_s - 600) < 0.1 and kiosk.clock_skew_flag


def test_the_push_api_stores_an_old_rating_and_answers_its_offset(demo, client):
    kiosk, code = register_demo_kiosk()
    creds = enroll(client, code)
    db.session.expire_all()
    kiosk = db.session.get(Kiosk, kiosk.id)
    old = kiosk.enrolled_at - timedelta(days=20)
    body = push(client, creds, [rating(1, when=old)]).get_json()
    assert body["results"][0]["status"] == "accepted" and body["missing"] == []
    assert stored(kiosk, 1).pre_enrollment


# --- 3. Refusals on the kiosk's status page; 1. ratings an older server refused go again --------

TECH_PIN = "246810"


def kiosk_with_taps(app, client, count: int) -> list:
    app.config.update(KIOSK_TECH_PIN=TECH_PIN)
    configure(min_interval_s=0)
    for _ in range(count):
        assert client.post("/kiosk/rate", data={"level": "5"}).status_code in (200, 303)
    db.session.expire_all()
    return outbox()


def test_the_kiosk_status_page_counts_refusals_by_reason_in_words(app, client):
    rows = kiosk_with_taps(app, client, 3)
    for row, reason in zip(rows, ("invalid_level", "invalid_level", "seq_conflict"), strict=True):
        row.status, row.reject_reason = "rejected", reason + ": as the server said it"
    db.session.commit()
    client.post("/kiosk/status", data={"pin": TECH_PIN})
    client.set_cookie("lang", "en")
    html = client.get("/kiosk/status").text
    assert ('<tr data-reason="invalid_level"><td>The rating level is not one of the levels of '
            'its scale.</td><td class="num">2</td></tr>') in html
    assert ('<tr data-reason="seq_conflict"><td>Another rating of this kiosk already has this '
            'sequence number.</td><td class="num">1</td></tr>') in html
    client.set_cookie("lang", "vi")
    html = client.get("/kiosk/status").text
    assert 'data-reason="invalid_level"' in html and "The rating level" not in html


def test_a_kiosk_enrolled_again_starts_at_its_oldest_unsent_rating(app, client):
    from kiosk.sync import first_unsent_seq

    rows = kiosk_with_taps(app, client, 4)
    rows[0].status = rows[1].status = "sent"
    db.session.commit()
    assert first_unsent_seq() == 3
    rows[2].status = rows[3].status = "sent"
    db.session.commit()
    assert first_unsent_seq() == 5  # nothing waiting: the next tap's number


def test_ratings_an_older_server_refused_for_their_age_are_sent_again(app, client):
    from kiosk.sync import requeue_retired_rejections

    rows = kiosk_with_taps(app, client, 4)
    reasons = ["before_kiosk_registered", "uuid_conflict", "invalid_level", "future_device_time"]
    for row, reason in zip(rows, reasons, strict=True):
        row.status, row.reject_reason, row.attempts = "rejected", reason + ": old server", 1
    rows[3].attempts = 3  # tried often enough: the server must still be an old one
    db.session.commit()
    assert requeue_retired_rejections() == 2
    db.session.expire_all()
    assert [r.status for r in outbox()] == ["pending", "pending", "rejected", "rejected"]

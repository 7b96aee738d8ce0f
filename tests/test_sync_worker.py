"""The kiosk's side of sync, with a real gunicorn aggregator: enrollment through the CLI, the
worker draining in order, rejected ratings kept visible, key rotation, revocation, bundles."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Kiosk, KioskRating
from core.models.kiosk_local import KioskState, OutboxRating
from tests.support.live import SECRET, flask
from tests.support.sync_live import AggregatorDB, KioskNode, register_code

pytestmark = pytest.mark.processes


@pytest.fixture(scope="module")
def checks(live_aggregator):
    db = AggregatorDB(live_aggregator.env["SIPAS_DATABASE_URL"])
    yield db
    db.close()


@pytest.fixture
def node(live_aggregator, tmp_path, request):
    kiosk = KioskNode(tmp_path, "kiosk", batch_size=500)
    kiosk.public_id = kiosk.enroll(live_aggregator.url,
                                   register_code(live_aggregator.env, request.node.name[:60]))
    yield kiosk
    kiosk.close()


def kiosk_app(node: KioskNode):
    from core import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": node.db_url, "ROLE": "kiosk",
                       "INSTANCE_PATH": str(node.dir / "instance"), "SECRET_KEY": SECRET},
                      env={})


def test_enrollment_keeps_the_key_owner_only_and_stores_the_config(node, live_aggregator):
    credentials = node.dir / "instance" / "kiosk_credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text())["kiosk_id"] == node.public_id
    with Session(node.engine) as session:
        state = session.get(KioskState, 1)
        assert state.config["counter"]["code"] == "Q01" and state.config_etag
        assert {o["code"] for o in state.config["officers"]} == {"CB001", "CB002"}
    again = flask(["kiosk", "enroll", "--server", live_aggregator.url, "--code", "XXXXX-XXXXX"],
                  node.env, check=False)
    assert again.returncode != 0 and "already enrolled" in again.stderr


def test_a_used_code_cannot_enroll_a_second_device(live_aggregator, tmp_path):
    code = register_code(live_aggregator.env, "single use")
    first = KioskNode(tmp_path, "first")
    second = KioskNode(tmp_path, "second")
    try:
        first.enroll(live_aggregator.url, code)
        refused = flask(["kiosk", "enroll", "--server", live_aggregator.url, "--code", code],
                        second.env, check=False)
        assert refused.returncode != 0 and "invalid_code" in refused.stderr
    finally:
        first.close()
        second.close()


def test_a_backlog_drains_completely_and_in_order(node, checks):
    node.tap(3000)
    with kiosk_app(node).app_context():
        from kiosk.sync import Worker

        assert Worker().run(once=True, max_seconds=120)
    kiosk = checks.assert_exactly_once(node.public_id, node.uuids)
    with Session(checks.engine) as session:
        seqs_by_arrival = session.scalars(
            select(KioskRating.seq).where(KioskRating.kiosk_id == kiosk.id)
            .order_by(KioskRating.id)
        ).all()
    assert seqs_by_arrival == sorted(seqs_by_arrival)
    with Session(checks.engine) as session:
        reported = session.scalar(select(Kiosk).where(Kiosk.public_id == node.public_id))
        assert reported.queue_depth == 0 and reported.app_version


def test_a_rejected_rating_stays_visible_and_the_rest_are_sent(node):
    node.tap(5)
    with Session(node.engine) as session, session.begin():
        state = session.get(KioskState, 1)
        now = datetime.now(UTC)
        session.add(OutboxRating(uuid=str(uuid.uuid4()), seq=state.next_seq, scale=3, level=3,
                                 device_time=now, finalised_at=now, status="pending"))
        state.next_seq += 1
    node.tap(5)
    assert node.sync_once().returncode == 0
    assert node.statuses() == {"sent": 10, "rejected": 1}
    with Session(node.engine) as session:
        reason = session.scalar(select(OutboxRating.reject_reason)
                                .where(OutboxRating.status == "rejected"))
    assert reason.startswith("invalid_level")
    with kiosk_app(node).test_request_context("/kiosk/status"):  # as the technician reads it
        from kiosk.outbox import status

        shown = status()
    assert shown.enrolled and shown.waiting == 0 and shown.rejected_total == 1
    assert shown.rejected[0].code == "invalid_level" and shown.last_sync_outcome.startswith("ok")
    assert shown.rejected_by_reason == [("invalid_level", 1)]


def test_a_device_enrolled_again_sends_its_queue_under_the_new_id_without_a_false_gap(
        node, live_aggregator, checks):
    node.tap(5)
    assert node.sync_once().returncode == 0
    node.tap(7)  # still queued when the device is enrolled again
    code = register_code(live_aggregator.env, "enrolled again")
    flask(["kiosk", "enroll", "--server", live_aggregator.url, "--code", code, "--force"],
          node.env)
    with Session(node.engine) as session:
        new_id = session.get(KioskState, 1).kiosk_public_id
    assert new_id != node.public_id
    assert node.sync_once().returncode == 0
    assert node.statuses() == {"sent": 12}
    with Session(checks.engine) as session:
        kiosk = session.scalar(select(Kiosk).where(Kiosk.public_id == new_id))
        seqs = session.scalars(select(KioskRating.seq).where(KioskRating.kiosk_id == kiosk.id)
                               .order_by(KioskRating.seq)).all()
        assert seqs == list(range(6, 13))
        # Numbers 1-5 went to the previous identity: not a gap of this one.
        assert (kiosk.first_seq, kiosk.contiguous_seq, kiosk.max_seq) == (6, 12, 12)


def test_a_rotated_key_is_picked_up_without_losing_a_rating(node, live_aggregator, checks):
    node.tap(20)
    before = json.loads((node.dir / "instance" / "kiosk_credentials.json").read_text())
    flask(["kiosks", "rotate", node.public_id], live_aggregator.env)
    node.tap(20)
    assert node.sync_once().returncode == 0
    after = json.loads((node.dir / "instance" / "kiosk_credentials.json").read_text())
    assert after["secret"] != before["secret"] and after["kiosk_id"] == before["kiosk_id"]
    checks.assert_exactly_once(node.public_id, node.uuids)
    node.tap(5)
    assert node.sync_once().returncode == 0  # and the new key works on its own
    checks.assert_exactly_once(node.public_id, node.uuids)


def test_revoke_and_reenroll_sends_the_queued_ratings_under_the_new_enrollment(
        node, live_aggregator, checks):
    """A key that may have leaked is cut off at once; the technician enrolls the same device
    again with the new code (--force) and nothing queued is lost or counted twice."""
    node.tap(12)
    out = flask(["kiosks", "reenroll", node.public_id, "--yes"], live_aggregator.env).stdout
    code = next(line.split(": ", 1)[1] for line in out.splitlines()
                if line.startswith("Enrollment code: "))
    refused = node.sync_once(max_seconds=3)
    assert refused.returncode != 0
    assert node.statuses() == {"pending": 12}
    flask(["kiosk", "enroll", "--force", "--server", live_aggregator.url, "--code", code],
          node.env)
    node.tap(3)
    assert node.sync_once().returncode == 0
    kiosk = checks.assert_exactly_once(node.public_id, node.uuids)
    assert kiosk.status == "active"


def test_a_revoked_kiosk_keeps_its_ratings_queued(node, live_aggregator):
    node.tap(10)
    flask(["kiosks", "revoke", node.public_id], live_aggregator.env)
    failed = node.sync_once(max_seconds=3)
    assert failed.returncode != 0 and "revoked" in failed.stdout
    assert node.statuses() == {"pending": 10}


def test_a_bundle_carried_by_hand_imports_once_and_later_syncs_as_duplicates(
        node, live_aggregator, checks, tmp_path):
    node.tap(250)
    bundle = tmp_path / "bundle.json"
    flask(["kiosk", "export-bundle", str(bundle)], node.env)
    first = flask(["kiosks", "import-bundle", str(bundle)], live_aggregator.env).stdout
    second = flask(["kiosks", "import-bundle", str(bundle)], live_aggregator.env).stdout
    assert "250 accepted, 0 already stored" in first
    assert "0 accepted, 250 already stored" in second
    checks.assert_exactly_once(node.public_id, node.uuids)
    assert node.sync_once().returncode == 0  # the network came back: all duplicates, all sent
    assert node.statuses() == {"sent": 250}
    checks.assert_exactly_once(node.public_id, node.uuids)

    data = json.loads(bundle.read_text())
    data["bundle"] = data["bundle"].replace('"level":5', '"level":4')
    bundle.write_text(json.dumps(data))
    tampered = flask(["kiosks", "import-bundle", str(bundle)], live_aggregator.env, check=False)
    assert tampered.returncode != 0 and "bad_signature" in tampered.stderr


def test_the_worker_honours_retry_after_and_backs_off_with_full_jitter(app, monkeypatch):
    from kiosk import identity, sync

    monkeypatch.setattr(identity, "load",
                        lambda *_a: identity.Credentials("k", "s" * 43, "http://127.0.0.1:9"))

    def overloaded(self, method, path, body, headers):
        return sync.Response(503, {"retry-after": "42"},
                             {"error": {"status": 503, "code": "busy", "message": "busy"}})

    monkeypatch.setattr(sync.Client, "send", overloaded)
    waits: list[float] = []
    worker = sync.Worker(sleep=waits.append)
    worker.run(stop=lambda: len(waits) >= 3)
    assert len(waits) == 3 and all(w >= 42 for w in waits)

    app.config["SYNC_MAX_BACKOFF_S"] = 300
    for failures in range(12):
        worker.failures = failures
        ceiling = min(300, 2 ** failures)
        samples = [worker.backoff(None) for _ in range(50)]
        assert all(0 <= s <= ceiling for s in samples)
    worker.failures = 10
    assert len({round(worker.backoff(None), 3) for _ in range(20)}) > 10  # jittered, not fixed

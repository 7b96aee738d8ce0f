"""Sync under faults, with real processes: gunicorn aggregators, kiosk sync workers, a proxy that
drops connections. After every scenario each tapped rating is on the aggregator exactly once, the
sequence has no gap, and the rollup totals equal a count over the raw rows."""

from __future__ import annotations

import random
import time

import pytest

from tests.support.live import Server, fresh_database_url, prepared
from tests.support.proxy import Proxy, exchange
from tests.support.sync_live import AggregatorDB, KioskNode, register_code

pytestmark = pytest.mark.processes


@pytest.fixture(scope="module")
def aggregator(tmp_path_factory):
    """One seeded aggregator database, served by a gunicorn that the tests may kill."""
    tmp = tmp_path_factory.mktemp("sync-faults")
    url = fresh_database_url("sync_faults", tmp)
    env = prepared("aggregator", url, tmp / "agg")
    server = Server(env, workers=2, log_path=tmp / "aggregator.log").start()
    checks = AggregatorDB(url)
    yield server, env, checks, tmp
    server.close()
    checks.close()


@pytest.fixture
def kiosk_node(aggregator, request):
    server, env, _checks, tmp = aggregator
    node = KioskNode(tmp, request.node.name)
    public_id = node.enroll(server.url, register_code(env, request.node.name))
    yield node, public_id
    node.close()


def restart(server: Server) -> None:
    server.kill()
    server.start()


def test_killing_the_aggregator_mid_batch_loses_and_doubles_nothing(aggregator, kiosk_node):
    server, _env, checks, _tmp = aggregator
    node, public_id = kiosk_node
    node.tap(1500)
    node.start_worker()
    rng = random.Random(4)
    for _round in range(6):
        time.sleep(rng.uniform(0.05, 0.5))
        restart(server)  # SIGKILL the whole gunicorn group, then start again
        node.tap(50)
    # However fast or slow the rounds above went, the worker meets a dead aggregator here: it
    # stays dead until the worker has said so (each cycle asks for the config, even when idle).
    server.kill()
    node.tap(50)
    assert node.wait_for_log("network", timeout=60), node.log_text()[-2000:]
    server.start()
    assert node.wait_drained(timeout=90)
    node.kill_worker()
    checks.assert_exactly_once(public_id, node.uuids)
    assert node.statuses() == {"sent": len(node.uuids)}


def test_killing_the_sync_worker_mid_batch_loses_and_doubles_nothing(aggregator, kiosk_node):
    _server, _env, checks, _tmp = aggregator
    node, public_id = kiosk_node
    node.tap(1500)
    rng = random.Random(7)
    for _round in range(6):
        node.start_worker()
        time.sleep(rng.uniform(0.1, 0.6))
        node.kill_worker()
        node.tap(30)
    assert node.sync_once().returncode == 0
    checks.assert_exactly_once(public_id, node.uuids)
    assert node.statuses() == {"sent": len(node.uuids)}


def test_dropped_connections_and_replayed_requests_change_nothing(aggregator, kiosk_node):
    server, _env, checks, _tmp = aggregator
    node, public_id = kiosk_node
    proxy = Proxy([server.port], drop_before=0.25, drop_after=0.25, seed=11)
    try:
        node.point_at(proxy.url)
        node.tap(800)
        node.start_worker()
        assert node.wait_drained(timeout=90)
        node.kill_worker()
        # The server committed batches whose answers never arrived: those came back as duplicates.
        assert proxy.stats.dropped_after > 0 and proxy.stats.dropped_before > 0
        kiosk = checks.assert_exactly_once(public_id, node.uuids)
        # Replaying every captured request, byte for byte, is refused and stores nothing.
        answers = [exchange(server.port, raw) for raw in proxy.captured]
        assert answers
        for answer in answers:
            status = int(answer.split(b" ", 2)[1])
            assert status in (409, 401), answer[:200]
            assert b'"replay"' in answer or b'"clock_skew"' in answer
        after = checks.assert_exactly_once(public_id, node.uuids)
        assert after.max_seq == kiosk.max_seq
    finally:
        proxy.close()


def test_two_aggregator_instances_on_one_database(aggregator, kiosk_node):
    server, env, checks, tmp = aggregator
    node, public_id = kiosk_node
    second = Server(env, workers=2, log_path=tmp / "aggregator2.log").start()
    proxy = Proxy([server.port, second.port], drop_after=0.1, seed=5)
    try:
        node.point_at(proxy.url)
        node.tap(1200)
        node.start_worker()
        time.sleep(0.5)
        restart(second)  # one instance dies mid-batch; the other keeps serving
        assert node.wait_drained(timeout=90)
        node.kill_worker()
        checks.assert_exactly_once(public_id, node.uuids)
    finally:
        proxy.close()
        second.close()


def test_a_kiosk_clock_an_hour_off_corrects_itself_and_files_taps_on_the_right_time(
        aggregator, kiosk_node):
    """Every bound below holds by construction, however slow the machine: the kiosk's clock is
    the machine's clock plus exactly an hour, and each time the server read its clock lies
    between two readings of the kiosk's clock (before the request, after the answer). So any
    offset measured is off by at most `spread`, the time the whole exchange took."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from core import create_app
    from core.models import Kiosk, KioskRating
    from kiosk.sync import Worker
    from tests.support.live import SECRET

    _server, _env, checks, _tmp = aggregator
    node, public_id = kiosk_node
    node.tap(300, clock_offset_s=3600)  # the kiosk's clock runs an hour ahead
    readings: list[float] = []

    def kiosk_clock() -> float:
        readings.append(time.time() + 3600)
        return readings[-1]

    app = create_app({"SQLALCHEMY_DATABASE_URI": node.db_url, "ROLE": "kiosk",
                      "INSTANCE_PATH": str(node.dir / "instance"), "SECRET_KEY": SECRET,
                      "SYNC_MAX_BACKOFF_S": 1}, env={})
    with app.app_context():
        worker = Worker(clock=kiosk_clock)
        assert worker.run(once=True, max_seconds=60)
        spread = max(readings) - min(readings) + 0.002  # + the 1-ms rounding of stored times
        # The first signed request was refused as skewed, answered with the server's time.
        assert worker.client is not None and abs(worker.client.offset_s + 3600) <= spread
    checks.assert_exactly_once(public_id, node.uuids)
    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    last = datetime.fromtimestamp(max(readings) - 3600, UTC) + timedelta(milliseconds=2)
    with Session(checks.engine) as session:
        kiosk = session.scalar(select(Kiosk).where(Kiosk.public_id == public_id))
        assert kiosk.clock_skew_flag and abs(kiosk.clock_offset_s + 3600) <= spread
        for rating in session.scalars(select(KioskRating).where(KioskRating.kiosk_id == kiosk.id)):
            true_time = rating.device_time - timedelta(seconds=3600)
            # Received after the tap and before the worker's last answer.
            assert true_time - timedelta(milliseconds=2) <= rating.received_at <= last
            # Filed by the corrected time, which is off by at most the spread either way.
            filed = (rating.local_day, rating.local_hour)
            early, late = ((true_time + timedelta(seconds=s)).astimezone(hcm)
                           for s in (-spread, spread))
            assert (early.date(), early.hour) <= filed <= (late.date(), late.hour)

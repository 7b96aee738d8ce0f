"""`make run` end to end: the demo starts an aggregator, enrolls a kiosk through the CLI, runs the
sync worker, and a tap stored in the kiosk's outbox reaches the aggregator's tables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from core.models import KioskRating, RollupCount
from kiosk.models import KioskState, OutboxRating
from tests.support.live import ROOT

pytestmark = pytest.mark.processes


def test_a_demo_tap_reaches_the_aggregator(tmp_path):
    demo_dir = tmp_path / "demo"
    env = {**os.environ, "DEMO_DIR": str(demo_dir), "DEMO_AGGREGATOR_PORT": "0",
           "DEMO_KIOSK_PORT": "0", "DEMO_ADMIN_PASSWORD": "demo-password-123",
           "SIPAS_SYNC_INTERVAL_S": "1"}
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115 - closed below
    demo = subprocess.Popen([sys.executable, "-m", "core.demo"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while b"Ctrl-C stops" not in (tmp_path / "demo.log").read_bytes():
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.3)
        kiosk_db = create_engine(f"sqlite:///{demo_dir / 'kiosk' / 'kiosk.db'}")
        with Session(kiosk_db) as session, session.begin():
            state = session.get(KioskState, 1)
            assert state.config["counter"]["code"] == "Q01"
            now = datetime.now(UTC)
            tap = OutboxRating(uuid=str(uuid.uuid4()), seq=state.next_seq, scale=3, level=5,
                               officer_code="CB001", device_time=now, finalised_at=now,
                               status="pending")
            session.add(tap)
            state.next_seq += 1
            tapped = tap.uuid
        aggregator_db = create_engine(f"sqlite:///{demo_dir / 'aggregator' / 'aggregator.db'}")
        deadline = time.monotonic() + 60
        while True:
            with Session(aggregator_db) as session:
                stored = session.scalar(select(func.count()).select_from(KioskRating)
                                        .where(KioskRating.uuid == tapped))
                taps = session.scalar(select(func.sum(RollupCount.count))
                                      .where(RollupCount.item_code == "TAP"))
            if stored:
                break
            assert time.monotonic() < deadline, "the tap never reached the aggregator"
            time.sleep(0.5)
        assert stored == 1 and taps == 1
        while True:  # the worker marks it sent right after the aggregator's answer
            with Session(kiosk_db) as session:
                sent = session.scalar(select(OutboxRating.status)
                                      .where(OutboxRating.uuid == tapped)) == "sent"
            if sent:
                break
            assert time.monotonic() < deadline, "the tap was never marked sent"
            time.sleep(0.3)
        kiosk_db.dispose()
        aggregator_db.dispose()
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGTERM)  # the demo stops its own children on SIGTERM
        demo.wait(timeout=60)
        log.close()
    assert "a process exited" not in (tmp_path / "demo.log").read_text()

"""`make run` end to end: the demo starts an aggregator with a year of history on synthetic kiosks,
enrolls a kiosk through the CLI, runs the sync worker, and a tap stored in the kiosk's outbox
reaches the aggregator's tables and is accepted — also after the README's command for more
history ran beside the live demo. The demo province's dashboard has figures for past months."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from core.models import Kiosk, KioskRating, RollupCount
from core.models.kiosk_local import KioskState, OutboxRating
from tests.support.live import ROOT

pytestmark = pytest.mark.processes

GENERATED = re.compile(r"Generated (\d+) ratings, (\d+) responses \(\d+ answers\) "
                       r"from (\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d)")


def tap_at_the_kiosk(kiosk_db) -> tuple[str, int]:
    """A tap as the kiosk screen stores it: committed to the outbox, pending."""
    with Session(kiosk_db) as session, session.begin():
        state = session.get(KioskState, 1)
        assert state.config["counter"]["code"] == "Q01"
        now = datetime.now(UTC)
        tap = OutboxRating(uuid=str(uuid.uuid4()), seq=state.next_seq, scale=3, level=5,
                           officer_code="CB001", device_time=now, finalised_at=now,
                           status="pending")
        session.add(tap)
        state.next_seq += 1
        return tap.uuid, tap.seq


def wait_accepted(kiosk_db, aggregator_db, tapped: str, seq: int) -> None:
    """The tap is stored under the real kiosk with its own sequence number and marked sent."""
    deadline = time.monotonic() + 60
    while True:
        with Session(aggregator_db) as session:
            stored = session.execute(
                select(KioskRating.seq, Kiosk.synthetic, Kiosk.max_seq)
                .join(Kiosk, Kiosk.id == KioskRating.kiosk_id)
                .where(KioskRating.uuid == tapped)).one_or_none()
        if stored:
            break
        assert time.monotonic() < deadline, "the tap never reached the aggregator"
        time.sleep(0.5)
    assert tuple(stored) == (seq, False, seq)
    while True:  # the worker marks it sent right after the aggregator's answer
        with Session(kiosk_db) as session:
            status = session.scalar(select(OutboxRating.status)
                                    .where(OutboxRating.uuid == tapped))
        if status == "sent":
            break
        assert status == "pending", f"the aggregator answered {status}"
        assert time.monotonic() < deadline, "the tap was never marked sent"
        time.sleep(0.3)


def real_taps(aggregator_db) -> int:
    with Session(aggregator_db) as session:
        return session.scalar(select(func.count()).select_from(KioskRating).join(Kiosk)
                              .where(Kiosk.synthetic.is_(False)))


def monthly_figures(demo_dir: Path, aggregator_url: str, first: str, last: str) -> list[dict]:
    """The province's monthly trend over the history, as the dashboard's API serves it."""
    from sqlalchemy import select as sselect

    from core import create_app
    from core.extensions import db
    from core.models import User
    from core.services.accounts import api_tokens

    app = create_app(env={"SIPAS_ROLE": "aggregator",
                          "SIPAS_INSTANCE_PATH": str(demo_dir / "aggregator")})
    with app.app_context():
        admin = db.session.scalar(sselect(User).where(User.username == "admin"))
        token = api_tokens.create(admin, "demo test")
        db.session.commit()  # the service flushes; the test commits
        db.session.remove()
        db.engine.dispose()
    request = urllib.request.Request(
        f"{aggregator_url}/api/v1/reports/timeseries?unit=T-DEMO&period=custom"
        f"&start={first}&end={last}&months=13",
        headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["points"]


def test_a_demo_with_history_keeps_its_real_kiosk_syncing(tmp_path):
    demo_dir = tmp_path / "demo"
    env = {**os.environ, "DEMO_DIR": str(demo_dir), "DEMO_AGGREGATOR_PORT": "0",
           "DEMO_KIOSK_PORT": "0", "DEMO_ADMIN_PASSWORD": "demo-password-123",
           "SIPAS_SYNC_INTERVAL_S": "1",
           "DEMO_HISTORY_RATINGS": "6000", "DEMO_HISTORY_RESPONSES": "700"}
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115 - closed below
    demo = subprocess.Popen([sys.executable, "-m", "demo.run"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while b"Ctrl-C stops" not in (tmp_path / "demo.log").read_bytes():
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.3)
        made = GENERATED.search((tmp_path / "demo.log").read_text())
        assert made and made.group(1, 2) == ("6000", "700"), "the demo seeded no history"
        first, last = made.group(3), made.group(4)

        kiosk_db = create_engine(f"sqlite:///{demo_dir / 'kiosk' / 'kiosk.db'}")
        aggregator_db = create_engine(f"sqlite:///{demo_dir / 'aggregator' / 'aggregator.db'}")
        assert real_taps(aggregator_db) == 0
        tapped, seq = tap_at_the_kiosk(kiosk_db)
        wait_accepted(kiosk_db, aggregator_db, tapped, seq)
        with Session(aggregator_db) as session:
            assert session.scalar(select(func.sum(RollupCount.count))
                                  .where(RollupCount.item_code == "TAP")) == 6001

        # The README's command for more history, run beside the live demo.
        more = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "demo-data", "--ratings", "4000",
             "--responses", "500", "--months", "13", "--existing", "replace"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**{k: v for k, v in os.environ.items()
                    if k not in ("SIPAS_DATABASE_URL", "DATABASE_URL")},
                 "SIPAS_ROLE": "aggregator",
                 "SIPAS_INSTANCE_PATH": str(demo_dir / "aggregator")})
        assert more.returncode == 0, more.stdout + more.stderr
        assert "Replaced 6000 ratings and 700 responses" in more.stdout
        tapped, seq = tap_at_the_kiosk(kiosk_db)
        wait_accepted(kiosk_db, aggregator_db, tapped, seq)
        assert real_taps(aggregator_db) == 2
        with Session(aggregator_db) as session:
            assert session.scalar(select(func.sum(RollupCount.count))
                                  .where(RollupCount.item_code == "TAP")) == 4002
        kiosk_db.dispose()
        aggregator_db.dispose()

        admin = re.search(r"Administration:\s+(http://127\.0\.0\.1:\d+)/admin/",
                          (tmp_path / "demo.log").read_text())
        assert admin, "the demo did not print its aggregator address"
        points = monthly_figures(demo_dir, admin.group(1), first, last)
        past = [p for p in points if p["month"] < last[:7]]
        assert len(past) == 12 and past[0]["month"] == first[:7]
        assert all(p["counter_rate"]["value"] is not None for p in past), past
        assert all(p["sipas_index"]["value"] is not None for p in past), past
        assert date.fromisoformat(first) < date.fromisoformat(last)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGTERM)  # the demo stops its own children on SIGTERM
        demo.wait(timeout=60)
        log.close()
    assert "a process exited" not in (tmp_path / "demo.log").read_text()

"""Real processes for sync tests: an aggregator (gunicorn) and kiosk nodes with their own SQLite
outbox, enrolled through the CLI as an operator would, plus checks of the aggregator's tables."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from core.models import Kiosk, KioskRating, RollupCount, RollupHour
from core.models.kiosk_local import KioskState, OutboxRating
from tests.support.live import ROOT, VENV_BIN, flask, role_env

FAST_WORKER = {
    "SIPAS_SYNC_INTERVAL_S": "1",
    "SIPAS_SYNC_MAX_BACKOFF_S": "1",
}


def register_code(aggregator_env: dict[str, str], name: str) -> str:
    """`flask kiosks register` on the aggregator; the one-time code it prints."""
    out = flask(["kiosks", "register", "--unit", "T-DEMO-TTHCC", "--counter", "Q01",
                 "--name", name], aggregator_env).stdout
    match = re.search(r"code:\s*(\S+)", out, re.IGNORECASE)
    assert match, out
    return match.group(1)


class KioskNode:
    """A kiosk's outbox database and instance folder, enrolled at an aggregator."""

    def __init__(self, tmp: Path, name: str, batch_size: int = 100, **extra: str) -> None:
        self.dir = tmp / name
        self.db_url = f"sqlite:///{self.dir / 'kiosk.db'}"
        self.env = role_env("kiosk", self.db_url, self.dir / "instance",
                            SIPAS_SYNC_BATCH_SIZE=str(batch_size), **FAST_WORKER, **extra)
        flask(["db", "upgrade"], self.env)
        self.engine = create_engine(self.db_url)
        self.worker: subprocess.Popen | None = None
        self.uuids: list[str] = []
        self._log = open(self.dir / "worker.log", "ab")  # noqa: SIM115 - closed in close()

    def enroll(self, server_url: str, code: str) -> str:
        flask(["kiosk", "enroll", "--server", server_url, "--code", code], self.env)
        with Session(self.engine) as session:
            state = session.get(KioskState, 1)
            assert state is not None and state.kiosk_public_id
            return state.kiosk_public_id

    def point_at(self, server_url: str) -> None:
        """Send this kiosk's traffic elsewhere (through a proxy, to another instance)."""
        import json

        path = self.dir / "instance" / "kiosk_credentials.json"
        data = json.loads(path.read_text())
        data["server_url"] = server_url
        path.write_text(json.dumps(data))

    def tap(self, count: int, clock_offset_s: float = 0.0) -> list[str]:
        """Store ``count`` finalised taps as the kiosk does (uuid, next seq), up to 500 per
        write transaction so a large backlog is quick to build."""
        made = []
        with Session(self.engine) as session:
            for start in range(0, count, 500):
                with session.begin():
                    state = session.get(KioskState, 1)
                    assert state is not None
                    for i in range(start, min(count, start + 500)):
                        seq = state.next_seq
                        state.next_seq = seq + 1
                        now = datetime.now(UTC) + timedelta(seconds=clock_offset_s)
                        level = (5, 4, 2)[i % 3]
                        row = OutboxRating(
                            uuid=str(uuid.uuid4()), seq=seq, scale=3, level=level,
                            reasons=["waiting_time"] if level == 2 else None,
                            officer_code="CB001" if i % 2 else None, misuse=None,
                            device_time=now, status="pending", finalised_at=now,
                        )
                        session.add(row)
                        made.append(row.uuid)
        self.uuids.extend(made)
        return made

    def statuses(self) -> dict[str, int]:
        with Session(self.engine) as session:
            return dict(session.execute(
                select(OutboxRating.status, func.count()).group_by(OutboxRating.status)
            ).all())

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [str(VENV_BIN / "flask"), "--app", "wsgi", "kiosk", "sync"],
            cwd=ROOT, env={**os.environ, **self.env}, stdout=self._log, stderr=self._log,
            start_new_session=True,
        )

    def kill_worker(self, sig: int = signal.SIGKILL) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, sig)
            self.worker.wait(timeout=30)
        self.worker = None

    def wait_drained(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.statuses().get("pending", 0) == 0:
                return True
            time.sleep(0.2)
        return False

    def sync_once(self, max_seconds: float = 60) -> subprocess.CompletedProcess:
        return flask(["kiosk", "sync", "--once", "--max-seconds", str(max_seconds)], self.env,
                     check=False)

    def wait_for_log(self, needle: str, timeout: float) -> bool:
        """Wait until the worker's log contains ``needle`` (False if it never does)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            time.sleep(0.2)
        return False

    def log_text(self) -> str:
        self._log.flush()
        return (self.dir / "worker.log").read_text(errors="replace")

    def close(self) -> None:
        self.kill_worker()
        self.engine.dispose()
        self._log.close()


class AggregatorDB:
    """Read-only checks over the aggregator's database."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def assert_exactly_once(self, public_id: str, uuids: list[str]) -> Kiosk:
        """Every tapped rating stored once, sequence complete, rollups equal to the raw rows."""
        with Session(self.engine) as session:
            kiosk = session.scalar(select(Kiosk).where(Kiosk.public_id == public_id))
            assert kiosk is not None
            stored = session.scalars(
                select(KioskRating.uuid).where(KioskRating.kiosk_id == kiosk.id)
            ).all()
            assert len(stored) == len(set(stored)) == len(uuids)
            assert set(stored) == set(uuids)
            assert kiosk.contiguous_seq == kiosk.max_seq == len(uuids)
            seqs = session.scalars(
                select(KioskRating.seq).where(KioskRating.kiosk_id == kiosk.id)
                .order_by(KioskRating.seq)
            ).all()
            assert seqs == list(range(1, len(uuids) + 1)), "a gap in the sequence"
            session.expunge(kiosk)
        self.assert_rollups_match()
        return kiosk

    def assert_rollups_match(self) -> None:
        """Rollup TAP counts per unit, counter, day and level equal a count over raw rows."""
        with Session(self.engine) as session:
            raw = {
                (u, c, d, lv): n for u, c, d, lv, n in session.execute(
                    select(KioskRating.unit_id, KioskRating.counter_id, KioskRating.local_day,
                           KioskRating.level, func.count())
                    .group_by(KioskRating.unit_id, KioskRating.counter_id,
                              KioskRating.local_day, KioskRating.level)
                )
            }
            rolled = {
                (u, c, d, lv): int(n) for u, c, d, lv, n in session.execute(
                    select(RollupCount.unit_id, RollupCount.counter_id, RollupCount.day,
                           RollupCount.level, func.sum(RollupCount.count))
                    .where(RollupCount.channel == "kiosk", RollupCount.item_code == "TAP")
                    .group_by(RollupCount.unit_id, RollupCount.counter_id, RollupCount.day,
                              RollupCount.level)
                )
            }
            assert rolled == raw
            for flagged in (False, True):
                hours = session.execute(select(func.sum(RollupHour.total))
                                        .where(RollupHour.misuse.is_(flagged))).scalar() or 0
                misuse = KioskRating.misuse
                taps = session.execute(
                    select(func.count()).select_from(KioskRating)
                    .where(misuse.is_not(None) if flagged else misuse.is_(None))
                ).scalar()
                assert int(hours) == taps

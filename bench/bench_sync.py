"""Sync ingest throughput: ratings/s pushed over HTTP to gunicorn by several concurrent kiosks
(batches of 500), on PostgreSQL and SQLite, against the raw bulk-insert rate of the same rows into
the same database (the limit), plus the time for one kiosk's worker to drain a 100,000 backlog.

Environment: BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/sipas_bench,
created if missing), BENCH_SYNC_KIOSKS (4), BENCH_SYNC_RATINGS (ratings per kiosk, 15000),
BENCH_SYNC_BACKLOG (100000), BENCH_SYNC_WORKERS (gunicorn workers, 3), BENCH_SYNC_SKIP_PG=1.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import protocol  # noqa: E402
from core.models import Kiosk, KioskRating  # noqa: E402
from kiosk import identity  # noqa: E402
from tests.support.live import SECRET, Server, prepared  # noqa: E402
from tests.support.sync_live import KioskNode, register_code  # noqa: E402

BATCH = 500
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/sipas_bench"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def fresh_postgres(url: str) -> str:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return url


def ratings(count: int, start_seq: int = 1) -> list[dict]:
    now = datetime.now(UTC) - timedelta(seconds=5)
    out = []
    for i in range(count):
        level = (5, 4, 2, 5, 4)[i % 5]
        out.append({
            "uuid": str(uuid.uuid4()), "seq": start_seq + i, "scale": 3, "level": level,
            "reasons": ["waiting_time"] if level == 2 else [],
            "officer_code": "CB001" if i % 2 else None, "dossier_code": None,
            "procedure_code": "HT-001" if i % 3 == 0 else None, "misuse": None,
            # Within the minutes after the kiosk was registered (older would be refused).
            "device_time": (now - timedelta(seconds=240 * (count - i) / count)).isoformat(),
            "questionnaire_version": 1,
        })
    return out


def enroll(url: str, code: str) -> identity.Credentials:
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/api/v1/sync/enroll", body=json.dumps({"code": code}),
                 headers={"Content-Type": "application/json"})
    body = json.loads(conn.getresponse().read())
    conn.close()
    return identity.Credentials(body["kiosk_id"], body["secret"], url)


def push_all(port: int, creds: identity.Credentials, bodies: list[bytes],
             errors: list[str]) -> None:
    for body in bodies:
        while True:
            headers = protocol.signed_headers(creds, "POST", "/api/v1/sync/push", body,
                                              time.time())
            headers["Content-Type"] = "application/json"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                conn.request("POST", "/api/v1/sync/push", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            finally:
                conn.close()
            if response.status == 200:
                answer = json.loads(data)
                if answer["accepted"] != BATCH:
                    errors.append(f"only {answer['accepted']} accepted")
                break
            if response.status in (429, 503):
                time.sleep(float(response.getheader("Retry-After") or 1))
                continue
            errors.append(f"{response.status} {data[:200]!r}")
            break


def http_rate(server: Server, env: dict, kiosks: int, per_kiosk: int) -> tuple[float, int]:
    creds = [enroll(server.url, register_code(env, f"bench {i}")) for i in range(kiosks)]
    work = []
    for c in creds:
        items = ratings(per_kiosk)
        work.append((c, [json.dumps({"device_clock": time.time(),
                                     "ratings": items[i:i + BATCH]}).encode()
                         for i in range(0, per_kiosk, BATCH)]))
    errors: list[str] = []
    threads = [threading.Thread(target=push_all, args=(server.port, c, bodies, errors))
               for c, bodies in work]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"bench_sync: push errors: {errors[:3]}")
    return kiosks * per_kiosk / elapsed, kiosks * per_kiosk


def raw_rate(url: str, env: dict, server: Server, count: int) -> float:
    """The same rows inserted straight into the same database, 500 per transaction."""
    creds = enroll(server.url, register_code(env, "bench raw"))
    engine = create_engine(url)
    with Session(engine) as session:
        kiosk = session.scalar(select(Kiosk).where(Kiosk.public_id == creds.kiosk_id))
        kiosk_id, unit_id, counter_id = kiosk.id, kiosk.unit_id, kiosk.counter_id
    now = datetime.now(UTC)
    rows = [{
        "uuid": r["uuid"], "kiosk_id": kiosk_id, "seq": r["seq"], "unit_id": unit_id,
        "counter_id": counter_id, "officer_id": None, "procedure_id": None,
        "dossier_code": None, "scale": 3, "level": r["level"], "reasons": r["reasons"] or None,
        "misuse": None, "questionnaire_version": 1,
        "device_time": datetime.fromisoformat(r["device_time"]), "received_at": now,
        "local_day": now.date(), "local_hour": now.hour, "extra": None,
    } for r in ratings(count)]
    started = time.perf_counter()
    with engine.connect() as conn:
        for i in range(0, count, BATCH):
            with conn.begin():
                conn.execute(insert(KioskRating), rows[i:i + BATCH])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return count / elapsed


def drain_time(server: Server, env: dict, backlog: int, tmp: Path) -> float:
    """One kiosk's sync worker pushing a backlog of ``backlog`` ratings until none is left."""
    from core import create_app
    from kiosk.sync import Worker

    node = KioskNode(tmp, f"drain-{len(list(tmp.iterdir()))}", batch_size=BATCH)
    node.enroll(server.url, register_code(env, "bench drain"))
    node.tap(backlog)
    app = create_app({"SQLALCHEMY_DATABASE_URI": node.db_url, "ROLE": "kiosk",
                      "INSTANCE_PATH": str(node.dir / "instance"), "SECRET_KEY": SECRET},
                     env={})
    with app.app_context():
        started = time.perf_counter()
        if not Worker().run(once=True, max_seconds=1800):
            raise SystemExit("bench_sync: the backlog did not drain")
        elapsed = time.perf_counter() - started
    pending = node.statuses().get("pending", 0)
    node.close()
    if pending:
        raise SystemExit(f"bench_sync: {pending} ratings left after the drain")
    return elapsed


def run_backend(name: str, url: str, tmp: Path) -> None:
    kiosks = env_int("BENCH_SYNC_KIOSKS", 4)
    per_kiosk = env_int("BENCH_SYNC_RATINGS", 15000) // BATCH * BATCH
    backlog = env_int("BENCH_SYNC_BACKLOG", 100_000)
    workers = env_int("BENCH_SYNC_WORKERS", 3)
    env = prepared("aggregator", url, tmp / f"{name}-instance", SIPAS_LOG_LEVEL="ERROR",
                   SIPAS_SYNC_RATE_PER_MINUTE="100000")
    server = Server(env, workers=workers, log_path=tmp / f"{name}.log").start()
    try:
        rate, total = http_rate(server, env, kiosks, per_kiosk)
        limit = raw_rate(url, env, server, total)
        print(f"{name}: HTTP ingest {rate:,.0f} ratings/s ({kiosks} kiosks x {per_kiosk:,}, "
              f"batch {BATCH}, {workers} gunicorn workers); raw bulk insert {limit:,.0f}/s; "
              f"ratio {rate / limit:.2f}")
        drained = drain_time(server, env, backlog, tmp)
        print(f"{name}: drain of a {backlog:,}-rating backlog by one kiosk worker: "
              f"{drained:.1f} s ({backlog / drained:,.0f} ratings/s)")
        engine = create_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(KioskRating)).scalar()
        engine.dispose()
        expected = 2 * total + backlog
        if stored != expected:
            raise SystemExit(f"bench_sync: {stored} rows stored, expected {expected}")
    finally:
        server.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp_name:
        tmp = Path(tmp_name)
        if os.environ.get("BENCH_SYNC_SKIP_PG") != "1":
            url = fresh_postgres(os.environ.get("BENCH_DATABASE_URL", PG_DEFAULT))
            run_backend("PostgreSQL", url, tmp)
        run_backend("SQLite", f"sqlite:///{tmp / 'bench.db'}", tmp)


if __name__ == "__main__":
    main()

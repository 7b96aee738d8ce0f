"""A power cut right after a tap is answered: the rating is on disk when the kiosk comes back.

The kiosk's gunicorn (master and worker) is killed with SIGKILL the moment the tap's answer
arrives, as a pulled plug would stop it; after a restart every acknowledged rating is there,
once, with contiguous sequence numbers.
"""

from __future__ import annotations

import pytest

from tests.support.kiosk import outbox_rows, prepare_live_kiosk
from tests.support.kiosk_http import KioskClient
from tests.support.live import Server

pytestmark = pytest.mark.processes

ROUNDS = 3


def test_every_answered_tap_survives_sigkill_and_restart(tmp_path):
    env, url = prepare_live_kiosk(tmp_path, min_interval_s=5)
    server = Server(env, workers=1, log_path=tmp_path / "gunicorn.log").start()
    acknowledged: list[tuple[int, str]] = []
    try:
        for round_no in range(ROUNDS):
            client = KioskClient(server.url)
            client.open_idle()
            level = (5, 2, 4)[round_no % 3]
            status, location = client.tap(level)
            server.kill()  # the instant the answer is in: no graceful shutdown, no flush
            assert status == 303, status
            acknowledged.append((level, location))
            server.start()
        rows = outbox_rows(url)
        assert [row["seq"] for row in rows] == list(range(1, ROUNDS + 1))
        assert [row["level"] for row in rows] == [level for level, _ in acknowledged]
        assert len({row["uuid"] for row in rows}) == ROUNDS
        assert all(row["status"] == "pending" for row in rows)
        # Satisfied taps were final at once; the dissatisfied one waits for its follow-up.
        assert [row["finalised_at"] is not None for row in rows] == [
            level >= 4 for level, _ in acknowledged]
        # The restarted kiosk carries on with the next sequence number.
        client = KioskClient(server.url)
        client.open_idle()
        assert client.tap(5)[0] == 303
        assert [row["seq"] for row in outbox_rows(url)] == list(range(1, ROUNDS + 2))
    finally:
        server.close()


def test_a_follow_up_answered_before_a_power_cut_is_kept(tmp_path):
    env, url = prepare_live_kiosk(tmp_path, min_interval_s=0)
    server = Server(env, workers=1, log_path=tmp_path / "gunicorn.log").start()
    try:
        client = KioskClient(server.url)
        client.open_idle()
        status, location = client.tap(2)
        assert status == 303 and "/kiosk/followup?r=" in location
        status, html, _headers = client.request("GET", location.replace(server.url, ""))
        assert status == 200
        ref = html.split('name="r" value="', 1)[1].split('"', 1)[0]
        status, _html, _headers = client.request("POST", "/kiosk/followup", {
            "r": ref, "reason": ["waiting_time", "premises_equipment"], "action": "send",
            "csrf_token": client.token})
        server.kill()
        assert status == 303
        server.start()
        [row] = outbox_rows(url)
        assert row["reasons"] == ["waiting_time", "premises_equipment"]
        assert row["finalised_at"] is not None
    finally:
        server.close()


def test_concurrent_taps_on_two_workers_get_unique_contiguous_sequence_numbers(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    env, url = prepare_live_kiosk(tmp_path, min_interval_s=0)
    server = Server(env, workers=2, log_path=tmp_path / "gunicorn.log").start()
    threads, taps_each = 4, 10
    try:
        def run(_index: int) -> list[int]:
            client = KioskClient(server.url)
            client.open_idle()
            return [client.tap(5)[0] for _ in range(taps_each)]

        with ThreadPoolExecutor(threads) as pool:
            statuses = [s for batch in pool.map(run, range(threads)) for s in batch]
    finally:
        server.close()
    assert statuses == [303] * (threads * taps_each)
    rows = outbox_rows(url)
    assert [row["seq"] for row in rows] == list(range(1, threads * taps_each + 1))
    assert len({row["uuid"] for row in rows}) == threads * taps_each

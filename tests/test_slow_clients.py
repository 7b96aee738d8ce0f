"""Slow clients cannot freeze the server: gunicorn started with the shipped configuration
(deploy/gunicorn.conf.py, gthread workers) keeps answering /healthz while eight connections
send their request a byte at a time or hold their headers open.

Found: four such connections froze the aggregator's two sync workers (/healthz answered only
after 33 s). No timing is asserted: /healthz must answer at all, within a generous bound.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.support.live import ROOT, Server, fresh_database_url, prepared

pytestmark = pytest.mark.processes

CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
SLOW_CLIENTS = 8
GENEROUS_S = 30


class SlowClients:
    """Connections that start a request and never finish it while the test runs."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            self.sockets.append(sock)
            if i % 2:
                # Headers held open: everything but the blank line that ends them.
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            else:
                thread = threading.Thread(target=self._trickle, args=(sock,), daemon=True)
                self.threads.append(thread)
                thread.start()

    def _trickle(self, sock: socket.socket) -> None:
        """One byte of a never-ending header every half second (slowloris)."""
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        sent = 0
        while not self.stop.is_set():
            byte = request[sent:sent + 1] or b"a"
            with contextlib.suppress(OSError):
                sock.sendall(byte)
            sent += 1
            self.stop.wait(0.5)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def aggregator(tmp_path: Path):
    env = prepared("aggregator", fresh_database_url("slow_clients", tmp_path),
                   tmp_path / "instance", seed=False)
    server = Server(env, workers=2, config=CONFIG, log_path=tmp_path / "gunicorn.log").start()
    yield server
    server.close()


def health(url: str) -> dict:
    with urllib.request.urlopen(url + "/healthz", timeout=GENEROUS_S) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_healthz_answers_while_slow_clients_hold_their_connections(aggregator):
    slow = SlowClients(aggregator.port, SLOW_CLIENTS)
    try:
        # Let the slow requests reach the workers (ordering only; nothing is timed).
        slow.stop.wait(2)
        for _ in range(5):
            assert health(aggregator.url)["status"] == "ok"
    finally:
        slow.close()


def test_the_shipped_configuration_uses_threads_and_bounded_timeouts():
    settings: dict = {}
    exec(compile(CONFIG.read_text(), str(CONFIG), "exec"), settings)  # our own file
    assert settings["worker_class"] == "gthread" and settings["threads"] >= 4
    assert 0 < settings["timeout"] <= 60 and 0 < settings["keepalive"] <= 10

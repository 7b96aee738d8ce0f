"""A small HTTP-aware TCP proxy for fault tests: drops connections before or after the response.

One request per connection (gunicorn's sync workers close after each answer anyway). For each
request it may, at random with the configured probabilities:
- ``drop_before``: close the client's connection without forwarding (the server never saw it);
- ``drop_after``: forward it, read the server's full answer, then close the client's connection
  without sending it (the server committed, the client never learns it).
It keeps every request it forwarded (``captured``) so a test can replay them, and can alternate
between several upstream servers (two aggregator instances on one database).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class Stats:
    forwarded: int = 0
    dropped_before: int = 0
    dropped_after: int = 0
    upstream_down: int = 0


@dataclass
class Proxy:
    upstreams: list[int]  # ports on 127.0.0.1
    drop_before: float = 0.0
    drop_after: float = 0.0
    seed: int = 0
    captured: list[bytes] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._next = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _choose(self) -> tuple[str, int]:
        with self._lock:
            roll = self._random.random()
            port = self.upstreams[self._next % len(self.upstreams)]
            self._next += 1
        if roll < self.drop_before:
            return "before", port
        if roll < self.drop_before + self.drop_after:
            return "after", port
        return "pass", port

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            conn.settimeout(30)
            request = read_request(conn)
            if request is None:
                return
            mode, port = self._choose()
            if mode == "before":
                with self._lock:
                    self.stats.dropped_before += 1
                return
            try:
                response = exchange(port, request)
            except OSError:
                with self._lock:
                    self.stats.upstream_down += 1
                return
            with self._lock:
                self.captured.append(request)
                if mode == "after":
                    self.stats.dropped_after += 1
                    return
                self.stats.forwarded += 1
            with contextlib.suppress(OSError):
                conn.sendall(response)


def read_request(conn: socket.socket) -> bytes | None:
    """One whole HTTP request (headers and Content-Length body), or None if the client left."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            rest += chunk
    except (OSError, ValueError):
        return None
    return head + b"\r\n\r\n" + rest


def exchange(port: int, request: bytes, timeout: float = 60) -> bytes:
    """Send one raw request to 127.0.0.1:port and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as upstream:
        upstream.sendall(request)
        chunks = []
        while True:
            chunk = upstream.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)

"""Real database outages for tests: nothing is mocked, the database really cannot be reached.

- PostgreSQL: the app connects through ``TcpRelay``, a plain TCP relay to the server. ``cut()``
  closes its port and every connection it carries (as a crashed or rebooting server would);
  ``restore()`` listens on the same port again.
- SQLite: the database file lives in a folder of its own. ``cut()`` moves the folder away (a
  detached disk), so every new connection fails to open the file; ``restore()`` puts it back.
  An open SQLite connection keeps its file descriptors, so a process must open new connections
  to see the outage (``engine.dispose()`` in-process; a server started during the outage has none).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sqlite3
import threading
from pathlib import Path

from sqlalchemy.engine import make_url


class TcpRelay:
    """Relays 127.0.0.1:port to 127.0.0.1:target while started; nothing listens while stopped."""

    def __init__(self, target: int) -> None:
        self.target = target
        with socket.socket() as probe:  # choose a free port once; it is reused on restart
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> TcpRelay:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class DatabaseOutage:
    """A database the test can take away and give back; ``url`` is what the app is given."""

    def __init__(self, database_url: str, folder: Path) -> None:
        url = make_url(database_url)
        self.relay: TcpRelay | None = None
        if url.get_backend_name() == "postgresql":
            self.relay = TcpRelay(url.port or 5432).start()
            self.url = url.set(host="127.0.0.1", port=self.relay.port).render_as_string(
                hide_password=False)
            self.hidden = f"127.0.0.1:{self.relay.port}"
            return
        source = Path(url.database or "")
        self.disk = folder / "disk"
        self.away = folder / "disk-away"
        self.disk.mkdir(parents=True)
        target = self.disk / source.name
        if source.exists():  # a copy of a migrated database, taken with SQLite's backup API
            with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
                src.backup(dst)
        self.url = f"sqlite:///{target}"
        self.hidden = str(self.disk)

    def cut(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        else:
            self.disk.rename(self.away)

    def restore(self) -> None:
        if self.relay is not None:
            self.relay.start()
        else:
            self.away.rename(self.disk)

    def close(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        elif self.away.exists() and not self.disk.exists():
            self.away.rename(self.disk)
        elif self.away.exists():
            shutil.rmtree(self.away)

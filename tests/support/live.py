"""Real processes for tests: gunicorn servers started, health-checked and killed from the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SECRET = "live-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def bound_socket(port: int = 0, timeout: float = 15.0) -> socket.socket:
    """A TCP socket bound to 127.0.0.1 and held by this process, so that no other process can
    take its port between choosing it and serving on it (port 0: the kernel picks a free one).

    A given port is retried for a while: after a kill, the old server's workers may hold it for
    a moment longer."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket()
        if port:  # a restart on the same port must not wait for old connections' TIME_WAIT
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return sock
        except OSError:
            sock.close()
            if not port or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port nothing listens on for the whole block (bound here, never listening), so
    connecting to it is refused rather than reaching whatever took a "free" port meanwhile."""
    with bound_socket() as sock:
        yield sock.getsockname()[1]


def fresh_database_url(name: str, tmp_path: Path) -> str:
    """An empty database for one live scenario: a SQLite file, or a PostgreSQL database."""
    if os.environ.get("SIPAS_TEST_BACKEND") != "postgresql":
        return f"sqlite:///{tmp_path / (name + '.db')}"
    base = os.environ.get(
        "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ).replace("postgresql://", "postgresql+psycopg://")
    url = make_url(base)
    dbname = f"{url.database}_{name}"[:63]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    admin.dispose()
    return url.set(database=dbname).render_as_string(hide_password=False)


def flask(
    args: list[str], env: Mapping[str, str], check: bool = True
) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi ARGS` as the operator would."""
    return subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


class Server:
    """A gunicorn process serving one role of the app on a port this process reserved.

    The socket is bound here and handed to gunicorn (`--bind fd://N`), so the health check can
    only reach our own server. While the server is down the port is closed (a client meets a
    refused connection, as with a dead server); `start()` binds the same port again."""

    def __init__(self, env: Mapping[str, str], workers: int = 2, port: int | None = None,
                 log_path: Path | None = None, listener: socket.socket | None = None,
                 config: Path | None = None) -> None:
        self.env = {**os.environ, **env}
        self.workers = workers
        self.config = config  # a gunicorn configuration file, e.g. deploy/gunicorn.conf.py
        self._sock: socket.socket | None = listener or bound_socket(port or 0)
        self.port: int = self._sock.getsockname()[1]
        self.proc: subprocess.Popen | None = None
        self.log_path = log_path
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        if self.log_path and self._log is None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in kill()
        log = self._log or subprocess.DEVNULL
        sock = self._sock or bound_socket(self.port)
        self._sock = None
        try:
            self.proc = subprocess.Popen(
                [
                    str(VENV_BIN / "gunicorn"),
                    *(["--config", str(self.config)] if self.config else []),
                    "--bind", f"fd://{sock.fileno()}",
                    "--workers", str(self.workers),
                    "--graceful-timeout", "2",
                    "--timeout", "60",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
                pass_fds=(sock.fileno(),),
                start_new_session=True,  # its own process group, so a kill reaches every worker
            )
        finally:
            sock.close()  # gunicorn holds it now; when gunicorn dies, the port closes
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"{self.url} not healthy after {timeout}s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group (master and workers) at once, as a power cut would."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=30)
        self.proc = None

    def close(self) -> None:
        """Stop the server and close its log."""
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        if self._sock is not None:  # reserved but never started
            self._sock.close()
            self._sock = None


def role_env(role: str, database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    instance.mkdir(parents=True, exist_ok=True)
    return {
        "SIPAS_ROLE": role,
        "SIPAS_DATABASE_URL": database_url,
        "SIPAS_INSTANCE_PATH": str(instance),
        "SIPAS_SECRET_KEY": SECRET,
        "SIPAS_LOG_LEVEL": "WARNING",
        **extra,
    }


def prepared(role: str, database_url: str, instance: Path, seed: bool = True,
             **extra: str) -> dict[str, str]:
    """Environment for a role whose database is migrated (and seeded with the demo)."""
    env = role_env(role, database_url, instance, **extra)
    flask(["db", "upgrade"], env)
    if seed:
        flask(["seed-demo"], {**env, "DEMO_ADMIN_PASSWORD": "demo-password-123"})
    return env

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
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SECRET = "live-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    """A gunicorn process serving one role of the app on a free port."""

    def __init__(self, env: Mapping[str, str], workers: int = 2, port: int | None = None,
                 log_path: Path | None = None, config: Path | None = None) -> None:
        self.env = {**os.environ, **env}
        self.workers = workers
        self.config = config  # a gunicorn configuration file, e.g. deploy/gunicorn.conf.py
        self.port = port or free_port()
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
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                *(["--config", str(self.config)] if self.config else []),
                "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers),
                "--graceful-timeout", "2",
                "--timeout", "60",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group, so a kill reaches every worker
        )
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

"""`make run`: the whole loop on one machine — an aggregator and one enrolled kiosk, as separate
gunicorn processes talking HTTP, plus the kiosk's sync worker. Ctrl-C stops everything.

State lives in instance/demo/ (delete it to start over). The admin password comes from
DEMO_ADMIN_PASSWORD when set, otherwise it is generated and printed on first start.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# State folder; DEMO_DIR moves it (the end-to-end test runs the demo in a temporary folder).
DEMO = Path(os.environ.get("DEMO_DIR") or ROOT / "instance" / "demo")
# Ports; 0 lets the system choose a free one (the end-to-end test does, so it never races).
AGGREGATOR_PORT = int(os.environ.get("DEMO_AGGREGATOR_PORT", "8000"))
KIOSK_PORT = int(os.environ.get("DEMO_KIOSK_PORT", "8001"))
DEMO_UNIT, DEMO_COUNTER = "T-DEMO-TTHCC", "Q01"
# A year of history for the dashboard (13 months: the past twelve and this one so far), on
# synthetic kiosks of its own; about 15 s on a small two-core machine. DEMO_HISTORY_RATINGS and
# DEMO_HISTORY_RESPONSES change the size (0 and 0: no history).
HISTORY_MONTHS = 13
HISTORY_RATINGS = int(os.environ.get("DEMO_HISTORY_RATINGS", "24000"))
HISTORY_RESPONSES = int(os.environ.get("DEMO_HISTORY_RESPONSES", "2400"))


def env_for(role: str) -> dict[str, str]:
    instance = DEMO / role
    instance.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SIPAS_ROLE": role,
        "SIPAS_INSTANCE_PATH": str(instance),
        "SIPAS_PUBLIC_URL": f"http://127.0.0.1:{AGGREGATOR_PORT}",
        "PYTHONUNBUFFERED": "1",
    }
    # The demo's databases are its own files, whatever the shell has configured.
    env.pop("SIPAS_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    if role == "kiosk":
        env.setdefault("SIPAS_KIOSK_TECH_PIN", "246810")
        env.setdefault("SIPAS_KIOSK_LOCAL_API_KEY", "demo-counter-software-key")
    return env


def flask(role: str, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT, env=env_for(role), capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"demo: `flask {' '.join(args)}` ({role}) failed")
    return result.stdout


def listen(port: int, name: str) -> socket.socket:
    """Bind the port here, before anything starts: a port already taken stops the demo with a
    clear message (instead of its health check reaching someone else's server)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"demo: port {port} is taken ({exc.strerror}); set {name}") from exc
    return sock


def gunicorn(role: str, sock: socket.socket, workers: int) -> subprocess.Popen:
    """gunicorn serving on the socket bound by `listen` (handed over as fd://N)."""
    return subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"fd://{sock.fileno()}", "--workers", str(workers),
         "--access-logfile", "-", "wsgi:app"],
        cwd=ROOT, env=env_for(role), start_new_session=True, pass_fds=(sock.fileno(),),
    )


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: the process for {url} exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"demo: {url} did not become healthy")


def main() -> int:
    global AGGREGATOR_PORT, KIOSK_PORT
    aggregator_sock = listen(AGGREGATOR_PORT, "DEMO_AGGREGATOR_PORT")
    kiosk_sock = listen(KIOSK_PORT, "DEMO_KIOSK_PORT")
    AGGREGATOR_PORT = aggregator_sock.getsockname()[1]  # the chosen one when 0 was asked
    KIOSK_PORT = kiosk_sock.getsockname()[1]
    aggregator_url = f"http://127.0.0.1:{AGGREGATOR_PORT}"
    kiosk_url = f"http://127.0.0.1:{KIOSK_PORT}"
    print("== aggregator: migrating and seeding the demo organisation")
    flask("aggregator", "db", "upgrade")
    seeded = flask("aggregator", "seed-demo")
    print(seeded.strip())
    if HISTORY_RATINGS or HISTORY_RESPONSES:
        print(f"== aggregator: a year of demo history ({HISTORY_RATINGS} ratings, "
              f"{HISTORY_RESPONSES} surveys) unless it is there already")
        started = time.monotonic()
        # `skip`: a restart keeps the history it has; real kiosks are never touched.
        made = flask("aggregator", "demo-data", "--ratings", str(HISTORY_RATINGS),
                     "--responses", str(HISTORY_RESPONSES), "--months", str(HISTORY_MONTHS),
                     "--existing", "skip")
        print(made.strip().splitlines()[-1].rstrip(".") + f" ({time.monotonic() - started:.0f} s)")
    print("== kiosk: migrating its local outbox")
    flask("kiosk", "db", "upgrade")

    processes: list[subprocess.Popen] = []

    def stop(*_args: object) -> None:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    aggregator = gunicorn("aggregator", aggregator_sock, workers=2)
    processes.append(aggregator)
    wait_healthy(aggregator_url, aggregator)

    if not (DEMO / "kiosk" / "kiosk_credentials.json").exists():
        print("== enrolling the demo kiosk at counter Q01 of the service centre")
        registered = flask("aggregator", "kiosks", "register", "--unit", DEMO_UNIT,
                           "--counter", DEMO_COUNTER, "--name", "Kiosk quầy 01")
        match = re.search(r"code:\s*(\S+)", registered, re.IGNORECASE)
        if not match:
            raise SystemExit(f"demo: no enrollment code in: {registered!r}")
        flask("kiosk", "kiosk", "enroll", "--server", aggregator_url, "--code", match.group(1))

    kiosk = gunicorn("kiosk", kiosk_sock, workers=1)
    processes.append(kiosk)
    wait_healthy(kiosk_url, kiosk)
    worker = subprocess.Popen(
        [str(BIN / "flask"), "--app", "wsgi", "kiosk", "sync"],
        cwd=ROOT, env=env_for("kiosk"), start_new_session=True,
    )
    processes.append(worker)

    print(
        "\n"
        f"  Kiosk (touch screen):   {kiosk_url}/kiosk/\n"
        f"  Kiosk status:           {kiosk_url}/kiosk/status  (technician PIN 246810)\n"
        f"  Administration:         {aggregator_url}/admin/\n"
        f"  Health:                 {aggregator_url}/healthz  {kiosk_url}/healthz\n"
        "  Officer PINs at the demo kiosk: CB001 1111, CB002 2222.\n"
        "  Ctrl-C stops both processes and the sync worker.\n"
    )
    while True:
        for proc in processes:
            if proc.poll() is not None:
                print(f"demo: a process exited ({proc.args[0]}, code {proc.returncode}); stopping")
                stop()
        time.sleep(1)


if __name__ == "__main__":
    raise SystemExit(main())

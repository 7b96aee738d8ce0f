"""The kiosk's database (officer PIN hashes, outbox), credentials and instance folder are
readable by the service account only, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from core import create_app
from core.extensions import db
from kiosk import identity


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)  # the usual default: files 0644, folders 0755
    yield
    os.umask(old)


def test_a_new_kiosk_creates_its_instance_database_and_credentials_private(tmp_path, open_umask):
    instance = tmp_path / "instance"
    app = create_app({"ROLE": "kiosk", "INSTANCE_PATH": str(instance), "TESTING": True}, env={})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        with db.engine.begin() as conn:  # WAL and shared memory exist while a connection is open
            conn.execute(text("CREATE TABLE probe (x INTEGER)"))
            conn.execute(text("INSERT INTO probe VALUES (1)"))
            files = {name: instance / name for name in ("kiosk.db", "kiosk.db-wal",
                                                        "kiosk.db-shm", "secret_key")}
            assert all(f.exists() for f in files.values()), sorted(os.listdir(instance))
            for name, file in files.items():
                assert mode(file) == 0o600, f"{name} is {oct(mode(file))}"
        identity.save(identity.Credentials("k", "s" * 43, "https://example.test"))
        db.engine.dispose()
    assert mode(instance) == 0o700
    assert mode(instance / identity.FILENAME) == 0o600


def test_files_left_readable_by_an_older_version_are_tightened_at_start(tmp_path, open_umask):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    database = instance / "kiosk.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").touch(mode=0o644)
    create_app({"ROLE": "kiosk", "INSTANCE_PATH": str(instance), "TESTING": True,
                "SECRET_KEY": "k" * 40}, env={})
    assert mode(instance) == 0o700
    for suffix in ("", "-wal", "-shm"):
        assert mode(Path(f"{database}{suffix}")) == 0o600, suffix

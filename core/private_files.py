"""Files only the service account may read: the instance folder and the SQLite databases.

The kiosk's SQLite file holds officers' PIN hashes and its outbox, and the instance folder holds
the kiosk credentials and the generated secret key. With the usual umask 022 they were created
world-readable (0644 / 0755); now the folder is 0700 and each database file 0600. SQLite creates
its ``-wal`` and ``-shm`` files with the permissions of the database file, so creating the
database 0600 before SQLite opens it covers them; files left by an older version are tightened
at start-up.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy.engine import make_url

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    # Only what this account owns: a folder an operator shares on purpose (owned by another
    # account, e.g. a mounted volume) is left alone rather than failing the start.
    with contextlib.suppress(OSError):
        if path.stat().st_uid == os.geteuid() and path.stat().st_mode & 0o777 & ~mode:
            os.chmod(path, mode)


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and missing parents of it) as 0700, or tighten it if it is ours."""
    folder = Path(path)
    if not folder.exists():
        folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(folder, DIR_MODE)
    return folder


def private_sqlite(url: str) -> Path | None:
    """Create the SQLite file of ``url`` as 0600 before SQLite does, tighten its companions.

    None for PostgreSQL, in-memory SQLite and anything that is not a file path.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or \
            parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    file = Path(parsed.database)
    if not file.parent.is_dir():
        # A missing folder is not made here: it may be a disk that is away (an outage), and an
        # empty database in its place would hide that. SQLite reports it when it opens.
        return None
    with contextlib.suppress(FileExistsError):
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for suffix in SQLITE_SUFFIXES:
        _tighten(file.with_name(file.name + suffix), FILE_MODE)
    return file

"""Database engine set-up: durable SQLite pragmas and write transactions that never deadlock."""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.extensions import db


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def configure_engine(engine: Engine) -> None:
    """Make SQLite durable and concurrent enough to gate acknowledgements on a commit.

    WAL lets readers run beside the writer; synchronous=FULL means a committed rating survives a
    power cut; busy_timeout lets concurrent writers queue instead of failing. pysqlite's own
    transaction handling is switched off so we can emit BEGIN IMMEDIATE for write units.
    """
    if not is_sqlite(engine):
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - exercised by every SQLite test
        # A write unit asks for IMMEDIATE so two writers never deadlock upgrading a read lock.
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def begin_write(session: Session | None = None) -> None:
    """Start the session's transaction as a write unit (BEGIN IMMEDIATE on SQLite).

    Call it first thing in a service that writes and then commits; on PostgreSQL it simply begins.
    """
    session = session or db.session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            # Changes are pending in this unit already; it must finish as it started.
            return
        # End the read-only transaction so the write unit starts with a fresh snapshot.
        session.commit()
    session.connection(execution_options={"sqlite_immediate": True})


def ping() -> str | None:
    """Return None when the database answers, else a short reason (for /healthz)."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "unreachable"; report it
        return type(exc).__name__ + ": " + str(exc).splitlines()[0][:200]
    return None

"""Database engine set-up: durable SQLite pragmas and write transactions that never deadlock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from core.extensions import db

# Seconds a new PostgreSQL connection may take: a database host that drops packets must not hold
# a worker for the operating system's two-minute TCP timeout.
CONNECT_TIMEOUT_S = 5
# SQLite reports these programming mistakes as OperationalError too; they are bugs, not outages.
_SQLITE_BUGS = ("no such table", "no such column", "syntax error", "already exists",
                "has no column", "no such function")


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


def engine_options(uri: str, options: dict[str, Any]) -> dict[str, Any]:
    """The engine options for ``uri``: a connect timeout on PostgreSQL unless the URL sets one."""
    url = make_url(uri)
    if url.get_backend_name() != "postgresql" or "connect_timeout" in url.query:
        return options
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S, **options.get("connect_args", {})}
    return {**options, "connect_args": connect_args}


def is_outage(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached or used right now.

    A lost or refused connection, a server shutting down, a full or vanished disk, a lock or pool
    timeout: nothing was committed and the same request may succeed later. Programming errors
    (a missing table, bad SQL) are not outages and stay 500s.
    """
    if isinstance(error, exc.TimeoutError):  # the connection pool is exhausted
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, exc.InterfaceError):
        return True
    if not isinstance(error, exc.OperationalError):
        return False
    text_ = str(error.orig).lower()
    return not any(marker in text_ for marker in _SQLITE_BUGS)


def ping() -> str | None:
    """Return None when the database answers, else a short reason for the server's log.

    The reason may name the host and port: it is logged, never sent to a client.
    """
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "unreachable"; report it
        return type(error).__name__ + ": " + (str(error).splitlines() or [""])[0][:200]
    return None


def init_app(app: Any, outage_response: Any) -> None:
    """The request's one commit (see ``core.services.unit_of_work``).

    After the view has returned its response, whatever its status, the session is committed,
    so an audit entry that goes with a refusal is kept. An exception that escaped the view has
    already been rolled back by the error handlers (``core.errors``) before the page was made.
    The commit runs before the first byte leaves: a client never hears "stored" for a change that
    is not.
    """

    @app.after_request
    def _commit(response: Any) -> Any:
        session = db.session()
        if not session.in_transaction():
            return response
        try:
            session.commit()
        except Exception as error:
            if not is_outage(error):
                raise
            # The database went away between the view and the commit: nothing was stored, so
            # the answer is the outage's 503 with Retry-After (``outage_response``, given by the
            # factory: core.errors.database_unavailable), never the view's "stored".
            return outage_response()
        return response

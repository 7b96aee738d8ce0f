"""Shared fixtures: an app on a freshly migrated database (SQLite, or PostgreSQL when asked).

The suite runs on SQLite always; `make test` runs it again on PostgreSQL with
SIPAS_TEST_BACKEND=postgresql and TEST_DATABASE_URL pointing at an empty database.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from core import create_app
from core.extensions import db

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def backend() -> str:
    return os.environ.get("SIPAS_TEST_BACKEND", "sqlite")


def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def redis_url() -> str:
    """The Redis the Redis-backed tests use (TEST_REDIS_URL, as `.ci/run` sets it).

    Without it the test cannot run: in CI (CI=true) that is a failure, never a quiet skip;
    elsewhere the test skips and the summary (`-ra`) says why and how to run it."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        return url
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("TEST_REDIS_URL is not set, and CI must run the Redis tests")
    pytest.skip("needs Redis: set TEST_REDIS_URL=redis://127.0.0.1:6379/<db> (CI fails here)")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """One migrated database for the session; tests empty it between them."""
    if backend() == "postgresql":
        url = postgres_url()
        reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = make_app(url, tmp_path_factory.mktemp("instance"))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return url


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_app(url: str, instance: Path, **overrides):
    settings = {
        "SQLALCHEMY_DATABASE_URI": url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": SECRET,
        "ROLE": "all",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
    }
    settings.update(overrides)
    return create_app(settings, env={})


def empty_database() -> None:
    """Delete every row (keeps the schema and the alembic version), then restore reference data."""
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
        if _has_sqlite_sequence():
            db.session.execute(text("DELETE FROM sqlite_sequence"))
    db.session.commit()
    from core.services.survey.questionnaires import ensure_default

    ensure_default()
    db.session.commit()


def _has_sqlite_sequence() -> bool:
    return bool(
        db.session.execute(
            text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")
        ).first()
    )


@pytest.fixture
def app_factory(database_url, tmp_path):
    """Build an app on the test database with extra settings (e.g. CSRF on, another role)."""
    made = []

    def factory(**overrides):
        app = make_app(database_url, tmp_path / "instance", **overrides)
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory):
    app = app_factory()
    with app.app_context():
        empty_database()
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def demo(app):
    """The demo organisation (units, counters, officers, procedures)."""
    from demo.seed import seed_demo

    seed_demo()
    return app


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session's browser tests."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live_aggregator(tmp_path_factory):
    """A gunicorn aggregator on a migrated, seeded database of its own."""
    from tests.support.live import Server, fresh_database_url, prepared

    tmp = tmp_path_factory.mktemp("live-aggregator")
    env = prepared("aggregator", fresh_database_url("live_agg", tmp), tmp / "instance")
    server = Server(env, log_path=tmp / "gunicorn.log").start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def live_kiosk(tmp_path_factory):
    """A gunicorn kiosk on a migrated database of its own."""
    from tests.support.live import Server, fresh_database_url, prepared

    tmp = tmp_path_factory.mktemp("live-kiosk")
    env = prepared("kiosk", fresh_database_url("live_kiosk", tmp), tmp / "instance", seed=False)
    server = Server(env, workers=1, log_path=tmp / "gunicorn.log").start()
    yield server
    server.close()

"""Every setting in the README's configuration table changes what the product does.

The table is read from README.md: a setting added there without a check here fails
``test_every_documented_setting_has_a_check``, and a check for a setting that is not documented
fails too. Each check builds the app from the environment variable (``create_app(env=...)``, as
production does) and observes behaviour, not the parsed value.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from core import create_app
from core.extensions import db
from tests.conftest import ROOT, SECRET, backend

README = ROOT / "README.md"


def documented_settings() -> list[str]:
    """The variables of the README's "Configuration" table, in order."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration"):]
    section = section[:section.index("\n## ", 3)]
    return re.findall(r"^\| `(SIPAS_[A-Z_]+)`", section, flags=re.M)


def _address() -> str:
    """A client address no other test uses, so in-memory and Redis rate limits start at zero."""
    n = uuid.uuid4().int
    return f"10.{n % 250 + 1}.{(n >> 8) % 250 + 1}.{(n >> 16) % 250 + 1}"


class Env:
    """Builds apps on the test database from environment variables."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.tmp_path = tmp_path
        self.made: list = []

    def app(self, env: dict[str, str], *, keep: tuple[str, ...] = ()):
        settings = {"SQLALCHEMY_DATABASE_URI": self.database_url,
                    "INSTANCE_PATH": str(self.tmp_path / "instance"), "SECRET_KEY": SECRET,
                    "ROLE": "all", "TESTING": True, "WTF_CSRF_ENABLED": False}
        for name in keep:  # settings under test come from the environment only
            settings.pop(name, None)
        app = create_app(settings, env=env)
        self.made.append(app)
        return app

    def close(self) -> None:
        for app in self.made:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture
def env(demo, database_url, tmp_path):
    built = Env(database_url, tmp_path)
    yield built
    built.close()


def _boss_token(app) -> str:
    from core.services.accounts import api_tokens
    from tests.dashboard_support import user

    with app.app_context():
        token = api_tokens.create(user(f"boss{uuid.uuid4().hex[:6]}", "admin", None), "t")
        db.session.commit()
    return token


# --------------------------------------------------------------------------------------------------
# The checks, one per documented setting


def check_role(env: Env) -> None:
    app = env.app({"SIPAS_ROLE": "kiosk"}, keep=("ROLE",))
    client = app.test_client()
    assert client.get("/healthz").get_json()["role"] == "kiosk"
    assert client.get("/admin/login").status_code == 404  # no aggregator pages on a kiosk


def check_database_url(env: Env) -> None:
    other = env.tmp_path / "other.db"
    app = env.app({"SIPAS_DATABASE_URL": f"sqlite:///{other}"},
                  keep=("SQLALCHEMY_DATABASE_URI",))
    with app.app_context():
        db.session.execute(db.text("CREATE TABLE marker (id INTEGER)"))
        db.session.commit()
    assert other.is_file()


def check_instance_path(env: Env) -> None:
    folder = env.tmp_path / "chosen-instance"
    app = env.app({"SIPAS_INSTANCE_PATH": str(folder)}, keep=("INSTANCE_PATH", "SECRET_KEY"))
    # The generated secret key is kept in that folder, so a restart keeps sessions.
    assert (folder / "secret_key").read_text().strip() == app.secret_key


def check_secret_key(env: Env) -> None:
    from core.tokens import sign, verify

    key = "k" * 40
    one = env.app({"SIPAS_SECRET_KEY": key}, keep=("SECRET_KEY",))
    two = env.app({"SIPAS_SECRET_KEY": key}, keep=("SECRET_KEY",))
    other = env.app({"SIPAS_SECRET_KEY": "z" * 40}, keep=("SECRET_KEY",))
    token = sign({"x": 1, "exp": 4102444800}, one.secret_key)
    assert verify(token, two.secret_key)["x"] == 1  # instances with the same key agree
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do
        verify(token, other.secret_key)


def check_redis_url(env: Env) -> None:
    import os

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")
    shared = {"SIPAS_REDIS_URL": url, "SIPAS_PUBLIC_RATE_LIMIT": "1/60"}
    one, two = env.app(shared), env.app(shared)
    addr = {"REMOTE_ADDR": _address()}
    assert one.test_client().get("/cong-khai/T-DEMO-X1", environ_base=addr).status_code == 200
    # The second instance sees the first one's count: the limit is shared through Redis.
    assert two.test_client().get("/cong-khai/T-DEMO-X1", environ_base=addr).status_code == 429


def check_public_url(env: Env) -> None:
    from core.services.survey import links

    app = env.app({"SIPAS_PUBLIC_URL": "https://hailong.example.gov.vn"})
    with app.app_context():
        assert links.survey_url("abc") == "https://hailong.example.gov.vn/s/abc"


def check_proxy_count(env: Env) -> None:
    app = env.app({"SIPAS_PROXY_COUNT": "1", "SIPAS_PUBLIC_RATE_LIMIT": "1/60"})
    client = app.test_client()
    first, second = _address(), _address()

    def get(forwarded: str) -> int:
        return client.get("/cong-khai/T-DEMO-X1", headers={"X-Forwarded-For": forwarded},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code

    # The client address comes from the proxy's header: two citizens, two limits.
    assert [get(first), get(second), get(first)] == [200, 200, 429]


def check_secure_cookies(env: Env) -> None:
    on = env.app({"SIPAS_SECURE_COOKIES": "true"}).test_client().get("/admin/login")
    off = env.app({}).test_client().get("/admin/login")
    assert "Strict-Transport-Security" in on.headers
    assert "Strict-Transport-Security" not in off.headers
    assert all("Secure" in c for c in on.headers.getlist("Set-Cookie"))


def check_default_locale(env: Env) -> None:
    page = env.app({"SIPAS_DEFAULT_LOCALE": "en"}).test_client().get("/admin/login")
    assert '<html lang="en"' in page.get_data(True)


def check_min_report_n(env: Env) -> None:
    from core.services.reporting import figures, filters, periods
    from tests.dashboard_support import counter_of, tap, unit

    app = env.app({"SIPAS_MIN_REPORT_N": "13"})
    with app.app_context():
        for _ in range(12):
            tap(counter_of("T-DEMO-X2"), date(2026, 11, 3), 5)
        db.session.commit()

    def rate(app):
        with app.app_context():
            f = filters.Filters(unit("T-DEMO-X2"), periods.month_period(2026, 11))
            return figures.headline(f).counter_rate

    assert rate(app).suppressed  # 12 taps < 13
    assert not rate(env.app({})).suppressed  # 12 >= 10, the default


def check_min_officer_n(env: Env) -> None:
    from core.models import User
    from core.services.reporting import breakdowns, filters, periods
    from tests.dashboard_support import counter_of, officer, tap, unit, user

    app = env.app({"SIPAS_MIN_OFFICER_N": "30"})
    with app.app_context():
        cb = officer("CB006")
        for _ in range(25):
            tap(counter_of("T-DEMO-X2"), date(2026, 11, 3), 5, officer_id=cb.id)
        db.session.commit()
        name = f"boss{uuid.uuid4().hex[:6]}"
        user(name, "admin", None)

    def officer_rate(app):
        with app.app_context():
            boss = db.session.scalar(db.select(User).where(User.username == name))
            f = filters.Filters(unit("T-DEMO-X2"), periods.month_period(2026, 11))
            return breakdowns.breakdown(boss, f, "officer")[0].counter_rate

    assert officer_rate(app).suppressed  # 25 ratings < 30
    assert not officer_rate(env.app({})).suppressed  # 25 >= 20, the default


def check_session_idle_minutes(env: Env) -> None:
    from tests.dashboard_support import login, user

    app = env.app({"SIPAS_SESSION_IDLE_MINUTES": "1"})
    with app.app_context():
        name = f"idle{uuid.uuid4().hex[:6]}"
        user(name, "admin", None)
        client = app.test_client()
        login(client, name)
        assert client.get("/admin/dashboard").status_code == 200
        with client.session_transaction() as session:
            session["seen"] = int(time.time()) - 90  # 1.5 minutes idle
        assert client.get("/admin/dashboard").status_code == 302


def check_survey_poster_ip_limit(env: Env) -> None:
    from core.services.survey import flow as survey

    with env.app({"SIPAS_SURVEY_POSTER_IP_LIMIT": "2/3600"}).app_context():
        ip = _address()
        marks = [survey.poster_misuse(ip, uuid.uuid4().hex) for _ in range(3)]
    assert marks == [None, None, "rate_limited"]


def check_survey_poster_browser_limit(env: Env) -> None:
    from core.services.survey import flow as survey

    with env.app({"SIPAS_SURVEY_POSTER_BROWSER_LIMIT": "2/86400"}).app_context():
        browser = uuid.uuid4().hex
        marks = [survey.poster_misuse(_address(), browser) for _ in range(3)]
    assert marks == [None, None, "rate_limited"]


def check_survey_poster_start_limit(env: Env) -> None:
    from core.services.errors import ServiceError
    from core.services.survey import flow as survey

    with env.app({"SIPAS_SURVEY_POSTER_START_LIMIT": "2/3600"}).app_context():
        ip, target = _address(), SimpleNamespace(counter_id=1)
        survey.new_poster_key(target, ip)
        survey.new_poster_key(target, ip)
        with pytest.raises(ServiceError, match="busy"):
            survey.new_poster_key(target, ip)


def check_api_rate_limit(env: Env) -> None:
    app = env.app({"SIPAS_API_RATE_LIMIT": "1/60"})
    auth = {"Authorization": f"Bearer {_boss_token(app)}"}
    client = app.test_client()
    path = "/api/v1/reports/indices?unit=T-DEMO-X1&period=month&value=2026-11"
    assert [client.get(path, headers=auth).status_code for _ in range(2)] == [200, 429]


def check_public_rate_limit(env: Env) -> None:
    client = env.app({"SIPAS_PUBLIC_RATE_LIMIT": "2/60"}).test_client()
    addr = {"REMOTE_ADDR": _address()}
    codes = [client.get("/cong-khai/T-DEMO-X1", environ_base=addr).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def check_survey_token_days(env: Env) -> None:
    from core.services.survey import links
    from core.tokens import peek
    from tests.dashboard_support import unit

    with env.app({"SIPAS_SURVEY_TOKEN_DAYS": "2"}).app_context():
        before = time.time()
        token = links.dossier_token(unit("T-DEMO-X1").id, "HS-1")
        assert peek(token)["exp"] - before == pytest.approx(2 * 86400, abs=5)


def _tech_client(app):
    client = app.test_client()
    client.post("/kiosk/status", data={"pin": "2468"})
    return client


def check_aggregator_url(env: Env) -> None:
    app = env.app({"SIPAS_KIOSK_TECH_PIN": "2468",
                   "SIPAS_AGGREGATOR_URL": "https://tonghop.example.gov.vn"})
    page = _tech_client(app).get("/kiosk/setup").get_data(True)
    assert 'value="https://tonghop.example.gov.vn"' in page
    # The CLI enrolls there when --server is not given.
    from kiosk import sync

    seen = []
    original = sync.enroll

    def record(server, code, **kw):
        seen.append(server)
        raise sync.SyncFailure("not reached in this test", code="network")

    sync.enroll = record
    try:
        with app.app_context():  # the command runs in this app, not the fixture's
            result = app.test_cli_runner().invoke(
                args=["kiosk", "enroll", "--code", "AAAAA-BBBBB"])
    finally:
        sync.enroll = original
    assert seen == ["https://tonghop.example.gov.vn"], result.output


def check_kiosk_tech_pin(env: Env) -> None:
    app = env.app({"SIPAS_KIOSK_TECH_PIN": "2468"})
    client = app.test_client()
    assert client.post("/kiosk/status", data={"pin": "1357"}).status_code == 401
    assert client.post("/kiosk/status", data={"pin": "2468"}).status_code == 303
    assert client.get("/kiosk/setup").status_code == 200  # unlocked


def check_kiosk_local_api_key(env: Env) -> None:
    on = env.app({"SIPAS_KIOSK_LOCAL_API_KEY": "counter-key"}).test_client()
    off = env.app({}).test_client()
    local = {"REMOTE_ADDR": "127.0.0.1"}
    wrong = on.post("/kiosk/api/arm", json={}, headers={"X-Kiosk-Key": "nope"},
                    environ_base=local)
    right = on.post("/kiosk/api/arm", json={}, headers={"X-Kiosk-Key": "counter-key"},
                    environ_base=local)
    assert wrong.status_code == 401 and right.status_code not in (401, 403)
    assert off.post("/kiosk/api/arm", json={}, headers={"X-Kiosk-Key": "counter-key"},
                    environ_base=local).status_code == 403


def check_sync_batch_size(env: Env) -> None:
    from tests.support.sync_helpers import enrolled, push, rating

    app = env.app({"SIPAS_SYNC_BATCH_SIZE": "2"})
    with app.app_context():
        client = app.test_client()
        creds = enrolled(client, name="Batch kiosk")
        assert push(client, creds, [rating(1), rating(2)]).status_code == 200
        assert push(client, creds, [rating(3), rating(4), rating(5)]).status_code == 413


def _worker_sleeps(env: Env, variables: dict[str, str], fail: bool) -> list[float]:
    from kiosk import sync

    app = env.app(variables)
    slept: list[float] = []
    with app.app_context():
        worker = sync.Worker(sleep=slept.append, echo=lambda _m: None)

        def cycle():
            if fail:
                raise sync.SyncFailure("down", code="network", retry_after=10_000)
            return sync.CycleResult()

        worker.cycle = cycle  # type: ignore[method-assign]
        calls = iter(range(3))
        worker.run(stop=lambda: next(calls, None) is None)
    return slept


def check_sync_interval_s(env: Env) -> None:
    assert set(_worker_sleeps(env, {"SIPAS_SYNC_INTERVAL_S": "7"}, fail=False)) == {7.0}


def check_sync_max_backoff_s(env: Env) -> None:
    # Retry-After of 10,000 s is capped at the ceiling.
    assert set(_worker_sleeps(env, {"SIPAS_SYNC_MAX_BACKOFF_S": "42"}, fail=True)) == {42.0}


def check_enrollment_code_hours(env: Env) -> None:
    from core.models import utcnow
    from tests.support.sync_helpers import register_demo_kiosk

    with env.app({"SIPAS_ENROLLMENT_CODE_HOURS": "3"}).app_context():
        before = utcnow()
        kiosk, _code = register_demo_kiosk(name="Short code")
        hours = (kiosk.enrollment_expires_at - before).total_seconds() / 3600
        assert hours == pytest.approx(3, abs=0.01)


def check_key_rotation_grace_hours(env: Env) -> None:
    from core.models import Kiosk, utcnow
    from core.services.sync import registry
    from tests.support.sync_helpers import enrolled

    app = env.app({"SIPAS_KEY_ROTATION_GRACE_HOURS": "5"})
    with app.app_context():
        creds = enrolled(app.test_client(), name="Rotating kiosk")
        kiosk = db.session.scalar(db.select(Kiosk).where(Kiosk.public_id == creds.kiosk_id))
        before = utcnow()
        registry.rotate(kiosk)
        hours = (kiosk.previous_secret_until - before).total_seconds() / 3600
        assert hours == pytest.approx(5, abs=0.01)


def check_sync_rate_per_minute(env: Env) -> None:
    from tests.support.sync_helpers import enrolled, push

    app = env.app({"SIPAS_SYNC_RATE_PER_MINUTE": "1"})
    with app.app_context():
        client = app.test_client()
        creds = enrolled(client, name="Chatty kiosk")
        assert [push(client, creds, []).status_code for _ in range(2)] == [200, 429]


def check_sync_lock_timeout_ms(env: Env) -> None:
    from core.services.sync import locks

    app = env.app({"SIPAS_SYNC_LOCK_TIMEOUT_MS": "1500"})
    with app.app_context():
        if backend() == "postgresql":
            locks.set_lock_timeout()
            assert db.session.execute(db.text("SHOW lock_timeout")).scalar() == "1500ms"
            db.session.rollback()
        else:
            # SQLite has no lock timeout to set: the README says the setting is PostgreSQL's.
            row = next(line for line in README.read_text().splitlines()
                       if "SIPAS_SYNC_LOCK_TIMEOUT_MS" in line)
            assert "(PostgreSQL)" in row


def check_max_content_length(env: Env) -> None:
    client = env.app({"SIPAS_MAX_CONTENT_LENGTH": "2048"}).test_client()
    assert client.post("/admin/login", data={"username": "x" * 4096}).status_code == 413
    assert client.post("/admin/login", data={"username": "x" * 100}).status_code != 413


def check_log_level(env: Env) -> None:
    # A fresh process, as in production: pytest's own handlers would hide basicConfig here.
    code = ("from core import create_app; import logging; create_app({'SQLALCHEMY_DATABASE_URI':"
            f" 'sqlite://', 'INSTANCE_PATH': {str(env.tmp_path / 'log')!r}, 'SECRET_KEY': "
            f"{SECRET!r}}}, env={{'SIPAS_LOG_LEVEL': 'WARNING'}}); "
            "print(logging.getLogger().level)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    assert int(out.stdout.strip()) == logging.WARNING


def check_session_max_hours(env: Env) -> None:
    from tests.dashboard_support import login, user

    def after_two_hours(app) -> int:
        with app.app_context():
            name = f"life{uuid.uuid4().hex[:6]}"
            user(name, "admin", None)
            client = app.test_client()
            login(client, name)
            with client.session_transaction() as session:
                session["iat"] -= 2 * 3600  # signed in two hours ago, active ever since
            return client.get("/admin/dashboard").status_code

    assert after_two_hours(env.app({"SIPAS_SESSION_MAX_HOURS": "1"})) == 302
    assert after_two_hours(env.app({})) == 200  # 12 hours by default


def _sign_in(client, name: str, password: str, address: str):
    return client.post("/admin/login", data={"username": name, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def check_login_max_failures(env: Env) -> None:
    from tests.dashboard_support import PASSWORD, user

    def third_try_with_the_right_password(app) -> int:
        with app.app_context():
            name, address = f"lock{uuid.uuid4().hex[:6]}", _address()
            user(name, "admin", None)
            client = app.test_client()
            for _ in range(2):
                _sign_in(client, name, "wrong-password", address)
            return _sign_in(client, name, PASSWORD, address).status_code

    # Two tries per source: the third is refused before its password is looked at.
    assert third_try_with_the_right_password(env.app({"SIPAS_LOGIN_MAX_FAILURES": "2"})) == 429
    assert third_try_with_the_right_password(env.app({})) == 302  # 5 by default


def check_login_lock_minutes(env: Env) -> None:
    from tests.dashboard_support import user

    def retry_after(app) -> int:
        with app.app_context():
            name, address = f"wait{uuid.uuid4().hex[:6]}", _address()
            user(name, "admin", None)
            client = app.test_client()
            _sign_in(client, name, "wrong-password", address)
            refused = _sign_in(client, name, "wrong-password", address)
            assert refused.status_code == 429
            return int(refused.headers["Retry-After"])

    assert retry_after(env.app({"SIPAS_LOGIN_MAX_FAILURES": "1",
                                "SIPAS_LOGIN_LOCK_MINUTES": "1"})) <= 60
    assert retry_after(env.app({"SIPAS_LOGIN_MAX_FAILURES": "1"})) > 60  # 15 minutes by default


def check_login_ip_attempts(env: Env) -> None:
    app = env.app({"SIPAS_LOGIN_IP_ATTEMPTS": "2"})
    address = _address()
    client = app.test_client()
    # Three different names from one address: the third is refused (password spraying).
    codes = [_sign_in(client, f"spray{uuid.uuid4().hex[:6]}", "wrong-password",
                      address).status_code for _ in range(3)]
    assert codes[-1] == 429 and 429 not in codes[:2]


def check_api_token_days(env: Env) -> None:
    from sqlalchemy import select

    from core.models import ApiToken

    def answer(app, token: str) -> int:
        path = "/api/v1/reports/indices?unit=T-DEMO-X1&period=month&value=2026-11"
        return app.test_client().get(path, headers={"Authorization": f"Bearer {token}"}
                                     ).status_code

    default = env.app({})
    token = _boss_token(default)
    with default.app_context():  # the token was made three days ago
        for row in db.session.scalars(select(ApiToken)):
            row.created_at -= timedelta(days=3)
        db.session.commit()
    assert answer(env.app({"SIPAS_API_TOKEN_DAYS": "2"}), token) == 401
    assert answer(default, token) == 200


def check_bind(env: Env) -> None:
    # The gunicorn configuration file (deploy/gunicorn.conf.py) listens where SIPAS_BIND says.
    code = ("import runpy; print(runpy.run_path('deploy/gunicorn.conf.py')['bind'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True,
                         env={"SIPAS_BIND": "127.0.0.1:18123", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "127.0.0.1:18123"


CHECKS: dict[str, Callable[[Env], None]] = {
    "SIPAS_ROLE": check_role,
    "SIPAS_DATABASE_URL": check_database_url,
    "SIPAS_INSTANCE_PATH": check_instance_path,
    "SIPAS_SECRET_KEY": check_secret_key,
    "SIPAS_REDIS_URL": check_redis_url,
    "SIPAS_PUBLIC_URL": check_public_url,
    "SIPAS_PROXY_COUNT": check_proxy_count,
    "SIPAS_SECURE_COOKIES": check_secure_cookies,
    "SIPAS_DEFAULT_LOCALE": check_default_locale,
    "SIPAS_MIN_REPORT_N": check_min_report_n,
    "SIPAS_MIN_OFFICER_N": check_min_officer_n,
    "SIPAS_SESSION_IDLE_MINUTES": check_session_idle_minutes,
    "SIPAS_SURVEY_POSTER_IP_LIMIT": check_survey_poster_ip_limit,
    "SIPAS_SURVEY_POSTER_BROWSER_LIMIT": check_survey_poster_browser_limit,
    "SIPAS_SURVEY_POSTER_START_LIMIT": check_survey_poster_start_limit,
    "SIPAS_API_RATE_LIMIT": check_api_rate_limit,
    "SIPAS_PUBLIC_RATE_LIMIT": check_public_rate_limit,
    "SIPAS_SURVEY_TOKEN_DAYS": check_survey_token_days,
    "SIPAS_AGGREGATOR_URL": check_aggregator_url,
    "SIPAS_KIOSK_TECH_PIN": check_kiosk_tech_pin,
    "SIPAS_KIOSK_LOCAL_API_KEY": check_kiosk_local_api_key,
    "SIPAS_SYNC_BATCH_SIZE": check_sync_batch_size,
    "SIPAS_SYNC_INTERVAL_S": check_sync_interval_s,
    "SIPAS_SYNC_MAX_BACKOFF_S": check_sync_max_backoff_s,
    "SIPAS_ENROLLMENT_CODE_HOURS": check_enrollment_code_hours,
    "SIPAS_KEY_ROTATION_GRACE_HOURS": check_key_rotation_grace_hours,
    "SIPAS_SYNC_RATE_PER_MINUTE": check_sync_rate_per_minute,
    "SIPAS_SYNC_LOCK_TIMEOUT_MS": check_sync_lock_timeout_ms,
    "SIPAS_MAX_CONTENT_LENGTH": check_max_content_length,
    "SIPAS_LOG_LEVEL": check_log_level,
    "SIPAS_SESSION_MAX_HOURS": check_session_max_hours,
    "SIPAS_LOGIN_MAX_FAILURES": check_login_max_failures,
    "SIPAS_LOGIN_LOCK_MINUTES": check_login_lock_minutes,
    "SIPAS_LOGIN_IP_ATTEMPTS": check_login_ip_attempts,
    "SIPAS_API_TOKEN_DAYS": check_api_token_days,
    "SIPAS_BIND": check_bind,
}


def test_every_documented_setting_has_a_check():
    documented = documented_settings()
    assert len(documented) >= 25  # the table was found
    assert set(documented) == set(CHECKS)


@pytest.mark.parametrize("name", list(CHECKS))
def test_the_setting_takes_effect(env, name):
    CHECKS[name](env)

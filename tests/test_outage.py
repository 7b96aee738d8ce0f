"""When the database is away: every route answers 503 with Retry-After, never a 500, and the same
process serves normally as soon as the database is back.

The outages are real (tests/support/outage.py): PostgreSQL behind a TCP relay that is stopped,
SQLite in a folder that is moved away. The routes are read from ``app.url_map`` at test time, so
a route added later is covered without editing this file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from werkzeug.routing import Rule

from core.extensions import db
from core.models import User
from tests.conftest import empty_database, make_app
from tests.support.admin import sign_in
from tests.support.outage import DatabaseOutage
from tests.test_hostile_inputs import (
    LEAK_RE,
    VI_LETTERS_RE,
    World,
    _world,
    build,
    is_static,
    methods,
    real_values,
    routes,
    visible_text,
)

# Words that would tell a visitor where the database lives or what failed inside.
DISCLOSING_RE = re.compile(r"5432|127\.0\.0\.1|psycopg|sqlite|OperationalError|connection "
                           r"(?:refused|failed)|unable to open", re.IGNORECASE)


@pytest.fixture
def outage(database_url, tmp_path) -> Iterator[DatabaseOutage]:
    """The test database (a copy, on SQLite) behind something the test can take away."""
    taken = DatabaseOutage(database_url, tmp_path / "db")
    yield taken
    taken.close()


@pytest.fixture
def outage_app(outage, tmp_path):
    app = make_app(outage.url, tmp_path / "instance")
    with app.app_context():
        empty_database()
        yield app
        db.session.remove()
        db.engine.dispose()


def take_database_away(outage: DatabaseOutage) -> None:
    db.session.remove()
    outage.cut()
    if outage.relay is None:
        # An open SQLite connection keeps its file; a worker opening a new one finds none.
        db.engine.dispose()


def bring_database_back(outage: DatabaseOutage) -> None:
    # Nothing is disposed: the app itself must drop the connections that died in the outage.
    outage.restore()


def clients(app, world: World, lang: str | None) -> dict[str, object]:
    """A test client per role, signed in while the database is up (the cookie is all it keeps)."""
    made = {}
    for role in ("anonymous", "admin"):
        client = app.test_client()
        if lang:
            client.set_cookie("lang", lang)
        if role != "anonymous":
            sign_in(client, db.session.get(User, world.users[role][0]))
        made[role] = client
    return made


def outage_problems(rule: Rule, method: str, url: str, response, lang: str,
                    hidden: str) -> Iterator[str]:
    status = response.status_code
    text = response.get_data(as_text=True)
    if status >= 500 and status != 503:
        yield f"{status}"
    if LEAK_RE.search(text) and not url.startswith("/api/v1/openapi.json"):
        yield f"leaks {LEAK_RE.search(text).group(0)!r}"
    if DISCLOSING_RE.search(text) or hidden in text:
        yield "names the database or its error"
    if status != 503:
        return
    if not (response.headers.get("Retry-After") or "").isdigit():
        yield "503 without a Retry-After in seconds"
    if url.startswith("/api/") or url == "/healthz":
        body = response.get_json(silent=True)
        if url == "/healthz":
            ok = isinstance(body, dict) and body["database"] == {
                "reachable": False, "error": "database unavailable"}
            if not ok:
                yield f"healthz body {body!r}"
            return
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or error.get("status") != 503 or not error.get("message"):
            yield f"not the JSON error shape: {text[:120]!r}"
        elif lang == "vi" and not VI_LETTERS_RE.search(error["message"]):
            yield f"message not in Vietnamese: {error['message']!r}"
        elif lang == "en" and VI_LETTERS_RE.search(error["message"]):
            yield f"message not in English: {error['message']!r}"
        return
    if f'<html lang="{lang}"' not in text:
        yield f"page not in {lang}"
    elif lang == "vi" and not VI_LETTERS_RE.search(visible_text(text)):
        yield "page without Vietnamese text"
    elif lang == "en" and "temporarily unavailable" not in text and "cannot record" not in text:
        yield "page does not say the service is unavailable"


def crawl(app, world: World, outage: DatabaseOutage, lang: str) -> tuple[list[str], set[str]]:
    """Every rule and method as anonymous and admin; (problems, endpoints that answered 503)."""
    problems: list[str] = []
    unavailable: set[str] = set()
    by_role = clients(app, world, None if lang == "vi" else lang)
    take_database_away(outage)
    for rule in routes(app):
        if is_static(rule):
            continue
        url = build(rule, real_values(rule, world))
        for method in methods(rule):
            for role, client in by_role.items():
                kwargs = {}
                if method == "POST":
                    kwargs = ({"json": {}} if url.startswith("/api/") else {"data": {"x": "1"}})
                headers = {}
                if role != "anonymous" and url.startswith("/api/"):
                    headers["Authorization"] = "Bearer " + world.bearer[role]
                db.session.remove()  # each request finds the database itself, not a cache
                response = client.open(url, method=method, headers=headers, **kwargs)
                for problem in outage_problems(rule, method, url, response, lang, outage.hidden):
                    problems.append(f"{role:9} {method:4} {url} -> {response.status_code}: "
                                    f"{problem}")
                if response.status_code == 503:
                    unavailable.add(f"{method} {rule.endpoint}")
    return problems, unavailable


# The routes that cannot work without the database; each must say 503, not only "not 500".
# (The sync API refuses an unsigned request before it needs the database; a signed one is
# tested below and with a real kiosk in test_an_aggregator_started_during_an_outage_...)
MUST_BE_UNAVAILABLE = {
    "GET core.healthz", "GET admin.home", "POST admin.login", "GET dashboard.index",
    "GET dashboard.export_xlsx", "GET public.public_unit", "GET survey.intro",
    "POST survey.intro", "GET reports_api.indices", "POST reports_api.dossier_token",
    "GET kiosk.idle", "POST kiosk.rate",
}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_route_answers_503_in_the_readers_language_and_the_app_recovers(
        outage_app, outage, monkeypatch, lang):
    world = _world(monkeypatch)
    db.session.commit()
    problems, unavailable = crawl(outage_app, world, outage, lang)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])
    assert unavailable >= MUST_BE_UNAVAILABLE, sorted(MUST_BE_UNAVAILABLE - unavailable)

    bring_database_back(outage)
    db.session.remove()
    admin = clients(outage_app, world, lang)["admin"]
    unit = world.real["unit_id"]
    bearer = {"Authorization": "Bearer " + world.bearer["admin"]}
    assert admin.get("/healthz").status_code == 200
    assert admin.get("/admin/").status_code == 200
    assert admin.get(f"/admin/dashboard?unit_id={unit}").status_code == 200
    assert admin.get(f"/cong-khai/{world.real['code']}").status_code == 200
    assert admin.get(f"/s/{world.real['token']}").status_code == 200
    assert admin.get(f"/api/v1/reports/indices?unit_id={unit}", headers=bearer).status_code == 200


def test_healthz_says_database_unavailable_without_naming_it(outage_app, outage):
    assert outage_app.test_client().get("/healthz").status_code == 200
    take_database_away(outage)
    response = outage_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    body = response.get_json()
    assert body["role"] == "all"
    assert body["version"]
    assert body["status"] == "degraded"
    assert body["database"] == {"reachable": False, "error": "database unavailable"}
    text = response.get_data(as_text=True)
    assert not DISCLOSING_RE.search(text) and outage.hidden not in text

    bring_database_back(outage)
    response = outage_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == {"reachable": True, "error": None}


def test_a_form_sent_during_the_outage_is_not_saved_and_says_so(outage_app, outage,
                                                                 monkeypatch):
    world = _world(monkeypatch)
    db.session.commit()
    client = clients(outage_app, world, "en")["anonymous"]
    take_database_away(outage)
    response = client.post("/admin/login", data={"username": "admin", "password": "x"})
    assert response.status_code == 503
    assert "what you sent was not saved" in response.get_data(as_text=True)


def test_a_signed_sync_push_gets_a_503_the_kiosk_retries(outage_app, outage, monkeypatch):
    from kiosk.sync import Response, SyncFailure, check
    from tests.support.admin import build_org, use_cheap_hashing
    from tests.support.sync_helpers import enroll, rating, register_demo_kiosk, signed

    use_cheap_hashing(monkeypatch)
    org = build_org()
    client = outage_app.test_client()
    _kiosk, code = register_demo_kiosk(org.counter.code, org.centre.code)
    creds = enroll(client, code)
    take_database_away(outage)
    answer = signed(client, creds, "POST", "/api/v1/sync/push",
                    {"ratings": [rating(1)], "device_clock": None})
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.get_json()["error"]["status"] == 503
    with pytest.raises(SyncFailure) as failure:
        check(Response(answer.status_code, {k.lower(): v for k, v in answer.headers.items()},
                       answer.get_json()), "push")
    assert failure.value.status == 503
    assert failure.value.retry_after == int(answer.headers["Retry-After"])

    bring_database_back(outage)
    db.session.remove()
    again = signed(client, creds, "POST", "/api/v1/sync/push",
                   {"ratings": [rating(1)], "device_clock": None})
    assert again.status_code == 200, again.get_json()


# --- the kiosk: its own SQLite outbox ------------------------------------------------------------


@pytest.fixture
def kiosk_disk(tmp_path):
    """A kiosk (role ``kiosk``) whose outbox database sits on a disk the test can detach."""
    from flask_migrate import upgrade

    from tests.support.kiosk import configure

    taken = DatabaseOutage(f"sqlite:///{tmp_path / 'new' / 'kiosk.db'}", tmp_path / "kiosk")
    app = make_app(taken.url, tmp_path / "kiosk-instance", ROLE="kiosk")
    with app.app_context():
        upgrade()
        configure(min_interval_s=0)
        yield app, taken
        db.session.remove()
        db.engine.dispose()
    taken.close()


def test_a_kiosk_whose_disk_fails_does_not_thank_the_citizen(kiosk_disk):
    from tests.support.kiosk import ratings

    app, disk = kiosk_disk
    client = app.test_client()
    first = client.post("/kiosk/rate", data={"level": "5"})
    assert first.status_code == 303 and "/kiosk/thanks" in first.headers["Location"]

    take_database_away(disk)
    refused = client.post("/kiosk/rate", data={"level": "5"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 503
    assert "Location" not in refused.headers
    assert 'data-kiosk-screen="error"' in page and '<html lang="vi"' in page
    assert "chưa có gì được lưu" in page
    assert "Cảm ơn" not in page and "thanks" not in page.lower()
    assert not LEAK_RE.search(page) and not DISCLOSING_RE.search(page)
    client.set_cookie("lang", "en")
    english = client.post("/kiosk/rate", data={"level": "2"}).get_data(as_text=True)
    assert "nothing was saved" in english and '<html lang="en"' in english
    assert client.get("/kiosk/").status_code == 503

    bring_database_back(disk)
    again = client.post("/kiosk/rate", data={"level": "5"})
    assert again.status_code == 303 and "/kiosk/thanks" in again.headers["Location"]
    db.session.remove()
    assert [row.seq for row in ratings()] == [1, 2]  # nothing was stored by the refused taps


# --- a real aggregator (gunicorn) started while the database is away ----------------------------


def _answer(url: str) -> tuple[int, str]:
    """Status and body of a GET, whatever the status."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.processes
def test_an_aggregator_started_during_an_outage_answers_503_then_serves(tmp_path):
    from tests.support.live import Server, fresh_database_url, prepared
    from tests.support.sync_live import KioskNode, register_code

    class StartedInOutage(Server):
        def wait_healthy(self, timeout: float = 30.0) -> None:
            """Up means answering at all: /healthz says 503 until the database is back."""
            import time

            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                assert self.proc is not None and self.proc.poll() is None, "server exited"
                try:
                    _answer(self.url + "/healthz")
                    return
                except OSError:
                    time.sleep(0.1)
            raise TimeoutError(self.url)

    taken = DatabaseOutage(fresh_database_url("outage", tmp_path), tmp_path / "aggregator")
    env = prepared("aggregator", taken.url, tmp_path / "instance")
    kiosk = KioskNode(tmp_path, "kiosk")
    first = Server(env, workers=1).start()
    try:
        kiosk.enroll(first.url, register_code(env, "Outage kiosk"))
    finally:
        first.close()
    kiosk.tap(3)

    taken.cut()
    log = tmp_path / "aggregator.log"
    server = StartedInOutage(env, workers=2, log_path=log).start()
    try:
        status, body = _answer(server.url + "/healthz")
        assert status == 503, body
        health = json.loads(body)
        assert health["database"] == {"reachable": False, "error": "database unavailable"}
        assert health["role"] == "aggregator" and health["version"]
        assert not DISCLOSING_RE.search(body) and taken.hidden not in body
        status, page = _answer(server.url + "/cong-khai/T-DEMO-TTHCC")
        assert status == 503 and '<html lang="vi"' in page
        assert not DISCLOSING_RE.search(page) and not LEAK_RE.search(page)

        kiosk.point_at(server.url)
        tried = kiosk.sync_once(max_seconds=3)
        assert tried.returncode != 0
        assert "503" in tried.stdout + tried.stderr
        assert kiosk.statuses() == {"pending": 3}  # nothing marked sent or rejected
        assert server.proc is not None and server.proc.poll() is None  # still serving
        assert "Database unreachable" in log.read_text()

        taken.restore()
        Server.wait_healthy(server, timeout=30)
        assert _answer(server.url + "/cong-khai/T-DEMO-TTHCC")[0] == 200
        synced = kiosk.sync_once(max_seconds=30)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert kiosk.statuses() == {"sent": 3}
    finally:
        server.close()
        kiosk.close()
        taken.close()


def test_a_cli_command_during_an_outage_stops_with_one_line(outage, tmp_path):
    """A command cannot do its work without the database: it says so once, no traceback."""
    from tests.support.live import flask, role_env

    outage.cut()
    done = flask(["db", "upgrade"], role_env("aggregator", outage.url, tmp_path / "cli"),
                 check=False)
    assert done.returncode == 3
    assert done.stderr.startswith("Database unreachable (")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1

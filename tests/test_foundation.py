"""The foundation: roles, configuration, health, errors, headers, languages."""

from __future__ import annotations

import pytest

from core import create_app
from core.config import ConfigError, load


def test_healthz_reports_role_version_and_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["role"] == "all"
    assert body["database"] == {"reachable": True, "error": None}
    assert body["version"]


def test_healthz_reports_an_unreachable_database(tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x" * 40,
        },
        env={},
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"]["reachable"] is False
    assert body["database"]["error"]


@pytest.mark.parametrize(
    ("role", "present", "absent"),
    [
        ("kiosk", "/kiosk/", "/admin/login"),
        ("aggregator", "/admin/login", "/kiosk/"),
    ],
)
def test_role_chooses_the_blueprints(app_factory, role, present, absent):
    client = app_factory(ROLE=role).test_client()
    assert client.get(present).status_code == 200
    assert client.get(absent).status_code == 404
    assert client.get("/healthz").get_json()["role"] == role


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SIPAS_ROLE": "printer"}, "SIPAS_ROLE"),
        ({"SIPAS_MIN_REPORT_N": "ten"}, "SIPAS_MIN_REPORT_N"),
        ({"SIPAS_MIN_REPORT_N": "0"}, "SIPAS_MIN_REPORT_N"),
        ({"SIPAS_DATABASE_URL": "mysql://x"}, "SIPAS_DATABASE_URL"),
        ({"SIPAS_SECURE_COOKIES": "maybe"}, "SIPAS_SECURE_COOKIES"),
        ({"SIPAS_PUBLIC_URL": "example.org"}, "SIPAS_PUBLIC_URL"),
        ({"SIPAS_SECRET_KEY": "short"}, "SIPAS_SECRET_KEY"),
        ({"SIPAS_DEFAULT_LOCALE": "fr"}, "SIPAS_DEFAULT_LOCALE"),
        ({"SIPAS_REDIS_URL": "localhost:6379"}, "SIPAS_REDIS_URL"),
    ],
)
def test_malformed_configuration_names_the_variable(tmp_path, env, named):
    env = {"SIPAS_INSTANCE_PATH": str(tmp_path), **env}
    with pytest.raises(ConfigError, match=named):
        load(env)


def test_database_url_defaults_to_a_sqlite_file_per_role(tmp_path):
    kiosk = load({"SIPAS_ROLE": "kiosk", "SIPAS_INSTANCE_PATH": str(tmp_path)})
    aggregator = load({"SIPAS_ROLE": "aggregator", "SIPAS_INSTANCE_PATH": str(tmp_path)})
    assert kiosk["SQLALCHEMY_DATABASE_URI"].endswith("kiosk.db")
    assert aggregator["SQLALCHEMY_DATABASE_URI"].endswith("aggregator.db")


def test_postgres_urls_use_psycopg3(tmp_path):
    config = load({"SIPAS_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgresql://u@h/db"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_a_generated_secret_key_is_kept_private_and_stable(tmp_path):
    first = load({"SIPAS_INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    second = load({"SIPAS_INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    assert first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_security_headers_on_every_response(client):
    for path in ("/healthz", "/admin/login", "/kiosk/", "/nowhere"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_pages_are_vietnamese_by_default(client):
    html = client.get("/kiosk/").get_data(as_text=True)
    assert 'lang="vi"' in html
    assert "Ông/Bà có hài lòng với sự phục vụ hôm nay không?" in html


def test_accept_language_picks_english(client):
    html = client.get("/admin/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True
    )
    assert '<html lang="en">' in html


def test_the_chosen_language_beats_accept_language(client):
    response = client.get("/lang/vi?next=/admin/login", headers={"Accept-Language": "en"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login"
    html = client.get("/admin/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="vi"' in html


def test_the_language_switch_never_redirects_off_site(client):
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        response = client.get("/lang/en", query_string={"next": target})
        assert response.headers["Location"] == "/"


def test_not_found_is_a_localised_page(client):
    response = client.get("/khong-co")
    assert response.status_code == 404
    assert "Trang này không tồn tại" in response.get_data(as_text=True)
    english = client.get("/nope", headers={"Accept-Language": "en"})
    assert "This page does not exist" in english.get_data(as_text=True)


def test_api_errors_are_json(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["error"]["status"] == 404


def test_an_unexpected_error_is_a_localised_500_without_a_trace(app, client):
    @app.get("/boom-test")
    def boom():
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom-test")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "secret internals" not in html and "Traceback" not in html
    assert "Hệ thống gặp sự cố" in html


def test_openapi_document_is_served(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "/healthz" in doc["paths"]


def test_no_template_or_stylesheet_loads_anything_from_another_host():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for pattern in ("**/templates/**/*.html", "**/static/**/*.css", "**/static/**/*.js"):
        for path in root.glob(pattern):
            if ".venv" in path.parts or "node_modules" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            if "http://" in text or "https://" in text or "//cdn" in text:
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_an_admin_signs_in_and_out(client, runner):
    runner.invoke(args=["create-admin", "root", "--password", "correct-horse-1"])
    bad = client.post("/admin/login", data={"username": "root", "password": "wrong-horse-1"})
    assert bad.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in bad.get_data(as_text=True)
    good = client.post("/admin/login", data={"username": "ROOT", "password": "correct-horse-1"})
    assert good.status_code == 302
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout")
    assert client.get("/admin/").status_code == 302


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(app_factory):
    app = app_factory(PROXY_COUNT=1)

    @app.get("/whoami-test")
    def whoami():
        from flask import request

        return request.remote_addr or ""

    response = app.test_client().get("/whoami-test", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.get_data(as_text=True) == "203.0.113.9"

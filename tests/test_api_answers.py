"""What every answer promises: 429/503 documented with Retry-After, every 405 names Allow."""

from __future__ import annotations

import re

from sqlalchemy.exc import OperationalError

RATE_LIMITED = ("/api/v1/sync/enroll", "/api/v1/sync/push", "/api/v1/sync/config",
                "/api/v1/sync/heartbeat", "/api/v1/reports/indices", "/api/v1/reports/rankings",
                "/api/v1/reports/timeseries", "/api/v1/survey-tokens/dossier")


def test_every_rate_limited_operation_documents_429_and_503_with_retry_after(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in RATE_LIMITED:
        for method, operation in paths[path].items():
            for status in ("429", "503"):
                answer = operation["responses"].get(status)
                assert answer, f"{method.upper()} {path} does not document {status}"
                assert "Retry-After" in answer.get("headers", {}), f"{path} {status}"


def test_every_405_html_or_json_carries_allow(app):
    """Werkzeug's 405 names the methods in Allow; the localised error page dropped it."""
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        allowed = (rule.methods or set()) - {"OPTIONS"}
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if method in allowed:
                continue
            url = _filled(rule)
            response = client.open(url, method=method)
            if response.status_code != 405:
                continue
            checked += 1
            allow = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
            assert allow, f"{method} {url}: 405 without Allow"
            assert method not in allow and allow & allowed, (url, allow)
    assert checked > 50


def _filled(rule) -> str:
    """The rule's path with "1" for every argument (a static file's name for static rules)."""
    values = {name: "1" for name in rule.arguments} | (
        {"filename": "css/app.css"} if "filename" in rule.arguments else {})
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule.rule)


def test_a_405_from_the_api_is_json_with_allow(client):
    response = client.delete("/api/v1/sync/push")
    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, POST"
    assert response.get_json()["error"]["status"] == 405


def test_a_busy_database_outside_the_sync_api_is_a_503_with_retry_after(client, app, monkeypatch):
    from api import reports as reports_api

    def busy(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setattr(reports_api.api_tokens, "authenticate", busy)
    response = client.get("/api/v1/reports/indices", headers={"Authorization": "Bearer x"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["error"]["message"]

"""Rate limits on the reporting API (per token) and the public page (per address): beyond the
limit a 429 with Retry-After and a message in the reader's language; the store may be Redis."""

from __future__ import annotations

import pytest

from core.extensions import db
from core.ratelimit import RedisBackend
from core.services.accounts import api_tokens
from tests.conftest import redis_url
from tests.dashboard_support import user

NOV = "period=month&value=2026-11"


@pytest.fixture(params=["memory", "redis"])
def limits(request, app):
    """The rate-limit store: memory, and Redis when TEST_REDIS_URL names one (as in CI)."""
    if request.param == "redis":
        backend = RedisBackend(redis_url())
        backend._redis.flushdb()
        app.extensions["sipas_ratelimit"] = backend
    return request.param


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_api_limit_counts_per_token(app, client, demo, limits):
    app.config["API_RATE_LIMIT"] = (2, 60)
    first = api_tokens.create(user("api.one", "manager", "T-DEMO-X1"), "one")
    second = api_tokens.create(user("api.two", "manager", "T-DEMO-X1"), "two")
    db.session.commit()  # the service flushes; the test commits
    url = f"/api/v1/reports/indices?{NOV}"
    assert [client.get(url, headers=bearer(first)).status_code for _ in range(2)] == [200, 200]
    refused = client.get(url, headers=bearer(first))
    assert refused.status_code == 429 and refused.is_json
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    message = refused.get_json()["error"]["message"]
    assert "API" in message and refused.headers["Retry-After"] in message
    assert "Vui lòng chờ" in message
    english = client.get(url, headers={**bearer(first), "Accept-Language": "en"})
    assert english.status_code == 429
    assert "Please wait" in english.get_json()["error"]["message"]
    # Another token has its own allowance.
    assert client.get(url, headers=bearer(second)).status_code == 200


def test_an_unknown_token_is_refused_before_it_is_counted(app, client, demo, limits):
    app.config["API_RATE_LIMIT"] = (1, 60)
    for _ in range(3):
        assert client.get(f"/api/v1/reports/indices?{NOV}",
                          headers=bearer("sipas_nope")).status_code == 401


def test_the_public_page_limit_counts_per_address(app, client, demo, limits):
    app.config["PUBLIC_RATE_LIMIT"] = (2, 60)
    here = {"REMOTE_ADDR": "198.51.100.7"}
    url = "/cong-khai/T-DEMO-X1?period=year&value=2026"
    assert [client.get(url, environ_base=here).status_code for _ in range(2)] == [200, 200]
    refused = client.get(url, environ_base=here)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    html = refused.get_data(as_text=True)
    assert 'lang="vi"' in html and "Quá nhiều yêu cầu từ địa chỉ của bạn" in html
    english = client.get(url + "&lang=en", environ_base=here)
    assert "Too many requests from your address" in english.get_data(as_text=True)
    # Even an unknown unit counts: the limit guards the server, not the unit.
    assert client.get("/cong-khai/NO-SUCH", environ_base=here).status_code == 429
    assert client.get(url, environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code == 200


def test_figures_are_served_when_the_limit_store_is_down(app, client, demo, caplog):
    app.config["PUBLIC_RATE_LIMIT"] = (1, 60)
    app.extensions["sipas_ratelimit"] = RedisBackend("redis://127.0.0.1:1/0")
    url = "/cong-khai/T-DEMO-X1?period=year&value=2026"
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    assert "rate-limit store unavailable" in caplog.text

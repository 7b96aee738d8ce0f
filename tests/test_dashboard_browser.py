"""A manager signs in, changes period and unit, and reads the index the reporting API returns.

Real gunicorn aggregator with generated history (the generator behind `flask demo-data`, for the
13 months before a pinned day), Debian's Chromium through Playwright. The Vietnamese screenshots
kept for the README are written to docs/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from datetime import date

import pytest

from tests.support.live import ROOT, Server, fresh_database_url, prepared

pytestmark = pytest.mark.browser

MANAGER = ("district.manager", "district-pass-123")
# The history: 13 months up to the day before TODAY (1 Nov 2025 to 19 Nov 2026), whatever day the
# suite runs; the pages are read for YEAR, which has ten and a half months of it.
TODAY = date(2026, 11, 20)
YEAR = "2026"
CREATE_MANAGER = """
from core import create_app
from core.extensions import db
from core.models import Unit
from core.services.accounts.users import create_user
from sqlalchemy import select
app = create_app()
with app.app_context():
    unit = db.session.scalar(select(Unit).where(Unit.code == "T-DEMO-H1"))
    create_user("district.manager", "district-pass-123", role="manager", unit=unit,
                full_name="Trưởng phòng Huyện Bình Sơn")
    db.session.commit()
    print(db.session.scalar(select(Unit.id).where(Unit.code == "T-DEMO-X1")))
"""


def generate_history(database_url, instance) -> None:
    """What `flask demo-data --ratings 8000 --responses 1500 --months 13` writes, ending on the
    pinned day (the command always ends yesterday; it is tested in test_dashboard_rollups)."""
    from core.extensions import db
    from demo.history import generate
    from tests.conftest import make_app

    app = make_app(database_url, instance)
    with app.app_context():
        generate(8000, 1500, months=13, seed=2026, today=TODAY)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live-dashboard")
    env = prepared("aggregator", fresh_database_url("live_dash", tmp), tmp / "instance")
    generate_history(env["SIPAS_DATABASE_URL"], tmp / "generator")
    made = subprocess.run([sys.executable, "-c", CREATE_MANAGER], cwd=ROOT, check=True,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    server = Server(env, log_path=tmp / "gunicorn.log").start()
    server.commune_id = int(made.stdout.strip().splitlines()[-1])  # type: ignore[attr-defined]
    yield server
    server.close()


def sign_in(page, base: str) -> None:
    page.goto(base + "/admin/login")
    page.get_by_label("Tên đăng nhập").fill(MANAGER[0])
    page.get_by_label("Mật khẩu").fill(MANAGER[1])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/admin/")
    page.goto(base + "/admin/dashboard")


def test_manager_changes_period_and_unit_and_reads_the_api_index(browser, dashboard_server):
    base = dashboard_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, base)
    assert page.get_by_role("heading", level=1).inner_text().startswith(
        "Bảng điều khiển mức độ hài lòng")

    page.get_by_label("Kỳ báo cáo").select_option("year")
    page.get_by_label("Tháng, quý hoặc năm").fill(YEAR)
    page.get_by_label("Đơn vị (gồm các đơn vị trực thuộc)").select_option(
        str(dashboard_server.commune_id))
    page.get_by_role("button", name="Xem", exact=True).click()
    page.wait_for_url("**period=year**")
    assert "Xã Tân Phú" in page.get_by_role("heading", level=1).inner_text()
    shown = page.locator("[data-figure=sipas] .figure").inner_text()
    rate = page.locator("[data-figure=counter-rate] .figure").inner_text()
    assert shown.endswith("%") and "," in shown  # Vietnamese number format, e.g. "84,21%"

    page.goto(base + "/admin/api-tokens")
    page.get_by_label("Tên mã truy cập (dùng cho việc gì)").fill("kiểm thử")
    page.get_by_role("button", name="Tạo mã truy cập").click()
    token = page.locator("#new-token").inner_text().strip()
    request = urllib.request.Request(
        f"{base}/api/v1/reports/indices?unit={dashboard_server.commune_id}"
        f"&period=year&value={YEAR}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        api = json.load(answer)
    as_vi = lambda v: f"{v:.2f}".replace(".", ",") + "%"  # noqa: E731
    assert shown == as_vi(api["sipas_index"]["value"])
    assert rate == as_vi(api["counter_rate"]["value"])
    assert api["unit"]["code"] == "T-DEMO-X1"
    assert errors == []  # no CSP violation, no script error
    page.close()


@pytest.mark.parametrize("width,height", [(1366, 768), (390, 844), (360, 740)])
def test_dashboard_screenshots_in_vietnamese(browser, dashboard_server, width, height, tmp_path):
    """The README's screenshots: refreshed in docs/ when missing or with SIPAS_SCREENSHOTS=1,
    otherwise taken into a temporary folder (so a test run leaves the tree clean)."""
    page = browser.new_page(viewport={"width": width, "height": height}, locale="vi-VN")
    sign_in(page, dashboard_server.url)
    page.goto(dashboard_server.url + f"/admin/dashboard?period=year&value={YEAR}")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.evaluate("document.getElementById('headline-title').scrollIntoView()")
    page.evaluate("window.scrollBy(0, -12)")
    # Nothing wider than the screen at phone size: tables scroll inside their own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    kept = ROOT / "docs" / f"dashboard-{width}.png"
    if width != 360 and (os.environ.get("SIPAS_SCREENSHOTS") or not kept.exists()):
        target = kept  # the README keeps the two sizes it names
    else:
        target = tmp_path / kept.name
    page.screenshot(path=str(target))
    assert target.stat().st_size > 10_000
    if os.environ.get("SIPAS_FULL_SCREENSHOTS"):
        page.screenshot(path=os.environ["SIPAS_FULL_SCREENSHOTS"] + f"/full-{width}.png",
                        full_page=True)
    page.close()


def test_public_page_on_a_phone_without_signing_in(browser, dashboard_server):
    page = browser.new_page(viewport={"width": 360, "height": 740}, locale="vi-VN")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(dashboard_server.url + f"/cong-khai/T-DEMO-H1?period=year&value={YEAR}")
    assert page.get_by_role("heading", level=1).inner_text() == "Công khai kết quả: Huyện Bình Sơn"
    assert page.locator("[data-figure=sipas] .figure").inner_text().endswith("%")
    assert page.locator("#ranking tbody tr").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    if os.environ.get("SIPAS_FULL_SCREENSHOTS"):
        page.screenshot(path=os.environ["SIPAS_FULL_SCREENSHOTS"] + "/public-360.png",
                        full_page=True)
    assert errors == []
    page.close()

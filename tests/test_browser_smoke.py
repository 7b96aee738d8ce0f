"""A real browser opens the kiosk page and the admin sign-in page of live servers, in Vietnamese."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_kiosk_page_renders_in_vietnamese(browser, live_kiosk):
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page.goto(live_kiosk.url + "/kiosk/")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Ông/Bà có hài lòng với sự phục vụ hôm nay không?"
    )
    page.close()


def test_admin_login_renders_in_vietnamese(browser, live_aggregator):
    page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_aggregator.url + "/admin/login")
    assert page.get_by_role("heading", level=1).inner_text() == "Đăng nhập trang quản trị"
    assert page.get_by_label("Tên đăng nhập").is_visible()
    assert page.get_by_label("Mật khẩu").is_visible()
    page.get_by_label("Tên đăng nhập").fill("admin")
    page.get_by_label("Mật khẩu").fill("demo-password-123")
    page.get_by_role("button", name="Đăng nhập").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Quản trị"
    assert errors == []  # no CSP violation or script error
    page.close()

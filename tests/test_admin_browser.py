"""A real browser: sign in, create a counter, open its QR poster and print it on one A4 page."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_sign_in_create_a_counter_and_print_its_poster(browser, live_aggregator, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(live_aggregator.url + "/admin/login")
    page.get_by_label("Tên đăng nhập").fill("admin")
    page.get_by_label("Mật khẩu").fill("demo-password-123")
    page.get_by_role("button", name="Đăng nhập").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Quản trị"

    navigation = page.get_by_role("navigation", name="Quản trị")
    navigation.get_by_role("link", name="Đơn vị").click()
    page.get_by_role("link", name="Trung tâm Phục vụ hành chính công tỉnh An Hòa").click()
    page.get_by_role("link", name="Quầy mới").click()
    page.get_by_label("Mã", exact=True).fill("Q10")
    page.get_by_label("Tên", exact=True).fill("Quầy 10 – Lao động, Thương binh và Xã hội")
    page.get_by_label("Thang đánh giá").select_option("5")
    page.get_by_label("Bắt buộc có giao dịch").check()
    page.get_by_role("button", name="Lưu").click()
    assert page.get_by_role("status").first.inner_text().endswith("Đã tạo quầy Q10.")

    page.get_by_role("link", name="Áp phích quầy Q10").click()
    poster = page.locator("article.poster")
    assert "Quầy 10 – Lao động, Thương binh và Xã hội" in poster.inner_text()
    assert "Mời Ông/Bà quét mã QR" in poster.inner_text()
    qr = poster.get_by_role("img")
    qr.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", qr.element_handle())

    page.screenshot(path=str(tmp_path / "poster-screen.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.get_by_role("navigation", name="Quản trị").is_visible()
    assert not page.get_by_role("link", name="Tải PNG").is_visible()
    assert poster.is_visible()
    page.screenshot(path=str(tmp_path / "poster-print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    (tmp_path / "poster.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # the poster fits on one sheet
    assert problems == []  # no CSP violation, no script error
    page.close()

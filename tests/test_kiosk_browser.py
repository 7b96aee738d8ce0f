"""A real touch screen: Chromium with touch, portrait 1080×1920 and landscape 1280×800.

Short timeouts (4 s idle, 6 s follow-up) stand in for the configured ones (15 s, 20 s) so the
timers can be watched end to end.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.kiosk import outbox_rows, prepare_live_kiosk
from tests.support.live import Server

pytestmark = [pytest.mark.browser, pytest.mark.processes]

VIEWPORTS = {"portrait": {"width": 1080, "height": 1920},
             "landscape": {"width": 1280, "height": 800}}
QUESTION = "Ông/Bà có hài lòng với sự phục vụ hôm nay không?"
IDLE_S, FOLLOWUP_S = 4, 6


@pytest.fixture(scope="module")
def kiosk_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kiosk-browser")
    env, url = prepare_live_kiosk(tmp, min_interval_s=0, idle_timeout_s=IDLE_S,
                                  followup_timeout_s=FOLLOWUP_S)
    server = Server(env, workers=1, log_path=tmp / "gunicorn.log").start()
    server.database_url = url
    yield server
    server.close()


@pytest.fixture(params=sorted(VIEWPORTS))
def touch_page(request, browser):
    context = browser.new_context(viewport=VIEWPORTS[request.param], has_touch=True,
                                  locale="vi-VN")
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text)
            if msg.type == "error" else None)
    yield page
    context.close()


def assert_large_and_on_screen(page, locator, minimum=72, on_screen=True):
    page.wait_for_load_state("load")  # measured with the stylesheet applied
    viewport = page.viewport_size
    for index in range(locator.count()):
        box = locator.nth(index).bounding_box()
        assert box is not None
        assert box["width"] >= minimum and box["height"] >= minimum, box
        if not on_screen:  # a staff form may scroll; its targets must still be large
            continue
        assert box["x"] >= 0 and box["y"] >= 0, box
        assert box["x"] + box["width"] <= viewport["width"], box
        assert box["y"] + box["height"] <= viewport["height"], box  # no scrolling to reach it


def test_idle_buttons_are_large_labelled_and_all_on_screen(kiosk_server, touch_page):
    page = touch_page
    page.goto(kiosk_server.url + "/kiosk/")
    assert page.get_by_role("heading", level=1).inner_text() == QUESTION
    buttons = page.locator("button.kiosk-button")
    assert buttons.count() == 3
    assert [buttons.nth(i).inner_text().strip() for i in range(3)] == [
        "Rất hài lòng", "Hài lòng", "Không hài lòng"]
    assert_large_and_on_screen(page, buttons, minimum=200)
    assert_large_and_on_screen(page, page.locator(".lang-switch__item"))
    assert page.console_errors == []


def test_tap_follow_up_qr_and_idle_reset(kiosk_server, touch_page):
    page = touch_page
    page.goto(kiosk_server.url + "/kiosk/")
    before = len(outbox_rows(kiosk_server.database_url))
    page.get_by_role("button", name="Không hài lòng").tap()
    page.wait_for_url("**/kiosk/followup?r=*")
    chips = page.locator(".kiosk-chip")
    assert chips.count() == 6
    assert_large_and_on_screen(page, chips)
    page.locator(".kiosk-chip", has_text="Chờ đợi lâu").tap()
    page.locator(".kiosk-chip", has_text="Thái độ công chức").tap()
    assert page.get_by_label("Chờ đợi lâu").is_checked()
    page.get_by_role("button", name="Gửi").tap()
    page.wait_for_url("**/kiosk/thanks?r=*")
    qr = page.locator("figure.kiosk-qr svg")
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box["width"] >= 250 and box["y"] + box["height"] <= page.viewport_size["height"]
    rows = outbox_rows(kiosk_server.database_url)
    assert len(rows) == before + 1
    assert rows[-1]["level"] == 2 and rows[-1]["reasons"] == ["waiting_time", "officer_attitude"]
    # Back to idle by itself, with nothing of this citizen left on screen.
    page.wait_for_url("**/kiosk/", timeout=(IDLE_S + 10) * 1000)
    assert page.get_by_role("heading", level=1).inner_text() == QUESTION
    assert page.locator(".kiosk-qr").count() == 0
    assert page.console_errors == []


def test_the_follow_up_advances_by_itself(kiosk_server, touch_page):
    page = touch_page
    page.goto(kiosk_server.url + "/kiosk/")
    page.get_by_role("button", name="Không hài lòng").tap()
    page.wait_for_url("**/kiosk/followup?r=*")
    page.wait_for_url("**/kiosk/thanks?r=*", timeout=(FOLLOWUP_S + 10) * 1000)
    last = outbox_rows(kiosk_server.database_url)[-1]
    assert last["reasons"] == [] and last["finalised_at"] is not None
    assert page.console_errors == []


def test_a_satisfied_tap_goes_straight_to_thanks_and_english_resets_to_vietnamese(
        kiosk_server, touch_page):
    page = touch_page
    page.goto(kiosk_server.url + "/kiosk/")
    page.get_by_role("link", name="English").tap()
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Are you satisfied with our service today?")
    page.get_by_role("button", name="Very satisfied").tap()
    page.wait_for_url("**/kiosk/thanks?r=*")
    assert page.get_by_role("heading", level=1).inner_text() == "✓ Thank you for your rating!"
    page.wait_for_url("**/kiosk/", timeout=(IDLE_S + 10) * 1000)
    assert page.get_by_role("heading", level=1).inner_text() == QUESTION
    assert page.console_errors == []


def test_a_double_tap_stores_one_rating(kiosk_server, touch_page):
    page = touch_page
    page.goto(kiosk_server.url + "/kiosk/")
    before = len(outbox_rows(kiosk_server.database_url))
    # Two taps in the same instant, as a trembling finger makes them.
    page.evaluate("""() => {
        const button = document.querySelector('button.kiosk-button--satisfied');
        button.click();
        button.click();
    }""")
    page.wait_for_url("**/kiosk/thanks?r=*")
    assert len(outbox_rows(kiosk_server.database_url)) == before + 1
    assert page.console_errors == []


def test_an_officer_signs_in_arms_a_transaction_and_signs_out_by_touch(kiosk_server,
                                                                       touch_page):
    page = touch_page
    page.goto(kiosk_server.url + "/kiosk/")
    page.get_by_role("link", name="Cán bộ").tap()
    page.get_by_label("Công chức").select_option("CB002")
    page.get_by_label("Mã PIN").tap()
    page.keyboard.type("2222")
    page.get_by_role("button", name="Đăng nhập").tap()
    expect(page.get_by_text("Công chức đang trực: Trần Văn Minh")).to_be_visible()
    assert_large_and_on_screen(page, page.locator("input[type=text], button"), on_screen=False)
    page.get_by_label("Mã hồ sơ").fill("HS-BROWSER-1")
    page.get_by_label("Mã thủ tục (không bắt buộc)").fill("1.000001")
    page.get_by_role("button", name="Gắn giao dịch", exact=True).tap()
    expect(page.get_by_text("Đang gắn: hồ sơ HS-BROWSER-1")).to_be_visible()
    expect(page.get_by_text("Đã gắn: lượt đánh giá tiếp theo sẽ kèm hồ sơ HS-BROWSER-1.")
           ).to_be_visible()
    page.get_by_role("button", name="Về màn hình đánh giá").tap()
    page.wait_for_url("**/kiosk/")
    expect(page.get_by_text("Trần Văn Minh")).to_be_visible()
    page.get_by_role("button", name="Rất hài lòng").tap()
    page.wait_for_url("**/kiosk/thanks?r=*")
    last = outbox_rows(kiosk_server.database_url)[-1]
    assert (last["officer_code"], last["dossier_code"], last["procedure_code"]) == (
        "CB002", "HS-BROWSER-1", "1.000001")
    # Sign out: the PIN again, then the sign-out button; the name leaves the idle screen.
    page.goto(kiosk_server.url + "/kiosk/staff")
    page.get_by_label("Công chức").select_option("CB002")
    page.get_by_label("Mã PIN").fill("2222")
    page.get_by_role("button", name="Đăng nhập").tap()
    page.get_by_role("button", name="Đăng xuất Trần Văn Minh").tap()
    page.wait_for_url("**/kiosk/")
    assert page.get_by_text("Trần Văn Minh").count() == 0
    assert page.console_errors == []


def test_at_200_percent_zoom_nothing_is_cut_off(kiosk_server, browser):
    # 200% zoom on a 1080-px-wide screen leaves 540 CSS pixels.
    context = browser.new_context(viewport={"width": 540, "height": 960}, has_touch=True,
                                  device_scale_factor=2, locale="vi-VN")
    page = context.new_page()
    page.goto(kiosk_server.url + "/kiosk/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_large_and_on_screen(page, page.locator("button.kiosk-button"), on_screen=False)
    page.get_by_role("button", name="Không hài lòng").tap()
    page.wait_for_url("**/kiosk/followup?r=*")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_large_and_on_screen(page, page.locator(".kiosk-chip, .kiosk-action"), on_screen=False)
    page.get_by_role("button", name="Bỏ qua").tap()
    page.wait_for_url("**/kiosk/thanks?r=*")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()

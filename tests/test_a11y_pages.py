"""Every page a person sees, checked in a real browser for the accessibility the brief demands.

As an administrator, a manager and a viewer (each sees the pages their role allows, and the
refusals it does not), on the public transparency page, the kiosk screens and the error pages,
at 1366×768 and on a 360×740 phone:
- axe-core (WCAG 2.2 A/AA and best practice) finds nothing serious or critical;
- nothing scrolls sideways at 360 px, nor at 200% zoom (a 1366-px screen zoomed to 200% leaves a
  683-CSS-px viewport; the phone zoomed leaves 180 px, for the kiosk and public pages);
- every interactive target is at least 24×24 CSS px or has the spacing WCAG 2.5.8 allows, links
  inside a sentence excepted; kiosk buttons are at least 72 px;
- keyboard focus is visible (outline or shadow) on the first controls Tab reaches;
- `<html lang>` is the page's locale, there is one h1, one main landmark and a skip link to it.

The app is served by a thread (werkzeug) on a database of its own, with CSRF protection on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from core import clock
from core.extensions import db
from tests.conftest import make_app
from tests.support.a11y import axe_violations
from tests.support.admin import PASSWORD
from tests.support.live import fresh_database_url

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 360, "height": 740}
ZOOMED = {"width": 683, "height": 384}  # 1366×768 at 200%
KIOSK_MIN = 72
TARGET_MIN = 24
# The site's clock and demo data are pinned: the dashboard's default month (the current one) has
# 19 days of taps, so the heat map is on the page whatever day the suite runs.
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hanoi

# Each admin page: (name, path template). Templates use ids of the demo organisation.
ADMIN_PAGES: list[tuple[str, str]] = [
    ("home", "/admin/"),
    ("units", "/admin/units/"),
    ("unit", "/admin/units/{centre}"),
    ("unit-new", "/admin/units/new"),
    ("unit-hours", "/admin/units/{centre}/hours"),
    ("counter-new", "/admin/units/{centre}/counters/new"),
    ("counter", "/admin/counters/{counter}"),
    ("poster", "/admin/counters/{counter}/poster"),
    ("officers", "/admin/units/{centre}/officers"),
    ("officer-new", "/admin/units/{centre}/officers/new"),
    ("officer", "/admin/officers/{officer}"),
    ("procedures", "/admin/catalog/procedures"),
    ("procedure-new", "/admin/catalog/procedures/new"),
    ("procedure", "/admin/catalog/procedures/{procedure}"),
    ("fields", "/admin/catalog/fields"),
    ("import", "/admin/catalog/import"),
    ("questionnaires", "/admin/questionnaires/"),
    ("questionnaire", "/admin/questionnaires/{questionnaire}"),
    ("users", "/admin/users/"),
    ("user-new", "/admin/users/new"),
    ("user", "/admin/users/{viewer_id}"),
    ("audit", "/admin/audit/"),
    ("password", "/admin/account/password"),
    ("dashboard", "/admin/dashboard"),
    ("by-counter", "/admin/dashboard/breakdown/counter"),
    ("by-procedure", "/admin/dashboard/breakdown/procedure"),
    ("by-field", "/admin/dashboard/breakdown/field"),
    ("by-officer", "/admin/dashboard/breakdown/officer"),
    ("items", "/admin/dashboard/items"),
    ("comments", "/admin/dashboard/comments"),
    ("api-tokens", "/admin/api-tokens"),
    ("kiosks", "/admin/kiosks/"),
    ("kiosk-new", "/admin/kiosks/new"),
    ("kiosk-import", "/admin/kiosks/import"),
    ("kiosk-reenroll", "/admin/kiosks/{kiosk}/reenroll"),
]
ROLES = {"admin": "root", "manager": "lan", "viewer": "xem"}


@dataclass
class Site:
    url: str
    app: object
    ids: dict[str, int]

    def set_kiosk(self, **config) -> None:
        """Rewrite the kiosk's configuration as sync would (the next screen reads it)."""
        from tests.support.kiosk import kiosk_config

        with self.app.app_context():
            from core.models import KioskState

            state = db.session.get(KioskState, 1)
            state.config = kiosk_config(**config)
            db.session.commit()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The whole app (role all: kiosk and aggregator), demo data, one account per role, on a
    pinned clock."""
    with clock.pinned(NOW):
        yield from _serve_site(tmp_path_factory)


def _serve_site(tmp_path_factory):
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from core.models import KioskState, Procedure, Questionnaire
    from demo.history import generate
    from kiosk import identity
    from tests.support.admin import build_org
    from tests.support.kiosk import kiosk_config

    tmp: Path = tmp_path_factory.mktemp("a11y")
    app = make_app(fresh_database_url("a11y", tmp), tmp / "instance", WTF_CSRF_ENABLED=True,
                   KIOSK_TECH_PIN="246810", TESTING=False)
    with app.app_context():
        upgrade()
        from core.services.survey.questionnaires import ensure_default

        ensure_default()
        db.session.commit()
        org = build_org()
        generate(600, 120, months=3, seed=7, today=TODAY)
        db.session.add(KioskState(id=1, next_seq=1, config=kiosk_config()))
        db.session.commit()
        ids = {
            "centre": org.centre.id, "counter": org.counter.id, "officer": org.officer.id,
            "viewer_id": org.viewer.id,
            "procedure": db.session.scalar(select(Procedure.id).order_by(Procedure.id)),
            "questionnaire": db.session.scalar(select(Questionnaire.id)),
            "centre_code": org.centre.code,
        }
        # An enrolled kiosk, for the pages about one kiosk (revoke and re-enroll).
        from core.services.sync import registry

        registration = registry.register(org.counter, "Kiosk a11y")
        ids["kiosk"] = registry.enroll(registration.code).kiosk_id
        db.session.commit()
        db.session.remove()
    identity.save(identity.Credentials(
        kiosk_id="6f1c2a0e-0000-4000-8000-000000000001",
        secret="a11y-kiosk-secret-0123456789abcdef", server_url="http://127.0.0.1:8000"),
        app.instance_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(f"http://127.0.0.1:{server.server_port}", app, ids)
    server.shutdown()
    thread.join(timeout=10)
    with app.app_context():
        db.engine.dispose()


# --- the checks ---------------------------------------------------------------------------------

TARGETS_JS = """([minimum, spacing]) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary,'
                 + ' [role=button], [tabindex]:not([tabindex="-1"])';
  const seen = [...document.querySelectorAll(selector)].filter(el => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.visibility !== 'hidden' && s.display !== 'none' && r.width > 0 && r.height > 0
      && !el.closest('[hidden], [aria-hidden=true]')
      && !(el.matches('.skip-link') && document.activeElement !== el);
  });
  // A link inside a sentence is exempt (WCAG 2.5.8 "inline"): its block has other text.
  const inline = el => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    const block = el.parentElement.closest('p, li, td, dd, figcaption, small, span');
    return block && block.textContent.trim().length > el.textContent.trim().length;
  };
  // An input drawn under its label (checkbox, radio) counts with the label it sits in.
  const box = el => {
    const label = el.matches('input[type=checkbox], input[type=radio]') && el.closest('label');
    return (label || el).getBoundingClientRect();
  };
  const rects = seen.map(el => ({el, r: box(el)}));
  const small = rects.filter(({el, r}) => !inline(el)
    && (r.width < minimum - 0.5 || r.height < minimum - 0.5));
  // Spacing exception: a 24-px circle on an undersized target reaches no other target.
  const dist = (x, y, r) => Math.hypot(Math.max(r.left - x, 0, x - r.right),
                                       Math.max(r.top - y, 0, y - r.bottom));
  return small.filter(({el, r}) => {
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    return !spacing || rects.some(o => o.el !== el && !o.el.contains(el) && !el.contains(o.el)
      && (dist(cx, cy, o.r) < minimum / 2));
  }).map(({el, r}) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`
    + `${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''}`
    + ` "${(el.textContent || el.value || el.name || '').trim().slice(0, 30)}"`
    + ` ${Math.round(r.width)}×${Math.round(r.height)}`);
}"""

STRUCTURE_JS = """() => ({
  lang: document.documentElement.lang,
  h1: document.querySelectorAll('h1').length,
  main: document.querySelectorAll('main, [role=main]').length,
  skip: [...document.querySelectorAll('a.skip-link')].map(a => a.getAttribute('href')),
  mainId: (document.querySelector('main') || {}).id || null,
})"""

FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  return {what: el.tagName.toLowerCase() + ' ' + (el.textContent || el.name || '').trim()
          .slice(0, 30), visible: outline || shadow,
          onScreen: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth};
}"""


OVERFLOW_JS = """() => {
  const extra = document.documentElement.scrollWidth - window.innerWidth;
  if (extra <= 0) return null;
  // Name the innermost elements that stick out, so the failure says what to fix.
  const out = [...document.body.querySelectorAll('*')].filter(el => {
    const r = el.getBoundingClientRect();
    return r.right > window.innerWidth + 0.5 && r.width > 0
      && ![...el.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5);
  }).slice(0, 3).map(el => el.tagName.toLowerCase()
    + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '')
    + ` "${(el.textContent || '').trim().slice(0, 25)}"`);
  return `${extra}px (${out.join('; ')})`;
}"""


def overflow(page) -> str | None:
    """How far the page scrolls sideways and what sticks out (None when it reflows)."""
    return page.evaluate(OVERFLOW_JS)


def check(page, where: str, problems: list[str], *, locale: str = "vi", kiosk: bool = False,
          zoomed: dict | None = ZOOMED) -> None:
    """Run every check on the page as loaded, then at 360 px and at 200% zoom."""
    page.wait_for_load_state("load")
    size = page.viewport_size
    structure = page.evaluate(STRUCTURE_JS)
    if not structure["lang"].startswith(locale):
        problems.append(f"{where}: lang={structure['lang']!r}, expected {locale}")
    if structure["h1"] != 1:
        problems.append(f"{where}: {structure['h1']} h1 elements")
    if structure["main"] != 1:
        problems.append(f"{where}: {structure['main']} main landmarks")
    if structure["skip"] != [f"#{structure['mainId']}"]:
        problems.append(f"{where}: skip link {structure['skip']} to main#{structure['mainId']}")
    problems.extend(f"{where}: {found}" for found in axe_violations(page))
    problems.extend(f"{where}: target {found}"
                    for found in page.evaluate(TARGETS_JS, [TARGET_MIN, True]))
    if kiosk:  # a finger on a kiosk: every button and link is large, no spacing allowance
        problems.extend(f"{where}: kiosk target {found}"
                        for found in page.evaluate(TARGETS_JS, [KIOSK_MIN, False]))
    check_focus(page, where, problems)
    if extra := overflow(page):
        problems.append(f"{where}: scrolls sideways by {extra}")
    for name, viewport in (("360px", PHONE), ("200%", zoomed)):
        if viewport is None or viewport["width"] >= size["width"]:
            continue
        page.set_viewport_size(viewport)
        if extra := overflow(page):
            problems.append(f"{where} at {name}: scrolls sideways by {extra}")
        if name == "360px":
            problems.extend(f"{where} at 360px: {found}" for found in axe_violations(page))
            problems.extend(f"{where} at 360px: target {found}"
                            for found in page.evaluate(TARGETS_JS, [TARGET_MIN, True]))
    page.set_viewport_size(size)


def check_focus(page, where: str, problems: list[str], presses: int = 4) -> None:
    """Tab from the top: the skip link comes first and shows; every focus is visible."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur();"
                  " window.scrollTo(0, 0); }")
    page.mouse.click(1, 1)  # focus starts from the document, as after loading
    for press in range(presses):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_JS)
        if focus is None:
            break
        if not focus["visible"]:
            problems.append(f"{where}: no visible focus on {focus['what']!r}")
        if press == 0 and not focus["onScreen"]:
            problems.append(f"{where}: first Tab lands off screen on {focus['what']!r}")


# --- the pages ----------------------------------------------------------------------------------


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/admin/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/admin/**")


@pytest.fixture(scope="module")
def contexts(browser):
    """One context per viewport, reused by every test of the module."""
    made = {name: browser.new_context(viewport=size, locale="vi-VN")
            for name, size in (("desktop", DESKTOP), ("phone", PHONE))}
    yield made
    for context in made.values():
        context.close()


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_admin_page_for_each_role(site, contexts, role):
    context = contexts["desktop"]
    context.clear_cookies()
    page = context.new_page()
    problems: list[str] = []
    page.goto(site.url + "/admin/login")
    check(page, "login", problems)
    sign_in(page, site.url, ROLES[role])
    statuses: dict[str, int] = {}
    statuses_checked: set[int] = set()
    for name, path in ADMIN_PAGES:
        response = page.goto(site.url + path.format(**site.ids))
        statuses[name] = response.status
        styled = page.locator("link[href$='/admin.css']").count()
        if response.status == 200 and not styled:  # the navigation's styles (refusals: core's)
            problems.append(f"{role} {name}: admin.css is not loaded")
        if response.status != 200 and response.status in statuses_checked:
            continue  # one refusal page is the same template as the next
        statuses_checked.add(response.status)
        check(page, f"{role} {name} ({response.status})", problems)
    page.close()
    assert problems == [], "\n".join(problems)
    # The admin reaches every page; the others meet refusals, which were checked too.
    if role == "admin":
        assert set(statuses.values()) == {200}, statuses
    assert statuses["home"] == statuses["dashboard"] == 200


def test_an_admin_form_on_a_phone(site, contexts):
    context = contexts["phone"]
    context.clear_cookies()
    page = context.new_page()
    problems: list[str] = []
    sign_in(page, site.url, "root")
    for path in ("/admin/", "/admin/units/{centre}", "/admin/dashboard", "/admin/users/new",
                 "/admin/dashboard/breakdown/counter", "/admin/audit/",
                 "/cong-khai/{centre_code}"):
        page.goto(site.url + path.format(**site.ids))
        check(page, f"phone {path}", problems, zoomed={"width": 180, "height": 370})
        if path == "/admin/dashboard":  # the heat map was there, scrolling in its own region
            problems.extend(heat_map_problems(page))
    page.goto(site.url + "/admin/dashboard?period=year")
    problems.extend(chart_problems(page))
    page.close()
    assert problems == [], "\n".join(problems)


HEAT_JS = """() => {
  const region = document.querySelector('#heat-title ~ [role=region]');
  return region && {tabindex: region.tabIndex, label: region.getAttribute('aria-labelledby'),
                    scrolls: region.scrollWidth > region.clientWidth};
}"""


def heat_map_problems(page) -> list[str]:
    """The heat map at 360 px: wider than the screen, in a named region the keyboard reaches."""
    page.set_viewport_size(PHONE)
    heat = page.evaluate(HEAT_JS)
    if heat is None:
        return ["dashboard: no heat map region (the pinned data should fill the current month)"]
    if heat["tabindex"] != 0 or heat["label"] != "heat-title":
        return [f"dashboard: the heat map region is not focusable and named: {heat}"]
    if not heat["scrolls"]:
        return ["dashboard: the heat map does not scroll at 360 px (the check proves nothing)"]
    return []


CHART_JS = """() => {
  const chart = document.querySelector('svg.trend');
  const labels = [...chart.querySelectorAll('text')].filter(t => getComputedStyle(t).display
    !== 'none').map(t => ({text: t.textContent, height: t.getBoundingClientRect().height,
                           fill: getComputedStyle(t).fill}));
  const dashed = [...chart.querySelectorAll('polyline')].map(l =>
    getComputedStyle(l).strokeDasharray);
  return {role: chart.getAttribute('role'), title: chart.querySelector('title').textContent,
          labels, dashed, caption: chart.closest('section').querySelector('caption').textContent};
}"""


def chart_problems(page) -> list[str]:
    """The trend chart on a phone: named, legible labels, lines told apart by more than colour."""
    chart = page.evaluate(CHART_JS)
    problems = []
    if chart["role"] != "img" or not chart["title"].strip():
        problems.append("trend chart: no role=img with a title")
    small = [label["text"] for label in chart["labels"] if label["height"] < 9]
    if small or len(chart["labels"]) < 6:
        problems.append(f"trend chart labels too small or missing at 360 px: {small}")
    if not any(label["fill"] == "rgb(17, 17, 17)" for label in chart["labels"]):
        problems.append("trend chart labels are not drawn in the text colour")
    if sorted(dash != "none" for dash in chart["dashed"]) != [False, True]:
        problems.append(f"trend lines differ by colour only: {chart['dashed']}")
    if "●" not in chart["caption"] or "■" not in chart["caption"]:
        problems.append("the trend table's caption does not name the markers")
    return problems


def test_the_public_page_and_the_error_pages(site, contexts):
    page = contexts["desktop"].new_page()
    problems: list[str] = []
    response = page.goto(site.url + f"/cong-khai/{site.ids['centre_code']}")
    assert response.status == 200
    check(page, "public", problems)
    response = page.goto(site.url + "/cong-khai/T-DEMO-TTHCC?lang=en")
    page.goto(site.url + "/lang/en?next=/cong-khai/" + site.ids["centre_code"])
    check(page, "public en", problems, locale="en")
    page.goto(site.url + "/lang/vi?next=/admin/login")
    response = page.goto(site.url + "/admin/no-such-page")
    assert response.status == 404
    check(page, "404", problems)
    # A form whose CSRF token is wrong: the 400 page a stale tab shows.
    page.goto(site.url + "/admin/login")
    page.evaluate("document.querySelector('input[name=csrf_token]').value = 'stale'")
    page.get_by_label("Tên đăng nhập").fill("root")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    with page.expect_response("**/admin/login") as answer:
        page.get_by_role("button", name="Đăng nhập").click()
    assert answer.value.status == 400
    check(page, "400 csrf", problems)
    page.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("scale", [3, 5])
def test_the_kiosk_screens(site, browser, scale):
    site.set_kiosk(scale=scale, min_interval_s=0)
    problems: list[str] = []
    for name, viewport in (("portrait", {"width": 1080, "height": 1920}),
                           ("landscape", {"width": 1280, "height": 800})):
        context = browser.new_context(viewport=viewport, has_touch=True, locale="vi-VN")
        page = context.new_page()
        zoomed = {"width": viewport["width"] // 2, "height": viewport["height"] // 2}
        where = f"kiosk {scale}-level {name}"
        page.goto(site.url + "/lang/vi?next=/kiosk/")
        check(page, f"{where} idle", problems, kiosk=True, zoomed=zoomed)
        if name == "portrait":
            page.screenshot(path=f"/tmp/a11y-kiosk-idle-{scale}.png")
        page.locator("button.kiosk-button").last.tap()
        page.wait_for_url("**/kiosk/followup?r=*")
        check(page, f"{where} follow-up", problems, kiosk=True, zoomed=zoomed)
        page.locator("button.kiosk-action").first.tap()
        page.wait_for_url("**/kiosk/thanks?r=*")
        assert page.locator("figure.kiosk-qr svg").count() == 1
        check(page, f"{where} thanks", problems, kiosk=True, zoomed=zoomed)
        if scale == 3:
            for path in ("/kiosk/staff", "/kiosk/status", "/kiosk/followup?r=forged"):
                page.goto(site.url + path)
                check(page, f"{where} {path}", problems, kiosk=True, zoomed=zoomed)
        context.close()
    site.set_kiosk()
    assert problems == [], "\n".join(problems)


def test_the_kiosk_error_screen_returns_to_idle_by_itself(site, browser):
    site.set_kiosk(idle_timeout_s=1)
    context = browser.new_context(viewport={"width": 1080, "height": 1920}, has_touch=True,
                                  locale="vi-VN")
    page = context.new_page()
    response = page.goto(site.url + "/kiosk/followup?r=forged")
    assert response.status == 400
    assert page.locator("meta[http-equiv=refresh]").count() == 0  # only inside <noscript>
    page.wait_for_url("**/kiosk/", timeout=15_000)
    context.close()
    site.set_kiosk()


NO_SCRIPT_PAGES = ["/admin/login", "/cong-khai/{centre_code}", "/kiosk/", "/kiosk/staff",
                   "/admin/no-such-page"]


def test_pages_render_and_reflow_without_javascript(site, browser):
    context = browser.new_context(viewport=PHONE, locale="vi-VN", java_script_enabled=False)
    page = context.new_page()
    problems: list[str] = []
    for path in NO_SCRIPT_PAGES:
        page.goto(site.url + path.format(**site.ids))
        if page.locator("h1").count() != 1:
            problems.append(f"{path}: no heading without script")
        if extra := overflow_without_script(page):
            problems.append(f"{path}: scrolls sideways by {extra}px without script")
    sign_in(page, site.url, "lan")  # the sign-in form works as a plain form
    page.goto(site.url + "/admin/dashboard")
    if page.locator("h1").count() != 1 or page.locator("table").count() == 0:
        problems.append("dashboard: figures missing without script")
    context.close()
    assert problems == [], "\n".join(problems)


def overflow_without_script(page) -> int:
    """Playwright's evaluate runs even when the page's own scripts are off."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_the_checks_catch_what_they_look_for(browser):
    """The target, focus, structure and overflow checks fail on a page built to fail them."""
    page = browser.new_page(viewport=PHONE)
    page.set_content("""<html><body><style>
      .tiny { width: 12px; height: 12px; padding: 0; border: 0; outline: none; }
      .wide { width: 500px; }</style>
      <button class="tiny">a</button><button class="tiny">b</button>
      <p>Read <a href="#x">the rules</a> in this sentence.</p>
      <div class="wide">wide</div></body></html>""")
    problems: list[str] = []
    check(page, "bad", problems, zoomed=None)
    page.close()
    found = "\n".join(problems)
    assert "lang=''" in found and "0 h1 elements" in found and "0 main landmarks" in found
    assert "skip link" in found
    assert found.count("target button.tiny") >= 2  # two small buttons side by side
    assert "target a" not in found  # a link in a sentence is exempt
    assert "no visible focus on 'button a'" in found
    assert "scrolls sideways" in found

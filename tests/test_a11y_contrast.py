"""The stylesheets' colours, checked by computation (WCAG 2.2 relative luminance).

axe checks the contrast of what a page happens to show; this checks every pairing the styles can
produce, including states a test page may not reach (pressed kiosk buttons, every heat-map step,
the focus ring on each background, chart lines). Text needs 4.5:1; borders, focus rings, chart
lines and the kiosk level frames need 3:1 (1.4.11 non-text contrast).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_CSS = (ROOT / "core/static/css/app.css").read_text(encoding="utf-8")
KIOSK_CSS = (ROOT / "kiosk/static/kiosk.css").read_text(encoding="utf-8")
DASHBOARD_CSS = (ROOT / "admin/static/dashboard.css").read_text(encoding="utf-8")


def luminance(colour: str) -> float:
    hex_ = colour.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)

    def channel(pair: str) -> float:
        value = int(pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(hex_[i:i + 2]) for i in (0, 2, 4))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def variables(css: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{3,6})\b", css))


VARS = variables(APP_CSS)


def test_the_colour_variables_are_read_from_the_stylesheet():
    assert {"fg", "bg", "muted", "primary", "primary-fg", "border", "ok", "warn", "bad",
            "surface", "focus"} <= set(VARS)


TEXT_PAIRS = [
    ("fg", "bg"), ("fg", "surface"), ("muted", "bg"), ("muted", "surface"),
    ("primary", "bg"), ("primary", "surface"), ("primary-fg", "primary"),
    ("ok", "bg"), ("warn", "bg"), ("bad", "bg"), ("primary-fg", "bad"),
]


@pytest.mark.parametrize(("text", "background"), TEXT_PAIRS)
def test_text_colours_reach_4_5_to_1(text, background):
    assert contrast(VARS[text], VARS[background]) >= 4.5


@pytest.mark.parametrize("background", ["bg", "surface", "primary"])
def test_the_focus_ring_shows_on_every_background(background):
    # The ring is a yellow outline inside a dark shadow: one of the two always stands out.
    ring = max(contrast(VARS["focus"], VARS[background]), contrast(VARS["fg"], VARS[background]))
    assert ring >= 3
    assert "box-shadow: 0 0 0 6px var(--fg)" in APP_CSS


def test_field_borders_reach_3_to_1():
    assert contrast(VARS["border"], VARS["bg"]) >= 3


def test_kiosk_level_frames_and_pressed_buttons():
    levels = re.findall(r"\.kiosk-button--([a-z_]+)[^{]*\{\s*--level:\s*(#[0-9a-f]{6});\s*"
                        r"--level-bg:\s*(#[0-9a-f]{6})", KIOSK_CSS)
    assert len(levels) == 5
    for name, frame, pressed in levels:
        assert contrast(frame, VARS["bg"]) >= 3, name  # the frame on the white button
        assert contrast(VARS["fg"], pressed) >= 4.5, name  # the word and face on the pressed colour


def test_every_heat_map_step_keeps_its_number_readable():
    steps = re.findall(r"\.heat-(\d) \{ background: (#[0-9a-f]{3,6});"
                       r"(?: color: (#[0-9a-f]{3,6});)?", DASHBOARD_CSS)
    assert [step for step, _, _ in steps] == ["0", "1", "2", "3", "4", "5"]
    for step, background, text in steps:
        assert contrast(text or VARS["fg"], background) >= 4.5, f"heat-{step}"


def test_chart_lines_and_bars_stand_out():
    # The two trend lines differ by dash and marker shape too (no colour-only meaning).
    assert "stroke-dasharray" in DASHBOARD_CSS
    assert contrast(VARS["primary"], VARS["bg"]) >= 3
    assert contrast(VARS["fg"], VARS["bg"]) >= 3
    assert contrast(VARS["primary"], VARS["surface"]) >= 3  # bar fill on its track

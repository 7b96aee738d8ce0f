"""Vietnamese first, English complete; numbers and percentages formatted by Babel."""

from __future__ import annotations

from datetime import date

from flask_babel import force_locale

from core.i18n import fdate, num, pct
from core.i18n_check import problems


def test_every_catalog_is_complete_with_nothing_fuzzy():
    assert problems() == []


def test_percentages_use_the_locale_format(app):
    with app.test_request_context("/"), force_locale("vi"):
        assert pct(81.8736) == "81,87%"
        assert num(1234567) == "1.234.567"
        assert pct(None) == "—"
    with app.test_request_context("/"), force_locale("en"):
        assert pct(81.8736) == "81.87%"
        assert num(1234567) == "1,234,567"


def test_dates_use_the_locale_format(app):
    with app.test_request_context("/"), force_locale("vi"):
        assert "2026" in fdate(date(2026, 11, 22))
        assert "thg 11" in fdate(date(2026, 11, 22)) or "11" in fdate(date(2026, 11, 22))
    with app.test_request_context("/"), force_locale("en"):
        assert fdate(date(2026, 11, 22)) == "Nov 22, 2026"


def test_no_catalog_is_marked_fuzzy_as_a_whole():
    # `pybabel compile` skips a catalog whose header is fuzzy, and then every page of that
    # area falls back to English (a merge once left the admin catalog so).
    from pathlib import Path

    from babel.messages.pofile import read_po

    folder = Path(__file__).resolve().parent.parent / "translations"
    fuzzy = []
    for path in sorted(folder.glob("*/LC_MESSAGES/*.po")):
        with path.open("rb") as handle:
            if read_po(handle).fuzzy:
                fuzzy.append(str(path.relative_to(folder)))
    assert fuzzy == []

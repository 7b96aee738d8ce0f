"""The hour-by-weekday heat map honours the misuse filter: flagged taps have hour cells of their
own (rollup_hours.misuse), and add_hours keeps its old four-item cells working."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import RollupHour
from core.services import rollups
from core.services.reporting import figures, filters, periods
from tests.dashboard_support import counter_of, login, tap, unit, user

MONDAY = date(2026, 11, 9)


@pytest.fixture
def taps(demo):
    x1 = counter_of("T-DEMO-X1")
    for level in (5, 2):
        tap(x1, MONDAY, level, hour=8)
    for level in (5, 5, 1):
        tap(x1, MONDAY, level, hour=8, misuse="too_fast")
    tap(x1, MONDAY, 4, hour=10, misuse="no_transaction")  # an hour with misuse only
    db.session.commit()
    return demo


def nov(**kw) -> filters.Filters:
    return filters.Filters(unit("T-DEMO-X1"), periods.month_period(2026, 11), **kw)


def test_flagged_taps_are_left_out_unless_the_filter_includes_them(taps):
    plain = figures.heatmap(nov())
    assert set(plain) == {(0, 8)}
    assert (plain[(0, 8)].total, plain[(0, 8)].satisfied) == (2, 1)
    everything = figures.heatmap(nov(include_misuse=True))
    assert set(everything) == {(0, 8), (0, 10)}
    assert (everything[(0, 8)].total, everything[(0, 8)].satisfied) == (5, 3)
    assert (everything[(0, 10)].total, everything[(0, 10)].satisfied) == (1, 1)
    assert figures.heatmap(nov(channels=("poster",))) == {}


def test_add_hours_takes_four_item_cells_as_before_and_five_item_cells(app, demo):
    x1 = counter_of("T-DEMO-X1")
    rollups.add_hours([(x1.unit_id, MONDAY, 9, True), (x1.unit_id, MONDAY, 9, False)])
    rollups.add_hours([(x1.unit_id, MONDAY, 9, True)], misuse=True)
    rollups.add_hours([(x1.unit_id, MONDAY, 9, False, True), (x1.unit_id, MONDAY, 9, True, False)])
    db.session.commit()
    h = RollupHour
    cells = {m: (t, s) for m, t, s in db.session.execute(
        select(h.misuse, h.total, h.satisfied).where(h.unit_id == x1.unit_id))}
    assert cells == {False: (3, 2), True: (2, 1)}
    with pytest.raises(ValueError, match="4 or 5 items"):
        rollups.add_hours([(x1.unit_id, MONDAY, 9, True, False, 1)])


def test_the_page_says_what_the_heat_map_counts(taps, client):
    user("boss", "admin", None)
    login(client, "boss")
    base = f"/admin/dashboard?unit={unit('T-DEMO-X1').id}&period=month&value=2026-11"
    note = client.get(base).get_data(True).split('data-note="heat"', 1)[1].split("</p>", 1)[0]
    assert "Chỉ tính lượt chạm tại kiosk" in note and "không được tính" in note
    english = client.get(base + "&misuse=1&lang=en").get_data(True)
    note = english.split('data-note="heat"', 1)[1].split("</p>", 1)[0]
    assert "Kiosk taps only" in note and "are included" in note

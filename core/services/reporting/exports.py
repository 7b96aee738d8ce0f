"""Exports for a report filter: raw ratings and responses as CSV, indices per unit as XLSX.

CSV is produced by a generator that reads the rows by keyset pagination (``id > last ORDER BY id
LIMIT n``) with plain column tuples, so memory stays constant however many rows match; it starts
with a UTF-8 byte order mark so Excel opens Vietnamese text correctly. Every export is audited.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from core import sipas, spreadsheet
from core.database import begin_write
from core.extensions import db
from core.models import (
    Counter,
    KioskRating,
    Officer,
    Procedure,
    SurveyAnswer,
    SurveyResponse,
    Unit,
    User,
)
from core.services.accounts import audit
from core.services.org import scope
from core.services.reporting import comments, figures, filters, rankings

BOM = "\ufeff"
PAGE = 5_000
KINDS = ("ratings", "responses")


def audit_export(user: User, f: filters.Filters, kind: str) -> None:
    """Record who exported what (flushed; the caller commits before the first byte leaves)."""
    begin_write()
    audit.record(
        f"export.{kind}", user=user, target_type="unit", target_id=f.unit.id, unit_id=f.unit.id,
        details={"period": f.period.value, "kind": f.period.kind, "channels": list(f.channels),
                 "misuse": f.include_misuse},
    )
    db.session.flush()


def _line(row: list[object]) -> str:
    buffer = io.StringIO()
    spreadsheet.writer(buffer).writerow(row)
    return buffer.getvalue()


def _codes(model, ids: set[int], column) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, column).where(model.id.in_(ids))).all())


def ratings_csv(user: User, f: filters.Filters, page: int = PAGE) -> Iterator[str]:
    """Kiosk taps of the filter, oldest first; officer codes only for those allowed to see them.

    Permissions are checked now; the returned generator reads only plain values, so it can be
    streamed after the request's session has been closed.
    """
    scope.get_unit(user, f.unit.id)
    return _ratings(_Plain.of(f), scope.may_see_officers(user), page)


@dataclass(frozen=True)
class _Plain:
    """What a streamed export needs of a filter, detached from the database session."""

    path: str
    start: date
    end: date
    kiosk: bool
    survey_channels: tuple[str, ...]
    include_misuse: bool

    @classmethod
    def of(cls, f: filters.Filters) -> _Plain:
        return cls(f.unit.path, f.period.start, f.period.end, f.kiosk, f.survey_channels,
                   f.include_misuse)


def _ratings(f: _Plain, officers: bool, page: int) -> Iterator[str]:
    header = ["id", "uuid", "unit", "counter", "local_day", "local_hour", "device_time_utc",
              "received_at_utc", "scale", "level", "satisfied", "reasons", "misuse", "procedure",
              "dossier_code"] + (["officer"] if officers else [])
    yield BOM + _line(header)
    if not f.kiosk:
        return
    k = KioskRating
    conds = [k.local_day >= f.start, k.local_day <= f.end,
             k.unit_id.in_(select(Unit.id).where(Unit.path.startswith(f.path)))]
    if not f.include_misuse:
        conds.append(k.misuse.is_(None))
    units = dict(db.session.execute(select(Unit.id, Unit.code)).all())
    last = 0
    while True:
        stmt = (
            select(k.id, k.uuid, k.unit_id, k.counter_id, k.local_day, k.local_hour,
                   k.device_time, k.received_at, k.scale, k.level, k.reasons, k.misuse,
                   k.procedure_id, k.dossier_code, k.officer_id)
            .where(*conds, k.id > last).order_by(k.id).limit(page)
        )
        rows = db.session.execute(stmt).all()
        if not rows:
            return
        counters = _codes(Counter, {r.counter_id for r in rows}, Counter.code)
        procedures = _codes(Procedure, {r.procedure_id for r in rows if r.procedure_id},
                            Procedure.code)
        officer_codes = (_codes(Officer, {r.officer_id for r in rows if r.officer_id},
                                Officer.code) if officers else {})
        out = io.StringIO()
        writer = spreadsheet.writer(out)
        for r in rows:
            line = [r.id, r.uuid, units.get(r.unit_id), counters.get(r.counter_id),
                    r.local_day.isoformat(), r.local_hour, r.device_time.isoformat(),
                    r.received_at.isoformat(), r.scale, r.level, int(r.level >= 4),
                    ";".join(r.reasons or []), r.misuse or "", procedures.get(r.procedure_id, ""),
                    r.dossier_code or ""]
            if officers:
                line.append(officer_codes.get(r.officer_id, ""))
            writer.writerow(line)
        last = rows[-1].id
        # Release what the page loaded: nothing is kept between pages.
        db.session.expunge_all()
        yield out.getvalue()


def responses_csv(user: User, f: filters.Filters, page: int = PAGE) -> Iterator[str]:
    """Survey responses of the filter with one column per rated item (0 = no opinion).

    Comments are masked (phone and ID numbers) and left out entirely for viewers and when hidden.
    """
    scope.get_unit(user, f.unit.id)
    items = [item.code for item in figures.questionnaire().items()]
    return _responses(_Plain.of(f), items, comments.may_moderate(user), page)


def _responses(f: _Plain, items: list[str], moderator: bool, page: int) -> Iterator[str]:
    header = ["id", "unit", "counter", "channel", "local_day", "submitted_at_utc", "procedure",
              "misuse", *items, "trips", "harassment", "informal_payment", "submission_channel",
              "priorities", "comment"]
    yield BOM + _line(header)
    channels = f.survey_channels
    if not channels:
        return
    s = SurveyResponse
    conds = [s.local_day >= f.start, s.local_day <= f.end,
             s.unit_id.in_(select(Unit.id).where(Unit.path.startswith(f.path))),
             s.channel.in_(channels)]
    if not f.include_misuse:
        conds.append(s.misuse.is_(None))
    units = dict(db.session.execute(select(Unit.id, Unit.code)).all())
    last = 0
    while True:
        stmt = (
            select(s.id, s.unit_id, s.counter_id, s.channel, s.local_day, s.submitted_at,
                   s.procedure_id, s.misuse, s.trips, s.harassment, s.informal_payment,
                   s.submission_channel, s.priorities, s.comment, s.comment_hidden)
            .where(*conds, s.id > last).order_by(s.id).limit(page)
        )
        rows = db.session.execute(stmt).all()
        if not rows:
            return
        ids = [r.id for r in rows]
        answers: dict[int, dict[str, int]] = {}
        for rid, code, level in db.session.execute(
            select(SurveyAnswer.response_id, SurveyAnswer.item_code, SurveyAnswer.level)
            .where(SurveyAnswer.response_id.in_(ids))
        ):
            answers.setdefault(rid, {})[code] = level
        counters = _codes(Counter, {r.counter_id for r in rows if r.counter_id}, Counter.code)
        procedures = _codes(Procedure, {r.procedure_id for r in rows if r.procedure_id},
                            Procedure.code)
        out = io.StringIO()
        writer = spreadsheet.writer(out)
        for r in rows:
            given = answers.get(r.id, {})
            comment = ""
            if r.comment and moderator and not r.comment_hidden:
                comment = comments.mask_numbers(r.comment)
            writer.writerow([
                r.id, units.get(r.unit_id), counters.get(r.counter_id, ""), r.channel,
                r.local_day.isoformat(), r.submitted_at.isoformat(),
                procedures.get(r.procedure_id, ""), r.misuse or "",
                *[given.get(code, "") for code in items],
                r.trips or "", r.harassment or "", r.informal_payment or "",
                r.submission_channel or "", ";".join(r.priorities or []), comment,
            ])
        last = rows[-1].id
        db.session.expunge_all()
        yield out.getvalue()


def encoded(chunks: Iterator[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")


# --------------------------------------------------------------------------------------------------
# XLSX

XLSX_HEADERS = [
    "Mã đơn vị", "Tên đơn vị", "Cấp", "Số phiếu khảo sát", "Chỉ số SIPAS (%)",
    "Tiếp cận dịch vụ (%)", "Thủ tục hành chính (%)", "Công chức (%)", "Kết quả (%)",
    "Tiếp nhận, xử lý PAKN (%)", "Tỷ lệ hài lòng tại quầy (%)", "Số lượt đánh giá tại quầy",
    "Xếp hạng", "Xếp hạng kỳ trước", "Thay đổi (bậc)", "Thay đổi chỉ số (điểm)",
    "Chỉ số hài lòng về sự phục vụ (%)", "Chỉ số hài lòng về chính sách (%)", "Cách tính chỉ số",
    "Phương pháp",
]
# How the SIPAS-style index of a row was formed (docs/METHOD.md, "The indices").
BASIS_NAMES = {figures.BASIS_SERVICE: "Chỉ số phục vụ",
               figures.BASIS_COMBINED: "Trung bình chỉ số chính sách và chỉ số phục vụ"}
LEVEL_NAMES = {"province": "Tỉnh", "department": "Sở, ngành", "district": "Huyện",
               "commune": "Xã, phường", "service_centre": "Trung tâm PVHCC"}
INSUFFICIENT = "không đủ mẫu"
INCOMPLETE = "chưa đủ 5 yếu tố: thiếu {}"


def xlsx_report(user: User, f: filters.Filters) -> bytes:
    """Indices per unit for a period, laid out for officials: the unit itself, then its child
    units ranked by level, Vietnamese headers, percentages with two decimals, rank and change."""
    import xlsxwriter

    scope.get_unit(user, f.unit.id)
    own = figures.headline(f)
    rows = rankings.ranking(f)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Chỉ số SIPAS")
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "border": 1})
    pct = book.add_format({"num_format": "0.00", "border": 1})
    plain = book.add_format({"border": 1})
    title = book.add_format({"bold": True, "font_size": 14})
    sheet.write_string(0, 0, f"Chỉ số hài lòng – {f.unit.name}", title)
    sheet.write_string(1, 0, f"Kỳ báo cáo: {f.period.start:%d/%m/%Y} – {f.period.end:%d/%m/%Y}; "
                             f"phương pháp {own.method_version}; dưới {figures.min_report_n()} "
                             f"phiếu: {INSUFFICIENT}.")
    for col, header in enumerate(XLSX_HEADERS):
        sheet.write_string(3, col, header, bold)

    def fig(row: int, col: int, figure: figures.Figure) -> None:
        value = figure.shown
        if value is None:
            sheet.write_string(row, col, INSUFFICIENT if figure.suppressed else (
                INCOMPLETE.format(", ".join(figure.missing)) if figure.missing else "—"), plain)
        else:
            sheet.write_number(row, col, sipas.round2(value), pct)

    def line(row: int, unit: Unit, head: figures.Headline, rank_row: rankings.RankRow | None):
        sheet.write_string(row, 0, unit.code, plain)
        sheet.write_string(row, 1, unit.name, plain)
        sheet.write_string(row, 2, LEVEL_NAMES.get(unit.level, unit.level), plain)
        sheet.write_number(row, 3, head.respondents, plain)
        fig(row, 4, head.sipas)
        for i, code in enumerate(("TC", "TT", "CC", "KQ", "PA")):
            fig(row, 5 + i, head.elements[code])
        fig(row, 10, head.counter_rate)
        sheet.write_number(row, 11, head.counter_rate.n, plain)
        for col, value in ((12, rank_row and rank_row.rank),
                           (13, rank_row and rank_row.previous_rank),
                           (14, rank_row and rank_row.change)):
            if value is None:
                sheet.write_string(row, col, "—", plain)
            else:
                sheet.write_number(row, col, value, plain)
        change = head.sipas.change
        if change is None:
            sheet.write_string(row, 15, "—", plain)
        else:
            sheet.write_number(row, 15, sipas.round2(change), pct)
        fig(row, 16, head.service or head.sipas)
        if head.policy is None:
            sheet.write_string(row, 17, "—", plain)
        else:
            fig(row, 17, head.policy)
        sheet.write_string(row, 18, BASIS_NAMES[head.basis], plain)
        sheet.write_string(row, 19, head.method_version, plain)

    line(4, f.unit, own, None)
    for i, r in enumerate(rows, start=5):
        head = figures.headline(f.for_unit(r.unit))
        line(i, r.unit, head, r)
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 44)
    sheet.set_column(2, 19, 14)
    sheet.set_column(18, 18, 30)
    sheet.freeze_panes(4, 2)
    book.close()
    return buffer.getvalue()

"""The demo organisation: a province with departments, a district, communes, a service centre,
counters, officers and a procedure catalogue. Seeding is idempotent (keyed by codes)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.extensions import db
from core.models import Counter, Officer, Procedure, ProcedureField, Unit
from core.passwords import hash_pin
from core.services.org.structure import add_unit
from core.services.survey import questionnaires

OPENING_HOURS = {
    day: [["07:30", "11:30"], ["13:30", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
} | {"sat": [["07:30", "11:30"]]}

# (code, name, level, parent code)
UNITS = [
    ("T-DEMO", "Tỉnh An Hòa (dữ liệu mẫu)", "province", None),
    ("T-DEMO-TTHCC", "Trung tâm Phục vụ hành chính công tỉnh An Hòa", "service_centre", "T-DEMO"),
    ("T-DEMO-STP", "Sở Tư pháp", "department", "T-DEMO"),
    ("T-DEMO-SKHDT", "Sở Kế hoạch và Đầu tư", "department", "T-DEMO"),
    ("T-DEMO-STNMT", "Sở Tài nguyên và Môi trường", "department", "T-DEMO"),
    ("T-DEMO-H1", "Huyện Bình Sơn", "district", "T-DEMO"),
    ("T-DEMO-X1", "Xã Tân Phú", "commune", "T-DEMO-H1"),
    ("T-DEMO-X2", "Xã Hòa Lạc", "commune", "T-DEMO-H1"),
    ("T-DEMO-P1", "Phường Đông Thành", "commune", "T-DEMO-H1"),
]

# (unit code, counter code, name, scale)
COUNTERS = [
    ("T-DEMO-TTHCC", "Q01", "Quầy 01 – Tư pháp", 3),
    ("T-DEMO-TTHCC", "Q02", "Quầy 02 – Kế hoạch và Đầu tư", 3),
    ("T-DEMO-TTHCC", "Q03", "Quầy 03 – Tài nguyên và Môi trường", 5),
    ("T-DEMO-X1", "Q01", "Bộ phận Một cửa xã Tân Phú", 3),
    ("T-DEMO-X2", "Q01", "Bộ phận Một cửa xã Hòa Lạc", 3),
    ("T-DEMO-P1", "Q01", "Bộ phận Một cửa phường Đông Thành", 3),
]

# (unit code, counter code, officer code, full name, demo PIN)
OFFICERS = [
    ("T-DEMO-TTHCC", "Q01", "CB001", "Nguyễn Thị Lan", "1111"),
    ("T-DEMO-TTHCC", "Q01", "CB002", "Trần Văn Minh", "2222"),
    ("T-DEMO-TTHCC", "Q02", "CB003", "Lê Thị Hồng", "3333"),
    ("T-DEMO-TTHCC", "Q03", "CB004", "Phạm Quốc Huy", "4444"),
    ("T-DEMO-X1", "Q01", "CB005", "Đỗ Thị Mai", "5555"),
    ("T-DEMO-X2", "Q01", "CB006", "Hoàng Văn Nam", "6666"),
    ("T-DEMO-P1", "Q01", "CB007", "Vũ Thị Thu", "7777"),
]

FIELDS = [
    ("HT", "Hộ tịch"),
    ("CT", "Chứng thực"),
    ("LLTP", "Lý lịch tư pháp"),
    ("DKKD", "Thành lập và phát triển doanh nghiệp"),
    ("DD", "Đất đai"),
]

PROCEDURES = [
    ("HT-001", "Đăng ký khai sinh", "HT"),
    ("HT-002", "Đăng ký kết hôn", "HT"),
    ("HT-003", "Đăng ký khai tử", "HT"),
    ("CT-001", "Chứng thực bản sao từ bản chính", "CT"),
    ("CT-002", "Chứng thực chữ ký trong giấy tờ, văn bản", "CT"),
    ("LLTP-001", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", "LLTP"),
    ("DKKD-001", "Đăng ký thành lập doanh nghiệp tư nhân", "DKKD"),
    ("DKKD-002", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp", "DKKD"),
    ("DD-001", "Đăng ký biến động quyền sử dụng đất", "DD"),
    ("DD-002", "Cấp đổi Giấy chứng nhận quyền sử dụng đất", "DD"),
]


@dataclass
class DemoSummary:
    units: int
    counters: int
    officers: int
    procedures: int


def seed_demo() -> DemoSummary:
    """Create whatever of the demo organisation is missing; running it twice changes nothing."""
    questionnaires.ensure_default()
    units: dict[str, Unit] = {}
    for code, name, level, parent_code in UNITS:
        unit = db.session.scalar(select(Unit).where(Unit.code == code))
        if unit is None:
            unit = add_unit(code, name, level, units[parent_code] if parent_code else None)
            unit.opening_hours = OPENING_HOURS
        units[code] = unit
    counters: dict[tuple[str, str], Counter] = {}
    for unit_code, code, name, scale in COUNTERS:
        unit = units[unit_code]
        counter = db.session.scalar(
            select(Counter).where(Counter.unit_id == unit.id, Counter.code == code)
        )
        if counter is None:
            counter = Counter(unit_id=unit.id, code=code, name=name, scale=scale)
            db.session.add(counter)
            db.session.flush()
        counters[(unit_code, code)] = counter
    for unit_code, counter_code, code, full_name, pin in OFFICERS:
        unit = units[unit_code]
        exists = db.session.scalar(
            select(Officer.id).where(Officer.unit_id == unit.id, Officer.code == code)
        )
        if exists is None:
            db.session.add(
                Officer(
                    unit_id=unit.id,
                    counter_id=counters[(unit_code, counter_code)].id,
                    code=code,
                    full_name=full_name,
                    pin_hash=hash_pin(pin),
                )
            )
    fields: dict[str, ProcedureField] = {}
    for code, name in FIELDS:
        field = db.session.scalar(select(ProcedureField).where(ProcedureField.code == code))
        if field is None:
            field = ProcedureField(code=code, name=name)
            db.session.add(field)
            db.session.flush()
        fields[code] = field
    for code, name, field_code in PROCEDURES:
        if db.session.scalar(select(Procedure.id).where(Procedure.code == code)) is None:
            db.session.add(Procedure(code=code, name=name, field_id=fields[field_code].id))
    db.session.commit()
    return DemoSummary(len(UNITS), len(COUNTERS), len(OFFICERS), len(PROCEDURES))

"""The national catalogue of procedure fields (lĩnh vực) and procedures (thủ tục), with CSV import.

An import validates every row first and writes only when the whole file is good: a file with
one bad row imports nothing and the report names each bad line (a ``ServiceError`` with a
``catalog.*`` code per line; the admin blueprint has the words). Existing codes are updated,
new codes are added, nothing is deleted (ratings keep pointing at retired procedures).

CSV formats (UTF-8, with or without BOM; comma or semicolon separated; header row required):
- fields:     ``code,name``
- procedures: ``code,name,field_code[,active]`` (``field_code`` may be empty; ``active`` is
  1/0, true/false, yes/no, có/không; empty means active)
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import Forbidden, NotFound

from core.extensions import db
from core.models import Procedure, ProcedureField, User
from core.services.accounts import audit
from core.services.errors import ServiceError
from core.services.pagination import PAGE_SIZE, Page, keyset
from core.services.unit_of_work import write_unit

KINDS = ("fields", "procedures")
MAX_ROWS = 20_000
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,59}$")
TRUE = {"", "1", "true", "yes", "có", "co", "x"}
FALSE = {"0", "false", "no", "không", "khong"}
COLUMNS = {
    "fields": (("code", "name"), ()),
    "procedures": (("code", "name", "field_code"), ("active",)),
}


@dataclass
class ImportReport:
    """What an import did, or (``errors`` not empty) why it did nothing: (line, refusal) pairs,
    line 0 for the file as a whole."""

    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, ServiceError]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _admin_only(actor: User) -> None:
    # The catalogue is national: one list for every unit, so only system administrators edit it.
    if actor.role != "admin":
        raise Forbidden()


def list_fields(after: str | None = None, limit: int = PAGE_SIZE) -> Page[ProcedureField]:
    return keyset(select(ProcedureField), ProcedureField.code, after, limit=limit)


def list_procedures(after: str | None = None, limit: int = PAGE_SIZE) -> Page[Procedure]:
    query = select(Procedure).options(joinedload(Procedure.field))
    return keyset(query, Procedure.code, after, limit=limit)


def get_procedure(procedure_id: int) -> Procedure:
    """A procedure by id, or 404."""
    row = db.session.get(Procedure, procedure_id)
    if row is None:
        raise NotFound()
    return row


def field_choices() -> list[tuple[int, str]]:
    rows = db.session.scalars(select(ProcedureField).order_by(ProcedureField.code))
    return [(f.id, f"{f.code} – {f.name}") for f in rows]


def _check_code(code: str) -> str:
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise ServiceError("catalog.code")
    return code


def _check_name(name: str, limit: int) -> str:
    name = (name or "").strip()
    if not name or len(name) > limit:
        raise ServiceError("catalog.name", n=limit)
    return name


@write_unit
def save_field(actor: User, code: str, name: str) -> ProcedureField:
    """Add a field, or rename the one with this code."""
    _admin_only(actor)
    code, name = _check_code(code), _check_name(name, 300)
    row = db.session.scalar(select(ProcedureField).where(ProcedureField.code == code))
    before = None if row is None else row.name
    if row is None:
        row = ProcedureField(code=code, name=name)
        db.session.add(row)
    row.name = name
    db.session.flush()
    if before != name:
        audit.record_config(actor, "catalog.field", row, unit_id=None,
                            changes={"code": [None if before is None else code, code],
                                     "name": [before, name]})
    return row


@write_unit
def save_procedure(
    actor: User, code: str, name: str, field_id: int | None, active: bool = True
) -> Procedure:
    """Add a procedure, or change the one with this code."""
    _admin_only(actor)
    code, name = _check_code(code), _check_name(name, 500)
    if field_id is not None and db.session.get(ProcedureField, field_id) is None:
        raise ServiceError("catalog.field_choice")
    row = db.session.scalar(select(Procedure).where(Procedure.code == code))
    before = None if row is None else {"name": row.name, "field_id": row.field_id,
                                       "active": row.active}
    if row is None:
        row = Procedure(code=code)
        db.session.add(row)
    row.name, row.field_id, row.active = name, field_id, active
    db.session.flush()
    after = {"name": name, "field_id": field_id, "active": active}
    changes = audit.changes_between(before or {}, after)
    if changes:
        audit.record_config(actor, "catalog.procedure", row, unit_id=None, changes=changes)
    return row


# --- CSV import ------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ServiceError("catalog.not_utf8", line=line) from None


def parse_csv(
    kind: str, data: bytes
) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, ServiceError]]]:
    """The rows of a CSV file with the line each starts on, and the errors found reading it."""
    if kind not in KINDS:
        raise ServiceError("catalog.kind")
    text = _decode(data)
    if not text.strip():
        raise ServiceError("catalog.empty")
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    required, optional = COLUMNS[kind]
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error:
        raise ServiceError("catalog.header_csv") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise ServiceError("catalog.header_missing", columns=", ".join(required),
                           missing=", ".join(missing))
    unknown = [h for h in header if h not in required + optional]
    if unknown:
        raise ServiceError("catalog.header_unknown", columns=", ".join(unknown))
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[tuple[int, ServiceError]] = []
    while True:
        line = reader.line_num + 1  # a quoted value may span lines; report where it starts
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:
            errors.append((line, ServiceError("catalog.line_csv")))
            break
        if not any(value.strip() for value in record):
            continue  # blank lines are allowed
        if len(record) != len(header):
            errors.append((line, ServiceError("catalog.values", got=len(record),
                                               want=len(header))))
            continue
        rows.append((line, {k: v.strip() for k, v in zip(header, record, strict=True)}))
        if len(rows) > MAX_ROWS:
            raise ServiceError("catalog.too_many_rows", n=MAX_ROWS)
    return rows, errors


def _validate_row(
    kind: str, values: dict[str, str], fields: dict[str, int]
) -> dict[str, object]:
    code = _check_code(values.get("code", ""))
    if kind == "fields":
        return {"code": code, "name": _check_name(values.get("name", ""), 300)}
    name = _check_name(values.get("name", ""), 500)
    field_code = values.get("field_code", "")
    if field_code and field_code not in fields:
        raise ServiceError("catalog.field_missing", code=field_code)
    active_text = values.get("active", "").lower()
    if active_text not in TRUE | FALSE:
        raise ServiceError("catalog.active", value=active_text[:10])
    return {"code": code, "name": name, "field_id": fields.get(field_code),
            "active": active_text in TRUE}


@write_unit
def import_csv(actor: User, kind: str, data: bytes, filename: str = "") -> ImportReport:
    """Validate every row; if all are good, add or update them in one transaction (audited)."""
    _admin_only(actor)
    report = ImportReport(kind=kind)
    try:
        rows, report.errors = parse_csv(kind, data)
    except ServiceError as exc:
        report.errors = [(0, exc)]
        return report
    fields = {code: id_ for code, id_ in db.session.execute(
        select(ProcedureField.code, ProcedureField.id))}
    seen: dict[str, int] = {}
    valid: list[dict[str, object]] = []
    for line, values in rows:
        try:
            row = _validate_row(kind, values, fields)
        except ServiceError as exc:
            report.errors.append((line, exc))
            continue
        code = str(row["code"])
        if code in seen:
            report.errors.append(
                (line, ServiceError("catalog.duplicate", code=code, line=seen[code])))
            continue
        seen[code] = line
        valid.append(row)
    if not rows and not report.errors:
        report.errors.append((0, ServiceError("catalog.no_rows")))
    if report.errors:
        report.errors.sort(key=lambda error: error[0])
        return report
    model = ProcedureField if kind == "fields" else Procedure
    existing = {
        row.code: row
        for row in db.session.scalars(select(model).where(model.code.in_(list(seen))))
    }
    for row in valid:
        current = existing.get(str(row["code"]))
        if current is None:
            db.session.add(model(**row))
            report.created += 1
            continue
        changed = False
        for key, value in row.items():
            if getattr(current, key) != value:
                setattr(current, key, value)
                changed = True
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    audit.record("catalog.import", user=actor, target_type=kind,
                 details={"file": filename[:200], "created": report.created,
                          "updated": report.updated, "unchanged": report.unchanged})
    return report

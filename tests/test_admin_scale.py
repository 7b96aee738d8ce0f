"""Lists stay as cheap with 100,000 officers as with ten: constant queries, indexed keyset pages.

No timing: the checks are the number of SQL statements a page runs and the query plan the
database chooses for the page's own SELECT (no full scan of the table, no sort of all its rows).
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from sqlalchemy import event, insert

from core.extensions import db
from core.models import AuditEntry, Officer
from tests.support.admin import build_org, sign_in, use_cheap_hashing

MANY = 100_000


@pytest.fixture
def org(app, monkeypatch):
    use_cheap_hashing(monkeypatch)
    return build_org()


@contextmanager
def statements():
    """Every SQL statement (with its parameters) run inside the block.

    The test's session is committed first, so nothing loaded before is reused from its
    identity map: each measured request starts as a real one does.
    """
    db.session.commit()
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def add_officers(unit_id: int, counter_id: int, count: int) -> None:
    rows = [{"unit_id": unit_id, "counter_id": counter_id if i % 2 else None,
             "code": f"N{i:06d}", "full_name": f"Công chức {i}"} for i in range(count)]
    for start in range(0, count, 20_000):
        db.session.execute(insert(Officer), rows[start:start + 20_000])
    db.session.commit()


def add_audit(count: int) -> None:
    rows = [{"action": "bulk", "username": "lan"} for _ in range(count)]
    db.session.execute(insert(AuditEntry), rows)
    db.session.commit()


def plan(statement: str, parameters) -> str:
    """The database's plan for one captured statement, as text to search."""
    conn = db.session.connection()
    if db.engine.dialect.name == "sqlite":
        found = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return "\n".join(str(row[-1]) for row in found)
    conn.exec_driver_sql("ANALYZE officers")
    conn.exec_driver_sql("ANALYZE audit_log")
    found = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
    return json.dumps(found)


def pg_nodes(found) -> list[tuple[str, str | None]]:
    """(node type, relation) of every node of a PostgreSQL JSON plan."""
    out: list[tuple[str, str | None]] = []

    def walk(node) -> None:
        out.append((node["Node Type"], node.get("Relation Name")))
        for child in node.get("Plans", []):
            walk(child)

    walk(found[0]["Plan"])
    return out


def page_select(seen, table: str) -> tuple[str, object]:
    [found] = [(s, p) for s, p in seen
               if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s
               and "ORDER BY" in s]
    return found


def assert_indexed(statement: str, parameters, table: str) -> None:
    shown = plan(statement, parameters)
    if db.engine.dialect.name == "sqlite":
        # Every step on the table goes through an index (or the rowid), and none sorts.
        assert "TEMP B-TREE" not in shown, shown
        steps = [line for line in shown.splitlines() if f" {table}" in line]
        assert steps and all("USING" in line for line in steps), shown
    else:
        nodes = pg_nodes(json.loads(shown))
        assert ("Seq Scan", table) not in nodes, shown
        assert all(kind != "Sort" for kind, _relation in nodes), shown


def test_the_officer_list_runs_the_same_queries_for_ten_and_for_100000(client, org):
    sign_in(client, org.admin)
    url = f"/admin/units/{org.centre.id}/officers"
    client.get(url)  # warm up: session, translations, first queries
    with statements() as few:
        assert client.get(url).status_code == 200
    add_officers(org.centre.id, org.counter.id, MANY)
    with statements() as many:
        page = client.get(url + "?after=N050000")
        assert page.status_code == 200
    assert "N050001" in page.get_data(as_text=True)
    assert len(many) == len(few)
    assert_indexed(*page_select(many, "officers"), "officers")


def test_the_officer_list_of_one_counter_is_indexed_too(client, org):
    add_officers(org.centre.id, org.counter.id, 20_000)
    sign_in(client, org.admin)
    with statements() as seen:
        response = client.get(
            f"/admin/units/{org.centre.id}/officers?counter={org.counter.id}&after=N010000")
    assert response.status_code == 200
    statement, parameters = page_select(seen, "officers")
    shown = plan(statement, parameters)
    if db.engine.dialect.name == "sqlite":
        assert "TEMP B-TREE" not in shown, shown
    else:
        assert ("Seq Scan", "officers") not in pg_nodes(json.loads(shown)), shown


def test_the_audit_log_pages_by_its_primary_key(client, org):
    add_audit(50_000)
    sign_in(client, org.admin)
    first = client.get("/admin/audit/")
    assert first.status_code == 200
    with statements() as seen:
        deep = client.get("/admin/audit/?after=20000")
    assert deep.status_code == 200
    assert_indexed(*page_select(seen, "audit_log"), "audit_log")

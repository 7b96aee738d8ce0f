"""Migrations, models, the default questionnaire and the demo seed."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from core.extensions import db
from core.models import Counter, Officer, Procedure, Questionnaire, Unit, User
from core.passwords import verify_pin


def test_migrations_and_models_agree(app):
    """Autogenerate finds nothing to add: every model change came with a revision."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_the_default_questionnaire_is_stored_as_version_one(app):
    row = db.session.scalar(select(Questionnaire).where(Questionnaire.active.is_(True)))
    assert row is not None
    assert (row.code, row.version, row.method_version) == ("sipas-service", 1, "sipas-2023.1")
    codes = [item["code"] for element in row.definition["elements"] for item in element["items"]]
    assert len(codes) == 19
    assert row.policy_enabled is False


def test_seed_demo_builds_the_organisation_and_is_idempotent(app, runner):
    first = runner.invoke(args=["seed-demo"], env={"DEMO_ADMIN_PASSWORD": "demo-password-123"})
    assert first.exit_code == 0, first.output
    assert "Admin login: admin / demo-password-123" in first.output
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in
              (Unit, Counter, Officer, Procedure, User)]
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "already existed" in second.output
    again = [db.session.scalar(select(func.count()).select_from(m)) for m in
             (Unit, Counter, Officer, Procedure, User)]
    assert counts == again
    assert counts[0] >= 5 and counts[1] >= 3 and counts[2] >= 3 and counts[3] >= 5
    levels = set(db.session.scalars(select(Unit.level)))
    assert {"province", "department", "district", "commune", "service_centre"} <= levels


def test_unit_paths_make_subtrees(demo):
    province = db.session.scalar(select(Unit).where(Unit.level == "province"))
    commune = db.session.scalar(select(Unit).where(Unit.code == "T-DEMO-X1"))
    assert commune.path.startswith(province.path)
    from core.services.org.structure import subtree_ids

    assert len(subtree_ids(province)) == db.session.scalar(select(func.count()).select_from(Unit))


def test_officer_pins_are_stored_hashed(demo):
    officer = db.session.scalar(select(Officer).where(Officer.code == "CB001"))
    assert officer.pin_hash and "1111" not in officer.pin_hash
    assert verify_pin(officer.pin_hash, "1111")
    assert not verify_pin(officer.pin_hash, "1112")


def test_create_admin_hashes_the_password(app, runner):
    result = runner.invoke(args=["create-admin", "Chief", "--password", "a-long-password-1"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "chief"))
    assert user.role == "admin"
    assert user.password_hash.startswith("$argon2id$")


def test_create_admin_refuses_a_short_password_clearly(app, runner):
    result = runner.invoke(args=["create-admin", "bob", "--password", "short"])
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output

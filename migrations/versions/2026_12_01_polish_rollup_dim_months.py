"""rollup_dim_months: unit x counter x procedure x month cells for the breakdown pages

Filled from the fine rollup_counts cells, which it sums (the officer dimension left out).

Revision ID: polish_0002
Revises: polish_0001
Create Date: 2026-12-01 10:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = "polish_0002"
down_revision = "polish_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rollup_dim_months",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("counter_id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("item_code", sa.String(length=40), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("misuse", sa.Boolean(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "unit_id", "counter_id", "procedure_id", "month", "channel", "item_code", "level",
            "misuse", name=op.f("pk_rollup_dim_months"),
        ),
    )
    month = (
        "date_trunc('month', day)::date"
        if op.get_bind().dialect.name == "postgresql"
        else "date(day, 'start of month')"
    )
    op.execute(
        "INSERT INTO rollup_dim_months (unit_id, counter_id, procedure_id, month, channel, "
        "item_code, level, misuse, count) "
        f"SELECT unit_id, counter_id, procedure_id, {month}, channel, item_code, level, misuse, "
        "SUM(count) FROM rollup_counts "
        f"GROUP BY unit_id, counter_id, procedure_id, {month}, channel, item_code, level, misuse"
    )
    with op.batch_alter_table("rollup_dim_months", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_dim_months_month_unit", ["month", "unit_id"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("rollup_dim_months", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_dim_months_month_unit")
    op.drop_table("rollup_dim_months")

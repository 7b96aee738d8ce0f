"""rollup_unit_months: unit x month rollup cells for year-long headline figures

Revision ID: dash_0003
Revises: dash_0002
Create Date: 2026-12-01 09:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = "dash_0003"
down_revision = "dash_0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rollup_unit_months",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("item_code", sa.String(length=40), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("misuse", sa.Boolean(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "unit_id", "month", "channel", "item_code", "level", "misuse",
            name=op.f("pk_rollup_unit_months"),
        ),
    )
    month = (
        "date_trunc('month', day)::date"
        if op.get_bind().dialect.name == "postgresql"
        else "date(day, 'start of month')"
    )
    op.execute(
        "INSERT INTO rollup_unit_months (unit_id, month, channel, item_code, level, misuse, count) "
        f"SELECT unit_id, {month}, channel, item_code, level, misuse, SUM(count) "
        "FROM rollup_unit_days "
        f"GROUP BY unit_id, {month}, channel, item_code, level, misuse"
    )


def downgrade():
    op.drop_table("rollup_unit_months")

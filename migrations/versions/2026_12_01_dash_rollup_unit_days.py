"""rollup_unit_days: unit x day rollup cells for headline figures

Revision ID: dash_0002
Revises: 0001
Create Date: 2026-12-01 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "dash_0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rollup_unit_days",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("item_code", sa.String(length=40), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("misuse", sa.Boolean(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "unit_id", "day", "channel", "item_code", "level", "misuse",
            name=op.f("pk_rollup_unit_days"),
        ),
    )
    with op.batch_alter_table("rollup_unit_days", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_unit_days_day", ["day"], unique=False)
    # Cells already counted at the fine grain are folded into the coarse table once.
    op.execute(
        "INSERT INTO rollup_unit_days (unit_id, day, channel, item_code, level, misuse, count) "
        "SELECT unit_id, day, channel, item_code, level, misuse, SUM(count) FROM rollup_counts "
        "GROUP BY unit_id, day, channel, item_code, level, misuse"
    )


def downgrade():
    with op.batch_alter_table("rollup_unit_days", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_unit_days_day")
    op.drop_table("rollup_unit_days")

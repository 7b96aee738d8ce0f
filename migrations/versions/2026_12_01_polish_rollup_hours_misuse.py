"""rollup_hours.misuse: taps flagged as misuse get hour cells of their own

The heat map honours the dashboard's misuse filter. Existing cells held only unflagged taps
(the rollup contract), so they become the misuse = false cells; nothing is recounted.

Revision ID: polish_0001
Revises: dash_0003
Create Date: 2026-12-01 09:55:00

"""
import sqlalchemy as sa
from alembic import op

revision = "polish_0001"
down_revision = "dash_0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("rollup_hours", recreate="auto") as batch_op:
        batch_op.add_column(
            sa.Column("misuse", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("rollup_hours", recreate="auto") as batch_op:
        batch_op.alter_column("misuse", server_default=None)
        batch_op.drop_constraint("pk_rollup_hours", type_="primary")
        batch_op.create_primary_key("pk_rollup_hours", ["unit_id", "day", "hour", "misuse"])


def downgrade():
    # Flagged taps leave the hour table again (they remain in rollup_counts and the raw rows).
    op.execute("DELETE FROM rollup_hours WHERE misuse")
    with op.batch_alter_table("rollup_hours", recreate="auto") as batch_op:
        batch_op.drop_constraint("pk_rollup_hours", type_="primary")
        batch_op.create_primary_key("pk_rollup_hours", ["unit_id", "day", "hour"])
        batch_op.drop_column("misuse")

"""kiosks.synthetic: kiosks that only hold generated demo history

`flask demo-data` writes its ratings under kiosks of its own, marked synthetic, so a real
kiosk's sequence numbers are never taken. A synthetic kiosk has no key and no enrollment code
and is left out of the fleet page. Existing kiosks are real (false).

Revision ID: demo_0001
Revises: polish_0002
Create Date: 2026-12-05 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "demo_0001"
down_revision = "polish_0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("kiosks", recreate="auto") as batch_op:
        batch_op.add_column(
            sa.Column("synthetic", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("kiosks", recreate="auto") as batch_op:
        batch_op.alter_column("synthetic", server_default=None)


def downgrade():
    with op.batch_alter_table("kiosks", recreate="auto") as batch_op:
        batch_op.drop_column("synthetic")

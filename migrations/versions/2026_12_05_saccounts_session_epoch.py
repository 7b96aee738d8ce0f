"""users.session_epoch ends every session of an account at once; the account-wide lock goes

Sign-in failures are now limited per attempt source (address + account) in the rate-limit store,
so ``failed_logins`` and ``locked_until`` are no longer read or written.

Revision ID: saccounts_0001
Revises: sync_0001
Create Date: 2026-12-05 09:00:00

"""
import sqlalchemy as sa
from alembic import op

import core.models.types

revision = "saccounts_0001"
down_revision = "sync_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", recreate="auto") as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")


def downgrade():
    with op.batch_alter_table("users", recreate="auto") as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", core.models.types.UTCDateTime(), nullable=True))
        batch_op.drop_column("session_epoch")

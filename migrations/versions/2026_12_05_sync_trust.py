"""Sync trust: rating identity per kiosk, flagged (never refused) odd device times, rejections
kept, the first sequence number of an enrolment, and clock samples

- kiosk_ratings: the uuid is unique per kiosk ((kiosk_id, uuid)), no longer across kiosks, so
  another kiosk's key cannot claim a rating; flags ``pre_enrollment`` and ``clock_suspect``.
- kiosks: ``first_seq`` (numbers below it went to a previous enrolment of the same device),
  ``clock_samples`` and the flagged-rating counters shown on the fleet page.
- kiosk_rejections: what was refused, with its reason.
- survey_responses.kiosk_id: the kiosk whose rating a survey follows.

Revision ID: sync_0001
Revises: demo_0001
Create Date: 2026-12-05 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "sync_0001"
down_revision = "demo_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("kiosk_ratings", recreate="auto") as batch_op:
        batch_op.drop_constraint("uq_kiosk_ratings_uuid", type_="unique")
        batch_op.create_unique_constraint("uq_kiosk_ratings_kiosk_id_uuid", ["kiosk_id", "uuid"])
        batch_op.add_column(sa.Column("pre_enrollment", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("clock_suspect", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("kiosks", recreate="auto") as batch_op:
        batch_op.add_column(sa.Column("first_seq", sa.BigInteger(), nullable=False,
                                      server_default="1"))
        batch_op.add_column(sa.Column("clock_samples", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("pre_enrollment_count", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("clock_suspect_count", sa.Integer(), nullable=False,
                                      server_default="0"))
    op.create_table(
        "kiosk_rejections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("uuid", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("rejected_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"],
                                name=op.f("fk_kiosk_rejections_kiosk_id_kiosks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_rejections")),
        sa.UniqueConstraint("kiosk_id", "seq", "reason",
                            name=op.f("uq_kiosk_rejections_kiosk_id_seq_reason")),
    )
    with op.batch_alter_table("survey_responses", recreate="auto") as batch_op:
        batch_op.add_column(sa.Column("kiosk_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_survey_responses_kiosk_id_kiosks", "kiosks",
                                    ["kiosk_id"], ["id"])


def downgrade():
    with op.batch_alter_table("survey_responses", recreate="auto") as batch_op:
        batch_op.drop_constraint("fk_survey_responses_kiosk_id_kiosks", type_="foreignkey")
        batch_op.drop_column("kiosk_id")
    op.drop_table("kiosk_rejections")
    with op.batch_alter_table("kiosks", recreate="auto") as batch_op:
        batch_op.drop_column("clock_suspect_count")
        batch_op.drop_column("pre_enrollment_count")
        batch_op.drop_column("clock_samples")
        batch_op.drop_column("first_seq")
    # Fails if two kiosks now hold the same rating uuid, which is the point of the upgrade.
    with op.batch_alter_table("kiosk_ratings", recreate="auto") as batch_op:
        batch_op.drop_column("clock_suspect")
        batch_op.drop_column("pre_enrollment")
        batch_op.drop_constraint("uq_kiosk_ratings_kiosk_id_uuid", type_="unique")
        batch_op.create_unique_constraint("uq_kiosk_ratings_uuid", ["uuid"])

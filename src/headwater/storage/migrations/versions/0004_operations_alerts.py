"""operations notifications, alerts, and signature-key rotation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 04:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("instances", sa.Column("previous_signature_key", sa.Text(), nullable=True))
    for name in ("signature_overlap_until", "signature_rotated_at"):
        op.add_column("instances", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "operations_endpoints",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("signature_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_operations_endpoints_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name="pk_operations_endpoints"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("firing", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name="fk_alerts_instance_id_instances",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("instance_id", "subject", name="uq_alerts_instance_id"),
    )
    op.create_index("ix_alerts_firing", "alerts", ["firing"])


def downgrade() -> None:
    op.drop_index("ix_alerts_firing", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("operations_endpoints")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("signature_rotated_at")
        batch.drop_column("signature_overlap_until")
        batch.drop_column("previous_signature_key")

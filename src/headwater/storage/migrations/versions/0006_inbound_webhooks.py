"""inbound provider webhooks: kept as received, with their outcome

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 04:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbound_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("element_key", sa.String(64), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("headers", _JSON, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name="fk_inbound_webhooks_instance_id_instances",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_webhooks"),
    )
    op.create_index(
        "ix_inbound_webhooks_message", "inbound_webhooks", ["instance_id", "message_id"]
    )
    op.create_index("ix_inbound_webhooks_outcome", "inbound_webhooks", ["outcome", "id"])
    op.create_index("ix_inbound_webhooks_received", "inbound_webhooks", ["received_at"])


def downgrade() -> None:
    op.drop_table("inbound_webhooks")

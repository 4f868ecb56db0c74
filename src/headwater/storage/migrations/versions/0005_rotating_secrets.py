"""secrets and tokens replaced by a rotation, kept for its overlap; deliveries' trace context

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 04:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("organizations", "previous_secret_hash", "previous_secret_until"),
    ("users", "previous_secret_hash", "previous_secret_until"),
    ("instances", "previous_token_hash", "previous_token_until"),
)


def upgrade() -> None:
    for table, hashed, until in _COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(hashed, sa.String(64), nullable=True))
            batch.add_column(sa.Column(until, sa.DateTime(timezone=True), nullable=True))
            batch.create_index(f"ix_{table}_{hashed}", [hashed])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("traceparent")
    for table, hashed, until in _COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_{hashed}")
            batch.drop_column(until)
            batch.drop_column(hashed)

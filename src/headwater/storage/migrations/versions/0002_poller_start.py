"""the poller's start

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 19:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pollers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pollers", schema=None) as batch_op:
        batch_op.drop_column("start_ms")

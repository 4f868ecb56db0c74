"""an index of the pollers being run, for the claim's busy-sibling check

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 06:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LEASED = sa.text("lease_until IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_pollers_leased",
        "pollers",
        ["instance_id"],
        postgresql_where=LEASED,
        sqlite_where=LEASED,
    )


def downgrade() -> None:
    op.drop_index("ix_pollers_leased", table_name="pollers")

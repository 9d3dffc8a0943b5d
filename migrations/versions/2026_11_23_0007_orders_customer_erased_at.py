"""orders: customer_erased_at, when the order's customer asked to be forgotten

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 06:40:00.000000

Erasure detaches an order from its person (`profile_id` NULL) and keeps it for the books. A web
shop still knows the customer and repeats them in every later update of the order; this marks
the order so that such an update never ties it to a person again (`commerce.orders.revise`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import phygital.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column("customer_erased_at", phygital.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("customer_erased_at")

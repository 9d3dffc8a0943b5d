"""orders: the pickup desk's two indexes hold pickups only

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 12:10:00.000000

`(store_id, status, promised_ready_at)` and `(store_id, status, collect_by)` serve the pickup
desk's ranges (`commerce.pickups`), which read pickups alone. Till receipts, most of the table,
sat in both and were written twice more for nothing (a till import spent ~8 % of its time
there); the indexes are now partial, `WHERE fulfilment = 'pickup'`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_orders_store_id_status_promised": ["store_id", "status", "promised_ready_at"],
    "ix_orders_store_id_status_collect_by": ["store_id", "status", "collect_by"],
}
PICKUPS_ONLY = "fulfilment = 'pickup'"


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(
                name,
                columns,
                unique=False,
                sqlite_where=sa.text(PICKUPS_ONLY),
                postgresql_where=sa.text(PICKUPS_ONLY),
            )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)

"""journeys: the unique key leads with order_id, so ix_journeys_order_id goes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 03:55:00.000000

`(order_id, kind, sku)` serves every lookup by order (refreshes, the cascade from orders) that
`ix_journeys_order_id` served: one random-key index fewer to write per journey. It is a unique
index rather than a table constraint (the same guarantee) so that a first rebuild can drop it and
build it again from sorted data, as it does the other indexes (`journeys.service.fill_empty`);
SQLite cannot drop a table's own constraint. On SQLite the table is rebuilt (batch mode).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_constraint("uq_journeys_kind_order_id_sku", type_="unique")
        batch_op.drop_index("ix_journeys_order_id")
        batch_op.create_index(
            "uq_journeys_order_id_kind_sku", ["order_id", "kind", "sku"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_index("uq_journeys_order_id_kind_sku")
        batch_op.create_index("ix_journeys_order_id", ["order_id"], unique=False)
        batch_op.create_unique_constraint(
            "uq_journeys_kind_order_id_sku", ["kind", "order_id", "sku"]
        )

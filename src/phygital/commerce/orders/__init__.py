"""Orders from every channel, with one model and one way in.

`save_orders` takes a batch of orders in the contract's shape (`OrderCreate`) from any entry
point (REST, web-shop webhooks, the POS import) and, for those not seen before (idempotent on
`(channel, external_id)`):

- resolves each customer through the identity rules (one lookup for the batch), so the order is
  on the person's timeline and their counters stay current; an order without identifiers (an
  anonymous till sale) still counts for its store;
- keeps lines whose sku the catalogue lacks, flagged (`known = false`), never dropping them;
- reserves stock for pickups, takes in-store sales off the shelf, counts products bought
  together (for the pickup desk's suggestions);
- promises pickups from the store's opening hours, exceptions and preparation time.

Everything is written in bulk, so a batch of a thousand receipts costs a handful of statements.

Afterwards an order moves through its states (`states`: ready, collected, cancelled, fulfilled)
and may be edited by the web shop it came from (`edits.revise`: lines, total, a guest order's
customer). One module per subject: `saving`, `reading`, `states`, `edits`.
"""

from phygital.commerce.orders.edits import revise
from phygital.commerce.orders.reading import effective_status, get_order, lines_of, read_models
from phygital.commerce.orders.saving import (
    MAX_PAIR_LINES,
    OPEN_PICKUP,
    OrderToSave,
    PreparedOrder,
    Saved,
    order_total,
    pairs_of,
    prepare,
    save_orders,
    save_prepared,
    subject,
)
from phygital.commerce.orders.states import cancel, mark_collected, mark_fulfilled, mark_ready

__all__ = [
    "MAX_PAIR_LINES",
    "OPEN_PICKUP",
    "OrderToSave",
    "PreparedOrder",
    "Saved",
    "cancel",
    "effective_status",
    "get_order",
    "lines_of",
    "mark_collected",
    "mark_fulfilled",
    "mark_ready",
    "order_total",
    "pairs_of",
    "prepare",
    "read_models",
    "revise",
    "save_orders",
    "save_prepared",
    "subject",
]

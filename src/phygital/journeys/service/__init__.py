"""Journeys: keeping them current, rebuilding them, reading them.

Journeys are derived data. `refresh_orders` replaces the journeys of some orders with what
`detection` finds now; everything that can change a journey calls it for the orders
concerned: a new or changed order (in its own transaction, so a new in-store sale knows its
ROPO at once), a late product event or an identity change (through a job, within seconds), an
erasure (the person's orders are detached, so their journeys go). `rebuild` runs the same
detection over a period, in chunks of orders.

The package, by subject: `rules` (the detection rules, a setting), `refresh` (keeping journeys
current), `rebuilding` (recomputing them from history, with a helper process on SQLite) and
`reading` (the list and the summary).
"""

from phygital.journeys.service.reading import (
    Filters,
    KindSummary,
    Summary,
    list_journeys,
    summary,
)
from phygital.journeys.service.rebuilding import (
    Period,
    RebuildReport,
    fill_empty,
    periods,
    rebuild,
    refresh_periods,
    start_helper,
)
from phygital.journeys.service.refresh import (
    CHUNK,
    FOUND,
    refresh_customers,
    refresh_orders,
    refresh_period,
)
from phygital.journeys.service.rules import MAX_WINDOW_DAYS, RULES_KEY, get_rules, set_rules

__all__ = [
    "CHUNK",
    "FOUND",
    "MAX_WINDOW_DAYS",
    "RULES_KEY",
    "Filters",
    "KindSummary",
    "Period",
    "RebuildReport",
    "Summary",
    "fill_empty",
    "get_rules",
    "list_journeys",
    "periods",
    "rebuild",
    "refresh_customers",
    "refresh_orders",
    "refresh_period",
    "refresh_periods",
    "set_rules",
    "start_helper",
    "summary",
]

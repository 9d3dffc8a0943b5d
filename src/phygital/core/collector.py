"""Python's cyclic garbage collector during bulk work.

By default the collector runs a pass every 700 new container objects and a full pass whenever
the objects that survived grow by a quarter. A bulk import or a tracking batch builds millions
of short-lived objects (rows, identifiers, decoded JSON) that are all still alive when those
passes run, so every pass walks them in vain: on a 1,000,000-row till import the collector was
~20 % of the writer's time (bench/README.md). Raising the first threshold makes the passes rare;
cycles are still collected, only later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# A pass every 50,000 new container objects (instead of 700), a middle pass every 20 of those
# and a full pass every 20 middle ones (still subject to the collector's own quarter rule).
BULK_THRESHOLDS = (50_000, 20, 20)


def tune_for_bulk() -> None:
    """Set the bulk thresholds for the rest of the process (the server, whose requests are
    batches of hundreds of messages)."""
    gc.set_threshold(*BULK_THRESHOLDS)


@contextmanager
def bulk_allocations() -> Iterator[None]:
    """The bulk thresholds while the block runs (an import), the previous ones after."""
    previous = gc.get_threshold()
    gc.set_threshold(*BULK_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)

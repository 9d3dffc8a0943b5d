"""Python's cyclic garbage collector during bulk work.

By default the collector runs a pass every 700 new container objects and a full pass whenever
the objects that survived grow by a quarter. A bulk import or a tracking batch builds millions
of short-lived objects (rows, identifiers, decoded JSON) that are all still alive when those
passes run, so every pass walks them in vain: on a 1,000,000-row till import the collector was
~20 % of the writer's time with the default thresholds, and still ~13 % with a pass every 50,000
objects (bench/README.md).

An import therefore runs with no automatic pass at all (`bulk_allocations`) and collects once
after each batch, when the batch's rows are gone (freed by their reference counts, not walked):
a batch leaves a few hundred objects in cycles (a session's bookkeeping), and what it keeps
alive (an identity carry's profiles) is walked once and never again. The server, whose requests
are batches of hundreds of messages, keeps automatic passes with raised thresholds
(`tune_for_bulk`); an import's reading process collects after each batch it sends.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# A pass every 50,000 new container objects (instead of 700), a middle pass every 20 of those
# and a full pass every 20 middle ones (still subject to the collector's own quarter rule).
BULK_THRESHOLDS = (50_000, 20, 20)


def tune_for_bulk() -> None:
    """Set the bulk thresholds for the rest of the process (the server)."""
    gc.set_threshold(*BULK_THRESHOLDS)


def after_batch() -> None:
    """With automatic passes off: a pass over the objects made since the last call that are
    still alive (the young and middle generations). The batch's cycles go, its survivors move to
    the old generation, never walked again."""
    gc.collect(1)


@contextmanager
def bulk_allocations() -> Iterator[Callable[[], None]]:
    """No automatic collector pass while the block runs (an import); the block calls the
    function it is given after each batch, once it has dropped the batch's objects. The
    collector is as it was after the block."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield after_batch
    finally:
        if enabled:
            gc.enable()

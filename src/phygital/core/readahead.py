"""Reading ahead in a second process: an import parses its file (CSV cells, identifiers, times)
on the other core while this process writes what was parsed before.

`read_ahead(produce, *args)` runs the generator function `produce(*args, **kwargs)` in a spawned
process (never forked: this process holds database connections) and yields what it yields, a few
items ahead of the consumer. An exception in the reader is raised here again (its traceback as
text when it cannot be sent back), an item that cannot be sent included; closing the iterator
(`contextlib.closing`, or the end of a `for` loop) stops the reader.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import traceback
from collections.abc import Callable, Generator, Iterator
from queue import Empty
from typing import Any, ParamSpec, TypeVar

from phygital.core.collector import tune_for_bulk

P = ParamSpec("P")
T = TypeVar("T")

# Items waiting in the queue: enough to keep the writer busy, few enough to bound the memory.
AHEAD = 4


# Below this many rows a second process costs more (its start, ~0.3 s) than it saves.
MIN_ROWS = 20_000


def worth_it(rows: int, *, threshold: int = MIN_ROWS) -> bool:
    """Below `threshold` rows a second process costs more (its start, ~0.3 s) than it saves; on
    one core it saves nothing."""
    return rows >= threshold and (os.cpu_count() or 1) > 1


def _produce_into(
    produce: Callable[..., Iterator[Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    queue: multiprocessing.Queue[Any],
) -> None:
    tune_for_bulk()  # this process only reads ahead
    try:
        for item in produce(*args, **kwargs):
            # Pickled here, not by the queue's feeder thread, which would drop an item it
            # cannot pickle with a message on stderr, and the consumer would never know.
            queue.put(("item", pickle.dumps(item, pickle.HIGHEST_PROTOCOL)))
        queue.put(("done", None))
    except Exception as exc:
        try:
            pickle.loads(pickle.dumps(exc))  # noqa: S301 (our own object; some cannot be rebuilt)
        except Exception:
            queue.put(("crash", traceback.format_exc()))
        else:
            queue.put(("error", exc))
    except BaseException:
        queue.put(("crash", traceback.format_exc()))


def read_ahead(
    produce: Callable[P, Iterator[T]], /, *args: P.args, **kwargs: P.kwargs
) -> Generator[T, None, None]:
    """`produce(*args, **kwargs)`, run in a second process. `produce` and its arguments must be
    picklable (a module-level function; plain data)."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[Any] = context.Queue(maxsize=AHEAD)
    reader = context.Process(target=_produce_into, args=(produce, args, kwargs, queue), daemon=True)
    reader.start()
    try:
        while True:
            try:
                kind, payload = queue.get(timeout=1)
            except Empty:
                if not reader.is_alive():
                    raise RuntimeError("the process reading ahead stopped") from None
                continue
            if kind == "item":
                yield pickle.loads(payload)  # noqa: S301 (our own child's bytes)
            elif kind == "done":
                return
            elif kind == "error":
                raise payload
            else:
                raise RuntimeError(f"reading ahead failed:\n{payload}")
    finally:
        if reader.is_alive():
            reader.terminate()
        reader.join(5)
        queue.close()

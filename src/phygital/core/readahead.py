"""Reading ahead in a second process: an import parses its file (CSV cells, identifiers, times)
on the other core while this process writes what was parsed before.

`read_ahead(produce, *args)` starts the generator function `produce(*args, **kwargs)` in a spawned
process (never forked: this process holds database connections) and returns an iterator of what
it yields, a few items ahead of the consumer. An exception in the reader is raised here again (its
traceback as text when it cannot be sent back), an item that cannot be sent included; closing the
iterator (`contextlib.closing`), its end or an error stops the reader.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import traceback
from collections.abc import Callable, Iterator
from queue import Empty
from typing import Any, ParamSpec, TypeVar

from phygital.core.collector import after_batch

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
    gc.disable()  # this process only reads ahead: a pass after each item (see core.collector)
    try:
        for item in produce(*args, **kwargs):
            # Pickled here, not by the queue's feeder thread, which would drop an item it
            # cannot pickle with a message on stderr, and the consumer would never know.
            queue.put(("item", pickle.dumps(item, pickle.HIGHEST_PROTOCOL)))
            del item
            after_batch()
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


class ReadAhead(Iterator[T]):
    """The items of `produce(*args, **kwargs)`, run in a second process started at once (so
    the caller can work while it starts); `close()` stops it."""

    _closed = True  # until the process has started

    def __init__(
        self, produce: Callable[..., Iterator[T]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._queue: multiprocessing.Queue[Any] = context.Queue(maxsize=AHEAD)
        self._reader = context.Process(
            target=_produce_into, args=(produce, args, kwargs, self._queue), daemon=True
        )
        self._reader.start()
        self._closed = False

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        try:
            while True:
                try:
                    kind, payload = self._queue.get(timeout=1)
                except Empty:
                    if not self._reader.is_alive():
                        raise RuntimeError("the process reading ahead stopped") from None
                    continue
                if kind == "item":
                    return pickle.loads(payload)  # type: ignore[no-any-return]  # noqa: S301 (our own child's bytes)
                if kind == "done":
                    raise StopIteration
                if kind == "error":
                    raise payload
                raise RuntimeError(f"reading ahead failed:\n{payload}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader.is_alive():
            self._reader.terminate()
        self._reader.join(5)
        self._queue.close()

    def __del__(self) -> None:
        self.close()


def read_ahead(
    produce: Callable[P, Iterator[T]], /, *args: P.args, **kwargs: P.kwargs
) -> ReadAhead[T]:
    """`produce(*args, **kwargs)`, run in a second process, which starts now. `produce` and its
    arguments must be picklable (a module-level function; plain data; a `Pipe` end)."""
    return ReadAhead(produce, args, kwargs)

"""Reading ahead in a second process (`core.readahead`): what the reader yields arrives in order,
its errors arrive as errors, and nothing it cannot send is lost silently."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from phygital.core.csvfile import ImportFileError
from phygital.core.readahead import read_ahead


def numbers(count: int) -> Iterator[list[int]]:
    for start in range(0, count, 10):
        yield list(range(start, min(start + 10, count)))


def failing(after: int) -> Iterator[int]:
    yield from range(after)
    raise ImportFileError("line 7: the file changed while it was read")


def unsendable() -> Iterator[object]:
    yield 1
    yield threading.Lock()  # cannot be pickled


def test_items_arrive_in_order() -> None:
    assert [n for chunk in read_ahead(numbers, 95) for n in chunk] == list(range(95))


def test_an_error_of_the_reader_is_raised_here() -> None:
    seen: list[int] = []
    with pytest.raises(ImportFileError, match="line 7"):
        seen.extend(read_ahead(failing, 3))
    assert seen == [0, 1, 2]


def test_an_item_that_cannot_be_sent_is_an_error_not_a_gap() -> None:
    seen: list[object] = []
    with pytest.raises(TypeError, match="pickle"):
        seen.extend(read_ahead(unsendable))
    assert seen == [1]


def test_closing_early_stops_the_reader() -> None:
    with closing(read_ahead(numbers, 10_000)) as chunks:
        assert next(chunks) == list(range(10))

"""core.collector: bulk work runs without automatic collector passes, collects its cycles after
each batch, and gives the collector back."""

from __future__ import annotations

import gc
import weakref

import pytest

from phygital.core.collector import bulk_allocations


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_bulk_work_pauses_the_collector_and_collects_after_each_batch() -> None:
    assert gc.isenabled()
    with bulk_allocations() as after_batch:
        assert not gc.isenabled()
        node = Node()
        gone = weakref.ref(node)
        del node
        assert gone() is not None  # a cycle waits for the collector
        after_batch()
        assert gone() is None
    assert gc.isenabled()


def test_the_collector_comes_back_when_the_work_fails() -> None:
    with pytest.raises(RuntimeError), bulk_allocations():
        raise RuntimeError("the import failed")
    assert gc.isenabled()

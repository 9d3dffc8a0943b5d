"""core.collector: bulk work runs with rare collector passes, and gives the thresholds back."""

from __future__ import annotations

import gc

import pytest

from phygital.core.collector import BULK_THRESHOLDS, bulk_allocations


def test_bulk_allocations_raise_the_thresholds_and_restore_them() -> None:
    before = gc.get_threshold()
    with bulk_allocations():
        assert gc.get_threshold() == BULK_THRESHOLDS
    assert gc.get_threshold() == before


def test_bulk_allocations_restore_the_thresholds_when_the_work_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), bulk_allocations():
        raise RuntimeError("the import failed")
    assert gc.get_threshold() == before

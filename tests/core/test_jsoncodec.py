"""JSON columns' codec: orjson where it gives what the json module gives, the json module
elsewhere (pure)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from phygital.core.jsoncodec import json_dumps, json_loads, may_hold_long_integers

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_values_come_back_as_the_json_module_reads_them(value: Any) -> None:
    assert json_loads(json_dumps(value)) == json.loads(json.dumps(value))


def test_integers_beyond_64_bits_stay_exact() -> None:
    big = {"id": 123456789012345678901234567890, "n": -(2**70)}
    assert json_loads(json_dumps(big)) == big
    assert json_loads(json.dumps(big).encode()) == big


def test_what_only_the_json_module_reads_is_still_read() -> None:
    assert math.isnan(json_loads('{"a": NaN}')["a"])
    assert json_loads("[1e400]") == [math.inf]


def test_long_digit_runs_are_found_anywhere() -> None:
    assert may_hold_long_integers(b'{"a": 1234567890123456789}')
    assert may_hold_long_integers(b'{"a": "x1234567890123456789"}')
    assert not may_hold_long_integers(
        b'{"at": "2026-09-26T13:00:13.000000+00:00", "n": 123456789012345678}'
    )

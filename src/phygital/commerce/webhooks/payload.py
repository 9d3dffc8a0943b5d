"""Reading a web shop's JSON: accessors that name the field when a value is unusable.

A shop's body is checked completely before anything is written: every accessor raises
`Rejected` with the path of the bad field (`line_items[1].quantity: …`), which the delivery
pipeline answers with `400` and records with the body for a person to inspect.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1e12")


class Rejected(Exception):
    """A signed body that cannot be used (malformed, a required field missing, an impossible
    value, an unknown pickup store): answered `400` with the reason, kept for inspection."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load_json(body: bytes) -> Any:
    """The body as JSON, refusing text a database cannot hold (NUL, lone surrogates)."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise Rejected("body: not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, over-long integers
        raise Rejected(f"body: not valid JSON ({exc})") from None
    _check_text(data)
    return data


def _check_text(data: Any) -> None:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise Rejected("body: text must not contain NUL characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Rejected("body: text is not valid Unicode (a lone surrogate)") from None


def obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Rejected(f"{path}: expected an object")
    return value


def opt_obj(parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = parent.get(key)
    if value is None:
        return None
    return obj(value, _join(path, key))


def items(parent: dict[str, Any], key: str, path: str) -> list[Any]:
    """A list field; missing or null is an empty list."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Rejected(f"{_join(path, key)}: expected a list")
    return value


def text(parent: dict[str, Any], key: str, path: str, *, limit: int | None = None) -> str | None:
    """A string field, stripped; missing, null or blank is None. `limit` cuts display text
    (names, labels) rather than refusing the order over it."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Rejected(f"{_join(path, key)}: expected text")
    result = str(value).strip()
    if not result:
        return None
    return result[:limit] if limit else result


def ident(parent: dict[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    """A shop's numeric id (Shopify's are 64-bit: kept exact as text). Zero means none."""
    value = parent.get(key)
    if value is None or value == 0 or value == "":
        if required:
            raise Rejected(f"{_join(path, key)}: missing")
        return None
    if isinstance(value, bool):
        raise Rejected(f"{_join(path, key)}: expected an id")
    if isinstance(value, int):
        if value < 0:
            raise Rejected(f"{_join(path, key)}: expected a positive id")
        return str(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 40:
        return value.strip()
    raise Rejected(f"{_join(path, key)}: expected an id")


def quantity(parent: dict[str, Any], key: str, path: str, *, minimum: int = 1) -> int:
    """A whole number of units, at least `minimum` (0 where a line can be emptied)."""
    value = parent.get(key)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejected(f"{_join(path, key)}: expected a whole number")
    if value < minimum:
        need = "positive" if minimum == 1 else f"at least {minimum}"
        raise Rejected(f"{_join(path, key)}: must be {need}, not {value}")
    if value > 100_000:
        raise Rejected(f"{_join(path, key)}: {value} is not a plausible quantity")
    return value


def money(value: Any, path: str) -> Decimal:
    """An amount, sent as a decimal string ("89.90") or a number; kept to the cent."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Rejected(f"{path}: expected an amount")
    try:
        amount = Decimal(str(value).strip())
        if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
            raise InvalidOperation
        amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise Rejected(f"{path}: {str(value)[:40]!r} is not an amount") from None
    if amount < 0:
        raise Rejected(f"{path}: must not be negative")
    return amount


def moment(
    parent: dict[str, Any], key: str, path: str, *, naive_is_utc: bool = False
) -> datetime | None:
    """An ISO 8601 time. Shopify sends offsets; WooCommerce's `*_gmt` fields are UTC without
    one (`naive_is_utc`). A time without offset otherwise is refused: its zone is unknown."""
    value = parent.get(key)
    if value is None or value == "":
        return None
    where = _join(path, key)
    if not isinstance(value, str) or len(value) > 40:
        raise Rejected(f"{where}: expected a time (ISO 8601)")
    raw = value.strip()
    try:
        parsed = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "Zz" else raw)
    except ValueError:
        raise Rejected(f"{where}: {raw!r} is not a time (ISO 8601)") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise Rejected(f"{where}: {raw!r} has no UTC offset")
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise Rejected(f"{where}: {raw!r} is out of range") from None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key

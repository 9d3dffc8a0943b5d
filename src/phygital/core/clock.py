"""Time is injected: domain code asks a `Clock`, never the wall clock directly.

Tests and the demo use `FrozenClock` to put the company at any moment and move it forward.
All times are timezone-aware and stored in UTC.
"""

from __future__ import annotations

import threading
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until moved; thread-safe so a worker thread may read it."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._at += delta
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = at.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """Make a datetime read back from the database (naive on SQLite) aware and UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def is_timezone(name: str) -> bool:
    """Whether `name` is an IANA time zone (e.g. Europe/Rome). ZoneInfo reads a file named after
    the key, so garbage can raise OSError (a name too long) besides the documented errors."""
    if not name or len(name) > 64 or not name.isascii():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True

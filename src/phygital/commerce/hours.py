"""Opening hours and the pickup promise: pure functions, no database.

A store's week is a set of shifts per weekday in local wall-clock time (split shifts allowed);
exceptions replace a whole day (no shifts = closed: a holiday; other shifts = an extraordinary
opening). Preparation happens while the store is open: `ready_by` walks forward from the order
through the opening intervals and spends the preparation minutes in them, so an order placed at
night or on a closing day is promised after the next opening.

Local times become UTC through the store's time zone (zoneinfo), so daylight-saving changes are
honoured: a shift 09:00-13:00 lasts four hours on either side of the change. A wall-clock time
that does not exist on the spring-forward night is read with the offset before the change (PEP
495's fold=0), so it falls an hour later in real time; a repeated one is its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead to look for an opening before giving up (a store with no hours at all).
HORIZON_DAYS = 400

ShiftList = Sequence[Sequence[str]]


def _parse(value: str) -> time | None:
    """`HH:MM` as a time; `24:00` as None (the end of the day)."""
    if value == "24:00":
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Schedule:
    """A store's opening times: weekly shifts per day and dated exceptions."""

    timezone: str
    weekly: Mapping[str, ShiftList]
    exceptions: Mapping[date, ShiftList] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def shifts_on(self, day: date) -> ShiftList:
        if day in self.exceptions:
            return self.exceptions[day]
        return self.weekly.get(DAYS[day.weekday()], ())

    def intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals in UTC, in order, from the one containing `start` (clipped to it)
        onwards, for at most `HORIZON_DAYS` days."""
        zone = self.zone
        day = start.astimezone(zone).date()
        for _ in range(HORIZON_DAYS):
            for opening, closing in self.shifts_on(day):
                open_at = _local(day, _parse(opening), zone)
                close_at = _local(day, _parse(closing), zone)
                if close_at <= start or close_at <= open_at:
                    continue
                yield max(open_at, start), close_at
            day += timedelta(days=1)

    def is_open(self, at: datetime) -> bool:
        first = next(self.intervals(at), None)
        return first is not None and first[0] <= at

    def next_opening(self, at: datetime) -> datetime | None:
        """`at` itself if the store is open then, else when it next opens."""
        first = next(self.intervals(at), None)
        return first[0] if first else None


def _local(day: date, at: time | None, zone: ZoneInfo) -> datetime:
    if at is None:  # 24:00: midnight at the start of the next day
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def ready_by(schedule: Schedule, placed_at: datetime, prep_minutes: int) -> datetime | None:
    """When a pickup placed at `placed_at` can honestly be promised: after `prep_minutes` of
    opening time. With no preparation time, the next moment the store is open. None if the store
    does not open within the horizon (no hours configured)."""
    remaining = timedelta(minutes=max(prep_minutes, 0))
    for opening, closing in schedule.intervals(placed_at.astimezone(UTC)):
        available = closing - opening
        if remaining <= available:
            return opening + remaining
        remaining -= available
    return None


def open_time_between(schedule: Schedule, start: datetime, end: datetime) -> timedelta:
    """How much opening time lies between two moments (used by tests and reports)."""
    total = timedelta(0)
    for opening, closing in schedule.intervals(start.astimezone(UTC)):
        if opening >= end:
            break
        total += min(closing, end) - opening
    return total

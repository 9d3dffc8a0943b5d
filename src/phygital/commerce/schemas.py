"""Commerce API shapes (contract, section 4)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from phygital.core.clock import is_timezone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")

Time = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]
# A shift is ["09:00", "13:00"]: opening and closing time, local to the store.
Shift = Annotated[list[Time], Field(min_length=2, max_length=2)]
OpeningHours = dict[str, list[tuple[str, str]]]


class WeeklyHours(BaseModel):
    """`{"mon": [["09:00", "13:00"], ["15:30", "19:30"]], …}`; a missing day is closed."""

    model_config = ConfigDict(extra="forbid")

    mon: list[Shift] = Field(default_factory=list)
    tue: list[Shift] = Field(default_factory=list)
    wed: list[Shift] = Field(default_factory=list)
    thu: list[Shift] = Field(default_factory=list)
    fri: list[Shift] = Field(default_factory=list)
    sat: list[Shift] = Field(default_factory=list)
    sun: list[Shift] = Field(default_factory=list)

    def as_dict(self) -> OpeningHours:
        return {
            day: [(s[0], s[1]) for s in getattr(self, day)] for day in DAYS if getattr(self, day)
        }


def validate_opening_hours(value: OpeningHours) -> OpeningHours:
    """Days `mon`…`sun`, each a list of `[open, close]` "HH:MM" shifts in order, not overlapping."""
    clean: OpeningHours = {}
    for day, shifts in value.items():
        if day not in DAYS:
            raise ValueError(f"unknown day {day!r} (use {', '.join(DAYS)})")
        previous_end = ""
        ordered: list[tuple[str, str]] = []
        for start, end in shifts:
            for t in (start, end):
                if not _HHMM.match(t) or (t.startswith("24") and t != "24:00"):
                    raise ValueError(f"{day}: {t!r} is not a time HH:MM")
            if start >= end:
                raise ValueError(f"{day}: a shift must end after it starts ({start}-{end})")
            if previous_end and start < previous_end:
                raise ValueError(f"{day}: shifts overlap or are out of order")
            previous_end = end
            ordered.append((start, end))
        clean[day] = ordered
    return clean


class StoreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=1000)
    timezone: str = "Europe/Rome"
    opening_hours: WeeklyHours = Field(default_factory=WeeklyHours)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        if not is_timezone(value):
            raise ValueError("not an IANA time zone (e.g. Europe/Rome)")
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: WeeklyHours) -> WeeklyHours:
        validate_opening_hours(value.as_dict())
        return value


class StoreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    name: str
    address: str | None
    timezone: str
    opening_hours: WeeklyHours
    active: bool
    created_at: datetime

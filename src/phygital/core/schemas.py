"""Shapes shared by every API: the error body and the error responses each route documents."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from phygital.core.errors import Invalid


class ErrorOut(BaseModel):
    """Every error: `{"detail": …}` — a sentence, or a list of `{"loc", "msg", "type"}`."""

    detail: str | list[dict[str, Any]] = Field(
        description="what is wrong; for input errors, the field (`loc`) and the reason (`msg`)"
    )


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("the body is not valid JSON"),
    401: _error("no token, or an unknown or revoked one"),
    403: _error("the token's role or store does not allow this"),
    404: _error("no such resource"),
    409: _error("conflicts with the current state"),
    422: _error("invalid input: the field and the reason"),
}


# A moment in a query string: a day (`2026-11-01`, midnight in the company's time zone) or a
# time with its offset (`2026-11-01T09:00:00+01:00`, `…Z`). A plain `datetime` parameter would
# also take a bare number as a Unix time, which nobody means in a URL.
MOMENT_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}"
    r"([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:?\d{2}))?$"
)


def parse_moment(value: str | None, *, field: str, timezone: str) -> datetime | None:
    """A query-string moment as an aware datetime (see `MOMENT_PATTERN`); `Invalid` names the
    field when it is not one."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
    except ValueError:
        raise Invalid(
            f"{field}: {value!r} is not a day (2026-11-01) or a time with its offset "
            "(2026-11-01T09:00:00+01:00)",
            field=field,
        ) from None
    if parsed.tzinfo is None:
        raise Invalid(f"{field}: give the time with its offset", field=field)
    return parsed

"""The pickup promise from opening hours: split shifts, closing days, holidays, extraordinary
openings, time zones and daylight-saving changes. Pure functions: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from phygital.commerce.hours import Schedule, open_time_between, ready_by

ROME = ZoneInfo("Europe/Rome")
SPLIT = [["09:00", "13:00"], ["15:30", "19:30"]]
WEEK = {"mon": [["15:30", "19:30"]], **{d: SPLIT for d in ("tue", "wed", "thu", "fri")}}
WEEK["sat"] = [["09:30", "19:30"]]  # closed on Sunday


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


def store(**exceptions: list[list[str]]) -> Schedule:
    return Schedule(
        timezone="Europe/Rome",
        weekly=WEEK,
        exceptions={date.fromisoformat(k.replace("_", "-")[1:]): v for k, v in exceptions.items()},
    )


def test_order_during_a_shift_is_ready_after_the_preparation_time() -> None:
    # Wednesday 2026-11-18 10:00 → 11:00
    assert ready_by(store(), rome(2026, 11, 18, 10, 0), 60) == rome(2026, 11, 18, 11, 0)


def test_preparation_continues_after_the_lunch_break() -> None:
    # 12:30 + 60 min: 30 min before 13:00, 30 min after 15:30 → 16:00
    assert ready_by(store(), rome(2026, 11, 18, 12, 30), 60) == rome(2026, 11, 18, 16, 0)


def test_order_during_the_lunch_break_is_promised_after_reopening() -> None:
    assert ready_by(store(), rome(2026, 11, 18, 14, 0), 60) == rome(2026, 11, 18, 16, 30)


def test_order_placed_at_night_is_promised_after_the_next_opening() -> None:
    assert ready_by(store(), rome(2026, 11, 18, 23, 0), 60) == rome(2026, 11, 19, 10, 0)


def test_preparation_ending_exactly_at_closing_is_ready_at_closing() -> None:
    assert ready_by(store(), rome(2026, 11, 18, 18, 30), 60) == rome(2026, 11, 18, 19, 30)


def test_saturday_evening_order_waits_for_monday_afternoon_over_a_closed_sunday() -> None:
    # Saturday 2026-11-21 19:00: 30 min left; Sunday closed; Monday opens 15:30 → 16:00
    assert ready_by(store(), rome(2026, 11, 21, 19, 0), 60) == rome(2026, 11, 23, 16, 0)


def test_holiday_closes_the_store_for_the_day() -> None:
    # Tuesday 8 December (Immacolata) closed: an order on the evening of Monday 7th at 19:00
    schedule = store(d2026_12_08=[])
    assert ready_by(schedule, rome(2026, 12, 7, 19, 0), 60) == rome(2026, 12, 9, 9, 30)


def test_extraordinary_sunday_opening_is_used() -> None:
    schedule = store(d2026_12_20=[["10:00", "18:00"]])  # Sunday before Christmas
    assert ready_by(schedule, rome(2026, 12, 19, 19, 0), 60) == rome(2026, 12, 20, 10, 30)


def test_zero_preparation_means_the_next_moment_the_store_is_open() -> None:
    assert ready_by(store(), rome(2026, 11, 18, 10, 0), 0) == rome(2026, 11, 18, 10, 0)
    assert ready_by(store(), rome(2026, 11, 18, 13, 30), 0) == rome(2026, 11, 18, 15, 30)


def test_long_preparation_spans_several_days() -> None:
    # 8 h of opening time from Wednesday 09:00: Wed has 8 h (4 + 4) → Wed 19:30
    assert ready_by(store(), rome(2026, 11, 18, 9, 0), 8 * 60) == rome(2026, 11, 18, 19, 30)
    assert ready_by(store(), rome(2026, 11, 18, 9, 0), 9 * 60) == rome(2026, 11, 19, 10, 0)


def test_store_without_hours_cannot_promise() -> None:
    assert ready_by(Schedule("Europe/Rome", {}), rome(2026, 11, 18, 9, 0), 60) is None


def test_closing_at_midnight() -> None:
    late = Schedule("Europe/Rome", {d: [["18:00", "24:00"]] for d in ("mon", "tue")})
    # Monday 2026-11-16 23:30 + 60 → 30 min Monday, 30 min Tuesday from 18:00
    assert ready_by(late, rome(2026, 11, 16, 23, 30), 60) == rome(2026, 11, 17, 18, 30)


def test_time_zone_of_the_store_not_of_the_order() -> None:
    # A New York store; the order's time is given in UTC.
    ny = Schedule("America/New_York", {"wed": [["10:00", "18:00"]]})
    placed = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)  # 09:00 in New York
    new_york = ZoneInfo("America/New_York")
    assert ready_by(ny, placed, 30) == datetime(2026, 11, 18, 10, 30, tzinfo=new_york)


def test_shifts_keep_their_wall_clock_length_across_the_autumn_change() -> None:
    # Sunday 2026-10-25 Europe/Rome leaves summer time at 03:00 → 02:00.
    every_day = Schedule("Europe/Rome", {d: [["00:00", "24:00"]] for d in ("sat", "sun")})
    placed = rome(2026, 10, 25, 0, 0)
    # 4 h of real time from midnight: 00:00 CEST + 4h = 03:00 CET (the hour 02:00-03:00 repeats;
    # aware arithmetic in Python is wall-clock arithmetic, hence the UTC).
    assert ready_by(every_day, placed, 240) == placed.astimezone(UTC) + timedelta(hours=4)
    assert ready_by(every_day, placed, 240).astimezone(ROME).hour == 3  # type: ignore[union-attr]


def test_spring_forward_day_has_one_hour_less_of_opening() -> None:
    # Sunday 2026-03-29: 02:00 → 03:00. A 00:00-24:00 day lasts 23 real hours.
    every_day = Schedule("Europe/Rome", {"sun": [["00:00", "24:00"]]})
    start = rome(2026, 3, 29, 0, 0)
    assert open_time_between(every_day, start, start + timedelta(days=1)) == timedelta(hours=23)
    # A shift 09:00-13:00 after the change still lasts four hours.
    morning = Schedule("Europe/Rome", {"sun": [["09:00", "13:00"]]})
    assert ready_by(morning, rome(2026, 3, 29, 1, 0), 240) == rome(2026, 3, 29, 13, 0)


# -- properties ---------------------------------------------------------------------------------

times = st.sampled_from(["08:00", "09:00", "09:30", "12:00", "13:00", "15:30", "19:30", "22:00"])


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    weekly = {}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        cut = sorted(set(draw(st.lists(times, max_size=4))))
        shifts = [[cut[i], cut[i + 1]] for i in range(0, len(cut) - 1, 2)]
        if shifts:
            weekly[day] = shifts
    exceptions = {}
    for offset in draw(st.lists(st.integers(0, 20), max_size=3, unique=True)):
        exceptions[date(2026, 3, 20) + timedelta(days=offset)] = draw(
            st.sampled_from([[], [["10:00", "12:00"]]])
        )
    zone = draw(st.sampled_from(["Europe/Rome", "America/New_York", "Asia/Kolkata", "UTC"]))
    return Schedule(zone, weekly, exceptions)


moments = st.datetimes(
    min_value=datetime(2026, 3, 20), max_value=datetime(2026, 4, 10), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(schedules(), moments, st.integers(0, 600))
def test_promise_is_after_exactly_the_preparation_time_of_opening(
    schedule: Schedule, placed: datetime, prep: int
) -> None:
    promised = ready_by(schedule, placed, prep)
    if promised is None:
        # The store is not open long enough, ever again within the horizon, to prepare it.
        horizon = placed + timedelta(days=400)
        available = open_time_between(schedule, placed, horizon)
        assert available < timedelta(minutes=prep) or available == timedelta(0)
        return
    assert promised >= placed
    assert open_time_between(schedule, placed, promised) == timedelta(minutes=prep)
    # Ready while open or at a closing time, never in the middle of a closed stretch.
    assert schedule.is_open(promised) or any(
        close == promised for _, close in _intervals_around(schedule, promised)
    )


@settings(max_examples=200, deadline=None)
@given(schedules(), moments, st.integers(0, 300), st.integers(0, 300))
def test_more_preparation_never_promises_earlier(
    schedule: Schedule, placed: datetime, a: int, b: int
) -> None:
    first, second = ready_by(schedule, placed, min(a, b)), ready_by(schedule, placed, max(a, b))
    if first is not None and second is not None:
        assert first <= second


def _intervals_around(schedule: Schedule, at: datetime) -> list[tuple[datetime, datetime]]:
    result = []
    for interval in schedule.intervals(at - timedelta(days=1)):
        if interval[0] > at:
            break
        result.append(interval)
    return result

"""Turning an enrollment's weekly slot into the datetimes of its numbered sessions."""

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def session_start_times(
    *, start_date: date, session_time: time, weekdays: Sequence[str], count: int, timezone: str
) -> list[datetime]:
    """The first ``count`` slots on or after ``start_date`` falling on ``weekdays``, at ``session_time``
    wall-clock time in ``timezone`` (so a DST change keeps the coach's local hour)."""
    wanted = {WEEKDAYS.index(day) for day in weekdays}
    if not wanted:
        raise ValueError("at least one weekday is required")
    zone = ZoneInfo(timezone)
    starts: list[datetime] = []
    day = start_date
    while len(starts) < count:
        if day.weekday() in wanted:
            starts.append(datetime.combine(day, session_time, tzinfo=zone))
        day += timedelta(days=1)
    return starts


def local_datetime(day: date, at: time, timezone: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(timezone))

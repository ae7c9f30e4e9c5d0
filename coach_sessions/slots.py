"""Free start times on one day: working hours in the coach's timezone, minus busy stretches."""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Busy = tuple[datetime, datetime]


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """Midnight to midnight of ``day`` in ``timezone`` (23 or 25 hours on a DST change)."""
    zone = ZoneInfo(timezone)
    return datetime.combine(day, time(0), tzinfo=zone), datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def free_slots(
    *,
    day: date,
    timezone: str,
    work_start: time,
    work_end: time,
    duration: timedelta,
    step: timedelta,
    busy: Iterable[Busy],
    now: datetime,
) -> list[datetime]:
    """Start times every ``step`` from ``work_start`` whose whole ``duration`` fits before ``work_end``,
    starts after ``now`` and overlaps no busy stretch (touching ends do not overlap)."""
    zone = ZoneInfo(timezone)
    stretches = sorted(busy)
    end_of_day = datetime.combine(day, work_end, tzinfo=zone)
    slots: list[datetime] = []
    wall = datetime.combine(day, work_start)  # naive wall clock: steps keep the local hour across DST
    while True:
        start = wall.replace(tzinfo=zone)
        end = start + duration
        if end > end_of_day:
            return slots
        if start > now and not any(b_start < end and b_end > start for b_start, b_end in stretches):
            slots.append(start)
        wall += step
